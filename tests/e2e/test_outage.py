"""The broker and the database taken away and given back, on PostgreSQL + Redis: /healthz answers
503 naming the failing dependency while it is gone and 200 when it is back, and no work is lost or
done twice. The Redis is a throwaway redis-server on its own loopback port (no persistence, so
killing it loses every message it held, the worst case); the database is a throwaway one, blocked
with ALLOW_CONNECTIONS false and its sessions ended. The machine's shared PostgreSQL and Redis keep
running throughout."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from providers.testing.stack import Stack, free_port, reachable

from tests.helpers import skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.services]

ROUTES = [f"sandbox:r{n}" for n in range(4)]
REDIS_SERVER = "/usr/bin/redis-server"


class ThrowawayRedis:
    """A redis-server of the test's own on a free loopback port, stopped and started at will."""

    def __init__(self, folder):
        self.port = free_port()
        self.folder = folder
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: reachable("127.0.0.1", self.port), 20, "redis-server to listen")

    def kill(self):
        self.process.kill()
        self.process.wait()


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory):
    if not reachable("127.0.0.1", 5432):
        skip_or_fail("PostgreSQL is not reachable at 127.0.0.1:5432", "REQUIRE_SERVICES")
    if not Path(REDIS_SERVER).exists():
        skip_or_fail(f"no {REDIS_SERVER} to run a throwaway broker (apt-get install redis-server)", "REQUIRE_SERVICES")
    import psycopg

    folder = tmp_path_factory.mktemp("outage")
    redis = ThrowawayRedis(folder)
    redis.start()
    database = f"ipc_outage_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    stack = Stack(folder / "var", workers=1, worker_concurrency=4, env={
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
        "SANDBOX_ROUTES": "; ".join(f"r{n}=5-5" for n in range(8)),  # 5 s: time to see every call running
        # What a lost message waits before the reaper sends it again, and how often it looks: short
        # here so the test is bounded (300 s and 60 s by default).
        "REQUEUE_AFTER_SECONDS": "8", "REAPER_INTERVAL_SECONDS": "2",
        "WORKER_HEARTBEAT_SECONDS": "2", "HEALTH_TIMEOUT_SECONDS": "1",
        # Four calls of the team at a time: the other four wait their turn (sent as calls end).
        "TEAM_MAX_IN_FLIGHT": "4",
    })
    stack.redis, stack.database, stack.admin = redis, database, admin
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if redis.process.poll() is None:
            redis.kill()
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def healthz(stack):
    response = httpx.get(f"{stack.url}/healthz", timeout=30)
    return response.status_code, response.json()


def statuses(stack, pk):
    return [r["status"] for r in stack.poll(f"/api/comparisons/{pk}").json()["results"]]


def stored(stack, pk):
    """Rows and files as stored: result rows, image rows, and image files on the media disk."""
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={stack.database}") as db:
        results = db.execute("SELECT count(*) FROM compare_result WHERE comparison_id = %s", [pk]).fetchone()[0]
        images = db.execute("SELECT count(*) FROM compare_resultimage i JOIN compare_result r ON r.id = i.result_id "
                            "WHERE r.comparison_id = %s", [pk]).fetchone()[0]
    folder = stack.var_dir / "media" / "results" / str(pk)
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return results, images, len(files)


