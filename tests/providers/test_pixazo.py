import io

import httpx
import pytest
from PIL import Image

from providers import pixazo
from providers.base import (
    BadResponseError, ContentPolicyError, ImageRequest, InputImage, InsufficientCreditError,
    InvalidRequestError, ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.pixazo import FakePixazo

from tests.helpers import image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-pixazo.test"
KEY = "pixazo-test-key"
EDIT_PATH = "/gpt-image-2-image-to-image/v1/gpt-image-2-image-to-image/generate"


def reference(name="fox.png", url=True):
    """A reference image as the app hands it over: bytes plus (when it has a public address) a
    signed, expiring URL to the same bytes."""
    link = f"https://app.example/media/edits/{name}?expires=1700000000&signature=s3cr3tsig" if url else None
    return InputImage(data=image_bytes(), mime="image/png", filename=name, url=link)


class TestPixazo(ProviderContract):
    module = pixazo
    route_key = "pixazo:gpt-image-2"
    reports_cost = False
    secret = KEY

    def make_fake(self):
        return FakePixazo(api_key=KEY)

    def env(self, fake):
        return {"PIXAZO_API_KEY": KEY, "PIXAZO_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.submits(fake)[-1]["json"]["quality"]

    def submits(self, fake):
        return [call for call in fake.calls if call["method"] == "POST"]

    def test_it_posts_the_documented_path_with_the_apim_key_and_no_cache(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = self.submits(fake)[-1]
        assert call["path"] == "/gpt-image-2/v1/text-to-image"
        assert call["headers"]["ocp-apim-subscription-key"] == KEY
        assert call["headers"]["cache-control"] == "no-cache"
        assert "authorization" not in call["headers"]
        assert call["json"] == {"prompt": "a red fox in fresh snow", "image_size": "1536x1024", "quality": "high",
                                "num_images": 2, "output_format": "webp"}

    def test_a_queued_job_is_polled_until_completed_and_its_media_urls_downloaded(self, fake):
        result = self.run(fake, n=2)
        polls = [call for call in fake.calls if call["method"] == "GET"]
        assert len(polls) == 3 and all(call["path"] == f"/v2/requests/status/{result.request_id}" for call in polls)
        assert all(call["headers"]["ocp-apim-subscription-key"] == KEY for call in polls)
        assert len(result.images) == 2 and all(image.data for image in result.images)
        assert result.timings.download_ms is not None

    @pytest.mark.parametrize("shape", ["fal", "media_url", "image_url"])
    def test_a_direct_answer_is_read_in_each_plausible_shape(self, shape):
        fake = FakePixazo(api_key=KEY, mode="direct", direct_shape=shape)
        result = self.run(fake)
        assert not [call for call in fake.calls if call["method"] == "GET"]  # nothing to poll
        assert len(result.images) == 1 and result.images[0].data.startswith(b"\x89PNG")
        assert result.request_id  # the gateway's apim-request-id when there is no job id

    def test_auto_quality_is_sent_as_high_with_a_note(self, fake):
        result = self.run(fake, quality="auto")
        assert self.quality_sent(fake) == "high"
        assert any("quality auto asked" in note and "sent high" in note for note in result.notes)

    def test_a_polling_url_on_another_host_is_not_trusted_with_the_key(self):
        provider = self.provider(FakePixazo(api_key=KEY))
        assert provider.status_url("abc", "https://elsewhere.example/v2/requests/status/abc") == \
            f"{BASE}/v2/requests/status/abc"
        assert provider.status_url("a/b", None) == f"{BASE}/v2/requests/status/a%2Fb"
        assert provider.status_url("abc", f"{BASE}/v2/requests/status/abc?x=1") == f"{BASE}/v2/requests/status/abc?x=1"

    def test_a_failed_job_raises_with_pixazos_message(self, fake):
        self.failure(fake, "failed_job", ProviderUnavailableError, match="FAILED: Generation failed: upstream provider error")

    def test_a_refusal_in_a_direct_answer_is_a_content_policy_error(self):
        fake = FakePixazo(api_key=KEY, mode="direct", scenario="policy")
        with pytest.raises(ContentPolicyError, match="safety system"):
            self.run(fake)

    def test_apim_throttling_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0 and "Rate limit is exceeded" in error.message

    def test_an_exhausted_apim_quota_is_a_rate_limit_not_a_bad_key(self, fake):
        self.failure(fake, "quota", RateLimitError, match="Out of call volume quota")

    def test_an_empty_balance_is_an_insufficient_credit_error(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError, match="Insufficient balance")
        assert error.status == 402 and not error.retryable

    def test_a_job_that_never_completes_times_out_at_our_deadline(self):
        fake = FakePixazo(api_key=KEY, polls_to_finish=10_000)
        provider = self.provider(fake)
        now = [0.0]
        provider.clock = lambda: now[0]
        provider.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
        with pytest.raises(ProviderTimeoutError):
            provider.generate(self.request())
        assert now[0] >= provider.deadline
        assert len([call for call in fake.calls if call["method"] == "GET"]) == int(provider.deadline / provider.poll_interval) + 1

    def test_an_answer_without_image_or_request_id_is_a_bad_response(self):
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "OK"}))
        route = self.route(self.env(None))
        provider = route.build(client=httpx.Client(transport=transport), env=self.env(None))
        with pytest.raises(BadResponseError, match="neither an image nor a request_id"):
            provider.generate(ImageRequest("x"))

    def test_the_public_gateway_is_the_default_and_pixazo_base_url_overrides_it(self):
        route = self.route({})
        assert route.build(env={"PIXAZO_API_KEY": KEY}).base_url == "https://gateway.pixazo.ai"
        assert route.build(env={"PIXAZO_API_KEY": KEY, "PIXAZO_BASE_URL": BASE + "/"}).base_url == BASE

    @pytest.mark.parametrize("mode", ["async", "direct"])
    def test_the_fake_speaks_the_protocol_over_loopback(self, mode):
        fake = FakePixazo(api_key=KEY, mode=mode)
        result = run_over_loopback(fake, self.route, lambda url: {"PIXAZO_API_KEY": KEY, "PIXAZO_BASE_URL": url},
                                   self.request(width=1024, height=1536))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        if mode == "async":  # the absolute polling_url on the gateway's own host was followed
            assert [c["path"] for c in fake.calls if c["method"] == "GET"][-1] == f"/v2/requests/status/{result.request_id}"

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_posts_the_image_to_image_path_with_the_reference_urls(self, fake):
        images = (reference("fox.png"), reference("snow.png"))
        self.run(fake, images=images, width=1024, height=1536, quality="medium")
        call = self.submits(fake)[-1]
        assert call["path"] == EDIT_PATH
        assert call["headers"]["ocp-apim-subscription-key"] == KEY
        assert call["headers"]["content-type"] == "application/json"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "input_images": [i.url for i in images],
                                "image_size": "1024x1536", "quality": "medium", "num_images": 1, "output_format": "png"}
        assert fake.edits == [[i.url for i in images]]

    @pytest.mark.parametrize("mode", ["async", "direct"])
    def test_an_edit_runs_end_to_end_and_its_images_decode_at_the_requested_size(self, mode):
        fake = FakePixazo(api_key=KEY, mode=mode)
        result = self.run(fake, images=(reference(),), width=1536, height=1024, n=2)
        assert len(result.images) == 2
        for image in result.images:
            assert Image.open(io.BytesIO(image.data)).size == (1536, 1024)
        assert [c["path"] for c in fake.calls if c["method"] == "POST"] == [EDIT_PATH]

    def test_what_is_kept_of_an_edit_names_the_images_without_bytes_or_url_signatures(self, fake):
        result = self.run(fake, images=(reference("fox.png"),))
        kept = repr(result.request_sent)
        assert result.request_sent["url"].endswith(EDIT_PATH)
        assert result.request_sent["json"]["input_images"] == [
            f"https://app.example/media/edits/fox.png (image/png, {len(image_bytes())} bytes)"]
        assert "s3cr3tsig" not in kept and KEY not in kept and "base64" not in kept

    def test_the_route_declares_url_only_edits_without_a_mask(self):
        capabilities = self.route(self.env(None)).capabilities
        assert capabilities.edit and capabilities.edit_needs_public_url
        assert not capabilities.mask
        assert capabilities.max_input_images == 16
        mask = InputImage(data=image_bytes(), filename="mask.png")
        assert capabilities.problems(self.request(images=(reference(),), mask=mask)) == ["a mask"]

    @pytest.mark.parametrize("images", [(reference(),), ()], ids=["with_images", "mask_alone"])
    def test_a_mask_is_refused_before_anything_is_sent(self, fake, images):
        mask = InputImage(data=image_bytes(), filename="mask.png", url="https://app.example/media/mask.png")
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            self.run(fake, images=images, mask=mask)
        assert fake.calls == []

    def test_more_reference_images_than_declared_are_refused(self, fake):
        images = tuple(reference(f"ref{i}.png") for i in range(17))
        with pytest.raises(InvalidRequestError, match="takes at most 16 reference images; 17 were given"):
            self.run(fake, images=images)
        assert fake.calls == []

    def test_an_edit_without_public_urls_is_refused_naming_site_url(self, fake):
        with pytest.raises(InvalidRequestError, match="fetches reference images by URL and fox.png has no public link: set SITE_URL"):
            self.run(fake, images=(reference("fox.png", url=False),))
        assert fake.calls == []

    def test_an_input_image_link_that_is_not_http_is_refused_before_sending(self, fake):
        unfetchable = InputImage(data=image_bytes(), filename="fox.png", url="ftp://files.example/fox.png")
        error = self.failure(fake, None, InvalidRequestError, match="needs http\\(s\\) links", images=(unfetchable,))
        assert not error.retryable and fake.calls == []  # refused before anything was sent

    def test_a_refused_edit_job_is_a_content_policy_error(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="safety system", images=(reference(),))
        assert [c["path"] for c in fake.calls if c["method"] == "POST"] == [EDIT_PATH]

    def test_an_edit_speaks_the_protocol_over_loopback(self):
        fake = FakePixazo(api_key=KEY)
        result = run_over_loopback(fake, self.route, lambda url: {"PIXAZO_API_KEY": KEY, "PIXAZO_BASE_URL": url},
                                   self.request(width=1024, height=1536, images=(reference(),)))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert fake.edits == [[reference().url]]
