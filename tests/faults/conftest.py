"""Faults made to happen for real: a loopback provider that hangs, refuses, or answers garbage,
a worker killed mid-call, work submitted while no worker runs. On the embedded setup always,
and on PostgreSQL + Redis where they run (in CI they must)."""

import base64
import json
import uuid

import httpx
import pytest

from providers.testing.openai import FakeOpenAI
from providers.testing.server import LoopbackServer
from providers.testing.stack import Stack, reachable

from tests.helpers import skip_or_fail

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
    admin = database = None
    if request.param == "postgres+redis":
        for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
            if not reachable("127.0.0.1", port):
                skip_or_fail(f"{name} is not reachable at 127.0.0.1:{port}", "REQUIRE_SERVICES")
        import psycopg

        database = f"ipc_faults_{uuid.uuid4().hex[:10]}"
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
        admin.execute(f'CREATE DATABASE "{database}"')
        env.update({"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
                    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "CELERY_QUEUE": database})
    stack = Stack(tmp_path_factory.mktemp(f"faults-{request.param.replace('+', '-')}"), workers=1,
                  worker_concurrency=8, env=env)
    stack.setup = request.param
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.close()
