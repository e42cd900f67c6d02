import json

import pytest

from providers.testing.fal import FakeFal
from providers.testing.openai import FakeOpenAI
from providers.testing.openai_batch import FakeOpenAIBatch, OpenAIPlatform
from providers.testing.replicate import FakeReplicate
from providers.testing.server import LoopbackServer
from providers.testing.stack import Stack

from tests.helpers import scale_out_env, skip_or_fail

TEN_ROUTES = "; ".join(f"r{n}=1-1" for n in range(10))
FAKE_KEY = "sk-e2e-fake-key"


@pytest.fixture(scope="session")
def fake_openai():
    """A loopback fake of the OpenAI Images API (every call takes one second server-side) and
    of its Batch API (a batch completes on its third check)."""
    fake = FakeOpenAI(api_key=FAKE_KEY, delay=1.0)
    fake.batch = FakeOpenAIBatch(api_key=FAKE_KEY, checks_until_done=3)
    with LoopbackServer(OpenAIPlatform(fake, fake.batch)) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def fake_fal():
    """fal's queue protocol on loopback; jobs take two seconds (the slow route)."""
    fake = FakeFal(api_key="fal-e2e-key", delay=2.0)
    with LoopbackServer(fake) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def fake_replicate():
    """Replicate's predictions protocol on loopback."""
    fake = FakeReplicate(api_token="r8_e2e-token")
    with LoopbackServer(fake) as server:
        fake.url = server.url
        yield fake


def fake_routes(fake, count):
    """`count` OpenAI-compatible routes, all served by the loopback fake."""
    return json.dumps([{"name": f"fake{n}", "base_url": f"{fake.url}/v1", "model": "gpt-image-2",
                        "api_key_env": "FAKE_OPENAI_KEY", "price_as": "openai:gpt-image-2"} for n in range(count)])


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory, fake_openai, fake_fal, fake_replicate):
    """`make run`'s own process: SQLite, the filesystem broker, local media, one worker."""
    stack = Stack(tmp_path_factory.mktemp("embedded"), env={
        "SANDBOX_ROUTES": "fast=0.2-0.4; steady=0.5-0.8 presets; slow=1-1.5; flaky=0.1-0.2 fail=1; " + TEN_ROUTES,
        "OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": f"{fake_openai.url}/v1", "OPENAI_BATCH_POLL_SECONDS": "0.3",
        "COMPATIBLE_ROUTES": fake_routes(fake_openai, 10), "FAKE_OPENAI_KEY": FAKE_KEY,
        "FAL_KEY": "fal-e2e-key", "FAL_QUEUE_BASE_URL": fake_fal.url,
        "REPLICATE_API_TOKEN": "r8_e2e-token", "REPLICATE_BASE_URL": f"{fake_replicate.url}/v1",
        "ALLOW_PRIVATE_PROVIDER_URLS": "1",
    })
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def postgres_redis_stack(tmp_path_factory):
    """The scale-out setup: PostgreSQL, a Redis broker, the web server and three worker processes."""
    with scale_out_env("ipc_e2e") as (env, _):
        stack = Stack(tmp_path_factory.mktemp("scaleout"), workers=3, worker_concurrency=4, env={
            **env,
            # Three-second calls: the test shows they ran side by side with a margin a loaded machine keeps.
            "SANDBOX_ROUTES": "; ".join(f"r{n}=3-3" for n in range(10)),
        })
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture
def page(tmp_path):
    """A page in Debian's Chromium, driven by Playwright, with a fresh profile."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)", "REQUIRE_BROWSER")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 900})
        yield browser.new_page()
        browser.close()
