"""Item 6 on SQLite and (when reachable) PostgreSQL: each in a fresh database of its own, made
and dropped here, measured by bench/history_measure.py in a subprocess."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from providers.testing.stack import reachable

ROOT = Path(__file__).resolve().parents[1]


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def measure(n, env, timeout=900):  # generate, measure, then the backfill timed (about 80 s on PostgreSQL)
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR", "DJANGO_SETTINGS_MODULE")}
    base.update({"DJANGO_SETTINGS_MODULE": "config.settings", "ALLOWED_HOSTS": "testserver,127.0.0.1",
                 "LOG_LEVEL": "WARNING"})
    base.update(env)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "history_measure.py"), str(n)], cwd=ROOT, env=base,
                          stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(results, n, services=True):
    out = {}
    var_dir = ROOT / "var" / "bench" / f"history-sqlite-{uuid.uuid4().hex[:6]}"
    var_dir.mkdir(parents=True)
    try:
        log(f"history on SQLite: generating {n:,} comparisons x 5 results")
        out["sqlite"] = measure(n, {"VAR_DIR": str(var_dir)})
        out["sqlite"]["db_mb"] = (var_dir / "db.sqlite3").stat().st_size / 1e6
        log(f"SQLite: generated in {out['sqlite']['generate_s']:.1f} s")
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    if services and reachable("127.0.0.1", 5432):
        import psycopg

        database = f"ipc_bench_hist_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
        admin.execute(f'CREATE DATABASE "{database}"')
        var_dir = ROOT / "var" / "bench" / f"history-pg-{uuid.uuid4().hex[:6]}"
        var_dir.mkdir(parents=True)
        try:
            log(f"history on PostgreSQL: generating {n:,} comparisons x 5 results")
            out["postgresql"] = measure(n, {"VAR_DIR": str(var_dir),
                                            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}"})
            log(f"PostgreSQL: generated in {out['postgresql']['generate_s']:.1f} s")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.close()
            shutil.rmtree(var_dir, ignore_errors=True)
    else:
        out["postgresql"] = {"skipped": "PostgreSQL not reachable on 127.0.0.1:5432" if services else "--no-services"}
    results["history"] = out
    return out
