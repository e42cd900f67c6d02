"""batch.finished: once, when the last comparison of a batch ends; per route its figures, or,
for a blind batch, only how many calls ended how. And deliveries a lost task left pending are
sent again (at least once)."""

import json
from datetime import timedelta

import pytest

from compare.batches.models import Batch
from compare.engine import execution
from compare.models import Result, Status
from compare.notifications import notifications
from compare.notifications.models import Delivery, DeliveryStatus, NotificationEvent
from compare.teams.models import Team

pytestmark = pytest.mark.django_db


def run_batch(client, blind=None):
    data = {"prompt": "", "prompt_set": "typography", "routes": ["sandbox:fast", "sandbox:steady"], "size": "square",
            "quality": "low", "output_format": "png", "n": "1", "use_prompt_sizes": "on", "blind": blind}
    response = client.post("/batches/new", {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Batch.objects.get()


def execute_all(batch, capture):
    results = list(Result.objects.filter(comparison__batch_item__batch=batch, status=Status.QUEUED))
    for index, result in enumerate(results):
        with capture(execute=True):
            execution.execute_result(result.pk)
        if index < len(results) - 1:
            assert not NotificationEvent.objects.filter(kind="batch.finished").exists()


def test_a_batch_is_announced_once_when_its_last_comparison_ends(alice, alice_client, receiver, private_allowed,
                                                                  tasks_inline, django_capture_on_commit_callbacks):
    notifications.create_webhook(Team.personal_for(alice), alice, url=receiver.url, events=["batch.finished"])
    batch = run_batch(alice_client)
    execute_all(batch, django_capture_on_commit_callbacks)

    request, = receiver.requests
    body = json.loads(request.content)
    assert body["event"] == "batch.finished"
    data = body["data"]
    assert data["batch"]["id"] == batch.pk and data["batch"]["url"] == f"https://compare.example.org/batches/{batch.pk}/"
    assert data["batch"]["comparisons"] == batch.items.count() and data["calls"] == 2 * batch.items.count()
    columns = {c["route"]: c for c in data["routes"]}
    assert set(columns) == {"sandbox:fast", "sandbox:steady"}
    assert all(c["succeeded"] == batch.items.count() and c["median_latency_ms"] is not None for c in columns.values())


def test_a_blind_batch_names_no_route(alice, alice_client, receiver, private_allowed, tasks_inline,
                                      django_capture_on_commit_callbacks):
    notifications.create_webhook(Team.personal_for(alice), alice, url=receiver.url, events=["batch.finished"])
    batch = run_batch(alice_client, blind="on")
    assert batch.blind
    execute_all(batch, django_capture_on_commit_callbacks)
    request, = receiver.requests
    raw = request.content.decode().lower()
    assert "sandbox" not in raw and "latency" not in raw and "cost" not in raw
    assert json.loads(request.content)["data"]["routes"] is None


def test_a_delivery_whose_task_was_lost_is_sent_again(alice, receiver, private_allowed, tasks_inline, settings):
    webhook, _ = notifications.create_webhook(Team.personal_for(alice), alice, url=receiver.url,
                                              events=["comparison.finished"])
    notifications.send_test(webhook, alice)  # its task is never run: as if the broker lost it
    delivery = Delivery.objects.get()
    assert notifications.resend_due() == 0  # not late yet
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=notifications.timezone.now() - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS + 1))
    assert notifications.resend_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1
    assert notifications.resend_due() == 0
