"""The provider catalog: which routes exist for a team, whether each is configured, what it would cost.

The bridge from Django to the providers package. Credentials and base URLs come from the
environment, with the team's own stored values (compare/teams/crypto.py) laid over it."""

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from providers import access, registry
from providers.base import ImageRequest, Route

from compare.teams.crypto import team_env


def server_env():
    """The server's own configuration as the providers package reads it: the environment and
    the sandbox settings. A copy of the whole environment (~0.2 ms): work on many routes reads it
    once and passes it on (``server=``), as a message of results does (engine/execution.py Shared)."""
    env = dict(os.environ)
    if settings.SANDBOX_ROUTES:
        env["SANDBOX_ROUTES"] = settings.SANDBOX_ROUTES
    env["SANDBOX_LATENCY_SCALE"] = str(settings.SANDBOX_LATENCY_SCALE)
    return env


def provider_env(team=None, values=None, server=None):
    """The mapping routes are defined from (which routes exist: FAL_MODELS, COMPATIBLE_ROUTES,
    ...): the server's configuration with the team's own values laid over it. Never build a
    provider from it: which key goes to which origin is ``route_access``'s decision.
    ``values``: the team's values, ``server``: server_env(), when the caller already has them."""
    env = server_env() if server is None else dict(server)
    env.update(team_env(team) if values is None else values)
    return env


def route_access(route, team=None, values=None, server=None):
    """What ``route`` is built with for ``team``: its credentials and base URL, decided in one
    place (providers/access.py) so that no server key ever reaches a team's base URL.
    ``values``: the team's values, ``server``: server_env(), when the caller already has them."""
    return access.resolve(route, server_env() if server is None else server,
                          team_env(team) if values is None else values)


class NotConfigured(Exception):
    """A route this team cannot run: ``message`` says what to set (and why, when a team value
    keeps the server's keys away)."""

    def __init__(self, route, found):
        self.access = found
        self.message = found.problem or f"{route.key} is not configured: set {', '.join(found.missing)}."
        super().__init__(self.message)


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


def available_routes(team=None, values=None, server=None):
    return routes_for(provider_env(team, values, server))


def get_route(key, team=None, values=None, server=None):
    try:
        return routes_for(provider_env(team, values, server))[key]
    except KeyError:
        raise registry.UnknownRoute(key) from None


@dataclass
class RouteChoice:
    """A route as the compare page and the API present it, for one set of parameters."""

    route: Route
    missing_credentials: list
    estimate_usd: Decimal | None
    problems: list
    unconfigured_reason: str = ""

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
            "unconfigured_reason": self.unconfigured_reason or None,
            "sandbox": self.route.sandbox,
            "capabilities": self.route.capabilities.as_dict(),
            "price": price.as_dict() if price else None,
        }


def route_choices(request: ImageRequest | None = None, team=None):
    server, values = server_env(), team_env(team)
    choices = []
    for route in routes_for({**server, **values}).values():
        price = registry.route_price(route)
        found = access.resolve(route, server, values)
        choices.append(RouteChoice(
            route=route,
            missing_credentials=found.missing,
            estimate_usd=price.estimate(request) if (price and request) else None,
            problems=route.capabilities.problems(request) if request else [],
            unconfigured_reason=found.problem,
        ))
    return choices


def estimate(route: Route, request: ImageRequest):
    price = registry.route_price(route)
    return price.estimate(request) if price else None
