"""The leaderboard: per route, over a team's comparisons in a period and parameter filter.

Pure functions over querysets (no request, no views). What each number means:

- **entered**: comparisons the route took part in (its results: a comparison has one per route).
- **success / failure / timeout / content-refusal rates**: shares of the route's *settled* calls
  (succeeded + failed + timed out). Cancelled calls (the user stopped them) and calls still queued
  or running are left out. A content refusal is a failed call whose error is `content_policy`; it
  is counted apart from the other failures, so the four rates add up to 100 %.
- **retries**: attempts the provider refused (429/5xx) before the one that counts
  (`Result.attempts`), summed, and how many calls needed any.
- **latency**: median and p95 of `Result.latency_ms` of succeeded calls (our perf_counter timing of
  the provider call); percentiles interpolate linearly between closest ranks (numpy's default).
  Exact: the rollup cells keep every succeeded latency (packed float64), and the order statistics
  the median, p95 and the chart need are taken from them sorted here.
- **cost per image**: over succeeded calls, total cost / images asked (`params["n"]`), computed
  separately for costs from the provider's answer (*billed*, or *from usage*: its usage times our
  price) and costs we *estimated* (the catalog, or the team's own price); calls of
  unknown cost are counted, never priced at $0.
- **checks** (docs/checks.md): over the route's succeeded results whose automatic checks are done,
  the mean text accuracy (of those whose prompt quotes text OCR could read; each result counts once,
  whatever its n), and how many were blank or not the size asked. Read directly from the checks rows
  (one per succeeded result, filled after the result is stored, so not in the rollups), through
  their covering index.
- **win rate**: "winner" verdicts naming the route / verdicts on comparisons where it succeeded.
- **score** (Bradley-Terry, compare/insights/bradley_terry.py): fitted to the pairwise outcomes the team's
  verdicts imply, on the Elo scale, with a 2.5-97.5 percentile band from a bootstrap over
  comparisons. Routes are ranked by the lower end of the band; one with fewer than MIN_VOTES votes
  behind it is "preliminary".

Where the numbers come from (issue 6 item 6: 100,000 comparisons, 500,000 results): not from every
result and verdict at each request, but from rollups kept up to date as results finish and verdicts
change (compare/insights/models.py): RouteDay cells per (team, route, UTC day, quality, size) with the
result-based sums and latencies, and one JudgedComparison pattern per judged comparison. A build
first folds the results that finished since the last one (a conditional UPDATE claims each result
once, in the same transaction as its sums), then sums the cells of the period's whole UTC days and
reads directly the few results the cells do not hold (the period's partial days at its ends when
the time zone is not UTC; results not finished or not folded yet). Nothing is cached but the score
fit, under a hash of the votes' patterns themselves (the same votes, the same fit): every build
shows the data as of that request.
"""

import copy
import functools
import hashlib
import json
import math
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Avg, Count, Max, Q, Sum
from django.utils import timezone

from providers.pricing import price_for

from compare.checks.models import ResultCheck
from compare.insights import models as rollups
from compare.insights.bradley_terry import (
    Score, bradley_terry_with_band, closest_ranks, tie_outcomes, winner_outcomes,
)
from compare.insights.models import SUM_FIELDS, JudgedComparison, RouteDay
from compare.models import TERMINAL, Result
from compare.review.models import VerdictKind

MIN_VOTES = 5
CONTENT_REFUSAL = "content_policy"
LATENCY_PERCENTILES = (5, 25, 50, 75, 95)  # the table's median and p95, the chart's box and whiskers
LATENCY_DOTS = 60  # evenly spaced order statistics per route for the chart's strip
CACHE_SECONDS = 24 * 3600  # the fit's key is the votes themselves; this only frees memory


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    quality: str = ""
    size: str = ""

    def lookups(self, quality="params__quality", size="params__size"):
        """The filters as field lookups, for comparisons or for rows that copy their quality and
        size (JudgedComparison). Days in the current time zone, as moments (created_at__date
        would call a date function on every row; a range uses the created_at index)."""
        found = {}
        if self.date_from:
            found["created_at__gte"] = _day_start(self.date_from)
        if self.date_to:
            found["created_at__lt"] = _day_start(self.date_to + timedelta(days=1))
        if self.quality:
            found[quality] = self.quality
        if self.size:
            found[size] = self.size
        return found

    def apply(self, comparisons):
        return comparisons.filter(**self.lookups())

    def as_query(self):
        """The GET parameters that reproduce these filters (for links and exports)."""
        pairs = {"from": self.date_from.isoformat() if self.date_from else "",
                 "to": self.date_to.isoformat() if self.date_to else "",
                 "quality": self.quality, "size": self.size}
        return {key: value for key, value in pairs.items() if value}


