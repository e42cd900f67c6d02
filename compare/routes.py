"""The bridge from Django to the providers package: which routes exist, whether each is
configured, and what it would cost. Credentials and base URLs come from the environment."""

import hashlib
import json
import os
import threading
from collections import OrderedDict
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


def routes_for(env):
    """``registry.all_routes(env)``, built once per distinct environment in each process: a worker
    used to rebuild every route (parsing COMPATIBLE_ROUTES, FAL_MODELS, ...) for every task, CPU
    that delayed the other calls in flight. The cache key is a digest of the whole mapping (so no
    decrypted credential is kept as a key), so a team whose credentials or route settings change,
    or a changed environment, gets its routes built anew; the answer is a fresh dict over shared,
    immutable Route objects."""
    key = hashlib.sha256(json.dumps(sorted(env.items())).encode()).digest()
    with _routes_lock:
        routes = _routes_cache.get(key)
        if routes is not None:
            _routes_cache.move_to_end(key)
            return dict(routes)
    routes = registry.all_routes(env)
    with _routes_lock:
        _routes_cache[key] = routes
        while len(_routes_cache) > ROUTES_CACHE_SIZE:
            _routes_cache.popitem(last=False)
    return dict(routes)


ROUTES_CACHE_SIZE = 64
_routes_cache = OrderedDict()
_routes_lock = threading.Lock()


def available_routes(team=None):
    return routes_for(provider_env(team))


def get_route(key, team=None):
    try:
        return routes_for(provider_env(team))[key]
    except KeyError:
        raise registry.UnknownRoute(key) from None


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
    for route in routes_for(env).values():
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
