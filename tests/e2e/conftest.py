import uuid

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.stack import Stack, reachable

TEN_ROUTES = "; ".join(f"r{n}=1-1" for n in range(10))


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory):
    """`make run`'s own process: SQLite, the filesystem broker, local media, one worker."""
    stack = Stack(tmp_path_factory.mktemp("embedded"), env={
        "SANDBOX_ROUTES": "fast=0.2-0.4; steady=0.5-0.8 presets; slow=1-1.5; flaky=0.1-0.2 fail=1; " + TEN_ROUTES,
    })
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def postgres_redis_stack(tmp_path_factory):
    """The scale-out setup: PostgreSQL, a Redis broker, the web server and three worker processes."""
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        if not reachable("127.0.0.1", port):
            skip_or_fail(f"{name} is not reachable at 127.0.0.1:{port}", "REQUIRE_SERVICES")
    import psycopg

    database = f"ipc_e2e_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    stack = Stack(tmp_path_factory.mktemp("scaleout"), workers=3, worker_concurrency=4, env={
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CELERY_QUEUE": database,  # a queue of its own on the shared Redis
        "SANDBOX_ROUTES": TEN_ROUTES,
    })
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
