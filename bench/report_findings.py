"""The findings of BENCHMARKS.md: the design problems a run shows (F0-F10), each with its cause and
the change made or proposed, written from the run's own numbers."""

import re
from pathlib import Path

from bench.figures import f, failed, get, pct
from bench.report_targets import truth_groups


def log_events(r):
    """Alarming log lines of the run's stacks (older results files: read from var/bench/logs)."""
    if "log_events" in r:
        return r["log_events"]
    found = []
    for path in sorted((Path(__file__).resolve().parents[1] / "var" / "bench" / "logs").glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "Unrecoverable error" in line:
                found.append(f"{path.name}: {line.strip()[:300]}")
    return found


def findings(r):
    """The findings' paragraphs (Markdown) for the run ``r``."""
    out = []
    events = [e for e in log_events(r) if "Unrecoverable error" in e]
    if events:
        out.append(
            f"**F0. A worker stopped consuming during this run.** The logs hold: "
            f"{'; '.join('`' + e + '`' for e in events[:2])}. The embedded broker now writes each message "
            "atomically (`config/broker.py`: a temporary file `os.replace`d into the queue folder) and `manage.py "
            "serve` restarts a worker that exits, so this is a new cause to look into (see var/bench/logs/).")
    svc = r.get("capacity_services") or {}
    full = get(svc, "full")
    hist = r.get("history") or {}
    sq = hist.get("sqlite") or {}
    pg = hist.get("postgresql") or {}

    def ep(h, prefix):
        for e in h.get("endpoints", []):
            if e["name"].startswith(prefix):
                return e
        return None

    if full and not failed(full) and (full["submit_errors"] or full["statuses"].get("queued", 0)):
        out.append(
            f"**F1. PostgreSQL ran out of connections at 200 calls in flight.** Peak "
            f"{full.get('pg_peak_connections')} of {svc.get('pg_max_connections')}; {full['submit_errors']} submits "
            f"answered HTTP 500 and {full['statuses'].get('queued', 0)} accepted results stayed queued, although "
            "`execute_result` releases its connection during the provider call (`close_old_connections()`, "
            "`compare/engine/execution.py`). Proposed: a pooler (PgBouncer, or Django's psycopg pool "
            "`OPTIONS={\"pool\": True}`), and retrying a task on `OperationalError`.")
    truth = truth_groups(r)
    if truth:
        worst = max(truth, key=lambda g: pct([abs(v) for v in g[1]], 95) or 0)
        out.append(
            f"**F2. Our latency included GIL waits when one process runs many calls (item 4; "
            f"{'fixed' if pct([abs(v) for g in truth for v in g[1]], 95) <= 20 else 'reduced, target still missed in this run'}).** Before "
            "(make bench of 2026-11-22 10:34 UTC, commit `713e644`): error p95 85.8 ms over all calls, growing with "
            "the calls a worker process ran at once (fan-out N=20: p95 99.8 ms; worst group fan-out N=20 and 50, "
            "PostgreSQL + Redis, 2 workers: p95 406.5 ms, max 739.8 ms), a lone call within a few ms. The timer "
            "was one `perf_counter` pair around the adapter's `generate`, but its thread needed the GIL to "
            "connect, send, read and parse, and the worker's other threads held it with CPU work. py-spy "
            "(`--gil`) put Pillow's image checks first (32% of GIL-holding samples), then the broker consumer "
            "(21%), Django's SQL compiler (11%), rebuilding every route for every task (8%) and parsing answers "
            "(6%). Fixed by timing the call on the wire (first request byte written -> last byte read: "
            "building the request, connecting and parsing the answer are outside), checking and thumbnailing "
            "images in `IMAGE_PROCESSES` processes of their own after the window, and building routes once per "
            "environment; see item 4. "
            f"Now: all calls p95 {f(pct([abs(v) for g in truth for v in g[1]], 95), 1)} ms; worst group "
            f"{worst[0]}, p95 {f(pct(worst[1], 95), 1)} ms, max {f(max(worst[1]), 1)} ms.")
    if sq.get("endpoints"):
        a1 = ep(sq, "API list")
        if a1 and a1["queries"]["20"] != a1["queries"]["50"]:
            tables = sorted({(re.findall(r'FROM "([a-z_]+)"', shape) or re.findall(r'^SELECT "([a-z_]+)"\.', shape)
                              or ["?"])[0] for shape, _ in a1.get("repeated_queries", [])})
            per = (a1["queries"]["50"] - a1["queries"]["20"]) / 30
            out.append(
                f"**F4. N+1 in the API list.** `GET /api/comparisons` makes {a1['queries']['20']} queries for a page "
                f"of 20 and {a1['queries']['50']} for 50, {per:g} more per comparison: the queries repeated once "
                f"per comparison read {', '.join('`' + t + '`' for t in tables) or 'related rows'} "
                "(`presenters.comparison_dict` reads each comparison's `references.all()` and its `team`, while "
                "`compare/api/comparisons.py` `comparisons` only prefetches `results` and select-relates `created_by`). "
                "Proposed: `.select_related(\"created_by\", \"team\").prefetch_related(\"results\", "
                "\"references\")` there, and a test asserting the query count is the same for 1 and 20 "
                "comparisons.")
        s1 = ep(sq, "search, no match")
        fr = ep(sq, "filter by route")
        fs = ep(sq, "filter status")
        hp = ep(sq, "history page 1")
        out.append(
            "**F5. Search and filters at 100,000 comparisons (fixed; search still scans).** Before (20,000 "
            "comparisons, last full run): history page 1 92 / 102 ms p50 / p95 on SQLite; the route and status "
            "filters joined results and added `.distinct()` over whole comparison rows (162 and 163 ms on "
            "SQLite, 211 / 226 ms for the status filter on PostgreSQL), and every history page read the "
            "route filter's options as a DISTINCT over a join of all the team's results (55-110 ms on "
            "PostgreSQL at 20,000; 0.2-1.5 s on SQLite at 100,000, the slowest query of the page). At 100,000 "
            "comparisons these went to 0.3-3 s. Fixed in `compare/views.py` `history`: the filters are "
            "semi-joins (`pk__in` a subquery over the `route_key` / `status` indexes: no join, no DISTINCT); "
            "the route options come from a recursive query that seeks each distinct `route_key` in its index "
            "and keeps it if the team has a result there (a LIMIT 1 probe per key); and the index "
            "`comparison_team_recent` `(team, -created_at, -id)` (migration 0013) reads a team's page in order "
            "instead of sorting every row. Now "
            f"(N = {sq.get('comparisons', 0):,}): history page 1 p50 {f(hp['p50_ms'] if hp else None, 0)} ms, "
            f"filter by route {f(fr['p50_ms'] if fr else None, 0)} ms, status {f(fs['p50_ms'] if fs else None, 0)} "
            "ms on SQLite (PostgreSQL in the table above). Still open: search is `prompt__icontains` (`LIKE "
            "'%word%'` on SQLite, `UPPER(prompt) LIKE` on PostgreSQL), a scan of the team's prompts done twice "
            f"per page (the paginator's `COUNT(*)` and the page): {f(s1['p50_ms'] if s1 else None, 0)} ms for a "
            "word that matches nothing on SQLite here, within the target; past a few hundred thousand "
            "comparisons, a trigram index on PostgreSQL (`CREATE EXTENSION pg_trgm`, then `GinIndex(OpClass("
            "Upper(\"prompt\"), name=\"gin_trgm_ops\"), name=\"comparison_prompt_trgm\")`) and an FTS5 table "
            "on SQLite.")
    imgs = r.get("images") or []
    if imgs:
        big = imgs[-1]
        out.append(
            f"**F6. `check_image` held two full frames (fixed).** `compare/images.py` made `thumb = image.copy()` "
            "of the decoded image before thumbnailing it, although the decoded image was not used afterwards: "
            "for 3840x2160, 69 MiB of peak RSS per call against 37 MiB in place (make bench of 2026-11-22 "
            "10:34 UTC). It now thumbnails the loaded image in place inside the `with image:` block (same "
            "checks, same thumbnail), in the worker's image processes (item 4). This run, "
            f"{big['size']}: {f(big['rss_growth_mb'], 0)} MiB for `check_image` against "
            f"{f(big['rss_growth_before_f6_mb'], 0)} MiB for the code before F6 (`bench/images.py` "
            "`check_image_before_f6`).")
    before = {"SQLite": "2,592 / 2,750 ms", "PostgreSQL": "1,817 / 1,878 ms"}  # first run, 20,000 comparisons
    cached_design = {  # the per-(team, filters) cache of the previous fix, 100,000 comparisons, p50 / p95 ms
        "SQLite": "rebuilt 1,916 / 1,946, after a new verdict 608 / 697, after a finished result 1,343 / 1,420, "
                  "cached 65 / 77, last 90 days 1024x1024 rebuilt 3,564 / 3,729",
        "PostgreSQL": "rebuilt 2,966 / 3,865, after a new verdict 1,017 / 1,382, after a finished result "
                      "1,541 / 1,612, cached 166 / 196, last 90 days 1024x1024 rebuilt 858 / 1,214"}
    for vendor, h in (("SQLite", sq), ("PostgreSQL", pg)):
        boards = [e for e in h.get("endpoints") or [] if e["name"].startswith("leaderboard")]
        if not boards:
            continue
        lb = h.get("leaderboard_parts") or {}
        parts = lb.get("ms") or {}
        top = ", ".join(f"{k} {v:,.0f} ms" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
        over = [e["name"] for e in boards if e["p95_ms"] > 1000]
        state = "fixed" if not over else f"over 1 s at p95 in this run: {'; '.join(over)}"
        backfill = (f" Folding every result from scratch (the migration's backfill of an existing history; "
                    f"{lb['backfill_results']:,} results) took {f(lb['backfill_fold_s'], 1)} s, the judged "
                    f"comparisons' patterns {f(lb['backfill_judged_s'], 1)} s, and gave the same numbers: "
                    f"{'yes' if lb.get('backfill_same_numbers') else '**no**'}." if "backfill_fold_s" in lb else "")
        out.append(
            f"**F10 ({vendor}). The leaderboard over a long history ({state}).** First run: `/leaderboard` "
            f"p50 / p95 {before[vendor]} at only 20,000 comparisons, built on every request from every result "
            "and verdict. Then (previous fix): cached per (team, filters) in two parts keyed by the state of the "
            "results and of the verdicts, exact percentiles ranked in SQL, the fit on aggregated pair counts with "
            f"a Poisson bootstrap; at 100,000 comparisons: {cached_design[vendor]} ms. Served from the cache that "
            "was fast, but every finished result or verdict made the next view rebuild over every result (two "
            "scans of 500,000 rows, the latencies ranked) or every verdict, over 1 s, and a team at work changes "
            "results every few seconds. Fixed: rollups kept up to date (`compare/insights/models.py`, migration "
            "0014): `RouteDay` cells per (team, route, UTC day, quality, size) with counts by status, refusals, "
            "retries, costs in integer micro-dollars (reported and estimated apart) and every succeeded "
            "latency packed as float64 (so the median and p95 stay exact: sorted at read, tested against "
            "`statistics.quantiles`); a result is folded in once, by a conditional `UPDATE ... WHERE rolled_up "
            "IS NULL RETURNING id` in the same transaction as its sums (an advisory lock on PostgreSQL), at the "
            "next leaderboard read (nothing in the worker), and taken out again when deleted; and one "
            "`JudgedComparison` pattern per judged comparison (routes with images, each vote's kind and winning "
            "route), refreshed when a verdict is given, changed or withdrawn or a result of it succeeds or goes. "
            "A build sums the cells of the period's whole UTC days and reads directly only the results the "
            "cells do not hold (the partial days at the period's ends in a non-UTC time zone, results not "
            "folded yet); the fit is cached under a hash of the patterns themselves. Tested: rollups equal a "
            "recomputation from scratch after random sequences of results finishing, verdicts given, changed "
            "and withdrawn, results and comparisons deleted; two connections folding at once on PostgreSQL "
            "count each result once. After "
            f"({h['comparisons']:,} comparisons, {h['rows'].get('verdicts', 0):,} verdicts, "
            f"{lb.get('cells', 0):,} cells, {lb.get('units', 0):,} judged comparisons): "
            + "; ".join(f"{e['name'].removeprefix('leaderboard, ')} {f(e['p50_ms'], 0)} / {f(e['p95_ms'], 0)} ms"
                        for e in boards)
            + f". One build step by step: {top}." + backfill
            + ("" if not over else
               " Would go further: coarser cells for older days (a month instead of a day), and the bootstrap "
               "band refitted in a task after a verdict instead of in the request."))
    out.append(
        "**Fixed since the first bench run (checked against the code; no longer findings).** The filesystem "
        "broker writes each message atomically (`config/broker.py`); `execute_result` gives its database "
        "connection back during the provider call (`close_old_connections()` in `compare/engine/execution.py`); the "
        "history page takes the route filter's options from the catalog plus the team's used route keys (an "
        "index walk, F5) instead of reading every result (`compare/views.py` `history`); the API list prefetches (constant queries in item "
        "6); the reaper starts before the warm-up (`compare/tasks.py`); `manage.py serve` restarts a worker "
        "that exits; `ApiToken` writes `last_used_at` at most once a minute; the cards poll every 500 ms "
        "(item 3).")
    return out
