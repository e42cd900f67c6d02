"""Hundreds of provider calls in flight at once in real workers with four Celery threads each:
counted at a loopback fake that answers none until all of them have arrived."""

import json
import threading
import uuid

import pytest

from providers.testing.openai import FakeOpenAI
from providers.testing.server import LoopbackServer
from providers.testing.stack import Stack

from tests.helpers import scale_out_env

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-gate-key"
ROUTES = 50
COMPARISONS = 6
CALLS = ROUTES * COMPARISONS  # 300 calls, against 4 Celery threads per worker
HOLD_SECONDS = 120  # the longest the gate holds a call: a worker that cannot carry them all fails


class Gate:
    """The OpenAI Images protocol, holding every generation until ``expected`` are in at once
    (or HOLD_SECONDS pass); counts the calls in flight and their peak."""

    def __init__(self, expected):
        self.fake = FakeOpenAI(api_key=KEY)
        self.expected = expected
        self.lock = threading.Lock()
        self.arrived = self.current = self.peak = 0
        self.all_in = threading.Event()

    def handle(self, request):
        if request.method != "POST":
            return self.fake.handle(request)
        with self.lock:
            self.arrived += 1
            self.current += 1
            self.peak = max(self.peak, self.current)
            if self.current >= self.expected:
                self.all_in.set()
        try:
            self.all_in.wait(HOLD_SECONDS)
            return self.fake.handle(request)
        finally:
            with self.lock:
                self.current -= 1


def stack_env(url):
    routes = [{"name": f"gate{n}", "base_url": f"{url}/v1", "model": "gpt-image-2", "api_key_env": "GATE_KEY",
               "price_as": "openai:gpt-image-2"} for n in range(ROUTES)]
    # one team's load: the fair-share cap between teams would hold it back, which is not tried here
    return {"COMPATIBLE_ROUTES": json.dumps(routes), "GATE_KEY": KEY, "ALLOW_PRIVATE_PROVIDER_URLS": "1",
            "MAX_CALLS_PER_COMPARISON": str(ROUTES), "TEAM_MAX_IN_FLIGHT": "0",
            "PROVIDER_DEADLINE_SECONDS": str(HOLD_SECONDS + 60), "PROVIDER_READ_TIMEOUT": str(HOLD_SECONDS + 60)}


def carry(stack, gate):
    """Submit every comparison, wait for all to end; return their results."""
    keys = [f"compatible:gate{n}" for n in range(ROUTES)]
    ids = [stack.submit(f"in flight {c} {uuid.uuid4().hex[:6]}", keys, quality="low")["id"] for c in range(COMPARISONS)]
    return [r for pk in ids for r in stack.wait_done(pk, timeout=HOLD_SECONDS + 120)["results"]]


def test_one_worker_with_four_celery_threads_carries_300_calls_at_once(tmp_path):
    gate = Gate(CALLS)
    with LoopbackServer(gate) as server:
        stack = Stack(tmp_path, env={**stack_env(server.url), "SERVE_WORKERS": "1"}, worker_concurrency=4)
        try:
            stack.start()
            results = carry(stack, gate)
        finally:
            stack.stop()
    assert gate.peak == CALLS, f"only {gate.peak} of {CALLS} calls were at the provider at once"
    assert gate.arrived == CALLS  # each called once
    assert [r["status"] for r in results] == ["succeeded"] * CALLS
    assert len({r["worker"] for r in results}) == 1


def test_two_workers_on_postgres_and_redis_carry_300_calls_with_few_connections(tmp_path):
    gate, connections = Gate(CALLS), []
    with scale_out_env("ipc_e2e") as (env, admin):

        def count_connections():  # while every call is at the provider
            if gate.all_in.wait(HOLD_SECONDS):
                connections.append(admin.execute("select count(*) from pg_stat_activity where datname = %s",
                                                 (env["CELERY_QUEUE"],)).fetchone()[0])

        with LoopbackServer(gate) as server:
            stack = Stack(tmp_path, workers=2, worker_concurrency=4, env={**stack_env(server.url), **env})
            counter = threading.Thread(target=count_connections, daemon=True)
            try:
                stack.start()
                counter.start()
                results = carry(stack, gate)
                counter.join(timeout=10)
            finally:
                stack.stop()
    assert gate.peak == CALLS, f"only {gate.peak} of {CALLS} calls were at the provider at once"
    assert gate.arrived == CALLS
    assert [r["status"] for r in results] == ["succeeded"] * CALLS
    assert len({r["worker"] for r in results}) == 2, "both workers carry calls"
    # 300 calls in flight did not mean 300 connections: per worker, its Celery threads, its store
    # threads (WORKER_STORE_THREADS) and a few housekeeping threads; plus the web server's.
    assert connections and connections[0] <= 60, connections
