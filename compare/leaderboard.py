"""The leaderboard: per route, over a team's comparisons in a period and parameter filter.

Pure functions over querysets (no request, no views). What each number means:

- **entered**: comparisons the route took part in.
- **success / failure / timeout / content-refusal rates**: shares of the route's *settled* calls
  (succeeded + failed + timed out). Cancelled calls (the user stopped them) and calls still queued
  or running are left out. A content refusal is a failed call whose error is `content_policy`; it
  is counted apart from the other failures, so the four rates add up to 100 %.
- **retries**: attempts the provider refused (429/5xx) before the one that counts
  (`Result.attempts`), summed, and how many calls needed any.
- **latency**: median and p95 of `Result.latency_ms` of succeeded calls (our perf_counter timing of
  the provider call); percentiles interpolate linearly between closest ranks (numpy's default).
  The database ranks the latencies (ROW_NUMBER per route) and returns only the order statistics
  these need (and the chart's): exact, without reading every latency into Python.
- **cost per image**: over succeeded calls, total cost / images asked (`params["n"]`), computed
  separately for costs the provider *reported* and costs *estimated* from the catalog; calls of
  unknown cost are counted, never priced at $0.
- **win rate**: "winner" verdicts naming the route / verdicts on comparisons where it succeeded.
- **score** (Bradley-Terry): every verdict implies pairwise outcomes among the routes that
  produced images in that comparison (a route without an image is judged by reliability, not
  quality): "winner" = the winning route beat each other one; "tie" and "all bad" = a tie between
  every pair, entered as half a win each way. Strengths are fitted
  against a fixed anchor player of strength 1 that every route met once won, once lost (a small
  prior: it keeps undefeated routes finite, makes the fit converge, and pins the scale), fitted by
  Newton-Raphson (see fit), and shown on the Elo scale: 1000 + 400·log10(strength), so +400
  points is 10:1 odds. The fit works on win counts per route pair (a routes x routes matrix
  aggregated from the votes once), so an iteration costs O(routes²), not O(votes). The band is the
  2.5-97.5 percentile of a bootstrap over comparisons (all votes of a comparison resampled
  together), done on the aggregated counts: comparisons with the same outcomes form one pattern,
  and a replicate draws how often each comparison enters (Poisson(1) each, the Poisson bootstrap,
  so a pattern of m comparisons enters Poisson(m) times) instead of drawing every comparison:
  BOOTSTRAP_SAMPLES replicates (fewer on a long history, never under BOOTSTRAP_MIN_SAMPLES),
  fixed seed, so the page is stable. Routes are ranked by the lower end of the band; one with
  fewer than MIN_VOTES votes behind it is "preliminary".

Built rows are cached per (team, filters) in two parts, each under a key that includes the state
of what it depends on (results_state, verdicts_state): a new or finished result, a deleted
comparison, or a new, changed or withdrawn verdict changes the key, so the page never shows
numbers older than the data, and a change rebuilds only the part it touches.
"""

import bisect
import copy
import functools
import hashlib
import json
import math
import operator
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import CharField, Count, IntegerField, Max, StringAgg, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from .models import Comparison, Result, Status, Verdict, VerdictKind

MIN_VOTES = 5
BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_MIN_SAMPLES = 50
BOOTSTRAP_DRAWS = 400_000  # comparisons resampled in all: bounds the time on a long history
PRIOR_GAMES = 1.0  # anchor games won and lost by every route
MAX_ITERATIONS = 100
TOLERANCE = 1e-9  # change of a log-strength: 1e-7 Elo points
SEED = 20261122
CONTENT_REFUSAL = "content_policy"
LATENCY_PERCENTILES = (5, 25, 50, 75, 95)  # the table's median and p95, the chart's box and whiskers
LATENCY_DOTS = 60  # evenly spaced order statistics per route for the chart's strip
CACHE_SECONDS = 24 * 3600  # the key changes with the data; this only frees memory


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    quality: str = ""
    size: str = ""

    def apply(self, comparisons):
        # Days in the current time zone, as moments (created_at__date would call a date function
        # on every row; a range uses the created_at index).
        if self.date_from:
            comparisons = comparisons.filter(created_at__gte=_day_start(self.date_from))
        if self.date_to:
            comparisons = comparisons.filter(created_at__lt=_day_start(self.date_to + timedelta(days=1)))
        if self.quality:
            comparisons = comparisons.filter(params__quality=self.quality)
        if self.size:
            comparisons = comparisons.filter(params__size=self.size)
        return comparisons

    def as_query(self):
        """The GET parameters that reproduce these filters (for links and exports)."""
        pairs = {"from": self.date_from.isoformat() if self.date_from else "",
                 "to": self.date_to.isoformat() if self.date_to else "",
                 "quality": self.quality, "size": self.size}
        return {key: value for key, value in pairs.items() if value}


