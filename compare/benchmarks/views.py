"""The benchmarks' pages (issue 15): the team's benchmarks, one benchmark's charts per route over a
window with its runs and alerts, and "run now"."""

from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from compare.benchmarks import drift
from compare.benchmarks.models import Benchmark, RunStatus
from compare.benchmarks.runs import start_run
from compare.benchmarks.series import WINDOWS, series
from compare.teams import views as teams
from compare.teams.models import Team

CHART_METRICS = (("median_ms", "median latency"), ("p95_ms", "p95 latency"), ("success_rate", "success rate"),
                 ("cost_per_image_usd", "cost per image"), ("text_accuracy", "text accuracy (OCR)"),
                 ("check_failure_rate", "image check failures"))


def _visible(request, pk):
    team_ids = Team.objects.of(request.user).values("pk")
    return get_object_or_404(Benchmark.objects.filter(team__in=team_ids).select_related("team", "created_by"), pk=pk)


def benchmark_list(request):
    team = teams.current_team(request)
    found = Benchmark.objects.filter(team=team).annotate(
        open_alerts=Count("alerts", filter=Q(alerts__closed_at__isnull=True), distinct=True),
        run_count=Count("runs", distinct=True))
    return render(request, "benchmarks/benchmark_list.html", {"benchmarks": found, "team": team})


def benchmark_detail(request, pk):
    benchmark = _visible(request, pk)
    window = request.GET.get("window") if request.GET.get("window") in WINDOWS else "7d"
    now = timezone.now()
    data = series(benchmark, now)[window]
    routes = [{"key": route, "summary": data[route]["summary"],
               "charts": [{"metric": metric, "title": f"{route}: {label} over the last {window}",
                           "points": data[route]["points"]} for metric, label in CHART_METRICS]}
              for route in benchmark.routes]
    return render(request, "benchmarks/benchmark_detail.html", {
        "benchmark": benchmark, "window": window, "windows": list(WINDOWS), "routes": routes,
        "since": now - WINDOWS[window][0], "until": now, "runs": benchmark.runs.select_related("batch")[:50],
        "alerts": benchmark.alerts.all()[:50], "can_run": benchmark.team.can_run(request.user),
        "min_baseline": drift.MIN_BASELINE_RUNS, "recent_runs": drift.RECENT_RUNS})


@require_POST
def benchmark_run_now(request, pk):
    benchmark = _visible(request, pk)
    if refused := teams.viewer_refusal(request, benchmark.team, "run benchmarks", benchmark):
        return refused
    run = start_run(benchmark, trigger="manual", user=request.user)
    if run.status == RunStatus.REFUSED:
        messages.error(request, f"The run was refused: {run.reason}")
    else:
        messages.info(request, f"Run started as batch #{run.batch_id}.")
    return redirect(benchmark)
