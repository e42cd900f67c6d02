"""The JSON API: same validation as the form, token or session auth."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from . import routes as route_catalog
from . import batches, benchmarks, credentials, notifications, params, services
from .auth import api_view, read_json
from .forms import form_from_json, rerun_form
from .idempotency import idempotent
from .models import Batch, Benchmark, Comparison, SubmitRefused, Team, checks_status
from .models.budgets import parse_usd
from .presenters import absolute, checks_dict, comparison_dict
from .visibility import Visibility


@api_view(["GET"])
def routes(request):
    team = _api_team(request)
    return JsonResponse({"routes": [choice.as_dict() for choice in route_catalog.route_choices(team=team)]})


@api_view(["GET", "POST"])
@idempotent  # Idempotency-Key on POST (compare/idempotency.py)
def comparisons(request):
    if request.method == "GET":
        queryset = Comparison.objects.visible_to(request.user)
        if request.GET.get("team"):
            queryset = queryset.filter(team_id=params.object_id(request.GET["team"], "team"))
        queryset = (queryset.search(request.GET.get("q", "").strip())
                    .with_route(request.GET.get("route")).with_status(request.GET.get("status"))
                    .select_related("created_by", "team").prefetch_related("results", "references"))
        if request.GET.get("route"):  # a search by route names no route of an unjudged blind comparison
            queryset = queryset.filter(Visibility.named_for(request.user))
        page = Paginator(queryset, settings.HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        return JsonResponse({
            "comparisons": [comparison_dict(c, request, with_results=False) for c in page],
            "page": page.number, "pages": page.paginator.num_pages, "count": page.paginator.count,
        })
    payload, error = read_json(request)
    if error:
        return error
    form, errors = form_from_json(payload, request.user)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    return _created(request, form, form.team)


def _created(request, form, team, rerun_of=None):
    """201 with the new comparison, or 400 {"errors": {...}} with every reason (budget included)."""
    if form.is_valid():
        try:
            comparison = services.create_from_form(form, request.user, team, rerun_of=rerun_of)
        except SubmitRefused as refused:
            form.add_error(None, str(refused))
        else:
            return JsonResponse(comparison_dict(comparison, request), status=201)
    return JsonResponse({"errors": {field: list(msgs) for field, msgs in form.errors.items()}}, status=400)


@api_view(["POST"])
def rerun(request, pk):
    """Run a comparison again: same prompt, routes, parameters and inputs, checked like a submit."""
    found = get_object_or_404(Comparison.objects.visible_to(request.user).select_related("team"), pk=pk)
    if not found.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {found.team} cannot run comparisons."}, status=403)
    return _created(request, rerun_form(found, request.user), found.team, rerun_of=found)


@api_view(["GET"])
def comparison(request, pk):
    found = get_object_or_404(Comparison.objects.visible_to(request.user).select_related("created_by"), pk=pk)
    return JsonResponse(comparison_dict(found, request))


@api_view(["POST"])
def cancel(request, pk):
    found = get_object_or_404(Comparison.objects.visible_to(request.user), pk=pk)
    if not found.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {found.team} cannot cancel comparisons."}, status=403)
    cancelled, asked = found.cancel()
    body = comparison_dict(found, request)
    body["cancel"] = {"cancelled": cancelled, "stopping": asked}
    return JsonResponse(body)


@api_view(["PUT"])
def team_budget(request, pk):
    """PUT {"monthly_usd": "12.50"} (null: no budget): owners only; the team's budget state."""
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        return JsonResponse({"error": f"Only owners of {team} set its budget."}, status=403)
    payload, error = read_json(request)
    if error:
        return error
    if not isinstance(payload, dict) or set(payload) != {"monthly_usd"}:
        return JsonResponse({"errors": {"monthly_usd": ['Send {"monthly_usd": "12.50"} (null removes the budget).']}},
                            status=400)
    try:
        team.monthly_budget_usd = parse_usd(payload["monthly_usd"])
    except ValueError as exc:
        return JsonResponse({"errors": {"monthly_usd": [str(exc)]}}, status=400)
    team.save(update_fields=["monthly_budget_usd"])
    return JsonResponse({"team": {"id": team.pk, "name": team.name}, **team.budget_state().as_dict()})


@api_view(["GET"])
def teams(request):
    return JsonResponse({"teams": [
        {"id": team.pk, "name": team.name, "personal": team.personal, "role": team.role_of(request.user)}
        for team in Team.objects.of(request.user)]})


@api_view(["GET", "PUT"])
def team_credentials(request, pk):
    """GET: the team's credential names, where each value comes from (team, server, not set) and
    the last four characters of the team's own. PUT {"NAME": "value", ...} ("" removes): all
    saved, or none and 400 {"errors": {NAME: [...]}}. Owners only."""
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        return JsonResponse({"error": f"Only an owner of {team} manages its credentials."}, status=403)
    if request.method == "PUT":
        payload, error = read_json(request)
        if error:
            return error
        if not isinstance(payload, dict) or not payload:
            return JsonResponse({"errors": {"__all__": ['The body must be a JSON object of {"NAME": "value"} '
                                                        '("" removes a value).']}}, status=400)
        errors = credentials.apply_changes(team, payload, request.user)
        if errors:
            return JsonResponse({"errors": errors}, status=400)
    return JsonResponse(credentials.listing(team))


