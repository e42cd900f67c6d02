"""Webhook deliveries against a real receiver on 127.0.0.1: what is sent, how it is signed,
the retries, what a blind comparison keeps hidden, and where deliveries may not go."""

import hashlib
import hmac
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from compare import services
from compare.engine import execution
from compare.notifications import notifications
from compare.notifications.models import Delivery, DeliveryStatus, NotificationEvent
from compare.teams.crypto import decrypt
from compare.teams.models import Team

from tests.compare import factories

pytestmark = pytest.mark.django_db


def run_all(comparison, capture):
    """Every result of the comparison run by the sandbox, and the commit callbacks then run
    (the events' deliveries are queued on commit)."""
    with capture(execute=True):
        for result in comparison.results.all():
            execution.execute_result(result.pk)


def verify(secret, request):
    expected = "sha256=" + hmac.new(secret.encode(), request.content, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers["X-Signature-256"], expected)


def hook(alice, url, **fields):
    team = Team.personal_for(alice)
    return notifications.create_webhook(team, alice, url=url, events=fields.pop("events", ["comparison.finished"]),
                                        **fields)


def test_a_finished_comparison_is_posted_once_signed_over_the_raw_body(
        alice, receiver, private_allowed, tasks_inline, django_capture_on_commit_callbacks):
    webhook, secret = hook(alice, receiver.url)
    comparison = factories.comparison(alice)
    run_all(comparison, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 1  # two results ended; one event, one delivery
    request = receiver.requests[0]
    assert verify(secret, request)
    assert not verify(secret + "x", request)
    body = json.loads(request.content)
    event = NotificationEvent.objects.get(kind="comparison.finished")
    delivery = Delivery.objects.get()
    assert request.headers["X-Event"] == "comparison.finished"
    assert request.headers["X-Delivery-Id"] == body["delivery_id"] == str(delivery.uuid)
    assert request.headers["X-Timestamp"] == str(body["sent_at"])  # the timestamp is inside the signed body
    assert body["event"] == "comparison.finished" and body["id"] == str(event.uuid)
    assert body["created_at"] == event.created_at.isoformat()
    data = body["data"]
    assert data["comparison"]["id"] == comparison.pk
    assert data["comparison"]["url"] == f"https://compare.example.org/comparisons/{comparison.pk}/"
    assert data["routes_hidden"] is False and data["statuses"] == {"succeeded": 2}
    by_route = {row["route"]: row for row in data["routes"]}
    assert set(by_route) == {"sandbox:fast", "sandbox:steady"}
    for row in by_route.values():
        assert row["status"] == "succeeded" and row["latency_ms"] is not None and "cost_usd" in row
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1 and delivery.response_code == 200
    assert secret not in request.content.decode()


def test_a_500_is_retried_with_backoff_and_every_attempt_is_recorded(
        alice, receiver, private_allowed, tasks_inline, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    receiver.codes = [500]
    webhook, secret = hook(alice, receiver.url)
    run_all(factories.comparison(alice), django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    attempts = list(delivery.attempt_rows.values_list("number", "response_code"))
    assert attempts == [(1, 500), (2, 200)]
    assert "500" in delivery.attempt_rows.get(number=1).error
    assert tasks_inline == [30]  # the second attempt was scheduled 30 s after the first
    first, second = receiver.requests
    assert first.headers["X-Delivery-Id"] == second.headers["X-Delivery-Id"]  # the same delivery, again
    assert json.loads(first.content)["id"] == json.loads(second.content)["id"]
    assert verify(secret, first) and verify(secret, second)


def test_attempts_are_bounded_and_the_wait_doubles(
        alice, receiver, private_allowed, tasks_inline, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF_SECONDS = 5
    receiver.codes = [503] * 10
    hook(alice, receiver.url)
    run_all(factories.comparison(alice), django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3 and delivery.response_code == 503
    assert delivery.attempt_rows.count() == 3 and len(receiver.requests) == 3
    assert tasks_inline == [5, 10]
    assert notifications.attempt(delivery.pk) is None and len(receiver.requests) == 3  # nothing more is sent


def test_a_blind_comparison_names_no_route_in_its_delivery(
        alice, receiver, private_allowed, tasks_inline, django_capture_on_commit_callbacks):
    webhook, secret = hook(alice, receiver.url)
    slack, _ = hook(alice, receiver.url, format="slack")
    comparison = services.create_comparison(
        user=alice, prompt="a blind fox", route_keys=["sandbox:fast", "sandbox:steady"], blind=True,
        params={"size": "1024x1024", "quality": "low", "output_format": "png", "n": 1, "seed": None})
    run_all(comparison, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 2
    hidden = {"sandbox", "fast", "steady", "latency", "cost"}
    for result in comparison.results.all():
        hidden |= {result.route_label, result.route_key}
    for request in receiver.requests:
        raw = request.content.decode()
        assert not [word for word in hidden if word.lower() in raw.lower()], raw
    body = next(json.loads(r.content) for r in receiver.requests if "event" in json.loads(r.content))
    assert body["data"]["routes"] is None and body["data"]["routes_hidden"] is True
    assert body["data"]["statuses"] == {"succeeded": 2}  # how many calls ended how: no order, no names


def test_slack_format_is_slacks_text_shape(alice, receiver, private_allowed, tasks_inline,
                                           django_capture_on_commit_callbacks):
    webhook, secret = hook(alice, receiver.url, format="slack")
    comparison = factories.comparison(alice)
    run_all(comparison, django_capture_on_commit_callbacks)

    request, = receiver.requests
    body = json.loads(request.content)
    assert list(body) == ["text"]
    assert f"Comparison #{comparison.pk} finished" in body["text"]
    assert f"https://compare.example.org/comparisons/{comparison.pk}/" in body["text"]
    assert verify(secret, request)


def test_private_addresses_are_refused_with_the_switch_off(alice, receiver, settings, tasks_inline):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    for url in (receiver.url, "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://[::1]/hook",
                "ftp://example.org/x", "https://localhost/hook"):
        with pytest.raises(notifications.WebhookRefused) as refused:
            hook(alice, url)
        assert "url" in refused.value.errors, url
    # Saved while allowed, sent after the switch went off: refused at connect time, nothing sent.
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    webhook, _ = hook(alice, receiver.url)
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    notifications.send_test(webhook, alice)
    delivery = Delivery.objects.get()
    notifications.deliver_webhook.run(delivery.pk)
    delivery.refresh_from_db()
    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert "Refused" in delivery.attempt_rows.get().error


def test_a_redirect_is_not_followed(alice, receiver, private_allowed, settings, tasks_inline):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.codes = [302]
    webhook, _ = hook(alice, receiver.url)
    notifications.send_test(webhook, alice)
    notifications.deliver_webhook.run(Delivery.objects.get().pk)
    delivery = Delivery.objects.get()
    assert len(receiver.requests) == 1 and delivery.status == DeliveryStatus.FAILED
    assert "redirects are not followed" in delivery.attempt_rows.get().error


def test_the_secret_is_stored_encrypted_and_never_logged(alice, receiver, private_allowed, tasks_inline, caplog,
                                                         settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.codes = [500, 500]
    webhook, secret = hook(alice, receiver.url, secret="my-very-own-signing-secret")
    assert secret == "my-very-own-signing-secret"
    assert secret not in webhook.secret_ciphertext and webhook.secret_last4 == "cret"
    with caplog.at_level("DEBUG"):
        notifications.send_test(webhook, alice)
        notifications.deliver_webhook.run(Delivery.objects.get().pk)
    assert len(receiver.requests) == 2 and "failed after 2 attempt(s)" in caplog.text
    assert secret not in caplog.text
    assert all(verify(secret, r) for r in receiver.requests)


def test_rotating_the_keys_keeps_webhook_secrets(alice, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = old
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    webhook, secret = hook(alice, "http://127.0.0.1:9/hook")
    settings.CREDENTIALS_KEYS = f"{new},{old}"
    call_command("rotate_credentials")
    settings.CREDENTIALS_KEYS = new
    webhook.refresh_from_db()
    assert decrypt(webhook.secret_ciphertext) == secret
