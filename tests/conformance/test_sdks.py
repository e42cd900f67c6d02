"""Our wire output next to the official Python SDKs' (openai, replicate; pinned in
requirements-dev.txt) for the same inputs, both captured through a mock transport with no
network: the same method, path, query, auth header, JSON body or multipart fields and file parts.
The SDKs also parse the fakes' answers with their own response models."""

import io
import json

import httpx
import httpx2
import openai as openai_sdk
import pytest
import replicate as replicate_sdk
from PIL import Image

from providers import azure, openai, openai_batch, replicate
from providers.base import ImageRequest, InputImage
from providers.testing.azure import FakeAzureOpenAI
from providers.testing.openai import FakeOpenAI, is_multipart, read_multipart
from providers.testing.openai_batch import FakeOpenAIBatch
from providers.testing.replicate import FakeReplicate

from tests.helpers import FakeClock, image_bytes

KEY = "sk-test-key"
BASE = "https://fake-openai.test/v1"
AZURE = "https://myres.openai.azure.com"


def wire(request):
    """What matters of a request on the wire, the same for httpx and httpx2 requests."""
    content = request.read() if hasattr(request, "read") else request.content
    plain = httpx.Request(request.method, str(request.url), headers=dict(request.headers), content=content)
    shown = {"method": plain.method, "path": plain.url.path, "query": dict(plain.url.params),
             "authorization": plain.headers.get("authorization"), "api-key": plain.headers.get("api-key"),
             "prefer": plain.headers.get("prefer"),
             "content-type": plain.headers.get("content-type", "").split(";")[0] or None}
    if is_multipart(plain):
        form, files = read_multipart(plain)
        shown["form"] = form
        shown["files"] = [(part["field"], part["filename"], part["content_type"], part["data"]) for part in files]
    elif content:
        shown["json"] = json.loads(content)
    return shown


def ours(route, env, request, fake, method="generate"):
    """The requests our adapter sends for ``request``, answered by ``fake``."""
    sent = []

    def handle(outgoing):
        sent.append(wire(outgoing))
        return fake.handle(outgoing)

    provider = route.build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=env)
    clock = FakeClock()
    provider.clock, provider.sleep = clock, clock.sleep
    getattr(provider, method)(request)
    return sent


def sdk_transport(fake, sent):
    """An httpx2 transport (the openai SDK's) that records each request and lets ``fake`` answer."""
    def handle(outgoing):
        sent.append(wire(outgoing))
        content = outgoing.read()
        answer = fake.handle(httpx.Request(outgoing.method, str(outgoing.url), headers=dict(outgoing.headers),
                                           content=content))
        return httpx2.Response(answer.status_code, headers=dict(answer.headers), content=answer.read())
    return httpx2.MockTransport(handle)


REQUESTS = [ImageRequest(prompt="a red fox in fresh snow", width=w, height=h, quality=q, output_format=f, n=n)
            for (w, h), q, f, n in [((1024, 1024), "auto", "png", 1), ((1536, 1024), "high", "webp", 2),
                                    ((1600, 896), "low", "jpeg", 4), ((1024, 1536), "medium", "png", 10)]]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r.size}-{r.quality}-{r.output_format}-n{r.n}")