@api_view(["GET", "POST"])
def team_webhooks(request, pk):
    """GET: the team's webhooks with their recent deliveries (secrets: the last four characters
    only). POST {"url", "events": [...], "secret"?, "format"?: "json" | "slack"}: 201 with the
    webhook and its secret, shown this once. Owners only (docs/notifications.md)."""
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        return JsonResponse({"error": f"Only an owner of {team} manages its webhooks."}, status=403)
    if request.method == "GET":
        return JsonResponse({"team": {"id": team.pk, "name": team.name}, "events": notifications.EVENTS_INFO,
                             "webhooks": [notifications.webhook_dict(h) for h in team.webhooks.all()]})
    payload, error = read_json(request)
    if error:
        return error
    fields = {"url", "events", "secret", "format"}
    if not isinstance(payload, dict) or not {"url", "events"} <= set(payload) or set(payload) - fields:
        return JsonResponse({"errors": {"__all__": ['Send {"url": "https://...", "events": ["comparison.finished"], '
                                                    '"secret"?: "...", "format"?: "json" or "slack"}.']}}, status=400)
    try:
        webhook, secret = notifications.create_webhook(
            team, request.user, url=payload["url"], events=payload["events"], secret=payload.get("secret"),
            format=payload.get("format") or "json")
    except notifications.WebhookRefused as refused:
        return JsonResponse({"errors": refused.errors}, status=400)
    return JsonResponse({**notifications.webhook_dict(webhook), "secret": secret}, status=201)


@api_view(["GET", "DELETE"])
def team_webhook(request, pk, hook):
    """GET: one webhook and its recent deliveries; DELETE: remove it (204). Owners only."""
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        return JsonResponse({"error": f"Only an owner of {team} manages its webhooks."}, status=403)
    webhook = get_object_or_404(team.webhooks, pk=hook)
    if request.method == "DELETE":
        webhook.delete()
        return HttpResponse(status=204)
    return JsonResponse(notifications.webhook_dict(webhook, recent=50))


# --- Prompt sets and batches (compare/batches.py) ---------------------------------------------

BATCH_FIELDS = {"prompt_set", "name", "use_prompt_sizes"}


def _api_team(request):
    """The team of ?team=ID (one of the user's, else 404; not an id: 400), or the personal team."""
    if request.GET.get("team"):
        return get_object_or_404(Team.objects.of(request.user), pk=params.object_id(request.GET["team"], "team"))
    return Team.personal_for(request.user)


@api_view(["GET"])
def prompt_sets(request):
    return JsonResponse({"prompt_sets": [s.as_dict() for s in batches.all_sets(_api_team(request))]})


@api_view(["GET", "POST"])
@idempotent  # Idempotency-Key on POST (compare/idempotency.py)
def batch_list(request):
    """GET: the team's batches (?team=ID, default the personal team). POST {"prompt_set", "routes",
    "params", "team"?, "blind"?, "hold_images_until_done"?, "name"?, "use_prompt_sizes"? (default
    true)}: one comparison per prompt of the set, validated like POST /api/comparisons."""
    if request.method == "GET":
        found = Batch.objects.filter(team=_api_team(request))[:200]
        return JsonResponse({"batches": [batch_dict(b, request, with_rows=False) for b in found]})
    payload, error = read_json(request)
    if error:
        return error
    if not isinstance(payload, dict):
        return JsonResponse({"errors": {"__all__": ["The body must be a JSON object."]}}, status=400)
    if "prompt" in payload:
        return JsonResponse({"errors": {"prompt": ["A batch takes its prompts from prompt_set; "
                                                   "POST /api/comparisons runs one prompt."]}}, status=400)
    use_sizes = payload.get("use_prompt_sizes", True)
    name = payload.get("name") or ""
    errors = {}
    if not isinstance(use_sizes, bool):
        errors["use_prompt_sizes"] = ["use_prompt_sizes must be true or false."]
    if not isinstance(name, str):
        errors["name"] = ["name must be a string."]
    base = {k: v for k, v in payload.items() if k not in BATCH_FIELDS}
    base["prompt"] = "(each prompt of the set)"  # replaced prompt by prompt in plan_batch
    form, form_errors = form_from_json(base, request.user)
    errors.update(form_errors or {})
    prompt_set = None
    if form is not None:
        prompt_set = batches.find_set(payload.get("prompt_set"), form.team)
        if prompt_set is None:
            errors["prompt_set"] = ["No prompt set of yours has that id (GET /api/prompt-sets lists them)."]
    if form is not None and form.files:
        errors["images"] = ["A batch runs text-to-image prompts: no images or mask."]
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    try:
        planned = batches.plan_batch(team=form.team, user=request.user, prompt_set=prompt_set, data=form.data,
                                     use_prompt_sizes=use_sizes)
        batch = batches.create_batch(user=request.user, team=form.team, prompt_set=prompt_set, planned=planned,
                                     name=name, use_prompt_sizes=use_sizes)
    except batches.BatchRefused as refused:
        return JsonResponse({"errors": refused.errors}, status=400)
    body = batch_dict(batch, request)
    body["comparison_ids"] = list(batch.items.values_list("comparison_id", flat=True))
    return JsonResponse(body, status=201)


