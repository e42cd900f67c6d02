import io

import httpx
import pytest
from PIL import Image

from providers import apipass, kie, runner
from providers.base import AuthenticationError, InputImage, InsufficientCreditError, InvalidRequestError
from providers.testing.kie import GENERATION_MS, FakeKie

from tests.helpers import image_bytes
from tests.providers.contract import ProviderContract

BASE = "https://fake-apipass.test/api/v1"
KEY = "apipass-test-key-77d2"
LINK = "https://compare.example.com/inputs/eyJwayI6N30:1uSig:SiGnEdPaRt"


def apipass_fake(**changes):
    """APIPass as providers.md 13 describes it: Kie's API, states without "waiting", resultJson an object."""
    return FakeKie(api_key=KEY, result_as="object", states=("queuing", "generating", "success"), **changes)


class TestAPIPass(ProviderContract):
    module = apipass
    route_key = "apipass:gpt-image-2"
    reports_cost = False
    secret = KEY

    def make_fake(self):
        return apipass_fake()

    def env(self, fake):
        return {"APIPASS_API_KEY": KEY, "APIPASS_BASE_URL": BASE}

    def quality_sent(self, fake):
        return fake.calls[0]["json"]["input"].get("quality")

    # Replaces the contract's check: the Kie-compatible input has no quality field (providers.md 9, 13).
    def test_contract_quality_is_sent_explicitly(self, fake):
        result = self.run(fake, quality="medium")
        assert self.quality_sent(fake) is None
        assert "quality medium cannot be set on this route: APIPass has no quality option for GPT Image 2, " \
               "so none was sent and the provider chose" in result.notes

    def test_it_posts_kies_body_to_apipass_with_bearer_auth(self, fake):
        self.run(fake, width=1024, height=1536)
        create = fake.calls[0]
        assert (create["method"], create["path"]) == ("POST", "/api/v1/jobs/createTask")
        assert create["headers"]["authorization"] == f"Bearer {KEY}"
        assert create["json"] == {"model": "gpt-image-2-text-to-image",
                                  "input": {"prompt": "a red fox in fresh snow", "aspect_ratio": "2:3", "resolution": "1K"}}

    def test_it_polls_until_success_and_reads_resultjson_as_an_object(self, fake):
        result = self.run(fake)
        polls = [c for c in fake.calls if c["path"] == "/api/v1/jobs/recordInfo"]
        assert len(polls) == 3 and {p["query"]["taskId"] for p in polls} == {result.request_id}
        assert result.images[0].url.startswith("https://fake-apipass.test/files/")
        assert result.timings.provider_generation_ms == GENERATION_MS

    def test_a_string_resultjson_is_read_too(self, fake):
        fake.result_as = "string"
        assert len(self.run(fake).images) == 1

    def test_apipass_model_overrides_the_inferred_model_id(self, fake):
        env = {**self.env(fake), "APIPASS_MODEL": "openai/gpt-image-2"}
        provider = self.route(env).build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(InvalidRequestError, match="not supported"):  # the fake knows Kie's ids only
            provider.generate(self.request())
        assert fake.calls[-1]["json"]["model"] == "openai/gpt-image-2"

    @pytest.mark.parametrize("scenario,kind", [("auth", AuthenticationError),
                                               ("insufficient_credit", InsufficientCreditError)])
    def test_errors_in_http_200_bodies_are_errors_named_after_apipass(self, fake, scenario, kind):
        error = self.failure(fake, scenario, kind)
        assert error.message.startswith("APIPass code ")

    def test_it_shares_kies_capabilities_and_has_its_own_credentials_and_url(self):
        route = self.route({})
        assert route.capabilities is kie.CAPABILITIES
        assert route.missing_credentials({"KIE_API_KEY": "x"}) == ["APIPASS_API_KEY"]
        assert route.build(env={"APIPASS_API_KEY": KEY}).base_url == "https://api.apipass.dev/api/v1"
        assert route.build(env={"APIPASS_API_KEY": KEY, "APIPASS_BASE_URL": BASE}).base_url == BASE

    # --- edits (Kie's image-to-image model, assumed on APIPass) -------------------------------

    def edit(self, url=LINK):
        return self.request(width=1024, height=1536, images=(InputImage(image_bytes(), url=url),))

    def test_an_edit_posts_kies_image_to_image_body_with_the_reference_url(self, fake):
        result = runner.execute(self.provider(fake), self.edit(), allow_private_urls=True)
        assert fake.calls[0]["json"] == {"model": "gpt-image-2-image-to-image",
                                         "input": {"prompt": "a red fox in fresh snow", "aspect_ratio": "2:3",
                                                   "resolution": "1K", "input_urls": [LINK]}}
        assert fake.input_urls == [[LINK]]
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert "SiGnEdPaRt" not in repr(result.request_sent)

    def test_apipass_edit_model_overrides_the_inferred_edit_model_id(self, fake):
        env = {**self.env(fake), "APIPASS_EDIT_MODEL": "gpt-image-2-edit"}
        provider = self.route(env).build(client=httpx.Client(transport=httpx.MockTransport(fake.handle)), env=env)
        with pytest.raises(InvalidRequestError, match="not supported"):  # the fake knows Kie's ids only
            provider.generate(self.edit())
        assert fake.calls[-1]["json"]["model"] == "gpt-image-2-edit"
        assert self.route(env).model == "gpt-image-2-text-to-image"  # text-to-image keeps its own id

    def test_an_edit_without_a_public_link_is_refused_in_apipass_words(self, fake):
        with pytest.raises(InvalidRequestError, match="APIPass fetches reference images by URL.*SITE_URL"):
            self.run(fake, images=(InputImage(image_bytes()),))
        assert fake.calls == []
