"""The JSON API: same validation as the form, token or session auth."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from .. import routes as route_catalog
from .. import batches, benchmarks, credentials, insights, leaderboard, notifications, params, services
from . import openapi
from .auth import api_view, read_json
from ..forms import form_from_json, rerun_form
from .idempotency import idempotent
from ..models import (Batch, Benchmark, Comment, Comparison, Prompt, PromptSet, Result, SubmitRefused, Team, Thumb,
                     checks_status)
from ..models.budgets import parse_usd
from ..models.reviews import Review, ReviewRefused, VerdictKind, give_verdict, rate, set_review_mode
from .presenters import absolute, checks_dict, comparison_dict, leaderboard_row_dict, result_dict, review_dict
from ..visibility import Visibility


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


PROMPT_FIELDS = {"text", "set", "title"}


@api_view(["POST"])
def prompts(request):
    """POST {"text", "set"?, "title"?} (?team=ID): save a prompt into the team's set of that name
    (made if new) or its default set, as "Save this prompt" on the compare page (members)."""
    team = _api_team(request)
    if not team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {team} cannot save prompts."}, status=403)
    payload, error = read_json(request)
    if error:
        return error
    if not isinstance(payload, dict):
        return JsonResponse({"errors": {"__all__": ["The body must be a JSON object."]}}, status=400)
    errors = {name: [f"Unknown field: use {', '.join(sorted(PROMPT_FIELDS))}."] for name in set(payload) - PROMPT_FIELDS}
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        errors["text"] = ["text is the prompt: a non-empty string."]
    for name in ("set", "title"):
        if not isinstance(payload.get(name, ""), str):
            errors[name] = [f"{name} must be a string."]
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    saved, prompt_set = batches.save_prompt(team, request.user, text.strip(), payload.get("set", ""),
                                            payload.get("title", ""))
    return JsonResponse({"prompt": {"id": saved.pk, "title": saved.title, "text": saved.text},
                         "prompt_set": batches.find_set(prompt_set.ref, team).as_dict()}, status=201)


def _delete_own(request, model, pk, what):
    """DELETE of a team's saved prompt or prompt set (members): 204; batches already run keep theirs."""
    row = get_object_or_404(model.objects.filter(team__in=Team.objects.of(request.user)).select_related("team"),
                            pk=pk)
    if not row.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {row.team} cannot delete {what}."}, status=403)
    row.delete()
    return HttpResponse(status=204)


@api_view(["DELETE"])
def prompt(request, pk):
    return _delete_own(request, Prompt, pk, "prompts")


@api_view(["DELETE"])
def prompt_set(request, pk):
    return _delete_own(request, PromptSet, pk, "prompt sets")


@api_view(["GET", "POST"])
@idempotent  # Idempotency-Key on POST (compare/idempotency.py)
def batch_list(request):
    """GET: the team's batches (?team=ID, default the personal team). POST {"prompt_set", "routes",
    "params", "team"?, "blind"?, "hold_images_until_done"?, "name"?, "use_prompt_sizes"? (default
    true)}: one comparison per prompt of the set, validated like POST /api/comparisons."""
    if request.method == "GET":
        found = Batch.objects.filter(team=_api_team(request)).select_related("team", "created_by").with_progress()
        return JsonResponse({"batches": [{**batch_dict(b, request, with_rows=False), "prompts": b.prompts,
                                          "cells": b.cells, "running": b.running,
                                          "status": "running" if b.running else "done"} for b in found[:200]]})
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


@api_view(["POST"])
def batch_cancel(request, pk):
    """Cancel every comparison of the batch still running (as the batch page's Cancel button)."""
    found = get_object_or_404(Batch.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk)
    if not found.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {found.team} cannot cancel batches."}, status=403)
    cancelled, asked = batches.cancel_batch(found)
    body = batch_dict(found, request)
    body["cancel"] = {"cancelled": cancelled, "stopping": asked}
    return JsonResponse(body)


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


# --- Review (compare/models/reviews.py; what shows is asked of compare/visibility.py) ----------

THUMBS = {"up": Thumb.UP, "down": Thumb.DOWN, None: None}


def _visible_comparison(request, pk):
    return get_object_or_404(Comparison.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk)


def _viewer_refused(comparison):
    return JsonResponse({"error": f"Viewers of {comparison.team} see the review but cannot vote or comment."},
                        status=403)


def _json_object(request, fields):
    """(payload, None) for a JSON object with exactly these keys, else (None, a 400 naming them)."""
    payload, error = read_json(request)
    if error:
        return None, error
    if not isinstance(payload, dict) or set(payload) != set(fields):
        return None, JsonResponse({"errors": {name: [f"Send a JSON object with exactly: {', '.join(fields)}."]
                                              for name in fields}}, status=400)
    return payload, None


def review_state(comparison, request):
    """The review as the requesting member may see it: verdicts, comments, each result's thumbs."""
    review = Review(comparison, request.user)
    kept = ("id", "blind_label", "route", "label", "status", "ratings", "my_rating")
    results = [{k: v for k, v in result_dict(r, request, review).items() if k in kept} for r in review.results]
    my = review.my_verdict
    return {"comparison": comparison.pk, **review_dict(review), "can_review": review.can_review,
            "can_vote": review.can_vote, "done": review.done,
            "my_verdict": None if my is None else {"kind": my.kind, "winner": my.winner_id},
            "results": results}