def test_the_broker_goes_away_and_comes_back(outage_stack):
    stack = outage_stack
    status, body = healthz(stack)
    assert status == 200 and body["status"] == "ok", body

    # A comparison in flight when the broker dies: its calls run in the worker and store their results.
    before = stack.submit("submitted before the outage", ROUTES, quality="low")["id"]
    wait_for(lambda: statuses(stack, before) == ["running"] * len(ROUTES), 60, "every call to start")
    stack.redis.kill()

    status, body = wait_for(lambda: (lambda s: s if s[0] == 503 else None)(healthz(stack)), 30, "/healthz to say 503")
    assert body["status"] == "down" and body["failing"] == ["broker"], body
    assert body["checks"]["broker"] == {"status": "down", "error": body["checks"]["broker"]["error"],
                                        "ms": body["checks"]["broker"]["ms"]}

    # Submitted while it is down: accepted and kept (the reaper sends it once the broker is back).
    during = stack.http.post("/api/comparisons", json={"prompt": "submitted during the outage", "routes": ROUTES,
                                                       "params": {"quality": "low"}})
    assert during.status_code == 201, during.text
    during = during.json()["id"]
    wait_for(lambda: stack.poll(f"/api/comparisons/{before}").json()["status"] == "done", 60,
             "the calls in flight to finish with the broker down")
    assert statuses(stack, before) == ["succeeded"] * len(ROUTES)
    assert statuses(stack, during) == ["queued"] * len(ROUTES)

    stack.redis.start()  # the same port, empty: every message it held is gone
    wait_for(lambda: healthz(stack)[0] == 200, 60, "/healthz to say 200 again")
    stack.wait_done(during, timeout=120)
    assert statuses(stack, during) == ["succeeded"] * len(ROUTES)
    for pk in (before, during):  # nothing lost, nothing done twice: one result, one image, two files each
        assert stored(stack, pk) == (len(ROUTES), len(ROUTES), 2 * len(ROUTES))
    after = stack.wait_done(stack.submit("submitted after the outage", ROUTES[:1], quality="low")["id"], timeout=60)
    assert [r["status"] for r in after["results"]] == ["succeeded"]


def test_the_database_goes_away_and_comes_back(outage_stack):
    stack = outage_stack
    wait_for(lambda: healthz(stack)[0] == 200, 60, "a healthy start")
    kept = stack.wait_done(stack.submit("kept across the outage", ROUTES[:2], quality="low")["id"], timeout=60)

    stack.admin.execute(f'ALTER DATABASE "{stack.database}" ALLOW_CONNECTIONS false')
    stack.admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                        [stack.database])
    try:
        status, body = wait_for(lambda: (lambda s: s if s[0] == 503 else None)(healthz(stack)), 30,
                                "/healthz to say 503")
        assert body["failing"] == ["database"] and body["checks"]["workers"] == {"status": "unknown"}, body
        assert body["checks"]["database"]["error"] in ("OperationalError", "InterfaceError")
    finally:
        stack.admin.execute(f'ALTER DATABASE "{stack.database}" ALLOW_CONNECTIONS true')

    status, body = wait_for(lambda: (lambda s: s if s[0] == 200 else None)(healthz(stack)), 60, "/healthz to say 200")
    assert body["checks"]["workers"]["alive"] >= 1  # the worker's heartbeat reconnected by itself
    again = stack.http.get(f"/api/comparisons/{kept['id']}").json()
    assert [r["status"] for r in again["results"]] == ["succeeded"] * 2
    fresh = stack.wait_done(stack.submit("after the database came back", ROUTES[:2], quality="low")["id"], timeout=60)
    assert [r["status"] for r in fresh["results"]] == ["succeeded"] * 2


def test_a_worker_restart_for_an_upgrade_loses_nothing(outage_stack):
    """docs/deploy.md's upgrade: SIGTERM the worker (warm shutdown) with calls running and more
    waiting, migrate, start a new worker: every call ends once, none as lost."""
    stack = outage_stack
    wait_for(lambda: healthz(stack)[0] == 200, 60, "a healthy start")
    routes = [f"sandbox:r{n}" for n in range(8)]  # 8 calls, the team's 4 at a time: 4 run, 4 wait
    pk = stack.submit("across an upgrade", routes, quality="low")["id"]
    wait_for(lambda: statuses(stack, pk).count("running") == 4, 60, "four calls to start")
    worker = next(p for p in stack.processes if p.log_name.startswith("worker") and p.poll() is None)
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)  # the warm shutdown waits for the calls in its call pool
    # the four in flight finished and were stored; as they ended, the other four were sent to
    # Redis for the next worker (the stopping one takes no new message)
    assert statuses(stack, pk).count("succeeded") == 4 and statuses(stack, pk).count("queued") == 4

    stack.manage("migrate", "--noinput")
    stack.spawn_worker(1)
    done = stack.wait_done(pk, timeout=120)
    assert [r["status"] for r in done["results"]] == ["succeeded"] * 8
    assert stored(stack, pk) == (8, 8, 16)
