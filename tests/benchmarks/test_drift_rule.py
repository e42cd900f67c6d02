"""The drift rule (compare/benchmarks/drift.py) on synthetic series: it fires on a real shift, stays quiet on
noise, needs its minimum runs, and does not flap (hysteresis)."""

import random

from compare.benchmarks import drift


def runs(rng, count, centre, spread=0.15, calls=4):
    """`count` runs of `calls` latencies around `centre` ms (log-normal-ish noise)."""
    return [[centre * rng.lognormvariate(0, spread) for _ in range(calls)] for _ in range(count)]


def test_mann_whitney_matches_known_values():
    # Fully separated samples of 10 and 10: exact one-sided p = 1/C(20,10) ≈ 5.4e-6; the normal
    # approximation with continuity correction gives about 9e-5: tiny either way.
    assert drift.mann_whitney(list(range(10, 20)), list(range(10)), "greater") < 1e-3
    assert drift.mann_whitney(list(range(10)), list(range(10, 20)), "greater") > 0.999
    # Identical samples (every value tied): no evidence at all.
    assert drift.mann_whitney([1.0] * 8, [1.0] * 8) == 1.0
    # Interleaved samples: no shift.
    assert drift.mann_whitney([1, 3, 5, 7, 9], [2, 4, 6, 8, 10]) > 0.5


def test_a_real_latency_shift_fires():
    rng = random.Random(1)
    verdict = drift.judge("latency_ms", runs(rng, 10, 1000), runs(rng, 3, 1600), is_open=False)
    assert verdict.enough and verdict.firing
    assert verdict.p_value < drift.OPEN_P and verdict.change > 0.4


def test_noise_stays_quiet_over_many_seeded_trials():
    fired = 0
    for seed in range(200):
        rng = random.Random(seed)
        fired += drift.judge("latency_ms", runs(rng, 10, 1000), runs(rng, 3, 1000), is_open=False).firing
    assert fired <= 4  # p < 0.01 and a 20% effect: about none in 200 trials of pure noise


def test_a_small_significant_shift_under_the_minimum_effect_stays_quiet():
    rng = random.Random(2)
    verdict = drift.judge("latency_ms", runs(rng, 10, 1000, spread=0.01), runs(rng, 3, 1080, spread=0.01), False)
    assert verdict.p_value < drift.OPEN_P and not verdict.firing  # 8% slower: real, but under 20%


def test_nothing_fires_before_the_minimum_runs():
    rng = random.Random(3)
    few = drift.judge("latency_ms", runs(rng, drift.MIN_BASELINE_RUNS - 1, 1000, calls=20),
                      runs(rng, 3, 3000, calls=20), is_open=False)
    assert not few.enough and not few.firing
    short = drift.judge("latency_ms", runs(rng, 10, 1000), runs(rng, drift.RECENT_RUNS - 1, 3000), is_open=False)
    assert not short.enough and not short.firing
    # Runs where the route returned nothing (every call failed) do not count towards latency's minimum.
    empty = drift.judge("latency_ms", [[]] * 10, runs(rng, 3, 3000), is_open=False)
    assert not empty.enough


def test_success_rate_down_fires_and_up_does_not():
    ok, bad = [[1.0] * 4] * 10, [[0.0, 0.0, 1.0, 0.0]] * 3
    assert drift.judge("success_rate", ok, bad, is_open=False).firing
    assert not drift.judge("success_rate", bad * 4, ok[:3], is_open=False).firing  # better is no alert


def test_cost_change_fires_in_either_direction():
    base = [[0.04, 0.04]] * 8
    assert drift.judge("cost_per_image", base, [[0.05, 0.05]] * 3, False).firing
    assert drift.judge("cost_per_image", base, [[0.03, 0.03]] * 3, False).firing
    assert not drift.judge("cost_per_image", base, [[0.04, 0.04]] * 3, False).firing


def test_an_open_alert_stays_open_near_the_threshold_and_closes_once_back():
    """Hysteresis: a route hovering around the opening threshold opens once and does not close
    and reopen every run; back at its baseline, it closes."""
    rng = random.Random(4)
    baseline = runs(rng, 12, 1000, spread=0.05)
    is_open, opened, closed = False, 0, 0
    shifts = [1.6, 1.6, 1.17, 1.25, 1.15, 1.22, 1.16, 1.0, 1.0]
    states = []
    for shift in shifts:
        verdict = drift.judge("latency_ms", baseline, runs(rng, 3, 1000 * shift, spread=0.05), is_open)
        opened += verdict.firing and not is_open
        closed += is_open and not verdict.firing
        is_open = verdict.firing
        states.append(is_open)
    assert states[:7] == [True] * 7  # opened at 1.6×, kept open while 15-25% slower
    assert states[-1] is False
    assert opened == 1 and closed == 1
    # The same hovering series judged without memory would flip: that is what hysteresis prevents.
    rng = random.Random(5)
    without = [drift.judge("latency_ms", baseline, runs(rng, 3, 1000 * s, spread=0.05), False).firing
               for s in (1.25, 1.15, 1.22, 1.16)]
    assert without.count(True) >= 1 and without.count(False) >= 1


def test_text_accuracy_down_and_check_failures_up_fire():
    good = [[1.0, 0.95, 1.0, 0.9]] * 8
    assert drift.judge("text_accuracy", good, [[0.5, 0.6, 0.4, 0.55]] * 3, False).firing
    assert not drift.judge("text_accuracy", good, [[1.0, 0.95, 0.9, 1.0]] * 3, False).firing
    clean = [[0.0] * 4] * 8
    assert drift.judge("check_failures", clean, [[1.0, 1.0, 0.0, 1.0]] * 3, False).firing
    assert not drift.judge("check_failures", [[1.0, 0.0, 1.0, 1.0]] * 8, [[0.0] * 4] * 3, False).firing


def test_the_image_signature_opens_on_a_change_after_stable_runs_and_not_for_a_restless_route():
    a, b, c = 0, (1 << 64) - 1, 0xAAAAAAAAAAAAAAAA  # three unrelated 64-bit hashes
    near_a = a | 0b111  # 3 bits apart: the same picture re-encoded
    # Stable (a, a) then changed (b): opens.
    assert drift.signature_change({1: a, 2: a}, {1: near_a, 2: a}, {1: b, 2: b}, False).firing
    # Unchanged: quiet.
    assert not drift.signature_change({1: a}, {1: a}, {1: near_a}, False).firing
    # A route whose pictures differ every run (the seed is not honoured): never opens.
    assert not drift.signature_change({1: a}, {1: b}, {1: c}, False).firing
    # Open: stays open while it keeps changing, closes once the new picture is stable.
    assert drift.signature_change({1: a}, {1: b}, {1: c}, True).firing
    assert not drift.signature_change({1: a}, {1: b}, {1: b}, True).firing
    # Too few runs to judge.
    assert not drift.signature_change({}, {1: a}, {1: b}, False).enough
