"""The prompt-set and batch endpoints (compare/batches/): saved prompts, batches and their matrix as JSON."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from compare.api.auth import api_view, read_json, team_asked
from compare.api.idempotency import idempotent
from compare.api.presenters import absolute, checks_dict
from compare.batches.matrix import build_matrix
from compare.batches.models import Batch, Prompt, PromptSet
from compare.batches.planning import BatchRefused, cancel_batch, create_batch, plan_batch
from compare.batches.prompt_sets import all_sets, find_set, save_prompt
from compare.checks.models import checks_status
from compare.forms import form_from_json
from compare.teams.models import Team

BATCH_FIELDS = {"prompt_set", "name", "use_prompt_sizes"}


@api_view(["GET"])
def prompt_sets(request):
    return JsonResponse({"prompt_sets": [s.as_dict() for s in all_sets(team_asked(request))]})


PROMPT_FIELDS = {"text", "set", "title"}


@api_view(["POST"])
def prompts(request):
    """POST {"text", "set"?, "title"?} (?team=ID): save a prompt into the team's set of that name
    (made if new) or its default set, as "Save this prompt" on the compare page (members)."""
    team = team_asked(request)
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
    saved, prompt_set = save_prompt(team, request.user, text.strip(), payload.get("set", ""),
                                            payload.get("title", ""))
    return JsonResponse({"prompt": {"id": saved.pk, "title": saved.title, "text": saved.text},
                         "prompt_set": find_set(prompt_set.ref, team).as_dict()}, status=201)


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
@idempotent  # Idempotency-Key on POST (compare/api/idempotency.py)
def batch_list(request):
    """GET: the team's batches (?team=ID, default the personal team). POST {"prompt_set", "routes",
    "params", "team"?, "blind"?, "hold_images_until_done"?, "name"?, "use_prompt_sizes"? (default
    true)}: one comparison per prompt of the set, validated like POST /api/comparisons."""
    if request.method == "GET":
        found = Batch.objects.filter(team=team_asked(request)).select_related("team", "created_by").with_progress()
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
        prompt_set = find_set(payload.get("prompt_set"), form.team)
        if prompt_set is None:
            errors["prompt_set"] = ["No prompt set of yours has that id (GET /api/prompt-sets lists them)."]
    if form is not None and form.files:
        errors["images"] = ["A batch runs text-to-image prompts: no images or mask."]
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    try:
        planned = plan_batch(team=form.team, user=request.user, prompt_set=prompt_set, data=form.data,
                                     use_prompt_sizes=use_sizes)
        batch = create_batch(user=request.user, team=form.team, prompt_set=prompt_set, planned=planned,
                                     name=name, use_prompt_sizes=use_sizes)
    except BatchRefused as refused:
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
    cancelled, asked = cancel_batch(found)
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
    matrix = build_matrix(batch, request.user)
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
