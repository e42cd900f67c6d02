"""Per-route limits hold across workers because they live in the database."""

import pytest

from compare import tasks
from compare.engine import execution, limits
from compare.models import Result, RouteSlot, Status

from tests.compare import factories

pytestmark = pytest.mark.django_db


def test_the_spec_reads_concurrency_and_calls_per_minute_with_provider_wildcards(settings):
    settings.ROUTE_LIMITS = "openai:gpt-image-2=4/60; fal:*=/120; sandbox:fast=2/"
    assert limits.limits_for("openai:gpt-image-2") == (4, 60)
    assert limits.limits_for("fal:openai/gpt-image-2") == (None, 120)
    assert limits.limits_for("sandbox:fast") == (2, None)
    assert limits.limits_for("replicate:x") == (None, None)
    with pytest.raises(ValueError, match="CONCURRENT/PER_MINUTE"):
        limits.parse("openai:x=four/")


def test_a_route_at_its_concurrency_limit_makes_the_next_call_wait(alice, settings):
    settings.ROUTE_LIMITS = "sandbox:fast=1/"
    first, second = (factories.comparison(alice, routes=["sandbox:fast"]).results.get() for _ in range(2))
    assert limits.acquire(first) and not limits.acquire(second)
    limits.release(first)
    assert limits.acquire(second)


def test_calls_per_minute_are_counted_for_every_worker(alice, settings):
    settings.ROUTE_LIMITS = "sandbox:fast=/2"
    results = [factories.comparison(alice, routes=["sandbox:fast"]).results.get() for _ in range(3)]
    assert [limits.acquire(r) for r in results] == [True, True, False]


def test_a_limited_result_stays_queued_and_is_sent_again_shortly(alice, settings, monkeypatch):
    settings.ROUTE_LIMITS, settings.ROUTE_LIMIT_RETRY_SECONDS = "sandbox:fast=1/", 2.0
    sent = []
    # (countdown=None: a call that ends sends its team's next waiting result at once, tasks.dispatch)
    monkeypatch.setattr(tasks.run_result, "apply_async", lambda args, countdown=None: sent.append((args, countdown)))
    busy, waiting = (factories.comparison(alice, routes=["sandbox:fast"]).results.get() for _ in range(2))
    assert limits.acquire(busy)
    tasks.run_result(waiting.pk)
    assert Result.objects.get(pk=waiting.pk).status == Status.QUEUED and sent == [((waiting.pk,), 2.0)]
    limits.release(busy)
    execution.execute_result(waiting.pk)
    assert Result.objects.get(pk=waiting.pk).status == Status.SUCCEEDED
    assert not RouteSlot.objects.filter(result__isnull=False).exists()  # given back after the call


def test_the_reaper_frees_slots_a_dead_worker_held(alice, settings):
    settings.ROUTE_LIMITS = "sandbox:fast=1/"
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    assert limits.acquire(result)
    result.claim()
    result.finish(Status.FAILED, error_code="worker_lost")
    assert limits.free_lost_slots() == 1


def test_a_sent_result_holding_its_team_slot_before_its_claim_counts_once(alice, settings):
    """A worker takes the team's slots of a whole message before it claims them: in between, each
    is still queued and sent, and must not count twice (the team's next comparison would wait)."""
    settings.TEAM_MAX_IN_FLIGHT = 16
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
    team_id = comparison.team_id
    assert tasks.dispatch(team_id) == 2
    assert limits.in_flight(team_id) == 2
    for result in comparison.results.all():
        assert limits.acquire_team(result, team_id)
    assert limits.in_flight(team_id) == 2