def _day_start(day):
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass
class Score:
    score: float | None = None
    low: float | None = None
    high: float | None = None
    votes: int = 0
    samples: int = 0  # bootstrap replicates behind the band


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

    def _rate(self, count):
        return count / self.settled if self.settled else None

    success_rate = property(lambda self: self._rate(self.succeeded))
    failure_rate = property(lambda self: self._rate(self.failed))
    timeout_rate = property(lambda self: self._rate(self.timed_out))
    refusal_rate = property(lambda self: self._rate(self.refused))
    median_ms = property(lambda self: self.latency_percentile(50))
    p95_ms = property(lambda self: self.latency_percentile(95))
    reported_per_image = property(lambda self: _per_image(self.reported_cost, self.reported_images))
    estimated_per_image = property(lambda self: _per_image(self.estimated_cost, self.estimated_images))

    def latency_percentile(self, pct):
        """As percentile() over the sorted latencies, from the ranks kept (pct in LATENCY_PERCENTILES)."""
        if not self.latency_count:
            return None
        below, above, fraction = _interpolation(self.latency_count, pct)
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
    def win_rate(self):
        return self.wins / self.judged_votes if self.judged_votes else None

    @property
    def preliminary(self):
        return self.score.votes < MIN_VOTES


def _per_image(cost, images):
    return (cost / images).quantize(Decimal("0.000001")) if cost is not None and images else None


def _interpolation(count, pct):
    """0-based closest ranks and the fraction between them, as percentile() uses them."""
    position = (count - 1) * pct / 100
    below = math.floor(position)
    return below, min(below + 1, count - 1), position - below


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
        below, above, _ = _interpolation(count, pct)
        ranks.update((below + 1, above + 1))
    return ranks


def percentile(values, pct):
    """Linear interpolation between closest ranks of sorted values (numpy's default); None if empty."""
    if not values:
        return None
    below, above, fraction = _interpolation(len(values), pct)
    return values[below] + (values[above] - values[below]) * fraction


# --- building, cached -------------------------------------------------------------------------


def results_state(using="default"):
    """Changes whenever a result-based number can change: a result is created (max id; ids are
    never reused), finishes or is cancelled (the count of queued and running results drops: a
    result leaves them once and only then gets its status, latency, cost and attempts), or is
    deleted (count). A bare COUNT(*), MAX(id) and a range of the status index."""
    results = Result.objects.using(using).order_by()
    return (results.count(), results.aggregate(top=Max("pk"))["top"],
            results.filter(status__in=[Status.QUEUED, Status.RUNNING]).count())


def verdicts_state(using="default"):
    """Changes whenever a score or win rate can change: a verdict is created (max id), deleted
    (count), or changed to another winner or kind (count and sum of winner ids; tie and "all bad"
    count alike), or a result of a judged comparison succeeds (their count and max id: it adds
    pairwise outcomes). One pass over the verdicts, one over the covering index
    result_comparison_status for the judged comparisons."""
    verdicts = Verdict.objects.using(using).order_by().aggregate(
        n=Count("pk"), top=Max("pk"), winners=Count("winner"), winner_sum=Sum("winner"), latest=Max("updated_at"))
    produced = (Result.objects.using(using).order_by()
                .filter(status=Status.SUCCEEDED, comparison__in=Verdict.objects.using(using).values("comparison_id"))
                .aggregate(n=Count("pk"), top=Max("pk")))
    return (verdicts["n"], verdicts["top"], verdicts["winners"], verdicts["winner_sum"],
            verdicts["latest"].isoformat() if verdicts["latest"] else None, produced["n"], produced["top"])


def fingerprint(using="default"):
    return results_state(using) + verdicts_state(using)


STATES = {"results": results_state, "verdicts": verdicts_state}


