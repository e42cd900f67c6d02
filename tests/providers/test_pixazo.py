import io

import httpx
import pytest
from PIL import Image

from providers import pixazo
from providers.base import (
    BadResponseError,
    ContentPolicyError,
    ImageRequest,
    InsufficientCreditError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from tests.fakes.pixazo import FakePixazo
from tests.helpers import run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-pixazo.test"
KEY = "pixazo-test-key"


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
