from decimal import Decimal

import pytest

from providers import registry
from providers.base import ImageRequest


def test_sandbox_routes_need_no_credentials():
    routes = registry.all_routes({})
    assert "sandbox:fast" in routes
    sandbox = [route for route in routes.values() if route.sandbox]
    assert sandbox and all(route.missing_credentials({}) == [] for route in sandbox)
    assert routes["openai:gpt-image-2"].missing_credentials({}) == ["OPENAI_API_KEY"]


def test_the_sandbox_spec_comes_from_the_environment_mapping():
    routes = registry.all_routes({"SANDBOX_ROUTES": "a=1-1; b=2-2", "SANDBOX_LATENCY_SCALE": "0.5"})
    assert [key for key in routes if key.startswith("sandbox:")] == ["sandbox:a", "sandbox:b"]
    assert routes["sandbox:b"].options["latency_scale"] == 0.5


def test_an_unknown_route_is_an_error():
    with pytest.raises(registry.UnknownRoute):
        registry.get_route("nowhere:model", {})


def test_the_catalog_prices_sandbox_routes_at_zero_with_a_source():
    price = registry.route_price(registry.get_route("sandbox:fast", {}))
    assert price.estimate(ImageRequest("x", n=3)) == Decimal("0")
    assert price.source and price.as_of
