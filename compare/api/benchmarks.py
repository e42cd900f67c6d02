"""The continuous-benchmark endpoints (compare/benchmarks/runs.py): define, change, delete and run a benchmark."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404

from compare.api.auth import api_view, read_json, team_asked
from compare.api.idempotency import idempotent
from compare.benchmarks import runs as benchmarks
from compare.benchmarks.models import Benchmark
from compare.teams.models import Team


def _benchmark_team(request, payload):
    """The team of the body's "team" (one of the user's), else the personal team; None if not one."""
    if payload.get("team") is None:
        return Team.personal_for(request.user)
    pk = payload["team"] if type(payload["team"]) is int else None
    return Team.objects.of(request.user).filter(pk=pk).first() if pk else None


@api_view(["GET", "POST"])
@idempotent  # Idempotency-Key on POST (compare/api/idempotency.py)
def benchmark_list(request):
    """GET: the team's benchmarks (?team=ID, default the personal team). POST {"name", "routes",
    "prompts" | "prompt_set", "params"?, "repeats"?, "schedule": "0 */6 * * *" | null, "team"?}."""
    if request.method == "GET":
        found = Benchmark.objects.filter(team=team_asked(request)).select_related("team")
        return JsonResponse({"benchmarks": [benchmarks.benchmark_dict(b) for b in found]})
    payload, error = read_json(request)
    if error:
        return error
    if not isinstance(payload, dict):
        return JsonResponse({"errors": {"__all__": ["The body must be a JSON object."]}}, status=400)
    team = _benchmark_team(request, payload)
    if team is None:
        return JsonResponse({"errors": {"team": ["No team of yours has that id (GET /api/teams lists them)."]}},
                            status=400)
    if not team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {team} cannot create benchmarks."}, status=403)
    values, errors = benchmarks.clean(payload, team, request.user)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    values.pop("team", None)
    created = Benchmark(team=team, created_by=request.user, **values)
    created.next_run_at = benchmarks.next_run(created.schedule)
    created.save()
    return JsonResponse(benchmarks.benchmark_dict(created, full=True), status=201)


def _visible_benchmark(request, pk):
    return get_object_or_404(Benchmark.objects.filter(team__in=Team.objects.of(request.user))
                             .select_related("team", "created_by"), pk=pk)


@api_view(["GET", "PATCH", "DELETE"])
def benchmark(request, pk):
    """GET: the benchmark with its runs, series and alerts. PATCH: any of POST's fields.
    DELETE: the benchmark, its runs and alerts (its batches stay in the history)."""
    found = _visible_benchmark(request, pk)
    if request.method == "GET":
        return JsonResponse(benchmarks.benchmark_dict(found, full=True))
    if not found.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {found.team} cannot change benchmarks."}, status=403)
    if request.method == "DELETE":
        found.delete()
        return HttpResponse(status=204)
    payload, error = read_json(request)
    if error:
        return error
    if isinstance(payload, dict) and "team" in payload:
        return JsonResponse({"errors": {"team": ["A benchmark stays in its team."]}}, status=400)
    values, errors = benchmarks.clean(payload, found.team, request.user, partial=True, instance=found)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    for name, value in values.items():
        setattr(found, name, value)
    if "schedule" in values:
        found.next_run_at = benchmarks.next_run(found.schedule)
    found.save()
    return JsonResponse(benchmarks.benchmark_dict(found, full=True))


@api_view(["POST"])
@idempotent  # Idempotency-Key on POST (compare/api/idempotency.py)
def benchmark_run(request, pk):
    """Run it now: 201 with the run (its batch, or status "refused" with the reason, e.g. the budget)."""
    found = _visible_benchmark(request, pk)
    if not found.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {found.team} cannot run benchmarks."}, status=403)
    run = benchmarks.start_run(found, trigger="manual", user=request.user)
    return JsonResponse(benchmarks.run_dict(run), status=201)