def cache_key(team, what, filters=None, depends_on="results"):
    states = team.__dict__.setdefault("_leaderboard_states", {})  # once per request (a team object per request)
    if depends_on not in states:
        states[depends_on] = STATES[depends_on]()
    data = json.dumps([team.pk, what, filters.as_query() if filters else {}, states[depends_on]], default=str)
    return "leaderboard:" + hashlib.sha256(data.encode()).hexdigest()


def cached(team, what, compute, filters=None, depends_on="results"):
    """compute() once per (team, what, filters) and state of the data it depends on ("results"
    or "verdicts", see results_state and verdicts_state)."""
    key = cache_key(team, what, filters, depends_on)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def build_for_team(team, filters=Filters()):
    """The team's leaderboard rows, from the cache when nothing they depend on changed. The
    result-based numbers and the verdict-based ones are cached apart: a finished result rebuilds
    only the first, a verdict only the second; when both are missing, they are built at once (the
    scores on a connection of their own)."""
    comparisons = filters.apply(Comparison.objects.filter(team=team))
    stats_key = cache_key(team, "stats", filters, "results")
    scores_key = cache_key(team, "scores", filters, "verdicts")
    found = cache.get_many([stats_key, scores_key])
    rows, scores = found.get(stats_key), found.get(scores_key)
    out, worker = {}, None
    if rows is None and scores is None and _can_use_threads(comparisons.db):
        worker = threading.Thread(target=_in_own_connection,
                                  args=(lambda _, out: out.update(scores=route_scores(comparisons)), None, out))
        worker.start()
    try:
        if rows is None:
            rows = route_stats(comparisons)
            cache.set(stats_key, rows, CACHE_SECONDS)
    finally:
        if worker is not None:
            worker.join()
    if "error" in out:
        raise out["error"]
    if scores is None:
        scores = out["scores"] if worker is not None else route_scores(comparisons)
        cache.set(scores_key, scores, CACHE_SECONDS)
    return _combine(rows, *scores)


def build(comparisons, filters=Filters()):
    """The leaderboard rows, ranked, for these comparisons (already scoped to a team); uncached."""
    comparisons = filters.apply(comparisons)
    return _combine(route_stats(comparisons), *route_scores(comparisons))


def route_stats(comparisons):
    """{route: RouteRow} with the result-based numbers: reliability, cost, latency, retries. The
    two scans (the grouped pass, and the latencies ranked) run at once on two connections when
    they can (each is one SQL statement that runs without the GIL); inside a transaction (whose
    rows another connection would not see) one after the other."""
    scope = _Scope(comparisons)
    if not _can_use_threads(scope.using):
        rows = _reliability_and_cost(scope)
        _latencies(scope, rows)
    else:
        ranked = {}
        worker = threading.Thread(target=_in_own_connection, args=(_ranked_latencies, scope, ranked))
        worker.start()
        try:
            rows = _reliability_and_cost(scope)
        finally:
            worker.join()
        if "error" in ranked:
            raise ranked["error"]
        for key, row in rows.items():
            row.latency_ranks = ranked["ranks"].get(key, {})
            row.latency_count = ranked["counts"].get(key, 0)
    _retries(scope, rows)
    return rows


def _can_use_threads(using):
    """Another connection sees what this one sees: not inside a transaction (its rows would be
    invisible there, as in the tests), not an in-memory SQLite database."""
    connection = connections[using]
    name = str(connection.settings_dict["NAME"])
    return not connection.in_atomic_block and name not in (":memory:", "") and "mode=memory" not in name


def _in_own_connection(function, scope, out):
    try:
        function(scope, out)
    except Exception as error:  # noqa: BLE001 - raised again in the calling thread
        out["error"] = error
    finally:
        connections.close_all()  # this thread's connections


def _ranked_latencies(scope, out):
    """_latencies on its own: the counts first (the ranks needed depend on them). A result that
    finishes between the two statements changes the cache key, so rows built across it are never
    served for the newer state."""
    counts = dict(scope.run("""SELECT r.route_key, COUNT(*) FROM compare_result r
                               WHERE r.status = %s AND r.latency_ms IS NOT NULL AND {scope}
                               GROUP BY r.route_key""", [Status.SUCCEEDED]))
    rows = {key: RouteRow(route_key=key, label=key, latency_count=count) for key, count in counts.items()}
    _latencies(scope, rows)
    out["counts"] = counts
    out["ranks"] = {key: row.latency_ranks for key, row in rows.items()}


@dataclass
class _Tally:
    wins: int = 0
    judged_votes: int = 0


