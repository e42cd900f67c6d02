"""The drift rule of continuous benchmarks (docs/benchmarks.md), in plain Python: a Mann-Whitney
U test (normal approximation with tie and continuity corrections) of a route's latest runs
against its own trailing baseline, a minimum effect, a minimum number of runs, and hysteresis
(an alert opens on a strict condition and closes only once a looser one no longer holds)."""

import math
import statistics
from dataclasses import dataclass

MIN_BASELINE_RUNS = 5  # runs in the baseline before anything may fire
RECENT_RUNS = 3  # the latest runs that form the window judged against the baseline
OPEN_P = 0.01  # an alert opens below this p-value ...
CLOSE_P = 0.10  # ... and stays open while the p-value stays below this one


@dataclass(frozen=True)
class Rule:
    metric: str
    direction: str  # "up", "down" or "either": the change that is bad
    open_effect: float  # the smallest change that opens an alert ...
    close_effect: float  # ... and the change under which an open alert closes
    relative: bool  # effects as a fraction of the baseline (else in the metric's own units)
    what: str


RULES = {
    "latency_ms": Rule("latency_ms", "up", 0.20, 0.10, True, "median latency"),
    "success_rate": Rule("success_rate", "down", 0.10, 0.05, False, "success rate"),
    "cost_per_image": Rule("cost_per_image", "either", 0.10, 0.05, True, "cost per image"),
    "text_accuracy": Rule("text_accuracy", "down", 0.10, 0.05, False, "text accuracy"),
    "check_failures": Rule("check_failures", "up", 0.10, 0.05, False, "image check failure rate"),
}
MEANS = {"success_rate", "text_accuracy", "check_failures"}  # rates and bounded scores: their mean


@dataclass(frozen=True)
class Judgement:
    metric: str
    firing: bool  # whether the alert should be open after this run
    enough: bool  # False: too few runs to judge (nothing opens; an open alert stays as it is)
    baseline: float | None = None  # the baseline's median (or mean, for a rate)
    current: float | None = None  # the same over the recent runs
    p_value: float | None = None
    change: float | None = None  # current - baseline, relative to baseline for relative rules


def _normal_sf(z):
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney(x, y, alternative="two-sided"):
    """p-value of the Mann-Whitney U test that x comes from a distribution shifted against y's
    ("greater": x tends to be larger; "less": smaller). Normal approximation with the tie and
    continuity corrections; 1.0 when either sample is empty or every value ties."""
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        return 1.0
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks, ties, i = [0.0] * len(pooled), 0.0, 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(rank for rank, (_, group) in zip(ranks, pooled) if group == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    mean, sd = n1 * n2 / 2, math.sqrt(variance)
    if alternative == "greater":
        return _normal_sf((u1 - mean - 0.5) / sd)
    if alternative == "less":
        return _normal_sf((mean - u1 - 0.5) / sd)
    return min(1.0, 2 * _normal_sf((abs(u1 - mean) - 0.5) / sd))


def _centre(metric, values):
    return statistics.fmean(values) if metric in MEANS else statistics.median(values)


def judge(metric, baseline_runs, recent_runs, is_open):
    """Whether `metric`'s alert should be open after the latest run. baseline_runs and
    recent_runs are lists of runs, each a list of per-call values (latency of each successful
    call, 1/0 per call for success, cost per image of each priced call, the OCR text accuracy of
    each scored call, 1/0 per checked call for a failed image check)."""
    rule = RULES[metric]
    baseline = [v for run in baseline_runs for v in run]
    recent = [v for run in recent_runs for v in run]
    if (sum(1 for run in baseline_runs if run) < MIN_BASELINE_RUNS
            or sum(1 for run in recent_runs if run) < RECENT_RUNS):
        return Judgement(metric, is_open, False)
    before, now = _centre(metric, baseline), _centre(metric, recent)
    change = now - before
    if rule.relative:
        change = change / before if before else (0.0 if now == before else math.inf)
    alternative = {"up": "greater", "down": "less", "either": "two-sided"}[rule.direction]
    p = mann_whitney(recent, baseline, alternative)
    bad = {"up": change, "down": -change, "either": abs(change)}[rule.direction]
    if is_open:
        firing = p < CLOSE_P and bad >= rule.close_effect
    else:
        firing = p < OPEN_P and bad >= rule.open_effect
    return Judgement(metric, firing, True, before, now, p, change)


# --- The image signature of seeded routes --------------------------------------------------------

SIGNATURE_BITS = 10  # pHash bits (of 64) that may differ for "the same picture" (re-encoding, resizing)


def signature_change(before_last, last, current, is_open):
    """Judgement of "image_signature" for a seeded route: each argument is {prompt position:
    pHash} of one run (oldest first). It opens when, for at least half the positions seen in all
    three runs, the two runs before agreed (a stable picture) and the current one differs from
    them; an open alert closes once the current run agrees with the last one (a stable picture
    again). A route whose pictures differ run after run never opens it."""
    def same(a, b):
        return (a ^ b).bit_count() <= SIGNATURE_BITS

    if is_open:
        shared = [p for p in current if p in last]
        if not shared:
            return Judgement("image_signature", True, False)
        changed = sum(not same(current[p], last[p]) for p in shared) / len(shared)
        return Judgement("image_signature", changed >= 0.5, True, 0.0, changed, None, changed)
    shared = [p for p in current if p in last and p in before_last]
    if not shared:
        return Judgement("image_signature", False, False)
    stable = [p for p in shared if same(last[p], before_last[p])]
    changed = sum(not same(current[p], last[p]) for p in stable) / len(shared)
    return Judgement("image_signature", len(stable) * 2 >= len(shared) and changed >= 0.5, True, 0.0, changed,
                     None, changed)
