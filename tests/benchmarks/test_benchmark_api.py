"""The benchmarks API and pages: create, list, get, run, patch, delete; team scoping (another
team 404, viewers read only, logged out 401); a 400 naming the field for bad input."""

import json
from decimal import Decimal

import pytest

from compare.batches.models import Batch
from compare.benchmarks.models import Benchmark, BenchmarkRun
from compare.checks import checks
from compare.engine import execution
from compare.models import Result, Status
from compare.teams.models import ApiToken, Membership, Role, Team

pytestmark = pytest.mark.django_db

ROUTES = ["sandbox:fast", "sandbox:steady"]
BODY = {"name": "Nightly", "routes": ROUTES, "prompts": ["a red fox", "a blue car"],
        "params": {"size": "1024x1024", "quality": "low", "n": 1}, "repeats": 2, "schedule": "0 */6 * * *"}


def call(client, method, url, token, body=None, **headers):
    headers = {"Authorization": f"Bearer {token}", **headers}
    if body is None:
        return getattr(client, method)(url, headers=headers)
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json", headers=headers)


def execute_all(batch):
    """The worker's part: each call, then its images' automatic checks."""
    for result in Result.objects.filter(comparison__batch_item__batch=batch, status=Status.QUEUED):
        execution.execute_result(result.pk)
        checks.run_checks(result.pk)


def test_create_list_get_run_patch_delete(alice, client, alice_token):
    response = call(client, "post", "/api/benchmarks", alice_token, BODY)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == "Nightly" and created["schedule"] == "0 */6 * * *" and created["runs"] == []
    assert created["next_run_at"] is not None and created["repeats"] == 2
    pk = created["id"]
    assert [b["id"] for b in call(client, "get", "/api/benchmarks", alice_token).json()["benchmarks"]] == [pk]

    run = call(client, "post", f"/api/benchmarks/{pk}/run", alice_token)
    assert run.status_code == 201, run.content
    batch = Batch.objects.get(pk=run.json()["batch"])
    assert run.json()["status"] == "started" and batch.items.count() == 4  # 2 prompts × 2 repeats
    assert batch.route_keys == ROUTES
    execute_all(batch)

    from compare.benchmarks import runs as benchmarks
    benchmarks.finish_runs()
    got = call(client, "get", f"/api/benchmarks/{pk}", alice_token).json()
    assert got["runs"][0] == {**got["runs"][0], "id": run.json()["id"], "status": "done", "batch": batch.pk}
    for window in ("24h", "7d", "30d"):
        summary = got["series"][window]["sandbox:fast"]["summary"]
        assert summary["runs"] == 1 and summary["calls"] == 4 and summary["success_rate"] == 1.0
        assert summary["median_ms"] is not None and summary["p95_ms"] >= summary["median_ms"]
        assert summary["cost_per_image_usd"] is not None and summary["cost_source"] == "billed"
        assert summary["checked"] == 4 and summary["check_failure_rate"] == 0.0  # the automatic checks ran
        assert [p["runs"] for p in got["series"][window]["sandbox:fast"]["points"]] == [1]
    assert got["alerts"] == []

    patched = call(client, "patch", f"/api/benchmarks/{pk}", alice_token, {"schedule": None, "repeats": 1})
    assert patched.status_code == 200 and patched.json()["schedule"] is None and patched.json()["next_run_at"] is None
    assert Benchmark.objects.get().repeats == 1

    client.force_login(alice)
    html = client.get(f"/benchmarks/{pk}/?window=24h").content.decode()
    assert "<svg" in html and "over 1 run" in html and "sandbox:fast" in html
    assert "Nightly" in client.get("/benchmarks/").content.decode()
    client.logout()

    assert call(client, "delete", f"/api/benchmarks/{pk}", alice_token).status_code == 204
    assert not Benchmark.objects.exists() and not BenchmarkRun.objects.exists()
    assert Batch.objects.filter(pk=batch.pk).exists()  # its batches stay in the history


def test_a_team_set_or_builtin_set_can_be_the_prompts(client, alice_token):
    body = {**BODY, "prompt_set": "typography"}
    del body["prompts"]
    response = call(client, "post", "/api/benchmarks", alice_token, body)
    assert response.status_code == 201 and response.json()["prompt_set"] == "typography"
    run = call(client, "post", f"/api/benchmarks/{response.json()['id']}/run", alice_token).json()
    typography = 6  # compare/batches/prompt_sets.json
    assert Batch.objects.get(pk=run["batch"]).items.count() == typography * 2


