import io
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from providers import apiframe
from providers.base import (
    BadResponseError, ContentPolicyError, InputImage, InsufficientCreditError, InvalidRequestError,
    ProviderCancelledError, ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.apiframe import FakeApiframe

from tests.helpers import FakeClock, image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-apiframe.test/v2"
SIGNED = "https://compare.example.com/inputs/eyJwayI6M30:1uSig:SeCrEtSiGnAtUrE"


def reference(index=0, url=True):
    """A reference image as the app hands it over: bytes plus an expiring public link."""
    return InputImage(data=image_bytes(64 + index, 48), filename=f"image-{index}.png",
                      url=f"{SIGNED}{index}" if url else None)


class TestApiframe(ProviderContract):
    module = apiframe
    route_key = "apiframe:gpt-image-2"
    reports_cost = True
    secret = "afk_test_key"

    def make_fake(self):
        return FakeApiframe(api_key=self.secret)

    def env(self, fake):
        return {"APIFRAME_API_KEY": self.secret, "APIFRAME_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.submitted(fake)["gptImage2Params"]["quality"]

    def submitted(self, fake):
        return [call for call in fake.calls if call["method"] == "POST"][-1]["json"]

    def test_it_posts_the_documented_body_with_the_x_api_key_header(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        post = [call for call in fake.calls if call["method"] == "POST"][-1]
        assert post["path"] == "/v2/images/generate"
        assert post["headers"]["x-api-key"] == self.secret
        assert "authorization" not in post["headers"]
        assert post["json"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow",
                                "gptImage2Params": {"quality": "high", "aspect_ratio": "3:2",
                                                    "output_format": "webp", "number_of_images": 2}}

    @pytest.mark.parametrize("width,height,ratio", [(1024, 1024, "1:1"), (1536, 1024, "3:2"), (1024, 1536, "2:3")])
    def test_each_standard_size_is_sent_as_its_aspect_ratio_and_comes_back_at_that_size(self, fake, width, height, ratio):
        result = self.run(fake, width=width, height=height)
        assert self.submitted(fake)["gptImage2Params"]["aspect_ratio"] == ratio
        assert Image.open(io.BytesIO(result.images[0].data)).size == (width, height)
        assert result.notes == ()

    def test_only_the_three_standard_sizes_and_2000_character_prompts_are_accepted(self):
        caps = self.route(self.env(None)).capabilities
        assert caps.problems(self.request(width=2048, height=2048))
        assert caps.problems(self.request(prompt="x" * 2001))
        assert caps.problems(self.request(n=10)) == [] and caps.problems(self.request(n=11))

    def test_it_polls_the_job_until_completed_and_keeps_the_job_id(self, fake):
        result = self.run(fake, n=3)
        polls = [call for call in fake.calls if call["method"] == "GET" and "/jobs/" in call["path"]]
        job_id = polls[0]["path"].rsplit("/", 1)[-1]
        assert len(polls) == 3  # QUEUED, PROCESSING, COMPLETED
        assert result.request_id == job_id
        assert result.request_sent["poll"] == f"GET {BASE}/jobs/{job_id}"
        assert len(result.images) == 3

    def test_polling_waits_apiframes_recommended_interval(self, fake):
        provider = self.provider(fake)
        clock = FakeClock()
        provider.clock, provider.sleep = clock, clock.sleep
        provider.generate(self.request())
        assert clock.slept == [2.0, 2.0]

    def test_credit_cost_is_a_cost_from_usage_at_one_cent_per_credit(self, fake):
        result = self.run(fake, quality="medium", n=2)
        assert result.usage.raw["creditCost"] == 18
        assert result.usage.cost_usd == Decimal("0.18")
        assert result.usage.basis == "usage"  # credits times our (unconfirmed) price: not a bill
        assert "not confirmed by Apiframe" in result.usage.raw["credit_price_source"]

    def test_the_providers_job_time_comes_from_created_and_completed_at(self, fake):
        assert self.run(fake).timings.provider_generation_ms == pytest.approx(12500.0)

    def test_a_result_given_as_one_url_string_is_read_too(self, fake):
        fake.result_shape = "string"
        result = self.run(fake)
        assert len(result.images) == 1 and result.images[0].data

    def test_fewer_images_than_asked_are_noted(self, fake):
        fake.result_shape = "string"
        assert "asked n=2, Apiframe returned 1 image(s)" in self.run(fake, n=2).notes

    def test_auto_quality_is_sent_and_noted_as_billed_as_high(self, fake):
        result = self.run(fake, quality="auto")
        assert self.quality_sent(fake) == "auto"
        assert any("bills auto as high" in note for note in result.notes)
        assert result.usage.raw["creditCost"] == 23

    def test_a_size_outside_the_three_ratios_is_snapped_and_noted_when_called_directly(self, fake):
        provider = self.provider(fake)
        result = provider.generate(self.request(width=1920, height=1088))
        assert self.submitted(fake)["gptImage2Params"]["aspect_ratio"] == "3:2"
        assert any("sent 3:2" in note for note in result.notes)

    def test_a_content_refusal_is_a_failed_job_with_apiframes_words(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="content policy violation")

    def test_another_failed_job_is_a_retryable_provider_failure(self, fake):
        error = self.failure(fake, "failed_job", ProviderUnavailableError, match="prediction failed unexpectedly")
        assert error.retryable

    def test_a_cancelled_job_is_a_cancelled_result(self, fake):
        self.failure(fake, "cancelled", ProviderCancelledError, match="cancelled")

    def test_insufficient_credits_say_how_many_were_needed(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError, match="needs 23 credits, 5 available")
        assert not error.retryable

    def test_validation_details_are_kept_in_the_message(self, fake):
        self.failure(fake, "invalid", InvalidRequestError, match="gptImage2Params.aspect_ratio: Invalid enum value")

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0 and "Rate limit exceeded" in error.message

    def test_at_the_deadline_polling_stops_and_says_the_job_may_still_finish(self, fake):
        fake.scenario = "never_finishes"
        provider = self.provider(fake)
        clock = FakeClock()
        provider.clock, provider.sleep, provider.deadline = clock, clock.sleep, 30
        with pytest.raises(ProviderTimeoutError, match="cannot cancel jobs"):
            provider.generate(self.request())
        assert sum(clock.slept) == pytest.approx(30)
        assert not any(call["method"] in ("DELETE", "POST") and "/jobs/" in call["path"] for call in fake.calls)

    def test_a_completed_job_without_images_is_a_bad_response(self):
        def handle(request):
            if request.method == "POST":
                return httpx.Response(202, json={"jobId": "j1", "status": "QUEUED"})
            return httpx.Response(200, json={"id": "j1", "status": "COMPLETED", "result": {"images": []}})

        provider = self.provider_answering(handle)
        with pytest.raises(BadResponseError, match="without any image"):
            provider.generate(self.request())

    def test_it_works_against_the_fake_over_real_loopback_http(self):
        fake = FakeApiframe(api_key=self.secret)
        result = run_over_loopback(fake, self.route, lambda url: {"APIFRAME_API_KEY": self.secret,
                                                                  "APIFRAME_BASE_URL": f"{url}/v2"},
                                   self.request(), deadline=30)
        assert result.images[0].data.startswith(b"\x89PNG")

    # --- edits --------------------------------------------------------------------------------

    def test_an_edit_sends_the_reference_urls_as_input_images(self, fake):
        self.run(fake, width=1024, height=1536, quality="high", images=(reference(0), reference(1)))
        post = [call for call in fake.calls if call["method"] == "POST"][-1]
        assert post["path"] == "/v2/images/generate"
        assert post["json"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow",
                                "gptImage2Params": {"quality": "high", "aspect_ratio": "2:3", "output_format": "png",
                                                    "number_of_images": 1,
                                                    "input_images": [f"{SIGNED}0", f"{SIGNED}1"]}}
        assert fake.input_images == [[f"{SIGNED}0", f"{SIGNED}1"]]

    def test_an_edit_runs_through_the_runner_and_its_images_decode_at_the_size_asked(self, fake):
        result = self.run(fake, width=1536, height=1024, n=2, images=(reference(),))
        assert len(result.images) == 2
        for image in result.images:
            assert Image.open(io.BytesIO(image.data)).size == (1536, 1024)
        assert result.usage.raw["creditCost"] == 8  # 4 credits per low-quality image

    def test_what_we_keep_of_an_edit_elides_the_signed_links(self, fake):
        image = reference()
        result = self.run(fake, images=(image,))
        assert "SeCrEtSiGnAtUrE" not in repr(result.request_sent)
        assert result.request_sent["json"]["gptImage2Params"]["input_images"] == [f"https://compare.example.com/inputs/{image.url.rsplit('/', 1)[1][:6]}... (image/png, {len(image.data)} bytes)"]
        assert "input_images" not in self.run(fake).request_sent["json"]["gptImage2Params"]

    def test_edit_capabilities_are_url_only_without_a_mask(self):
        capabilities = self.route(self.env(None)).capabilities
        assert (capabilities.edit, capabilities.mask, capabilities.max_input_images,
                capabilities.edit_needs_public_url) == (True, False, 16, True)
        assert capabilities.problems(self.request(images=(reference(),))) == []
        assert capabilities.problems(self.request(images=(reference(),), mask=reference(9))) == ["a mask"]
        assert capabilities.problems(self.request(images=tuple(reference(i) for i in range(17)))) == [
            "17 reference images: at most 16"]

    @pytest.mark.parametrize("changes,match", [
        ({"images": (reference(0, url=False),)}, r"image-0\.png has no public link: set SITE_URL"),
        ({"images": (reference(),), "mask": reference(9)}, "takes no mask"),
        ({"images": tuple(reference(i) for i in range(17))}, "at most 16 reference images; 17 were given"),
        ({"images": (InputImage(b"x", url="data:image/png;base64,eA=="),)}, "needs http\\(s\\) links"),
    ])
    def test_an_edit_apiframe_cannot_take_is_refused_before_any_call(self, fake, changes, match):
        with pytest.raises(InvalidRequestError, match=match) as caught:
            self.run(fake, **changes)
        assert not caught.value.retryable
        assert fake.calls == []

    def test_a_reference_image_apiframe_cannot_download_is_a_failed_job_and_an_invalid_request(self, fake):
        error = self.failure(fake, "unfetchable_input", InvalidRequestError, images=(reference(),))
        assert not error.retryable and "could not be downloaded" in error.message

    def test_the_fake_refuses_input_images_that_are_not_http_urls_in_apiframes_words(self, fake):
        provider = self.provider(fake)
        response = provider.client.post(f"{BASE}/images/generate", headers={"X-API-Key": self.secret}, json={
            "model": "gpt-image-2", "prompt": "x", "gptImage2Params": {"input_images": ["data:image/png;base64,eA=="]}})
        assert response.status_code == 400
        assert response.json()["details"] == {"gptImage2Params.input_images.0": ["Invalid url"]}
