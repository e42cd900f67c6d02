"""E-mail notifications through Django's mail (locmem in tests): owners choose which members
get which events; a blind comparison's e-mail names no route."""

import pytest
from django.test import Client

from compare import services
from compare.engine import execution
from compare.notifications.models import EmailSubscription
from compare.teams.models import Membership, Role, Team

from tests.compare import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice, bob, django_user_model):
    alice.email, bob.email = "alice@example.org", "bob@example.org"
    alice.save()
    bob.save()
    team = Team.personal_for(alice)
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    return team


def run_all(comparison, capture):
    with capture(execute=True):
        for result in comparison.results.all():
            execution.execute_result(result.pk)


def test_owners_choose_who_gets_which_event_and_the_mail_goes_to_them_alone(
        alice, bob, team, mailoutbox, tasks_inline, django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "https://compare.example.org"
    owner = Client()
    owner.force_login(alice)
    saved = owner.post(f"/teams/{team.pk}/notifications/email",
                       {"email": [f"{bob.pk}:comparison.finished", f"{alice.pk}:budget.threshold",
                                  "999:comparison.finished", f"{bob.pk}:no.such.event"]})
    assert saved.status_code == 302
    assert set(EmailSubscription.objects.values_list("user_id", "event")) == {
        (bob.pk, "comparison.finished"), (alice.pk, "budget.threshold")}  # strangers and unknown events dropped
    member = Client()
    member.force_login(bob)
    assert member.post(f"/teams/{team.pk}/notifications/email", {"email": []}).status_code == 404
    assert EmailSubscription.objects.count() == 2

    comparison = factories.comparison(alice)
    run_all(comparison, django_capture_on_commit_callbacks)
    message, = mailoutbox
    assert message.to == ["bob@example.org"]
    assert f"Comparison #{comparison.pk} finished" in message.subject
    assert "sandbox:fast" in message.body or "Sandbox" in message.body
    assert f"https://compare.example.org/comparisons/{comparison.pk}/" in message.body


def test_a_blind_comparisons_email_names_no_route(alice, bob, team, mailoutbox, tasks_inline,
                                                  django_capture_on_commit_callbacks):
    EmailSubscription.objects.create(team=team, user=bob, event="comparison.finished")
    comparison = services.create_comparison(
        user=alice, prompt="a blind fox", route_keys=["sandbox:fast", "sandbox:steady"], blind=True,
        params={"size": "1024x1024", "quality": "low", "output_format": "png", "n": 1, "seed": None})
    run_all(comparison, django_capture_on_commit_callbacks)
    message, = mailoutbox
    text = (message.subject + message.body).lower()
    for result in comparison.results.all():
        assert result.route_key.lower() not in text and result.route_label.lower() not in text
    assert "sandbox" not in text and " ms" not in text and "$" not in text
    assert "blind" in text


def test_a_member_who_left_gets_no_more_mail(alice, bob, team, mailoutbox, tasks_inline,
                                             django_capture_on_commit_callbacks):
    EmailSubscription.objects.create(team=team, user=bob, event="comparison.finished")
    Membership.objects.filter(team=team, user=bob).delete()
    run_all(factories.comparison(alice), django_capture_on_commit_callbacks)
    assert mailoutbox == []
