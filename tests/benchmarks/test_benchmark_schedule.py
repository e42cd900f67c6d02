"""The scheduler (the beat's task, called directly): a due benchmark starts once as a
budget-checked batch, a refused run is kept with its reason, the cron is read in UTC; finished
runs are judged and open (then close) an alert once."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils import timezone

from compare.batches.models import Batch
from compare.benchmarks import runs as benchmarks, tasks as benchmark_tasks
from compare.benchmarks.models import Benchmark, BenchmarkAlert, BenchmarkRun, RunStatus
from compare.checks import checks
from compare.engine import execution
from compare.models import Result, Status
from compare.teams.models import Team

pytestmark = pytest.mark.django_db


def make(alice, **fields):
    values = {"name": "Every minute", "routes": ["sandbox:fast"], "prompts": ["a red fox"], "repeats": 1,
              "params": {"size": "1024x1024", "quality": "low"}, "schedule": "* * * * *"}
    values.update(fields)
    return Benchmark.objects.create(team=Team.personal_for(alice), created_by=alice,
                                    next_run_at=timezone.now() - timedelta(seconds=1), **values)


def execute(run, latency_ms=None):
    for result in Result.objects.filter(comparison__batch_item__batch=run.batch, status=Status.QUEUED):
        execution.execute_result(result.pk)
        checks.run_checks(result.pk)
    if latency_ms is not None:
        for result, value in zip(Result.objects.filter(comparison__batch_item__batch=run.batch), latency_ms):
            Result.objects.filter(pk=result.pk).update(latency_ms=value)


def test_the_tick_starts_a_due_benchmark_once_as_a_batch_and_moves_its_next_run(alice):
    benchmark = make(alice, repeats=2)
    before = timezone.now()
    benchmark_tasks.benchmark_tick()
    run = BenchmarkRun.objects.get()
    assert run.status == RunStatus.STARTED and run.trigger == "schedule"
    assert run.batch.items.count() == 2 and run.batch.team_id == benchmark.team_id
    benchmark.refresh_from_db()
    assert before < benchmark.next_run_at <= before + timedelta(minutes=1, seconds=1)
    assert benchmark.next_run_at.second == 0
    benchmark_tasks.benchmark_tick()  # not due again until the next minute
    assert BenchmarkRun.objects.count() == 1


def test_two_ticks_racing_for_one_due_benchmark_start_it_once(alice):
    benchmark = make(alice)
    stale = Benchmark.objects.get(pk=benchmark.pk)
    benchmarks.run_due()
    # A second beat that read the row before the first claimed it: its conditional update misses.
    claimed = Benchmark.objects.filter(pk=stale.pk, next_run_at=stale.next_run_at).update(next_run_at=None)
    assert claimed == 0 and BenchmarkRun.objects.count() == 1


def test_a_manual_benchmark_never_runs_by_itself(alice):
    Benchmark.objects.create(
        team=Team.personal_for(alice), created_by=alice, name="By hand", routes=["sandbox:fast"], prompts=["x"])
    benchmark_tasks.benchmark_tick()
    assert not BenchmarkRun.objects.exists()


def test_a_scheduled_run_over_budget_is_recorded_as_refused_not_skipped(alice, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.05")
    team.save()
    make(alice, routes=["openai:gpt-image-2"], params={"size": "1024x1024", "quality": "high"})
    benchmark_tasks.benchmark_tick()
    run = BenchmarkRun.objects.get()
    assert run.status == RunStatus.REFUSED and run.batch is None and run.finished_at is not None
    assert "Over budget" in run.reason and "$0.05" in run.reason
    assert not Batch.objects.exists()


def test_a_creator_who_is_now_a_viewer_cannot_have_runs_started_for_them(alice, bob):
    from compare.teams.models import Membership, Role

    team = Team.objects.create(name="Shared")
    Membership.objects.create(team=team, user=alice, role=Role.VIEWER)
    Benchmark.objects.create(team=team, created_by=alice, name="x", routes=["sandbox:fast"], prompts=["x"],
                             schedule="* * * * *", next_run_at=timezone.now())
    benchmark_tasks.benchmark_tick()
    run = BenchmarkRun.objects.get()
    assert run.status == RunStatus.REFUSED and "viewer" in run.reason and not Batch.objects.exists()


def test_the_cron_is_utc_and_both_day_fields_follow_crons_either_rule():
    noon = datetime(2026, 3, 2, 11, 59, 30, tzinfo=dt_timezone.utc)  # a Monday
    assert benchmarks.next_run("0 12 * * *", noon) == datetime(2026, 3, 2, 12, 0, tzinfo=dt_timezone.utc)
    assert benchmarks.next_run("*/15 * * * *", noon) == datetime(2026, 3, 2, 12, 0, tzinfo=dt_timezone.utc)
    # day 15 of the month OR a Friday: Friday 6 March comes first
    assert benchmarks.next_run("0 0 15 * 5", noon) == datetime(2026, 3, 6, 0, 0, tzinfo=dt_timezone.utc)
    assert benchmarks.next_run("0 0 29 2 *", noon) == datetime(2028, 2, 29, 0, 0, tzinfo=dt_timezone.utc)


def test_finished_runs_open_one_latency_alert_on_a_real_shift_and_close_it_when_back(alice):
    benchmark = make(alice, schedule="", repeats=4)
    normal = [900, 1000, 1050, 1100]
    slow = [2100, 2000, 2300, 2200]
    opened_after = []
    for latencies in [normal] * 5 + [slow] * 4 + [normal] * 3:
        run = benchmarks.start_run(benchmark)
        execute(run, latencies)
        benchmarks.finish_runs()
        opened_after.append(BenchmarkAlert.objects.filter(closed_at__isnull=True, metric="latency_ms").count())
    # Runs 1-7: too few runs or too few slow ones; the 8th (3 slow runs against 5 normal) opens it,
    # the 9th keeps it open (no second alert); three normal runs close it.
    assert opened_after[:7] == [0] * 7
    assert opened_after[7:9] == [1, 1]
    assert opened_after[-1] == 0
    alert = BenchmarkAlert.objects.get()
    assert alert.route_key == "sandbox:fast" and alert.closed_at is not None
    assert alert.current > 2 * 1000 * 0.9 and alert.p_value < 0.01
    assert "median latency" in alert.message and "p = " in alert.message
    assert not BenchmarkAlert.objects.exclude(metric="latency_ms").exists()  # success and cost held steady


def test_a_run_waits_for_its_images_checks_then_no_longer_than_the_setting(alice, settings):
    settings.BENCHMARK_CHECKS_WAIT_SECONDS = 300
    run = benchmarks.start_run(make(alice, schedule=""))
    for result in Result.objects.filter(comparison__batch_item__batch=run.batch):
        execution.execute_result(result.pk)  # the call ended; its checks task has not run yet
    benchmarks.finish_runs()
    run.refresh_from_db()
    assert run.status == RunStatus.STARTED
    settings.BENCHMARK_CHECKS_WAIT_SECONDS = 0  # the checks never came: judged without them
    benchmarks.finish_runs()
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert benchmarks.run_summary(run)["sandbox:fast"]["checked"] == 0


def test_a_seeded_routes_image_signature_change_opens_one_alert(alice):
    """The sandbox draws the same picture for the same seed: three runs agree; when the
    route starts drawing another picture (here: the seed changed behind the benchmark's back,
    as a model update would), one alert opens; a route without a seed is not judged."""
    benchmark = make(alice, schedule="", routes=["sandbox:fast"], params={"quality": "low", "seed": 7})
    for seed in (7, 7, 7, 99, 99):
        Benchmark.objects.filter(pk=benchmark.pk).update(params={"quality": "low", "seed": seed})
        benchmark.refresh_from_db()
        run = benchmarks.start_run(benchmark)
        execute(run)
        benchmarks.finish_runs()
        if seed == 99 and not BenchmarkAlert.objects.filter(metric="image_signature").exists():
            raise AssertionError("no image_signature alert after the picture changed")
    alert = BenchmarkAlert.objects.get(metric="image_signature")
    assert alert.p_value is None and "image signature changed" in alert.message
    assert alert.closed_at is not None  # the fifth run drew the new picture again: stable, closed

    unseeded = make(alice, schedule="", name="no seed", params={"quality": "low"})
    for _ in range(4):
        run = benchmarks.start_run(unseeded)
        execute(run)
        benchmarks.finish_runs()
    assert not BenchmarkAlert.objects.filter(benchmark=unseeded).exists()