def route_scores(comparisons):
    """({route: _Tally} of wins and judged votes, {route: Score}) from the verdicts."""
    tallies = defaultdict(_Tally)
    units = _pairwise_units(comparisons, tallies)
    return dict(tallies), bradley_terry_with_band(units, sorted(tallies))


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


class _Scope:
    """The comparisons as SQL to filter results with: `r.comparison_id IN (...)`, on SQLite
    `+r.comparison_id IN (...)`: the unary plus keeps SQLite from driving the scan by the
    comparison index (then sorting every row); it walks the covering indexes in route order
    instead and checks each row against the set (PostgreSQL hashes the set either way)."""

    def __init__(self, comparisons):
        self.comparisons = comparisons
        self.using = comparisons.db
        self.sql, self.params = comparisons.order_by().values("pk").query.sql_with_params()
        self.vendor = connections[self.using].vendor

    def run(self, sql, params=(), after=()):
        """sql with `{scope}` in its text after `params`' placeholders and before `after`'s."""
        column = "+r.comparison_id" if self.vendor == "sqlite" else "r.comparison_id"
        sql, params = sql.replace("{scope}", f"{column} IN ({self.sql})"), [*params, *self.params, *after]
        if self.vendor != "postgresql":
            with connections[self.using].cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        # One scan of the team's results: JIT compiling it costs more than it saves (0.1-0.2 s
        # here), and its sort (the latencies ranked) fits in memory with a little more work_mem.
        with transaction.atomic(using=self.using), connections[self.using].cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")
            cursor.execute(sql, params)
            return cursor.fetchall()


def _reliability_and_cost(scope):
    """One grouped pass over the covering index result_board (route_key, comparison_id, status,
    cost_source, error_code, cost_usd, latency_ms)."""
    ok, reported, estimated = Status.SUCCEEDED, "reported", "estimated"

    def count(condition):
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    found = scope.run(f"""
        SELECT r.route_key, COUNT(DISTINCT r.comparison_id), MAX(r.id),
               {count("r.status = %s")},
               {count("r.status = %s AND r.error_code <> %s")},
               {count("r.status = %s AND r.error_code = %s")},
               {count("r.status = %s")}, {count("r.status = %s")},
               SUM(CASE WHEN r.status = %s AND r.cost_source = %s THEN r.cost_usd END), {count("r.status = %s AND r.cost_source = %s")},
               SUM(CASE WHEN r.status = %s AND r.cost_source = %s THEN r.cost_usd END), {count("r.status = %s AND r.cost_source = %s")},
               {count("r.status = %s AND r.cost_source = %s")},
               {count("r.status = %s AND r.latency_ms IS NOT NULL")}
        FROM compare_result r WHERE {{scope}} GROUP BY r.route_key ORDER BY r.route_key""",
        [ok, Status.FAILED, CONTENT_REFUSAL, Status.FAILED, CONTENT_REFUSAL, Status.TIMED_OUT, Status.CANCELLED,
         ok, reported, ok, reported, ok, estimated, ok, estimated, ok, "unknown", ok])
    labels = dict(Result.objects.using(scope.using).filter(pk__in=[entry[2] for entry in found])
                  .values_list("route_key", "route_label"))
    rows = {}
    for (key, entered, _, succeeded, failed, refused, timed_out, cancelled, reported_cost, reported_images,
         estimated_cost, estimated_images, unknown, latency_count) in found:
        row = RouteRow(route_key=key, label=labels.get(key, key), entered=entered, succeeded=succeeded or 0,
                       failed=failed or 0, refused=refused or 0, timed_out=timed_out or 0, cancelled=cancelled or 0,
                       reported_images=reported_images or 0, estimated_images=estimated_images or 0,
                       unknown_cost_calls=unknown or 0, latency_count=latency_count or 0)
        row.reported_cost = _decimal(reported_cost)
        row.estimated_cost = _decimal(estimated_cost)
        row.settled = row.succeeded + row.failed + row.refused + row.timed_out
        rows[key] = row
    _more_images(scope, rows)
    return rows


