import base64
import io

import httpx
import pytest
from PIL import Image

from providers import fal, registry, runner
from providers.base import (
    ConfigurationError, ContentPolicyError, ImageRequest, InputImage, InsufficientCreditError,
    InvalidRequestError, ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.fal import FakeFal

from tests.helpers import FakeClock, image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://queue.fal.test"
ROUTE = "fal:openai/gpt-image-2"
LINK = "https://compare.example/inputs/MTI:1w2x3y:a-long-signature-nobody-should-keep"


def png_mask(width=64, height=48):
    """A mask: opaque, with a fully transparent (editable) square in the middle."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (width // 4, height // 4, width * 3 // 4, height * 3 // 4))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


def reference(url=None, **size):
    return InputImage(data=image_bytes(**size), mime="image/png", filename="image-0.png", url=url)


def kind(method, path):
    """Which queue operation a call to the fake was."""
    if method == "POST":
        return "submit"
    if "/requests/" not in path:
        return "other"
    return {"status": "status", "cancel": "cancel"}.get(path.rsplit("/", 1)[-1], "result")


def kinds(fake):
    return [kind(call["method"], call["path"]) for call in fake.calls]


class TestFal(ProviderContract):
    module = fal
    route_key = ROUTE
    reports_cost = False
    secret = "fal-test-key"

    def make_fake(self):
        return FakeFal(api_key=self.secret)

    def env(self, fake):
        return {"FAL_KEY": self.secret, "FAL_QUEUE_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.submits(fake)[-1]["json"]["quality"]

    def submits(self, fake):
        return [call for call in fake.calls if call["method"] == "POST"]

    # --- the wire ---------------------------------------------------------------------------

    def test_it_submits_fals_input_with_key_auth_and_explicit_quality(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = self.submits(fake)[0]
        assert call["path"] == "/openai/gpt-image-2"
        assert call["headers"]["authorization"] == "Key fal-test-key"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "image_size": {"width": 1536, "height": 1024},
                                "quality": "high", "num_images": 2, "output_format": "webp"}

    def test_a_custom_size_goes_as_width_and_height_and_comes_back_at_that_size(self, fake):
        result = self.run(fake, width=2048, height=1152, output_format="jpeg")
        assert self.submits(fake)[0]["json"]["image_size"] == {"width": 2048, "height": 1152}
        image = Image.open(io.BytesIO(result.images[0].data))
        assert image.size == (2048, 1152) and image.format == "JPEG"
        assert result.images[0].mime == "image/jpeg"

    def test_every_queue_call_carries_the_key_header(self, fake):
        self.run(fake)
        assert {call["headers"]["authorization"] for call in fake.calls} == {"Key fal-test-key"}

    def test_it_polls_the_status_through_the_queue_then_fetches_the_result(self, fake):
        fake.queue_polls, fake.progress_polls = 2, 3
        provider = self.provider(fake)
        slept = []
        provider.sleep = slept.append
        provider.generate(self.request())
        assert kinds(fake) == ["submit"] + ["status"] * 6 + ["result"]
        assert slept == [0.5] * 5  # fal's status is polled every poll_interval until COMPLETED

    def test_the_providers_inference_time_is_its_generation_time_and_nothing_else(self, fake):
        fake.inference_time = 4.2
        result = self.run(fake)
        assert result.timings.provider_generation_ms == pytest.approx(4200.0)
        assert result.timings.provider_queue_ms is None  # fal does not report its queue time

    def test_a_completed_status_without_metrics_leaves_the_generation_time_unknown(self, fake):
        fake.metrics = False
        assert self.run(fake).timings.provider_generation_ms is None

    def test_it_keeps_the_request_id_the_sent_input_and_fal_headers_without_the_key(self, fake):
        result = self.run(fake)
        request_id = next(iter(fake.jobs))
        assert result.request_id == request_id
        assert result.response_headers == {"x-fal-request-id": request_id}
        assert result.request_sent["url"] == f"{BASE}/openai/gpt-image-2"
        assert "authorization" not in repr(result.request_sent).lower()

    def test_the_urls_fal_returns_are_preferred_over_rebuilt_ones(self, fake):
        seen = []

        def marked(request):  # fal names its own handle URLs on its queue origin: follow them as given
            seen.append(request.url)
            if request.method == "POST":
                response = fake.handle(request)
                job = response.json()
                for name in ("status_url", "response_url", "cancel_url"):
                    job[name] += "?named=by-fal"
                return httpx.Response(200, json=job)
            return fake.handle(request)

        provider = fal.routes({})[0].build(client=httpx.Client(transport=httpx.MockTransport(marked)),
                                           env=self.env(fake))
        provider.sleep = lambda seconds: None
        provider.generate(self.request())
        assert len(seen) > 2 and all(url.query == b"named=by-fal" for url in seen[1:])

    def test_handle_urls_on_another_origin_are_replaced_by_the_rebuilt_ones(self, fake):
        def elsewhere(request):  # an answer naming another host never gets our key (tests/security)
            if request.method == "POST":
                job = fake.handle(request).json()
                for name in ("status_url", "response_url", "cancel_url"):
                    job[name] = job[name].replace("queue.fal.test", "handles.fal.test")
                return httpx.Response(200, json=job)
            return fake.handle(request)

        provider = fal.routes({})[0].build(client=httpx.Client(transport=httpx.MockTransport(elsewhere)),
                                           env=self.env(fake))
        provider.sleep = lambda seconds: None
        provider.generate(self.request())
        assert {call["headers"]["host"] for call in fake.calls} == {"queue.fal.test"}

    def test_the_handle_urls_are_rebuilt_from_the_request_id_when_missing(self, fake):
        fake.with_urls = False
        result = self.run(fake)
        request_id = result.request_id
        assert {call["path"] for call in fake.calls[1:] if call["method"] == "GET"} == {
            f"/openai/gpt-image-2/requests/{request_id}/status", f"/openai/gpt-image-2/requests/{request_id}"}

    def test_at_the_deadline_it_cancels_the_job_at_fal_and_times_out(self, fake):
        fake.queue_polls = 10**6
        provider = self.provider(fake)
        clock = FakeClock()
        provider.clock, provider.sleep, provider.deadline = clock, clock.sleep, 3.0
        with pytest.raises(ProviderTimeoutError):
            provider.generate(self.request())
        assert kinds(fake)[-1] == "cancel" and fake.calls[-1]["method"] == "PUT"
        assert next(iter(fake.jobs.values()))["state"] == "CANCELED"
        assert sum(clock.slept) == pytest.approx(3.0)

    # --- parameters that are not one-to-one ------------------------------------------------

    def test_auto_quality_is_sent_as_auto_with_a_note(self, fake):
        result = self.run(fake, quality="auto")
        assert self.quality_sent(fake) == "auto"
        assert any("quality auto" in note for note in result.notes)

    def test_exact_parameters_need_no_note(self, fake):
        assert self.run(fake, quality="medium", n=3).notes == ()

    def test_up_to_four_images_per_request(self, fake):
        result = self.run(fake, n=4)
        assert len(result.images) == 4 and result.timings.download_ms is not None
        route = self.route(self.env(fake))
        assert route.capabilities.problems(self.request(n=5)) == ["n=5: at most 4 image(s) per call"]

    def test_sizes_follow_gpt_image_2s_rule(self, fake):
        caps = self.route(self.env(fake)).capabilities
        assert caps.problems(self.request(width=3840, height=2160)) == []
        assert caps.problems(self.request(width=1000, height=1000))  # not multiples of 16
        assert caps.problems(self.request(width=3840, height=1024))  # ratio above 3:1

    def test_a_data_uri_image_from_sync_mode_is_accepted(self, fake):
        def handle(request):
            response = fake.handle(request)
            if kind(request.method, request.url.path) == "result" and response.status_code == 200:
                data = fake.files[response.json()["images"][0]["url"].split(BASE)[-1]]
                uri = "data:image/png;base64," + base64.b64encode(data).decode()
                return httpx.Response(200, json={"images": [{"url": uri, "content_type": "image/png"}]})
            return response

        provider = fal.routes({})[0].build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=self.env(fake))
        provider.sleep = lambda seconds: None
        result = runner.execute(provider, self.request())
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    # --- errors -----------------------------------------------------------------------------

    def test_a_422_validation_detail_is_an_invalid_request_in_fals_words(self, fake):
        self.failure(fake, "invalid", InvalidRequestError, match=r"HTTP 422: num_images: Input should be less than or equal to 4")

    def test_a_content_refusal_on_the_result_is_a_policy_error_without_echoing_the_prompt(self, fake):
        error = self.failure(fake, "policy", ContentPolicyError, prompt="a very specific secret prompt")
        assert "flagged by a content checker" in error.message
        assert "very specific secret prompt" not in error.message
        assert error.status == 422

    def test_a_content_refusal_named_in_the_status_is_a_policy_error(self, fake):
        self.failure(fake, "policy_in_status", ContentPolicyError, match="content_policy_violation")

    def test_a_completed_status_with_a_runner_error_is_retryable_unavailability(self, fake):
        error = self.failure(fake, "failed_job", ProviderUnavailableError, match="runner disconnected unexpectedly")
        assert error.retryable
        assert "result" not in kinds(fake)  # the status already said it failed

    def test_a_completed_status_with_request_timeout_is_a_provider_timeout(self, fake):
        self.failure(fake, "job_timeout", ProviderTimeoutError, match="request_timeout")

    def test_a_failed_or_canceled_status_is_tolerated_as_a_failure(self):
        def handle(request):
            if request.method == "POST":
                return httpx.Response(200, json={"request_id": "r1"})
            return httpx.Response(200, json={"status": "FAILED", "error": "boom", "error_type": None})

        provider = fal.routes({})[0].build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=self.env(None))
        with pytest.raises(ProviderUnavailableError, match="fal request failed \\(FAILED\\): boom"):
            provider.generate(self.request())

    def test_an_exhausted_balance_is_insufficient_credit_not_a_bad_key(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError, match="Exhausted balance")
        assert not error.retryable

    def test_a_rate_limit_is_retryable_with_fals_message(self, fake):
        self.failure(fake, "rate_limit", RateLimitError, match="Too many concurrent requests")

    def test_a_request_error_type_decides_over_the_status_code(self, fake):
        error = self.failure(fake, "server", ProviderUnavailableError, match="No runner could be allocated")
        assert error.status == 503

    def test_a_wrong_key_is_an_authentication_error(self, fake):
        env = {"FAL_KEY": "wrong-key", "FAL_QUEUE_BASE_URL": BASE}
        provider = fal.routes(env)[0].build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(Exception, match="No user found for Key ID and Secret") as caught:
            provider.generate(self.request())
        assert caught.value.code == "auth"

    def test_the_fake_fails_closed_on_paths_fal_does_not_have(self, fake):
        client = httpx.Client(transport=httpx.MockTransport(fake.handle))
        headers = {"authorization": f"Key {self.secret}"}
        assert client.post(f"{BASE}/openai/gpt-image-1", json={}, headers=headers).status_code == 404
        assert client.get(f"{BASE}/openai/gpt-image-2/requests/nope/status", headers=headers).status_code == 404

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_posts_image_urls_and_mask_url_to_the_edit_sub_path(self, fake):
        first, second = reference(url=LINK), reference(url=LINK + "2", colour=(0, 0, 200))
        mask = InputImage(data=png_mask(), filename="mask-0.png")
        self.run(fake, images=(first, second), mask=mask, width=1536, height=1024, quality="high", n=2)
        call = self.submits(fake)[0]
        assert call["path"] == "/openai/gpt-image-2/edit"
        assert call["headers"]["authorization"] == "Key fal-test-key"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "image_urls": [LINK, LINK + "2"],
                                "mask_url": mask.data_url(), "image_size": {"width": 1536, "height": 1024},
                                "quality": "high", "num_images": 2, "output_format": "png"}
        job = next(iter(fake.jobs.values()))
        assert [item["kind"] for item in job["inputs"]["images"]] == ["url", "url"]
        assert job["inputs"]["mask"]["size"] == (64, 48) and job["inputs"]["mask"]["alpha"]

    def test_references_without_a_public_link_go_inline_as_data_uris(self, fake):
        image = reference(width=80, height=80)
        self.run(fake, images=(image,))
        assert self.submits(fake)[0]["json"]["image_urls"] == [image.data_url()]
        received = next(iter(fake.jobs.values()))["inputs"]["images"][0]
        assert received == {"kind": "data", "mime": "image/png", "bytes": len(image.data), "size": (80, 80),
                            "format": "PNG", "alpha": False}

    def test_an_edit_runs_end_to_end_at_the_asked_size_through_the_queue_root_without_the_sub_path(self, fake):
        result = runner.execute(self.provider(fake), self.request(images=(reference(),), width=1024, height=1536,
                                                                  output_format="webp"), allow_private_urls=True)
        decoded = Image.open(io.BytesIO(result.images[0].data))
        assert decoded.size == (1024, 1536) and decoded.format == "WEBP"
        request_id = result.request_id
        assert {call["path"] for call in fake.calls if call["method"] == "GET"} == {
            f"/openai/gpt-image-2/requests/{request_id}/status", f"/openai/gpt-image-2/requests/{request_id}"}
        assert result.request_sent["url"] == f"{BASE}/openai/gpt-image-2/edit"

    def test_an_edits_handle_urls_are_rebuilt_without_the_sub_path_when_missing(self, fake):
        fake.with_urls = False
        result = self.run(fake, images=(reference(),))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert all("/edit/" not in call["path"] for call in fake.calls[1:])

    def test_text_to_image_stays_on_the_base_endpoint_without_image_fields(self, fake):
        self.run(fake)
        call = self.submits(fake)[0]
        assert call["path"] == "/openai/gpt-image-2"
        assert "image_urls" not in call["json"] and "mask_url" not in call["json"]

    def test_what_is_kept_of_an_edit_has_neither_the_reference_bytes_nor_the_links_signature(self, fake):
        inline = reference(width=80, height=80)
        result = self.run(fake, images=(inline, reference(url=LINK + "?sig=abc")), mask=InputImage(data=png_mask(80, 80)))
        kept = result.request_sent["json"]
        assert kept["image_urls"] == [f"data:image/png;base64,... (image/png, {len(inline.data)} bytes)",
                                      "https://compare.example/inputs/MTI:1w... (image/png, 139 bytes)"]
        assert kept["mask_url"].startswith("data:image/png;base64,... (")
        sent = repr(result.request_sent)
        assert base64.b64encode(inline.data).decode()[:40] not in sent
        assert "signature" not in sent and "sig=abc" not in sent

    def test_the_route_declares_edits_with_a_mask_and_up_to_sixteen_inline_or_linked_images(self, fake):
        caps = self.route(self.env(fake)).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, True, 16, False)
        assert caps.problems(self.request(images=(reference(),) * 16, mask=InputImage(data=png_mask()))) == []
        assert caps.problems(self.request(images=(reference(),) * 17)) == ["17 reference images: at most 16"]

    def test_the_adapter_refuses_seventeen_images_or_a_mask_alone_before_calling_fal(self, fake):
        with pytest.raises(InvalidRequestError, match="at most 16 reference images"):
            self.run(fake, images=(reference(),) * 17)
        with pytest.raises(InvalidRequestError, match="mask needs a reference image"):
            self.run(fake, mask=InputImage(data=png_mask()))
        assert fake.calls == []

    def test_a_mask_of_another_size_is_refused_by_fal_as_an_invalid_request(self, fake):
        error = self.failure(fake, None, InvalidRequestError, images=(reference(width=64, height=48),),
                             mask=InputImage(data=png_mask(32, 32)))
        assert error.status == 422
        assert error.message == "HTTP 422: mask_url: The mask must have the same dimensions as the first image"
        assert fake.jobs == {}

    def test_an_inline_reference_that_is_no_image_is_fals_image_load_error(self, fake):
        broken = InputImage(data=b"not an image at all")
        error = self.failure(fake, None, InvalidRequestError, images=(reference(), broken))
        assert "image_urls.1: Failed to load the image" in error.message
        assert base64.b64encode(b"not an image at all").decode() not in error.message

    def test_a_content_refusal_of_an_edit_is_a_policy_error(self, fake):
        error = self.failure(fake, "policy", ContentPolicyError, images=(reference(),))
        assert "flagged by a content checker" in error.message

    # --- over a real socket -----------------------------------------------------------------

    def test_it_runs_end_to_end_over_loopback(self):
        fake = FakeFal(api_key=self.secret, queue_polls=0, progress_polls=0)
        result = run_over_loopback(fake, lambda env: fal.routes(env)[0],
                                   lambda url: {"FAL_KEY": self.secret, "FAL_QUEUE_BASE_URL": url},
                                   ImageRequest(prompt="a lighthouse", width=1024, height=1536), deadline=10)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert result.timings.provider_generation_ms == pytest.approx(3250.0)

    def test_an_edit_runs_end_to_end_over_loopback(self):
        fake = FakeFal(api_key=self.secret, queue_polls=0, progress_polls=0)
        request = ImageRequest(prompt="make it night", width=1536, height=1024, images=(reference(width=96, height=64),),
                               mask=InputImage(data=png_mask(96, 64)))
        result = run_over_loopback(fake, lambda env: fal.routes(env)[0],
                                   lambda url: {"FAL_KEY": self.secret, "FAL_QUEUE_BASE_URL": url}, request, deadline=10)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1536, 1024)
        assert fake.calls[0]["path"] == "/openai/gpt-image-2/edit"


# --- custom routes (FAL_MODELS) ------------------------------------------------------------

CUSTOM = "fal-ai/flux/dev"
CUSTOM_ENV = {"FAL_KEY": "fal-test-key", "FAL_QUEUE_BASE_URL": BASE, "FAL_MODELS": f"{CUSTOM}, fal-ai/recraft/v3/text-to-image"}


class TestFalCustomRoute(ProviderContract):
    module = fal
    route_key = f"fal:{CUSTOM}"
    reports_cost = False
    secret = "fal-test-key"

    def make_fake(self):
        return FakeFal(api_key=self.secret, generic="*")

    def env(self, fake):
        return dict(CUSTOM_ENV)

    def quality_sent(self, fake):  # pragma: no cover - fal's generic inputs have no quality (see below)
        raise AssertionError("not used")

    def submit(self, fake):
        return [call for call in fake.calls if call["method"] == "POST"][-1]

    def test_contract_quality_is_sent_explicitly(self, fake):
        """No common quality input on fal: not sent, and the result says so."""
        result = self.run(fake, quality="medium")
        assert "quality" not in self.submit(fake)["json"]
        assert "not sent: quality medium (fal has no common quality input; the model uses its own setting)" in result.notes

    def test_routes_come_from_fal_models_with_a_custom_label_and_no_price(self):
        routes = {route.key: route for route in fal.routes(CUSTOM_ENV)}
        assert list(routes) == ["fal:openai/gpt-image-2", f"fal:{CUSTOM}", "fal:fal-ai/recraft/v3/text-to-image"]
        route = routes[f"fal:{CUSTOM}"]
        assert route.model == CUSTOM and route.provider is fal.FalCustomProvider
        assert route.label == "fal.ai fal-ai/flux/dev (custom route)"
        assert route.missing_credentials({}) == ["FAL_KEY"]
        assert registry.route_price(route) is None
        assert routes["fal:openai/gpt-image-2"] == fal.routes({})[0]  # the GPT Image 2 route is unchanged
        assert f"fal:{CUSTOM}" in registry.all_routes(CUSTOM_ENV)

    def test_the_built_in_model_and_repeats_are_not_listed_twice(self):
        keys = [route.key for route in fal.routes({"FAL_MODELS": f"openai/gpt-image-2,{CUSTOM},{CUSTOM}/"})]
        assert keys == ["fal:openai/gpt-image-2", f"fal:{CUSTOM}"]

    @pytest.mark.parametrize("bad", ["flux", "fal-ai/../secrets", "fal-ai/flux/requests/abc", "fal ai/flux"])
    def test_a_malformed_endpoint_id_is_a_configuration_error(self, bad):
        with pytest.raises(ConfigurationError, match="FAL_MODELS"):
            fal.routes({"FAL_MODELS": bad})

    def test_the_capabilities_are_permissive_but_honest(self):
        caps = fal.routes(CUSTOM_ENV)[1].capabilities
        assert caps.problems(self.request(width=1344, height=768, n=4)) == []
        assert caps.problems(self.request(width=1020, height=1020)) == ["size 1020x1020: both sides must be multiples of 8"]
        assert caps.problems(self.request(width=3840, height=2160))
        assert caps.problems(self.request(n=5)) == ["n=5: at most 4 image(s) per call"]
        assert (caps.edit, caps.mask) == (False, False)

    def test_the_common_parameters_go_as_fals_usual_inputs(self, fake):
        result = self.run(fake, width=1536, height=1024, quality="high", output_format="png", n=2, seed=7)
        call = self.submit(fake)
        assert call["path"] == "/fal-ai/flux/dev" and call["headers"]["authorization"] == "Key fal-test-key"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "image_size": {"width": 1536, "height": 1024},
                                "num_images": 2, "output_format": "png", "seed": 7}
        assert [Image.open(io.BytesIO(image.data)).size for image in result.images] == [(1536, 1024)] * 2
        assert result.request_sent == {"method": "POST", "url": f"{BASE}/fal-ai/flux/dev", "json": call["json"]}
        request_id = result.request_id
        assert {c["path"] for c in fake.calls if c["method"] == "GET"} == {
            f"/fal-ai/flux/requests/{request_id}/status", f"/fal-ai/flux/requests/{request_id}"}

    def test_the_notes_name_what_was_not_sent_and_what_the_model_may_ignore(self, fake):
        result = self.run(fake, quality="high", output_format="jpeg", seed=3)
        assert result.notes == (
            "custom fal route, no input schema read: image_size, num_images, output_format, seed were sent as "
            "fal's usual inputs; this model may ignore any of them",
            "not sent: quality high (fal has no common quality input; the model uses its own setting)")

    def test_inputs_the_model_ignored_show_in_the_notes_from_what_fal_returned(self):
        fake = FakeFal(api_key=self.secret, generic="*", generic_ignores={"image_size", "output_format", "num_images"})
        result = self.run(fake, width=1024, height=1536, output_format="png", n=2)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 768)
        assert "asked for 2 image(s), fal returned 1" in result.notes
        assert "asked size 1024x1536, fal returned 1024x768 (the model did not follow image_size)" in result.notes
        assert "asked output_format png, fal returned image/jpeg" in result.notes

    def test_a_single_image_answer_is_accepted(self):
        fake = FakeFal(api_key=self.secret, generic="*", single_image=True)
        result = self.run(fake, output_format="png")
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    def test_the_handle_urls_are_rebuilt_under_the_owner_and_alias(self):
        fake = FakeFal(api_key=self.secret, generic="*", with_urls=False)
        result = self.run(fake)
        assert result.images and all(c["path"].startswith("/fal-ai/flux/requests/") for c in fake.calls[1:])

    @pytest.mark.parametrize("endpoint, app", [
        ("fal-ai/flux/dev", "fal-ai/flux"),
        ("workflows/fal-ai/sdxl-flow", "workflows/fal-ai/sdxl-flow"),
        ("workflows/acme/pipeline/step", "workflows/acme/pipeline"),
        ("comfy/acme/upscale", "comfy/acme/upscale"),
    ])
    def test_rebuilt_handle_urls_keep_fals_three_segment_namespaces(self, endpoint, app):
        # fal-js parseEndpointId: workflows/ and comfy/ ids are namespace/owner/alias[/path].
        urls = fal.job_urls("https://queue.fal.run", endpoint, {"request_id": "r-1"})
        assert urls == {"response_url": f"https://queue.fal.run/{app}/requests/r-1",
                        "status_url": f"https://queue.fal.run/{app}/requests/r-1/status",
                        "cancel_url": f"https://queue.fal.run/{app}/requests/r-1/cancel"}

    def test_a_value_the_model_refuses_is_an_invalid_request_in_fals_words(self, fake):
        error = self.failure(fake, None, InvalidRequestError, output_format="webp")
        assert error.status == 422 and error.message == "HTTP 422: output_format: Input should be 'jpeg' or 'png'"

    def test_an_endpoint_fal_does_not_have_is_an_invalid_request(self, fake):
        fake.unknown_endpoints.add(CUSTOM)
        error = self.failure(fake, None, InvalidRequestError)
        assert error.status == 404 and "not found" in error.message

    def test_edits_are_refused_before_calling_fal(self, fake):
        with pytest.raises(InvalidRequestError, match="does not take reference images on this route"):
            self.run(fake, images=(reference(),))
        assert fake.calls == []

    def test_it_runs_end_to_end_over_loopback(self):
        fake = FakeFal(api_key=self.secret, generic="*", queue_polls=0, progress_polls=0)
        result = run_over_loopback(fake, self.route, lambda url: {**CUSTOM_ENV, "FAL_QUEUE_BASE_URL": url},
                                   ImageRequest(prompt="a lighthouse", width=832, height=1216, output_format="jpeg"),
                                   deadline=10)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (832, 1216)
