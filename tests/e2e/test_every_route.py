"""The whole market in one comparison: every provider route, each configured against a loopback
fake of its own protocol, run by a real Celery worker side by side."""

import pytest

from providers.testing.apiframe import FakeApiframe
from providers.testing.azure import FakeAzureOpenAI
from providers.testing.fal import FakeFal
from providers.testing.gptimage2ai import FakeGPTImage2AI
from providers.testing.higgsfield import FakeHiggsfield
from providers.testing.kie import FakeKie
from providers.testing.openai import FakeOpenAI
from providers.testing.openai_batch import FakeOpenAIBatch, OpenAIPlatform
from providers.testing.openrouter import FakeOpenRouter
from providers.testing.piapi import FakePiAPI
from providers.testing.pixazo import FakePixazo
from providers.testing.replicate import FakeReplicate
from providers.testing.server import LoopbackServer
from providers.testing.stack import Stack
from providers.testing.vercel import FakeVercelGateway
from providers.testing.wavespeed import FakeWaveSpeed

pytestmark = pytest.mark.e2e

# fake, and the environment that points the provider's routes at it ({url} = the fake's root)
PROVIDERS = {
    "openai": (lambda: OpenAIPlatform(FakeOpenAI(), FakeOpenAIBatch()),  # Images API and Batch API
               {"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": "{url}/v1"}),
    "azure": (FakeAzureOpenAI, {"AZURE_OPENAI_API_KEY": "azure-test-key", "AZURE_OPENAI_ENDPOINT": "{url}",
                                "AZURE_OPENAI_DEPLOYMENTS": "gpt-image-2"}),
    "fal": (FakeFal, {"FAL_KEY": "fal-test-key", "FAL_QUEUE_BASE_URL": "{url}"}),
    "replicate": (FakeReplicate, {"REPLICATE_API_TOKEN": "r8_test-token", "REPLICATE_BASE_URL": "{url}/v1"}),
    "openrouter": (FakeOpenRouter, {"OPENROUTER_API_KEY": "sk-or-v1-test", "OPENROUTER_BASE_URL": "{url}/api/v1"}),
    "vercel": (FakeVercelGateway, {"AI_GATEWAY_API_KEY": "vck-test-key", "AI_GATEWAY_BASE_URL": "{url}/v1"}),
    "piapi": (FakePiAPI, {"PIAPI_API_KEY": "piapi-test-key", "PIAPI_BASE_URL": "{url}/v1"}),
    "kie": (FakeKie, {"KIE_API_KEY": "kie-test-key", "KIE_BASE_URL": "{url}/api/v1"}),
    "apipass": (FakeKie, {"APIPASS_API_KEY": "kie-test-key", "APIPASS_BASE_URL": "{url}/api/v1"}),
    "apiframe": (FakeApiframe, {"APIFRAME_API_KEY": "afk_test_key", "APIFRAME_BASE_URL": "{url}/v2"}),
    "wavespeed": (FakeWaveSpeed, {"WAVESPEED_API_KEY": "ws-test-key", "WAVESPEED_BASE_URL": "{url}/api/v3"}),
    "pixazo": (FakePixazo, {"PIXAZO_API_KEY": "pixazo-test-key", "PIXAZO_BASE_URL": "{url}"}),
    "gptimage2ai": (FakeGPTImage2AI, {"GPTIMAGE2AI_API_KEY": "g2-test-key", "GPTIMAGE2AI_BASE_URL": "{url}/api"}),
    "higgsfield": (FakeHiggsfield, {"HF_API_KEY": "hf-key-id", "HF_API_SECRET": "hf-key-secret",
                                    "HIGGSFIELD_BASE_URL": "{url}",
                                    "HIGGSFIELD_MODEL_PATHS": "openai/gpt-image-2/text-to-image"}),
}


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    servers, env = [], {"ALLOW_PRIVATE_PROVIDER_URLS": "1", "SANDBOX_ROUTES": "quick=0.1-0.2"}
    try:
        for slug, (fake_class, provider_env) in PROVIDERS.items():
            server = LoopbackServer(fake_class()).__enter__()
            servers.append(server)
            env.update({name: value.format(url=server.url) for name, value in provider_env.items()})
        env["OPENAI_BATCH_POLL_SECONDS"] = "0.3"
        stack = Stack(tmp_path_factory.mktemp("market"), env=env).start()
        try:
            yield stack
        finally:
            stack.stop()
    finally:
        for server in servers:
            server.__exit__(None, None, None)


def test_every_route_answers_in_one_comparison(market):
    routes = [r for r in market.http.get("/api/routes").json()["routes"] if not r["sandbox"]]
    unconfigured = [r["key"] for r in routes if not r["configured"]]
    assert unconfigured == [], unconfigured
    keys = [r["key"] for r in routes]
    assert {key.split(":")[0] for key in keys} >= set(PROVIDERS) | {"openai-batch"}
    done = market.wait_done(market.submit("a red fox in fresh snow, golden hour", keys, size="1024x1024",
                                          quality="auto", n=1, output_format="png")["id"], timeout=120)
    failed = {r["route"]: r["error"] for r in done["results"] if r["status"] != "succeeded"}
    assert failed == {}, failed
    for result in done["results"]:
        assert result["images"] and result["images"][0]["width"] > 0, result["route"]
        assert result["latency_ms"] > 0 and result["cost_source"] in ("billed", "usage", "team_price", "estimated", "unknown")
