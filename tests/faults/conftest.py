"""Faults made to happen for real: a loopback provider that hangs, refuses, or answers garbage,
a worker killed mid-call, work submitted while no worker runs. On the embedded setup always,
and on PostgreSQL + Redis where they run (in CI they must)."""

import base64
import contextlib
import json

import httpx
import pytest

from providers.testing.openai import FakeOpenAI
from providers.testing.server import LoopbackServer
from providers.testing.stack import Stack

from tests.helpers import scale_out_env

KEY = "sk-faults-key"


class FaultyOpenAI(FakeOpenAI):
    """The OpenAI fake, with a fault chosen by a word in the prompt:
    "hang" never answers in time, "slow" takes 3 s, "refuse-once" answers 429 to its first call,
    "garbage" returns bytes that are not an image, "drip" sends its answer a byte every 0.3 s."""

    def __init__(self):
        super().__init__(api_key=KEY, delay=self.delay_for)
        self.refused = set()

    @staticmethod
    def delay_for(body):
        prompt = body.get("prompt", "")
        return 30 if "hang" in prompt else 3 if "slow" in prompt else 0

    def handle(self, request):
        body = json.loads(request.content or b"{}") if request.method == "POST" else {}
        prompt = body.get("prompt", "")
        if "refuse-once" in prompt and prompt not in self.refused:
            self.refused.add(prompt)
            self.calls.append({"arrived": 0, "path": request.url.path, "json": body, "headers": {}})
            refusal = self.error("rate_limit")
            refusal.headers["retry-after"] = "1"  # within the 4 s deadline these tests run with
            return refusal
        response = super().handle(request)
        if "drip" in prompt and response.status_code == 200:  # headers at once, then a byte every 0.3 s
            return httpx.Response(200, content=response.content, headers=response.headers,
                                  extensions={"drip_seconds": 0.3})
        if "garbage" in prompt and response.status_code == 200:
            payload = response.json()
            for item in payload["data"]:
                item["b64_json"] = base64.b64encode(b"<html>not an image</html>").decode()
            return httpx.Response(200, json=payload, headers=response.headers)
        return response

    def calls_for(self, prompt):
        return [c for c in self.calls if c["json"].get("prompt") == prompt]


@pytest.fixture(scope="session")
def faulty_openai():
    fake = FaultyOpenAI()
    with LoopbackServer(fake) as server:
        fake.url = server.url
        yield fake


FAULT_ENV = {
    "PROVIDER_READ_TIMEOUT": "2", "PROVIDER_DEADLINE_SECONDS": "4", "PROVIDER_BACKOFF_SECONDS": "0.05",
    "REAPER_GRACE_SECONDS": "1", "REAPER_INTERVAL_SECONDS": "1", "REQUEUE_AFTER_SECONDS": "600",
    "CELERY_VISIBILITY_TIMEOUT": "5", "SANDBOX_ROUTES": "quick=0.1-0.2", "ALLOW_PRIVATE_PROVIDER_URLS": "1",
}


@pytest.fixture(scope="session", params=["embedded", "postgres+redis"])
def fault_stack(request, tmp_path_factory, faulty_openai):
    env = {**FAULT_ENV, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{faulty_openai.url}/v1"}
    with contextlib.ExitStack() as services:
        if request.param == "postgres+redis":
            env.update(services.enter_context(scale_out_env("ipc_faults"))[0])
        stack = Stack(tmp_path_factory.mktemp(f"faults-{request.param.replace('+', '-')}"), workers=1,
                      worker_concurrency=8, env=env)
        stack.setup = request.param
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