def _day_start(day):
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass
class RouteRow:
    route_key: str
    label: str
    entered: int = 0
    settled: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    refused: int = 0
    cancelled: int = 0
    retries: int = 0
    retried_calls: int = 0
    latency_count: int = 0  # succeeded calls with a latency
    latency_ranks: dict = field(default_factory=dict)  # {1-based rank: ms}: the order statistics needed
    reported_cost: Decimal | None = None
    reported_images: int = 0
    estimated_cost: Decimal | None = None
    estimated_images: int = 0
    unknown_cost_calls: int = 0
    wins: int = 0
    judged_votes: int = 0
    score: Score = field(default_factory=Score)
    rank: int | None = None
    checked: int = 0  # succeeded results whose automatic checks are done
    text_scored: int = 0  # ... of which a text accuracy was measured
    text_accuracy_mean: float | None = None
    blank_count: int = 0
    size_mismatch_count: int = 0

    def _rate(self, count):
        return count / self.settled if self.settled else None

    success_rate = property(lambda self: self._rate(self.succeeded))
    failure_rate = property(lambda self: self._rate(self.failed))
    timeout_rate = property(lambda self: self._rate(self.timed_out))
    refusal_rate = property(lambda self: self._rate(self.refused))
    median_ms = property(lambda self: self.latency_percentile(50))
    p95_ms = property(lambda self: self.latency_percentile(95))
    reported_per_image = property(lambda self: _per_image(self.reported_cost, self.reported_images))
    # The catalog's price for this route is unresolved: its estimates are rough (docs/pricing.md).
    rough = property(lambda self: bool((price := price_for(self.route_key)) and price.unresolved))
    estimated_per_image = property(lambda self: _per_image(self.estimated_cost, self.estimated_images))

    def latency_percentile(self, pct):
        """As percentile() over the sorted latencies, from the ranks kept (pct in LATENCY_PERCENTILES)."""
        if not self.latency_count:
            return None
        below, above, fraction = closest_ranks(self.latency_count, pct)
        low, high = self.latency_ranks[below + 1], self.latency_ranks[above + 1]
        return low + (high - low) * fraction

    @property
    def latency_max(self):
        return self.latency_ranks.get(self.latency_count)

    @property
    def latency_dots(self):
        """Evenly spaced order statistics (all of them up to LATENCY_DOTS), ascending."""
        return [self.latency_ranks[rank] for rank in _dot_ranks(self.latency_count)]

    @property
    def blank_rate(self):
        return self.blank_count / self.checked if self.checked else None

    @property
    def size_match_rate(self):
        return 1 - self.size_mismatch_count / self.checked if self.checked else None

    @property
    def win_rate(self):
        return self.wins / self.judged_votes if self.judged_votes else None

    @property
    def preliminary(self):
        return self.score.votes < MIN_VOTES


def _per_image(cost, images):
    return (cost / images).quantize(Decimal("0.000001")) if cost is not None and images else None


def _dot_ranks(count):
    if count <= LATENCY_DOTS:
        return list(range(1, count + 1))
    return [round(i * (count - 1) / (LATENCY_DOTS - 1)) + 1 for i in range(LATENCY_DOTS)]


def latency_ranks_needed(count):
    """The 1-based ranks of the order statistics a row needs for `count` latencies."""
    if not count:
        return set()
    ranks = {1, count, *_dot_ranks(count)}
    for pct in LATENCY_PERCENTILES:
        below, above, _ = closest_ranks(count, pct)
        ranks.update((below + 1, above + 1))
    return ranks


# --- building, from the rollups ----------------------------------------------------------------


def build_for_team(team, filters=Filters()):
    """The team's leaderboard rows (what the page and the CSV show)."""
    return build(team, filters)


def build(team, filters=Filters(), using="default"):
    """The leaderboard rows, ranked, for the team's comparisons in these filters. Folds the
    results that finished since the last read into the rollups first (compare/insights/models.py),
    then reads the rollups: the work grows with the days and routes shown, not with the results."""
    rollups.fold_pending(using)
    rows = _combine(route_stats(team, filters, using), *route_scores(team, filters, using))
    checked = route_checks(team, filters, using)
    for row in rows:
        found = checked.get(row.route_key)
        if found:
            row.checked, row.text_scored, row.text_accuracy_mean = found["checked"], found["scored"], found["text_mean"]
            row.blank_count, row.size_mismatch_count = found["blank"], found["off_size"]
    return rows


