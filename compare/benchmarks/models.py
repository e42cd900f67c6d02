"""Continuous benchmarks (issue 15): a team's routes × prompts run again and again, by schedule
or by hand, each run an ordinary batch; and the drift alerts the runs raise (compare/benchmarks/runs.py)."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Benchmark(models.Model):
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="benchmarks")
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    routes = models.JSONField(default=list)
    # Either its own prompts (a list of texts) or a prompt set ("typography", "set-7").
    prompts = models.JSONField(default=list, blank=True)
    prompt_set = models.CharField(max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)
    repeats = models.PositiveSmallIntegerField(default=1)
    schedule = models.CharField(max_length=100, blank=True)  # 5-field cron in UTC; "" runs by hand only
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)  # the scheduler's claim

    class Meta:
        db_table = "compare_benchmark"  # moved from the compare app; the table kept its name
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("benchmarks:benchmark", args=[self.pk])


class RunStatus(models.TextChoices):
    STARTED = "started", "started"  # its batch was created and runs
    REFUSED = "refused", "refused"  # the batch was refused (budget, call cap, a route gone): see reason
    DONE = "done", "done"  # every call of its batch ended; its alerts were evaluated


class BenchmarkRun(models.Model):
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    trigger = models.CharField(max_length=16, default="manual")  # "schedule", "manual" or "file" (CI)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.STARTED)
    reason = models.TextField(blank=True)
    batch = models.ForeignKey("batches.Batch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "compare_benchmarkrun"  # moved from the compare app; the table kept its name
        ordering = ["-started_at", "-id"]


class BenchmarkAlert(models.Model):
    """One drift of one route's metric: opened once when the rule fires, closed when the metric is
    back (hysteresis, docs/benchmarks.md); never opened twice at the same time."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="alerts")
    route_key = models.CharField(max_length=200)
    metric = models.CharField(max_length=40)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(BenchmarkRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    baseline = models.FloatField()
    current = models.FloatField()
    p_value = models.FloatField(null=True)  # None for the image signature (no test: a seed is deterministic)
    message = models.TextField()

    class Meta:
        db_table = "compare_benchmarkalert"  # moved from the compare app; the table kept its name
        ordering = ["-opened_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["benchmark", "route_key", "metric"],
                                               condition=models.Q(closed_at__isnull=True),
                                               name="one_open_alert_per_metric")]
