import base64
import io
import os

import httpx
import pytest
from PIL import Image

from providers import registry, replicate
from providers.base import (
    AuthenticationError, BadResponseError, ContentPolicyError, ImageRequest, InputImage,
    InsufficientCreditError, InvalidRequestError, ProviderCancelledError, ProviderTimeoutError,
    ProviderUnavailableError, RateLimitError,
)
from providers.testing.replicate import FakeReplicate

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
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            self.run(fake, images=(reference(),), mask=reference())
        with pytest.raises(InvalidRequestError, match="takes at most 16 reference images; 17 were given"):
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
        assert error.after_submit  # the prediction existed: the call is never made again

    def test_a_prediction_cancelled_at_replicate_is_a_cancelled_result(self):
        def handle(request):
            return httpx.Response(201, json={"id": "abc", "status": "canceled", "error": None, "output": None})

        provider = self.route({}).build(client=httpx.Client(transport=httpx.MockTransport(handle)),
                                        env={"REPLICATE_API_TOKEN": self.secret})
        with pytest.raises(ProviderCancelledError, match="canceled") as caught:
            provider.generate(self.request())
        assert caught.value.after_submit

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


# --- custom routes (REPLICATE_MODELS) -------------------------------------------------------

SIZES, RATIOS = "acme/sizes-xl", "acme/ratios-schnell"
RATIOS_VERSION = "b" * 64
CUSTOM_ENV = {"REPLICATE_API_TOKEN": "r8_test-token", "REPLICATE_BASE_URL": BASE,
              "REPLICATE_MODELS": f"{SIZES}, {RATIOS}"}


def custom_provider(fake, model, version=None, deadline=60):
    entry = f"{model}:{version}" if version else model
    env = {**CUSTOM_ENV, "REPLICATE_MODELS": entry}
    route = {route.key: route for route in replicate.routes(env)}[f"replicate:{model}"]
    provider = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env, deadline=deadline)
    provider.sleep = lambda seconds: None
    return provider


def custom_run(fake, model, version=None, **changes):
    from providers import runner

    base = dict(prompt="a red fox in fresh snow", width=1024, height=1024, quality="low", output_format="png", n=1)
    return runner.execute(custom_provider(fake, model, version), ImageRequest(**{**base, **changes}),
                          allow_private_urls=True)


def creates(fake):
    return [c for c in fake.calls if c["method"] == "POST"]


