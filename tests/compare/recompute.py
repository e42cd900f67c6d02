"""Recomputations from the rows, in plain Python, that the leaderboard and its rollups must match
(tests/insights/test_leaderboard.py, and test_history_scale.py in processes of their own)."""

import statistics
from decimal import Decimal

import pytest

from compare.insights import leaderboard, models as rollups
from compare.insights.models import JudgedComparison, RouteDay
from compare.models import Comparison, Result


def cells_of(team):
    """(stored, fresh): the team's rollup cells as kept, and as recomputed from every row."""
    stored = {}
    for cell in RouteDay.objects.filter(team=team):
        key = (cell.team_id, cell.route_key, cell.day, cell.quality, cell.size)
        values = {name: getattr(cell, name) for name in rollups.SUM_FIELDS}
        if any(values.values()):
            stored[key] = (values, sorted(rollups.unpack(cell.latencies)))
    fresh = {key: ({name: getattr(s, name) for name in rollups.SUM_FIELDS}, sorted(s.latencies))
             for key, s in rollups.recompute(team).items()}
    return stored, fresh


def judged_of(team):
    """(stored, fresh): the team's judged comparisons as kept, and as recomputed from the verdicts."""
    stored = dict(JudgedComparison.objects.filter(team=team).values_list("comparison_id", "pattern"))
    fresh = {}
    for c in Comparison.objects.filter(team=team).prefetch_related("verdicts", "results"):
        votes = [(v.kind, v.winner_id) for v in c.verdicts.all()]
        if votes:
            fresh[c.pk] = rollups.pattern_of(votes, {r.pk: r.route_key for r in c.results.all()
                                                     if r.status == "succeeded"})
    return stored, fresh


def reference(team):
    """Per route, from every row read into Python: what compare/insights/leaderboard.py must report."""
    out = {}
    for r in Result.objects.filter(comparison__team=team).select_related("comparison"):
        row = out.setdefault(r.route_key, {"comparisons": set(), "succeeded": 0, "settled": 0, "latencies": [],
                                            "estimated_cost": Decimal(0), "estimated_images": 0, "retries": 0,
                                            "retried_calls": 0, "refused": 0})
        row["comparisons"].add(r.comparison_id)
        if r.status in ("succeeded", "failed", "timed_out"):
            row["settled"] += 1
        if r.status == "failed" and r.error_code == "content_policy":
            row["refused"] += 1
        if r.status == "succeeded":
            row["succeeded"] += 1
            if r.latency_ms is not None:
                row["latencies"].append(r.latency_ms)
            if r.cost_source in ("estimated", "team_price"):  # our price: the catalog's or the team's
                row["estimated_cost"] += r.cost_usd
                row["estimated_images"] += int(r.comparison.params.get("n") or 1)
        if r.attempts:
            row["retries"] += len(r.attempts)
            row["retried_calls"] += 1
    return out


def check_against_reference(team):
    """Raises AssertionError where the leaderboard and the recomputation differ; returns a summary."""
    rows = {row.route_key: row for row in leaderboard.build(team)}
    expected = reference(team)
    assert set(rows) == set(expected)
    for key, want in expected.items():
        row = rows[key]
        assert row.entered == len(want["comparisons"]), key
        assert (row.succeeded, row.settled, row.refused) == (want["succeeded"], want["settled"], want["refused"]), key
        assert (row.retries, row.retried_calls) == (want["retries"], want["retried_calls"]), key
        ordered = sorted(want["latencies"])
        assert row.latency_count == len(ordered), key
        if ordered:
            assert row.median_ms == pytest.approx(statistics.median(ordered)), key
            if len(ordered) >= 2:
                assert row.p95_ms == pytest.approx(statistics.quantiles(ordered, n=20, method="inclusive")[-1]), key
        if want["estimated_images"]:
            assert row.estimated_per_image == (want["estimated_cost"] / want["estimated_images"]).quantize(
                Decimal("0.000001")), key
    scored = [row for row in rows.values() if row.score.score is not None]
    assert all(row.score.low <= row.score.score <= row.score.high for row in scored)
    return {"routes": len(rows), "scored": len(scored)}


def add_retries_and_refusals(team):
    """Retries on every 7th of the team's first 40 results, content refusals on every 11th from the
    4th, then the rollups rebuilt."""
    results = list(Result.objects.filter(comparison__team=team).order_by("id")[:40])
    for r in results[::7]:
        Result.objects.filter(pk=r.pk).update(attempts=[{"attempt": 1, "status": 429}, {"attempt": 2, "status": 503}])
    for r in results[3::11]:
        Result.objects.filter(pk=r.pk).update(status="failed", error_code="content_policy", latency_ms=None,
                                              cost_usd=None, cost_source="unknown")
    rollups.rebuild(team)  # rows changed behind the fold's back (no code path does this): counted again
