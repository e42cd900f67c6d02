"""The scale-out configuration for real: PostgreSQL, a Redis broker and several worker processes."""

import pytest

from providers.testing.stack import parse_time

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def test_several_workers_share_the_calls_on_postgres_and_redis(postgres_redis_stack):
    stack = postgres_redis_stack
    # Three comparisons of 5 three-second calls submitted back to back: 15 calls (within the
    # team's 16 at a time), one message each (five results to a message).
    ids = [stack.submit(f"scale out {n}", [f"sandbox:r{(n * 5 + k) % 10}" for k in range(5)], quality="medium")["id"]
           for n in range(3)]
    results = [r for pk in ids for r in stack.wait_done(pk)["results"]]
    assert [r["status"] for r in results] == ["succeeded"] * 15
    # The point here is that the worker processes share the calls and run them side by side:
    # every call started before any had finished (none waited for another's slot). How soon
    # after submit is a speed target, measured in bench/ (BENCHMARKS.md), not timed here.
    last_start = max(parse_time(r["started_at"]) for r in results)
    first_finish = min(parse_time(r["finished_at"]) for r in results)
    assert last_start < first_finish, "a call waited for another to finish"
    workers = {r["worker"] for r in results}
    # Three messages for three idle workers: Redis hands them out in turn, so the calls are
    # shared (at least two workers: a margin for a worker slow to ask again on a loaded machine).
    assert len(workers) >= 2, f"the worker processes should share the calls: {workers}"
    assert all(r["images"] for r in results)


def test_history_search_and_results_work_on_postgres(postgres_redis_stack):
    stack = postgres_redis_stack
    first = stack.wait_done(stack.submit("Search Me Again", ["sandbox:r0", "sandbox:r1"], quality="low")["id"])
    assert {r["status"] for r in first["results"]} == {"succeeded"}
    body = stack.http.get("/api/comparisons", params={"q": "me AGAIN"}).json()
    assert body["count"] == 1