class TestReplicateCustomRoute(ProviderContract):
    """The contract on a width/height model (an SDXL-like schema in the fake)."""

    module = replicate
    route_key = f"replicate:{SIZES}"
    reports_cost = False
    secret = "r8_test-token"

    def make_fake(self):
        return FakeReplicate(api_token=self.secret)

    def env(self, fake):
        return dict(CUSTOM_ENV)

    def quality_sent(self, fake):  # pragma: no cover - see the override below
        raise AssertionError("not used")

    def test_contract_quality_is_sent_explicitly(self, fake):
        """Sent when the model's schema takes the value, else named in the notes as not sent."""
        result = self.run(fake, quality="high")
        assert creates(fake)[-1]["json"]["input"]["quality"] == "high"
        result = self.run(fake, quality="medium")
        assert "quality" not in creates(fake)[-1]["json"]["input"]
        assert "not sent: quality medium (the model's quality takes only draft, standard, high)" in result.notes

    def test_routes_come_from_replicate_models_with_an_optional_version(self):
        env = {"REPLICATE_MODELS": f"{SIZES}, {RATIOS}:{RATIOS_VERSION}, openai/gpt-image-2"}
        routes = {route.key: route for route in replicate.routes(env)}
        assert list(routes) == ["replicate:openai/gpt-image-2", f"replicate:{SIZES}", f"replicate:{RATIOS}"]
        assert routes["replicate:openai/gpt-image-2"] == replicate.routes({})[0]  # unchanged
        sizes, ratios = routes[f"replicate:{SIZES}"], routes[f"replicate:{RATIOS}"]
        assert sizes.provider is replicate.ReplicateCustomProvider and sizes.options["version"] is None
        assert ratios.model == RATIOS and ratios.options["version"] == RATIOS_VERSION
        assert sizes.label == "Replicate acme/sizes-xl (custom route)"
        assert ratios.label == "Replicate acme/ratios-schnell:bbbbbbbb (custom route)"
        assert registry.route_price(sizes) is None and sizes.missing_credentials({}) == ["REPLICATE_API_TOKEN"]
        assert (sizes.capabilities.edit, sizes.capabilities.max_n) == (False, 4)
        assert f"replicate:{RATIOS}" in registry.all_routes(env)

    @pytest.mark.parametrize("bad", ["sdxl", "acme/sizes-xl:not-a-version", "acme/a/b", "acme/x:" + "b" * 63])
    def test_a_malformed_model_is_a_configuration_error(self, bad):
        with pytest.raises(replicate.ConfigurationError, match="REPLICATE_MODELS"):
            replicate.routes({"REPLICATE_MODELS": bad})

    def test_one_model_with_two_versions_is_a_configuration_error(self):
        with pytest.raises(replicate.ConfigurationError, match="listed twice"):
            replicate.routes({"REPLICATE_MODELS": f"{RATIOS}:{'a' * 64},{RATIOS}:{'b' * 64}"})

    # --- schema-driven mapping on the wire ----------------------------------------------------

    def test_a_width_height_model_gets_width_height_its_count_field_and_the_inputs_it_has(self, fake):
        result = self.run(fake, width=1536, height=1024, quality="high", output_format="png", n=2, seed=5)
        assert [(c["method"], c["path"]) for c in fake.calls[:2]] == [
            ("GET", "/v1/models/acme/sizes-xl"), ("POST", "/v1/models/acme/sizes-xl/predictions")]
        assert fake.calls[0]["headers"]["authorization"] == "Bearer r8_test-token"
        assert creates(fake)[0]["json"] == {"input": {"prompt": "a red fox in fresh snow", "width": 1536, "height": 1024,
                                                      "num_outputs": 2, "quality": "high", "seed": 5}}
        assert result.notes == ("not sent: output_format png (the model has no such input)",)
        assert [Image.open(io.BytesIO(image.data)).size for image in result.images] == [(1536, 1024)] * 2
        assert result.images[0].mime == "image/png"  # what the download said, not what we asked
        assert result.request_sent["schema"] == {"method": "GET", "url": f"{BASE}/models/acme/sizes-xl"}

    def test_an_aspect_ratio_model_gets_the_ratio_its_format_spelling_and_notes(self, fake):
        result = custom_run(fake, RATIOS, width=1536, height=1024, quality="low", output_format="jpeg", n=2)
        assert creates(fake)[0]["json"] == {"input": {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2",
                                                      "num_outputs": 2, "output_format": "jpg"}}
        assert result.notes == (
            "asked size 1536x1024; the model takes an aspect ratio, so 3:2 was sent (the resolution is the model's choice)",
            "not sent: quality low (the model has no such input)")
        image = Image.open(io.BytesIO(result.images[0].data))
        assert image.size == (1216, 832) and image.format == "JPEG"

    def test_a_ratio_the_model_does_not_offer_is_snapped_to_the_nearest_and_noted(self, fake):
        result = custom_run(fake, RATIOS, width=1024, height=1360, output_format="webp")
        assert creates(fake)[0]["json"]["input"]["aspect_ratio"] == "3:4"
        assert any("nearest one it offers, 3:4" in note for note in result.notes)

    def test_a_pinned_version_reads_that_versions_schema_and_creates_with_the_version(self, fake):
        result = custom_run(fake, RATIOS, RATIOS_VERSION)
        assert [(c["method"], c["path"]) for c in fake.calls[:2]] == [
            ("GET", f"/v1/models/acme/ratios-schnell/versions/{RATIOS_VERSION}"), ("POST", "/v1/predictions")]
        assert creates(fake)[0]["json"] == {"version": RATIOS_VERSION, "input": {
            "prompt": "a red fox in fresh snow", "aspect_ratio": "1:1", "num_outputs": 1, "output_format": "png"}}
        assert result.request_sent["url"] == f"{BASE}/predictions"
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    def test_the_schema_is_read_on_every_call(self, fake):
        self.run(fake)
        self.run(fake)
        assert [c["path"] for c in fake.calls if c["method"] == "GET" and "/models/" in c["path"]] == [
            "/v1/models/acme/sizes-xl"] * 2

    # --- the mapping itself ---------------------------------------------------------------------

    @staticmethod
    def mapped(properties, **changes):
        base = dict(prompt="p", width=1536, height=1024, quality="high", output_format="webp", n=1)
        return replicate.custom_inputs(ImageRequest(**{**base, **changes}), properties)

    def test_cog_enums_behind_allof_refs_are_resolved(self):
        from providers.testing.replicate import RATIOS_MODEL

        properties = replicate.input_properties(RATIOS_MODEL["schema"])
        assert properties["output_format"]["enum"] == ["webp", "jpg", "png"]
        assert properties["num_outputs"]["maximum"] == 4
        assert replicate.input_properties({"components": {}}) is None

    def test_a_custom_aspect_ratio_goes_with_width_and_height(self):
        inputs, notes, _ = self.mapped({"prompt": {}, "aspect_ratio": {"enum": ["1:1", "custom"]},
                                        "width": {"type": "integer"}, "height": {"type": "integer"}})
        assert inputs == {"prompt": "p", "width": 1536, "height": 1024, "aspect_ratio": "custom"}
        assert "not sent: quality high (the model has no such input)" in notes

    def test_a_free_text_aspect_ratio_gets_the_exact_reduced_ratio(self):
        inputs, notes, _ = self.mapped({"aspect_ratio": {"type": "string"}}, width=1344, height=768)
        assert inputs["aspect_ratio"] == "7:4"
        assert notes[0].startswith("asked size 1344x768; the model takes an aspect ratio, so 7:4 was sent")

    def test_a_size_enum_is_used_when_it_has_the_size_else_noted(self):
        inputs, _, _ = self.mapped({"size": {"enum": ["1024x1024", "1536x1024"]}})
        assert inputs["size"] == "1536x1024"
        inputs, notes, _ = self.mapped({"size": {"enum": ["1024x1024"]}})
        assert "size" not in inputs and "not sent: size 1536x1024 (the model's size takes only 1024x1024)" in notes

    def test_a_model_without_any_size_input_has_the_size_noted(self):
        inputs, notes, fmt = self.mapped({"prompt": {}}, n=2, seed=9)
        assert inputs == {"prompt": "p"} and fmt is None
        assert notes == ["not sent: size 1536x1024 (the model has no width/height, aspect_ratio or size input)",
                         "not sent: n=2 (the model has no count input; it makes one image per call)",
                         "not sent: quality high (the model has no such input)",
                         "not sent: output_format webp (the model has no such input)",
                         "not sent: seed 9 (the model has no such input)"]

    def test_a_count_above_the_models_maximum_is_capped_and_noted(self):
        inputs, notes, _ = self.mapped({"number_of_images": {"type": "integer", "maximum": 1}}, n=3)
        assert inputs["number_of_images"] == 1
        assert "asked n=3; the model makes at most 1 per call (number_of_images), so 1 was asked" in notes

    def test_a_numeric_quality_is_not_ours_and_is_noted(self):
        inputs, notes, _ = self.mapped({"quality": {"type": "integer", "maximum": 100}})
        assert "quality" not in inputs
        assert "not sent: quality high (the model's quality input is of type integer, not one of ours)" in notes

    # --- errors ---------------------------------------------------------------------------------

    def test_an_unknown_model_is_an_invalid_request_and_nothing_is_created(self):
        fake = FakeReplicate(api_token=self.secret, custom_models={})
        with pytest.raises(InvalidRequestError) as caught:
            custom_run(fake, SIZES)
        assert caught.value.status == 404 and creates(fake) == []

    def test_a_model_without_a_schema_is_a_bad_response_suggesting_a_version(self):
        def handle(request):
            return httpx.Response(200, json={"owner": "acme", "name": "sizes-xl", "latest_version": None})

        provider = self.provider_answering(handle)
        with pytest.raises(BadResponseError, match=r"no input schema for acme/sizes-xl .*pin a version"):
            provider.generate(self.request())

    def test_a_value_outside_the_schemas_bounds_is_refused_in_replicates_words(self):
        from providers.testing.replicate import SIZES_MODEL, cog_schema

        small = dict(SIZES_MODEL, schema=cog_schema({"prompt": {"type": "string"},
                                                     "width": {"type": "integer", "maximum": 1440},
                                                     "height": {"type": "integer", "maximum": 1440}}))
        fake = FakeReplicate(api_token=self.secret, custom_models={SIZES: small})
        with pytest.raises(InvalidRequestError) as caught:
            custom_run(fake, SIZES, width=2048, height=2048)
        assert caught.value.status == 422 and "Must be less than or equal to 1440" in caught.value.message

    def test_a_community_model_without_a_version_is_refused_by_replicate(self, fake):
        fake.official.discard(RATIOS)
        with pytest.raises(InvalidRequestError, match="not an official model"):
            custom_run(fake, RATIOS)
        custom_run(fake, RATIOS, RATIOS_VERSION)  # with its version it runs

    def test_edits_are_refused_before_calling_replicate(self, fake):
        with pytest.raises(InvalidRequestError, match="does not take reference images on this route"):
            self.run(fake, images=(reference(),))
        assert fake.calls == []

    def test_it_runs_end_to_end_over_loopback(self):
        fake = FakeReplicate(api_token="r8_loop", finish_after=1)
        result = run_over_loopback(fake, self.route, lambda url: {**CUSTOM_ENV, "REPLICATE_API_TOKEN": "r8_loop",
                                                                  "REPLICATE_BASE_URL": f"{url}/v1"},
                                   ImageRequest(prompt="loop", width=832, height=1216), timeout=5)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (832, 1216)
