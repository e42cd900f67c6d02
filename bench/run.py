"""`make bench`: every benchmark of issue 6 (with issue 5's faults and issue 14's engine and pushed results) in one run,
then BENCHMARKS.md and a table on stdout.

    python -m bench.run [--history-n N] [--no-services] [--only images,stack,history,faultload,engine,stream]
                        [--engine-quick] [--out FILE]
    python -m bench.run --report-only var/bench/latest.json   # re-render a saved run

Numbers go to var/bench/results-<time>.json (and var/bench/latest.json); the report is written
from that file by bench/report.py. Every stack, database and queue made here is removed at the end.
"""

import argparse
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_HISTORY_N = 100_000  # the full size: 100,000 comparisons, 500,000 results


def machine():
    info = {"python": platform.python_version(), "kernel": platform.release(), "cpus": os.cpu_count(),
            "sqlite": sqlite3.sqlite_version}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=2) as c:
            info["postgresql"] = c.execute("show server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - absent services are reported as absent
        info["postgresql"] = None
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
        info["redis"] = client.info("server")["redis_version"]
        client.close()
    except Exception:  # noqa: BLE001
        info["redis"] = None
    import celery
    import django
    import PIL

    info.update(django=django.get_version(), celery=celery.__version__, pillow=PIL.__version__)
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history-n", type=int, default=int(os.environ.get("HISTORY_N") or DEFAULT_HISTORY_N),
                        help=f"comparisons in the generated history (default {DEFAULT_HISTORY_N:,}, the issue's "
                             "full size; HISTORY_N overrides it, e.g. 20000 for a quicker run)")
    parser.add_argument("--no-services", action="store_true", help="skip PostgreSQL and Redis runs")
    parser.add_argument("--only", default="images,stack,history,faultload,engine,stream")
    parser.add_argument("--engine-quick", action="store_true",
                        help="the engine part at its --quick size (200 calls in flight, not 1,000)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--report-only", metavar="RESULTS_JSON")
    args = parser.parse_args(argv)

    from bench import report

    if args.report_only:
        results = json.loads(Path(args.report_only).read_text())
        report.write(results, args.out)
        return 0

    bench_var = ROOT / "var" / "bench"
    bench_var.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    command = os.environ.get("BENCH_COMMAND") or "python -m bench.run " + shlex.join(argv or sys.argv[1:])
    results = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command,
               "machine": machine(), "history_n": args.history_n, "sections": {}}
    only = set(args.only.split(","))
    services = not args.no_services
    section_times = results["sections"]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = bench_var / f"results-{stamp}.json"

    def save():
        results["total_s"] = time.monotonic() - started
        path.write_text(json.dumps(results, indent=1, default=str))
        (bench_var / "latest.json").write_text(path.read_text())

    from bench.load import LoadMonitor

    monitor = LoadMonitor().start()
    try:
        if "images" in only:
            from bench import images

            t = time.monotonic()
            monitor.section("images")
            images.run(results)
            section_times["images"] = time.monotonic() - t
            save()
        if "stack" in only:
            from bench import stackbench

            t = time.monotonic()
            monitor.section("stack")
            stackbench.run(results, services=services)
            section_times["stack"] = time.monotonic() - t
            save()
        if "history" in only:
            from bench import history

            t = time.monotonic()
            monitor.section("history")
            history.run(results, args.history_n, services=services)
            section_times["history"] = time.monotonic() - t
            save()
        if "faultload" in only:  # issue 5: 50 comparisons x 5 routes with 5% injected faults
            from bench import faultload

            t = time.monotonic()
            monitor.section("faultload")
            faultload.run(results, services=services)
            section_times["faultload"] = time.monotonic() - t
            save()
        if "engine" in only:  # issue 14: burst, fan-out, calls in flight, beside the asyncio.gather floor
            from bench import enginebench

            t = time.monotonic()
            monitor.section("engine")
            enginebench.run(results, setups=("embedded", "services") if services else ("embedded",),
                            quick=args.engine_quick)
            enginebench.keep(results["engine"])  # its own section of BENCHMARKS.md, as `bench.enginebench` writes it
            section_times["engine"] = time.monotonic() - t
            save()
        if "stream" in only:  # issue 14: results pushed over one event stream, and the warm start
            from bench import streambench

            t = time.monotonic()
            monitor.section("stream")
            results["stream"] = streambench.run(("embedded", "services") if services else ("embedded",),
                                                command=command)
            streambench.keep(results["stream"])  # its own section of BENCHMARKS.md, as `bench.streambench` writes it
            section_times["stream"] = time.monotonic() - t
    finally:
        monitor.stop()
        results["load"] = monitor.summary()
        save()
    print(f"\nresults: {path}")
    report.write(results, args.out)
    print(f"total {results['total_s'] / 60:.1f} min; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
