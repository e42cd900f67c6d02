"""The body of a Celery task, run in-process: claim, call, store, end in a terminal state."""

import pytest

from providers.base import (
    Capabilities, ContentPolicyError, GeneratedImage, ImageResult, Provider, Route, Usage,
)

from compare import catalog
from compare.engine import execution
from compare.models import Result, Status

from tests.compare import factories
from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db


class Scripted(Provider):
    """A provider whose answer the test scripts; counts its calls."""

    slug = "scripted"
    name = "Scripted"
    calls = 0
    credential_names = ("SCRIPTED_KEY",)

    def generate(self, request):
        Scripted.calls += 1
        answer = self.route.options["answer"]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def scripted(monkeypatch):
    """Route lookups in the task body find a scripted route under the result's key."""
    Scripted.calls = 0
    monkeypatch.setenv("SCRIPTED_KEY", "sk-secret-value")

    def use(answer):
        route = Route("sandbox:fast", Scripted, "m", "Scripted", Capabilities(), {"answer": answer})
        monkeypatch.setattr(catalog, "get_route", lambda key, team=None, **_: route)

    return use


def run_one(user, **params):
    result = factories.comparison(user, routes=["sandbox:fast"], **params).results.get()
    execution.execute_result(result.pk, worker="w1")
    return Result.objects.get(pk=result.pk)


def test_a_sandbox_result_succeeds_with_images_timings_and_reported_cost(alice):
    result = run_one(alice, size="1024x1536", n=2, output_format="jpeg")
    assert result.status == Status.SUCCEEDED
    assert result.latency_ms > 0 and result.queue_ms is None  # never enqueued in this test
    assert (result.cost_usd, result.cost_source) == (0, "billed")
    images = list(result.images.all())
    assert [(i.width, i.height, i.format) for i in images] == [(1024, 1536, "jpeg")] * 2
    assert images[0].original.read()[:2] == b"\xff\xd8"
    assert images[0].thumbnail.read()[8:12] == b"WEBP"
    assert result.request_sent["size"] == "1024x1536" and result.provider_request_id.startswith("sbx_")


def test_a_redelivered_task_never_calls_the_provider_twice(alice, scripted):
    scripted(ImageResult(images=(GeneratedImage(data=image_bytes()),)))
    result = run_one(alice)
    execution.execute_result(result.pk)
    assert Scripted.calls == 1 and result.status == Status.SUCCEEDED


def test_a_provider_refusal_fails_the_card_with_its_reason_and_no_secret(alice, scripted):
    scripted(ContentPolicyError("Rejected by the safety system (key sk-secret-value).", status=400))
    result = run_one(alice)
    assert (result.status, result.error_code) == (Status.FAILED, "content_policy")
    assert "safety system" in result.error and "sk-secret-value" not in result.error
    assert result.latency_ms is not None


def test_a_garbage_image_fails_the_card_but_keeps_the_cost(alice, scripted):
    from decimal import Decimal

    scripted(ImageResult(images=(GeneratedImage(data=b"<html>oops</html>"),), usage=Usage(cost_usd=Decimal("0.2"), basis="billed")))
    result = run_one(alice)
    assert (result.status, result.error_code) == (Status.FAILED, "bad_image")
    assert "not an image" in result.error
    assert (result.cost_usd, result.cost_source) == (Decimal("0.2"), "billed")
    assert not result.images.exists()


def test_an_image_of_another_size_is_kept_and_flagged(alice, scripted):
    scripted(ImageResult(images=(GeneratedImage(data=image_bytes(512, 512)),)))
    result = run_one(alice, size="1024x1024")
    assert result.status == Status.SUCCEEDED
    assert result.images.get().width == 512
    assert "Asked for 1024x1024; received #1 is 512x512." in result.notes


def test_a_crashing_adapter_fails_the_card_instead_of_spinning(alice, scripted):
    scripted(ZeroDivisionError("bug"))
    result = run_one(alice)
    assert (result.status, result.error_code) == (Status.FAILED, "internal")
    assert "crashed (ZeroDivisionError)" in result.error


def test_unknown_cost_stays_unknown_never_zero(alice, scripted):
    scripted(ImageResult(images=(GeneratedImage(data=image_bytes()),)))
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    Result.objects.filter(pk=result.pk).update(estimated_cost_usd=None)
    execution.execute_result(result.pk)
    result.refresh_from_db()
    assert (result.cost_usd, result.cost_source) == (None, "unknown")


def test_an_estimated_cost_is_labelled_as_such(alice, scripted):
    from decimal import Decimal

    scripted(ImageResult(images=(GeneratedImage(data=image_bytes()),)))
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    Result.objects.filter(pk=result.pk).update(estimated_cost_usd=Decimal("0.053"))
    execution.execute_result(result.pk)
    result.refresh_from_db()
    assert (result.cost_usd, result.cost_source) == (Decimal("0.053"), "estimated")


def test_creating_a_comparison_enqueues_only_after_commit(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        factories.comparison(alice, routes=["sandbox:fast", "sandbox:slow", "sandbox:steady"])
    assert len(callbacks) == 1


def test_a_message_of_results_reads_the_server_environment_once_and_builds_each_call(alice, monkeypatch):
    """Copying os.environ per route was a third of building a call: a message shares one copy."""
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:fast"])
    ids = list(comparison.results.values_list("pk", flat=True))
    reads = []
    real = catalog.server_env
    monkeypatch.setattr(catalog, "server_env", lambda: reads.append(1) or real())

    steps = dict(execution.start_results(ids, worker="w1"))

    assert len(reads) == 1
    assert all(isinstance(step, execution.Call) for step in steps.values())
    assert sorted(step.attempt.route.key for step in steps.values()) == sorted(
        ["sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:fast"])
    for step in steps.values():
        step.attempt.client.close()
