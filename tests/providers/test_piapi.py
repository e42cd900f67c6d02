import base64
import io
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from providers import piapi, pricing
from providers.base import AuthenticationError, InsufficientCreditError, InvalidRequestError, RateLimitError
from providers.testing.openai import RED, mask, reference
from providers.testing.piapi import FakePiAPI

from tests.helpers import run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-piapi.test/v1"
KEY = "piapi-test-secret-key"
ENV = {"PIAPI_API_KEY": KEY, "PIAPI_BASE_URL": BASE}

def png_b64(width=8, height=8):
    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


class PiAPIContract(ProviderContract):
    module = piapi
    secret = KEY

    def make_fake(self):
        return FakePiAPI(api_key=KEY)

    def env(self, fake):
        return dict(ENV)

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]


class TestPiAPI(PiAPIContract):
    route_key = "piapi:gpt-image-2"
    reports_cost = True

    def test_it_posts_the_openai_body_with_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="jpeg", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/generations"
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": 2,
                                "size": "1536x1024", "quality": "high", "output_format": "jpeg"}

    def test_url_images_are_downloaded_from_piapis_host(self, fake):
        result = self.run(fake, n=2)
        assert len(result.images) == 2 and result.timings.download_ms is not None
        assert all(image.url.startswith("https://fake-piapi.test/files/") for image in result.images)

    def test_base64_images_are_accepted_too(self, fake):
        fake.image_mode = "b64_json"
        result = self.run(fake)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert result.timings.download_ms is None

    def test_usage_tokens_are_priced_at_piapis_published_token_rates(self, fake):
        result = self.run(fake, quality="high")
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.21102")  # 20 x $5/M + 7034 x $30/M
        assert result.usage.input_tokens == 20 and result.usage.output_tokens == 7034

    def test_a_cost_in_usage_wins_over_the_token_rates(self):
        answer = {"data": [{"b64_json": png_b64()}], "usage": {"input_tokens": 20, "output_tokens": 200, "cost": 0.0123}}
        result = self.provider_answering(lambda request: httpx.Response(200, json=answer)).generate(self.request())
        assert result.usage.cost_usd == Decimal("0.0123")

    def test_custom_sizes_and_several_images_are_offered(self):
        caps = self.route(ENV).capabilities
        assert caps.problems(self.request(width=2048, height=1152, n=4)) == []

    def test_an_exhausted_balance_is_not_retryable(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError)
        assert not error.retryable and "top up" in error.message

    def test_an_openai_quota_error_is_an_exhausted_balance(self, fake):
        self.failure(fake, "quota", InsufficientCreditError)

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0

    def test_a_task_api_style_error_inside_http_200_is_raised(self):
        answer = {"code": 400, "message": "prompt is required", "data": None}
        provider = self.provider_answering(lambda request: httpx.Response(200, json=answer))
        with pytest.raises(InvalidRequestError, match="prompt is required"):
            provider.generate(self.request())

    def test_a_task_api_style_auth_error_keeps_piapis_words(self):
        answer = {"code": 401, "message": "Invalid API key"}
        provider = self.provider_answering(lambda request: httpx.Response(401, json=answer))
        with pytest.raises(AuthenticationError, match="Invalid API key"):
            provider.generate(self.request())

    def test_it_works_over_loopback_http_through_the_runner(self):
        fake = FakePiAPI(api_key=KEY)
        result = run_over_loopback(fake, self.route, lambda url: {"PIAPI_API_KEY": KEY, "PIAPI_BASE_URL": f"{url}/v1"},
                                   self.request(width=1024, height=1536))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert result.usage.cost_usd > 0

    def test_the_route_is_listed_but_not_configured_without_a_key(self):
        route = self.route({})
        assert route.missing_credentials({}) == ["PIAPI_API_KEY"]
        assert route.build(env={}).base_url == "https://api.piapi.ai/v1"

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_of_one_image_is_the_documented_multipart_with_an_image_file(self, fake):
        image = reference()
        result = self.run(fake, images=(image,), width=1536, height=1024, quality="high")
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/edits" and call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["headers"]["content-type"].startswith("multipart/form-data")
        assert call["form"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": "1",
                                "size": "1536x1024", "quality": "high", "output_format": "png"}
        assert [(f["field"], f["filename"], f["data"]) for f in call["files"]] == [("image", "ref.png", image.data)]
        assert result.request_sent["url"] == f"{BASE}/images/edits"
        assert result.request_sent["files"] == [{"field": "image", "filename": "ref.png", "mime": "image/png",
                                                 "bytes": len(image.data)}]

    def test_several_reference_images_go_as_openais_image_array(self, fake):
        self.run(fake, images=(reference(), reference(fmt="JPEG"), reference(fmt="WEBP")))
        assert [f["field"] for f in fake.calls[-1]["files"]] == ["image[]"] * 3

    def test_an_edit_runs_end_to_end_with_url_images_downloaded(self, fake):
        result = self.run(fake, images=(reference(),), quality="high", n=2)
        assert len(result.images) == 2 and result.timings.download_ms is not None
        decoded = Image.open(io.BytesIO(result.images[0].data))
        assert decoded.size == (1024, 1024) and decoded.convert("RGB").getpixel((512, 900)) == RED
        # 20 text tokens at $5/M + 1000 image input tokens at $8/M + 2 x 7034 image tokens at $30/M
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.008") + Decimal("0.42204")

    def test_edits_are_declared_without_a_mask(self):
        caps = self.route(ENV).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, False, 16, False)
        assert caps.problems(self.request(images=(reference(),), mask=mask())) == ["a mask"]

    def test_a_mask_is_refused_before_sending(self, fake):
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            self.run(fake, images=(reference(),), mask=mask())
        assert fake.calls == []

    def test_an_exhausted_balance_on_an_edit_is_not_retryable(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError, images=(reference(),))
        assert not error.retryable and fake.calls[-1]["path"] == "/v1/images/edits"


