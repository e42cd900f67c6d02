"""Long-running jobs (OpenAI's Batch API): submitted once, then checked by scheduled tasks that
hold no worker thread in between; cancelled at the provider by the user or at the deadline."""

import time
from decimal import Decimal

import httpx
import pytest

from providers.testing.openai_batch import FakeOpenAIBatch

from compare import tasks
from compare.engine import execution
from compare.models import Result, Status

from tests.compare import factories

pytestmark = pytest.mark.django_db
ROUTE = "openai-batch:gpt-image-2"


@pytest.fixture
def batch(monkeypatch):
    """The batch fake behind every client the worker code makes; scheduled checks recorded."""
    fake = FakeOpenAIBatch(api_key="sk-batch-key", checks_until_done=2)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-batch-key")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://fake-openai.test/v1")
    monkeypatch.setenv("OPENAI_BATCH_POLL_SECONDS", "30")
    monkeypatch.setattr(execution, "http_client", lambda deadline=None, **kw: httpx.Client(transport=httpx.MockTransport(fake.handle)))
    fake.scheduled = []
    monkeypatch.setattr(tasks.check_result, "apply_async", lambda args, countdown: fake.scheduled.append((args, countdown)))
    return fake


def submitted(user, **params):
    result = factories.comparison(user, routes=[ROUTE], **params).results.get()
    tasks.run_result(result.pk)
    return Result.objects.get(pk=result.pk)


def test_submitting_stores_the_job_and_schedules_a_check_instead_of_waiting(alice, batch):
    result = submitted(alice)
    assert result.status == Status.RUNNING
    assert result.job["batch_id"].startswith("batch_") and "sk-batch-key" not in repr(result.job)
    assert batch.scheduled == [((result.pk,), 30.0)]


def test_the_worker_code_schedules_nothing_itself_it_says_when_to_check(alice, batch):
    result = factories.comparison(alice, routes=[ROUTE]).results.get()
    step = execution.execute_result(result.pk, worker="w1")
    assert step == execution.Next(check_in=30.0, turn_of=result.comparison.team_id) and batch.scheduled == []
    assert execution.check_long_job(result.pk) == execution.Next(check_in=30.0) and batch.scheduled == []


def test_checks_reschedule_until_the_batch_completes_then_store_it(alice, batch):
    result = submitted(alice, quality="high")
    tasks.check_result(result.pk)
    assert Result.objects.get(pk=result.pk).status == Status.RUNNING and len(batch.scheduled) == 2
    tasks.check_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert result.status == Status.SUCCEEDED and result.images.count() == 1
    assert result.cost_source == "usage" and result.cost_usd == (Decimal("0.0001") + Decimal("0.21102")) / 2
    assert result.estimated_cost_usd == Decimal("0.1055")  # the catalog's half price for high 1024x1024
    assert result.provider_timings["provider_generation_ms"] == 40000 and result.latency_ms >= 0
    assert any("checked every 30 s" in note for note in result.notes)
    tasks.check_result(result.pk)  # a late duplicate check finds nothing to do
    assert len(batch.scheduled) == 2


def test_a_user_cancel_cancels_the_batch_at_openai(alice, batch):
    result = submitted(alice)
    result.comparison.cancel()
    tasks.check_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert result.status == Status.CANCELLED and "we cancelled it at the provider" in result.error
    assert batch.calls[-1]["path"].endswith("/cancel")


def test_past_the_deadline_the_batch_is_cancelled_and_the_result_timed_out(alice, batch):
    result = submitted(alice)
    Result.objects.filter(pk=result.pk).update(job={**result.job, "deadline_at": time.time() - 1})
    tasks.check_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert result.status == Status.TIMED_OUT and batch.calls[-1]["path"].endswith("/cancel")


def test_a_failed_batch_fails_the_card_with_openais_reason(alice, batch):
    result = submitted(alice)
    batch.scenario = "failed"
    tasks.check_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert result.status == Status.FAILED and "model not available for batch" in result.error
