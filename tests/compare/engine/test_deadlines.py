"""Which deadline a result's call gets: the route's own by quality unless PROVIDER_DEADLINE_SECONDS
overrides it for every route; and the client it gets enforces it (providers/deadline.py)."""

import pytest

from providers.deadline import DeadlineTransport

from compare.engine import execution

from tests.compare import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("quality, override, seconds", [("low", None, 90), ("high", None, 180), ("high", 4.0, 4.0)])
def test_a_result_gets_its_routes_deadline_unless_overridden(alice, settings, quality, override, seconds):
    settings.PROVIDER_DEADLINE_SECONDS = override
    result = factories.comparison(user=alice, routes=("sandbox:fast",), quality=quality).results.get()
    with execution.Attempt(result) as attempt:
        assert attempt.deadline == seconds and attempt.provider.deadline == seconds
        assert isinstance(attempt.client._transport, DeadlineTransport)
        assert 0 < attempt.client._transport.remaining() <= seconds


def test_the_reaper_waits_for_the_longest_deadline_a_route_can_have(settings):
    settings.PROVIDER_DEADLINE_SECONDS = None
    assert settings.LONGEST_DEADLINE_SECONDS == 600.0
    from providers import registry
    from providers.base import ImageRequest

    route = registry.get_route("openai:gpt-image-2", {"OPENAI_API_KEY": "sk-test"})
    assert route.default_deadline(ImageRequest(prompt="x", quality="high", n=10)) <= settings.LONGEST_DEADLINE_SECONDS
