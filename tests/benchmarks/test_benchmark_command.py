"""`manage.py benchmark run FILE` (JSON or TOML): the batch runs (executed here by a stand-in for
the worker), a table is printed, and a failed threshold exits non-zero."""

import json
import types

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compare.benchmarks.management.commands import benchmark as command
from compare.benchmarks.models import Benchmark, BenchmarkRun, RunStatus
from compare.checks import checks
from compare.checks.models import ResultCheck
from compare.engine import execution
from compare.models import Result, Status

from tests.helpers import needs_ocr

pytestmark = pytest.mark.django_db

TOML = """
name = "CI smoke"
routes = ["sandbox:fast", "sandbox:steady"]
prompts = ["a red fox", "a lighthouse at dusk"]
repeats = 2

[params]
size = "1024x1024"
quality = "low"

[thresholds]
p95_ms = {p95}
success_rate = 0.9
"""


@pytest.fixture
def worker(monkeypatch):
    """The command waits for a worker: each of its sleeps runs the queued calls instead, and
    gives every call a known 5 s latency (and, when asked, a known OCR text accuracy)."""
    tweaks = {}

    def sleep(seconds):
        for result in Result.objects.filter(status=Status.QUEUED):
            execution.execute_result(result.pk)
            checks.run_checks(result.pk)
        Result.objects.update(latency_ms=5000.0)
        if "text_accuracy" in tweaks:
            ResultCheck.objects.update(text_accuracy=tweaks["text_accuracy"])

    clock = iter(range(10**6))
    monkeypatch.setattr(command, "time", types.SimpleNamespace(sleep=sleep, monotonic=lambda: next(clock)))
    return tweaks


def run(tmp_path, text, suffix=".toml"):
    path = tmp_path / f"bench{suffix}"
    path.write_text(text)
    return call_command("benchmark", "run", str(path), "--user", "alice")


def test_a_passing_file_prints_the_table_and_exits_zero(alice, worker, tmp_path, capsys):
    run(tmp_path, TOML.format(p95=10000))
    out = capsys.readouterr().out
    assert "sandbox:fast" in out and "sandbox:steady" in out and "PASS p95_ms ≤ 10000 (measured 5000)" in out
    assert "Every threshold passed." in out
    run_row = BenchmarkRun.objects.get()
    assert run_row.status == RunStatus.DONE and run_row.trigger == "file" and run_row.batch.items.count() == 4
    assert Benchmark.objects.get().name == "CI smoke"


def test_a_failed_threshold_exits_non_zero(alice, worker, tmp_path, capsys):
    with pytest.raises(CommandError) as failed:
        run(tmp_path, TOML.format(p95=3000))
    assert failed.value.returncode == 1 and "2 threshold check(s) failed" in str(failed.value)
    assert "FAIL p95_ms ≤ 3000 (measured 5000)" in capsys.readouterr().out


def test_json_works_too_and_runs_build_one_benchmarks_history(alice, worker, tmp_path):
    body = {"name": "CI json", "routes": ["sandbox:fast"], "prompts": ["x"], "thresholds": {"success_rate": 1}}
    run(tmp_path, json.dumps(body), ".json")
    run(tmp_path, json.dumps(body), ".json")
    assert Benchmark.objects.count() == 1 and BenchmarkRun.objects.count() == 2


@pytest.mark.parametrize("text,message", [
    ('routes = ["sandbox:fast"]\nprompts = ["x"]\n[thresholds]\nspeed = 1\n', "unknown threshold"),
    ('routes = ["no:such"]\nprompts = ["x"]\n', "routes"),
    ('routes = [\n', "not valid TOML"),
    ('routes = ["sandbox:fast"]\nprompts = ["x"]\nschedule = "61 * * * *"\n', "schedule"),
])
def test_a_bad_file_is_refused_with_the_reason_and_runs_nothing(alice, tmp_path, text, message):
    with pytest.raises(CommandError) as refused:
        run(tmp_path, text)
    assert refused.value.returncode == 2 and message in str(refused.value)
    assert not BenchmarkRun.objects.exists()


def test_text_accuracy_and_check_failures_come_from_the_automatic_checks(alice, worker, tmp_path, capsys):
    needs_ocr("latin")  # the text accuracy is Tesseract's reading of the sandbox's drawn quote
    body = {"name": "CI text", "routes": ["sandbox:fast"], "prompts": ['A shop sign that reads "OPEN LATE"'],
            "params": {"quality": "low"}, "thresholds": {"text_accuracy": 0.9, "check_failure_rate": 0}}
    run(tmp_path, json.dumps(body), ".json")  # the sandbox draws the quoted text: OCR reads it back
    out = capsys.readouterr().out
    assert "PASS text_accuracy ≥ 0.9 (measured 1)" in out and "PASS check_failure_rate ≤ 0 (measured 0)" in out

    worker["text_accuracy"] = 0.4  # as if the route had drawn the text badly
    with pytest.raises(CommandError) as failed:
        run(tmp_path, json.dumps(body), ".json")
    assert failed.value.returncode == 1 and "1 threshold check(s) failed" in str(failed.value)
    assert "FAIL text_accuracy ≥ 0.9 (measured 0.4)" in capsys.readouterr().out