class TestPiAPIPreview(PiAPIContract):
    route_key = "piapi:gpt-image-2-preview"
    reports_cost = False  # a flat fee: tokens do not determine it, so the catalog estimates

    def test_it_posts_the_preview_model(self, fake):
        self.run(fake, quality="medium")
        assert fake.calls[-1]["json"]["model"] == "gpt-image-2-preview"
        assert fake.calls[-1]["json"]["quality"] == "medium"

    def test_tokens_are_kept_but_the_cost_is_the_catalogs_flat_price(self, fake):
        result = self.run(fake, quality="high")
        assert result.usage.cost_usd is None and result.usage.output_tokens == 7034
        price = pricing.price_for(self.route_key)
        assert price.estimate(self.request(quality="high", width=1536, height=1024)) == Decimal("0.10")

    def test_a_preview_edit_sends_the_documented_single_image_field(self, fake):
        image = reference(fmt="JPEG")
        result = self.run(fake, images=(image,), width=1024, height=1536)
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/edits" and call["form"]["model"] == "gpt-image-2-preview"
        assert [(f["field"], f["content_type"], f["data"]) for f in call["files"]] == [("image", "image/jpeg", image.data)]
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert result.usage.cost_usd is None  # the flat fee is the catalog's

    def test_the_preview_takes_one_reference_image_and_no_mask(self, fake):
        caps = self.route(ENV).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, False, 1, False)
        with pytest.raises(InvalidRequestError, match="at most 1 reference image"):
            self.run(fake, images=(reference(), reference()))
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            self.run(fake, images=(reference(),), mask=mask())
        assert fake.calls == []

    def test_only_the_documented_sizes_and_one_image_are_offered(self):
        caps = self.route(ENV).capabilities
        assert caps.problems(self.request(width=1024, height=1536)) == []
        assert caps.problems(self.request(width=2048, height=1152))
        assert caps.problems(self.request(n=2))
