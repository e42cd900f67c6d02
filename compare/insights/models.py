"""Leaderboard rollups (issue 6 item 6): what compare/insights/leaderboard.py reads instead of every result
and every verdict of a team.

RouteDay: the terminal results of a team's comparisons summed per (route, UTC day of the
comparison, quality, size): counts by status, content refusals, retries, costs (reported and
estimated apart, in integer micro-dollars: exact on every database) and the latencies of the
succeeded calls themselves (float64, packed), so the median and p95 stay exact.

A result is folded in once: `Result.rolled_up` is NULL until then (a partial index finds those),
and the fold claims results with a conditional UPDATE (`... SET rolled_up = true WHERE id IN (...)
AND rolled_up IS NULL RETURNING id`) in the same transaction as the sums it adds, under one
transaction-scoped lock (an advisory lock on PostgreSQL; SQLite has one writer at a time anyway):
a result is counted exactly once, however many requests fold at the same time. The leaderboard
folds what is pending before it reads (fold_pending); nothing in the worker needs to know. A
deleted result is subtracted again (pre_delete), unless its whole team goes (the rows go too).

JudgedComparison: per judged comparison, its verdicts as a pattern (the routes that produced
images, and each vote's kind and winning route), kept up to date when a verdict is given, changed
or withdrawn, when a result of a judged comparison succeeds (at its fold) or is deleted. The
scores are fitted from these patterns, one short row per judged comparison.
"""

import json
from array import array
from collections import defaultdict
from datetime import timezone as dt_timezone

from django.db import connections, models, transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from compare.models import TERMINAL, Comparison, Result, Status
from compare.review.models import Verdict, verdict_given
from compare.teams.models import Team

CONTENT_REFUSAL = "content_policy"
FOLD_BATCH = 5000
LOCK_KEY = 720_626_1122  # pg_advisory_xact_lock: one folder at a time


class RouteDay(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    route_key = models.CharField(max_length=200)
    day = models.DateField()  # of the comparison's created_at, in UTC
    quality = models.CharField(max_length=40, blank=True)  # params["quality"] when a string, else ""
    size = models.CharField(max_length=40, blank=True)
    label = models.CharField(max_length=200, blank=True)
    results = models.IntegerField(default=0)  # terminal results folded in
    succeeded = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)  # not counting content refusals
    refused = models.IntegerField(default=0)
    timed_out = models.IntegerField(default=0)
    cancelled = models.IntegerField(default=0)
    retries = models.IntegerField(default=0)
    retried_calls = models.IntegerField(default=0)
    reported_micros = models.BigIntegerField(default=0)  # succeeded calls' reported cost, in 1e-6 USD
    reported_priced = models.IntegerField(default=0)  # ... how many had a cost
    reported_images = models.IntegerField(default=0)
    estimated_micros = models.BigIntegerField(default=0)
    estimated_priced = models.IntegerField(default=0)
    estimated_images = models.IntegerField(default=0)
    unknown_cost_calls = models.IntegerField(default=0)
    latency_count = models.IntegerField(default=0)
    latencies = models.BinaryField(default=b"")  # succeeded calls' latency_ms, float64 little-endian

    class Meta:
        db_table = "compare_routeday"  # moved from the compare app; the table kept its name
        constraints = [models.UniqueConstraint(fields=["team", "route_key", "day", "quality", "size"],
                                               name="route_day_cell")]
        indexes = [models.Index(fields=["team", "day"], name="route_day_team_day")]


