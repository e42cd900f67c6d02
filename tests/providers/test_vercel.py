import io
from decimal import Decimal

import pytest
from PIL import Image

from providers import vercel
from providers.base import (
    AuthenticationError, ContentPolicyError, InputImage, InsufficientCreditError,
    InvalidRequestError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.vercel import FakeVercelGateway

from tests.helpers import image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-gateway.test/v1"
KEY = "vck-test-gateway-key"
ROUTE = "vercel:openai/gpt-image-2"

class TestVercelGateway(ProviderContract):
    module = vercel
    route_key = ROUTE
    reports_cost = True
    secret = KEY

    def make_fake(self):
        return FakeVercelGateway(api_key=KEY)

    def env(self, fake):
        return {"AI_GATEWAY_API_KEY": KEY, "AI_GATEWAY_BASE_URL": BASE}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    def test_it_posts_the_openai_body_with_the_gateway_model_id_and_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/generations"
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"model": "openai/gpt-image-2", "prompt": "a red fox in fresh snow", "n": 2,
                                "size": "1536x1024", "quality": "high", "output_format": "webp"}

    def test_a_custom_size_is_sent_as_is(self, fake):
        result = self.run(fake, width=2048, height=1152)
        assert fake.calls[-1]["json"]["size"] == "2048x1152"
        assert Image.open(io.BytesIO(result.images[0].data)).size == (2048, 1152)

    # --- cost -------------------------------------------------------------------------------

    def test_usage_tokens_are_priced_at_vercels_published_token_rates(self, fake):
        result = self.run(fake, quality="high")
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.21102")  # 20 x $5/M + 7034 x $30/M
        assert result.usage.output_tokens == 7034

    def test_the_gateways_own_cost_wins_and_its_generation_id_is_the_request_id(self, fake):
        fake.gateway_cost = "0.0421"
        result = self.run(fake)
        assert result.usage.cost_usd == Decimal("0.0421")
        assert result.request_id.startswith("gen_")

    def test_the_ai_sdks_camel_case_usage_is_read_too(self, fake):
        fake.usage_style = "camel"
        result = self.run(fake, quality="low")
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.006")
        assert result.usage.input_tokens == 20

    def test_without_usage_or_gateway_cost_the_catalog_estimates(self, fake):
        fake.usage_style = "none"
        result = self.run(fake)
        assert result.usage is None
        assert result.request_id.startswith("iad1::")  # x-vercel-id is all there is to quote

    # --- shapes -----------------------------------------------------------------------------

    def test_url_images_are_downloaded(self, fake):
        fake.image_mode = "url"
        result = self.run(fake, n=2)
        assert len(result.images) == 2 and result.timings.download_ms is not None

    def test_auto_quality_notes_what_the_upstream_chose(self, fake):
        assert "quality auto: the provider chose high" in self.run(fake, quality="auto").notes

    # --- errors -----------------------------------------------------------------------------

    def test_an_openai_refusal_passed_through_is_a_content_refusal(self, fake):
        error = self.failure(fake, "policy", ContentPolicyError)
        assert "safety system" in error.message

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0

    def test_insufficient_funds_are_not_retryable(self, fake):
        error = self.failure(fake, "quota", InsufficientCreditError)
        assert not error.retryable

    def test_a_failed_upstream_dependency_is_retryable_unavailability(self, fake):
        error = self.failure(fake, "failed_dependency", ProviderUnavailableError)
        assert error.status == 424 and "upstream connect error" in error.message

    def test_a_team_rule_forbidding_the_call_is_a_permission_error(self, fake):
        self.failure(fake, "forbidden", AuthenticationError)

    def test_an_unknown_model_is_an_invalid_request(self, fake):
        error = self.failure(fake, "unknown_model", InvalidRequestError)
        assert "not found" in error.message

    def test_an_error_inside_http_200_is_raised_by_its_type(self, fake):
        error = self.failure(fake, "failed_in_200", ProviderUnavailableError)
        assert error.status == 424

    def test_it_works_over_loopback_http_through_the_runner(self):
        fake = FakeVercelGateway(api_key=KEY)
        result = run_over_loopback(fake, self.route,
                                   lambda url: {"AI_GATEWAY_API_KEY": KEY, "AI_GATEWAY_BASE_URL": f"{url}/v1"},
                                   self.request(width=1024, height=1536))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)

    def test_the_route_is_listed_but_not_configured_without_a_key(self):
        route = self.route({})
        assert route.missing_credentials({}) == ["AI_GATEWAY_API_KEY"]
        assert route.build(env={}).base_url == "https://ai-gateway.vercel.sh/v1"

    # --- edits: not offered -----------------------------------------------------------------

    def test_edits_are_not_declared_because_no_gateway_edit_endpoint_is_documented(self):
        capabilities = self.route(self.env(None)).capabilities
        assert not capabilities.edit and not capabilities.mask
        reference = InputImage(data=image_bytes(), filename="fox.png", url="https://app.example/media/fox.png")
        assert capabilities.problems(self.request(images=(reference,))) == ["edits with reference images"]

    def test_an_edit_reaching_the_adapter_is_refused_not_sent_as_a_generation(self, fake):
        reference = InputImage(data=image_bytes(), filename="fox.png", url="https://app.example/media/fox.png")
        with pytest.raises(InvalidRequestError, match="Edits are not offered on the Vercel AI Gateway route"):
            self.provider(fake).generate(self.request(images=(reference,)))
        assert fake.calls == []
