"""The webhooks API and page: owners only, bad input named, the secret shown once."""

import json

import pytest
from django.test import Client

from compare.notifications.models import Delivery, Webhook
from compare.teams.models import Membership, Role, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice):
    return Team.personal_for(alice)


@pytest.fixture
def owner(alice):
    client = Client()
    client.force_login(alice)
    return client


def post(client, team, body):
    return client.post(f"/api/teams/{team.pk}/webhooks", json.dumps(body), content_type="application/json")


def test_an_owner_creates_lists_and_deletes_a_webhook_and_sees_the_secret_once(owner, team, private_allowed,
                                                                              receiver):
    created = post(owner, team, {"url": receiver.url, "events": ["comparison.finished", "budget.threshold"]})
    assert created.status_code == 201
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 30 and body["secret_last4"] == secret[-4:]
    assert body["format"] == "json" and body["events"] == ["comparison.finished", "budget.threshold"]

    listed = owner.get(f"/api/teams/{team.pk}/webhooks")
    assert listed.status_code == 200 and secret not in listed.content.decode()
    hook, = listed.json()["webhooks"]
    assert hook["id"] == body["id"] and hook["secret_last4"] == secret[-4:] and "secret" not in hook
    assert all(e["emitted"] for e in listed.json()["events"])  # benchmark.* too, since benchmarks exist
    one = owner.get(f"/api/teams/{team.pk}/webhooks/{body['id']}")
    assert one.status_code == 200 and secret not in one.content.decode()
    page = owner.get(f"/teams/{team.pk}/notifications")
    assert page.status_code == 200 and receiver.url in page.content.decode() and secret not in page.content.decode()

    chosen = post(owner, team, {"url": receiver.url, "events": ["batch.finished"], "secret": "s" * 20 + "tail",
                                "format": "slack"})
    assert chosen.status_code == 201 and chosen.json()["secret"] == "s" * 20 + "tail"

    gone = owner.delete(f"/api/teams/{team.pk}/webhooks/{body['id']}")
    assert gone.status_code == 204 and not Webhook.objects.filter(pk=body["id"]).exists()
    assert owner.get(f"/api/teams/{team.pk}/webhooks/{body['id']}").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"events": ["comparison.finished"]}, "__all__"),
    ({"url": "https://example.org/h", "events": []}, "events"),
    ({"url": "https://example.org/h", "events": ["comparison.started"]}, "events"),
    ({"url": "https://example.org/h", "events": "comparison.finished"}, "events"),
    ({"url": "https://example.org/h", "events": ["batch.finished"], "format": "xml"}, "format"),
    ({"url": "https://example.org/h", "events": ["batch.finished"], "secret": "short"}, "secret"),
    ({"url": "https://example.org/h", "events": ["batch.finished"], "colour": "red"}, "__all__"),
    ({"url": 12, "events": ["batch.finished"]}, "url"),
    ({"url": "http://127.0.0.1:9/hook", "events": ["batch.finished"]}, "url"),
    ({"url": "https://192.168.0.10/hook", "events": ["batch.finished"]}, "url"),
])
def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(owner, team, settings, body, field):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    response = post(owner, team, body)
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert not Webhook.objects.exists()


def test_malformed_json_is_a_400(owner, team):
    response = owner.post(f"/api/teams/{team.pk}/webhooks", "{nope", content_type="application/json")
    assert response.status_code == 400


def test_members_get_403_others_404_and_strangers_401(alice, bob, team, owner, private_allowed, receiver,
                                                      django_user_model):
    hook_id = post(owner, team, {"url": receiver.url, "events": ["comparison.finished"]}).json()["id"]
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    member = Client()
    member.force_login(bob)
    assert member.get(f"/api/teams/{team.pk}/webhooks").status_code == 403
    assert post(member, team, {"url": receiver.url, "events": ["comparison.finished"]}).status_code == 403
    assert member.delete(f"/api/teams/{team.pk}/webhooks/{hook_id}").status_code == 403
    assert member.get(f"/teams/{team.pk}/notifications").status_code == 404  # members see a team, not its controls
    assert member.post(f"/teams/{team.pk}/webhooks/{hook_id}/delete").status_code == 404

    carol = django_user_model.objects.create_user("carol", password="carol-password")
    other = Client()
    other.force_login(carol)
    assert other.get(f"/api/teams/{team.pk}/webhooks").status_code == 404
    assert other.delete(f"/api/teams/{team.pk}/webhooks/{hook_id}").status_code == 404
    assert other.get(f"/teams/{team.pk}/notifications").status_code == 404
    assert other.post(f"/teams/{team.pk}/webhooks/{hook_id}/test").status_code == 404

    anonymous = Client()
    assert anonymous.get(f"/api/teams/{team.pk}/webhooks").status_code == 401
    assert anonymous.delete(f"/api/teams/{team.pk}/webhooks/{hook_id}").status_code == 401
    page = anonymous.get(f"/teams/{team.pk}/notifications")
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert Webhook.objects.filter(pk=hook_id).exists() and not Delivery.objects.exists()


def test_the_page_adds_a_webhook_shows_its_secret_once_and_sends_a_test(owner, team, private_allowed, receiver,
                                                                         tasks_inline,
                                                                         django_capture_on_commit_callbacks):
    added = owner.post(f"/teams/{team.pk}/webhooks/new", {"url": receiver.url, "events": ["comparison.finished"],
                                                           "format": "json"})
    html = added.content.decode()
    assert added.status_code == 200
    webhook = Webhook.objects.get()
    start = html.index('id="new-secret"')
    secret = html[start:].split("<code>")[2].split("</code>")[0]
    assert secret.startswith("whsec_") and secret[-4:] == webhook.secret_last4
    again = owner.get(f"/teams/{team.pk}/notifications").content.decode()
    assert secret not in again and f"····{webhook.secret_last4}" in again

    with_errors = owner.post(f"/teams/{team.pk}/webhooks/new", {"url": "ftp://x", "events": ["nope"]})
    assert with_errors.status_code == 400 and "Unknown event" in with_errors.content.decode()
    assert Webhook.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        tested = owner.post(f"/teams/{team.pk}/webhooks/{webhook.pk}/test")
    assert tested.status_code == 302
    request, = receiver.requests
    assert request.headers["X-Event"] == "webhook.test"
    page = owner.get(f"/teams/{team.pk}/notifications").content.decode()
    assert "webhook.test" in page and "succeeded" in page and secret not in page

    assert owner.post(f"/teams/{team.pk}/webhooks/{webhook.pk}/delete").status_code == 302
    assert not Webhook.objects.exists()
