"""What each provider call counts against a team's budget: the team's own price for the route
when it entered one, else the price catalog, else UNPRICED_CALL_CEILING_USD per image (a route
with no known price is never counted as free). Per call: a route listed twice is two calls,
and n images are n times the price."""

from decimal import Decimal

from django.conf import settings

from providers import registry
from providers.base import ImageRequest, Route

from compare.models import EstimateSource
from compare.teams.models import CallCost, TeamPrice


def team_prices(team):
    """{route key: TeamPrice} of the team (none without a team)."""
    if team is None:
        return {}
    return {price.route_key: price for price in TeamPrice.objects.filter(team=team)}


def call_cost(route: Route, request: ImageRequest, team_price=None) -> CallCost:
    if team_price is not None:
        return CallCost(route.key, team_price.usd_per_image * request.n, "team price",
                        team_price.entered_at.date().isoformat())
    price = registry.route_price(route)
    estimate = price.estimate(request) if price else None
    if estimate is not None:
        return CallCost(route.key, estimate, "catalog", price.as_of, rough=price.unresolved)
    return CallCost(route.key, ceiling() * request.n, "ceiling")


def call_costs(team, route_map, route_keys, request, prices=None):
    """One CallCost per call, in the order of route_keys (duplicates included)."""
    prices = team_prices(team) if prices is None else prices
    return [call_cost(route_map[key], request, prices.get(key)) for key in route_keys]


def estimate_of(cost: CallCost):
    """The estimated cost a result shows: the team's or the catalog's price, never the ceiling."""
    return None if cost.unpriced else cost.usd


def ceiling():
    return Decimal(str(settings.UNPRICED_CALL_CEILING_USD))


def estimate_source_of(cost: CallCost):
    """Where a result's estimate comes from (Result.estimate_source): "" for the ceiling."""
    if cost.basis == "team price":
        return EstimateSource.TEAM_PRICE
    if cost.unpriced:
        return ""
    return EstimateSource.ROUGH if cost.rough else EstimateSource.CATALOG
