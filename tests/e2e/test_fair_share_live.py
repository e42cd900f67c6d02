"""Fair share on the real stack (issue 11, item 4), on both setups: one team's flood of calls does
not queue in front of another team's first call. The unit tests of the scheduling decision are in
tests/security/test_fair_share.py; here real workers, a real broker and a real database play it."""

import statistics

import httpx
import pytest

from providers.testing.stack import parse_time

pytestmark = pytest.mark.e2e

FLOOD = [f"sandbox:r{n}" for n in range(10)] * 4  # 40 calls, the per-comparison cap


def other_team_client(stack, username):
    """A second user of the stack (their own personal team) with an API token."""
    stack.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                 f"get_user_model().objects.get_or_create(username={username!r})")
    token = stack.manage("api_token", username).stdout.strip()
    return httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def play_flood_then_single_call(stack, username):
    with other_team_client(stack, username) as bob:  # made first: it runs two manage.py commands
        flood = [stack.submit(f"flood {n}", FLOOD, quality="low")["id"] for n in range(2)]
        answer = bob.post("/api/comparisons", json={"prompt": "one call", "routes": ["sandbox:r0"],
                                                    "params": {"quality": "low"}})
        assert answer.status_code == 201, answer.text
        single = answer.json()["id"]
        flood_results = [r for c in flood for r in stack.wait_done(c, timeout=180)["results"]]
        deadline_body = bob.get(f"/api/comparisons/{single}").json()
    assert deadline_body["status"] == "done", deadline_body
    assert {r["status"] for r in flood_results} == {"succeeded"}
    flood_starts = sorted(parse_time(r["started_at"]) for r in flood_results)
    single_start = parse_time(deadline_body["results"][0]["started_at"])
    # Submitted after 80 calls of another team, the single call still starts before most of the
    # flood: it waited for at most a running call's slot, not behind the other team's backlog.
    assert single_start < statistics.quantiles(flood_starts, n=4)[1], (
        f"the other team's call started at {single_start - flood_starts[0]:.1f} s into a flood "
        f"that started its last call at {flood_starts[-1] - flood_starts[0]:.1f} s")


def test_one_teams_flood_does_not_hold_back_another_teams_call_embedded(embedded_stack):
    play_flood_then_single_call(embedded_stack, "bob_embedded")


@pytest.mark.services
def test_one_teams_flood_does_not_hold_back_another_teams_call_on_postgres_and_redis(postgres_redis_stack):
    play_flood_then_single_call(postgres_redis_stack, "bob_scaleout")
