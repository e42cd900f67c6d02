"""Benchmark events through the notifications (compare/notifications/notifications.py emit): a finished run
and a refused one announce benchmark.run_finished once; an opened alert announces
benchmark.regressed once."""

from decimal import Decimal

import pytest

from compare.benchmarks import runs as benchmarks
from compare.benchmarks.models import Benchmark
from compare.checks import checks
from compare.engine import execution
from compare.models import Result, Status
from compare.notifications import notifications
from compare.notifications.models import NotificationEvent
from compare.teams.models import Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(alice, settings):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    settings.SITE_URL = "https://compare.example.org"
    return notifications.create_webhook(Team.personal_for(alice), alice, url="http://127.0.0.1:9/hook",
                                        events=["benchmark.run_finished", "benchmark.regressed"])


def make(alice, **fields):
    values = {"name": "Nightly", "routes": ["sandbox:fast"], "prompts": ["a red fox"], "repeats": 4,
              "params": {"quality": "low"}}
    return Benchmark.objects.create(team=Team.personal_for(alice), created_by=alice, **{**values, **fields})


def run_once(benchmark, latencies):
    run = benchmarks.start_run(benchmark)
    for result in Result.objects.filter(comparison__batch_item__batch=run.batch, status=Status.QUEUED):
        execution.execute_result(result.pk)
        checks.run_checks(result.pk)
    for result, value in zip(Result.objects.filter(comparison__batch_item__batch=run.batch), latencies):
        Result.objects.filter(pk=result.pk).update(latency_ms=value)
    benchmarks.finish_runs()
    benchmarks.finish_runs()  # judged once: a second tick announces nothing again
    return run


def test_each_run_is_announced_once_with_its_figures_and_a_drift_once(alice, hook):
    benchmark = make(alice)
    for latencies in [[900, 1000, 1050, 1100]] * 5 + [[2100, 2000, 2300, 2200]] * 4:
        run_once(benchmark, latencies)
    finished = NotificationEvent.objects.filter(kind="benchmark.run_finished")
    assert finished.count() == 9
    first = finished.order_by("pk").first()
    route, = first.data["routes"]  # p95 interpolates between closest ranks: 1050 + 0.85 × 50
    assert route["route"] == "sandbox:fast" and route["calls"] == 4 and route["median_ms"] == 1025.0
    assert first.data["benchmark"]["url"] == f"https://compare.example.org/benchmarks/{benchmark.pk}/"
    assert "finished" in notifications.summary(first) and "p95 1092 ms" in "\n".join(notifications.details(first))
    regressed, = NotificationEvent.objects.filter(kind="benchmark.regressed")  # opened once, not every slow run
    assert regressed.data["alert"]["metric"] == "latency_ms" and regressed.data["alert"]["open"] is True
    assert "median latency" in notifications.summary(regressed)


def test_a_refused_run_is_announced_with_the_reason(alice, hook, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.01")
    team.save()
    run = benchmarks.start_run(make(alice, routes=["openai:gpt-image-2"], params={"quality": "high"}))
    event, = NotificationEvent.objects.filter(kind="benchmark.run_finished")
    assert event.data["run"]["status"] == "refused" and event.data["routes"] == []
    assert "was refused: Over budget" in notifications.summary(event) and event.data["run"]["id"] == run.pk
