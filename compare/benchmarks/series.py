"""A benchmark's figures: per call, per route and run (samples), summed up (summarise) over one
run, a window of 24 h / 7 d / 30 d, or one chart point of it (series). The drift alerts
(compare/benchmarks/alerts.py) judge the same samples."""

import statistics
from datetime import timedelta

from django.utils import timezone

from compare.benchmarks.models import BenchmarkRun
from compare.insights.bradley_terry import percentile
from compare.models import TERMINAL, Result, Status

WINDOWS = {"24h": (timedelta(hours=24), timedelta(hours=1)), "7d": (timedelta(days=7), timedelta(hours=6)),
           "30d": (timedelta(days=30), timedelta(days=1))}  # window: (length, one chart point)


def results_by_run(benchmark, since=None, runs=None):
    """{run id: {route: [Result]}} of its runs' batches (runs that started, not refused)."""
    queryset = Result.objects.filter(comparison__batch_item__batch__in=BenchmarkRun.objects.filter(
        benchmark=benchmark, **({"started_at__gte": since} if since else {}),
        **({"pk__in": runs} if runs is not None else {})).values("batch"))
    run_of = dict(BenchmarkRun.objects.filter(benchmark=benchmark, batch__isnull=False).values_list("batch", "pk"))
    found = {}
    for result in queryset.values("route_key", "status", "latency_ms", "cost_usd", "cost_source",
                                  "comparison__batch_item__batch", "comparison__params", *CHECK_FIELDS):
        run = run_of.get(result["comparison__batch_item__batch"])
        found.setdefault(run, {}).setdefault(result["route_key"], []).append(result)
    return found


CHECK_FIELDS = ("image_checks__status", "image_checks__text_accuracy", "image_checks__blank",
                "image_checks__size_matches", "image_checks__aspect_matches", "image_checks__format_matches")


def check_failed(result):
    """A checked image that is blank or near-uniform, or not the size, aspect ratio or format
    asked for (compare/checks/checks.py); None when its checks did not run (pending, missing, failed)."""
    if result["image_checks__status"] != "done":
        return None
    return bool(result["image_checks__blank"] is True or False in (
        result["image_checks__size_matches"], result["image_checks__aspect_matches"],
        result["image_checks__format_matches"]))


def _images(result):
    return max(int((result["comparison__params"] or {}).get("n") or 1), 1)


def samples(results):
    """Per-call values of one route in one run, by metric."""
    ended = [r for r in results if r["status"] in TERMINAL and r["status"] != Status.CANCELLED]
    priced = [r for r in ended if r["status"] == Status.SUCCEEDED and r["cost_usd"] is not None]
    return {
        "latency_ms": [r["latency_ms"] for r in ended if r["status"] == Status.SUCCEEDED
                       and r["latency_ms"] is not None],
        "success_rate": [1.0 if r["status"] == Status.SUCCEEDED else 0.0 for r in ended],
        "cost_per_image": [float(r["cost_usd"]) / _images(r) for r in priced],
        "cost_sources": {r["cost_source"] for r in priced},
        # The automatic checks (docs/checks.md): only calls whose checks ran; text only where the
        # prompt quoted text to draw.
        "text_accuracy": [r["image_checks__text_accuracy"] for r in ended
                          if r["image_checks__status"] == "done" and r["image_checks__text_accuracy"] is not None],
        "check_failures": [1.0 if failed else 0.0 for failed in map(check_failed, ended) if failed is not None],
    }


def summarise(values_by_metric, runs):
    latencies = sorted(values_by_metric["latency_ms"])
    outcomes, costs = values_by_metric["success_rate"], values_by_metric["cost_per_image"]
    sources = set(values_by_metric["cost_sources"])
    texts, checked = values_by_metric["text_accuracy"], values_by_metric["check_failures"]
    return {
        "runs": runs, "calls": len(outcomes),
        "median_ms": None if not latencies else round(statistics.median(latencies), 1),
        "p95_ms": None if not latencies else round(percentile(latencies, 95), 1),
        "success_rate": None if not outcomes else round(statistics.fmean(outcomes), 4),
        "cost_per_image_usd": None if not costs else round(statistics.fmean(costs), 6),
        # the results' cost_source (CostSource: "billed", "usage", "team_price", "estimated") or "mixed"
        "cost_source": None if not sources else (sources.pop() if len(sources) == 1 else "mixed"),
        "text_accuracy": None if not texts else round(statistics.fmean(texts), 4),
        "text_scored": len(texts),  # calls whose quoted text was read back
        "check_failure_rate": None if not checked else round(statistics.fmean(checked), 4),
        "checked": len(checked),  # calls whose image checks ran
    }


def _merge(parts):
    keys = ("latency_ms", "success_rate", "cost_per_image", "text_accuracy", "check_failures")
    merged = {**{key: [] for key in keys}, "cost_sources": set()}
    for part in parts:
        for key in keys:
            merged[key] += part[key]
        merged["cost_sources"] |= part["cost_sources"]
    return merged


def series(benchmark, now=None):
    """{window: {route: {"summary": {...}, "points": [{"at", **summary}]}}}: the window's figures
    over every call of its runs, and one chart point per bucket with the runs behind it."""
    now = now or timezone.now()
    longest = max(length for length, _ in WINDOWS.values())
    by_run = results_by_run(benchmark, since=now - longest)
    started = dict(BenchmarkRun.objects.filter(benchmark=benchmark, pk__in=[r for r in by_run if r])
                   .values_list("pk", "started_at"))
    per_run = {run: {route: samples(rows) for route, rows in routes.items()} for run, routes in by_run.items()
               if run in started}
    out = {}
    for window, (length, step) in WINDOWS.items():
        since = now - length
        routes = {}
        for route in benchmark.routes:
            chosen = [(started[run], values[route]) for run, values in per_run.items()
                      if started[run] >= since and route in values]
            buckets = {}
            for at, values in chosen:
                bucket = since + ((at - since) // step) * step
                buckets.setdefault(bucket, []).append(values)
            routes[route] = {
                "summary": summarise(_merge(v for _, v in chosen), len(chosen)),
                "points": [{"at": at.isoformat(), **summarise(_merge(parts), len(parts))}
                           for at, parts in sorted(buckets.items())],
            }
        out[window] = routes
    return out