def test_openai_generations_go_out_as_the_openai_sdk_sends_them(request_):
    fake, sdk_sent = FakeOpenAI(api_key=KEY), []
    ours_sent = ours(openai.routes({})[0], {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": BASE}, request_, fake)
    client = openai_sdk.OpenAI(api_key=KEY, base_url=BASE, max_retries=0,
                               http_client=httpx2.Client(transport=sdk_transport(fake, sdk_sent)))
    answer = client.images.generate(model="gpt-image-2", prompt=request_.prompt, n=request_.n, size=request_.size,
                                    quality=request_.quality, output_format=request_.output_format)
    assert ours_sent == sdk_sent
    assert len(answer.data) == request_.n and answer.usage.output_tokens_details.image_tokens > 0


@pytest.mark.parametrize("count, with_mask", [(1, False), (1, True), (3, True)])
def test_openai_edits_go_out_as_the_openai_sdk_sends_them(count, with_mask):
    fake, sdk_sent = FakeOpenAI(api_key=KEY), []
    images = tuple(InputImage(data=image_bytes(64, 48, colour=(10 * i, 40, 40)), filename=f"image-{i}.png")
                   for i in range(count))
    mask = InputImage(data=_mask_png(), filename="mask.png") if with_mask else None
    request = ImageRequest(prompt="add a hat", width=1024, height=1536, quality="high", output_format="png",
                           n=1, images=images, mask=mask)
    ours_sent = ours(openai.routes({})[0], {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": BASE}, request, fake)
    client = openai_sdk.OpenAI(api_key=KEY, base_url=BASE, max_retries=0,
                               http_client=httpx2.Client(transport=sdk_transport(fake, sdk_sent)))
    files = [(image.filename, image.data, image.mime) for image in images]
    extra = {"mask": (mask.filename, mask.data, mask.mime)} if mask else {}
    client.images.edit(model="gpt-image-2", image=files if count > 1 else files[0], prompt=request.prompt,
                       n=1, size=request.size, quality="high", output_format="png", **extra)
    assert ours_sent == sdk_sent


def test_azure_deployment_calls_go_out_as_the_sdks_azure_client_sends_them():
    fake, sdk_sent = FakeAzureOpenAI(api_key="azure-test-key"), []
    request = ImageRequest(prompt="a red fox in fresh snow", width=1536, height=1024, quality="high",
                           output_format="jpeg", n=2)
    route = azure.routes({"AZURE_OPENAI_DEPLOYMENT": "gpt-image-2"})[0]
    ours_sent = ours(route, {"AZURE_OPENAI_API_KEY": "azure-test-key", "AZURE_OPENAI_ENDPOINT": AZURE}, request, fake)
    client = openai_sdk.AzureOpenAI(api_key="azure-test-key", azure_endpoint=AZURE, api_version=azure.DEFAULT_API_VERSION,
                                    max_retries=0, http_client=httpx2.Client(transport=sdk_transport(fake, sdk_sent)))
    client.images.generate(model="gpt-image-2", prompt=request.prompt, n=2, size="1536x1024", quality="high",
                           output_format="jpeg")
    assert ours_sent == sdk_sent


def test_a_batch_is_uploaded_and_created_as_the_openai_sdk_does():
    fake, sdk_sent = FakeOpenAIBatch(api_key=KEY), []
    request = ImageRequest(prompt="a red fox in fresh snow", quality="low")
    route = openai_batch.routes({})[0]
    ours_sent = ours(route, {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": BASE}, request, fake, method="submit")
    upload = ours_sent[0]["files"][0]
    client = openai_sdk.OpenAI(api_key=KEY, base_url=BASE, max_retries=0,
                               http_client=httpx2.Client(transport=sdk_transport(fake, sdk_sent)))
    field, filename, content_type, data = upload
    uploaded = client.files.create(file=(filename, data, content_type), purpose="batch")
    client.batches.create(input_file_id=uploaded.id, endpoint="/v1/images/generations", completion_window="24h",
                          metadata={"source": "image-provider-compare"})
    sdk_sent[1]["json"]["input_file_id"] = ours_sent[1]["json"]["input_file_id"]  # each upload gets its own id
    assert ours_sent == sdk_sent


def test_a_replicate_prediction_is_created_as_the_replicate_sdk_creates_it():
    fake = FakeReplicate(api_token="r8_test-token")
    request = ImageRequest(prompt="a red fox in fresh snow", width=1536, height=1024, quality="medium",
                           output_format="webp", n=2)
    route = replicate.routes({})[0]
    ours_sent = ours(route, {"REPLICATE_API_TOKEN": "r8_test-token", "REPLICATE_BASE_URL": "https://fake-replicate.test/v1"},
                     request, fake)
    created = ours_sent[0]
    sdk_sent = []

    def handle(outgoing):
        sdk_sent.append(wire(outgoing))
        return fake.handle(outgoing)

    client = replicate_sdk.Client(api_token="r8_test-token", base_url="https://fake-replicate.test",
                                  transport=httpx.MockTransport(handle))
    client.models.predictions.create(model="openai/gpt-image-2", input=created["json"]["input"], wait=60)
    assert sdk_sent[0] == created
    assert ours_sent[0]["path"] == "/v1/models/openai/gpt-image-2/predictions"


def _mask_png():
    out = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()
