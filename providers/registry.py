"""Every route by key. Routes are built from an environment mapping given by the caller
(the Django app passes os.environ), so this package never reads settings itself."""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from . import sandbox
from .base import Route
from .pricing import Price, price_for


class UnknownRoute(KeyError):
    pass


@lru_cache(maxsize=8)
def _sandbox_routes(spec: str, scale: float) -> tuple[Route, ...]:
    return tuple(sandbox.routes(spec, scale))


def all_routes(env: Mapping[str, str]) -> dict[str, Route]:
    """Route key -> Route, in display order."""
    spec = env.get("SANDBOX_ROUTES") or sandbox.DEFAULT_SPEC
    scale = float(env.get("SANDBOX_LATENCY_SCALE") or 1.0)
    found: dict[str, Route] = {}
    for route in _sandbox_routes(spec, scale):
        found[route.key] = route
    return found


def get_route(key: str, env: Mapping[str, str]) -> Route:
    try:
        return all_routes(env)[key]
    except KeyError:
        raise UnknownRoute(key) from None


def route_price(route: Route) -> Price | None:
    return price_for(route.key)
