"""Attacks on the shared workers (issue 11, item 4): one comparison with hundreds of copies of a
route, and one team's flood of calls in front of another team's single call."""

import json

import pytest
from compare import services, tasks
from compare.batches.models import Batch
from compare.engine import execution, limits
from compare.models import Comparison, Result, Status, TeamSlot
from compare.teams.models import Team

from tests.compare import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The results sent to the broker to run, in order, as (result id, countdown): one per
    run_result message, each of a run_results message."""
    record = []
    monkeypatch.setattr(tasks.run_result, "apply_async",
                        lambda args, countdown=None, **options: record.append((args[0], countdown)))
    monkeypatch.setattr(tasks.run_results, "apply_async",
                        lambda args, countdown=None, **options: record.extend((pk, countdown) for pk in args[0]))
    return record


def test_a_comparison_over_the_call_cap_is_a_400(alice_client, settings):
    settings.MAX_CALLS_PER_COMPARISON = 40

    def post(routes, n=1):
        return alice_client.post("/api/comparisons", data=json.dumps(
            {"prompt": "x", "routes": routes, "params": {"n": n}}), content_type="application/json")

    response = post(["sandbox:fast"] * 300)
    assert response.status_code == 400
    assert response.json()["errors"]["routes"] == [
        "Too many calls: this comparison would make 300 provider calls (routes × n, each repeat counted); "
        "at most 40 are allowed (MAX_CALLS_PER_COMPARISON)."]
    assert "would make 44 provider calls" in post(["sandbox:fast", "sandbox:steady"] * 5 + ["sandbox:slow"], n=4
                                                  ).json()["errors"]["routes"][0]
    page = alice_client.post("/", {"prompt": "x", "routes": ["sandbox:fast"] * 41, "size": "square",
                                   "quality": "low", "output_format": "png", "n": "1"})
    assert page.status_code == 400 and "at most 40 are allowed" in page.content.decode()
    assert not Comparison.objects.exists()
    assert post(["sandbox:fast"] * 40).status_code == 201


def test_a_batch_over_the_call_cap_is_a_400(alice_client, settings):
    settings.MAX_CALLS_PER_BATCH = 5
    response = alice_client.post("/api/batches", data=json.dumps(
        {"prompt_set": "typography", "routes": ["sandbox:fast", "sandbox:steady"]}), content_type="application/json")
    assert response.status_code == 400
    assert "at most 5 are allowed (MAX_CALLS_PER_BATCH)" in response.json()["errors"]["__all__"][0]
    assert not Batch.objects.exists()


def test_one_teams_flood_does_not_delay_another_teams_first_call(alice, bob, settings, sent):
    """Alice submits 10 comparisons of 40 calls; then Bob submits one call. Bob's call must not be
    queued behind alice's 400: the broker holds at most TEAM_MAX_IN_FLIGHT of hers in front of
    it, and once sent it runs although alice has every one of her slots busy."""
    settings.TEAM_MAX_IN_FLIGHT = 16
    flood = [factories.comparison(alice, routes=["sandbox:fast"] * 40) for _ in range(10)]
    for comparison in flood:
        services.enqueue(comparison.pk)
    first = factories.comparison(bob, routes=["sandbox:fast"]).results.get()
    services.enqueue(first.comparison_id)

    order = [pk for pk, _ in sent]
    assert first.pk in order
    assert order.index(first.pk) <= 16  # behind at most alice's fair share, not her 400 calls
    alices = Result.objects.filter(comparison__team=Team.personal_for(alice))
    assert alices.filter(sent_at__isnull=False).count() == 16
    assert alices.filter(sent_at__isnull=True, status=Status.QUEUED).count() == 384  # waiting in the database

    # Alice's 16 calls run (each holds one of her slots); her next one would hold no worker.
    running = list(alices.filter(sent_at__isnull=False))
    for result in running:
        assert limits.acquire_team(result, result.comparison.team_id) and result.claim("w")
    tasks.run_result(alices.filter(sent_at__isnull=True).first().pk)
    assert alices.filter(status=Status.RUNNING).count() == 16 and sent[-1][1] is not None  # back later

    execution.execute_result(first.pk)  # bob's call runs at once: his team has its own share
    assert Result.objects.get(pk=first.pk).status == Status.SUCCEEDED

    # When one of alice's calls ends, exactly one more of hers is sent: her turn passes on.
    before = len(sent)
    done = running[0]
    done.finish(Status.SUCCEEDED)
    limits.release_team(done)
    tasks.dispatch(done.comparison.team_id)
    assert len(sent) == before + 1 and Result.objects.get(pk=sent[-1][0]).comparison.team == Team.personal_for(alice)
    assert TeamSlot.objects.filter(team=Team.personal_for(alice), result__isnull=False).count() == 15


def test_a_team_at_its_limit_keeps_its_calls_queued_and_holds_no_worker(alice, settings, sent):
    settings.TEAM_MAX_IN_FLIGHT, settings.ROUTE_LIMIT_RETRY_SECONDS = 1, 2.0
    busy, waiting = factories.comparison(alice, routes=["sandbox:fast", "sandbox:fast"]).results.all()
    assert limits.acquire_team(busy, busy.comparison.team_id)
    tasks.run_result(waiting.pk)
    assert Result.objects.get(pk=waiting.pk).status == Status.QUEUED and sent == [(waiting.pk, 2.0)]
    limits.release_team(busy)
    execution.execute_result(waiting.pk)
    assert Result.objects.get(pk=waiting.pk).status == Status.SUCCEEDED
    assert not TeamSlot.objects.filter(result__isnull=False).exists()


def test_the_reaper_sends_a_lost_turn_within_the_teams_share(alice, settings, sent):
    """A waiting result whose team's turn was never passed on (a worker died) is sent by the
    reaper, but never more than the team's share at once."""
    from datetime import timedelta

    from django.utils import timezone

    settings.TEAM_MAX_IN_FLIGHT, settings.REQUEUE_AFTER_SECONDS = 2, 300
    comparison = factories.comparison(alice, routes=["sandbox:fast"] * 5)
    Result.objects.filter(comparison=comparison).update(enqueued_at=timezone.now() - timedelta(seconds=301))
    assert tasks.reap_stale() == (0, 0, 2)
    assert len(sent) == 2 and tasks.reap_stale() == (0, 0, 0)



