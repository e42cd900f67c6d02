import io
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from providers import azure, registry
from providers.base import (
    AuthenticationError, ContentPolicyError, InvalidRequestError, ProviderUnavailableError,
    RateLimitError,
)
from providers.testing.azure import FakeAzureOpenAI
from providers.testing.openai import RED, mask, reference

from tests.helpers import run_over_loopback
from tests.providers.contract import ProviderContract

ENDPOINT = "https://myres.openai.azure.com"
KEY = "azure-test-key-0123"


class AzureCase(ProviderContract):
    module = azure
    route_key = "azure:gpt-image-2"
    reports_cost = True
    secret = KEY
    style = "deployments"

    def make_fake(self):
        return FakeAzureOpenAI(api_key=self.secret, deployments=("gpt-image-2", "img2-eu"))

    def env(self, fake):
        return {"AZURE_OPENAI_API_KEY": self.secret, "AZURE_OPENAI_ENDPOINT": ENDPOINT,
                "AZURE_OPENAI_DEPLOYMENTS": "gpt-image-2, img2-eu", "AZURE_OPENAI_API_STYLE": self.style}

    def quality_sent(self, fake):
        return fake.calls[-1]["json"]["quality"]


class TestAzureDeployments(AzureCase):
    def test_it_posts_the_openai_body_to_the_deployment_path_with_the_api_key_header(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="jpeg", n=2)
        call = fake.calls[-1]
        assert call["path"] == "/openai/deployments/gpt-image-2/images/generations"
        assert call["params"] == {"api-version": "2025-04-01-preview"}
        assert call["headers"]["api-key"] == KEY and "authorization" not in call["headers"]
        assert call["json"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": 2,
                                "size": "1536x1024", "quality": "high", "output_format": "jpeg"}

    @pytest.mark.parametrize("changes, words", [({"output_format": "webp"}, "output_format png or jpeg, not webp"),
                                                ({"width": 1600, "height": 896}, "not 1600x896")])
    def test_what_the_api_version_does_not_allow_is_refused_before_sending(self, fake, changes, words):
        with pytest.raises(InvalidRequestError, match=words):
            self.run(fake, **changes)
        assert fake.calls == []

    def test_the_fake_refuses_webp_at_2025_04_01_preview_as_its_spec_does(self, fake):
        url = "https://fake-azure.test/openai/deployments/gpt-image-2/images/generations?api-version=2025-04-01-preview"
        answer = fake.handle(httpx.Request("POST", url, headers={"api-key": fake.api_key},
                                           json={"prompt": "p", "output_format": "webp"}))
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "output_format"

    def test_openai_api_version_overrides_the_default_api_version(self, fake):
        env = {**self.env(fake), "OPENAI_API_VERSION": "2025-06-01-preview"}
        route = {r.key: r for r in azure.routes(env)}["azure:img2-eu"]
        provider = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        result = provider.generate(self.request())
        assert fake.calls[-1]["path"] == "/openai/deployments/img2-eu/images/generations"
        assert fake.calls[-1]["params"] == {"api-version": "2025-06-01-preview"}
        assert result.request_sent["url"] == (f"{ENDPOINT}/openai/deployments/img2-eu/images/generations"
                                              "?api-version=2025-06-01-preview")

    def test_an_endpoint_given_as_the_sdk_base_url_is_reduced_to_the_resource_root(self, fake):
        for given in (f"{ENDPOINT}/", f"{ENDPOINT}/openai", f"{ENDPOINT}/openai/v1/"):
            env = {**self.env(fake), "AZURE_OPENAI_ENDPOINT": given}
            self.route(env).build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env).generate(self.request())
            assert fake.calls[-1]["path"] == "/openai/deployments/gpt-image-2/images/generations"

    def test_the_cost_is_usage_tokens_at_openais_token_rates(self, fake):
        result = self.run(fake, quality="high")
        # 20 text tokens at $5/M + 7034 image tokens at $30/M (the catalog's openai:gpt-image-2 rates)
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.21102")
        assert result.usage.output_tokens == 7034
        price = registry.route_price(self.route(self.env(fake)))
        assert price is not None and price.per_token["image_output"] == Decimal("0.00003")

    def test_it_keeps_azures_request_id_region_and_deployment_but_never_the_key(self, fake):
        result = self.run(fake)
        headers = result.response_headers
        assert result.request_id == headers["apim-request-id"] == headers["x-request-id"]
        assert headers["x-ms-region"] == "Sweden Central" and headers["x-ms-deployment-name"] == "gpt-image-2"
        assert KEY not in repr(result.request_sent) and "api-key" not in repr(result.request_sent)

    def test_without_x_request_id_the_apim_request_id_is_the_request_id(self, fake):
        fake.request_id_header = False
        result = self.run(fake)
        assert result.request_id and result.request_id == result.response_headers["apim-request-id"]

    def test_auto_quality_notes_what_azure_chose(self, fake):
        assert "quality auto: the provider chose high" in self.run(fake, quality="auto").notes

    def test_url_images_as_azures_dalle_deployments_answered_are_downloaded(self, fake):
        fake.image_mode = "url"
        result = self.run(fake, n=2)
        assert len(result.images) == 2 and result.timings.download_ms is not None

    def test_a_gpt_image_refusal_is_a_content_policy_error(self, fake):
        error = self.failure(fake, "policy", ContentPolicyError)
        assert "Azure support ticket" in error.message and error.status == 400

    def test_an_azure_content_filter_refusal_names_the_filtered_categories(self, fake):
        error = self.failure(fake, "content_filter", ContentPolicyError)
        assert "rejected as a result of our safety system" in error.message
        assert error.message.endswith("(filtered: violence)")

    def test_a_blocked_resource_is_not_blamed_on_the_prompt(self, fake):
        error = self.failure(fake, "resource_blocked", AuthenticationError)
        assert not isinstance(error, ContentPolicyError) and not error.retryable
        assert "temporarily blocked" in error.message and error.status == 403

    def test_a_bad_key_is_azures_access_denied(self, fake):
        env = {**self.env(fake), "AZURE_OPENAI_API_KEY": "wrong-key-9999"}
        provider = self.route(env).build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(AuthenticationError, match="Access denied due to invalid subscription key"):
            provider.generate(self.request())

    def test_an_unknown_deployment_is_an_invalid_request_in_azures_words(self, fake):
        fake.deployments = ("something-else",)
        error = self.failure(fake, None, InvalidRequestError)
        assert "API deployment for this resource does not exist" in error.message and error.status == 404

    @pytest.mark.parametrize("scenario,wait", [("rate_limit", 7.0), ("rate_limit_ms", 1.5), ("rate_limit_unsaid", 6.0)])
    def test_a_rate_limit_carries_the_wait_from_headers_or_from_azures_message(self, fake, scenario, wait):
        error = self.failure(fake, scenario, RateLimitError)
        assert error.retry_after == wait and error.retryable and "exceeded call rate limit" in error.message

    def test_a_server_error_is_retryable_in_azures_words(self, fake):
        error = self.failure(fake, "server", ProviderUnavailableError)
        assert error.retryable and "temporarily unable to process" in error.message

    # --- edits ------------------------------------------------------------------------------

    def test_an_edit_posts_openais_multipart_to_the_deployments_edits_path(self, fake):
        first, second = reference(name="a.png"), reference(fmt="JPEG", name="b.jpg")
        result = self.run(fake, images=(first, second), mask=mask(), width=1024, height=1536, quality="high")
        call = fake.calls[-1]
        assert call["path"] == "/openai/deployments/gpt-image-2/images/edits"
        assert call["params"] == {"api-version": "2025-04-01-preview"}
        assert call["headers"]["api-key"] == KEY and "authorization" not in call["headers"]
        assert call["headers"]["content-type"].startswith("multipart/form-data")
        assert call["form"] == {"model": "gpt-image-2", "prompt": "a red fox in fresh snow", "n": "1",
                                "size": "1024x1536", "quality": "high", "output_format": "png"}
        assert [(f["field"], f["filename"], f["data"]) for f in call["files"]] == [
            ("image[]", "a.png", first.data), ("image[]", "b.jpg", second.data), ("mask", "mask.png", mask().data)]
        assert result.request_sent["url"] == (f"{ENDPOINT}/openai/deployments/gpt-image-2/images/edits"
                                              "?api-version=2025-04-01-preview")
        assert [f["bytes"] for f in result.request_sent["files"]] == [len(first.data), len(second.data), len(mask().data)]
        assert KEY not in repr(result.request_sent)

    def test_an_edit_runs_end_to_end_with_the_reference_tokens_priced(self, fake):
        result = self.run(fake, images=(reference(),), quality="high")
        decoded = Image.open(io.BytesIO(result.images[0].data))
        assert decoded.size == (1024, 1024) and decoded.convert("RGB").getpixel((512, 900)) == RED
        # 20 text tokens at $5/M + 1000 image input tokens at $8/M + 7034 image tokens at $30/M
        assert result.usage.cost_usd == Decimal("0.0001") + Decimal("0.008") + Decimal("0.21102")
        assert result.response_headers["x-ms-deployment-name"] == "gpt-image-2"

    def test_the_deployments_declare_edits_with_a_mask_from_uploaded_bytes(self, fake):
        caps = self.route(self.env(fake)).capabilities
        assert (caps.edit, caps.mask, caps.max_input_images, caps.edit_needs_public_url) == (True, True, 16, False)

    def test_too_many_reference_images_are_refused_before_sending(self, fake):
        with pytest.raises(InvalidRequestError, match="at most 16"):
            self.run(fake, images=(reference(),) * 17)
        assert fake.calls == []

    def test_a_content_filtered_edit_names_the_categories(self, fake):
        error = self.failure(fake, "content_filter", ContentPolicyError, images=(reference(),))
        assert error.message.endswith("(filtered: violence)")
        assert fake.calls[-1]["path"].endswith("/images/edits")

    def test_a_mask_of_another_size_is_refused_in_azures_envelope(self, fake):
        error = self.failure(fake, None, InvalidRequestError, images=(reference(),), mask=mask(48, 48))
        assert "does not match image size 64x48" in error.message and error.status == 400


