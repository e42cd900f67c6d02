"""Every answer the project's fakes give, checked against the provider's own published schema
(tests/conformance/specs): a fake that drifts from the spec would let an adapter's misreading
pass twice."""

import httpx
import pytest

from providers import apiframe, azure, fal, openai, openai_batch, openrouter, replicate, wavespeed
from providers.base import ImageRequest, InputImage
from providers.testing.apiframe import FakeApiframe
from providers.testing.azure import FakeAzureOpenAI
from providers.testing.fal import FakeFal
from providers.testing.openai import FakeOpenAI
from providers.testing.openai_batch import FakeOpenAIBatch
from providers.testing.openrouter import SPEC_RATIOS, FakeOpenRouter
from providers.testing.replicate import FakeReplicate
from providers.testing.wavespeed import FakeWaveSpeed

from tests.conformance import spec
from tests.helpers import FakeClock, image_bytes

LINK = "https://compare.example.com/inputs/signed-token"


def answers(fake, route, env, requests, *, method="generate"):
    """Run ``requests`` through ``route`` against ``fake``; every (request, JSON answer) it gave."""
    seen = []

    def handle(request):
        response = fake.handle(request)
        if response.headers.get("content-type", "").startswith("application/json"):
            seen.append((request, response.json()))
        return response

    provider = route.build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=env)
    clock = FakeClock()
    provider.clock, provider.sleep = clock, clock.sleep
    for request in requests:
        getattr(provider, method)(request)
    assert seen
    return seen


def conform(extract, schema, found):
    failures = [f"{request.method} {request.url.path}: {problem}"
                for request, body in found for problem in spec.problems(extract, schema, body)]
    assert failures == []


def requests(*sizes, edit=False, **fields):
    images = (InputImage(data=image_bytes(), url=LINK),) if edit else ()
    return [ImageRequest(prompt="a red fox in fresh snow", width=w, height=h, images=images, **fields)
            for w, h in sizes]


