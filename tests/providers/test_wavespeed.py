import io

import httpx
import pytest
from PIL import Image

from providers import wavespeed
from providers.base import (
    AuthenticationError, ContentPolicyError, InputImage, InsufficientCreditError,
    InvalidRequestError, ProviderCancelledError, ProviderTimeoutError, ProviderUnavailableError,
    RateLimitError,
)
from providers.testing.wavespeed import FakeWaveSpeed, size_for

from tests.helpers import FakeClock, image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-wavespeed.test/api/v3"
SIGNED = "https://compare.example.com/inputs/eyJwayI6NX0:1uSig:SeCrEtSiGnAtUrE"


def reference(index=0, url=True):
    """A reference image as the app hands it over: bytes plus an expiring public link."""
    return InputImage(data=image_bytes(64 + index, 48), filename=f"image-{index}.png",
                      url=f"{SIGNED}{index}" if url else None)


class TestWaveSpeed(ProviderContract):
    module = wavespeed
    route_key = "wavespeed:openai/gpt-image-2"
    reports_cost = False
    secret = "ws-test-key"

    def make_fake(self):
        return FakeWaveSpeed(api_key=self.secret)

    def env(self, fake):
        return {"WAVESPEED_API_KEY": self.secret, "WAVESPEED_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.submitted(fake)["quality"]

    def submissions(self, fake):
        return [call for call in fake.calls if call["method"] == "POST"]

    def submitted(self, fake):
        return self.submissions(fake)[-1]["json"]

    def test_it_posts_the_documented_input_with_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp")
        post = self.submissions(fake)[-1]
        assert post["path"] == "/api/v3/openai/gpt-image-2/text-to-image"
        assert post["headers"]["authorization"] == f"Bearer {self.secret}"
        assert post["json"] == {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2", "resolution": "1k",
                                "quality": "high", "output_format": "webp"}

    @pytest.mark.parametrize("width,height,ratio,resolution", [
        (1024, 1024, "1:1", "1k"), (1024, 1536, "2:3", "1k"), (2048, 2048, "1:1", "2k"),
        (3840, 2160, "16:9", "4k"), (1152, 1536, "3:4", "1k"), (2016, 864, "21:9", "2k")])
    def test_the_size_becomes_an_exact_aspect_ratio_and_a_lower_case_resolution_tier(self, fake, width, height, ratio, resolution):
        result = self.run(fake, width=width, height=height)
        assert (self.submitted(fake)["aspect_ratio"], self.submitted(fake)["resolution"]) == (ratio, resolution)
        assert Image.open(io.BytesIO(result.images[0].data)).size == size_for(ratio, resolution)
        assert result.notes == ()

    def test_a_ratio_wavespeed_does_not_list_is_snapped_and_noted(self, fake):
        result = self.run(fake, width=1024, height=3072)  # 1:3 is offered by the edit page only
        assert self.submitted(fake)["aspect_ratio"] == "9:16"
        assert any("sent 9:16 at 4k" in note for note in result.notes)

    def test_auto_quality_is_sent_as_high_and_noted(self, fake):
        result = self.run(fake, quality="auto")
        assert self.quality_sent(fake) == "high"
        assert any("quality auto is not offered" in note for note in result.notes)

    def test_it_polls_the_result_url_and_keeps_wavespeeds_inference_time(self, fake):
        result = self.run(fake)
        prediction_id = result.request_id
        polls = [call["path"] for call in fake.calls if call["method"] == "GET" and call["path"].startswith("/api/v3/")]
        assert polls == [f"/api/v3/predictions/{prediction_id}/result"] * 3  # created, processing, completed
        assert result.timings.provider_generation_ms == 4321.0
        assert result.usage is None

    def test_polling_waits_two_seconds(self, fake):
        provider = self.provider(fake)
        clock = FakeClock(now=500.0)
        provider.clock, provider.sleep = clock, clock.sleep
        provider.generate(self.request())
        assert clock.slept == [2.0, 2.0]

    def test_n_images_are_n_predictions_polled_together_and_noted(self, fake):
        fake.inference_ms = lambda index: 3000 + 1000 * index
        result = self.run(fake, n=3)
        assert len(self.submissions(fake)) == 3 and len(result.images) == 3
        assert len(result.request_id.split(",")) == 3
        assert result.timings.provider_generation_ms == 5000.0  # the slowest of predictions run side by side
        assert any("3 predictions were sent" in note for note in result.notes)

    def test_base64_outputs_are_read_too(self, fake):
        fake.output_mode = "base64"
        result = self.run(fake)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    def test_a_failed_prediction_with_a_safety_message_is_a_content_refusal(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="safety system")

    def test_another_failed_prediction_is_a_retryable_provider_failure(self, fake):
        error = self.failure(fake, "failed_job", ProviderUnavailableError, match="Model error")
        assert error.retryable

    def test_a_prediction_cancelled_at_wavespeed_is_a_cancelled_result_not_an_unknown_status(self, fake):
        error = self.failure(fake, "cancelled", ProviderCancelledError, match="cancelled prediction")
        polls = [call for call in fake.calls if call["path"].endswith("/result")]
        assert error.after_submit and len(polls) == 3  # created, processing, cancelled: polling stopped there

    def test_a_prediction_timed_out_at_wavespeed_is_a_timeout_not_an_unknown_status(self, fake):
        error = self.failure(fake, "timed_out", ProviderTimeoutError, match="timed out prediction")
        assert error.after_submit and "our deadline" not in error.message

    def test_an_error_code_inside_http_200_is_an_error(self, fake):
        self.failure(fake, "envelope_error", InvalidRequestError, match="prompt is required")

    def test_a_bad_key_says_401_can_also_mean_no_top_up(self, fake):
        self.failure(fake, "auth", AuthenticationError, match="topped up")

    def test_a_401_asking_for_a_top_up_is_insufficient_credit(self, fake):
        error = self.failure(fake, "no_topup", InsufficientCreditError, match="top up")
        assert not error.retryable

    def test_a_rate_limit_is_retryable_with_wavespeeds_words(self, fake):
        self.failure(fake, "rate_limit", RateLimitError, match="Too many requests")

    def test_at_the_deadline_polling_stops_and_says_the_prediction_may_still_finish(self, fake):
        fake.scenario = "never_finishes"
        provider = self.provider(fake)
        clock = FakeClock(now=500.0)
        provider.clock, provider.sleep, provider.deadline = clock, clock.sleep, 20
        with pytest.raises(ProviderTimeoutError, match="no documented cancel"):
            provider.generate(self.request())
        assert sum(clock.slept) == pytest.approx(20)

    def test_an_unreadable_answer_is_a_bad_response(self):
        def handle(request):
            return httpx.Response(200, text="<html>gateway</html>")

        provider = self.provider_answering(handle)
        with pytest.raises(Exception, match="non-JSON"):
            provider.generate(self.request())

    def test_it_works_against_the_fake_over_real_loopback_http(self):
        fake = FakeWaveSpeed(api_key=self.secret)
        result = run_over_loopback(fake, self.route, lambda url: {"WAVESPEED_API_KEY": self.secret,
                                                                  "WAVESPEED_BASE_URL": f"{url}/api/v3"},
                                   self.request(output_format="jpeg"), deadline=30)
        assert result.images[0].data.startswith(b"\xff\xd8")  # a JPEG

    # --- edits --------------------------------------------------------------------------------

    def test_an_edit_posts_the_reference_urls_as_images_to_the_edit_endpoint(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", images=(reference(0), reference(1)))
        post = self.submissions(fake)[-1]
        assert post["path"] == "/api/v3/openai/gpt-image-2/edit"
        assert post["headers"]["authorization"] == f"Bearer {self.secret}"
        assert post["json"] == {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2", "resolution": "1k",
                                "quality": "high", "output_format": "webp", "images": [f"{SIGNED}0", f"{SIGNED}1"]}
        assert fake.images == [[f"{SIGNED}0", f"{SIGNED}1"]]

    def test_an_edit_runs_through_the_runner_and_its_image_decodes_at_the_size_of_ratio_and_tier(self, fake):
        result = self.run(fake, width=2048, height=2048, images=(reference(),))
        assert Image.open(io.BytesIO(result.images[0].data)).size == size_for("1:1", "2k")
        assert result.request_sent["url"] == f"{BASE}/openai/gpt-image-2/edit"

    def test_n_edits_are_n_predictions_each_with_the_images(self, fake):
        result = self.run(fake, n=2, images=(reference(),))
        assert [call["json"]["images"] for call in self.submissions(fake)] == [[f"{SIGNED}0"]] * 2
        assert len(result.images) == 2

    def test_what_we_keep_of_an_edit_elides_the_signed_links(self, fake):
        image = reference()
        result = self.run(fake, images=(image,))
        assert "SeCrEtSiGnAtUrE" not in repr(result.request_sent)
        assert result.request_sent["json"]["images"] == [f"https://compare.example.com/inputs/{image.url.rsplit('/', 1)[1][:6]}... (image/png, {len(image.data)} bytes)"]

    def test_edit_capabilities_are_url_only_without_a_mask(self):
        capabilities = self.route(self.env(None)).capabilities
        assert (capabilities.edit, capabilities.mask, capabilities.max_input_images,
                capabilities.edit_needs_public_url) == (True, False, 16, True)
        assert capabilities.problems(self.request(images=(reference(),), mask=reference(9))) == ["a mask"]
        assert capabilities.problems(self.request(images=tuple(reference(i) for i in range(17)))) == [
            "17 reference images: at most 16"]

    @pytest.mark.parametrize("changes,match", [
        ({"images": (reference(0, url=False),)}, r"image-0\.png has no public link: set SITE_URL"),
        ({"images": (reference(),), "mask": reference(9)}, "takes no mask"),
        ({"images": tuple(reference(i) for i in range(17))}, "at most 16 reference images; 17 were given"),
        ({"images": (InputImage(b"x", url="data:image/png;base64,eA=="),)}, "needs http\\(s\\) links"),
    ])
    def test_an_edit_wavespeed_cannot_take_is_refused_before_any_call(self, fake, changes, match):
        with pytest.raises(InvalidRequestError, match=match) as caught:
            self.run(fake, **changes)
        assert not caught.value.retryable
        assert fake.calls == []

    def test_a_reference_image_wavespeed_cannot_download_fails_the_prediction_as_an_invalid_request(self, fake):
        error = self.failure(fake, "unfetchable_input", InvalidRequestError, images=(reference(),))
        assert not error.retryable and "failed to download the image" in error.message

    def test_the_fake_requires_images_on_the_edit_endpoint_in_wavespeeds_envelope(self, fake):
        provider = self.provider(fake)
        response = provider.client.post(f"{BASE}/openai/gpt-image-2/edit", headers=provider.headers(),
                                        json={"prompt": "x"})
        assert response.status_code == 400
        assert response.json() == {"code": 400, "message": "images is required", "data": None}

    def test_an_edit_works_against_the_fake_over_real_loopback_http(self):
        fake = FakeWaveSpeed(api_key=self.secret)
        result = run_over_loopback(fake, self.route, lambda url: {"WAVESPEED_API_KEY": self.secret,
                                                                  "WAVESPEED_BASE_URL": f"{url}/api/v3"},
                                   self.request(images=(reference(),)), deadline=30)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert fake.images == [[f"{SIGNED}0"]]
