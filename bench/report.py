"""BENCHMARKS.md from one run's results (var/bench/results-*.json), and the summary table on stdout.

This module lays out the document; its parts are written by bench/report_targets.py (the table
against issue 6's targets), bench/report_items.py (the sections of items 1-7),
bench/report_findings.py (the findings); issue 14's engine targets are a kept section (bench/report_engine.py,
written by bench/enginebench.py).
Every number in them comes from the results file; the explanations are conditional on them where
the outcome could go either way, and otherwise state what the code does (with file and line of
thought) so a reviewer can check them."""

import json
import re
from pathlib import Path

from bench.faultload import markdown as faultload_markdown  # issue 5's load test with injected faults
from bench.figures import f, setups
from bench.report_findings import findings
from bench.report_items import item_sections
from bench.report_targets import cause_for, target_rows, target_table


# Sections written by focused scripts (bench/streambench.py), kept when `make bench` rewrites the file.
KEPT = re.compile(r"<!-- kept: (\w+) -->.*?<!-- /kept: \1 -->\n", re.S)


def write(results, out):
    text, table = render(results)
    old = Path(out).read_text() if Path(out).exists() else ""
    kept = "".join(match.group(0) for match in KEPT.finditer(old))
    Path(out).write_text(text + ("\n" + kept if kept else ""))
    print("\n" + table)


def write_kept(out, name, section):
    """Put ``section`` (Markdown) in ``out`` as the kept section ``name``, replacing its last one."""
    block = f"<!-- kept: {name} -->\n{section.rstrip()}\n<!-- /kept: {name} -->\n"
    old = Path(out).read_text() if Path(out).exists() else ""
    pattern = re.compile(rf"<!-- kept: {name} -->.*?<!-- /kept: {name} -->\n", re.S)
    text = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + block
    Path(out).write_text(text)


def render(r):
    """(BENCHMARKS.md, the summary table) for the results ``r`` of one run."""
    r = json.loads(json.dumps(r, default=str))  # the same keys (strings) in a live run as in a saved file
    m = r["machine"]
    lines = []
    add = lines.append
    rows = target_rows(r)
    table_text = target_table(rows)

    add("# Benchmarks")
    add("")
    add(f"Made by `{r['command']}` on {r['started_at']} (UTC) in {r.get('total_s', 0) / 60:.1f} minutes, "
        f"commit `{m.get('commit', '?')}` plus the working tree at that moment.")
    add("")
    add(f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, {m.get('memory_gb')} GB RAM, {m.get('os', '?')}, "
        f"kernel {m.get('kernel')}; Python {m.get('python')}, Django {m.get('django')}, Celery {m.get('celery')}, "
        f"Pillow {m.get('pillow')}, SQLite {m.get('sqlite')}, PostgreSQL {m.get('postgresql') or 'absent'}, "
        f"Redis {m.get('redis') or 'absent'} (both on 127.0.0.1).")
    add("")
    load = r.get("load") or {}
    if load:
        add("Other work on the machine during the run (CPU used by processes outside the bench's own process "
            "tree, from /proc every 2 s; PostgreSQL and Redis, which the bench itself drives, apart):")
        add("")
        add("| section | others: mean / max cores busy | busiest others | PostgreSQL + Redis: mean cores | max load average |")
        add("|---|---|---|---|---|")
        for name, x in load.items():
            top = ", ".join(f"{comm} {cores:g}" for comm, cores in x["top_others"]) or "-"
            add(f"| {name} | {f(x['others_mean_cores'], 2)} / {f(x['others_max_cores'], 2)} | {top} | "
                f"{f(x['services_mean_cores'], 2)} | {f(x['loadavg_max'], 1)} |")
        add("")
        busy = [name for name, x in load.items() if x["others_mean_cores"] > 0.25]
        if busy:
            add(f"**This machine was shared** (other sessions' test suites and servers) during: {', '.join(busy)}. "
                "On 2 cores that competes directly with the web process and the workers, so absolute times there "
                "are pessimistic; ratios within one run (items 2 and 4, the floor beside the app) are less "
                "affected, and each number below says which setup and load produced it.")
            add("")
    add(f"How: `bench/run.py` starts the real stack with `providers/testing/stack.py` ({setups(r)['engine']}), "
        "each in its own `VAR_DIR`, and 50 `compatible:b0..b49` routes pointing "
        "at one loopback fake of the OpenAI Images API (`bench/fake.py`: `providers/testing/openai.py`'s FakeOpenAI in "
        "a process of its own, a listen backlog of 1024, a server-side delay per call chosen from the prompt and "
        "the route's model name, and a record of each call's arrival and last byte). Submit times, the fake's "
        "times and the page poller's times are on one machine's wall clock; durations compared with our "
        "`latency_ms` are perf_counter differences on each side. Ratios are taken within one run. Every "
        "stack, database and Redis queue made for the run is removed at the end; logs stay in "
        "`var/bench/logs/`, raw numbers in `var/bench/results-*.json` (re-render with "
        "`python -m bench.run --report-only var/bench/latest.json`).")
    add("")
    add("## Results against the targets of issue 6")
    add("")
    add(table_text)
    add("")
    add("Item 1 rows marked PostgreSQL + Redis are not the default `make run` setup (the target is for the "
        "default); they show how the fan-out behaves with more worker processes.")
    add("")

    lines.extend(item_sections(r))

    lines.extend(faultload_markdown(r.get("faultload")))

    # ---- findings
    add("## Findings (design problems still open) and the changes proposed")
    add("")
    for paragraph in findings(r):
        add(paragraph)
        add("")

    add("## Missed targets: cause and what would fix it")
    add("")
    missed = [row for row in rows if "missed" in row[4] or "not measured" in row[4]]
    if not missed:
        add("None in this run.")
    for row in missed:
        add(f"- **{row[0]}. {row[1]}** ({row[2]} vs {row[3]}): {cause_for(row, r)}")
    add("")
    add("## Notes")
    add("")
    add("- Section run times: " + ", ".join(f"{k} {v:.0f} s" for k, v in r.get("sections", {}).items()) + ".")
    add("- The loopback fakes (`providers/testing/server.py`'s LoopbackServer, and the bench's fake) listen with a "
        "backlog of 1024: socketserver's default of 5 overflows in a burst of simultaneous connections "
        "(dropped SYNs, 1 s retransmits).")
    add("- Item 4 (F2) was profiled with py-spy 0.4.3 (pinned in requirements-dev.txt): `py-spy record --gil "
        "--pid WORKER_PID` on the worker during fan-out runs (py-spy pauses the process to sample, so the "
        "errors measured while it ran are not reported). The other causes above are shown by the measurements "
        "themselves (query counts and plans, the PostgreSQL connection count). The "
        "history page and the leaderboard (F5, F10) were profiled with the standard library's cProfile and "
        "the queries timed to their last row (SQLite runs a query while its rows are fetched, so Django's "
        "per-query time misses most of it).")
    return "\n".join(lines) + "\n", table_text
