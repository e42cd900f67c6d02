"""Idempotency-Key on POST /api/comparisons and POST /api/batches: the same key and body replay
the first answer and start nothing; another body is refused (422); two requests at once with one
key start the work once."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from compare import services
from compare.batches.models import Batch
from compare.models import Comparison, Result
from compare.ops.models import IdempotencyKey
from compare.teams.models import ApiToken

from tests.helpers import postgres_database

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
BODY = {"prompt": "a red fox", "routes": ["sandbox:fast", "sandbox:steady"], "params": {"quality": "low"}}


def post(client, token, body, key, path="/api/comparisons", raw=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(path, raw if raw is not None else json.dumps(body), content_type="application/json",
                       **headers)


def test_the_same_key_and_body_replay_the_first_answer_and_start_nothing(client, alice_token,
                                                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        first = post(client, alice_token, BODY, "key-1")
        again = post(client, alice_token, BODY, "key-1")
        reordered = post(client, alice_token, None, "key-1", raw=json.dumps(dict(reversed(list(BODY.items())))))
    assert first.status_code == again.status_code == reordered.status_code == 201
    assert again.content == first.content == reordered.content
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Comparison.objects.count() == 1 and Result.objects.count() == 2
    assert len(enqueued) == 1  # the tasks were sent once


def test_the_same_key_with_another_body_is_refused(client, alice_token):
    assert post(client, alice_token, BODY, "key-2").status_code == 201
    response = post(client, alice_token, {**BODY, "prompt": "a blue fox"}, "key-2")
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["errors"] and "another request" in response.json()["error"]
    assert Comparison.objects.count() == 1


def test_without_a_key_each_post_starts_work(client, alice_token):
    post(client, alice_token, BODY, None)
    post(client, alice_token, BODY, None)
    assert Comparison.objects.count() == 2 and not IdempotencyKey.objects.exists()


def test_keys_belong_to_their_user(client, alice_token, bob):
    bobs_token = ApiToken.issue(bob)[1]
    mine, his = post(client, alice_token, BODY, "shared"), post(client, bobs_token, BODY, "shared")
    assert mine.status_code == his.status_code == 201
    assert mine.json()["id"] != his.json()["id"] and Comparison.objects.count() == 2
    assert not his.has_header("Idempotent-Replayed")


def test_a_key_lives_24_hours(client, alice_token):
    first = post(client, alice_token, BODY, "key-3")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=23))
    assert post(client, alice_token, BODY, "key-3").content == first.content
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    later = post(client, alice_token, BODY, "key-3")
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert Comparison.objects.count() == 2 and IdempotencyKey.objects.count() == 1


def test_a_refused_submit_keeps_no_key_and_may_be_sent_again_corrected(client, alice_token):
    refused = post(client, alice_token, {**BODY, "routes": ["no:such"]}, "key-4")
    assert refused.status_code == 400 and not IdempotencyKey.objects.exists()
    assert post(client, alice_token, BODY, "key-4").status_code == 201
    assert Comparison.objects.count() == 1


def test_a_crash_keeps_neither_the_work_nor_the_key(client, alice_token, monkeypatch):
    real = services.create_from_form

    def crash_after_creating(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("crashed after the rows were written")

    monkeypatch.setattr(services, "create_from_form", crash_after_creating)
    with pytest.raises(RuntimeError):
        post(client, alice_token, BODY, "key-5")
    assert not Comparison.objects.exists() and not IdempotencyKey.objects.exists()
    monkeypatch.setattr(services, "create_from_form", real)
    assert post(client, alice_token, BODY, "key-5").status_code == 201
    assert Comparison.objects.count() == 1


@pytest.mark.parametrize("key", ["", "has space", "k" * 256, "ümlaut"])
def test_a_malformed_key_is_refused_naming_the_header(client, alice_token, key):
    response = post(client, alice_token, BODY, key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert not Comparison.objects.exists()


def test_batches_take_a_key_too(client, alice_token):
    body = {"prompt_set": "product", "routes": ["sandbox:fast"], "params": {"quality": "low"}}
    first = post(client, alice_token, body, "batch-1", path="/api/batches")
    again = post(client, alice_token, body, "batch-1", path="/api/batches")
    assert first.status_code == again.status_code == 201 and again.content == first.content
    assert Batch.objects.count() == 1 and Comparison.objects.count() == len(first.json()["comparison_ids"])
    other = post(client, alice_token, {**body, "name": "another"}, "batch-1", path="/api/batches")
    assert other.status_code == 422 and Batch.objects.count() == 1


CONCURRENT_SCRIPT = """
import json, os, sys, threading, time
sys.path.insert(0, os.getcwd())
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections
from django.test import Client
from compare import services
from compare.teams.models import ApiToken
from compare.models import Comparison
from compare.ops.models import IdempotencyKey
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("racer")
token = ApiToken.issue(user)[1]
real = services.create_from_form
def slow(*args, **kwargs):  # the first request is still working when the second arrives
    time.sleep(0.5)
    return real(*args, **kwargs)
services.create_from_form = slow
body = json.dumps({"prompt": "a fox", "routes": ["sandbox:fast"]})
barrier = threading.Barrier(2)
answers, errors = [], []
def submit():
    try:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY="same-key")
        barrier.wait()
        response = client.post("/api/comparisons", body, content_type="application/json")
        answers.append((response.status_code, response.content.decode()))
    except Exception as error:
        errors.append(repr(error))
    finally:
        connections.close_all()
threads = [threading.Thread(target=submit) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert not errors, errors
print(json.dumps({"answers": answers, "comparisons": Comparison.objects.count(),
                  "keys": IdempotencyKey.objects.count()}))
"""


def run_race(tmp_path, database_url=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VAR_DIR")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
                "CELERY_BROKER_URL": "memory://", "SANDBOX_LATENCY_SCALE": "0", "ALLOWED_HOSTS": "testserver"})
    if database_url:
        env["DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, "-c", CONCURRENT_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    (status_a, body_a), (status_b, body_b) = found["answers"]
    assert (status_a, status_b) == (201, 201) and body_a == body_b  # the second waited, then replayed
    assert found["comparisons"] == 1 and found["keys"] == 1


def test_two_requests_at_once_with_one_key_start_the_work_once_on_sqlite(tmp_path):
    run_race(tmp_path)


@pytest.mark.services
def test_two_requests_at_once_with_one_key_start_the_work_once_on_postgresql(tmp_path):
    with postgres_database("ipc_ops_idem") as (url, _):
        run_race(tmp_path, url)


def test_manage_py_compare_runs_once_per_key(alice, capsys):
    """`manage.py compare` calls the services directly (no HTTP): --idempotency-key gives it the
    same rule."""
    from django.core.management import CommandError, call_command

    args = ["a fox", "--user", "alice", "--route", "sandbox:fast", "--quality", "low"]
    call_command("compare", *args, "--idempotency-key", "cli-1")
    first = Comparison.objects.get()
    call_command("compare", *args, "--idempotency-key", "cli-1")
    assert "Already started with this key (nothing new started): comparison #" in capsys.readouterr().out
    assert list(Comparison.objects.all()) == [first]
    with pytest.raises(CommandError, match="already used with other arguments"):
        call_command("compare", "a hare", *args[1:], "--idempotency-key", "cli-1")
    call_command("compare", *args)  # no key: a new comparison each time
    assert Comparison.objects.count() == 2
    first.delete()
    with pytest.raises(CommandError, match="was deleted since"):
        call_command("compare", *args, "--idempotency-key", "cli-1")
