"""The comparison endpoints: the route catalog, submit and history, one comparison, cancel and rerun."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from compare import catalog, params, services
from compare.api.auth import api_view, read_json, team_asked
from compare.api.idempotency import idempotent
from compare.api.presenters import comparison_dict
from compare.forms import form_from_json, rerun_form
from compare.models import Comparison
from compare.review.models import with_my_verdict
from compare.review.visibility import Visibility
from compare.teams.models import SubmitRefused


@api_view(["GET"])
def routes(request):
    team = team_asked(request)
    return JsonResponse({"routes": [choice.as_dict() for choice in catalog.route_choices(team=team)]})


@api_view(["GET", "POST"])
@idempotent  # Idempotency-Key on POST (compare/api/idempotency.py)
def comparisons(request):
    if request.method == "GET":
        queryset = Comparison.objects.listed_for(request.user)
        if request.GET.get("team"):
            queryset = queryset.filter(team_id=params.object_id(request.GET["team"], "team"))
        queryset = (queryset.search(request.GET.get("q", "").strip())
                    .with_route(request.GET.get("route")).with_status(request.GET.get("status"))
                    .select_related("created_by", "team").prefetch_related("results", "references"))
        if request.GET.get("route"):  # a search by route names no route of an unjudged blind comparison
            queryset = queryset.filter(Visibility.named_for(request.user))
        page = Paginator(with_my_verdict(queryset, request.user), settings.HISTORY_PAGE_SIZE).get_page(
            request.GET.get("page"))
        rows = Visibility.for_rows(page.object_list, request.user)
        return JsonResponse({
            "comparisons": [comparison_dict(c, request, with_results=False, seen=c.seen) for c in rows],
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
