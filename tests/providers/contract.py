"""The contract every provider adapter passes. A test class for an adapter inherits
``ProviderContract`` and sets:

- ``module``: the adapter's module (its ``routes(env)`` lists the route under test);
- ``route_key``: the route under test;
- ``make_fake()``: a fresh fake of the provider's protocol (providers/testing/), with a ``scenario``
  attribute that accepts None (success), "auth", "invalid", "policy", "rate_limit", "server",
  "timeout" and "garbage" and answers each in the provider's own wire format;
- ``env(fake)``: the environment mapping (credentials, base URL) pointing at the fake;
- ``quality_sent(fake)``: the quality value the adapter put on the wire;
- ``reports_cost``: True when the provider's answer carries usage or cost.

Requests go through ``httpx.MockTransport(fake.handle)``, so the fake fails closed on anything
it does not know. Sleeps are skipped, so polling protocols run instantly.
"""

import io
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from providers import runner
from providers.base import (
    AuthenticationError, ContentPolicyError, ImageRequest, InputImage, InvalidRequestError,
    LongRunningProvider, Provider, ProviderError,
)
from providers.pricing import price_for

# The words credentials were once judged secret by, before adapters declared their secrets: every
# value they caught must still be among the declared ones (redaction never weakens).
OLD_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


class ProviderContract:
    module = None
    route_key = ""
    reports_cost = False
    secret = ""  # the credential value that must never appear in what we keep

    def make_fake(self):  # pragma: no cover - each adapter's tests define it
        raise NotImplementedError

    def env(self, fake):  # pragma: no cover
        raise NotImplementedError

    def quality_sent(self, fake):  # pragma: no cover
        raise NotImplementedError

    def request(self, **changes):
        base = dict(prompt="a red fox in fresh snow", width=1024, height=1024, quality="low", output_format="png", n=1)
        base.update(changes)
        return ImageRequest(**base)

    @pytest.fixture
    def fake(self):
        return self.make_fake()

    def route(self, env):
        return {route.key: route for route in self.module.routes(env)}[self.route_key]

    def provider(self, fake):
        env = self.env(fake)
        route = self.route(env)
        provider = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env, deadline=60)
        provider.sleep = lambda seconds: None
        return provider

    def provider_answering(self, handle):
        """A provider on this route whose every request ``handle`` answers (a hand-written server)."""
        env = self.env(None)
        return self.route(env).build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=env)

    def run(self, fake, **changes):
        return runner.execute(self.provider(fake), self.request(**changes), allow_private_urls=True)

    def failure(self, fake, scenario, kind, match=None, **changes):
        """The error of ``kind`` (its message matching ``match``) a run in ``scenario`` raises; the
        test fails if it raises none."""
        fake.scenario = scenario
        with pytest.raises(kind, match=match) as caught:
            self.run(fake, **changes)
        return caught.value

    # --- the contract ---------------------------------------------------------------------

    def test_contract_the_route_is_configured_by_its_environment(self, fake):
        route = self.route(self.env(fake))
        assert route.missing_credentials(self.env(fake)) == []
        if route.credential_names:
            assert route.missing_credentials({}) == list(route.credential_names)

    def test_contract_images_decode_at_the_requested_size(self, fake):
        result = self.run(fake)
        assert result.images
        for image in result.images:
            decoded = Image.open(io.BytesIO(image.data))
            decoded.load()
            assert decoded.size == (1024, 1024)

    def test_contract_quality_is_sent_explicitly(self, fake):
        self.run(fake, quality="medium")
        assert self.quality_sent(fake) == "medium"

    def test_contract_cost_is_reported_or_left_to_the_catalog(self, fake):
        result = self.run(fake)
        cost = result.usage.cost_usd if result.usage else None
        if self.reports_cost:
            assert isinstance(cost, Decimal) and cost >= 0
        else:
            assert cost is None
        route = self.route(self.env(fake))
        price = price_for(route.options.get("price_key") or route.key)
        assert price is None or (price.source and price.as_of)

    def test_contract_timings_are_measured(self, fake):
        result = self.run(fake)
        assert result.timings.total_ms > 0

    def test_contract_what_we_keep_holds_no_secret(self, fake):
        result = self.run(fake)
        kept = repr((result.request_sent, result.response_headers, result.request_id))
        assert self.secret and self.secret not in kept

    def test_contract_the_adapter_declares_its_secrets(self, fake):
        provider = self.provider(fake)
        assert any("secret_names" in vars(cls) for cls in type(provider).__mro__ if cls is not Provider)
        assert self.secret in provider.secrets()
        worded = {value for name, value in provider.credentials.items() if any(w in name for w in OLD_SECRET_WORDS)}
        assert worded <= set(provider.secrets())

    def test_contract_a_job_protocol_is_declared_long_running_or_not_at_all(self, fake):
        provider = self.provider(fake)
        if isinstance(provider, LongRunningProvider):
            for method in ("submit", "check", "cancel"):
                assert getattr(type(provider), method) is not getattr(LongRunningProvider, method), method
        else:
            assert not any(hasattr(provider, method) for method in ("submit", "check", "cancel", "long_running"))

    def test_contract_what_the_route_cannot_take_is_refused_before_anything_is_sent(self):
        sent = []

        def handle(request):
            sent.append(request)
            return httpx.Response(500)

        provider = self.provider_answering(handle)
        caps = provider.route.capabilities
        reference = InputImage(data=b"png", filename="ref.png", url="https://app.example/ref.png")
        images = (reference,) * (caps.max_input_images + 1 if caps.edit else 1)
        with pytest.raises(InvalidRequestError) as caught:
            runner.execute(provider, self.request(images=images))
        assert caught.value.code == "invalid_request" and not caught.value.retryable
        assert sent == []

    @pytest.mark.parametrize("scenario,kind", [("auth", AuthenticationError), ("invalid", InvalidRequestError),
                                               ("policy", ContentPolicyError)])
    def test_contract_permanent_errors_are_not_retryable(self, fake, scenario, kind):
        fake.scenario = scenario
        with pytest.raises(kind) as caught:
            self.run(fake)
        assert not caught.value.retryable
        assert self.secret not in caught.value.message

    @pytest.mark.parametrize("scenario", ["rate_limit", "server", "timeout"])
    def test_contract_transient_errors_are_retryable(self, fake, scenario):
        fake.scenario = scenario
        with pytest.raises(ProviderError) as caught:
            self.run(fake)
        assert caught.value.retryable

    def test_contract_a_garbage_image_is_still_returned_for_the_pipeline_to_refuse(self, fake):
        fake.scenario = "garbage"
        result = self.run(fake)  # the adapter passes bytes on; compare/images.py refuses them
        with pytest.raises(Exception):
            Image.open(io.BytesIO(result.images[0].data)).load()
