"""Every route by key. Routes are built from an environment mapping given by the caller
(the Django app passes os.environ), so this package never reads settings itself.

Each module in PROVIDER_MODULES has ``routes(env) -> list[Route]``; it is imported lazily.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from typing import Mapping

from . import sandbox
from .base import ConfigurationError, Provider, Route, UnusableProvider, unusable_route
from .pricing import Price, price_for

# Variables that add or shape routes (custom models, deployments): a team may set them too.
ROUTE_CONFIG_NAMES = ("FAL_MODELS", "REPLICATE_MODELS", "OPENROUTER_MODELS", "COMPATIBLE_ROUTES",
                      "AZURE_OPENAI_DEPLOYMENTS", "HIGGSFIELD_MODEL_PATHS")

PROVIDER_MODULES = ("openai", "openai_batch", "azure", "fal", "replicate", "apiframe", "wavespeed", "kie", "apipass", "openrouter", "vercel", "piapi", "pixazo", "gptimage2ai", "higgsfield", "compatible")


class UnknownRoute(KeyError):
    pass


@lru_cache(maxsize=8)
def _sandbox_routes(spec: str, scale: float) -> tuple[Route, ...]:
    return tuple(sandbox.routes(spec, scale))


def all_routes(env: Mapping[str, str]) -> dict[str, Route]:
    """Route key -> Route, in display order: sandbox first, then each provider."""
    spec = env.get("SANDBOX_ROUTES") or sandbox.DEFAULT_SPEC
    scale = float(env.get("SANDBOX_LATENCY_SCALE") or 1.0)
    found: dict[str, Route] = {route.key: route for route in _sandbox_routes(spec, scale)}
    for name in PROVIDER_MODULES:
        try:
            routes = import_module(f"{__package__}.{name}").routes(env)
        except ConfigurationError as exc:  # a malformed FAL_MODELS, say: that provider's routes only
            routes = [unusable_route(f"{name}:settings", str(exc))]
        for route in routes:
            found[route.key] = route
    return found


@lru_cache(maxsize=1)
def provider_variable_names() -> frozenset[str]:
    """Every variable a built-in provider reads: credentials, optional values, base URLs."""
    names = set()
    for provider in _provider_classes():
        names.update((*provider.credential_names, *provider.optional_names, *provider.alternative_names,
                      provider.base_url_name))
    names.discard("")
    return frozenset(names)


def _provider_classes() -> list[type[Provider]]:
    """The adapter classes each provider module defines."""
    modules = [sandbox, *(import_module(f"{__package__}.{name}") for name in PROVIDER_MODULES)]
    return [value for module in modules for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Provider) and value.__module__ == module.__name__]


@lru_cache(maxsize=1)
def secret_variable_names() -> frozenset[str]:
    """Every variable a built-in provider declares secret (``Provider.secret_names``)."""
    return frozenset(name for provider in _provider_classes() for name in provider.secret_names or ())


def setting_problems(env: Mapping[str, str]) -> list[str]:
    """Why each route-defining setting in ``env`` that cannot be read is not used (the reasons
    all_routes lists as unusable routes); empty when every one is fine."""
    return [route.options["reason"] for route in all_routes(env).values() if route.provider is UnusableProvider]


def get_route(key: str, env: Mapping[str, str]) -> Route:
    try:
        return all_routes(env)[key]
    except KeyError:
        raise UnknownRoute(key) from None


def route_price(route: Route) -> Price | None:
    return price_for(route.options.get("price_key") or route.key)
