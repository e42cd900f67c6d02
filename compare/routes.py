"""The bridge from Django to the providers package: which routes exist, whether each is
configured, and what it would cost. Credentials and base URLs come from the environment."""

import os
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from providers import registry
from providers.base import ImageRequest, Route


def provider_env(team=None):
    """The mapping the providers package reads credentials, base URLs and sandbox specs from:
    the environment, overridden by the team's own credentials when a team is given."""
    from .credentials import team_env

    env = dict(os.environ)
    env.update(team_env(team))
    if settings.SANDBOX_ROUTES:
        env["SANDBOX_ROUTES"] = settings.SANDBOX_ROUTES
    env["SANDBOX_LATENCY_SCALE"] = str(settings.SANDBOX_LATENCY_SCALE)
    return env


def available_routes(team=None):
    return registry.all_routes(provider_env(team))


def get_route(key, team=None):
    return registry.get_route(key, provider_env(team))


@dataclass
class RouteChoice:
    """A route as the compare page and the API present it, for one set of parameters."""

    route: Route
    missing_credentials: list
    estimate_usd: Decimal | None
    problems: list

    @property
    def key(self):
        return self.route.key

    @property
    def configured(self):
        return not self.missing_credentials

    @property
    def price(self):
        return registry.route_price(self.route)

    def as_dict(self):
        price = self.price
        return {
            "key": self.route.key,
            "provider": self.route.provider_slug,
            "label": self.route.label,
            "model": self.route.model,
            "configured": self.configured,
            "missing_credentials": self.missing_credentials,
            "sandbox": self.route.sandbox,
            "capabilities": self.route.capabilities.as_dict(),
            "price": price.as_dict() if price else None,
        }


def route_choices(request: ImageRequest | None = None, team=None):
    env = provider_env(team)
    choices = []
    for route in registry.all_routes(env).values():
        price = registry.route_price(route)
        choices.append(RouteChoice(
            route=route,
            missing_credentials=route.missing_credentials(env),
            estimate_usd=price.estimate(request) if (price and request) else None,
            problems=route.capabilities.problems(request) if request else [],
        ))
    return choices


def estimate(route: Route, request: ImageRequest):
    price = registry.route_price(route)
    return price.estimate(request) if price else None
