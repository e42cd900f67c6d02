"""What changed between runs of the same comparison (re-runs): per route, the latency and cost
against the run before, read as signal only outside the range of the earlier runs, and whether the
first image still looks the same (a perceptual hash, compare/imagediff.py). A blind run the user
has not judged yet has no changes page (it names the routes)."""

from django.shortcuts import get_object_or_404, render

from compare import imagediff
from compare.images import ImageRejected
from compare.insights.views import refuse_masked
from compare.models import Comparison, Result, Status
from compare.review.visibility import Visibility

CHAIN_LIMIT = 50


def earlier_runs(comparison, user):
    """The chain of runs this one re-ran, oldest first, ending with it (bounded, visible only)."""
    visible = Comparison.objects.visible_to(user)
    chain, seen, current = [comparison], {comparison.pk}, comparison
    while current.rerun_of_id and current.rerun_of_id not in seen and len(chain) < CHAIN_LIMIT:
        current = visible.filter(pk=current.rerun_of_id).first()
        if current is None:
            break
        chain.append(current)
        seen.add(current.pk)
    return chain[::-1]


def _delta(then, now):
    if then is None or now is None:
        return None
    change = {"abs": now - then}
    change["pct"] = float((now - then) / then * 100) if then else None
    return change


MIN_RUNS = 3  # earlier measurements of a route before a change in its latency or cost is read as real


def _noise(change, earlier, now):
    """Whether a change from the previous run is more than noise: the current value lies outside
    the range of every earlier run's (at least MIN_RUNS of them); else one sample against one
    sample says nothing. Returns (signal, why)."""
    earlier = [value for value in earlier if value is not None]
    if change is None or now is None:
        return False, ""
    if len(earlier) < MIN_RUNS:
        return False, f"noise? {len(earlier)} earlier run{'s' if len(earlier) != 1 else ''}, {MIN_RUNS} needed"
    if min(earlier) <= now <= max(earlier):
        return False, f"within the range of {len(earlier)} earlier runs"
    return True, f"outside the range of {len(earlier)} earlier runs"


def _first_image(result):
    images = list(result.images.all()) if result is not None and result.status == Status.SUCCEEDED else []
    return images[0] if images else None


def _image_change(then, now):
    """The first images of two runs of a route, and how far apart they look: the perceptual
    hash's Hamming distance (compare/imagediff.py, of 64 bits) read in words."""
    a, b = _first_image(then), _first_image(now)
    if a is None or b is None:
        return None
    try:
        hashes = []
        for image in (a, b):
            with image.thumbnail.open("rb") as handle:
                hashes.append(imagediff.phash(imagediff.open_image(handle.read(), fit=256)))
    except (OSError, ValueError, ImageRejected):
        return {"then": a, "now": b, "distance": None, "reading": "could not be read"}
    distance = imagediff.hamming(*hashes)
    reading = ("the same picture" if distance <= 6 else "similar layout" if distance <= 16 else "a different picture")
    return {"then": a, "now": b, "distance": distance, "reading": reading, "changed": distance > 16}


def show_changes(request, pk):
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user), pk=pk)
    if Visibility.for_member(comparison, request.user).masked:
        return refuse_masked(request, comparison, "what changed")
    chain = earlier_runs(comparison, request.user)
    # Earlier blind runs not judged yet.
    masked = {run.pk for run in chain if Visibility.for_member(run, request.user).masked}
    by_run = {}
    for result in Result.objects.filter(comparison__in=[c.pk for c in chain if c.pk not in masked]).order_by(
            "position", "id").prefetch_related("images"):
        by_run.setdefault(result.comparison_id, {}).setdefault(result.route_key, result)
    routes = []
    for run in reversed(chain):  # the current run's routes first, in its order
        routes += [key for key in by_run.get(run.pk, {}) if key not in routes]
    previous = chain[-2] if len(chain) > 1 else None
    changes = []
    for key in routes:
        then = by_run.get(previous.pk, {}).get(key) if previous else None
        now = by_run.get(comparison.pk, {}).get(key)
        history = [by_run.get(run.pk, {}).get(key) for run in chain]
        before = history[:-1] if now is not None and history and history[-1] is now else history
        latency = _delta(then and then.latency_ms, now and now.latency_ms)
        cost = _delta(then and then.cost_usd, now and now.cost_usd)
        latency_signal, latency_why = _noise(latency, [r.latency_ms for r in before if r and r.status == Status.SUCCEEDED],
                                             now and now.latency_ms)
        cost_signal, cost_why = _noise(cost, [r.cost_usd for r in before if r], now and now.cost_usd)
        changes.append({
            "image": _image_change(then, now),
            "latency_signal": latency_signal, "latency_why": latency_why,
            "cost_signal": cost_signal, "cost_why": cost_why,
            "route": key, "then": then, "now": now, "history": history,
            "latency": latency, "cost": cost,
            "latencies": [r.latency_ms if r and r.status == Status.SUCCEEDED else None for r in history],
            "successes": sum(1 for r in history if r and r.status == Status.SUCCEEDED),
            "runs": sum(1 for r in history if r),
        })
    grid = [{"run": run, "masked": run.pk in masked, "cells": [by_run.get(run.pk, {}).get(key) for key in routes]}
            for run in reversed(chain)]
    context = {"comparison": comparison, "chain": chain, "previous": previous, "changes": changes, "grid": grid,
               "previous_masked": previous is not None and previous.pk in masked, "min_runs": MIN_RUNS,
               "later": Comparison.objects.visible_to(request.user).filter(rerun_of=comparison).order_by("created_at")}
    return render(request, "insights/changes.html", context)
