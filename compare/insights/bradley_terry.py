"""Bradley-Terry scores with a bootstrap band, in plain Python (no Django): the leaderboard's
score column (compare/insights/leaderboard.py turns the team's verdicts into the outcomes fitted here).

Every verdict implies pairwise outcomes among the routes that produced images in that comparison
(a route without an image is judged by reliability, not quality): "winner" = the winning route beat
each other one (winner_outcomes); "tie" and "all bad" = a tie between every pair, entered as half a
win each way (tie_outcomes). Strengths are fitted against a fixed anchor player of strength 1 that
every route met once won, once lost (a small prior: it keeps undefeated routes finite, makes the
fit converge, and pins the scale), fitted by Newton-Raphson (see fit), and shown on the Elo scale:
1000 + 400·log10(strength), so +400 points is 10:1 odds. The fit works on win counts per route pair
(a routes x routes matrix aggregated from the votes once), so an iteration costs O(routes²), not
O(votes). The band is the 2.5-97.5 percentile of a bootstrap over comparisons (all votes of a
comparison resampled together), done on the aggregated counts: comparisons with the same outcomes
form one pattern, and a replicate draws how often each comparison enters (Poisson(1) each, the
Poisson bootstrap, so a pattern of m comparisons enters Poisson(m) times) instead of drawing every
comparison: BOOTSTRAP_SAMPLES replicates (fewer on a long history, never under
BOOTSTRAP_MIN_SAMPLES), fixed seed, so the page is stable.
"""

import bisect
import functools
import math
import operator
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass

BOOTSTRAP_SAMPLES = 200
BOOTSTRAP_MIN_SAMPLES = 50
BOOTSTRAP_DRAWS = 400_000  # comparisons resampled in all: bounds the time on a long history
PRIOR_GAMES = 1.0  # anchor games won and lost by every route
MAX_ITERATIONS = 100
TOLERANCE = 1e-9  # change of a log-strength: 1e-7 Elo points
SEED = 20261122


@dataclass
class Score:
    score: float | None = None
    low: float | None = None
    high: float | None = None
    votes: int = 0
    samples: int = 0  # bootstrap replicates behind the band


def closest_ranks(count, pct):
    """0-based closest ranks and the fraction between them, as percentile() uses them."""
    position = (count - 1) * pct / 100
    below = math.floor(position)
    return below, min(below + 1, count - 1), position - below


def percentile(values, pct):
    """Linear interpolation between closest ranks of sorted values (numpy's default); None if empty."""
    if not values:
        return None
    below, above, fraction = closest_ranks(len(values), pct)
    return values[below] + (values[above] - values[below]) * fraction


@functools.lru_cache(maxsize=65536)
def winner_outcomes(routes, winner):
    """The winner beat each other route that produced images."""
    return tuple((winner, other, 1.0) for other in routes if other != winner)


@functools.lru_cache(maxsize=65536)
def tie_outcomes(routes):
    """Half a win each way between every pair."""
    return tuple(o for i, a in enumerate(routes) for b in routes[i + 1:] for o in ((a, b, 0.5), (b, a, 0.5)))


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


def games_of(weighted_units):
    """{(winner, loser): weight} summed over (outcomes, times) pairs."""
    games = Counter()
    for outcomes, times in weighted_units:
        for winner, loser, weight in outcomes:
            games[(winner, loser)] += weight * times
    return games


def bootstrap_samples(judged):
    """200 resamples, fewer (never under 50) when thousands of comparisons are judged: the work
    stays bounded, and with that many votes the band is narrow anyway."""
    return max(BOOTSTRAP_MIN_SAMPLES, min(BOOTSTRAP_SAMPLES, BOOTSTRAP_DRAWS // max(judged, 1)))


def poisson_table(mean):
    """Cumulative Poisson(mean) probabilities, up to where the tail is below 1e-12."""
    table, term, total, k = [], math.exp(-mean), 0.0, 0
    while True:
        total += term
        table.append(total)
        k += 1
        term *= mean / k
        if k > mean and 1 - total < 1e-12:
            return table


_DRAWN = {}
_DRAWN_LOCK = threading.Lock()


def _poisson_draws(seed, mean, length):
    """The first `length` values of a fixed sequence of independent Poisson(mean) draws (its own
    seeded generator per seed and mean), kept by the process and extended when a longer one is
    asked for: a replicate takes its counts as slices, each value used once per fit, instead of
    drawing them one by one at every request (the same draws, made once)."""
    with _DRAWN_LOCK:
        rng, values = _DRAWN.setdefault((seed, mean), (random.Random(f"{seed}:{mean}"), []))
        if len(values) < length:
            table, uniform, find = poisson_table(mean), rng.random, bisect.bisect_right
            values.extend(find(table, uniform()) for _ in range(length - len(values)))
        return values[:length]


def bradley_terry_with_band(units, routes, samples=None, seed=SEED):
    """{route: Score} from units [(outcomes, {route: votes})]; band from a bootstrap over comparisons."""
    votes = Counter()
    for _, per_route in units:
        votes.update(per_route)
    scores = {key: Score(votes=votes[key]) for key in routes}
    if not units:
        return scores
    index = {key: i for i, key in enumerate(routes)}
    # Comparisons with the same outcomes are one pattern; each pattern is its few pair counts.
    patterns = Counter(outcomes for outcomes, _ in units)
    # In order of multiplicity (stable: first seen first within one), so that the patterns of one
    # multiplicity m take their Poisson(m) counts as one slice of a drawn sequence (_poisson_draws).
    ordered_patterns = sorted(patterns.items(), key=operator.itemgetter(1))
    slots, multiplicity = {}, []
    by_position = defaultdict(lambda: defaultdict(list))  # flat pair position -> weight -> pattern indices
    for number, (outcomes, times) in enumerate(ordered_patterns):
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
    groups = Counter(multiplicity)  # multiplicity -> patterns, in ascending order as the patterns are
    samples = samples or bootstrap_samples(len(units))
    sequences = {m: _poisson_draws(seed, m, samples * count) for m, count in groups.items()}
    for r in range(samples):
        counts = []  # Poisson(m) per pattern of m comparisons: how often it enters this replicate
        for m, count in groups.items():
            counts += sequences[m][r * count:(r + 1) * count]
        replicate = fit_pairs(pairs_from(counts), len(routes), start=strength)
        for key, i in index.items():
            draws[key].append(elo(replicate[i]))
    for key in (key for key in routes if votes[key]):
        ordered = sorted(draws[key])
        scores[key].score = elo(strength[index[key]])
        scores[key].low, scores[key].high = percentile(ordered, 2.5), percentile(ordered, 97.5)
        scores[key].samples = samples
    return scores