class JudgedComparison(models.Model):
    comparison = models.OneToOneField(Comparison, on_delete=models.CASCADE, primary_key=True, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()  # the comparison's, for the period filter
    quality = models.CharField(max_length=40, blank=True)
    size = models.CharField(max_length=40, blank=True)
    # JSON [[routes that produced images, sorted], [[kind, winning route or null], ... sorted]]
    pattern = models.TextField()

    class Meta:
        db_table = "compare_judgedcomparison"  # moved from the compare app; the table kept its name
        indexes = [models.Index(fields=["team", "created_at"], name="judged_team_created")]


# --- what one result adds --------------------------------------------------------------------


SUM_FIELDS = ["results", "succeeded", "failed", "refused", "timed_out", "cancelled", "retries", "retried_calls",
              "reported_micros", "reported_priced", "reported_images", "estimated_micros", "estimated_priced",
              "estimated_images", "unknown_cost_calls", "latency_count"]


# Which sum a succeeded call's cost goes to, by its cost_source: "reported" holds what came from
# the provider's answer (billed, or its usage times our price), "estimated" what we priced the
# request at (the catalog, or the team's own price). Unknown costs are counted, never summed.
BUCKETS = {"billed": "reported", "usage": "reported", "estimated": "estimated", "team_price": "estimated"}


def param_text(params, name):
    value = params.get(name) if isinstance(params, dict) else None
    return value if isinstance(value, str) else ""


def images_asked(params):
    """Images one call asked for: params["n"] when over 1, else 1 (as the leaderboard counts them)."""
    try:
        n = int((params or {}).get("n") or 1)
    except (TypeError, ValueError):
        n = 1
    return n if n > 1 else 1


def utc_day(moment):
    return moment.astimezone(dt_timezone.utc).date()


def micros(cost):
    return int(round(float(cost) * 1_000_000)) if not hasattr(cost, "as_tuple") else int(cost.scaleb(6))


class Sums:
    """The sums of one cell (or of any set of terminal results), as plain Python."""

    __slots__ = (*SUM_FIELDS, "latencies", "label")

    def __init__(self):
        for name in SUM_FIELDS:
            setattr(self, name, 0)
        self.latencies = []
        self.label = ""

    def add(self, status, error_code, latency, cost, source, attempts, images, sign=1):
        """One terminal result (sign -1 takes it out again)."""
        self.results += sign
        if status == Status.SUCCEEDED:
            self.succeeded += sign
            if latency is not None:
                self.latency_count += sign
                self.latencies.append(float(latency))  # added, or taken out when sign is -1
            bucket = BUCKETS.get(source)
            if bucket:
                setattr(self, f"{bucket}_images", getattr(self, f"{bucket}_images") + sign * images)
                if cost is not None:
                    setattr(self, f"{bucket}_micros", getattr(self, f"{bucket}_micros") + sign * micros(cost))
                    setattr(self, f"{bucket}_priced", getattr(self, f"{bucket}_priced") + sign)
            else:
                self.unknown_cost_calls += sign
        elif status == Status.FAILED:
            if error_code == CONTENT_REFUSAL:
                self.refused += sign
            else:
                self.failed += sign
        elif status == Status.TIMED_OUT:
            self.timed_out += sign
        elif status == Status.CANCELLED:
            self.cancelled += sign
        if attempts:
            self.retries += sign * len(attempts)
            self.retried_calls += sign


def pack(latencies):
    return array("d", latencies).tobytes()


def unpack(blob):
    values = array("d")
    values.frombytes(bytes(blob or b""))
    return values


RESULT_FIELDS = ("status", "error_code", "latency_ms", "cost_usd", "cost_source", "attempts")


def cell_key(team_id, route_key, created_at, params):
    return (team_id, route_key, utc_day(created_at), param_text(params, "quality"), param_text(params, "size"))


# --- folding ---------------------------------------------------------------------------------


def _lock(using):
    """One folder at a time (PostgreSQL; SQLite has one writer at a time anyway), to the end of
    the transaction."""
    if connections[using].vendor == "postgresql":
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def pending_exists(using="default"):
    return Result.objects.using(using).filter(rolled_up__isnull=True, status__in=TERMINAL).exists()


def fold_pending(using="default", batch=FOLD_BATCH):
    """Fold every terminal result not folded yet into the rollups; returns how many were folded."""
    folded = 0
    while pending_exists(using):
        done = _fold_batch(using, batch)
        folded += done
        if done < batch:
            break
    return folded


def _fold_batch(using, batch):
    connection = connections[using]
    statuses = ", ".join(["%s"] * len(TERMINAL))
    with transaction.atomic(using=using):
        # The claim is the transaction's first write (SQLite: it takes the write lock at once).
        _lock(using)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE compare_result SET rolled_up = %s WHERE id IN (
                        SELECT id FROM compare_result WHERE rolled_up IS NULL AND status IN ({statuses})
                        ORDER BY id LIMIT %s)
                    AND rolled_up IS NULL AND status IN ({statuses}) RETURNING id""",
                [True, *TERMINAL, batch, *TERMINAL])
            claimed = [row[0] for row in cursor.fetchall()]
        if not claimed:
            return 0
        sums = defaultdict(Sums)
        succeeded_in = set()
        for chunk in _chunks(claimed):
            rows = (Result.objects.using(using).filter(pk__in=chunk)
                    .values_list("route_key", "route_label", *RESULT_FIELDS, "comparison_id", "comparison__team_id",
                                 "comparison__created_at", "comparison__params"))
            for key, label, status, code, latency, cost, source, attempts, cid, team_id, created, params in rows:
                cell = sums[cell_key(team_id, key, created, params)]
                cell.add(status, code, latency, cost, source, attempts, images_asked(params))
                cell.label = label
                if status == Status.SUCCEEDED:
                    succeeded_in.add(cid)
        _apply(sums, using)
        if succeeded_in:  # a route with images more in a judged comparison: its pattern changes
            judged = (Verdict.objects.using(using).filter(comparison__in=list(succeeded_in))
                      .values_list("comparison_id", flat=True).distinct())
            refresh_judged(list(judged), using=using, locked=True)
        return len(claimed)


def _chunks(items, size=900):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _apply(sums, using, sign=1):
    """Add (sign -1: subtract) the sums to their cells, creating the missing ones."""
    if not sums:
        return
    keys = sorted(sums)
    RouteDay.objects.using(using).bulk_create(
        [RouteDay(team_id=t, route_key=r, day=d, quality=q, size=s) for t, r, d, q, s in keys],
        ignore_conflicts=True, batch_size=500)
    cells = {}
    teams = sorted({k[0] for k in keys})
    for team_id in teams:
        days = sorted({k[2] for k in keys if k[0] == team_id})
        for chunk in _chunks(days):
            found = (RouteDay.objects.using(using).select_for_update()
                     .filter(team_id=team_id, day__in=chunk).order_by("pk"))
            for cell in found:
                key = (cell.team_id, cell.route_key, cell.day, cell.quality, cell.size)
                if key in sums:
                    cells[key] = cell
    changed = []
    for key in keys:
        cell, add = cells[key], sums[key]
        for name in SUM_FIELDS:
            setattr(cell, name, getattr(cell, name) + sign * getattr(add, name))
        latencies = unpack(cell.latencies)
        if sign > 0:
            latencies.extend(add.latencies)
        else:
            for value in add.latencies:
                latencies.remove(value)
        cell.latencies = latencies.tobytes()
        if add.label:
            cell.label = add.label
        changed.append(cell)
    # One prepared UPDATE per cell, executed many (bulk_update's CASE expressions cost far more).
    connection = connections[using]
    quote = connection.ops.quote_name
    names = [*SUM_FIELDS, "latencies", "label"]
    sql = (f"UPDATE {quote(RouteDay._meta.db_table)} SET {', '.join(f'{quote(n)} = %s' for n in names)} "
           f"WHERE {quote('id')} = %s")
    binary = RouteDay._meta.get_field("latencies")
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*(getattr(cell, n) for n in SUM_FIELDS),
                                  binary.get_db_prep_value(cell.latencies, connection), cell.label, cell.pk]
                                 for cell in changed])


def rebuild(team, using="default"):
    """The team's rollups from scratch (after results were changed behind the fold's back)."""
    with transaction.atomic(using=using):
        _lock(using)
        RouteDay.objects.using(using).filter(team=team).delete()
        JudgedComparison.objects.using(using).filter(team=team).delete()
        Result.objects.using(using).filter(comparison__team=team).update(rolled_up=None)
    fold_pending(using)
    judged = Verdict.objects.using(using).filter(comparison__team=team).values_list("comparison_id", flat=True)
    refresh_judged(sorted(set(judged)), using=using)


def recompute(team, using="default"):
    """{cell key: Sums} from every terminal result of the team (for checks; the fold is the fast way)."""
    sums = defaultdict(Sums)
    rows = (Result.objects.using(using).filter(comparison__team=team, status__in=TERMINAL)
            .values_list("route_key", "route_label", *RESULT_FIELDS, "comparison__team_id", "comparison__created_at",
                         "comparison__params"))
    for key, label, status, code, latency, cost, source, attempts, team_id, created, params in rows:
        cell = sums[cell_key(team_id, key, created, params)]
        cell.add(status, code, latency, cost, source, attempts, images_asked(params))
    return sums


# --- judged comparisons ----------------------------------------------------------------------


def pattern_of(votes, produced):
    """votes [(kind, winner result id)], produced {result id: route} of the succeeded results."""
    routes = sorted(set(produced.values()))
    marks = sorted(((kind, produced.get(winner)) for kind, winner in votes), key=lambda v: (v[0], v[1] or ""))
    return json.dumps([routes, [list(m) for m in marks]], separators=(",", ":"))


def refresh_judged(comparison_ids, using="default", locked=False):
    """Bring the JudgedComparison rows of these comparisons in line with their verdicts and
    succeeded results (a row per comparison with a verdict; none without)."""
    ids = sorted(set(comparison_ids))
    if not ids:
        return
    with transaction.atomic(using=using):
        if not locked:
            _lock(using)
        for chunk in _chunks(ids):
            votes, produced = defaultdict(list), defaultdict(dict)
            for cid, kind, winner in (Verdict.objects.using(using).filter(comparison__in=chunk)
                                      .values_list("comparison_id", "kind", "winner_id")):
                votes[cid].append((kind, winner))
            for cid, rid, key in (Result.objects.using(using).filter(comparison__in=chunk, status=Status.SUCCEEDED)
                                  .values_list("comparison_id", "id", "route_key")):
                produced[cid][rid] = key
            rows = []
            for cid, team_id, created, params in (Comparison.objects.using(using).filter(pk__in=chunk)
                                                  .values_list("pk", "team_id", "created_at", "params")):
                if votes[cid]:
                    rows.append(JudgedComparison(comparison_id=cid, team_id=team_id, created_at=created,
                                                 quality=param_text(params, "quality"),
                                                 size=param_text(params, "size"),
                                                 pattern=pattern_of(votes[cid], produced[cid])))
            keep = {row.comparison_id for row in rows}
            JudgedComparison.objects.using(using).filter(comparison_id__in=[c for c in chunk if c not in keep]).delete()
            JudgedComparison.objects.using(using).bulk_create(
                rows, update_conflicts=True, unique_fields=["comparison"],
                update_fields=["team", "created_at", "quality", "size", "pattern"], batch_size=500)


def _origin_goes_with(origin, *models_):
    model = getattr(origin, "model", None) or type(origin)
    return model in models_


@receiver(verdict_given, sender=Verdict, dispatch_uid="rollups_verdict_given")
def _verdict_given(sender, comparison_id, **kwargs):
    refresh_judged([comparison_id])


@receiver(post_save, sender=Verdict, dispatch_uid="rollups_verdict_saved")
def _verdict_saved(sender, instance, using, **kwargs):
    refresh_judged([instance.comparison_id], using=using)


@receiver(post_delete, sender=Verdict, dispatch_uid="rollups_verdict_deleted")
def _verdict_deleted(sender, instance, using, origin=None, **kwargs):
    if not _origin_goes_with(origin, Comparison, Team):  # else its JudgedComparison goes too
        refresh_judged([instance.comparison_id], using=using)


@receiver(pre_delete, sender=Result, dispatch_uid="rollups_result_deleting")
def _result_deleting(sender, instance, using, origin=None, **kwargs):
    """Take a folded result out of its cell (a whole team's cells go with the team)."""
    if _origin_goes_with(origin, Team):
        return
    with transaction.atomic(using=using):
        _lock(using)  # a fold running now finishes first; then the marker is read fresh
        found = (Result.objects.using(using).select_for_update().filter(pk=instance.pk)
                 .values_list("rolled_up", *RESULT_FIELDS, "comparison__team_id", "comparison__created_at",
                              "comparison__params").first())
        if not found or not found[0]:
            return
        rolled, status, code, latency, cost, source, attempts, team_id, created, params = found
        sums = Sums()
        sums.add(status, code, latency, cost, source, attempts, images_asked(params))
        _apply({cell_key(team_id, instance.route_key, created, params): sums}, using, sign=-1)


@receiver(post_delete, sender=Result, dispatch_uid="rollups_result_deleted")
def _result_deleted(sender, instance, using, origin=None, **kwargs):
    if instance.status == Status.SUCCEEDED and not _origin_goes_with(origin, Comparison, Team):
        if Verdict.objects.using(using).filter(comparison_id=instance.comparison_id).exists():
            refresh_judged([instance.comparison_id], using=using)
