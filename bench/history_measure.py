"""Item 6, inside one Django process: generate a history, then time the history page, search and
the API list with Django's test client (server time: middleware + view + queries + template, no
network) and count their SQL queries at two page sizes.

Run by bench/history.py as `python bench/history_measure.py N` with VAR_DIR (and DATABASE_URL for
PostgreSQL) set; prints one JSON object.
"""

import json
import re
import os
import statistics
from datetime import date, timedelta
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.figures import pct  # noqa: E402
from compare.teams.models import ApiToken
from compare.models import Comparison, Result
from compare.review.models import Verdict  # noqa: E402

TIMED = int(os.environ.get("BENCH_HISTORY_REPS", "20"))
WARMUP = 2
BUDGET_S = float(os.environ.get("BENCH_HISTORY_BUDGET_S", "6"))


def explain(sql, params):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return [" ".join(str(x) for x in row[1:]) for row in cursor.fetchall()][:12]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql, params)
        return [row[0] for row in cursor.fetchall()][:16]


def main(n):
    out = {"vendor": connection.vendor, "comparisons": n}
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as `manage.py serve` does
    reuse = os.environ.get("BENCH_HISTORY_REUSE") == "1"  # measure a database generated before (development)
    user = get_user_model().objects.filter(username="bench").first() if reuse else None
    if user is None:
        user = get_user_model().objects.create_superuser("bench", password="bench-password-6")
    token = ApiToken.issue(user)[1]
    started = time.perf_counter()
    if not (reuse and Comparison.objects.exists()):
        call_command("generate_history", comparisons=n, results_per=5, username="bench", verbosity=0)
    out["generate_s"] = time.perf_counter() - started
    if connection.vendor == "postgresql":
        # As autovacuum does after a bulk insert (PostgreSQL 13+ vacuums insert-only tables too):
        # statistics, and the visibility map that lets index-only scans skip the table.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    out["rows"] = {"comparisons": Comparison.objects.count(), "results": Result.objects.count(),
                   "verdicts": Verdict.objects.count()}

    page = Client()
    page.force_login(user)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    htmx = {"HX-Request": "true"}
    pages = (n + 19) // 20
    endpoints = [
        ("history page 1", page, "/comparisons/", {}),
        (f"history page {pages // 2} (deep)", page, f"/comparisons/?page={pages // 2}", {}),
        ("search 'fox' (htmx partial)", page, "/comparisons/?q=fox", htmx),
        ("search, no match (htmx partial)", page, "/comparisons/?q=zebra", htmx),
        ("filter by route", page, "/comparisons/?route=fal:openai/gpt-image-2", {}),
        ("filter status=failed", page, "/comparisons/?status=failed", {}),
        ("API list page 1", api, "/api/comparisons", {}),
        ("API search 'fox'", api, "/api/comparisons?q=fox", {}),
        # compare/insights/views.py show_leaderboard (compare/insights/leaderboard.py build_for_team): over all the
        # history, with the cache (only the score fit is cached, by its votes) emptied before every
        # request ("rebuilt"), right after a verdict is changed, right after a new result finishes
        # (folded into the rollups by that request), and with nothing changed ("cached"); then as the
        # page's filters ask for it (htmx partial).
        ("leaderboard, all history, rebuilt", page, "/leaderboard", {}),
        ("leaderboard, all history, after a new verdict", page, "/leaderboard", {}),
        ("leaderboard, all history, after a finished result", page, "/leaderboard", {}),
        ("leaderboard, all history, cached", page, "/leaderboard", {}),
        ("leaderboard, last 90 days, 1024x1024 (htmx partial), rebuilt", page,
         f"/leaderboard?size=1024x1024&from={(date.today() - timedelta(days=90)).isoformat()}", htmx),
        ("leaderboard, last 90 days, 1024x1024 (htmx partial), after a new verdict", page,
         f"/leaderboard?size=1024x1024&from={(date.today() - timedelta(days=90)).isoformat()}", htmx),
        ("leaderboard, last 30 days, high, 1536x1024 (htmx partial), rebuilt", page,
         f"/leaderboard?quality=high&size=1536x1024&from={(date.today() - timedelta(days=30)).isoformat()}", htmx),
    ]
    rows = []
    change = data_changes(user)
    for name, client, url, headers in endpoints:
        slow = name.startswith("leaderboard")  # not paginated: one query count
        rebuilt = name.endswith("rebuilt")
        before_each = cache.clear if rebuilt else change.get(name.rpartition(", ")[2], lambda: None)
        for _ in range(1 if slow else WARMUP):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
        times = []
        budget = time.monotonic() + BUDGET_S  # at least 5 requests, at most TIMED, about BUDGET_S each
        while len(times) < TIMED and (len(times) < 5 or time.monotonic() < budget):
            before_each()
            t0 = time.perf_counter()
            client.get(url, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
        queries = {}
        slowest = None
        for size in ((20,) if slow else (20, 50)):
            before_each()
            with override_settings(HISTORY_PAGE_SIZE=size), CaptureQueriesContext(connection) as captured:
                client.get(url, headers=headers)
            queries[size] = len(captured.captured_queries)
            if size == 20:
                slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
                shapes = {}
                for q in captured.captured_queries:
                    shape = re.sub(r"\b\d+\b", "?", q["sql"])
                    shapes[shape] = shapes.get(shape, 0) + 1
                repeated = [[shape[:300], count] for shape, count in shapes.items() if count >= 10]
        if slow:
            queries[50] = queries[20]  # not paginated: the page size does not apply
        rows.append({"name": name, "url": url, "n": len(times), "p50_ms": statistics.median(times), "p95_ms": pct(times, 95),
                     "max_ms": max(times), "queries": queries,
                     "slowest_query_ms": float(slowest["time"]) * 1000, "slowest_query": slowest["sql"][:400],
                     "repeated_queries": repeated, "_slowest_sql_full": slowest["sql"]})
        print(f"  {connection.vendor} {name}: p50 {rows[-1]['p50_ms']:.1f} ms, p95 {rows[-1]['p95_ms']:.1f} ms, "
              f"queries {queries}", file=sys.stderr, flush=True)
    out["endpoints"] = rows
    out["leaderboard_parts"] = leaderboard_parts(user)
    # The plans of the slowest query of the pages that grow with the table, for the findings.
    plans = {}
    for row in rows:
        if row["name"].startswith(("history page 1", "search, no match", "filter by route", "API list",
                                   "leaderboard, all")):
            full_sql = row.pop("_slowest_sql_full")
            try:
                plans[f"{row['name']}: {full_sql[:160]}…"] = explain(full_sql, ())
            except Exception as exc:  # noqa: BLE001 - a plan is a bonus
                plans[row["name"]] = [f"EXPLAIN failed: {exc}"]
        row.pop("_slowest_sql_full", None)
    out["plans"] = plans
    return out


def data_changes(user):
    """What happens between two views of the leaderboard, done before each timed request: the user
    gives a verdict (a winner) on a comparison not judged yet, so the votes are never the same
    twice (the fit is cached under the votes themselves: flipping one verdict back and forth would
    find it cached), or a new comparison's result finishes."""
    from compare.models import Status
    from compare.teams.models import Team
    from compare.review.models import give_verdict

    team = Team.personal_for(user)
    # Recent 1024x1024 comparisons (so the filtered views measured see the new votes too), newest first.
    unjudged = iter(Comparison.objects.filter(team=team, params__size="1024x1024", verdicts__isnull=True)
                    .order_by("-created_at", "-id")[:200])

    def new_verdict():
        for comparison in unjudged:
            succeeded = list(comparison.results.filter(status=Status.SUCCEEDED))
            if len(succeeded) >= 2:
                give_verdict(comparison, user, "winner", succeeded[0].pk)
                return

    def finished_result():
        comparison = Comparison.objects.create(prompt="a red fox at night #bench", team=team, created_by=user,
                                               params={"size": "1024x1024", "quality": "low", "n": 1})
        result = Result.objects.create(comparison=comparison, route_key="sandbox:fast", route_label="Sandbox fast",
                                       status=Status.RUNNING)
        result.finish(Status.SUCCEEDED, latency_ms=2500.0, cost_usd=0.006, cost_source="estimated")

    return {"after a new verdict": new_verdict, "after a finished result": finished_result}


def leaderboard_parts(user):
    """Where one leaderboard build goes: compare/insights/leaderboard.py, step by step (the fit uncached), then
    what folding every result from scratch costs (the migration's backfill on an existing history,
    or a first read that would have to fold it all), on the team's data, last (it rewrites them)."""
    from compare.insights import bradley_terry, leaderboard
    from compare.insights.models import JudgedComparison, RouteDay
    from compare.teams.models import Team
    from compare.insights import models as rollups

    team = Team.personal_for(user)
    parts = {}
    t = time.perf_counter()
    rollups.fold_pending()
    parts["fold pending results (none)"] = time.perf_counter() - t
    t = time.perf_counter()
    leaderboard.route_stats(team)
    parts["results: rollup cells summed, latencies merged and sorted"] = time.perf_counter() - t
    t = time.perf_counter()
    patterns = list(JudgedComparison.objects.filter(team=team).values_list("pattern", flat=True))
    parts["verdicts: judged comparisons' patterns read"] = time.perf_counter() - t
    cache.clear()
    t = time.perf_counter()
    leaderboard.route_scores(team)
    parts["verdicts: patterns -> pairwise outcomes + Bradley-Terry fit + bootstrap band"] = time.perf_counter() - t
    out = {"ms": {k: v * 1000 for k, v in parts.items()}, "units": len(patterns),
           "cells": RouteDay.objects.filter(team=team).count(),
           "samples": bradley_terry.bootstrap_samples(len(patterns))}
    if os.environ.get("BENCH_HISTORY_BACKFILL", "1") == "1":
        before = {row.route_key: (row.entered, row.succeeded, row.median_ms, row.p95_ms)
                  for row in leaderboard.build(team)}
        RouteDay.objects.filter(team=team).delete()
        JudgedComparison.objects.filter(team=team).delete()
        Result.objects.update(rolled_up=None)
        t = time.perf_counter()
        folded = rollups.fold_pending()
        out["backfill_fold_s"] = time.perf_counter() - t
        t = time.perf_counter()
        rollups.refresh_judged(list(Verdict.objects.values_list("comparison_id", flat=True).distinct()))
        out["backfill_judged_s"] = time.perf_counter() - t
        out["backfill_results"] = folded
        after = {row.route_key: (row.entered, row.succeeded, row.median_ms, row.p95_ms)
                 for row in leaderboard.build(team)}
        out["backfill_same_numbers"] = before == after
    return out


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
