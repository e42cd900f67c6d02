"""Celery beat on the real stack: a benchmark scheduled every minute runs by itself (`make run`'s
worker embeds beat; the scale-out runs one `celery beat` process beside its workers), its run is
a batch that finishes and is judged, and the API shows its series. `manage.py benchmark run`
against the live worker exits non-zero on a failed threshold."""

import json
import sys
import time
from datetime import datetime

import pytest

pytestmark = pytest.mark.e2e

FIRST_RUN_WITHIN = 80  # s: the next minute boundary (≤ 60 s) plus one beat tick (15 s) and a margin


def scheduled_benchmark(stack, route):
    body = {"name": f"every minute {time.time_ns()}", "routes": [route], "prompts": ["a lighthouse at dusk"],
            "params": {"size": "1024x1024", "quality": "low"}, "schedule": "* * * * *"}
    response = stack.http.post("/api/benchmarks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_a_scheduled_run(stack, benchmark, timeout_done=60):
    """The first scheduled run: it must start within FIRST_RUN_WITHIN s, then be done (every call
    ended and judged by a later tick) within timeout_done s more."""
    created = time.monotonic()
    started = None
    while True:
        body = stack.http.get(f"/api/benchmarks/{benchmark['id']}").json()
        runs = [r for r in body["runs"] if r["trigger"] == "schedule"]
        if runs and started is None:
            started = time.monotonic()
        if any(r["status"] == "done" for r in runs):
            return body
        waited = time.monotonic() - created
        if started is None and waited > FIRST_RUN_WITHIN:
            raise AssertionError(f"no scheduled run after {waited:.0f} s: {body}\n{stack.logs()[-4000:]}")
        if started is not None and time.monotonic() - started > timeout_done:
            raise AssertionError(f"the scheduled run did not finish: {body}\n{stack.logs()[-4000:]}")
        time.sleep(1)


def check_series(body, route):
    run = next(r for r in body["runs"] if r["trigger"] == "schedule" and r["status"] == "done")
    assert run["batch"] is not None and run["reason"] is None
    started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
    assert started.second < 45  # started by the tick after its minute, not at some other time
    summary = body["series"]["24h"][route]["summary"]
    assert summary["runs"] >= 1 and summary["calls"] >= 1 and summary["success_rate"] == 1.0
    assert summary["median_ms"] is not None and body["series"]["24h"][route]["points"][0]["runs"] >= 1


def test_embedded_beat_runs_a_schedule_by_itself(embedded_stack):
    stack = embedded_stack
    assert "beat: Starting" in stack.logs()
    body = wait_for_a_scheduled_run(stack, scheduled_benchmark(stack, "sandbox:fast"))
    check_series(body, "sandbox:fast")
    page = stack.http.get(f"/api/benchmarks/{body['id']}")
    assert page.status_code == 200
    stack.http.patch(f"/api/benchmarks/{body['id']}", json={"schedule": None})  # quiet for the other tests


def test_benchmark_run_fails_a_ci_job_on_a_threshold(embedded_stack, tmp_path):
    stack = embedded_stack
    path = tmp_path / "ci.json"
    path.write_text(json.dumps({"name": "CI", "routes": ["sandbox:fast"], "prompts": ["a red fox"], "repeats": 2,
                                "params": {"quality": "low"}, "thresholds": {"p95_ms": 1, "success_rate": 1}}))
    failed = stack.manage("benchmark", "run", str(path), "--user", "admin", "--timeout", "120", check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL p95_ms ≤ 1" in failed.stdout and "PASS success_rate ≥ 1" in failed.stdout
    path.write_text(json.dumps({"name": "CI", "routes": ["sandbox:fast"], "prompts": ["a red fox"],
                                "params": {"quality": "low"}, "thresholds": {"p95_ms": 60000}}))
    passed = stack.manage("benchmark", "run", str(path), "--user", "admin", "--timeout", "120", check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr


@pytest.mark.services
def test_one_beat_process_runs_schedules_on_postgres_and_redis(postgres_redis_stack):
    stack = postgres_redis_stack
    stack._spawn([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"], "beat")
    body = wait_for_a_scheduled_run(stack, scheduled_benchmark(stack, "sandbox:r0"), timeout_done=60)
    check_series(body, "sandbox:r0")