def _more_images(scope, rows):
    """Images asked beyond one per call (`params["n"]` > 1), added to the priced calls' images:
    only the comparisons that asked for more are joined."""
    n = Cast(KeyTextTransform("n", "params"), IntegerField())
    several = scope.comparisons.order_by().annotate(images=n).filter(images__gt=1).values("pk")
    extra = (Result.objects.using(scope.using).filter(comparison__in=several, status=Status.SUCCEEDED,
                                                     cost_source__in=("reported", "estimated"))
             .order_by().values_list("route_key", "cost_source")
             .annotate(more=Sum(Cast(KeyTextTransform("n", "comparison__params"), IntegerField()) - Value(1))))
    for key, source, more in extra:
        setattr(rows[key], f"{source}_images", getattr(rows[key], f"{source}_images") + (more or 0))


def _decimal(value):
    """A cost sum: Decimal from PostgreSQL; a float from SQLite, whose costs have 6 decimals."""
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(f"{value:.6f}")


def _latencies(scope, rows):
    """The order statistics each row needs (see latency_ranks_needed), ranked by the database
    over the covering index result_latency (status, route_key, latency_ms, comparison_id)."""
    needed = {key: latency_ranks_needed(row.latency_count) for key, row in rows.items()}
    wanted = sorted(set().union(*needed.values())) if needed else []
    if not wanted:
        return
    found = scope.run(f"""
        SELECT ranked.route_key, ranked.rn, ranked.latency_ms FROM (
            SELECT r.route_key, r.latency_ms,
                   ROW_NUMBER() OVER (PARTITION BY r.route_key ORDER BY r.latency_ms) AS rn
            FROM compare_result r WHERE r.status = %s AND r.latency_ms IS NOT NULL AND {{scope}}
        ) ranked WHERE ranked.rn IN ({", ".join(["%s"] * len(wanted))})""", [Status.SUCCEEDED], after=wanted)
    for key, position, latency in found:
        if position in needed.get(key, ()):
            rows[key].latency_ranks[position] = latency


def _retries(scope, rows):
    """Refused attempts, from the few results that have any (the partial index result_retried)."""
    # The condition as the partial index states it, literally, so SQLite can use that index.
    retried = "NOT (r.attempts = '[]'::jsonb)" if scope.vendor == "postgresql" else "NOT (r.attempts = '[]')"
    for key, attempts in scope.run(f"SELECT r.route_key, r.attempts FROM compare_result r WHERE {retried} AND {{scope}}"):
        if isinstance(attempts, str):
            attempts = json.loads(attempts)
        if attempts and key in rows:
            rows[key].retries += len(attempts)
            rows[key].retried_calls += 1


def _pairwise_units(comparisons, rows):
    """One unit per judged comparison: the (winner, loser, weight) outcomes of all its verdicts.
    Also counts wins and judged votes (for the win rate) on the rows. Two queries: the verdicts,
    and per judged comparison its succeeded results (id and route)."""
    judged = comparisons.order_by().values("pk")
    verdicts = (Verdict.objects.using(comparisons.db).filter(comparison__in=judged).order_by()
                .values_list("comparison_id", "kind", "winner_id"))
    # The succeeded results of the judged comparisons, "id route" per line, from the covering index
    # result_comparison_status; a winner that is not among them did not succeed (no outcome).
    produced = (Result.objects.using(comparisons.db)
                .filter(status=Status.SUCCEEDED, comparison__in=Verdict.objects.filter(comparison__in=judged)
                        .values("comparison_id"))
                .order_by().values("comparison_id")
                .annotate(routes=StringAgg(Concat(Cast("id", CharField()), Value(" "), "route_key"),
                                           delimiter=Value("\n")))
                .values_list("comparison_id", "routes"))
    produced_routes, route_of = {}, {}
    for comparison_id, text in produced:
        keys = set()
        for line in text.split("\n"):
            pk, _, key = line.partition(" ")
            route_of[int(pk)] = key
            keys.add(key)
        produced_routes[comparison_id] = tuple(sorted(keys))
    by_comparison = defaultdict(list)
    for comparison_id, kind, winner_id in verdicts:
        by_comparison[comparison_id].append((kind, route_of.get(winner_id)))
    judged_votes, wins, units = Counter(), Counter(), []
    for comparison_id, votes in by_comparison.items():
        routes = produced_routes.get(comparison_id, ())
        outcomes = ()
        for kind, winner in votes:
            judged_votes[routes] += 1
            if kind == VerdictKind.WINNER and winner:
                wins[winner] += 1
                outcomes += _winner_outcomes(routes, winner)
            elif kind in (VerdictKind.TIE, VerdictKind.ALL_BAD):
                outcomes += _tie_outcomes(routes)
        if outcomes:
            units.append((outcomes, _votes_per_route(votes, routes)))
    for routes, count in judged_votes.items():
        for key in routes:
            rows[key].judged_votes += count
    for key, count in wins.items():
        rows[key].wins += count
    return units