def test_a_call_that_crashes_after_its_claim_still_passes_its_teams_turn_on(alice, settings, sent, monkeypatch):
    settings.TEAM_MAX_IN_FLIGHT = 1
    first, second = factories.comparison(alice, routes=["sandbox:fast", "sandbox:fast"]).results.order_by("enqueued_at", "id")
    services.enqueue(first.comparison_id)
    assert len(sent) == 1  # the team's one share: the other waits in the database
    running = sent[0][0]

    def crash(*args, **kwargs):
        raise RuntimeError("storage is down")

    monkeypatch.setattr(execution, "store_outcome", crash)
    with pytest.raises(RuntimeError):
        tasks.run_result(running)
    waiting = ({first.pk, second.pk} - {running}).pop()
    assert sent[1:] == [(waiting, None)] and not TeamSlot.objects.filter(result__isnull=False).exists()


def test_results_sent_at_once_go_in_two_messages_at_least_and_claim_batch_at_most(settings, monkeypatch):
    settings.CLAIM_BATCH, settings.WORKER_CALLS = 10, 1000
    assert [tasks.message_size(n) for n in (1, 2, 3, 6, 20, 50)] == [1, 1, 2, 3, 10, 10]
    settings.WORKER_CALLS = 0  # calls inside their task: one result to a message
    assert tasks.message_size(50) == 1
    settings.WORKER_CALLS = 1000
    messages = []
    monkeypatch.setattr(tasks.limits, "take_turns", lambda team_id, only=None: list(range(1, 7)))
    monkeypatch.setattr(tasks.run_results, "apply_async", lambda args, **options: messages.append(list(args[0])))
    monkeypatch.setattr(tasks.run_result, "apply_async", lambda args, **options: messages.append([args[0]]))
    assert tasks.dispatch(team_id=1) == 6
    assert messages == [[1, 2, 3], [4, 5, 6]]  # a 6-route comparison: two worker processes can share it
