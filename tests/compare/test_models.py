import pytest

from compare.models import Comparison, Result, Status
from compare.teams.models import ApiToken

from tests.compare import factories

pytestmark = pytest.mark.django_db


def test_a_new_comparison_has_one_queued_result_per_route_in_order(alice):
    c = factories.comparison(alice, routes=["sandbox:slow", "sandbox:fast", "sandbox:steady"])
    assert [(r.route_key, r.status, r.position) for r in c.results.all()] == [
        ("sandbox:slow", "queued", 0), ("sandbox:fast", "queued", 1), ("sandbox:steady", "queued", 2)]
    assert c.status == "running"


def test_a_result_is_claimed_once(alice):
    result = factories.comparison(alice).results.first()
    assert result.claim("worker-a") is True
    assert Result.objects.get(pk=result.pk).claim("worker-b") is False
    result.refresh_from_db()
    assert (result.status, result.worker) == ("running", "worker-a")


def test_queue_wait_is_measured_from_enqueue_to_claim(alice):
    from datetime import timedelta

    from django.utils import timezone

    result = factories.comparison(alice).results.first()
    Result.objects.filter(pk=result.pk).update(enqueued_at=timezone.now() - timedelta(seconds=2))
    result.refresh_from_db()
    result.claim()
    assert 1900 < result.queue_ms < 5000


def test_only_a_running_result_can_finish(alice):
    result = factories.comparison(alice).results.first()
    assert result.finish(Status.SUCCEEDED) is False
    result.claim()
    assert result.finish(Status.FAILED, error="boom") is True
    assert result.finish(Status.SUCCEEDED) is False
    assert Result.objects.get(pk=result.pk).error == "boom"


def test_a_comparison_is_done_when_every_result_is_terminal(alice):
    c = factories.comparison(alice)
    first, second = c.results.all()
    first.claim(), first.finish(Status.SUCCEEDED)
    assert Comparison.objects.get(pk=c.pk).status == "running"
    second.claim(), second.finish(Status.TIMED_OUT)
    assert Comparison.objects.get(pk=c.pk).status == "done"


def test_history_filters_by_text_route_and_status(alice):
    fox = factories.comparison(alice, prompt="A red FOX", routes=["sandbox:fast"])
    owl = factories.comparison(alice, prompt="an owl", routes=["sandbox:slow"])
    owl_result = owl.results.get()
    owl_result.claim(), owl_result.finish(Status.FAILED)
    assert list(Comparison.objects.search("fox")) == [fox]
    assert list(Comparison.objects.with_route("sandbox:slow")) == [owl]
    assert list(Comparison.objects.with_status("failed")) == [owl]
    assert list(Comparison.objects.with_status("done")) == [owl]
    assert list(Comparison.objects.with_status("running")) == [fox]


def test_an_api_token_is_stored_hashed_and_finds_its_user(alice):
    row, token = ApiToken.issue(alice)
    assert token not in row.key_hash and token.startswith(row.prefix)
    assert ApiToken.objects.user_for(token) == alice
    assert ApiToken.objects.user_for(token + "x") is None
    alice.is_active = False
    alice.save()
    assert ApiToken.objects.user_for(token) is None


def test_listed_for_is_visible_to_read_by_team_ids(alice, bob, studio):
    """The API's list picks comparisons by the ids of the reader's teams (listed_for, for the
    database's plan); they are exactly the comparisons visible_to the reader, newest first."""
    from django.contrib.auth.models import AnonymousUser

    from tests.helpers import user

    mine = factories.comparison(alice)  # alice's own team
    studios = [factories.finished(studio, prompt=f"studio {n}", run=False) for n in range(3)]
    bobs = factories.comparison(bob)
    carol, vic = user("carol"), user("vic")
    for reader in (alice, bob, carol, vic, AnonymousUser()):
        listed = list(Comparison.objects.listed_for(reader))
        assert listed == list(Comparison.objects.visible_to(reader)), reader
    assert set(Comparison.objects.listed_for(alice)) == {mine, *studios}
    assert list(Comparison.objects.listed_for(carol)) == studios[::-1]  # newest first
    assert list(Comparison.objects.listed_for(bob)) == [bobs]
    assert not Comparison.objects.listed_for(AnonymousUser()).exists()
