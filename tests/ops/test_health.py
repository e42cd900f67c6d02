"""GET /healthz: no login, every dependency checked, 503 naming the one that is down, and nothing
in the answer about any setting or secret."""

import json
import socket
from datetime import timedelta

import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from compare.ops import health
from compare.ops.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db
CHECKS = {"database", "broker", "workers", "storage"}


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings_values(settings):
    """Strings of the settings an answer must not reveal."""
    return [settings.SECRET_KEY, str(settings.VAR_DIR), str(settings.MEDIA_ROOT), settings.CELERY_BROKER_URL,
            str(settings.DATABASES["default"]["NAME"])]


def test_all_checks_answer_200_without_login_with_a_live_worker(client, settings):
    WorkerHeartbeat.objects.create(hostname="celery@box-1")
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and set(body["checks"]) == CHECKS
    assert all(check["status"] == "ok" for check in body["checks"].values()), body
    assert body["checks"]["workers"]["alive"] == 1
    assert response["Cache-Control"].startswith("max-age=0")
    text = response.content.decode()
    for value in settings_values(settings):
        assert value not in text


def test_no_live_worker_is_degraded_but_serving(client, settings):
    stale = timezone.now() - timedelta(seconds=10 * settings.WORKER_HEARTBEAT_SECONDS)
    WorkerHeartbeat.objects.create(hostname="celery@gone", seen_at=stale)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["workers"] == {"status": "none", "alive": 0, "ms": body["checks"]["workers"]["ms"]}
    assert "failing" not in body


def test_a_database_that_is_down_gives_503_naming_it_and_nothing_of_the_error(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError('connection to server at "10.9.8.7", port 5432 failed: password "hunter2-secret" '
                               'authentication failed')

    monkeypatch.setattr(connections["default"], "cursor", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["failing"] == ["database"]
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"] == "OperationalError"
    assert body["checks"]["workers"] == {"status": "unknown"}  # its heartbeats are in that database
    assert body["checks"]["broker"]["status"] == body["checks"]["storage"]["status"] == "ok"
    assert b"10.9.8.7" not in response.content and b"hunter2" not in response.content


def test_a_broker_that_is_down_gives_503_naming_it_and_not_its_url(client, settings):
    port = closed_port()
    settings.CELERY_BROKER_URL = f"redis://:broker-password@127.0.0.1:{port}/0"
    WorkerHeartbeat.objects.create(hostname="celery@box-1")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"] and body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"
    text = response.content.decode()
    assert str(port) not in text and "broker-password" not in text and "redis" not in text


def test_a_filesystem_broker_with_a_missing_folder_is_down(client, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "queue"),
                                                "data_folder_out": str(tmp_path / "queue")}
    assert client.get("/healthz").json()["failing"] == ["broker"]
    (tmp_path / "queue").mkdir()
    assert "failing" not in client.get("/healthz").json()


def test_probes_reach_it_by_address_and_over_plain_http(client, settings):
    """A load balancer asks with Host: <address> and over HTTP: no 400 for the host, no redirect."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/routes/", HTTP_HOST="10.0.0.7:8000").status_code == 400  # pages keep the host check
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200 and response.json()["checks"]["database"]["status"] == "ok"


def test_only_get(client):
    assert client.post("/healthz").status_code == 405


def test_the_heartbeat_counts_a_worker_until_it_is_quiet_for_three_periods(settings):
    health.beat("celery@box-2")
    health.beat("celery@box-2")
    assert list(health.alive_workers().values_list("hostname", flat=True)) == ["celery@box-2"]
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS + 1))
    assert not health.alive_workers().exists()
    health.stop_heartbeat("celery@box-2")
    assert not WorkerHeartbeat.objects.exists()


def test_the_json_says_nothing_else(client):
    WorkerHeartbeat.objects.create(hostname="celery@secret-host-name")
    body = client.get("/healthz").json()
    assert "secret-host-name" not in json.dumps(body)  # worker names are not shown, only how many
    assert set(body) == {"status", "checks"}


def test_the_command_answers_like_the_endpoint_and_checks_this_machines_worker(capsys):
    from django.core.management import call_command

    call_command("healthcheck")
    assert json.loads(capsys.readouterr().out)["status"] == "degraded"  # no worker: serving
    with pytest.raises(SystemExit) as exited:
        call_command("healthcheck", "--worker")
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out)["failing"] == ["this_worker"]
    WorkerHeartbeat.objects.create(hostname="celery@elsewhere")  # another machine's worker
    with pytest.raises(SystemExit):
        call_command("healthcheck", "--worker")
    capsys.readouterr()
    health.beat(f"celery@{socket.gethostname()}")
    call_command("healthcheck", "--worker")
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "ok" and answer["checks"]["this_worker"] == {"status": "ok"}


def test_a_head_probe(client):
    assert client.head("/healthz").status_code == 200