@pytest.mark.parametrize("change,field", [
    ({"schedule": "61 * * * *"}, "schedule"),
    ({"schedule": "every minute"}, "schedule"),
    ({"schedule": 5}, "schedule"),
    ({"routes": []}, "routes"),
    ({"routes": ["no:such"]}, "routes"),
    ({"prompts": []}, "prompts"),
    ({"prompts": [""]}, "prompts"),
    ({"prompt_set": "nope"}, "prompt_set"),
    ({"repeats": 0}, "repeats"),
    ({"repeats": "2"}, "repeats"),
    ({"params": {"colour": "red"}}, "params"),
    ({"name": ""}, "name"),
    ({"shout": 1}, "__all__"),
    ({"team": 999999}, "team"),
])
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(client, alice_token, change, field):
    body = {**BODY, **change}
    if "prompt_set" in change:
        del body["prompts"]
    response = call(client, "post", "/api/benchmarks", alice_token, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Benchmark.objects.exists()


def test_bad_patch_is_a_400_and_changes_nothing(client, alice_token):
    pk = call(client, "post", "/api/benchmarks", alice_token, BODY).json()["id"]
    response = call(client, "patch", f"/api/benchmarks/{pk}", alice_token, {"schedule": "* * * *"})
    assert response.status_code == 400 and "schedule" in response.json()["errors"]
    assert Benchmark.objects.get().schedule == "0 */6 * * *"
    assert call(client, "patch", f"/api/benchmarks/{pk}", alice_token, [1]).status_code == 400


def test_another_team_gets_404_viewers_read_only_and_logged_out_401(alice, bob, client, alice_token):
    pk = call(client, "post", "/api/benchmarks", alice_token, BODY).json()["id"]
    bobs = ApiToken.issue(bob)[1]
    for method in ("get", "patch", "delete"):
        assert call(client, method, f"/api/benchmarks/{pk}", bobs, {} if method == "patch" else None).status_code == 404
    assert call(client, "post", f"/api/benchmarks/{pk}/run", bobs).status_code == 404
    assert call(client, "get", "/api/benchmarks", bobs).json()["benchmarks"] == []
    client.force_login(bob)
    assert client.get(f"/benchmarks/{pk}/").status_code == 404
    assert client.post(f"/benchmarks/{pk}/run").status_code == 404
    client.logout()

    team = Team.personal_for(alice)
    Membership.objects.create(team=team, user=bob, role=Role.VIEWER)
    assert call(client, "get", f"/api/benchmarks/{pk}", bobs).status_code == 200
    assert call(client, "get", f"/api/benchmarks?team={team.pk}", bobs).json()["benchmarks"][0]["id"] == pk
    assert call(client, "post", f"/api/benchmarks/{pk}/run", bobs).status_code == 403
    assert call(client, "patch", f"/api/benchmarks/{pk}", bobs, {"repeats": 3}).status_code == 403
    assert call(client, "delete", f"/api/benchmarks/{pk}", bobs).status_code == 403
    assert call(client, "post", "/api/benchmarks", bobs, {**BODY, "team": team.pk}).status_code == 403
    assert not BenchmarkRun.objects.exists() and Benchmark.objects.get().repeats == 2

    for url in ("/api/benchmarks", f"/api/benchmarks/{pk}/run"):
        assert client.post(url).status_code == 401
    for method in ("get", "patch", "delete"):
        assert getattr(client, method)(f"/api/benchmarks/{pk}").status_code == 401
    assert client.get("/api/benchmarks").status_code == 401


def test_run_takes_an_idempotency_key(client, alice_token):
    pk = call(client, "post", "/api/benchmarks", alice_token, BODY).json()["id"]
    first = call(client, "post", f"/api/benchmarks/{pk}/run", alice_token, **{"Idempotency-Key": "run-1"})
    again = call(client, "post", f"/api/benchmarks/{pk}/run", alice_token, **{"Idempotency-Key": "run-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert BenchmarkRun.objects.count() == 1 and Batch.objects.count() == 1


def test_a_run_over_budget_is_recorded_as_refused_with_the_reason(alice, client, alice_token, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.10")
    team.save()
    body = {**BODY, "routes": ["openai:gpt-image-2"], "params": {"size": "1024x1024", "quality": "high"}}
    pk = call(client, "post", "/api/benchmarks", alice_token, body).json()["id"]
    run = call(client, "post", f"/api/benchmarks/{pk}/run", alice_token)
    assert run.status_code == 201 and run.json()["status"] == "refused"
    assert "Over budget" in run.json()["reason"] and run.json()["batch"] is None
    assert not Batch.objects.exists()
