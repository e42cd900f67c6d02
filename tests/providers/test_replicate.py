import base64
import io
import os

import httpx
import pytest
from PIL import Image

from providers import registry, replicate
from providers.base import (
    AuthenticationError,
    ContentPolicyError,
    ImageRequest,
    InputImage,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitError,
)
from tests.fakes.replicate import FakeReplicate
from tests.helpers import FakeClock, image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-replicate.test/v1"
CREATE_PATH = "/v1/models/openai/gpt-image-2/predictions"
OPENAI_KEY = "sk-byok-secret-openai-key"
LINK = "https://compare.example/inputs/MTI:1w2x3y:a-long-signature-nobody-should-keep"


def reference(url=None, **size):
    return InputImage(data=image_bytes(**size), filename="image-0.png", url=url)


def large_reference():
    """A real PNG over Replicate's 1 MB data: URI recommendation (noise does not compress)."""
    noise = Image.frombytes("RGB", (640, 640), os.urandom(640 * 640 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > replicate.INLINE_LIMIT
    return InputImage(data=out.getvalue(), filename="image-1.png")


class TestReplicate(ProviderContract):
    module = replicate
    route_key = "replicate:openai/gpt-image-2"
    reports_cost = False
    secret = "r8_test-token"

    def make_fake(self):
        return FakeReplicate(api_token=self.secret)

    def env(self, fake):
        return {"REPLICATE_API_TOKEN": self.secret, "REPLICATE_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.create_call(fake)["json"]["input"]["quality"]

    def create_call(self, fake):
        return [c for c in fake.calls if c["path"] == CREATE_PATH][-1]

    def api_calls(self, fake):
        return [(c["method"], c["path"]) for c in fake.calls]

    def build(self, fake, env=None, deadline=60):
        env = env or self.env(fake)
        route = self.route(env)
        provider = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env, deadline=deadline)
        provider.sleep = lambda seconds: None
        return provider

    # --- the request on the wire --------------------------------------------------------------

    def test_it_posts_the_input_with_bearer_auth_and_prefer_wait(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = self.create_call(fake)
        assert call["headers"]["authorization"] == "Bearer r8_test-token"
        assert call["headers"]["prefer"] == "wait=60"
        assert call["json"] == {"input": {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2",
                                          "number_of_images": 2, "quality": "high", "output_format": "webp"}}

    @pytest.mark.parametrize("size,ratio", [((1024, 1024), "1:1"), ((1536, 1024), "3:2"), ((1024, 1536), "2:3")])
    def test_each_standard_size_is_sent_as_the_ratio_both_schema_versions_accept(self, size, ratio):
        fake = FakeReplicate(api_token=self.secret, schema="early")
        result = self.run(fake, width=size[0], height=size[1])
        assert self.create_call(fake)["json"]["input"]["aspect_ratio"] == ratio
        assert result.images and result.notes == ()

    def test_only_the_three_standard_sizes_are_declared(self):
        capabilities = self.route({}).capabilities
        assert sorted(capabilities.sizes) == [(1024, 1024), (1024, 1536), (1536, 1024)]
        assert capabilities.custom_size is None
        assert capabilities.problems(ImageRequest(prompt="x", width=2048, height=2048))

    def test_png_is_asked_for_explicitly_since_replicates_default_is_webp(self, fake):
        result = self.run(fake, output_format="png")
        assert self.create_call(fake)["json"]["input"]["output_format"] == "png"
        assert result.images[0].data.startswith(b"\x89PNG")

    def test_the_token_is_not_kept_in_what_was_sent(self, fake):
        result = self.run(fake)
        assert result.request_sent["url"] == f"{BASE}/models/openai/gpt-image-2/predictions"
        assert result.request_sent["headers"] == {"Prefer": "wait=60"}
        assert self.secret not in repr(result)

    def test_a_short_deadline_shortens_prefer_wait(self, fake):
        self.build(fake, deadline=12).generate(self.request())
        assert self.create_call(fake)["headers"]["prefer"] == "wait=12"

    # --- bring your own OpenAI key -----------------------------------------------------------

    def test_a_byok_openai_key_is_sent_as_input_but_never_kept(self, fake):
        env = {**self.env(fake), "REPLICATE_OPENAI_API_KEY": OPENAI_KEY}
        result = self.build(fake, env).generate(self.request())
        assert self.create_call(fake)["json"]["input"]["openai_api_key"] == OPENAI_KEY
        assert result.request_sent["json"]["input"]["openai_api_key"] == "***"
        assert OPENAI_KEY not in repr((result.request_sent, result.notes, result.response_headers))
        assert any("REPLICATE_OPENAI_API_KEY" in note for note in result.notes)

    def test_without_byok_no_openai_key_input_is_sent(self, fake):
        self.run(fake)
        assert "openai_api_key" not in self.create_call(fake)["json"]["input"]

    def test_a_byok_key_echoed_in_a_failure_is_redacted(self, fake):
        fake.scenario = "failed_job"
        fake.failure_message = f"Error code: 401 - Incorrect API key provided: {OPENAI_KEY}"
        env = {**self.env(fake), "REPLICATE_OPENAI_API_KEY": OPENAI_KEY}
        with pytest.raises(AuthenticationError) as caught:
            self.build(fake, env).generate(self.request())
        assert OPENAI_KEY not in caught.value.message and "***" in caught.value.message

    # --- polling, sync answers and provider timings -------------------------------------------

    def test_a_pending_prediction_is_polled_until_it_succeeds(self):
        fake = FakeReplicate(api_token=self.secret, finish_after=3)
        result = self.run(fake)
        prediction_id = result.request_id
        get = ("GET", f"/v1/predictions/{prediction_id}")
        assert self.api_calls(fake) == [("POST", CREATE_PATH), get, get, get]

    def test_a_prediction_finished_within_prefer_wait_needs_no_poll(self):
        fake = FakeReplicate(api_token=self.secret, finish_after=0)
        result = self.run(fake)
        assert self.api_calls(fake) == [("POST", CREATE_PATH)]
        assert len(result.images) == 1

    def test_provider_timings_come_from_metrics_and_timestamps(self, fake):
        result = self.run(fake)
        assert result.timings.provider_generation_ms == pytest.approx(1500.0)
        assert result.timings.provider_queue_ms == pytest.approx(250.0)
        assert result.usage.cost_usd is None and result.usage.raw["metrics"]["predict_time"] == 1.5

    def test_poll_urls_on_another_origin_are_not_followed(self, fake):
        fake.urls_origin = "https://elsewhere.example"
        self.run(fake)
        assert {c["host"] for c in fake.calls} == {"fake-replicate.test"}

    def test_the_prediction_is_cancelled_when_our_deadline_passes(self):
        fake = FakeReplicate(api_token=self.secret, scenario="stuck")
        provider = self.build(fake, deadline=30)
        clock = FakeClock()
        provider.clock, provider.sleep = clock, clock.sleep
        with pytest.raises(ProviderTimeoutError):
            provider.generate(self.request())
        prediction_id = next(iter(fake.predictions))
        assert self.api_calls(fake)[-1] == ("POST", f"/v1/predictions/{prediction_id}/cancel")
        assert fake.predictions[prediction_id]["prediction"]["status"] == "canceled"
        assert 30 <= clock.now - 1000.0 < 31.5  # polled at 0.5 s growing to 1 s, up to the deadline

    def test_a_single_output_string_is_accepted(self):
        fake = FakeReplicate(api_token=self.secret, output_shape="string")
        result = self.run(fake)
        assert len(result.images) == 1 and result.images[0].data

    def test_fewer_images_than_asked_are_noted(self):
        fake = FakeReplicate(api_token=self.secret, cap_outputs=1)
        result = self.run(fake, n=3)
        assert len(result.images) == 1
        assert "asked for 3 images, Replicate returned 1" in result.notes

    def test_a_seed_is_noted_as_not_sent(self, fake):
        result = self.run(fake, seed=42)
        assert "seed" not in self.create_call(fake)["json"]["input"]
        assert any("seed 42" in note for note in result.notes)

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_sends_input_images_as_links_or_small_data_uris(self, fake):
        inline = reference(width=80, height=60)
        self.run(fake, images=(reference(url=LINK), inline), width=1024, height=1536, quality="high")
        assert self.create_call(fake)["json"] == {"input": {
            "prompt": "a red fox in fresh snow", "aspect_ratio": "2:3", "number_of_images": 1, "quality": "high",
            "output_format": "png", "input_images": [LINK, inline.data_url()]}}
        assert [c["path"] for c in fake.calls if c["method"] == "POST"] == [CREATE_PATH]  # nothing uploaded
        inputs = next(iter(fake.inputs.values()))
        assert inputs == [{"kind": "url", "url": LINK},
                          {"kind": "data", "mime": "image/png", "bytes": len(inline.data), "size": (80, 60)}]

    def test_a_reference_over_one_megabyte_is_uploaded_to_the_files_api_and_passed_by_its_url(self, fake):
        large = large_reference()
        self.run(fake, images=(reference(), large))
        upload, create = [c for c in fake.calls if c["method"] == "POST"]
        assert upload["path"] == "/v1/files" and upload["headers"]["authorization"] == "Bearer r8_test-token"
        assert upload["headers"]["content-type"].startswith("multipart/form-data")
        (file_id, stored), = fake.uploads.items()
        assert stored == {"name": "image-1.png", "content_type": "image/png", "data": large.data}
        sent = create["json"]["input"]["input_images"]
        assert sent[0].startswith("data:image/png;base64,")
        assert sent[1] == f"https://fake-replicate.test/v1/files/{file_id}"
        assert next(iter(fake.inputs.values()))[1] == {"kind": "upload", "name": "image-1.png",
                                                       "bytes": len(large.data), "size": (640, 640)}

    def test_an_edit_runs_end_to_end_through_the_runner_at_the_asked_ratio(self, fake):
        result = self.run(fake, images=(reference(), large_reference()), width=1536, height=1024, n=2)
        assert len(result.images) == 2
        for image in result.images:
            assert Image.open(io.BytesIO(image.data)).size == (1536, 1024)
        assert result.notes == ()

    def test_the_early_schema_takes_input_images_too(self):
        fake = FakeReplicate(api_token=self.secret, schema="early")
        result = self.run(fake, images=(reference(),))
        assert result.images and len(self.create_call(fake)["json"]["input"]["input_images"]) == 1

    def test_what_is_kept_of_an_edit_has_no_reference_bytes_and_names_the_uploads(self, fake):
        inline, large = reference(width=80, height=60), large_reference()
        result = self.run(fake, images=(reference(url=LINK + "?sig=abc"), inline, large))
        kept = result.request_sent["json"]["input"]["input_images"]
        file_url = self.create_call(fake)["json"]["input"]["input_images"][2]
        assert kept == ["https://compare.example/inputs/MTI:1w... (image/png, 139 bytes)",
                        f"data:image/png;base64,... (image/png, {len(inline.data)} bytes)", file_url]
        assert result.request_sent["uploads"] == [{"method": "POST", "url": f"{BASE}/files", "filename": "image-1.png",
                                                   "content_type": "image/png", "bytes": len(large.data),
                                                   "urls.get": file_url}]
        sent = repr(result.request_sent)
        assert base64.b64encode(inline.data).decode()[:40] not in sent
        assert "signature" not in sent and self.secret not in sent

    def test_the_route_declares_edits_without_a_mask_or_a_public_link(self, fake):
        caps = self.route(self.env(fake)).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, False, 16, False)
        assert caps.problems(self.request(images=(reference(),), mask=reference())) == ["a mask"]
        assert caps.problems(self.request(images=(reference(),) * 17)) == ["17 reference images: at most 16"]

    def test_the_adapter_refuses_a_mask_or_too_many_images_before_calling_replicate(self, fake):
        with pytest.raises(InvalidRequestError, match="no mask input"):
            self.run(fake, images=(reference(),), mask=reference())
        with pytest.raises(InvalidRequestError, match="At most 16 reference images"):
            self.run(fake, images=(reference(),) * 17)
        assert fake.calls == []

    def test_the_fake_refuses_a_mask_input_as_cog_does(self, fake):
        client = httpx.Client(transport=httpx.MockTransport(fake.handle))
        response = client.post(f"{BASE}/models/openai/gpt-image-2/predictions", headers={"authorization": f"Bearer {self.secret}"},
                               json={"input": {"prompt": "p", "input_images": [LINK], "mask": LINK}})
        assert response.status_code == 422 and "Additional property mask is not allowed" in response.json()["detail"]

    @pytest.mark.parametrize("images,field,words", [(LINK, "input.input_images", "Expected: array, given: str"),
                                                    (["not a uri"], "input.input_images.0", "Does not match format")])
    def test_the_fake_refuses_input_images_that_are_not_an_array_of_uris(self, fake, images, field, words):
        client = httpx.Client(transport=httpx.MockTransport(fake.handle))
        response = client.post(f"{BASE}/models/openai/gpt-image-2/predictions", headers={"authorization": f"Bearer {self.secret}"},
                               json={"input": {"prompt": "p", "input_images": images}})
        assert response.status_code == 422
        assert response.json()["invalid_fields"][0]["field"] == field and words in response.json()["detail"]

    def test_a_reference_that_is_no_image_fails_the_prediction_as_an_invalid_request(self, fake):
        error = self.failure(fake, None, InvalidRequestError, images=(reference(), InputImage(data=b"not a picture")))
        assert "Invalid image file or mode for image 2" in error.message and not error.retryable

    def test_a_refused_upload_is_an_invalid_request_in_replicates_words(self, fake):
        fake.max_upload = 1_000_000
        error = self.failure(fake, None, InvalidRequestError, images=(large_reference(),))
        assert error.status == 413 and "File size exceeds" in error.message
        assert not [c for c in fake.calls if c["path"] == CREATE_PATH]

    # --- errors -----------------------------------------------------------------------------

    def test_more_than_one_image_on_the_early_schema_is_refused_in_replicates_words(self):
        fake = FakeReplicate(api_token=self.secret, schema="early")
        with pytest.raises(InvalidRequestError) as caught:
            self.run(fake, n=2)
        assert caught.value.status == 422 and "number_of_images" in caught.value.message

    def test_a_bad_token_is_an_authentication_error_with_replicates_detail(self, fake):
        error = self.failure(fake, "auth", AuthenticationError)
        assert "valid authentication token" in error.message

    def test_insufficient_credit_is_not_retryable(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError)
        assert not error.retryable and "insufficient credit" in error.message

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0 and "throttled" in error.message

    def test_a_sensitive_content_failure_is_a_content_policy_error(self, fake):
        error = self.failure(fake, "policy", ContentPolicyError)
        assert "flagged as sensitive" in error.message

    def test_openais_safety_refusal_relayed_as_a_failure_is_a_content_policy_error(self):
        error = replicate.failure_error("failed", "Error code: 400 - Your request was rejected by the safety system. "
                                                  "code: moderation_blocked")
        assert isinstance(error, ContentPolicyError)

    def test_an_invalid_moderation_value_is_not_mistaken_for_a_refusal(self):
        error = replicate.failure_error("failed", "Input validation error: moderation must be one of auto, low")
        assert isinstance(error, InvalidRequestError)

    def test_another_failed_prediction_is_retryable_with_the_models_error(self, fake):
        error = self.failure(fake, "failed_job", ProviderUnavailableError)
        assert error.retryable and "upstream image generation" in error.message

    def test_a_prediction_cancelled_at_replicate_is_an_error(self):
        def handle(request):
            return httpx.Response(201, json={"id": "abc", "status": "canceled", "error": None, "output": None})

        provider = self.route({}).build(client=httpx.Client(transport=httpx.MockTransport(handle)),
                                        env={"REPLICATE_API_TOKEN": self.secret})
        with pytest.raises(ProviderUnavailableError, match="canceled"):
            provider.generate(self.request())

    def test_the_route_is_listed_but_needs_only_the_replicate_token(self):
        route = self.route({})
        assert route.missing_credentials({}) == ["REPLICATE_API_TOKEN"]
        assert route.missing_credentials({"REPLICATE_API_TOKEN": "r8_x"}) == []
        assert registry.route_price(route) is None  # no sourced price: unknown, never $0


def test_the_fake_serves_the_same_protocol_over_loopback():
    fake = FakeReplicate(api_token="r8_loop", finish_after=1)
    result = run_over_loopback(fake, lambda env: replicate.routes(env)[0],
                               lambda url: {"REPLICATE_API_TOKEN": "r8_loop", "REPLICATE_BASE_URL": f"{url}/v1"},
                               ImageRequest(prompt="loop", output_format="jpeg"), timeout=5)
    assert result.images[0].data.startswith(b"\xff\xd8") and result.timings.download_ms is not None


def test_an_edit_with_an_uploaded_reference_runs_over_loopback():
    fake = FakeReplicate(api_token="r8_loop", finish_after=1)
    result = run_over_loopback(fake, lambda env: replicate.routes(env)[0],
                               lambda url: {"REPLICATE_API_TOKEN": "r8_loop", "REPLICATE_BASE_URL": f"{url}/v1"},
                               ImageRequest(prompt="loop", images=(large_reference(), reference())), timeout=5)
    assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
    assert [record["kind"] for record in next(iter(fake.inputs.values()))] == ["upload", "data"]
