import io
import json
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from providers import compatible, openai, registry, runner
from providers.base import (
    ContentPolicyError, InputImage, InsufficientCreditError, InvalidRequestError, RateLimitError,
)
from providers.testing.openai import RED, FakeOpenAI, mask, mask_png, reference

from tests.helpers import image_bytes
from tests.providers.contract import ProviderContract

BASE = "https://fake-openai.test/v1"


class TestOpenAI(ProviderContract):
    module = openai
    route_key = "openai:gpt-image-2"
    reports_cost = True
    secret = "sk-test-key"

    def make_fake(self):
        return FakeOpenAI(api_key=self.secret)

    def env(self, fake):
        return {"OPENAI_API_KEY": self.secret, "OPENAI_BASE_URL": BASE}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    def test_it_posts_the_documented_body_with_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="webp", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/generations"
        assert call["headers"]["authorization"] == "Bearer sk-test-key"
        assert call["json"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": 2,
                                "size": "1536x1024", "quality": "high", "output_format": "webp"}

    def test_the_reported_cost_is_usage_tokens_times_catalog_prices(self, fake):
        result = self.run(fake, quality="high")
        # 20 text tokens at $5/M + 7034 image tokens at $30/M
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.21102")
        assert result.usage.output_tokens == 7034

    def test_text_output_tokens_in_output_tokens_details_are_priced_at_the_text_output_rate(self, fake):
        fake.text_output_tokens = 120
        result = self.run(fake, quality="high")
        # 20 text in at $5/M + 7034 image out at $30/M + 120 text out at $10/M
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.21102") + Decimal("0.0012")
        assert result.usage.output_tokens == 7154
        assert result.usage.raw["output_tokens_details"] == {"image_tokens": 7034, "text_tokens": 120}

    def test_it_keeps_the_request_id_and_the_providers_processing_time(self, fake):
        result = self.run(fake)
        assert result.request_id.startswith("req_")
        assert result.timings.provider_generation_ms == 1234.0
        assert result.response_headers["openai-processing-ms"] == "1234"
        assert result.request_sent["url"] == f"{BASE}/images/generations"

    def test_auto_quality_notes_what_the_provider_chose(self, fake):
        assert "quality auto: the provider chose high" in self.run(fake, quality="auto").notes

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0 and "images per minute" in error.message

    def test_an_exhausted_quota_is_not_retryable(self, fake):
        error = self.failure(fake, "quota", InsufficientCreditError)
        assert not error.retryable

    def test_organisation_and_project_headers_are_sent_when_set(self, fake):
        env = {**self.env(fake), "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj-1"}
        route = registry.get_route(self.route_key, env)
        route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env).generate(self.request())
        assert fake.calls[-1]["headers"]["openai-organization"] == "org-1"
        assert fake.calls[-1]["headers"]["openai-project"] == "proj-1"

    def test_an_error_inside_http_200_is_an_error(self):
        def handle(request):
            return httpx.Response(200, json={"error": {"message": "upstream failed", "type": "server_error"}})

        route = registry.get_route(self.route_key, self.env(None))
        provider = route.build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=self.env(None))
        with pytest.raises(Exception, match="upstream failed"):
            provider.generate(self.request())

    def test_the_route_is_listed_but_not_configured_without_a_key(self):
        route = registry.all_routes({})["openai:gpt-image-2"]
        assert route.missing_credentials({}) == ["OPENAI_API_KEY"]

    # --- edits (providers.md section 2.3) ---------------------------------------------------

    def test_an_edit_posts_multipart_with_an_image_array_and_the_mask(self, fake):
        first, second = reference(name="person.png"), reference(fmt="JPEG", colour=(10, 200, 10), name="scene.jpg")
        self.run(fake, images=(first, second), mask=mask(), width=1536, height=1024, quality="high",
                 output_format="webp", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/edits" and call["json"] is None
        assert call["headers"]["content-type"].startswith("multipart/form-data; boundary=")
        assert call["headers"]["authorization"] == "Bearer sk-test-key"
        assert call["form"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": "2",
                                "size": "1536x1024", "quality": "high", "output_format": "webp"}
        assert [(f["field"], f["filename"], f["content_type"]) for f in call["files"]] == [
            ("image[]", "person.png", "image/png"), ("image[]", "scene.jpg", "image/jpeg"), ("mask", "mask.png", "image/png")]
        assert [f["data"] for f in call["files"]] == [first.data, second.data, mask().data]

    def test_one_reference_image_is_the_plain_image_field_and_input_fidelity_is_never_sent(self, fake):
        self.run(fake, images=(reference(),))
        call = fake.calls[-1]
        assert [part["field"] for part in call["files"]] == ["image"]
        assert "input_fidelity" not in call["form"] and call["form"]["quality"] == "low"

    def test_an_edit_runs_end_to_end_and_starts_from_the_reference(self, fake):
        result = self.run(fake, images=(reference(),), mask=mask(), width=1024, height=1536)
        decoded = Image.open(io.BytesIO(result.images[0].data))
        assert decoded.size == (1024, 1536)
        assert decoded.convert("RGB").getpixel((512, 1000)) == RED  # the reference, resized
        assert result.timings.total_ms > 0 and result.request_id.startswith("req_")

    def test_an_edits_cost_counts_the_reference_images_input_tokens(self, fake):
        result = self.run(fake, images=(reference(), reference()), quality="high")
        # 20 text tokens at $5/M + 2 x 1000 image tokens at $8/M + 7034 output image tokens at $30/M
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.016") + Decimal("0.21102")
        assert result.usage.input_tokens == 2020

    def test_what_an_edit_keeps_names_the_files_but_holds_neither_bytes_nor_key(self, fake):
        image = reference()
        result = self.run(fake, images=(image,), mask=mask())
        sent = result.request_sent
        assert sent["url"] == f"{BASE}/images/edits" and sent["content_type"] == "multipart/form-data"
        assert sent["form"]["model"] == "gpt-image-2" and "json" not in sent
        assert sent["files"] == [{"field": "image", "filename": "ref.png", "mime": "image/png", "bytes": len(image.data)},
                                 {"field": "mask", "filename": "mask.png", "mime": "image/png", "bytes": len(mask().data)}]
        json.dumps(sent)  # storable as it is
        assert self.secret not in repr(sent) and image.data_url()[30:80] not in repr(sent)

    def test_an_image_without_a_file_name_gets_one_with_its_types_extension(self, fake):
        self.run(fake, images=(InputImage(data=image_bytes(fmt="WEBP"), mime="image/webp", filename=""),))
        assert fake.calls[-1]["files"][0]["filename"] == "image-1.webp"

    def test_the_route_declares_edits_with_a_mask_and_sixteen_images_from_bytes(self):
        caps = self.route(self.env(None)).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, True, 16, False)
        assert caps.problems(self.request(images=(reference(),) * 16, mask=mask())) == []

    def test_more_than_sixteen_reference_images_are_refused_before_sending(self, fake):
        with pytest.raises(InvalidRequestError, match="at most 16 reference image"):
            self.run(fake, images=(reference(),) * 17)
        assert fake.calls == []

    def test_a_mask_without_a_reference_image_is_refused_before_sending(self, fake):
        with pytest.raises(InvalidRequestError, match="needs a reference image"):
            self.run(fake, mask=mask())
        assert fake.calls == []

    def test_a_mask_of_another_size_is_openais_invalid_request(self, fake):
        with pytest.raises(InvalidRequestError, match="does not match image size 64x48") as caught:
            self.run(fake, images=(reference(),), mask=mask(32, 32))
        assert caught.value.status == 400 and not caught.value.retryable

    def test_a_refused_reference_image_is_a_content_policy_error(self, fake):
        error = self.failure(fake, "edit_policy", ContentPolicyError, images=(reference(),))
        assert "input image" in error.message and not error.retryable

    @pytest.mark.parametrize("files,form,words", [
        ([("mask", "m.png")], {}, "Missing required parameter: 'image'"),
        ([("image", "a.png"), ("image", "b.png")], {}, "Duplicate parameter: 'image'"),
        ([("image[]", "a.png")] * 17, {}, "maximum length 16"),
        ([("image", "a.png")], {"input_fidelity": "high"}, "input_fidelity"),
        ([("image", "a.png"), ("mask", "m.jpg")], {}, "mask must be a PNG"),
        ([("image", "a.png"), ("mask", "b.png")], {}, "must have an alpha channel"),
        ([("image", "a.txt")], {}, "Invalid image file or mode for image 1"),
    ])
    def test_the_fake_refuses_the_edits_openai_refuses(self, fake, files, form, words):
        """The fake's own checks (so the adapter tests above prove something)."""
        content = {"a.png": image_bytes(), "b.png": image_bytes(), "m.jpg": image_bytes(fmt="JPEG"),
                   "m.png": mask_png(64, 48), "a.txt": b"not an image"}
        parts = [(field, (name, content[name], "image/png")) for field, name in files]
        client = httpx.Client(transport=httpx.MockTransport(fake.handle))
        response = client.post(f"{BASE}/images/edits", headers={"Authorization": f"Bearer {self.secret}"},
                               data={"model": "gpt-image-2", "prompt": "p", **form}, files=parts)
        assert response.status_code == 400 and words in response.json()["error"]["message"]