@api_view(["GET"])
def batch(request, pk):
    found = get_object_or_404(Batch.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk)
    return JsonResponse(batch_dict(found, request))


def batch_dict(batch, request, with_rows=True):
    data = {
        "id": batch.pk, "name": batch.name,
        "prompt_set": {"id": batch.source, "name": batch.source_name},
        "team": {"id": batch.team_id, "name": batch.team.name},
        "created_at": batch.created_at,
        "created_by": batch.created_by.get_username() if batch.created_by else None,
        "params": batch.params, "use_prompt_sizes": batch.use_prompt_sizes, "blind": batch.blind,
        "url": absolute(request, batch.get_absolute_url()),
        "api_url": absolute(request, reverse("api:batch", args=[batch.pk])),
    }
    if not with_rows:
        return data
    matrix = batches.build_matrix(batch, request.user)
    data["status"] = "done" if matrix.done else "running"
    data["routes"] = None if matrix.names_hidden else batch.route_keys
    data["rows"] = [_row_dict(row, request) for row in matrix.rows]
    data["columns"] = None if matrix.names_hidden else [{
        "route": c.key, "results": len(c.results), "finished": c.finished, "succeeded": c.succeeded,
        "median_latency_ms": None if c.median_latency_ms is None else round(c.median_latency_ms, 1),
        "cost_usd_by_source": {source: _usd(usd) for source, usd in c.costs_by_source.items()},
        "unknown_cost": c.unknown_cost, "checked": c.checked, "text_scored": c.text_scored,
        "text_accuracy_mean": None if c.text_accuracy_mean is None else round(c.text_accuracy_mean, 4),
        "blank": c.blank_count, "size_mismatches": c.size_mismatch_count} for c in matrix.columns]
    return data


def _row_dict(row, request):
    comparison = row.comparison
    data = {"position": row.item.position + 1, "title": row.item.title, "prompt": comparison.prompt,
            "size": comparison.params.get("size"), "size_from_prompt": row.item.size_from_prompt,
            "comparison": {"id": comparison.pk, "url": absolute(request, comparison.get_absolute_url()),
                           "api_url": absolute(request, reverse("api:comparison", args=[comparison.pk]))},
            "masked": row.masked, "finished": row.finished, "total": row.total}
    # A blind comparison the user has not judged: no cells (their order would name the routes).
    data["cells"] = None if row.masked else [None if r is None else {
        "route": r.route_key, "status": r.status,
        "latency_ms": None if r.latency_ms is None else round(r.latency_ms, 1),
        "cost_usd": _usd(r.cost_usd), "cost_source": r.cost_source, "cost_label": r.cost_word,
        "estimated_cost_usd": _usd(r.estimated_cost_usd), "estimate_source": r.estimate_source or None,
        "error": r.error or None,
        "images": [] if row.held else [{"url": absolute(request, i.get_absolute_url()),
                                        "thumbnail_url": absolute(request, i.get_thumbnail_url()),
                                        "width": i.width, "height": i.height} for i in r.images.all()],
        "checks_status": checks_status(r), "checks": None if row.held else checks_dict(r),
    } for r in row.cells]
    return data


def _usd(value):
    return None if value is None else str(value.normalize())


# --- Continuous benchmarks (compare/benchmarks.py) -----------------------------------------------


def _benchmark_team(request, payload):
    """The team of the body's "team" (one of the user's), else the personal team; None if not one."""
    if payload.get("team") is None:
        return Team.personal_for(request.user)
    pk = payload["team"] if type(payload["team"]) is int else None
    return Team.objects.of(request.user).filter(pk=pk).first() if pk else None


@api_view(["GET", "POST"])
@idempotent  # Idempotency-Key on POST (compare/idempotency.py)
def benchmark_list(request):
    """GET: the team's benchmarks (?team=ID, default the personal team). POST {"name", "routes",
    "prompts" | "prompt_set", "params"?, "repeats"?, "schedule": "0 */6 * * *" | null, "team"?}."""
    if request.method == "GET":
        found = Benchmark.objects.filter(team=_api_team(request)).select_related("team")
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
@idempotent  # Idempotency-Key on POST (compare/idempotency.py)
def benchmark_run(request, pk):
    """Run it now: 201 with the run (its batch, or status "refused" with the reason, e.g. the budget)."""
    found = _visible_benchmark(request, pk)
    if not found.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {found.team} cannot run benchmarks."}, status=403)
    run = benchmarks.start_run(found, trigger="manual", user=request.user)
    return JsonResponse(benchmarks.run_dict(run), status=201)
