import io

import httpx
import pytest
from PIL import Image

from providers import kie, runner
from providers.base import (
    AuthenticationError, BadResponseError, ContentPolicyError, InputImage, InsufficientCreditError,
    InvalidRequestError, ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)
from providers.testing.kie import GENERATION_MS, FakeKie

from tests.helpers import FakeClock, image_bytes, run_over_loopback
from tests.providers.contract import ProviderContract

BASE = "https://fake-kie.test/api/v1"
KEY = "kie-test-key-4f1c9a"
SIGNED = "https://compare.example.com/inputs/eyJwayI6MX0:1uSig:SeCrEtSiGnAtUrE"


def reference(index=0, url=True, **changes):
    """A reference image as the app hands it over: bytes plus an expiring public link."""
    data = image_bytes(64 + index, 48)
    return InputImage(data=data, filename=f"image-{index}.png", url=f"{SIGNED}{index}" if url else None, **changes)


class TestKie(ProviderContract):
    module = kie
    route_key = "kie:gpt-image-2"
    reports_cost = False
    secret = KEY

    def make_fake(self):
        return FakeKie(api_key=KEY)

    def env(self, fake):
        return {"KIE_API_KEY": KEY, "KIE_BASE_URL": BASE}

    def quality_sent(self, fake):
        return self.creates(fake)[-1]["json"]["input"].get("quality")

    def creates(self, fake):
        return [c for c in fake.calls if c["path"] == "/api/v1/jobs/createTask"]

    def polls(self, fake):
        return [c for c in fake.calls if c["path"] == "/api/v1/jobs/recordInfo"]

    # Replaces the contract's check: this route has no quality field to send (providers.md 9).
    def test_contract_quality_is_sent_explicitly(self, fake):
        result = self.run(fake, quality="medium")
        assert self.quality_sent(fake) is None
        assert "quality" not in self.creates(fake)[-1]["json"]
        assert any(note.startswith("quality medium cannot be set on this route") for note in result.notes)

    def test_it_posts_the_documented_body_with_bearer_auth(self, fake):
        self.run(fake, width=1536, height=1024, quality="high", output_format="png")
        call = self.creates(fake)[-1]
        assert call["method"] == "POST"
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert call["json"] == {"model": "gpt-image-2-text-to-image",
                                "input": {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2", "resolution": "1K"}}

    def test_it_polls_record_info_with_the_task_id_until_success_and_keeps_kies_timing(self, fake):
        result = self.run(fake)
        polls = self.polls(fake)
        assert [p["method"] for p in polls] == ["GET"] * 4  # waiting, queuing, generating, success
        assert {p["query"]["taskId"] for p in polls} == {result.request_id}
        assert all(p["headers"]["authorization"] == f"Bearer {KEY}" for p in polls)
        assert result.timings.provider_generation_ms == GENERATION_MS
        assert result.timings.provider_queue_ms is None
        assert result.request_sent == {"method": "POST", "url": f"{BASE}/jobs/createTask",
                                       "json": self.creates(fake)[-1]["json"]}
        assert result.usage is None

    def test_polling_starts_at_3_seconds_and_grows_to_8(self, fake):
        fake.states = ("waiting",) * 3 + ("queuing",) * 2 + ("generating",) * 2 + ("success",)
        provider, clock = self.provider(fake), FakeClock()
        provider.clock, provider.sleep = clock, clock.sleep
        runner.execute(provider, self.request(), allow_private_urls=True)
        assert [round(s, 3) for s in clock.slept] == [3.0, 4.5, 6.75, 8.0, 8.0, 8.0, 8.0]

    def test_at_the_deadline_it_stops_waiting_and_says_kie_cannot_cancel(self, fake):
        fake.scenario = "stuck"
        provider, clock = self.provider(fake), FakeClock()
        provider.clock, provider.sleep, provider.deadline = clock, clock.sleep, 30
        with pytest.raises(ProviderTimeoutError) as caught:
            provider.generate(self.request())
        assert caught.value.retryable
        assert "no cancel" in caught.value.message and "billed" in caught.value.message
        assert sum(clock.slept) == pytest.approx(30)
        assert {c["path"] for c in fake.calls} == {"/api/v1/jobs/createTask", "/api/v1/jobs/recordInfo"}

    @pytest.mark.parametrize("result_as", ["string", "object"])
    def test_result_json_is_read_as_a_string_or_an_object(self, fake, result_as):
        fake.result_as = result_as
        result = self.run(fake)
        assert result.images[0].url.startswith("https://fake-kie.test/files/")
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)

    @pytest.mark.parametrize("size,ratio,tier", [((2048, 1152), "16:9", "2K"), ((3840, 2160), "16:9", "4K"),
                                                 ((1024, 1536), "2:3", "1K"), ((1536, 2048), "3:4", "2K")])
    def test_an_exact_ratio_is_sent_with_the_tier_of_its_long_edge_and_no_size_note(self, fake, size, ratio, tier):
        result = self.run(fake, width=size[0], height=size[1], quality="auto")
        sent = self.creates(fake)[-1]["json"]["input"]
        assert (sent["aspect_ratio"], sent["resolution"]) == (ratio, tier)
        assert result.notes == ()

    def test_a_size_without_an_exact_ratio_is_snapped_and_noted(self, fake):
        result = self.run(fake, width=1920, height=1088, quality="auto")
        assert self.creates(fake)[-1]["json"]["input"]["aspect_ratio"] == "16:9"
        assert self.creates(fake)[-1]["json"]["input"]["resolution"] == "2K"
        assert result.notes == ("size 1920x1088 has no matching aspect ratio on Kie.ai: sent aspect_ratio 16:9 "
                                "(the provider picks the pixels)",)

    def test_a_4_5_portrait_is_snapped_to_3_4_because_4_5_is_not_offered(self, fake):
        result = self.run(fake, width=1024, height=1280)
        assert self.creates(fake)[-1]["json"]["input"]["aspect_ratio"] == "3:4"
        assert any("sent aspect_ratio 3:4" in note for note in result.notes)

    def test_a_4k_square_is_sent_at_2k_with_a_note(self, fake):
        result = self.run(fake, width=2880, height=2880, quality="auto")
        assert self.creates(fake)[-1]["json"]["input"] == {"prompt": "a red fox in fresh snow", "aspect_ratio": "1:1",
                                                            "resolution": "2K"}
        assert result.notes == ("size 2880x2880 is in the 4K tier, which Kie.ai does not offer for 1:1: sent resolution 2K",)

    def test_auto_quality_needs_no_note_because_kie_chooses_anyway(self, fake):
        assert self.run(fake, quality="auto").notes == ()

    def test_a_format_kie_does_not_return_is_noted_and_png_is_not(self, fake):
        assert not any("output format" in n for n in self.run(fake, output_format="png").notes)
        notes = self.run(fake, output_format="webp").notes
        assert "output format webp cannot be chosen on this route: Kie.ai has no format option (none was sent); " \
               "it returned png" in notes
        assert all("output_format" not in c["json"]["input"] for c in self.creates(fake))

    def test_n_images_are_n_tasks_polled_together(self, fake):
        result = self.run(fake, n=3)
        creates = self.creates(fake)
        assert len(creates) == 3 and all(c["json"] == creates[0]["json"] for c in creates)
        assert len(result.images) == 3 and len(set(result.request_id.split(","))) == 3
        assert {p["query"]["taskId"] for p in self.polls(fake)} == set(result.request_id.split(","))
        assert result.request_sent["times"] == 3
        assert "n=3: Kie.ai makes one image per task, so 3 tasks were submitted (each billed as one image)" in result.notes

    @pytest.mark.parametrize("http_errors", [False, True])
    @pytest.mark.parametrize("scenario,kind,retryable", [
        ("auth", AuthenticationError, False), ("insufficient_credit", InsufficientCreditError, False),
        ("invalid", InvalidRequestError, False), ("rate_limit", RateLimitError, True),
        ("maintenance", ProviderUnavailableError, True), ("server", ProviderUnavailableError, True)])
    def test_kies_codes_map_whether_in_the_body_of_http_200_or_in_the_status(self, fake, scenario, kind, retryable,
                                                                               http_errors):
        fake.scenario, fake.http_errors = scenario, http_errors
        with pytest.raises(kind) as caught:
            self.run(fake)
        assert caught.value.retryable is retryable
        assert caught.value.message.startswith(f"Kie.ai code {caught.value.status}: ")
        assert KEY not in caught.value.message
        assert self.polls(fake) == []  # it never polls a task that was not created

    def test_a_wrong_key_is_an_authentication_error_in_kies_words(self, fake):
        fake.api_key = "another-key"
        with pytest.raises(AuthenticationError, match="You do not have access permissions"):
            self.run(fake)

    def test_a_failed_task_is_a_retryable_generation_failure_with_kies_message(self, fake):
        error = self.failure(fake, "failed_job", ProviderUnavailableError)
        assert error.retryable and "failCode 501" in error.message
        assert "Generation failed, please try again later" in error.message

    def test_a_flagged_prompt_fails_the_task_as_a_content_policy_refusal(self, fake):
        self.failure(fake, "policy", ContentPolicyError, match="violating content policies")

    def test_a_gateway_error_page_maps_by_http_status(self):
        provider = self.provider_answering(lambda r: httpx.Response(502, text="<html>Bad gateway</html>"))
        with pytest.raises(ProviderUnavailableError, match="502"):
            provider.generate(self.request())

    @pytest.mark.parametrize("answer", [{"code": 200, "msg": "success", "data": None},
                                        {"code": 200, "msg": "success", "data": {}}])
    def test_a_create_answer_without_a_task_id_fails_at_once(self, answer):
        calls = []

        def handle(request):
            calls.append(request)
            return httpx.Response(200, json=answer)

        provider = self.provider_answering(handle)
        with pytest.raises(BadResponseError, match="no taskId"):
            provider.generate(self.request())
        assert len(calls) == 1

    @pytest.mark.parametrize("result_json", ["{not json", "{}", '{"resultUrls": []}'])
    def test_a_success_without_usable_result_urls_is_a_bad_response(self, result_json):
        def handle(request):
            if request.url.path.endswith("/createTask"):
                return httpx.Response(200, json={"code": 200, "msg": "success", "data": {"taskId": "t1"}})
            return httpx.Response(200, json={"code": 200, "msg": "success",
                                             "data": {"taskId": "t1", "state": "success", "resultJson": result_json}})

        provider = self.provider_answering(handle)
        with pytest.raises(BadResponseError):
            provider.generate(self.request())

    def test_capabilities_admit_every_quality_and_format_but_cap_n_and_the_prompt(self):
        capabilities = self.route({}).capabilities
        assert capabilities.problems(self.request(quality="low", output_format="webp", width=1920, height=1088)) == []
        assert capabilities.problems(self.request(n=5)) == ["n=5: at most 4 image(s) per call"]
        assert capabilities.prompt_limit == 20_000

    def test_the_public_base_url_is_the_default_and_kie_base_url_overrides_it(self):
        route = self.route({})
        assert route.build(env={"KIE_API_KEY": KEY}).base_url == "https://api.kie.ai/api/v1"
        assert route.build(env={"KIE_API_KEY": KEY, "KIE_BASE_URL": BASE + "/"}).base_url == BASE
        assert route.missing_credentials({}) == ["KIE_API_KEY"]

    def test_the_fake_speaks_the_protocol_over_loopback(self):
        fake = FakeKie(api_key=KEY)
        result = run_over_loopback(fake, self.route, lambda url: {"KIE_API_KEY": KEY, "KIE_BASE_URL": f"{url}/api/v1"},
                                   self.request(width=1024, height=1536))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)
        assert result.timings.download_ms is not None

    # --- edits --------------------------------------------------------------------------------

    def test_an_edit_creates_an_image_to_image_task_with_the_reference_urls(self, fake):
        images = (reference(0), reference(1))
        result = self.run(fake, width=1536, height=1024, quality="auto", images=images)
        create = self.creates(fake)[-1]
        assert create["json"] == {"model": "gpt-image-2-image-to-image",
                                  "input": {"prompt": "a red fox in fresh snow", "aspect_ratio": "3:2", "resolution": "1K",
                                            "input_urls": [f"{SIGNED}0", f"{SIGNED}1"]}}
        assert fake.input_urls == [[f"{SIGNED}0", f"{SIGNED}1"]]
        assert result.notes == ()

    def test_an_edit_runs_through_the_runner_and_its_image_decodes_at_the_size_asked(self, fake):
        result = self.run(fake, width=1024, height=1536, images=(reference(),))
        assert len(result.images) == 1
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1536)

    def test_what_we_keep_of_an_edit_elides_the_signed_links_and_holds_no_bytes(self, fake):
        image = reference()
        result = self.run(fake, images=(image,))
        kept = repr(result.request_sent)
        assert "SeCrEtSiGnAtUrE" not in kept and KEY not in kept
        assert result.request_sent["json"]["input"]["input_urls"] == [f"https://compare.example.com/inputs/{image.url.rsplit('/', 1)[1][:6]}... (image/png, {len(image.data)} bytes)"]
        assert result.request_sent["json"]["model"] == "gpt-image-2-image-to-image"

    def test_n_edits_are_n_image_to_image_tasks_with_the_same_urls(self, fake):
        result = self.run(fake, n=2, images=(reference(),))
        assert [c["json"]["input"]["input_urls"] for c in self.creates(fake)] == [[f"{SIGNED}0"]] * 2
        assert len(result.images) == 2

    def test_edit_capabilities_are_url_only_without_a_mask_and_at_most_16_images(self):
        capabilities = self.route({}).capabilities
        assert (capabilities.edit, capabilities.mask, capabilities.max_input_images,
                capabilities.edit_needs_public_url) == (True, False, 16, True)
        assert capabilities.problems(self.request(images=tuple(reference(i) for i in range(16)))) == []
        assert capabilities.problems(self.request(images=tuple(reference(i) for i in range(17)))) == [
            "17 reference images: at most 16"]
        assert capabilities.problems(self.request(images=(reference(),), mask=reference(9))) == ["a mask"]

    @pytest.mark.parametrize("changes,match", [
        ({"images": (reference(0), reference(1, url=False))}, r"image-1\.png has no public link: set SITE_URL"),
        ({"images": (reference(),), "mask": reference(9)}, "takes no mask"),
        ({"images": tuple(reference(i) for i in range(17))}, "at most 16 reference images; 17 were given"),
        ({"images": (InputImage(b"x", url="data:image/png;base64,eA=="),)}, "needs http\\(s\\) links"),
    ])
    def test_an_edit_kie_cannot_take_is_refused_before_any_call(self, fake, changes, match):
        with pytest.raises(InvalidRequestError, match=match) as caught:
            self.run(fake, **changes)
        assert not caught.value.retryable
        assert fake.calls == []

    def test_a_reference_image_kie_cannot_download_fails_the_task_as_an_invalid_request(self, fake):
        error = self.failure(fake, "unfetchable_input", InvalidRequestError, images=(reference(),))
        assert not error.retryable
        assert "failCode 422" in error.message and "could not be downloaded" in error.message

    def test_the_fake_refuses_an_image_to_image_task_without_input_urls(self, fake):
        provider = self.provider(fake)
        response = provider.client.post(f"{BASE}/jobs/createTask", headers={"Authorization": f"Bearer {KEY}"},
                                        json={"model": "gpt-image-2-image-to-image", "input": {"prompt": "x"}})
        assert response.json() == {"code": 422, "msg": "input.input_urls is required", "data": None}

    def test_an_edit_works_against_the_fake_over_real_loopback_http(self):
        fake = FakeKie(api_key=KEY)
        result = run_over_loopback(fake, self.route, lambda url: {"KIE_API_KEY": KEY, "KIE_BASE_URL": f"{url}/api/v1"},
                                   self.request(images=(reference(),)))
        assert Image.open(io.BytesIO(result.images[0].data)).size == (1024, 1024)
        assert fake.input_urls == [[f"{SIGNED}0"]]