class TestAzureV1(AzureCase):
    style = "v1"

    def test_it_posts_to_the_v1_path_with_the_deployment_as_model_and_no_api_version(self, fake):
        env = {**self.env(fake), "OPENAI_API_VERSION": "2025-04-01-preview"}  # a dated version is for the classic URLs
        route = {r.key: r for r in azure.routes(env)}["azure:img2-eu"]
        result = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env).generate(
            self.request(quality="medium"))
        call = fake.calls[-1]
        assert call["path"] == "/openai/v1/images/generations" and call["params"] == {}
        assert call["headers"]["api-key"] == KEY
        assert call["json"]["model"] == "img2-eu" and call["json"]["quality"] == "medium"
        assert result.request_sent["url"] == f"{ENDPOINT}/openai/v1/images/generations"
        assert result.response_headers["x-ms-deployment-name"] == "img2-eu"

    def test_the_preview_channel_is_passed_as_api_version(self, fake):
        env = {**self.env(fake), "OPENAI_API_VERSION": "preview"}
        self.route(env).build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env).generate(self.request())
        assert fake.calls[-1]["params"] == {"api-version": "preview"}

    def test_an_edit_posts_to_the_v1_edits_path_with_the_deployment_as_model(self, fake):
        env = {**self.env(fake), "OPENAI_API_VERSION": "2025-04-01-preview"}
        route = {r.key: r for r in azure.routes(env)}["azure:img2-eu"]
        result = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env).generate(
            self.request(images=(reference(),), mask=mask()))
        call = fake.calls[-1]
        assert call["path"] == "/openai/v1/images/edits" and call["params"] == {}
        assert call["form"]["model"] == "img2-eu" and [f["field"] for f in call["files"]] == ["image", "mask"]
        assert result.request_sent["url"] == f"{ENDPOINT}/openai/v1/images/edits"
        assert result.response_headers["x-ms-deployment-name"] == "img2-eu"

    def test_an_edit_works_over_real_http_on_loopback(self, fake):
        result = run_over_loopback(fake, self.route, lambda url: {**self.env(fake), "AZURE_OPENAI_ENDPOINT": url},
                                   self.request(images=(reference(), reference(fmt="WEBP")), mask=mask(), n=2))
        assert len(result.images) == 2 and result.images[0].data.startswith(b"\x89PNG")
        assert [f["field"] for f in fake.calls[-1]["files"]] == ["image[]", "image[]", "mask"]

    def test_it_works_over_real_http_on_loopback(self, fake):
        result = run_over_loopback(fake, self.route, lambda url: {**self.env(fake), "AZURE_OPENAI_ENDPOINT": url},
                                   self.request(n=2))
        assert len(result.images) == 2 and result.images[0].data.startswith(b"\x89PNG")


