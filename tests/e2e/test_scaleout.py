"""The scale-out configuration for real: PostgreSQL, a Redis broker and several worker processes."""

import pytest

from providers.testing.stack import parse_time

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def test_several_workers_share_one_comparison_on_postgres_and_redis(postgres_redis_stack):
    stack = postgres_redis_stack
    routes = [f"sandbox:r{n}" for n in range(10)]  # 10 three-second calls, 3 workers x 4 threads
    done = stack.wait_done(stack.submit("scale out", routes, quality="medium")["id"])
    results = done["results"]
    assert [r["status"] for r in results] == ["succeeded"] * 10
    # The point here is that three worker processes share the calls and run them side by side:
    # every call started before any had finished (none waited for another's slot). How soon
    # after submit is a speed target, measured in bench/ (BENCHMARKS.md), not timed here.
    last_start = max(parse_time(r["started_at"]) for r in results)
    first_finish = min(parse_time(r["finished_at"]) for r in results)
    assert last_start < first_finish, "a call waited for another to finish"
    workers = {r["worker"] for r in results}
    assert len(workers) >= 3, f"every worker process should take a share: {workers}"
    assert all(r["images"] for r in results)


def test_history_search_and_results_work_on_postgres(postgres_redis_stack):
    stack = postgres_redis_stack
    first = stack.wait_done(stack.submit("Search Me Again", ["sandbox:r0", "sandbox:r1"], quality="low")["id"])
    assert {r["status"] for r in first["results"]} == {"succeeded"}
    body = stack.http.get("/api/comparisons", params={"q": "me AGAIN"}).json()
    assert body["count"] == 1