def route_checks(team, filters=Filters(), using="default"):
    """{route: {checked, scored, text_mean, blank, off_size}} from the automatic checks of the
    team's succeeded results in the filters: one aggregate over the checks rows alone, through their
    covering index check_board (they copy the team, route, date, quality and size they are about)."""
    found = (ResultCheck.objects.using(using).filter(team=team, status=ResultCheck.DONE,
                                                     **filters.lookups(quality="quality", size="size"))
             .order_by().values("route_key")
             .annotate(checked=Count("pk"), scored=Count("text_accuracy"), text_mean=Avg("text_accuracy"),
                       blank=Count("pk", filter=Q(blank=True)), off_size=Count("pk", filter=Q(size_matches=False))))
    return {row.pop("route_key"): row for row in found}


def _utc_midnight(day):
    return datetime.combine(day, datetime.min.time(), tzinfo=dt_timezone.utc)


def split_period(filters):
    """((first, last) UTC days whose cells lie wholly in the period, last excluded, either None
    when open; or None when no whole day does), [(start, end) moments of the period outside those
    days]: the period's days are local days, the cells' days UTC ones."""
    start = _day_start(filters.date_from) if filters.date_from else None
    end = _day_start(filters.date_to + timedelta(days=1)) if filters.date_to else None
    first = last = None
    if start is not None:
        first = rollups.utc_day(start)
        if _utc_midnight(first) < start:
            first += timedelta(days=1)
    if end is not None:
        last = rollups.utc_day(end)
    if first is not None and last is not None and first >= last:
        return None, [(start, end)]
    edges = []
    if start is not None and _utc_midnight(first) > start:
        edges.append((start, _utc_midnight(first)))
    if end is not None and _utc_midnight(last) < end:
        edges.append((_utc_midnight(last), end))
    return (first, last), edges


def _cells(team, filters, days, using):
    cells = RouteDay.objects.using(using).filter(team=team)
    first, last = days
    if first is not None:
        cells = cells.filter(day__gte=first)
    if last is not None:
        cells = cells.filter(day__lt=last)
    if filters.quality:
        cells = cells.filter(quality=filters.quality)
    if filters.size:
        cells = cells.filter(size=filters.size)
    return cells.order_by()


def route_stats(team, filters=Filters(), using="default"):
    """{route: RouteRow} with the result-based numbers: the rollup cells of the whole UTC days in
    the period, plus, read directly, the results of the period's partial days at its ends (a local
    day is not a UTC day) and the results not folded yet (queued, running, just finished)."""
    days, edges = split_period(filters)
    sums = defaultdict(rollups.Sums)
    entered = Counter()
    labels = {}
    if days is not None:
        cells = _cells(team, filters, days, using)
        totals = cells.values("route_key").annotate(label=Max("label"), **{name: Sum(name) for name in SUM_FIELDS})
        for found in totals:
            total = sums[found["route_key"]]
            for name in SUM_FIELDS:
                setattr(total, name, found[name] or 0)
            labels[found["route_key"]] = found["label"]
        blobs = defaultdict(list)
        for key, blob in cells.filter(latency_count__gt=0).values_list("route_key", "latencies"):
            blobs[key].append(blob)
        for key, parts in blobs.items():  # one array per route, from the cells' bytes joined
            sums[key].latencies.append(rollups.unpack(b"".join(parts)))
        # Folded results are in the cells; the others (few: the partial index result_unfolded) are
        # read here, once each.
        pending = set(Result.objects.using(using).filter(rolled_up__isnull=True).order_by()
                      .values_list("comparison_id", flat=True))
        unfolded = Result.objects.using(using).filter(comparison_id__in=sorted(pending), rolled_up__isnull=True,
                                                      comparison__team=team)
        first, last = days
        if first is not None:
            unfolded = unfolded.filter(comparison__created_at__gte=_utc_midnight(first))
        if last is not None:
            unfolded = unfolded.filter(comparison__created_at__lt=_utc_midnight(last))
        _add_raw(unfolded, filters, sums, entered, labels)
    for start, end in edges:
        _add_raw(Result.objects.using(using).filter(comparison__team=team, comparison__created_at__gte=start,
                                                    comparison__created_at__lt=end), filters, sums, entered, labels)
    rows = {}
    for key in sorted(set(sums) | set(entered)):
        total = sums[key]
        if not total.results and not entered[key]:
            continue
        row = RouteRow(route_key=key, label=labels.get(key) or key, entered=total.results + entered[key],
                       succeeded=total.succeeded, failed=total.failed, refused=total.refused,
                       timed_out=total.timed_out, cancelled=total.cancelled, retries=total.retries,
                       retried_calls=total.retried_calls, reported_images=total.reported_images,
                       estimated_images=total.estimated_images, unknown_cost_calls=total.unknown_cost_calls)
        row.reported_cost = Decimal(total.reported_micros).scaleb(-6) if total.reported_priced else None
        row.estimated_cost = Decimal(total.estimated_micros).scaleb(-6) if total.estimated_priced else None
        row.settled = row.succeeded + row.failed + row.refused + row.timed_out
        latencies = array("d")
        for part in total.latencies:
            if isinstance(part, array):
                latencies.extend(part)
            else:
                latencies.append(part)
        ordered = sorted(latencies)  # exact order statistics: every succeeded latency, sorted here
        row.latency_count = len(ordered)
        row.latency_ranks = {rank: ordered[rank - 1] for rank in latency_ranks_needed(len(ordered))}
        rows[key] = row
    return rows


