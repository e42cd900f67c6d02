"""The history generator (bench item 6) and the leaderboard's SQL against a plain Python
recomputation from the rows: on SQLite here, and on PostgreSQL (marked services) in a process of
its own on a fresh database, since the leaderboard's SQL differs per database."""

import json
import os
import statistics
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def reference(team):
    """Per route, from every row read into Python: what compare/leaderboard.py must report."""
    from compare.models import Result

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
    from compare import leaderboard

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
    from compare.models import Result

    results = list(Result.objects.filter(comparison__team=team).order_by("id")[:40])
    for r in results[::7]:
        Result.objects.filter(pk=r.pk).update(attempts=[{"attempt": 1, "status": 429}, {"attempt": 2, "status": 503}])
    for r in results[3::11]:
        Result.objects.filter(pk=r.pk).update(status="failed", error_code="content_policy", latency_ms=None,
                                              cost_usd=None, cost_source="unknown")
    from compare.models import rollups

    rollups.rebuild(team)  # rows changed behind the fold's back (no code path does this): counted again


@pytest.mark.django_db
def test_generate_history_writes_what_the_orm_reads(django_user_model):
    from compare.models import Comparison, Result, Team, Verdict

    user = django_user_model.objects.create_user("gen")
    call_command("generate_history", comparisons=600, results_per=5, username="gen", batch=250, verbosity=0)
    team = Team.personal_for(user)
    assert Comparison.objects.filter(team=team, created_by=user).count() == 600
    assert Result.objects.filter(comparison__team=team).count() == 3000
    verdicts = Verdict.objects.filter(user=user)
    assert 0.15 < verdicts.count() / 600 < 0.25  # about --verdicts 0.2
    for v in verdicts.filter(kind="winner").select_related("winner")[:50]:
        assert v.winner.comparison_id == v.comparison_id and v.winner.status == "succeeded"
    newest = Comparison.objects.filter(team=team).first()  # ordering -created_at: also the highest id
    assert newest.pk == Comparison.objects.filter(team=team).order_by("-pk").first().pk
    r = Result.objects.filter(status="succeeded").first()
    assert isinstance(r.cost_usd, Decimal) and r.request_sent["json"]["prompt"] == r.comparison.prompt
    made = Comparison.objects.create(prompt="after", team=team)  # ids continue after the given ones
    assert made.pk > Comparison.objects.exclude(pk=made.pk).order_by("-pk").first().pk
    from compare.models import rollups
    from tests.compare.test_leaderboard import cells_of, judged_of

    assert rollups.fold_pending() == 0  # written folded, with their rollups
    for stored, fresh in (cells_of(team), judged_of(team)):
        assert stored == fresh


@pytest.mark.django_db
def test_the_leaderboard_sql_matches_a_python_recomputation_on_sqlite(django_user_model):
    from compare.models import Team

    user = django_user_model.objects.create_user("gen")
    call_command("generate_history", comparisons=400, results_per=4, username="gen", verbosity=0)
    team = Team.personal_for(user)
    add_retries_and_refusals(team)
    assert check_against_reference(team)["scored"] >= 5


PG_SCRIPT = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from compare.models import Team
from tests.compare.test_history_scale import add_retries_and_refusals, check_against_reference
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("gen")
call_command("generate_history", comparisons=400, results_per=4, username="gen", verbosity=0)
team = Team.personal_for(user)
add_retries_and_refusals(team)
summary = check_against_reference(team)
from compare import leaderboard
from compare.models import Comparison
def numbers(rows):
    return [(r.route_key, r.rank, r.entered, r.succeeded, r.wins, r.judged_votes, r.latency_count, r.median_ms,
             r.p95_ms, r.score.score, r.score.low, r.score.high) for r in rows]
plain = numbers(leaderboard.build(team))
assert numbers(leaderboard.build_for_team(Team.objects.get(pk=team.pk))) == plain  # both parts at once
assert numbers(leaderboard.build_for_team(Team.objects.get(pk=team.pk))) == plain  # from the cache
print(json.dumps(summary))
"""


def run_in_own_process(tmp_path, database_url=None):
    """PG_SCRIPT on a database of its own, outside any test transaction: the leaderboard then runs
    its two scans at once on two connections, as in production."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"})
    if database_url:
        env["DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-c", PG_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["scored"] >= 5


def test_the_leaderboard_matches_a_python_recomputation_on_a_sqlite_file(tmp_path):
    run_in_own_process(tmp_path)


@pytest.mark.services
def test_the_leaderboard_sql_matches_a_python_recomputation_on_postgresql(tmp_path):
    from providers.testing.stack import reachable

    if not reachable("127.0.0.1", 5432):
        skip_or_fail("PostgreSQL is not reachable at 127.0.0.1:5432", "REQUIRE_SERVICES")
    import psycopg

    database = f"ipc_unit_board_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    try:
        run_in_own_process(tmp_path, f"postgres://postgres@127.0.0.1:5432/{database}")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


CONCURRENT_SCRIPT = """
import json, os, sys, threading
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from compare.models import Result, RouteDay, Team, rollups
from tests.compare.test_leaderboard import cells_of
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("gen")
call_command("generate_history", comparisons=300, results_per=4, username="gen", verbosity=0)
team = Team.personal_for(user)
RouteDay.objects.filter(team=team).delete()
Result.objects.update(rolled_up=None)  # everything pending: two folders race for it
if os.environ.get("FOLD_WITHOUT_LOCK"):
    rollups._lock = lambda using: None  # only the conditional UPDATE and the row locks keep them apart
barrier = threading.Barrier(2)
counts, errors = [], []
def work():
    try:
        barrier.wait()
        counts.append(rollups.fold_pending(batch=50))
    except Exception as error:
        errors.append(repr(error))
    finally:
        connections.close_all()
threads = [threading.Thread(target=work) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert not errors, errors
assert sum(counts) == Result.objects.count() == 1200, counts
assert rollups.fold_pending() == 0
stored, fresh = cells_of(team)
assert stored == fresh
print(json.dumps({"counts": counts}))
"""


@pytest.mark.services
@pytest.mark.parametrize("without_lock", [False, True])
def test_two_connections_folding_at_once_count_each_result_once_on_postgresql(tmp_path, without_lock):
    from providers.testing.stack import reachable

    if not reachable("127.0.0.1", 5432):
        skip_or_fail("PostgreSQL is not reachable at 127.0.0.1:5432", "REQUIRE_SERVICES")
    import psycopg

    database = f"ipc_unit_fold_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR")}
        env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
                    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}"})
        if without_lock:
            env["FOLD_WITHOUT_LOCK"] = "1"
        done = subprocess.run([sys.executable, "-c", CONCURRENT_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        counts = json.loads(done.stdout.strip().splitlines()[-1])["counts"]
        assert sum(counts) == 1200
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