@functools.lru_cache(maxsize=65536)
def _winner_outcomes(routes, winner):
    """The winner beat each other route that produced images."""
    return tuple((winner, other, 1.0) for other in routes if other != winner)


@functools.lru_cache(maxsize=65536)
def _tie_outcomes(routes):
    """Half a win each way between every pair."""
    return tuple(o for i, a in enumerate(routes) for b in routes[i + 1:] for o in ((a, b, 0.5), (b, a, 0.5)))


def _votes_per_route(votes, routes):
    """Votes that gave each route a pairwise outcome (it and at least one other produced images)."""
    if len(routes) < 2:
        return {}
    counted = sum(1 for kind, winner in votes if kind != VerdictKind.WINNER or winner)
    return {key: counted for key in routes}


# --- Bradley-Terry --------------------------------------------------------------------------


def _pair_counts(games, index):
    """{(a, b) with a < b: [a's wins, b's wins]} from {(winner, loser): weight}."""
    pairs = defaultdict(lambda: [0.0, 0.0])
    for (winner, loser), weight in games.items():
        a, b = sorted((index[winner], index[loser]))
        pairs[(a, b)][0 if a == index[winner] else 1] += weight
    return pairs


def fit(games, routes, start=None):
    """Bradley-Terry log-strengths θ (the anchor's is 0) maximising the likelihood of games
    {(winner, loser): weight} plus the anchor prior, by Newton-Raphson with step halving (the
    log-likelihood is concave; the prior makes it strictly so). Hunter's MM iteration reaches the
    same optimum but crawls here, as the weak prior alone pins the common scale. {route: θ}."""
    index = {key: i for i, key in enumerate(routes)}
    theta = fit_pairs(_pair_counts(games, index), len(routes), [start[key] for key in routes] if start else None)
    return {key: theta[i] for key, i in index.items()}


def fit_pairs(pairs, size, start=None):
    """fit() on aggregated counts {(a, b): [a's wins, b's wins]} of route indices: [θ]."""
    pairs = {pair: counts for pair, counts in pairs.items() if counts[0] or counts[1]}
    theta = list(start) if start else [0.0] * size
    value, gradient, hessian = _derivatives(theta, pairs)
    for _ in range(MAX_ITERATIONS):
        step = _solve(hessian, gradient)
        for _ in range(30):
            trial = [t + d for t, d in zip(theta, step)]
            trial_value, trial_gradient, trial_hessian = _derivatives(trial, pairs)
            if trial_value >= value - 1e-12:
                break
            step = [d / 2 for d in step]
        theta, value, gradient, hessian = trial, trial_value, trial_gradient, trial_hessian
        if max((abs(d) for d in step), default=0) < TOLERANCE:
            break
    return theta


def _log_sigmoid(x):
    return -math.log1p(math.exp(-x)) if x > -30 else x


def _sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x > -30 else math.exp(x)


def _derivatives(theta, pairs):
    """Log-likelihood, its gradient, and the negated Hessian (positive definite)."""
    size = len(theta)
    value, gradient = 0.0, [0.0] * size
    hessian = [[0.0] * size for _ in range(size)]
    for i, t in enumerate(theta):  # one game won and one lost against the anchor at 0
        p = _sigmoid(t)
        value += PRIOR_GAMES * (_log_sigmoid(t) + _log_sigmoid(-t))
        gradient[i] += PRIOR_GAMES * (1 - 2 * p)
        hessian[i][i] += 2 * PRIOR_GAMES * p * (1 - p)
    for (a, b), (a_wins, b_wins) in pairs.items():
        diff = theta[a] - theta[b]
        p, total = _sigmoid(diff), a_wins + b_wins
        value += a_wins * _log_sigmoid(diff) + b_wins * _log_sigmoid(-diff)
        gradient[a] += a_wins - total * p
        gradient[b] -= a_wins - total * p
        curve = total * p * (1 - p)
        hessian[a][a] += curve
        hessian[b][b] += curve
        hessian[a][b] -= curve
        hessian[b][a] -= curve
    return value, gradient, hessian


