from decimal import Decimal

import pytest

from providers import registry
from providers.base import ImageRequest, Provider


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


def test_every_adapter_declares_its_secrets_and_every_secret_looking_credential_is_one():
    adapters = registry._provider_classes()
    assert len(adapters) > 15
    for adapter in adapters:
        assert any("secret_names" in vars(cls) for cls in adapter.__mro__ if cls is not Provider), adapter
        read = (*adapter.credential_names, *adapter.alternative_names, *adapter.optional_names)
        worded = {name for name in read if any(word in name for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"))}
        assert worded <= set(adapter.secret_names), adapter
    assert {"HF_CREDENTIALS", "OPENAI_API_KEY"} <= registry.secret_variable_names()
    assert "AZURE_OPENAI_ENDPOINT" not in registry.secret_variable_names()  # an endpoint stays readable


def test_a_route_that_names_its_own_key_makes_it_a_secret():
    env = {"COMPATIBLE_ROUTES": '[{"name": "lab", "base_url": "http://127.0.0.1:9", "model": "m", '
                                '"api_key_env": "LAB_TOKEN"}]', "LAB_TOKEN": "correct-horse-battery"}
    provider = registry.get_route("compatible:lab", env).build(env=env)
    assert provider.secrets() == ["correct-horse-battery"]
