import io

import httpx
import pytest

from PIL import Image

from providers import gptimage2ai
from providers.base import (
    BadResponseError, ContentPolicyError, ImageRequest, InputImage, InsufficientCreditError,
    InvalidRequestError, ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.gptimage2ai import FakeGPTImage2AI

from tests.helpers import image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-gptimage2.test/api"
KEY = "g2-test-key"


def reference(name="fox.png", url=True):
    """A reference image as the app hands it over: bytes plus (when it has a public address) a
    signed, expiring URL to the same bytes."""
    link = f"https://app.example/media/edits/{name}?expires=1700000000&signature=s3cr3tsig" if url else None
    return InputImage(data=image_bytes(), mime="image/png", filename=name, url=link)


class TestGPTImage2AI(ProviderContract):
    module = gptimage2ai
    route_key = "gptimage2ai:gpt-image-2"
    reports_cost = False  # it reports credits, not dollars
    secret = KEY

    def make_fake(self):
        return FakeGPTImage2AI(api_key=KEY)

    def env(self, fake):
        return {"GPTIMAGE2AI_API_KEY": KEY, "GPTIMAGE2AI_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.submits(fake)[-1]["json"].get("quality")

    def submits(self, fake):
        return [call for call in fake.calls if call["method"] == "POST"]

    def test_contract_quality_is_sent_explicitly(self, fake):
        """Overrides the contract: gptimage2.ai has no quality parameter at all. The route
        declares only "auto" (the provider chooses), sends no invented field, and says so."""
        result = self.run(fake, quality="medium")
        assert self.quality_sent(fake) is None
        assert self.route(self.env(fake)).capabilities.qualities == ("auto",)
        assert "quality medium asked: gptimage2.ai has no quality option; the provider chose" in result.notes

    def test_it_posts_the_documented_body_with_bearer_auth(self, fake):
        self.run(fake, quality="auto", n=3)
        call = self.submits(fake)[-1]
        assert call["path"] == "/api/generate"
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "mode": "text-to-image", "ratio": "1:1", "count": 3}

    def test_the_job_is_polled_through_202s_until_200_with_its_images(self, fake):
        result = self.run(fake, quality="auto", n=2)
        polls = [call for call in fake.calls if call["method"] == "GET"]
        assert [call["path"] for call in polls] == [f"/api/generate/{result.request_id}"] * 3
        assert all(call["headers"]["authorization"] == f"Bearer {KEY}" for call in polls)
        assert len(result.images) == 2 and all(image.data.startswith(b"\x89PNG") for image in result.images)

    def test_reported_credits_are_kept_but_no_dollar_cost_is_invented(self, fake):
        result = self.run(fake, quality="auto", n=2)
        assert result.usage.raw == {"credits": 20} and result.usage.cost_usd is None

    @pytest.mark.parametrize("envelope,url_items", [(False, "objects"), (True, "strings"), (True, "objects")])
    def test_enveloped_answers_and_url_objects_are_read_too(self, envelope, url_items):
        fake = FakeGPTImage2AI(api_key=KEY, envelope=envelope, url_items=url_items)
        result = self.run(fake, quality="auto")
        assert len(result.images) == 1 and result.images[0].data.startswith(b"\x89PNG")

    @pytest.mark.parametrize("size,ratio,snapped", [("1536x1024", "4:3", True), ("1024x1536", "3:4", True),
                                                    ("1536x864", "16:9", False), ("864x1536", "9:16", False)])
    def test_sizes_are_sent_as_the_nearest_ratio_with_a_note_when_not_exact(self, fake, size, ratio, snapped):
        width, height = (int(x) for x in size.split("x"))
        result = self.run(fake, width=width, height=height, quality="auto")
        assert self.submits(fake)[-1]["json"]["ratio"] == ratio
        snap_note = f"size {size} asked: gptimage2.ai takes only a ratio (1:1, 16:9, 9:16, 4:3, 3:4); sent the nearest, {ratio}"
        assert (snap_note in result.notes) == snapped

    def test_large_sizes_note_that_resolution_cannot_be_chosen(self, fake):
        result = self.run(fake, width=2048, height=2048, quality="auto")
        assert any("no resolution option" in note for note in result.notes)

    def test_the_output_format_is_noted_as_not_selectable(self, fake):
        result = self.run(fake, quality="auto", output_format="webp")
        assert any(note.startswith("output_format webp asked: gptimage2.ai has no format option") for note in result.notes)

    def test_a_moderation_failure_is_a_content_policy_error_with_the_providers_words(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="rejected by content moderation")

    def test_a_failed_job_is_retryable_with_the_providers_message(self, fake):
        error = self.failure(fake, "failed_job", ProviderUnavailableError, match="Generation failed. Credits have been refunded")
        assert error.retryable

    def test_no_credit_left_is_an_insufficient_credit_error(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError, match="10 credits per image")
        assert error.status == 402

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0

    def test_a_job_still_running_at_our_deadline_times_out(self):
        fake = FakeGPTImage2AI(api_key=KEY, polls_to_finish=10_000)
        provider = self.provider(fake)
        now = [0.0]
        provider.clock = lambda: now[0]
        provider.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
        with pytest.raises(ProviderTimeoutError):
            provider.generate(self.request(quality="auto"))
        assert now[0] >= provider.deadline

    def test_an_answer_without_a_job_id_is_a_bad_response(self):
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
        provider = self.route(self.env(None)).build(client=httpx.Client(transport=transport), env=self.env(None))
        with pytest.raises(BadResponseError, match="without a job id"):
            provider.generate(ImageRequest("x"))

    def test_a_200_with_neither_images_nor_error_is_a_bad_response(self):
        def handle(request):
            if request.method == "POST":
                return httpx.Response(200, json={"jobId": "j1"})
            return httpx.Response(200, json={"jobId": "j1", "status": "completed"})

        provider = self.provider_answering(handle)
        with pytest.raises(BadResponseError, match="neither images nor an error"):
            provider.generate(ImageRequest("x"))

    def test_the_public_api_is_the_default_and_gptimage2ai_base_url_overrides_it(self):
        route = self.route({})
        assert route.build(env={"GPTIMAGE2AI_API_KEY": KEY}).base_url == "https://gptimage2.ai/api"
        assert route.build(env={"GPTIMAGE2AI_API_KEY": KEY, "GPTIMAGE2AI_BASE_URL": BASE + "/"}).base_url == BASE

    def test_the_fake_speaks_the_protocol_over_loopback(self):
        fake = FakeGPTImage2AI(api_key=KEY)
        result = run_over_loopback(fake, self.route,
                                   lambda url: {"GPTIMAGE2AI_API_KEY": KEY, "GPTIMAGE2AI_BASE_URL": f"{url}/api"},
                                   self.request(width=864, height=1536, quality="auto"))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (864, 1536)

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_posts_image_to_image_mode_with_the_reference_urls(self, fake):
        images = (reference("fox.png"), reference("snow.png"))
        self.run(fake, images=images, quality="auto", width=1536, height=864, n=2)
        call = self.submits(fake)[-1]
        assert call["path"] == "/api/generate"
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "mode": "image-to-image", "ratio": "16:9", "count": 2,
                                "imageUrls": [i.url for i in images]}
        assert fake.edits == [[i.url for i in images]]

    def test_an_edit_runs_end_to_end_and_its_images_decode(self, fake):
        result = self.run(fake, images=(reference(),), quality="auto", width=864, height=1536)
        assert len(result.images) == 1
        assert Image.open(io.BytesIO(result.images[0].data)).size == (864, 1536)
        assert len([c for c in fake.calls if c["method"] == "GET"]) == 3  # the edit job was polled like any other

    def test_what_is_kept_of_an_edit_names_the_images_without_bytes_or_url_signatures(self, fake):
        result = self.run(fake, images=(reference("fox.png"),), quality="auto")
        kept = repr(result.request_sent)
        assert result.request_sent["json"]["imageUrls"] == [
            f"https://app.example/media/edits/fox.png (image/png, {len(image_bytes())} bytes)"]
        assert "s3cr3tsig" not in kept and KEY not in kept and "base64" not in kept

    def test_the_route_declares_url_only_edits_without_a_mask(self):
        capabilities = self.route(self.env(None)).capabilities
        assert capabilities.edit and capabilities.edit_needs_public_url
        assert not capabilities.mask
        assert capabilities.max_input_images == 16
        mask = InputImage(data=image_bytes(), filename="mask.png")
        assert capabilities.problems(self.request(quality="auto", images=(reference(),), mask=mask)) == ["a mask"]

    @pytest.mark.parametrize("images", [(reference(),), ()], ids=["with_images", "mask_alone"])
    def test_a_mask_is_refused_before_anything_is_sent(self, fake, images):
        mask = InputImage(data=image_bytes(), filename="mask.png", url="https://app.example/media/mask.png")
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            self.run(fake, quality="auto", images=images, mask=mask)
        assert fake.calls == []

    def test_more_reference_images_than_declared_are_refused(self, fake):
        images = tuple(reference(f"ref{i}.png") for i in range(17))
        with pytest.raises(InvalidRequestError, match="takes at most 16 reference images; 17 were given"):
            self.run(fake, quality="auto", images=images)
        assert fake.calls == []

    def test_an_edit_without_public_urls_is_refused_naming_site_url(self, fake):
        with pytest.raises(InvalidRequestError, match="fetches reference images by URL and fox.png has no public link: set SITE_URL"):
            self.run(fake, quality="auto", images=(reference("fox.png", url=False),))
        assert fake.calls == []

    def test_a_reference_link_that_is_not_http_is_refused_before_sending(self, fake):
        unfetchable = InputImage(data=image_bytes(), filename="fox.png", url="ftp://files.example/fox.png")
        error = self.failure(fake, None, InvalidRequestError, match="needs http\\(s\\) links", quality="auto",
                             images=(unfetchable,))
        assert not error.retryable and fake.calls == []  # refused before anything was sent

    def test_a_moderated_edit_job_is_a_content_policy_error(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="rejected by content moderation", quality="auto",
                     images=(reference(),))
        assert self.submits(fake)[-1]["json"]["mode"] == "image-to-image"

    def test_an_edit_speaks_the_protocol_over_loopback(self):
        fake = FakeGPTImage2AI(api_key=KEY)
        result = run_over_loopback(fake, self.route,
                                   lambda url: {"GPTIMAGE2AI_API_KEY": KEY, "GPTIMAGE2AI_BASE_URL": f"{url}/api"},
                                   self.request(quality="auto", images=(reference(),)))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert fake.edits == [[reference().url]]
