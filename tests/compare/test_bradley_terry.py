"""The Bradley-Terry fit and its bootstrap band (compare/insights/bradley_terry.py), in plain Python: no
database, no Django. The fixture worked out by hand lives in test_leaderboard.py."""

import bisect
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from compare.insights import bradley_terry


def per_vote_fit(units, routes):
    """The fit as it was first written: every pairwise outcome of every vote added up one by one."""
    return bradley_terry.fit(bradley_terry.games_of((outcomes, 1) for outcomes, _ in units), routes)


def synthetic_units(seed=3, comparisons=400):
    rng = random.Random(seed)
    routes = [f"r{i}" for i in range(6)]
    units = []
    for _ in range(comparisons):
        present = tuple(sorted(rng.sample(routes, rng.randint(2, 5))))
        if rng.random() < 0.8:
            winner = min(present, key=lambda key: rng.random() * (1 + routes.index(key)))
            outcomes = bradley_terry.winner_outcomes(present, winner)
        else:
            outcomes = bradley_terry.tie_outcomes(present)
        units.append((outcomes, {key: 1 for key in present}))
    return units, routes


def test_the_module_imports_no_django():
    code = "import sys, compare.insights.bradley_terry; sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], env={}, cwd=Path(__file__).parents[2]).returncode == 0


def test_a_winner_beats_every_other_route_and_a_tie_is_half_a_win_each_way():
    assert bradley_terry.winner_outcomes(("a", "b", "c"), "b") == (("b", "a", 1.0), ("b", "c", 1.0))
    assert bradley_terry.tie_outcomes(("a", "b")) == (("a", "b", 0.5), ("b", "a", 0.5))


def test_equal_records_give_equal_scores_at_the_anchor():
    theta = bradley_terry.fit({("a", "b"): 3.0, ("b", "a"): 3.0}, ["a", "b"])
    assert theta["a"] == pytest.approx(0, abs=1e-9) and theta["b"] == pytest.approx(0, abs=1e-9)
    assert bradley_terry.elo(theta["a"]) == pytest.approx(1000)


def test_an_undefeated_route_stays_finite_thanks_to_the_anchor():
    theta = bradley_terry.fit({("a", "b"): 10.0}, ["a", "b"])
    assert 0 < theta["a"] < 5 and theta["b"] == pytest.approx(-theta["a"])


def test_400_elo_points_are_ten_to_one_odds():
    assert bradley_terry.elo(math.log(10)) - bradley_terry.elo(0) == pytest.approx(400)


def test_percentile_interpolates_between_closest_ranks():
    assert bradley_terry.percentile([], 50) is None
    assert bradley_terry.percentile([1, 2, 3, 4], 50) == 2.5
    assert bradley_terry.percentile([10, 20], 95) == pytest.approx(19.5)
    assert bradley_terry.percentile([7], 95) == 7


def test_the_aggregated_fit_gives_the_per_vote_scores():
    units, routes = synthetic_units()
    scores = bradley_terry.bradley_terry_with_band(units, routes, samples=60)
    expected = per_vote_fit(units, routes)
    for key in routes:
        assert scores[key].score == pytest.approx(bradley_terry.elo(expected[key]), abs=1e-6)
        assert scores[key].low <= scores[key].score <= scores[key].high
        assert scores[key].votes == sum(1 for _, per_route in units if key in per_route)
    assert scores["r0"].score > scores["r5"].score  # r0 wins most often by construction


def test_routes_without_votes_get_no_score():
    units = [(bradley_terry.winner_outcomes(("a", "b"), "a"), {"a": 1, "b": 1})]
    scores = bradley_terry.bradley_terry_with_band(units, ["a", "b", "c"], samples=10)
    assert scores["c"].score is None and scores["c"].votes == 0
    assert scores["a"].score > scores["b"].score and scores["a"].samples == 10


def test_the_band_is_reproducible_and_narrows_with_more_votes():
    units, routes = synthetic_units(comparisons=200)
    first = bradley_terry.bradley_terry_with_band(units, routes, samples=80)
    again = bradley_terry.bradley_terry_with_band(units, routes, samples=80)
    assert [(first[k].low, first[k].high) for k in routes] == [(again[k].low, again[k].high) for k in routes]
    many, _ = synthetic_units(comparisons=3200)
    wide = first["r0"].high - first["r0"].low
    narrow = bradley_terry.bradley_terry_with_band(many, routes, samples=80)["r0"]
    assert narrow.high - narrow.low < wide / 2  # 16x the votes: about a quarter of the width


def test_the_bootstrap_is_bounded_on_a_long_history():
    assert bradley_terry.bootstrap_samples(100) == bradley_terry.BOOTSTRAP_SAMPLES
    assert bradley_terry.bootstrap_samples(1_000_000) == bradley_terry.BOOTSTRAP_MIN_SAMPLES


def test_poisson_counts_have_the_right_mean():
    table = bradley_terry.poisson_table(1)
    rng = random.Random(1)
    draws = [bisect.bisect_right(table, rng.random()) for _ in range(20000)]
    assert sum(draws) / len(draws) == pytest.approx(1, abs=0.03)
    assert draws.count(0) / len(draws) == pytest.approx(math.exp(-1), abs=0.01)
