import json
from decimal import Decimal

import httpx
import pytest

from providers import compatible, openai, registry
from providers.base import InsufficientCreditError, RateLimitError
from tests.fakes.openai import FakeOpenAI
from tests.providers.contract import ProviderContract

BASE = "https://fake-openai.test/v1"


class TestOpenAI(ProviderContract):
    module = openai
    route_key = "openai:gpt-image-2"
    reports_cost = True
    secret = "sk-test-key"

    def make_fake(self):
        return FakeOpenAI(api_key=self.secret)

    def env(self, fake):
        return {"OPENAI_API_KEY": self.secret, "OPENAI_BASE_URL": BASE}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    def test_it_posts_the_documented_body_with_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/generations"
        assert call["headers"]["authorization"] == "Bearer sk-test-key"
        assert call["json"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": 2,
                                "size": "1536x1024", "quality": "high", "output_format": "webp"}

    def test_the_reported_cost_is_usage_tokens_times_catalog_prices(self, fake):
        result = self.run(fake, quality="high")
        # 20 text tokens at $5/M + 7034 image tokens at $30/M
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.21102")
        assert result.usage.output_tokens == 7034

    def test_it_keeps_the_request_id_and_the_providers_processing_time(self, fake):
        result = self.run(fake)
        assert result.request_id.startswith("req_")
        assert result.timings.provider_generation_ms == 1234.0
        assert result.response_headers["openai-processing-ms"] == "1234"
        assert result.request_sent["url"] == f"{BASE}/images/generations"

    def test_auto_quality_notes_what_the_provider_chose(self, fake):
        assert "quality auto: the provider chose high" in self.run(fake, quality="auto").notes

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0 and "images per minute" in error.message

    def test_an_exhausted_quota_is_not_retryable(self, fake):
        error = self.failure(fake, "quota", InsufficientCreditError)
        assert not error.retryable

    def test_organisation_and_project_headers_are_sent_when_set(self, fake):
        env = {**self.env(fake), "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj-1"}
        route = registry.get_route(self.route_key, env)
        route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env).generate(self.request())
        assert fake.calls[-1]["headers"]["openai-organization"] == "org-1"
        assert fake.calls[-1]["headers"]["openai-project"] == "proj-1"

    def test_an_error_inside_http_200_is_an_error(self):
        def handle(request):
            return httpx.Response(200, json={"error": {"message": "upstream failed", "type": "server_error"}})

        route = registry.get_route(self.route_key, self.env(None))
        provider = route.build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=self.env(None))
        with pytest.raises(Exception, match="upstream failed"):
            provider.generate(self.request())

    def test_the_route_is_listed_but_not_configured_without_a_key(self):
        route = registry.all_routes({})["openai:gpt-image-2"]
        assert route.missing_credentials({}) == ["OPENAI_API_KEY"]


class TestCompatible(ProviderContract):
    module = compatible
    route_key = "compatible:litellm"
    reports_cost = True
    secret = "sk-litellm-key"

    def make_fake(self):
        return FakeOpenAI(api_key=self.secret, prefix="/v1", image_mode="url",
                          extra_headers={"x-litellm-response-cost": "0.0421"})

    def env(self, fake):
        config = [{"name": "litellm", "base_url": "http://127.0.0.1:4000/v1", "model": "openai/gpt-image-2",
                   "api_key_env": "LITELLM_API_KEY", "price_as": "openai:gpt-image-2"}]
        return {"COMPATIBLE_ROUTES": json.dumps(config), "LITELLM_API_KEY": self.secret}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    def test_litellms_cost_header_is_the_reported_cost(self, fake):
        assert self.run(fake).usage.cost_usd == Decimal("0.0421")

    def test_url_images_are_downloaded(self, fake):
        result = self.run(fake, n=2)
        assert len(result.images) == 2 and result.timings.download_ms is not None

    def test_a_server_without_a_key_needs_no_credential(self):
        env = {"COMPATIBLE_ROUTES": json.dumps([{"name": "localai", "base_url": "http://127.0.0.1:8080/v1", "model": "sd"}])}
        route = registry.get_route("compatible:localai", env)
        assert route.missing_credentials(env) == []
        assert registry.route_price(route) is None  # unknown, never $0

    @pytest.mark.parametrize("config", ["not json", "{}", '[{"name": "x"}]'])
    def test_a_bad_configuration_is_refused_with_the_reason(self, config):
        with pytest.raises(ValueError, match="COMPATIBLE_ROUTES"):
            registry.all_routes({"COMPATIBLE_ROUTES": config})
