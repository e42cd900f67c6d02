"""Benchmarks as code for CI: `manage.py benchmark run FILE` (JSON or TOML) runs the file's routes
× prompts × repeats as one batch (a Celery worker runs it, as for `compare --wait`), prints a
table per route and exits 1 when a threshold fails (docs/benchmarks.md)."""

import json
import time
import tomllib
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from compare.benchmarks import runs as benchmarks
from compare.benchmarks.models import Benchmark, BenchmarkRun, RunStatus
from compare.teams.models import Team

# threshold: (the summary's figure, "max" or "min", how it reads)
THRESHOLDS = {"p95_ms": ("p95_ms", "max", "p95 latency (ms)"),
              "median_ms": ("median_ms", "max", "median latency (ms)"),
              "success_rate": ("success_rate", "min", "success rate"),
              "cost_per_image": ("cost_per_image_usd", "max", "cost per image (USD)"),
              "text_accuracy": ("text_accuracy", "min", "OCR text accuracy (0-1)"),
              "check_failure_rate": ("check_failure_rate", "max", "share of calls failing an image check")}
FILE_FIELDS = {"name", "routes", "prompts", "prompt_set", "params", "repeats", "thresholds", "schedule"}


def read_file(path):
    """The file as a dict (JSON, or TOML for .toml); CommandError naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}", returncode=2) from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise CommandError(f"{path} is not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}",
                           returncode=2) from None
    if not isinstance(data, dict):
        raise CommandError(f"{path}: the top level must be an object/table.", returncode=2)
    unknown = set(data) - FILE_FIELDS
    if unknown:
        raise CommandError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(FILE_FIELDS))}.",
                           returncode=2)
    thresholds = data.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise CommandError(f"{path}: thresholds must be a table of name = number.", returncode=2)
    for name, value in thresholds.items():
        if name not in THRESHOLDS:
            raise CommandError(f"{path}: unknown threshold {name!r}; use {', '.join(sorted(THRESHOLDS))}.", returncode=2)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CommandError(f"{path}: threshold {name} must be a number.", returncode=2)
    return data


def check(summary, thresholds):
    """[(threshold, limit, value, passed)] for one route's summary; an unknown figure fails."""
    rows = []
    for name, limit in thresholds.items():
        key, kind, _ = THRESHOLDS[name]
        value = summary.get(key)
        passed = value is not None and (value <= limit if kind == "max" else value >= limit)
        rows.append((name, limit, value, passed))
    return rows


class Command(BaseCommand):
    help = "benchmark run FILE: run a benchmark file (JSON or TOML) as one batch; exit 1 if a threshold fails"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="run FILE once and check its thresholds")
        run.add_argument("file")
        run.add_argument("--user", help="username to run as (default: LOCAL_USERNAME, the account `make run` made)")
        run.add_argument("--team", type=int, help="team id (default: the user's personal team)")
        run.add_argument("--timeout", type=float, default=900, help="seconds to wait for the batch at most")

    def handle(self, *args, action, file, user, team, timeout, **options):
        data = read_file(file)
        thresholds = data.pop("thresholds", None) or {}
        data.setdefault("name", Path(file).stem)
        data.setdefault("schedule", None)
        username = user or settings.LOCAL_USERNAME
        author = get_user_model().objects.filter(username=username).first()
        if author is None:
            raise CommandError(f"No user named {username!r}: pass --user USERNAME.", returncode=2)
        chosen = Team.objects.of(author).filter(pk=team).first() if team else Team.personal_for(author)
        if chosen is None:
            raise CommandError(f"{username} is in no team with id {team}.", returncode=2)
        if not chosen.can_run(author):
            raise CommandError(f"{username} is a viewer of {chosen}: viewers cannot run benchmarks.", returncode=2)
        values, errors = benchmarks.clean(data, chosen, author)
        if errors:
            lines = [f"{field}: {msg}" for field, msgs in errors.items() for msg in msgs]
            raise CommandError("Invalid benchmark file:\n  " + "\n  ".join(lines), returncode=2)
        with transaction.atomic():  # the file's benchmark, by name in the team: its history builds up
            benchmark = Benchmark.objects.filter(team=chosen, name=values["name"]).first() or Benchmark(
                team=chosen, created_by=author)
            for name, value in values.items():
                setattr(benchmark, name, value)
            benchmark.next_run_at = benchmarks.next_run(benchmark.schedule)
            benchmark.save()
        run = benchmarks.start_run(benchmark, trigger="file", user=author)
        if run.status == RunStatus.REFUSED:
            raise CommandError(f"Benchmark “{benchmark.name}”: the run was refused: {run.reason}")
        self.stdout.write(f"Benchmark “{benchmark.name}” run #{run.pk}: batch #{run.batch_id} "
                          f"{settings.SITE_URL}{run.batch.get_absolute_url()}")
        deadline = time.monotonic() + timeout
        while True:
            benchmarks.finish_run(run)
            run = BenchmarkRun.objects.select_related("benchmark", "batch").get(pk=run.pk)
            if run.status == RunStatus.DONE:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"Still running after {timeout:g} s (is a Celery worker running?).")
            time.sleep(0.25)
        failed = self.print_table(benchmarks.run_summary(run), thresholds)
        if failed:
            raise CommandError(f"{failed} threshold check(s) failed.")
        self.stdout.write(self.style.SUCCESS("Every threshold passed." if thresholds else "No thresholds to check."))

    def print_table(self, summaries, thresholds):
        header = (f"{'route':<32} {'calls':>5} {'success':>8} {'median ms':>10} {'p95 ms':>10} {'$ per image':>12} "
                  f"{'text acc':>9} {'checks ✗':>8}")
        self.stdout.write(header)
        failed = 0
        for route, s in summaries.items():
            cost = "unknown" if s["cost_per_image_usd"] is None else f"{s['cost_per_image_usd']:.4f} {s['cost_source']}"
            self.stdout.write(f"{route:<32} {s['calls']:>5} {_fmt(s['success_rate'], '{:.0%}'):>8} "
                              f"{_fmt(s['median_ms'], '{:.0f}'):>10} {_fmt(s['p95_ms'], '{:.0f}'):>10} {cost:>12} "
                              f"{_fmt(s['text_accuracy'], '{:.0%}'):>9} {_fmt(s['check_failure_rate'], '{:.0%}'):>8}")
            for name, limit, value, passed in check(s, thresholds):
                failed += not passed
                kind = "≤" if THRESHOLDS[name][1] == "max" else "≥"
                self.stdout.write(f"    {'PASS' if passed else 'FAIL'} {name} {kind} {limit:g} "
                                  f"(measured {'unknown' if value is None else f'{value:g}'})")
        return failed


def _fmt(value, pattern):
    return "–" if value is None else pattern.format(value)
