"""The history generator (bench item 6) and the leaderboard's SQL against a plain Python
recomputation from the rows: on SQLite here, and on PostgreSQL (marked services) in a process of
its own on a fresh database, since the leaderboard's SQL differs per database."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.compare.recompute import add_retries_and_refusals, cells_of, check_against_reference, judged_of
from tests.helpers import postgres_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_generate_history_writes_what_the_orm_reads(django_user_model):
    from compare.models import Comparison, Result
    from compare.teams.models import Team
    from compare.review.models import Verdict

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
    from compare.insights import models as rollups

    assert rollups.fold_pending() == 0  # written folded, with their rollups
    for stored, fresh in (cells_of(team), judged_of(team)):
        assert stored == fresh


@pytest.mark.django_db
def test_the_leaderboard_sql_matches_a_python_recomputation_on_sqlite(django_user_model):
    from compare.teams.models import Team

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
from compare.teams.models import Team
from tests.compare.recompute import add_retries_and_refusals, check_against_reference
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("gen")
call_command("generate_history", comparisons=400, results_per=4, username="gen", verbosity=0)
team = Team.personal_for(user)
add_retries_and_refusals(team)
summary = check_against_reference(team)
from compare.insights import leaderboard
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
    with postgres_database("ipc_unit_board") as (url, _):
        run_in_own_process(tmp_path, url)


CONCURRENT_SCRIPT = """
import json, os, sys, threading
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from compare.models import Result
from compare.insights.models import RouteDay
from compare.teams.models import Team
from compare.insights import models as rollups
from tests.compare.recompute import cells_of
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
    with postgres_database("ipc_unit_fold") as (url, _):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR")}
        env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
                    "DATABASE_URL": url})
        if without_lock:
            env["FOLD_WITHOUT_LOCK"] = "1"
        done = subprocess.run([sys.executable, "-c", CONCURRENT_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        counts = json.loads(done.stdout.strip().splitlines()[-1])["counts"]
        assert sum(counts) == 1200
