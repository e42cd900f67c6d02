"""The JSON API: same validation as the form, token or session auth."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from . import routes as route_catalog
from . import services
from .auth import api_view, read_json
from .forms import form_from_json
from .models import Comparison
from .presenters import comparison_dict


@api_view(["GET"])
def routes(request):
    return JsonResponse({"routes": [choice.as_dict() for choice in route_catalog.route_choices()]})


@api_view(["GET", "POST"])
def comparisons(request):
    if request.method == "GET":
        queryset = (Comparison.objects.search(request.GET.get("q", "").strip())
                    .with_route(request.GET.get("route")).with_status(request.GET.get("status"))
                    .select_related("created_by").prefetch_related("results"))
        page = Paginator(queryset, settings.HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        return JsonResponse({
            "comparisons": [comparison_dict(c, request, with_results=False) for c in page],
            "page": page.number, "pages": page.paginator.num_pages, "count": page.paginator.count,
        })
    payload, error = read_json(request)
    if error:
        return error
    form, errors = form_from_json(payload)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    if not form.is_valid():
        return JsonResponse({"errors": {field: list(msgs) for field, msgs in form.errors.items()}}, status=400)
    comparison = services.create_from_form(form, request.user)
    return JsonResponse(comparison_dict(comparison, request), status=201)


@api_view(["GET"])
def comparison(request, pk):
    found = get_object_or_404(Comparison.objects.select_related("created_by"), pk=pk)
    return JsonResponse(comparison_dict(found, request))


@api_view(["POST"])
def cancel(request, pk):
    found = get_object_or_404(Comparison, pk=pk)
    cancelled, asked = found.cancel()
    body = comparison_dict(found, request)
    body["cancel"] = {"cancelled": cancelled, "stopping": asked}
    return JsonResponse(body)