def _solve(matrix, vector):
    """x with matrix @ x = vector, for a small positive definite matrix (Cholesky)."""
    size = len(vector)
    lower = [[0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1):
            total = matrix[i][j] - sum(lower[i][k] * lower[j][k] for k in range(j))
            lower[i][j] = math.sqrt(max(total, 1e-300)) if i == j else total / lower[j][j]
    forward = [0.0] * size
    for i in range(size):
        forward[i] = (vector[i] - sum(lower[i][k] * forward[k] for k in range(i))) / lower[i][i]
    result = [0.0] * size
    for i in reversed(range(size)):
        result[i] = (forward[i] - sum(lower[k][i] * result[k] for k in range(i + 1, size))) / lower[i][i]
    return result


def elo(theta):
    return 1000 + 400 * theta / math.log(10)


def _games(weighted_units):
    games = Counter()
    for outcomes, times in weighted_units:
        for winner, loser, weight in outcomes:
            games[(winner, loser)] += weight * times
    return games


def bootstrap_samples(judged):
    """200 resamples, fewer (never under 50) when thousands of comparisons are judged: the work
    stays bounded, and with that many votes the band is narrow anyway."""
    return max(BOOTSTRAP_MIN_SAMPLES, min(BOOTSTRAP_SAMPLES, BOOTSTRAP_DRAWS // max(judged, 1)))


def _poisson_table(mean):
    """Cumulative Poisson(mean) probabilities, up to where the tail is below 1e-12."""
    table, term, total, k = [], math.exp(-mean), 0.0, 0
    while True:
        total += term
        table.append(total)
        k += 1
        term *= mean / k
        if k > mean and 1 - total < 1e-12:
            return table


def bradley_terry_with_band(units, routes, samples=None, seed=SEED):
    """{route: Score} from the units of _pairwise_units; band from a bootstrap over comparisons."""
    votes = Counter()
    for _, per_route in units:
        votes.update(per_route)
    scores = {key: Score(votes=votes[key]) for key in routes}
    if not units:
        return scores
    index = {key: i for i, key in enumerate(routes)}
    # Comparisons with the same outcomes are one pattern; each pattern is its few pair counts.
    patterns = Counter(outcomes for outcomes, _ in units)
    slots, multiplicity = {}, []
    by_position = defaultdict(lambda: defaultdict(list))  # flat pair position -> weight -> pattern indices
    for number, (outcomes, times) in enumerate(patterns.items()):
        vector = defaultdict(float)
        for winner, loser, weight in outcomes:
            a, b = index[winner], index[loser]
            if a < b:
                vector[slots.setdefault((a, b), len(slots)) * 2] += weight
            else:
                vector[slots.setdefault((b, a), len(slots)) * 2 + 1] += weight
        for position, weight in vector.items():
            by_position[position][weight].append(number)
        multiplicity.append(times)
    pair_of = list(slots)
    # Per pair position and weight, a C-speed gather of the patterns' counts: a replicate's win
    # matrix costs a few sums over the counts, not a Python loop over every pattern's outcomes.
    gathers = {position: [(weight, operator.itemgetter(*numbers), len(numbers) == 1)
                          for weight, numbers in weights.items()] for position, weights in by_position.items()}

    def pairs_from(counts):
        flat = [0.0] * (2 * len(pair_of))
        for position, parts in gathers.items():
            flat[position] = sum(weight * (get(counts) if single else sum(get(counts)))
                                 for weight, get, single in parts)
        return {pair: [flat[2 * s], flat[2 * s + 1]] for s, pair in enumerate(pair_of)}

    strength = fit_pairs(pairs_from(multiplicity), len(routes))
    draws = defaultdict(list)
    rng = random.Random(seed)
    tables = {m: _poisson_table(m) for m in set(multiplicity)}
    uniform, find = rng.random, bisect.bisect_right
    samples = samples or bootstrap_samples(len(units))
    for _ in range(samples):
        counts = [find(tables[m], uniform()) for m in multiplicity]  # Poisson(m): how often it enters
        replicate = fit_pairs(pairs_from(counts), len(routes), start=strength)
        for key, i in index.items():
            draws[key].append(elo(replicate[i]))
    for key in (key for key in routes if votes[key]):
        ordered = sorted(draws[key])
        scores[key].score = elo(strength[index[key]])
        scores[key].low, scores[key].high = percentile(ordered, 2.5), percentile(ordered, 97.5)
        scores[key].samples = samples
    return scores
