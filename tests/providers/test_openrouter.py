import base64
import io
import json
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from providers import openrouter, registry, runner
from providers.base import (
    AuthenticationError, ConfigurationError, ContentPolicyError, ImageRequest, InputImage,
    InsufficientCreditError, InvalidRequestError, ProviderTimeoutError, ProviderUnavailableError,
    RateLimitError,
)
from providers.testing.openrouter import FakeOpenRouter

from tests.helpers import image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-openrouter.test/api/v1"
KEY = "sk-or-v1-test-key"
LINK = "https://compare.example/inputs/MTI:1w2x3y:a-long-signature-nobody-should-keep"


def reference(url=None, **size):
    return InputImage(data=image_bytes(**size), filename="image-0.png", url=url)


class TestOpenRouter(ProviderContract):
    module = openrouter
    route_key = "openrouter:openai/gpt-image-2"
    reports_cost = True
    secret = KEY

    def make_fake(self):
        return FakeOpenRouter(api_key=KEY)

    def env(self, fake):
        return {"OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": BASE}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    # --- the wire ----------------------------------------------------------------------------

    def test_it_posts_explicit_pixels_explicit_quality_and_the_format_with_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/api/v1/images"
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"model": "openai/gpt-image-2", "prompt": "a red fox in fresh snow", "n": 2,
                                "size": "1536x1024", "quality": "high", "output_format": "webp"}

    @pytest.mark.parametrize("width,height", [(1024, 1024), (1024, 1536), (1536, 1024)])
    def test_the_standard_sizes_go_as_pixels_without_a_ratio_or_a_note(self, fake, width, height):
        result = self.run(fake, width=width, height=height)
        assert fake.calls[-1]["json"]["size"] == f"{width}x{height}"
        assert "aspect_ratio" not in fake.calls[-1]["json"] and "resolution" not in fake.calls[-1]["json"]
        assert result.notes == ()
        assert Image.open(io.BytesIO(result.images[0].data)).size == (width, height)

    @pytest.mark.parametrize("width,height", [(1600, 896), (576, 1152), (1024, 1360), (2048, 2048), (2048, 1024)])
    def test_a_custom_size_goes_as_authoritative_pixels_never_beside_a_conflicting_ratio(self, fake, width, height):
        # OpenRouter's ImageGenerationRequest.size: explicit pixels are authoritative, and a
        # mismatched aspect_ratio or resolution beside them is rejected with a 400 (the fake too).
        result = self.run(fake, width=width, height=height)
        body = fake.calls[-1]["json"]
        assert body["size"] == f"{width}x{height}" and "aspect_ratio" not in body and "resolution" not in body
        assert Image.open(io.BytesIO(result.images[0].data)).size == (width, height)
        assert any(f"{width}x{height}" in note and "explicit pixels" in note for note in result.notes)

    @pytest.mark.parametrize("ratio", ["16:9", "2:1"])
    def test_the_fake_refuses_pixels_beside_a_mismatched_ratio_as_the_spec_says(self, fake, ratio):
        answer = fake.handle(httpx.Request("POST", f"{BASE}/images", headers={"authorization": f"Bearer {KEY}"},
                                           json={"model": "openai/gpt-image-2", "prompt": "p", "size": "1600x896",
                                                 "aspect_ratio": ratio}))
        assert answer.status_code == 400 and "does not match aspect_ratio" in answer.json()["error"]["message"]

    def test_a_format_the_upstream_did_not_honour_is_noted_and_the_real_type_kept(self, fake):
        fake.honours_extras = False
        result = self.run(fake, output_format="jpeg")
        assert result.images[0].mime == "image/png"
        assert "asked output_format jpeg, OpenRouter returned image/png" in result.notes

    def test_fewer_images_than_asked_are_noted(self, fake):
        fake.max_images = 1
        result = self.run(fake, n=3)
        assert len(result.images) == 1
        assert "asked n=3, OpenRouter returned 1 image(s)" in result.notes

    def test_with_a_link_beside_the_required_b64_json_the_bytes_are_used_and_nothing_downloaded(self, fake):
        fake.image_mode = "url"
        result = self.run(fake)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert [call["method"] for call in fake.calls] == ["POST"]

    def test_a_link_only_answer_off_the_spec_is_downloaded_too(self, fake):
        png = io.BytesIO()
        Image.new("RGB", (1024, 1024)).save(png, "PNG")
        fake.files["/files/one.png"] = png.getvalue()

        def answer(request):
            if request.method == "GET":
                return fake.handle(request)
            return httpx.Response(200, json={"data": [{"url": "https://fake-openrouter.test/files/one.png"}]})
        result = runner.execute(self.provider_answering(answer), self.request(), allow_private_urls=True)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert result.timings.download_ms is not None

    def test_a_data_url_in_b64_json_is_decoded(self):
        png = io.BytesIO()
        Image.new("RGB", (1024, 1024)).save(png, "PNG")
        encoded = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
        provider = self.provider_answering(lambda request: httpx.Response(200, json={"data": [{"b64_json": encoded}]}))
        result = runner.execute(provider, self.request())
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    # --- cost, ids --------------------------------------------------------------------------

    def test_the_reported_cost_is_usage_cost(self, fake):
        result = self.run(fake, quality="high")
        assert result.usage.cost_usd == Decimal(str(round(20 * 5e-6 + 7034 * 30e-6, 8)))
        assert result.usage.output_tokens == 7034 and result.usage.input_tokens == 20

    def test_byok_adds_the_upstream_charge_to_openrouters_fee_and_says_so(self, fake):
        fake.scenario = "byok"
        result = self.run(fake, quality="low")
        upstream = Decimal(str(round(20 * 5e-6 + 200 * 30e-6, 8)))
        fee = Decimal(str(round(float(upstream) * 0.05, 8)))
        assert result.usage.cost_usd == fee + upstream
        assert any(note.startswith("BYOK") for note in result.notes)

    def test_without_usage_cost_the_catalog_estimates(self, fake):
        fake.scenario = "no_cost"
        result = self.run(fake)
        assert result.usage.cost_usd is None and result.usage.output_tokens == 200

    def test_the_request_sent_is_kept_without_the_key_and_a_body_id_is_the_request_id(self):
        png = io.BytesIO()
        Image.new("RGB", (8, 8)).save(png, "PNG")
        answer = {"id": "gen-123", "data": [{"b64_json": base64.b64encode(png.getvalue()).decode()}]}
        provider = self.provider_answering(lambda request: httpx.Response(200, json=answer))
        result = provider.generate(self.request())
        assert result.request_id == "gen-123"
        assert result.request_sent["url"] == f"{BASE}/images"
        assert KEY not in json.dumps(result.request_sent)

    # --- errors -----------------------------------------------------------------------------

    def test_a_moderation_flag_is_a_content_refusal_with_the_reasons(self, fake):
        error = self.failure(fake, "policy", ContentPolicyError)
        assert error.status == 403 and "violence" in error.message

    def test_an_upstream_safety_refusal_in_metadata_raw_is_a_content_refusal(self, fake):
        error = self.failure(fake, "upstream_policy", ContentPolicyError)
        assert "safety system" in error.message and "OpenAI" in error.message

    def test_a_403_without_a_moderation_flag_is_a_permission_error(self, fake):
        self.failure(fake, "forbidden", AuthenticationError)

    def test_insufficient_credits_are_not_retryable(self, fake):
        error = self.failure(fake, "insufficient_credit", InsufficientCreditError)
        assert not error.retryable and "credits" in error.message

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0 and "Rate limit exceeded" in error.message

    def test_openrouters_408_is_a_retryable_timeout(self, fake):
        error = self.failure(fake, "request_timeout", ProviderTimeoutError)
        assert error.retryable and error.status == 408

    @pytest.mark.parametrize("scenario,status", [("server", 502), ("no_provider", 503)])
    def test_a_model_down_or_no_provider_is_retryable_unavailability(self, fake, scenario, status):
        error = self.failure(fake, scenario, ProviderUnavailableError)
        assert error.status == status and error.retryable

    def test_an_error_inside_http_200_is_raised_with_the_upstreams_words(self, fake):
        error = self.failure(fake, "failed_in_200", ProviderUnavailableError)
        assert error.status == 502 and "stream reset by upstream" in error.message

    def test_a_parameter_the_fake_refuses_is_an_invalid_request(self, fake):
        provider = self.provider(fake)
        with pytest.raises(InvalidRequestError):
            runner.execute(provider, ImageRequest(prompt="", width=1024, height=1024, quality="low"))

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_adds_input_references_as_image_url_parts_with_links_or_data_urls(self, fake):
        inline = reference(width=80, height=60)
        self.run(fake, images=(reference(url=LINK), inline), width=1536, height=1024, quality="high")
        assert fake.calls[-1]["path"] == "/api/v1/images"
        assert fake.calls[-1]["json"] == {
            "model": "openai/gpt-image-2", "prompt": "a red fox in fresh snow", "n": 1,
            "size": "1536x1024", "quality": "high", "output_format": "png",
            "input_references": [{"type": "image_url", "image_url": {"url": LINK}},
                                 {"type": "image_url", "image_url": {"url": inline.data_url()}}]}
        assert fake.inputs[-1] == [{"kind": "url", "url": LINK},
                                   {"kind": "data", "mime": "image/png", "bytes": len(inline.data), "size": (80, 60)}]

    def test_text_to_image_sends_no_input_references(self, fake):
        self.run(fake)
        assert "input_references" not in fake.calls[-1]["json"]

    def test_an_edit_runs_end_to_end_and_its_input_images_are_counted(self, fake):
        result = self.run(fake, images=(reference(), reference(colour=(0, 0, 200))), width=1024, height=1536)
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert result.usage.input_tokens == 20 + 2 * 765 and result.usage.cost_usd > 0
        assert result.notes == ()

    def test_what_is_kept_of_an_edit_has_no_reference_bytes_nor_the_links_signature(self, fake):
        inline = reference(width=80, height=60)
        result = self.run(fake, images=(inline, reference(url=LINK + "?sig=abc")))
        kept = [ref["image_url"]["url"] for ref in result.request_sent["json"]["input_references"]]
        assert kept == [f"data:image/png;base64,... (image/png, {len(inline.data)} bytes)",
                        "https://compare.example/inputs/MTI:1w... (image/png, 139 bytes)"]
        sent = json.dumps(result.request_sent)
        assert base64.b64encode(inline.data).decode()[:40] not in sent
        assert "signature" not in sent and "sig=abc" not in sent and KEY not in sent

    def test_the_route_declares_edits_without_a_mask_or_a_public_link(self, fake):
        caps = self.route(self.env(fake)).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, False, 16, False)
        assert caps.problems(self.request(images=(reference(),), mask=reference())) == ["a mask"]
        assert caps.problems(self.request(images=(reference(),) * 17)) == ["17 reference images: at most 16"]

    def test_the_adapter_refuses_a_mask_or_too_many_images_before_calling_openrouter(self, fake):
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            self.run(fake, images=(reference(),), mask=reference())
        with pytest.raises(InvalidRequestError, match="takes at most 16 reference images; 17 were given"):
            self.run(fake, images=(reference(),) * 17)
        assert fake.calls == []

    def test_an_inline_reference_that_is_no_image_is_the_upstreams_invalid_request(self, fake):
        error = self.failure(fake, None, InvalidRequestError, images=(InputImage(data=b"not a picture"),))
        assert error.status == 400 and "Invalid image file or mode" in error.message and "OpenAI" in error.message
        assert base64.b64encode(b"not a picture").decode() not in error.message

    def test_a_moderation_refusal_of_an_edit_is_a_content_refusal(self, fake):
        self.failure(fake, "policy", ContentPolicyError, images=(reference(),))

    # --- over real HTTP ---------------------------------------------------------------------

    def test_it_works_over_loopback_http_through_the_runner(self):
        fake = FakeOpenRouter(api_key=KEY)
        result = run_over_loopback(fake, self.route,
                                   lambda url: {"OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": f"{url}/api/v1"},
                                   self.request(width=1536, height=1024))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1536, 1024)
        assert result.usage.cost_usd > 0

    def test_an_edit_works_over_loopback_http(self):
        fake = FakeOpenRouter(api_key=KEY)
        result = run_over_loopback(fake, self.route,
                                   lambda url: {"OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": f"{url}/api/v1"},
                                   self.request(images=(reference(),)))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert fake.inputs[-1][0]["kind"] == "data"

    def test_the_route_is_listed_but_not_configured_without_a_key(self):
        route = self.route({})
        assert route.missing_credentials({}) == ["OPENROUTER_API_KEY"]
        assert route.build(env={}).base_url == "https://openrouter.ai/api/v1"


