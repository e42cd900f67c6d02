"""The JSON API: same validation as the form, token or session auth."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from . import routes as route_catalog
from . import services
from .auth import api_view, read_json
from .forms import form_from_json
from .models import Comparison, Team
from .presenters import comparison_dict


@api_view(["GET"])
def routes(request):
    team = Team.personal_for(request.user)
    if request.GET.get("team", "").isdigit():
        team = get_object_or_404(Team.objects.of(request.user), pk=int(request.GET["team"]))
    return JsonResponse({"routes": [choice.as_dict() for choice in route_catalog.route_choices(team=team)]})


@api_view(["GET", "POST"])
def comparisons(request):
    if request.method == "GET":
        queryset = Comparison.objects.visible_to(request.user)
        if request.GET.get("team", "").isdigit():
            queryset = queryset.filter(team_id=int(request.GET["team"]))
        queryset = (queryset.search(request.GET.get("q", "").strip())
                    .with_route(request.GET.get("route")).with_status(request.GET.get("status"))
                    .select_related("created_by", "team").prefetch_related("results", "references"))
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
    if not form.is_valid():
        return JsonResponse({"errors": {field: list(msgs) for field, msgs in form.errors.items()}}, status=400)
    comparison = services.create_from_form(form, request.user, form.team)
    return JsonResponse(comparison_dict(comparison, request), status=201)


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


@api_view(["GET"])
def teams(request):
    return JsonResponse({"teams": [
        {"id": team.pk, "name": team.name, "personal": team.personal, "role": team.role_of(request.user)}
        for team in Team.objects.of(request.user)]})
