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
  points is 10:1 odds. The band is the
  2.5-97.5 percentile of a bootstrap over comparisons (all votes of a comparison resampled
  together; BOOTSTRAP_SAMPLES replicates, fixed seed, so the page is stable). Routes are ranked by
  the lower end of the band; one with fewer than MIN_VOTES votes behind it is "preliminary".
"""

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, IntegerField, Q, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from .models import Result, Status, Verdict, VerdictKind

MIN_VOTES = 5
BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_MIN_SAMPLES = 50
BOOTSTRAP_DRAWS = 400_000  # comparisons resampled in all: bounds the time on a long history
PRIOR_GAMES = 1.0  # anchor games won and lost by every route
MAX_ITERATIONS = 100
TOLERANCE = 1e-9  # change of a log-strength: 1e-7 Elo points
SEED = 20261122
CONTENT_REFUSAL = "content_policy"


@dataclass(frozen=True)
class Filters:
    date_from: date | None = None
    date_to: date | None = None
    quality: str = ""
    size: str = ""

    def apply(self, comparisons):
        if self.date_from:
            comparisons = comparisons.filter(created_at__date__gte=self.date_from)
        if self.date_to:
            comparisons = comparisons.filter(created_at__date__lte=self.date_to)
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


@dataclass
class Score:
    score: float | None = None
    low: float | None = None
    high: float | None = None
    votes: int = 0


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
    latencies: list = field(default_factory=list)  # sorted ms of succeeded calls
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
    median_ms = property(lambda self: percentile(self.latencies, 50))
    p95_ms = property(lambda self: percentile(self.latencies, 95))
    reported_per_image = property(lambda self: _per_image(self.reported_cost, self.reported_images))
    estimated_per_image = property(lambda self: _per_image(self.estimated_cost, self.estimated_images))

    @property
    def win_rate(self):
        return self.wins / self.judged_votes if self.judged_votes else None

    @property
    def preliminary(self):
        return self.score.votes < MIN_VOTES


def _per_image(cost, images):
    return (cost / images).quantize(Decimal("0.000001")) if cost is not None and images else None


def percentile(values, pct):
    """Linear interpolation between closest ranks of sorted values (numpy's default); None if empty."""
    if not values:
        return None
    position = (len(values) - 1) * pct / 100
    below = math.floor(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


def build(comparisons, filters=Filters()):
    """The leaderboard rows, ranked, for these comparisons (already scoped to a team)."""
    comparisons = filters.apply(comparisons)
    results = Result.objects.filter(comparison__in=comparisons.values("pk"))
    rows = _reliability_and_cost(results)
    _latencies(results, rows)
    _retries(results, rows)
    units = _pairwise_units(comparisons, rows)
    for key, score in bradley_terry_with_band(units, list(rows)).items():
        rows[key].score = score
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


def _reliability_and_cost(results):
    images = Coalesce(Cast(KeyTextTransform("n", "comparison__params"), IntegerField()), 1)  # images asked
    ok = Q(status=Status.SUCCEEDED)
    reported, estimated = ok & Q(cost_source="reported"), ok & Q(cost_source="estimated")
    aggregates = (results.values("route_key").order_by("route_key").annotate(
        entered=Count("comparison", distinct=True),
        succeeded=Count("pk", filter=ok),
        failed=Count("pk", filter=Q(status=Status.FAILED) & ~Q(error_code=CONTENT_REFUSAL)),
        refused=Count("pk", filter=Q(status=Status.FAILED, error_code=CONTENT_REFUSAL)),
        timed_out=Count("pk", filter=Q(status=Status.TIMED_OUT)),
        cancelled=Count("pk", filter=Q(status=Status.CANCELLED)),
        reported_cost=Sum("cost_usd", filter=reported), reported_images=Sum(images, filter=reported),
        estimated_cost=Sum("cost_usd", filter=estimated), estimated_images=Sum(images, filter=estimated),
        unknown_cost_calls=Count("pk", filter=ok & Q(cost_source="unknown")),
    ))
    labels = dict(results.order_by("route_key", "-pk").values_list("route_key", "route_label"))
    rows = {}
    for entry in aggregates:
        key = entry.pop("route_key")
        row = RouteRow(route_key=key, label=labels.get(key, key), **{k: v or 0 for k, v in entry.items()
                                                                     if not k.endswith("_cost")})
        row.reported_cost = _decimal(entry["reported_cost"])
        row.estimated_cost = _decimal(entry["estimated_cost"])
        row.settled = row.succeeded + row.failed + row.refused + row.timed_out
        rows[key] = row
    return rows


def _decimal(value):
    return None if value is None else Decimal(value)


def _latencies(results, rows):
    found = (results.filter(status=Status.SUCCEEDED, latency_ms__isnull=False)
             .order_by("route_key", "latency_ms").values_list("route_key", "latency_ms"))
    for key, latency in found.iterator(chunk_size=5000):
        rows[key].latencies.append(latency)


def _retries(results, rows):
    for key, attempts in results.exclude(attempts=[]).values_list("route_key", "attempts").iterator(chunk_size=2000):
        if attempts:
            rows[key].retries += len(attempts)
            rows[key].retried_calls += 1


def _pairwise_units(comparisons, rows):
    """One unit per judged comparison: the (winner, loser, weight) outcomes of all its verdicts.
    Also counts wins and judged votes (for the win rate) on the rows."""
    verdicts = (Verdict.objects.filter(comparison__in=comparisons.values("pk"))
                .values_list("comparison_id", "kind", "winner__route_key", "winner__status"))
    by_comparison = defaultdict(list)
    for comparison_id, kind, winner, winner_status in verdicts:
        by_comparison[comparison_id].append((kind, winner if winner_status == Status.SUCCEEDED else None))
    produced = defaultdict(set)
    for comparison_id, key in (Result.objects.filter(comparison_id__in=list(by_comparison), status=Status.SUCCEEDED)
                               .values_list("comparison_id", "route_key")):
        produced[comparison_id].add(key)
    units = []
    for comparison_id, votes in by_comparison.items():
        routes = sorted(produced[comparison_id])
        outcomes = []
        for kind, winner in votes:
            for key in routes:
                rows[key].judged_votes += 1
            if kind == VerdictKind.WINNER and winner:
                rows[winner].wins += 1
                outcomes += [(winner, other, 1.0) for other in routes if other != winner]
            elif kind in (VerdictKind.TIE, VerdictKind.ALL_BAD):
                for i, a in enumerate(routes):
                    for b in routes[i + 1:]:
                        outcomes += [(a, b, 0.5), (b, a, 0.5)]
        if outcomes:
            units.append((tuple(outcomes), _votes_per_route(votes, routes)))
    return units


def _votes_per_route(votes, routes):
    """Votes that gave each route a pairwise outcome (it and at least one other produced images)."""
    if len(routes) < 2:
        return {}
    counted = sum(1 for kind, winner in votes if kind != VerdictKind.WINNER or winner)
    return {key: counted for key in routes}


def fit(games, routes, start=None):
    """Bradley-Terry log-strengths θ (the anchor's is 0) maximising the likelihood of games
    {(winner, loser): weight} plus the anchor prior, by Newton-Raphson with step halving (the
    log-likelihood is concave; the prior makes it strictly so). Hunter's MM iteration reaches the
    same optimum but crawls here, as the weak prior alone pins the common scale. {route: θ}."""
    index = {key: i for i, key in enumerate(routes)}
    pairs = defaultdict(lambda: [0.0, 0.0])  # (a, b) with a < b: [a's wins, b's wins]
    for (winner, loser), weight in games.items():
        a, b = sorted((index[winner], index[loser]))
        pairs[(a, b)][0 if a == index[winner] else 1] += weight
    theta = [start[key] for key in routes] if start else [0.0] * len(routes)
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
    return {key: theta[i] for key, i in index.items()}


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


def bradley_terry_with_band(units, routes, samples=None, seed=SEED):
    """{route: Score} from the units of _pairwise_units; band from a bootstrap over comparisons."""
    votes = Counter()
    for _, per_route in units:
        votes.update(per_route)
    scores = {key: Score(votes=votes[key]) for key in routes}
    if not units:
        return scores
    # Comparisons with the same outcomes are one pattern: resample pattern counts, not rows.
    patterns = Counter(outcomes for outcomes, _ in units)
    pattern_list = list(patterns)
    weights = [patterns[p] for p in pattern_list]
    strength = fit(_games((p, c) for p, c in patterns.items()), routes)
    draws = defaultdict(list)
    rng = random.Random(seed)
    for _ in range(samples or bootstrap_samples(len(units))):
        picked = Counter(rng.choices(range(len(pattern_list)), weights=weights, k=len(units)))
        replicate = fit(_games((pattern_list[i], c) for i, c in picked.items()), routes, start=strength)
        for key in routes:
            draws[key].append(elo(replicate[key]))
    for key in (key for key in routes if votes[key]):
        ordered = sorted(draws[key])
        scores[key].score = elo(strength[key])
        scores[key].low, scores[key].high = percentile(ordered, 2.5), percentile(ordered, 97.5)
    return scores
