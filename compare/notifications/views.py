"""The owners' notifications page of a team: its webhooks (add, delete, send a test, the recent
deliveries of each) and which members get which events by e-mail. The rules are in
compare/notifications/notifications.py; only owners reach this page (anyone else: 404)."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from compare.notifications import notifications
from compare.notifications.models import EVENTS, EmailSubscription, WebhookFormat
from compare.teams.views import team_role


def _page(request, team, status=200, **extra):
    hooks = [(hook, hook.deliveries.select_related("event").prefetch_related("attempt_rows")
              .order_by("-created_at", "-id")[:10]) for hook in team.webhooks.all()]
    members = team.memberships.select_related("user").order_by("user__username")
    chosen = set(team.email_subscriptions.values_list("user_id", "event"))
    rows = [(m, [(kind, (m.user_id, kind) in chosen) for kind in EVENTS]) for m in members]
    context = {"team": team, "hooks": hooks, "events": notifications.EVENTS_INFO, "formats": WebhookFormat.values,
               "email_rows": rows, **extra}
    return render(request, "notifications/notifications.html", context, status=status)


@team_role("owner", url_kwarg="pk")
def notifications_page(request, team):
    return _page(request, team)


@require_POST
@team_role("owner", url_kwarg="pk")
def create_webhook(request, team):
    """Save a webhook; the page, once, shows its secret in full (never stored in a message or
    cookie, never shown again)."""
    try:
        webhook, secret = notifications.create_webhook(
            team, request.user, url=request.POST.get("url", ""), events=request.POST.getlist("events"),
            secret=request.POST.get("secret", "").strip() or None, format=request.POST.get("format", "json"))
    except notifications.WebhookRefused as refused:
        return _page(request, team, status=400, errors=refused.errors, posted=request.POST)
    return _page(request, team, new_hook=webhook, new_secret=secret)


@require_POST
@team_role("owner", url_kwarg="pk")
def delete_webhook(request, team, hook):
    webhook = get_object_or_404(team.webhooks, pk=hook)
    webhook.delete()
    messages.success(request, f"Webhook to {webhook.url} deleted.")
    return redirect("notifications:team-notifications", team.pk)


@require_POST
@team_role("owner", url_kwarg="pk")
def test_webhook(request, team, hook):
    webhook = get_object_or_404(team.webhooks, pk=hook)
    notifications.send_test(webhook, request.user)
    messages.info(request, f"A webhook.test delivery to {webhook.url} is queued; its attempts show below.")
    return redirect("notifications:team-notifications", team.pk)


@require_POST
@team_role("owner", url_kwarg="pk")
def save_emails(request, team):
    """The checkboxes "USER_ID:EVENT": exactly these members get exactly these events by e-mail."""
    members = set(team.memberships.values_list("user_id", flat=True))
    wanted = set()
    for value in request.POST.getlist("email"):
        user_id, _, kind = value.partition(":")
        if user_id.isdigit() and int(user_id) in members and kind in EVENTS:
            wanted.add((int(user_id), kind))
    with transaction.atomic():
        team.email_subscriptions.all().delete()
        EmailSubscription.objects.bulk_create(EmailSubscription(team=team, user_id=u, event=k) for u, k in wanted)
    messages.success(request, f"E-mail choices saved ({len(wanted)} member-event pair{'s' if len(wanted) != 1 else ''}).")
    return redirect("notifications:team-notifications", team.pk)
