"""Claims: a message of results is claimed in one transaction, each result by one delivery only,
with its own queue wait; and so when deliveries race, on SQLite and on PostgreSQL."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from compare.models import Result, ResultEvent, Status

from tests.compare import factories
from tests.helpers import postgres_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_a_message_claims_only_its_queued_results_each_with_its_own_queue_wait(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:fast"])
    taken, cancelled, first, second = comparison.results.order_by("position")
    assert taken.claim("other-worker")
    Result.objects.filter(pk=cancelled.pk).update(status=Status.CANCELLED)
    now = timezone.now()
    Result.objects.filter(pk=first.pk).update(enqueued_at=now - timedelta(seconds=3))
    Result.objects.filter(pk=second.pk).update(enqueued_at=None)  # enqueued before the field existed
    message = list(Result.objects.filter(pk__in=[taken.pk, cancelled.pk, first.pk, second.pk]).order_by("position"))
    events_before = ResultEvent.objects.count()

    won = Result.claim_all(message, "this-worker")

    assert [r.pk for r in won] == [first.pk, second.pk]
    assert 2900 < won[0].queue_ms < 10_000 and won[1].queue_ms is None
    stored = {r.pk: r for r in Result.objects.filter(comparison=comparison)}
    assert (stored[taken.pk].status, stored[taken.pk].worker) == (Status.RUNNING, "other-worker")
    assert stored[cancelled.pk].status == Status.CANCELLED
    for result in won:
        row = stored[result.pk]
        assert (row.status, row.worker, row.started_at) == (Status.RUNNING, "this-worker", result.started_at)
        assert row.queue_ms == result.queue_ms
    running = ResultEvent.objects.order_by("id")[events_before:]
    assert [(e.result_id, e.status) for e in running] == [(first.pk, Status.RUNNING), (second.pk, Status.RUNNING)]
    assert Result.claim_all(message, "late-worker") == []  # nothing left: no event either
    assert ResultEvent.objects.count() == events_before + 2


RACE_SCRIPT = """
import json, os, random, sys, threading
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from compare import services
from compare.models import Result, ResultEvent, Status
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("racer")
comparison = services.create_comparison(user=user, prompt="a fox", route_keys=["sandbox:fast"] * 30,
                                        params={"size": "1024x1024", "quality": "low", "n": 1})
ids = list(comparison.results.values_list("pk", flat=True))
barrier = threading.Barrier(6)
won, errors, asked = {}, [], set()

def claim(name):
    try:
        mine = random.Random(name).sample(ids, 20)  # overlapping messages, in different orders
        asked.update(mine)
        results = list(Result.objects.filter(pk__in=mine))
        barrier.wait()
        for start in range(0, 20, 5):
            won[name + str(start)] = [r.pk for r in Result.claim_all(results[start:start + 5], name)]
    except Exception as error:
        errors.append(repr(error))
    finally:
        connections.close_all()

threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
rows = {pk: worker for pk, worker in Result.objects.filter(status=Status.RUNNING).values_list("pk", "worker")}
events = list(ResultEvent.objects.filter(status=Status.RUNNING).values_list("result_id", flat=True))
print(json.dumps({"errors": errors, "won": won, "rows": rows, "events": events, "asked": sorted(asked)}))
"""


def run_race(tmp_path, database_url=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
                "CELERY_BROKER_URL": "memory://", "SANDBOX_LATENCY_SCALE": "0"})
    if database_url:
        env["DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-c", RACE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["errors"] == []
    claims = [(pk, name[:2]) for name, pks in found["won"].items() for pk in pks]
    claimed = [pk for pk, _ in claims]
    assert sorted(claimed) == sorted(set(claimed))  # no result won twice
    assert {str(pk): worker for pk, worker in claims} == found["rows"]  # the winner is the one stored
    assert sorted(found["events"]) == sorted(claimed)  # one running event per claim, none for a loss
    assert sorted(claimed) == found["asked"]  # and every result asked for was won by one of them


def test_deliveries_racing_for_overlapping_messages_claim_each_result_once_on_sqlite(tmp_path):
    run_race(tmp_path)


@pytest.mark.services
def test_deliveries_racing_for_overlapping_messages_claim_each_result_once_on_postgresql(tmp_path):
    with postgres_database("ipc_claims") as (url, _):
        run_race(tmp_path, url)
