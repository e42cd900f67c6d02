"""The share-link endpoints: make a link to a comparison, read one, revoke it (the rules: compare/sharing/views.py)."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from compare.api.auth import api_view, read_json
from compare.models import Comparison
from compare.review.visibility import Visibility
from compare.sharing.models import ShareLink
from compare.sharing.views import absolute, blind_refusal, link_options, names_routes, public_url


def link_dict(request, link):
    return {
        "url": public_url(request, link),
        "api_url": absolute(request, reverse("api:share-link", args=[link.pk])),
        "expires_at": link.expires_at, "created_at": link.created_at, "revoked_at": link.revoked_at,
        "last_opened_at": link.last_opened_at, "live": link.is_live, "kind": link.kind,
        "blind": link.blind, "show_costs": link.show_costs,
        "comparisons": [link.comparison_id] if link.comparison_id else link.comparison_ids,
    }


@api_view(["POST"])
def share(request, pk):
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user), pk=pk)
    if not comparison.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {comparison.team} cannot make share links."}, status=403)
    payload, error = read_json(request)
    if error:
        return error
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        return JsonResponse({"errors": {"__all__": ["Send a JSON object."]}}, status=400)
    flags = {name: payload.get(name, default) for name, default in (("blind", False), ("show_costs", True),
                                                                    ("vote", False))}
    wrong = [name for name, value in flags.items() if not isinstance(value, bool)]
    if wrong:
        return JsonResponse({"errors": {name: ["Must be true or false."] for name in wrong}}, status=400)
    try:
        options = link_options(hours=payload.get("expires_in_hours"), **flags)
    except ValueError as exc:
        return JsonResponse({"errors": {"expires_in_hours": [str(exc)]}}, status=400)
    if names_routes(options) and not Visibility.for_member(comparison, request.user).named_links:
        return JsonResponse({"errors": {"blind": [blind_refusal(comparison)]}}, status=403)
    link = ShareLink.objects.create(team=comparison.team, comparison=comparison, created_by=request.user, **options)
    return JsonResponse(link_dict(request, link), status=201)


@api_view(["GET", "DELETE"])
def share_link(request, pk):
    link = get_object_or_404(ShareLink.objects.of_teams(request.user), pk=pk)
    if request.method == "GET":
        return JsonResponse(link_dict(request, link))
    if not link.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {link.team} cannot revoke share links."}, status=403)
    link.revoke()
    return HttpResponse(status=204)
