"""The team endpoints: the teams you belong to and, for owners, budget, credentials and webhooks."""

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404

from compare.api.auth import api_view, read_json
from compare.notifications import notifications
from compare.teams import credentials
from compare.teams.models import Team, parse_usd


@api_view(["GET"])
def teams(request):
    return JsonResponse({"teams": [
        {"id": team.pk, "name": team.name, "personal": team.personal, "role": team.role_of(request.user)}
        for team in Team.objects.of(request.user)]})


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