class TestAzureRoutes:
    def test_there_is_one_route_per_listed_deployment(self):
        found = azure.routes({"AZURE_OPENAI_DEPLOYMENTS": " gpt-image-2 ,img2-eu,,gpt-image-2"})
        assert [r.key for r in found] == ["azure:gpt-image-2", "azure:img2-eu"]
        assert [r.label for r in found] == ["Azure OpenAI gpt-image-2", "Azure OpenAI img2-eu"]
        assert found[1].model == "img2-eu" and found[1].capabilities.max_n == 10
        assert found[0].options["price_key"] == "openai:gpt-image-2"

    def test_a_single_deployment_variable_is_enough(self):
        assert [r.key for r in azure.routes({"AZURE_OPENAI_DEPLOYMENT": "prod-image"})] == ["azure:prod-image"]

    def test_without_deployments_there_is_no_route(self):
        assert azure.routes({"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": ENDPOINT}) == []

    def test_a_route_needs_both_the_key_and_the_endpoint(self):
        route = azure.routes({"AZURE_OPENAI_DEPLOYMENT": "d"})[0]
        assert route.missing_credentials({"AZURE_OPENAI_API_KEY": "k"}) == ["AZURE_OPENAI_ENDPOINT"]
        assert route.missing_credentials({}) == ["AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"]

    def test_the_v1_api_offers_gpt_image_2s_sizes_and_formats(self):
        capabilities = azure.routes({"AZURE_OPENAI_DEPLOYMENT": "d", "AZURE_OPENAI_API_STYLE": "v1"})[0].capabilities
        assert capabilities.custom_size.max_pixels == 8_294_400 and capabilities.custom_size.multiple == 16
        assert capabilities.formats == ("png", "jpeg", "webp")

    @pytest.mark.parametrize("version", ["", "2025-04-01-preview", "2025-06-01-preview"])
    def test_the_deployments_urls_offer_what_their_dated_api_version_allows(self, version):
        # 2025-04-01-preview (inference.yaml): imagesOutputFormat png|jpeg, imageSize an enum.
        env = {"AZURE_OPENAI_DEPLOYMENT": "d", "OPENAI_API_VERSION": version}
        capabilities = azure.routes(env)[0].capabilities
        assert capabilities.formats == ("png", "jpeg") and capabilities.custom_size is None
        assert capabilities.sizes == ((1024, 1024), (1024, 1536), (1536, 1024))
        assert capabilities.as_dict()["formats"] == ["png", "jpeg"]

    def test_an_unknown_api_style_is_refused_with_the_variable_name(self):
        with pytest.raises(ValueError, match="AZURE_OPENAI_API_STYLE"):
            azure.routes({"AZURE_OPENAI_DEPLOYMENT": "d", "AZURE_OPENAI_API_STYLE": "v2"})