class TestCompatible(ProviderContract):
    module = compatible
    route_key = "compatible:litellm"
    reports_cost = True
    secret = "sk-litellm-key"

    def make_fake(self):
        return FakeOpenAI(api_key=self.secret, prefix="/v1", image_mode="url",
                          extra_headers={"x-litellm-response-cost": "0.0421"})

    def env(self, fake):
        config = [{"name": "litellm", "base_url": "http://127.0.0.1:4000/v1", "model": "openai/gpt-image-2",
                   "api_key_env": "LITELLM_API_KEY", "price_as": "openai:gpt-image-2"}]
        return {"COMPATIBLE_ROUTES": json.dumps(config), "LITELLM_API_KEY": self.secret}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]

    def test_litellms_cost_header_is_the_reported_cost(self, fake):
        assert self.run(fake).usage.cost_usd == Decimal("0.0421")

    def test_url_images_are_downloaded(self, fake):
        result = self.run(fake, n=2)
        assert len(result.images) == 2 and result.timings.download_ms is not None

    def test_a_server_without_a_key_needs_no_credential(self):
        env = {"COMPATIBLE_ROUTES": json.dumps([{"name": "localai", "base_url": "http://127.0.0.1:8080/v1", "model": "sd"}])}
        route = registry.get_route("compatible:localai", env)
        assert route.missing_credentials(env) == []
        assert registry.route_price(route) is None  # unknown, never $0

    def test_an_edit_is_openais_multipart_on_the_servers_base_url(self, fake):
        result = self.run(fake, images=(reference(), reference(fmt="WEBP")), mask=mask(), quality="medium")
        call = fake.calls[-1]
        assert call["path"] == "/v1/images/edits" and call["headers"]["authorization"] == f"Bearer {self.secret}"
        assert call["form"]["model"] == "openai/gpt-image-2" and call["form"]["quality"] == "medium"
        assert [part["field"] for part in call["files"]] == ["image[]", "image[]", "mask"]
        assert result.request_sent["url"] == "http://127.0.0.1:4000/v1/images/edits"
        assert result.usage.cost_usd == Decimal("0.0421")  # LiteLLM's header on the edit path too
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    def test_edits_and_the_mask_are_declared_unless_configured_off(self):
        entry = {"name": "localai", "base_url": "http://127.0.0.1:8080/v1", "model": "sd"}
        caps = registry.get_route("compatible:localai", {"COMPATIBLE_ROUTES": json.dumps([entry])}).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, True, 16, False)
        no_mask = registry.get_route("compatible:localai", {"COMPATIBLE_ROUTES": json.dumps([{**entry, "mask": False}])})
        assert (no_mask.capabilities.edit, no_mask.capabilities.mask) == (True, False)
        off = registry.get_route("compatible:localai", {"COMPATIBLE_ROUTES": json.dumps([{**entry, "edit": False}])})
        assert (off.capabilities.edit, off.capabilities.mask) == (False, False)
        assert off.capabilities.problems(self.request(images=(reference(),))) == ["edits with reference images"]

    def test_a_server_configured_without_edits_refuses_one_before_sending(self, fake):
        entry = {"name": "litellm", "base_url": BASE, "model": "gpt-image-2", "edit": False}
        env = {"COMPATIBLE_ROUTES": json.dumps([entry])}
        provider = registry.get_route("compatible:litellm", env).build(
            client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(InvalidRequestError, match="does not take reference images"):
            runner.execute(provider, self.request(images=(reference(),)))
        assert fake.calls == []

    def test_a_server_configured_without_a_mask_refuses_one_before_sending(self, fake):
        entry = {"name": "litellm", "base_url": BASE, "model": "gpt-image-2", "mask": False}
        env = {"COMPATIBLE_ROUTES": json.dumps([entry])}
        provider = registry.get_route("compatible:litellm", env).build(
            client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(InvalidRequestError, match="takes no mask"):
            runner.execute(provider, self.request(images=(reference(),), mask=mask()))
        assert fake.calls == []

    def test_a_servers_refusal_of_an_edit_is_an_invalid_request(self, fake):
        with pytest.raises(InvalidRequestError, match="does not match image size"):
            self.run(fake, images=(reference(),), mask=mask(10, 10))

    @pytest.mark.parametrize("config", ["not json", "{}", '[{"name": "x"}]',
                                        '[{"name": "x", "base_url": "http://h/v1", "model": "m", "edit": "no"}]'])
    def test_a_bad_configuration_is_refused_with_the_reason(self, config):
        with pytest.raises(ValueError, match="COMPATIBLE_ROUTES"):
            compatible.parse_config(config)
        # Listing routes does not fail: the bad entry is an unusable route that says why.
        env = {"COMPATIBLE_ROUTES": config}
        bad = [r for r in registry.all_routes(env).values() if r.key.startswith("compatible:")]
        assert len(bad) == 1 and "COMPATIBLE_ROUTES" in bad[0].label
        assert bad[0].missing_credentials(env) and "COMPATIBLE_ROUTES" in bad[0].missing_credentials(env)[0]

    def test_a_bad_entry_costs_only_its_own_route(self):
        good = {"name": "localai", "base_url": "http://127.0.0.1:8080/v1", "model": "sd"}
        env = {"COMPATIBLE_ROUTES": json.dumps([{"name": "broken"}, good, 7])}
        routes = registry.all_routes(env)
        assert routes["compatible:localai"].missing_credentials(env) == []
        assert "needs name, base_url and model" in routes["compatible:broken"].missing_credentials(env)[0]
        assert "entry 3" in routes["compatible:entry-3"].label