@api_view(["GET"])
def review(request, pk):
    """GET: the review state; blind until the user's own verdict, as on the page."""
    return JsonResponse(review_state(_visible_comparison(request, pk), request))


@api_view(["POST"])
def rate_result(request, pk):
    """POST {"thumb": "up" | "down" | null}: the user's thumb on a finished result (null takes it
    back); the result as the user may see it."""
    visible = Comparison.objects.visible_to(request.user)
    found = get_object_or_404(Result.objects.filter(comparison__in=visible).select_related("comparison__team"), pk=pk)
    comparison = found.comparison
    if not comparison.team.can_run(request.user):
        return _viewer_refused(comparison)
    payload, error = _json_object(request, ["thumb"])
    if error:
        return error
    if not isinstance(payload["thumb"], (str, type(None))) or payload["thumb"] not in THUMBS:
        return JsonResponse({"errors": {"thumb": ['thumb is "up", "down" or null (takes it back).']}}, status=400)
    try:
        rate(found, request.user, THUMBS[payload["thumb"]])
    except ReviewRefused as exc:
        return JsonResponse({"errors": {"thumb": [str(exc)]}}, status=400)
    seen = Review(comparison, request.user)
    return JsonResponse(result_dict(seen.result(found.pk), request, seen))


@api_view(["POST"])
def verdict(request, pk):
    """POST {"winner": RESULT_ID | "tie" | "all_bad"}: the user's one verdict (again: replaces it).
    On a blind comparison it reveals the routes to this user: the answer is the comparison."""
    comparison = _visible_comparison(request, pk)
    if not comparison.team.can_run(request.user):
        return _viewer_refused(comparison)
    payload, error = _json_object(request, ["winner"])
    if error:
        return error
    choice = payload["winner"]
    if isinstance(choice, int) and not isinstance(choice, bool):
        kind, winner = VerdictKind.WINNER, choice
    elif choice in (VerdictKind.TIE, VerdictKind.ALL_BAD):
        kind, winner = choice, None
    else:
        return JsonResponse({"errors": {"winner": ['winner is a result id of this comparison, "tie" or "all_bad".']}},
                            status=400)
    try:
        give_verdict(comparison, request.user, kind, winner)
    except ReviewRefused as exc:
        return JsonResponse({"errors": {"winner": [str(exc)]}}, status=400)
    return JsonResponse(comparison_dict(comparison, request))


@api_view(["POST"])
def comments(request, pk):
    """POST {"text": "..."}: a comment (plain text, 1 to 4,000 characters)."""
    comparison = _visible_comparison(request, pk)
    if not comparison.team.can_run(request.user):
        return _viewer_refused(comparison)
    payload, error = _json_object(request, ["text"])
    if error:
        return error
    text = payload["text"].strip() if isinstance(payload["text"], str) else None
    limit = Comment._meta.get_field("text").max_length
    if not text or len(text) > limit:
        return JsonResponse({"errors": {"text": [f"text is a non-empty string of at most {limit:,} characters."]}},
                            status=400)
    comment = Comment.objects.create(comparison=comparison, user=request.user, text=text)
    return JsonResponse({"id": comment.pk, "user": request.user.get_username(), "text": comment.text,
                         "created_at": comment.created_at}, status=201)


@api_view(["PUT"])
def review_mode(request, pk):
    """PUT {"blind": bool, "hold_images_until_done": bool}: the team's review mode (owners and
    members); the review state after it."""
    comparison = _visible_comparison(request, pk)
    if not comparison.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {comparison.team} cannot change the review mode."}, status=403)
    payload, error = _json_object(request, ["blind", "hold_images_until_done"])
    if error:
        return error
    errors = {name: [f"{name} must be true or false."] for name, value in payload.items() if not isinstance(value, bool)}
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    set_review_mode(comparison, blind=payload["blind"], hold_images_until_done=payload["hold_images_until_done"])
    return JsonResponse(review_state(comparison, request))


# --- Leaderboard (compare/leaderboard.py) ------------------------------------------------------

LEADERBOARD_FILTERS = ("from", "to", "quality", "size")


@api_view(["GET"])
def leaderboard_rows(request):
    """GET ?team=&from=&to=&quality=&size=: the leaderboard page's rows, same filters; a filter
    the page would ignore is a 400 naming it here."""
    team = _api_team(request)
    errors = {}
    for name in LEADERBOARD_FILTERS:
        if request.GET.get(name):
            _, problems = insights.parse_filters({name: request.GET[name]})
            if problems:
                errors[name] = problems
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    filters, _ = insights.parse_filters(request.GET)
    rows = leaderboard.build_for_team(team, filters)
    return JsonResponse({"team": {"id": team.pk, "name": team.name}, "filters": filters.as_query(),
                         "min_votes": leaderboard.MIN_VOTES, "routes": [leaderboard_row_dict(row) for row in rows]})


# --- The API described (compare/openapi.py) ----------------------------------------------------


@api_view(["GET"])
def openapi_document(request):
    return JsonResponse(openapi.document(), json_dumps_params={"indent": 1})


def docs(request):
    """The document as a page: each endpoint with its parameters, body and answers, and the schemas."""
    return render(request, "compare/api_docs.html", openapi.page_context())


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
