"""A team's own prices for routes (plan discounts, enterprise contracts, models the catalog does
not know), entered by its owners on the team page; compare/pricing.py uses them for estimates
and budget reservations."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from compare import catalog
from compare.teams.models import TeamPrice, parse_usd
from compare.teams.views import _owned


@require_POST
def save_price(request, pk):
    team = _owned(request, pk)
    key = (request.POST.get("route_key") or "").strip()
    try:
        usd = parse_usd(request.POST.get("usd_per_image"), places="0.000001", what="A price per image")
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("teams:team-detail", team.pk)
    if key not in catalog.available_routes(team):
        messages.error(request, f"No route {key!r} on this installation for {team} (Routes lists them).")
    elif usd is None:
        messages.error(request, "Enter a price per image in USD, like 0.04.")
    else:
        TeamPrice.objects.update_or_create(team=team, route_key=key, defaults={
            "usd_per_image": usd, "entered_by": request.user, "entered_at": timezone.now()})
        messages.success(request, f"Team price for {key}: ${usd.normalize():f} per image.")
    return redirect("teams:team-detail", team.pk)


@require_POST
def delete_price(request, pk, price_id):
    team = _owned(request, pk)
    deleted, _ = TeamPrice.objects.filter(team=team, pk=price_id).delete()
    if deleted:
        messages.success(request, "Team price removed: the catalog's price (or the unpriced ceiling) applies again.")
    return redirect("teams:team-detail", team.pk)