# --- custom routes (OPENROUTER_MODELS) ------------------------------------------------------

CUSTOM = "google/gemini-2.5-flash-image"
CUSTOM_ENV = {"OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": BASE,
              "OPENROUTER_MODELS": f"{CUSTOM}, black-forest-labs/flux.2-pro:nitro"}


class TestOpenRouterCustomRoute(ProviderContract):
    module = openrouter
    route_key = f"openrouter:{CUSTOM}"
    reports_cost = True
    secret = KEY

    def make_fake(self):
        return FakeOpenRouter(api_key=KEY)

    def env(self, fake):
        return dict(CUSTOM_ENV)

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    def test_routes_come_from_openrouter_models_with_a_custom_label(self):
        routes = {route.key: route for route in openrouter.routes(CUSTOM_ENV)}
        assert list(routes) == ["openrouter:openai/gpt-image-2", f"openrouter:{CUSTOM}",
                                "openrouter:black-forest-labs/flux.2-pro:nitro"]
        assert routes["openrouter:openai/gpt-image-2"] == openrouter.routes({})[0]  # unchanged
        route = routes[f"openrouter:{CUSTOM}"]
        assert route.provider is openrouter.OpenRouterCustomProvider and route.model == CUSTOM
        assert route.label == "OpenRouter · google/gemini-2.5-flash-image (custom route)"
        assert registry.route_price(route) is None  # no catalog entry: only usage.cost gives a cost
        assert (route.capabilities.edit, route.capabilities.max_n) == (False, 4)
        assert f"openrouter:{CUSTOM}" in registry.all_routes(CUSTOM_ENV)

    def test_the_built_in_model_and_repeats_are_not_listed_twice(self):
        env = {"OPENROUTER_MODELS": f"openai/gpt-image-2,{CUSTOM},{CUSTOM}"}
        assert [route.key for route in openrouter.routes(env)] == ["openrouter:openai/gpt-image-2", f"openrouter:{CUSTOM}"]

    @pytest.mark.parametrize("bad", ["gemini", "google/gemini image", "/gemini"])
    def test_a_malformed_model_id_is_a_configuration_error(self, bad):
        with pytest.raises(ConfigurationError, match="OPENROUTER_MODELS"):
            openrouter.routes({"OPENROUTER_MODELS": bad})

    def test_the_common_parameters_go_as_openrouters_fields_and_pass_through_extras(self, fake):
        result = self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2, seed=11)
        call = fake.calls[-1]
        assert call["path"] == "/api/v1/images" and call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"model": CUSTOM, "prompt": "a red fox in fresh snow", "n": 2, "aspect_ratio": "3:2",
                                "quality": "high", "output_format": "webp", "seed": 11}
        assert result.notes == (
            f"custom OpenRouter route, no input schema: n, quality, output_format, seed were sent as OpenRouter's "
            f"fields; {CUSTOM} may ignore any of them",
            "asked size 1536x1024; for a custom route OpenRouter is given an aspect ratio, so 3:2 was sent "
            "(the resolution is the model's choice)",
            "asked output_format webp, OpenRouter returned image/png")
        assert [Image.open(io.BytesIO(image.data)).size for image in result.images] == [(1248, 832)] * 2

    def test_a_size_without_an_allowed_ratio_is_snapped_and_noted(self, fake):
        result = self.run(fake, width=1024, height=1360)
        assert fake.calls[-1]["json"]["aspect_ratio"] == "3:4" and "size" not in fake.calls[-1]["json"]
        assert any("so the nearest one, 3:4, was sent" in note for note in result.notes)

    @pytest.mark.parametrize("width,height,ratio", [(2048, 1024, "2:1"), (1024, 2048, "1:2"), (864, 2016, "9:21"),
                                                    (1280, 576, "20:9")])
    def test_the_ratios_of_openrouters_spec_beyond_the_old_ten_are_sent_exactly(self, fake, width, height, ratio):
        result = self.run(fake, width=width, height=height)
        assert fake.calls[-1]["json"]["aspect_ratio"] == ratio
        assert any(f"so {ratio} was sent" in note for note in result.notes)
        assert result.images

    def test_the_reported_cost_is_usage_cost_and_absent_cost_stays_unknown(self, fake):
        assert self.run(fake, n=2).usage.cost_usd == Decimal("0.078")
        fake.scenario = "no_cost"
        assert self.run(fake).usage.cost_usd is None

    def test_fewer_images_than_asked_are_noted(self, fake):
        fake.max_images = 1
        result = self.run(fake, n=3)
        assert "asked n=3, OpenRouter returned 1 image(s)" in result.notes

    def test_a_model_openrouter_does_not_know_is_an_invalid_request(self, fake):
        fake.unknown_models.add(CUSTOM)
        error = self.failure(fake, None, InvalidRequestError)
        assert error.status == 400 and "is not a valid model ID" in error.message

    def test_edits_are_refused_before_calling_openrouter(self, fake):
        with pytest.raises(InvalidRequestError, match="does not take reference images on this route"):
            self.run(fake, images=(reference(),))
        assert fake.calls == []

    def test_it_works_over_loopback_http(self):
        fake = FakeOpenRouter(api_key=KEY)
        result = run_over_loopback(fake, self.route,
                                   lambda url: {**CUSTOM_ENV, "OPENROUTER_BASE_URL": f"{url}/api/v1"},
                                   self.request(width=768, height=1344))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (768, 1344)
