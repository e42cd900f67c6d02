import pytest
from django.utils import timezone

from providers.base import ProviderCancelledError

from compare.engine import execution
from compare.models import Result, Status

from tests.compare import factories

pytestmark = pytest.mark.django_db


def test_cancelling_ends_queued_results_and_asks_running_ones_to_stop(alice_client, alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:slow"])
    running, queued = comparison.results.all()
    running.claim()
    response = alice_client.post(f"/comparisons/{comparison.pk}/cancel")
    assert response.status_code == 302
    queued.refresh_from_db(), running.refresh_from_db()
    assert queued.status == Status.CANCELLED and "provider was never called" in queued.error
    assert running.status == Status.RUNNING and running.cancel_requested_at is not None
    execution.execute_result(queued.pk)  # its task arrives later: it finds nothing to do
    assert Result.objects.get(pk=queued.pk).status == Status.CANCELLED


def test_a_running_result_stops_at_its_next_wait(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    result = comparison.results.get()
    result.claim()
    waits = []

    def fake_sleep(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            comparison.cancel()  # the user clicks Cancel during the second half-second

    wait = execution.cancellable_sleep(result, sleep=fake_sleep)
    with pytest.raises(ProviderCancelledError):
        wait(5)
    assert waits == [0.5, 0.5]  # noticed within half a second, not after the whole wait


def test_the_task_body_ends_cancelled_with_the_reason(alice, settings):
    settings.SANDBOX_LATENCY_SCALE = 1  # the sandbox waits its 0.8-2 s through the cancellable sleep
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    result = comparison.results.get()
    Result.objects.filter(pk=result.pk).update(cancel_requested_at=timezone.now())
    execution.execute_result(result.pk)
    result.refresh_from_db()
    assert result.status == Status.CANCELLED and result.error_code == "cancelled"
    assert "Cancelled by the user" in result.error and result.latency_ms < 600


def test_the_api_cancels_too(client, alice, alice_token):
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    response = client.post(f"/api/comparisons/{comparison.pk}/cancel", headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 200
    assert response.json()["cancel"] == {"cancelled": 1, "stopping": 0}
    assert response.json()["status"] == "done"
