import io

import httpx
import pytest
from PIL import Image

from providers import higgsfield, registry, runner
from providers.base import (
    ContentPolicyError, InputImage, InsufficientCreditError, InvalidRequestError,
    ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.higgsfield import FakeHiggsfield

from tests.helpers import image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-higgsfield.test"
PATH = "openai/gpt-image-2/text-to-image"
KEY_ID, SECRET = "hf-key-id", "hf-key-secret"


class TestHiggsfield(ProviderContract):
    module = higgsfield
    route_key = f"higgsfield:{PATH}"
    reports_cost = False
    secret = SECRET

    def make_fake(self):
        return FakeHiggsfield(key_id=KEY_ID, key_secret=SECRET, model_paths=(PATH,))

    def env(self, fake):
        return {"HF_API_KEY": KEY_ID, "HF_API_SECRET": SECRET, "HIGGSFIELD_BASE_URL": BASE,
                "HIGGSFIELD_MODEL_PATHS": PATH}

    def quality_sent(self, fake):
        return self.submits(fake)[-1]["json"]["quality"]

    def submits(self, fake):
        return [call for call in fake.calls if call["path"] == f"/{PATH}"]

    def test_there_is_no_route_unless_model_paths_are_configured(self):
        assert higgsfield.routes({"HF_API_KEY": KEY_ID, "HF_API_SECRET": SECRET}) == []
        assert not [key for key in registry.all_routes({}) if key.startswith("higgsfield:")]

    def test_each_configured_path_is_one_route_labelled_as_unverified(self):
        routes = higgsfield.routes({"HIGGSFIELD_MODEL_PATHS": f" {PATH} , /other/model/ ,"})
        assert [route.key for route in routes] == [f"higgsfield:{PATH}", "higgsfield:other/model"]
        assert all("unverified" in route.label for route in routes)

    @pytest.mark.parametrize("bad", ["../admin", "a/../b", "https://evil.example/x", "a b", "a?x=1"])
    def test_a_malformed_model_path_is_refused_with_the_variable_named(self, bad):
        with pytest.raises(ValueError, match="HIGGSFIELD_MODEL_PATHS"):
            higgsfield.routes({"HIGGSFIELD_MODEL_PATHS": bad})

    def test_it_submits_to_the_model_path_with_key_id_and_secret(self, fake):
        self.run(fake, width=1536, height=1024, quality="high")
        call = self.submits(fake)[-1]
        assert call["method"] == "POST"
        assert call["headers"]["authorization"] == f"Key {KEY_ID}:{SECRET}"
        assert call["json"] == {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2", "resolution": "1k",
                                "quality": "high"}

    def test_the_sdks_single_credentials_variable_works_too(self, fake):
        env = {"HF_CREDENTIALS": f"{KEY_ID}:{SECRET}", "HIGGSFIELD_BASE_URL": BASE, "HIGGSFIELD_MODEL_PATHS": PATH}
        route = self.route(env)
        assert route.credential_names == ("HF_CREDENTIALS",) and route.missing_credentials(env) == []
        provider = route.build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        provider.sleep = lambda seconds: None
        provider.generate(self.request())
        assert self.submits(fake)[-1]["headers"]["authorization"] == f"Key {KEY_ID}:{SECRET}"

    def test_the_request_is_polled_on_its_status_url_until_completed(self, fake):
        result = self.run(fake)
        polls = [call for call in fake.calls if call["method"] == "GET"]
        assert [call["path"] for call in polls] == [f"/requests/{result.request_id}/status"] * 3
        assert result.request_sent == {"method": "POST", "url": f"{BASE}/{PATH}", "json": self.submits(fake)[-1]["json"]}

    def test_a_large_size_is_sent_as_ratio_and_resolution_tier_with_a_note(self, fake):
        result = self.run(fake, width=3840, height=2160)
        assert self.submits(fake)[-1]["json"]["aspect_ratio"] == "16:9"
        assert self.submits(fake)[-1]["json"]["resolution"] == "4k"
        assert Image.open(io.BytesIO(result.images[0].data)).size == (3840, 2160)
        assert "size 3840x2160 asked: Higgsfield takes aspect_ratio + resolution; sent 16:9 at 4k, " \
               "the provider chose the pixels" in result.notes

    def test_a_ratio_it_lacks_is_snapped_to_the_nearest_with_a_note(self, fake):
        result = self.run(fake, width=1280, height=1024)  # 5:4
        assert self.submits(fake)[-1]["json"]["aspect_ratio"] == "4:3"
        assert any("sent 4:3 at 1k (nearest ratio)" in note for note in result.notes)

    def test_nsfw_is_a_content_policy_error(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="nsfw")

    def test_a_failed_request_carries_higgsfields_error(self, fake):
        self.failure(fake, "failed_job", ProviderUnavailableError, match="failed: Generation fail message")

    def test_a_5xx_while_polling_is_polled_through_as_the_sdk_does(self, fake):
        fake.scenario = "flaky_status"
        assert len(self.run(fake).images) == 1

    def test_403_is_not_enough_credits_as_the_sdk_reads_it(self, fake):
        self.failure(fake, "insufficient_credit", InsufficientCreditError, match="Not enough credits")

    def test_validation_details_reach_the_message(self, fake):
        error = self.failure(fake, "invalid", InvalidRequestError, match="Input should be '1:1'")
        assert error.status == 422

    def test_an_unknown_model_path_says_what_to_check(self, fake):
        env = {**self.env(fake), "HIGGSFIELD_MODEL_PATHS": "openai/nope"}
        provider = self.module.routes(env)[0].build(
            client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(InvalidRequestError, match="model path"):
            provider.generate(self.request())

    def test_a_rate_limit_carries_retry_after(self, fake):
        error = self.failure(fake, "rate_limit", RateLimitError)
        assert error.retry_after == 7.0

    def test_a_request_still_queued_at_our_deadline_is_cancelled_at_higgsfield(self, fake):
        fake.scenario = "stuck"
        provider = self.provider(fake)
        now = [0.0]
        provider.clock = lambda: now[0]
        provider.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
        with pytest.raises(ProviderTimeoutError):
            provider.generate(self.request())
        cancels = [call for call in fake.calls if call["path"].endswith("/cancel")]
        assert len(cancels) == 1 and cancels[0]["method"] == "POST"
        assert cancels[0]["headers"]["authorization"] == f"Key {KEY_ID}:{SECRET}"
        assert list(fake.requests.values())[0]["status"] == "canceled"

    def test_status_and_cancel_urls_on_another_host_are_not_trusted_with_the_key(self):
        sent = []

        def handle(request):
            sent.append(str(request.url))
            if request.method == "POST":
                return httpx.Response(200, json={"status": "queued", "request_id": "r",
                                                 "status_url": "https://elsewhere.example/requests/r/status",
                                                 "cancel_url": "https://elsewhere.example/requests/r/cancel"})
            return httpx.Response(200, json={"status": "nsfw", "request_id": "r"})

        with pytest.raises(ContentPolicyError):
            runner.execute(self.provider_answering(handle), self.request())
        assert len(sent) == 2 and sent[1].endswith("/requests/r/status")
        assert not any("elsewhere.example" in url for url in sent)

    def test_the_public_platform_is_the_default_and_higgsfield_base_url_overrides_it(self):
        env = {"HF_API_KEY": KEY_ID, "HF_API_SECRET": SECRET, "HIGGSFIELD_MODEL_PATHS": PATH}
        assert self.route(env).build(env=env).base_url == "https://platform.higgsfield.ai"
        assert self.route(env).build(env={**env, "HIGGSFIELD_BASE_URL": BASE + "/"}).base_url == BASE

    def test_the_fake_speaks_the_protocol_over_loopback(self, fake):
        result = run_over_loopback(fake, self.route, lambda url: {**self.env(fake), "HIGGSFIELD_BASE_URL": url},
                                   self.request(width=1024, height=1536))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert [c["path"] for c in fake.calls if c["method"] == "GET"][-1] == f"/requests/{result.request_id}/status"

    # --- edits: not offered -----------------------------------------------------------------

    def test_edits_are_not_declared_because_no_reference_image_field_is_documented(self, fake):
        capabilities = self.route(self.env(fake)).capabilities
        assert not capabilities.edit and not capabilities.mask
        reference = InputImage(data=image_bytes(), filename="fox.png", url="https://app.example/media/fox.png")
        assert capabilities.problems(self.request(images=(reference,))) == ["edits with reference images"]

    def test_an_edit_reaching_the_adapter_is_refused_not_sent_as_a_generation(self, fake):
        reference = InputImage(data=image_bytes(), filename="fox.png", url="https://app.example/media/fox.png")
        with pytest.raises(InvalidRequestError, match="Edits are not offered on Higgsfield routes"):
            self.provider(fake).generate(self.request(images=(reference,)))
        assert fake.calls == []