def _add_raw(results, filters, sums, entered, labels):
    """Results read one by one (few: partial days, not folded yet): terminal ones into the sums,
    the others only as entered."""
    rows = results.order_by().values_list("route_key", "route_label", "rolled_up", *rollups.RESULT_FIELDS,
                                          "comparison__params")
    for key, label, _, status, code, latency, cost, source, attempts, params in rows:
        if filters.quality and rollups.param_text(params, "quality") != filters.quality:
            continue
        if filters.size and rollups.param_text(params, "size") != filters.size:
            continue
        labels[key] = label
        if status in TERMINAL:
            sums[key].add(status, code, latency, cost, source, attempts, rollups.images_asked(params))
        else:
            entered[key] += 1


def sizes(team, using="default"):
    """The sizes the team's comparisons used (for the filter's options), from the rollups."""
    return sorted(set(RouteDay.objects.using(using).filter(team=team).exclude(size="")
                      .values_list("size", flat=True).distinct()))


@dataclass
class _Tally:
    wins: int = 0
    judged_votes: int = 0


def route_scores(team, filters=Filters(), using="default"):
    """({route: _Tally} of wins and judged votes, {route: Score}) from the judged comparisons'
    patterns (compare/insights/models.py JudgedComparison: one short row per judged comparison).
    The fit is cached under a hash of the patterns themselves: the same votes give the same
    scores, and any change of a verdict changes the key."""
    judged = JudgedComparison.objects.using(using).filter(team=team, **filters.lookups(quality="quality", size="size"))
    patterns = list(judged.order_by("comparison_id").values_list("pattern", flat=True))
    tallies, units = defaultdict(_Tally), []
    for text in patterns:
        outcomes, per_route, routes, votes, winners = _unit(text)
        for key in routes:
            tallies[key].judged_votes += votes
        for key in winners:
            tallies[key].wins += 1
        if outcomes:
            units.append((outcomes, per_route))
    routes = sorted(tallies)
    digest = hashlib.sha256("\n".join([SCORES_VERSION, *routes, *patterns]).encode()).hexdigest()
    key = f"leaderboard:scores:{digest}"
    scores = cache.get(key)
    if scores is None:
        scores = bradley_terry_with_band(units, routes)
        cache.set(key, scores, CACHE_SECONDS)
    return dict(tallies), scores


SCORES_VERSION = "bt-2"  # the fit and its draws; a change makes new keys


@functools.lru_cache(maxsize=1 << 17)
def _unit(text):
    """(outcomes, votes per route, routes with images, votes, winning routes) of one pattern (a
    pattern is its text: parsed once per process; the result is only read)."""
    routes, marks = json.loads(text)
    routes = tuple(routes)
    votes = [(kind, winner) for kind, winner in marks]
    outcomes, winners = (), []
    for kind, winner in votes:
        if kind == VerdictKind.WINNER and winner:
            winners.append(winner)
            outcomes += winner_outcomes(routes, winner)
        elif kind in (VerdictKind.TIE, VerdictKind.ALL_BAD):
            outcomes += tie_outcomes(routes)
    return outcomes, _votes_per_route(votes, routes), routes, len(votes), tuple(winners)


def _combine(rows, tallies, scores):
    rows = {key: copy.copy(row) for key, row in rows.items()}
    for key, row in rows.items():
        tally = tallies.get(key)
        row.wins, row.judged_votes = (tally.wins, tally.judged_votes) if tally else (0, 0)
        row.score = copy.copy(scores.get(key)) or Score()
    return rank(list(rows.values()))


def rank(rows):
    """By the lower end of the score band (routes without votes last), then success rate."""
    def key(row):
        low = row.score.low if row.score.votes else -math.inf
        return (-low, -(row.success_rate or 0), row.route_key)

    ordered = sorted(rows, key=key)
    for position, row in enumerate(ordered, start=1):
        row.rank = position
    return ordered


def _votes_per_route(votes, routes):
    """Votes that gave each route a pairwise outcome (it and at least one other produced images)."""
    if len(routes) < 2:
        return {}
    counted = sum(1 for kind, winner in votes if kind != VerdictKind.WINNER or winner)
    return {key: counted for key in routes}