def test_the_openai_fake_answers_images_response_with_output_token_details():
    fake = FakeOpenAI(text_output_tokens=40)
    route = openai.routes({})[0]
    env = {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": "https://fake-openai.test/v1"}
    found = answers(fake, route, env, requests((1024, 1024), (1600, 896), quality="low", output_format="webp", n=2)
                    + requests((1024, 1536), edit=True, quality="high"))
    conform("openai/images.json", "ImagesResponse", found)
    assert all(body["usage"]["output_tokens_details"]["text_tokens"] == 40 for _, body in found)


def test_the_openai_batch_fake_answers_batch_objects():
    fake = FakeOpenAIBatch()
    route = openai_batch.routes({})[0]
    env = {"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": "https://fake-openai.test/v1"}
    found = answers(fake, route, env, requests((1024, 1024)))
    batches = [(request, body) for request, body in found if "/batches" in request.url.path]
    assert batches
    conform("openai/images.json", "Batch", batches)


@pytest.mark.parametrize("image_mode, scenario", [("b64_json", None), ("url", None), ("b64_json", "byok"),
                                                  ("b64_json", "no_cost")])
def test_the_openrouter_fake_answers_image_generation_response(image_mode, scenario):
    fake = FakeOpenRouter(image_mode=image_mode, scenario=scenario)
    env = {"OPENROUTER_API_KEY": fake.api_key, "OPENROUTER_BASE_URL": "https://fake-openrouter.test/api/v1",
           "OPENROUTER_MODELS": "google/gemini-2.5-flash-image"}
    built_in, custom = openrouter.routes(env)
    found = answers(fake, built_in, env, requests((1024, 1024), (1600, 896), n=2) + requests((1536, 1024), edit=True))
    found += answers(fake, custom, env, requests((2048, 1024)))
    conform("openrouter/images.json", "ImageGenerationResponse", found)


def test_the_openrouter_fake_takes_every_ratio_of_the_spec():
    fake = FakeOpenRouter()
    enum = spec.document("openrouter/images.json")["components"]["schemas"]["ImageGenerationRequest"]["properties"][
        "aspect_ratio"]["enum"]
    assert set(SPEC_RATIOS) | {"auto"} == set(enum)
    for ratio in enum:
        answer = fake.handle(httpx.Request("POST", "https://fake-openrouter.test/api/v1/images",
                                           headers={"authorization": f"Bearer {fake.api_key}"},
                                           json={"model": "openai/gpt-image-2", "prompt": "p", "aspect_ratio": ratio}))
        assert answer.status_code == 200, (ratio, answer.text)


def test_the_azure_fake_answers_generate_images_response():
    fake = FakeAzureOpenAI()
    route = azure.routes({"AZURE_OPENAI_DEPLOYMENT": "gpt-image-2"})[0]
    env = {"AZURE_OPENAI_API_KEY": fake.api_key, "AZURE_OPENAI_ENDPOINT": "https://myres.openai.azure.com"}
    found = answers(fake, route, env, requests((1024, 1024), (1536, 1024), output_format="jpeg")
                    + requests((1024, 1536), edit=True))
    conform("azure/2025-04-01-preview-images.json", "generateImagesResponse", found)


def test_the_fal_fake_answers_queue_statuses_and_gpt_image_2_output():
    fake = FakeFal()
    route = fal.routes({})[0]
    found = answers(fake, route, {"FAL_KEY": fake.api_key, "FAL_QUEUE_BASE_URL": "https://queue.fal.test"},
                    requests((1024, 1024), (1600, 896)) + requests((1024, 1536), edit=True))
    statuses = [(r, body) for r, body in found if r.url.path.endswith("/status")]
    results = [(r, body) for r, body in found if r.method == "GET" and not r.url.path.endswith("/status")]
    assert {body["status"] for _, body in statuses} == {"IN_QUEUE", "IN_PROGRESS", "COMPLETED"} and results
    conform("fal/gpt-image-2.json", "QueueStatus", statuses)
    conform("fal/gpt-image-2.json", "GptImage2Output", results)


def test_the_apiframe_fake_answers_job_accepted_and_jobs():
    fake = FakeApiframe()
    route = apiframe.routes({})[0]
    found = answers(fake, route, {"APIFRAME_API_KEY": fake.api_key, "APIFRAME_BASE_URL": "https://fake-apiframe.test/v2"},
                    requests((1024, 1024), quality="high") + requests((1536, 1024), edit=True))
    conform("apiframe/jobs.json", "JobAccepted", [(r, body) for r, body in found if r.method == "POST"])
    conform("apiframe/jobs.json", "Job", [(r, body) for r, body in found if r.method == "GET"])


def test_the_replicate_fake_answers_predictions_with_documented_statuses():
    fake = FakeReplicate()
    route = replicate.routes({})[0]
    found = answers(fake, route, {"REPLICATE_API_TOKEN": fake.api_token,
                                  "REPLICATE_BASE_URL": "https://fake-replicate.test/v1"}, requests((1024, 1024)))
    predictions = [(r, body) for r, body in found if "/predictions" in r.url.path]
    assert predictions
    conform("replicate/prediction.json", "Prediction", predictions)


def test_the_wavespeed_fake_uses_only_statuses_wavespeeds_client_knows():
    fake = FakeWaveSpeed()
    route = wavespeed.routes({})[0]
    found = answers(fake, route, {"WAVESPEED_API_KEY": fake.api_key, "WAVESPEED_BASE_URL": "https://fake-wavespeed.test/api/v3"},
                    requests((1024, 1024)))
    known = {status for statuses in spec.statuses("wavespeed/statuses.json").values() for status in statuses}
    # "created" is the submit answer's status in WaveSpeed's API docs (providers.md 11), not in the client.
    used = {body["data"]["status"] for _, body in found}
    assert used - known <= {"created"} and "completed" in used
