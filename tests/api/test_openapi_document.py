"""The OpenAPI document is true: it validates, it names every /api URL of the resolver with exactly
the methods its view takes, and real answers of every operation match it with no field it does not
describe (every object closed here, stricter than the document itself)."""

import base64
import json
import re

import jsonschema
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from openapi_spec_validator import validate

from compare.api import openapi
from compare.benchmarks import runs as benchmarks
from compare.benchmarks.models import BenchmarkAlert
from compare.checks import checks
from compare.engine import execution
from compare.models import Result, Status
from compare.teams.models import ApiToken, Membership, Role

from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db

PAGES = {"/api/docs"}  # the document as an HTML page: not an endpoint of the API


def api_routes():
    """{"/api/...{pk}": view} of every URL pattern under /api/, from Django's resolver."""
    found = {}

    def walk(patterns, prefix):
        for item in patterns:
            if isinstance(item, URLResolver):
                walk(item.url_patterns, prefix + str(item.pattern))
            elif isinstance(item, URLPattern):
                route = prefix + str(item.pattern)
                if route.startswith("/api/"):
                    found[re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)] = item.callback
    walk(get_resolver().url_patterns, "/")
    return found


def test_the_document_is_valid_openapi_3_1():
    document = openapi.document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_url_is_described_with_exactly_its_methods():
    paths = openapi.document()["paths"]
    routes = api_routes()
    assert len(routes) > 20
    for route, view in routes.items():
        if route in PAGES:
            continue
        assert route in paths, f"{route} is not in compare/api/openapi.py"
        assert set(paths[route]) == {m.lower() for m in view.api_methods}, route
    assert set(paths) <= set(routes), f"described but not served: {set(paths) - set(routes)}"


def test_every_operation_documents_the_refusals_every_api_view_can_give():
    for url, methods in openapi.document()["paths"].items():
        for method, op in methods.items():
            assert {"401", "405"} <= set(op["responses"]), (method, url)
            if "{pk}" in url:
                assert "404" in op["responses"], (method, url)
            if "requestBody" in op:
                assert "400" in op["responses"], (method, url)


# --- Real answers against the document ----------------------------------------------------------


def closed(schema):
    """Every object with listed properties and no word on others: no others allowed."""
    if isinstance(schema, dict):
        schema = {key: closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


class Checker:
    """Calls the API as one user and checks each answer against the document."""

    def __init__(self, client, token):
        self.client, self.token = client, token
        self.document = openapi.document()
        self.components = closed(self.document["components"])
        self.seen = set()  # (method, path template) answered 2xx

    def call(self, method, url, body=None, expect=None, template=None, headers=None):
        data = None if body is None else json.dumps(body)
        response = getattr(self.client, method)(url, data=data, content_type="application/json",
                                                headers={"Authorization": f"Bearer {self.token}", **(headers or {})})
        template = template or re.sub(r"/\d+(?=/|$)", "/{pk}", url.split("?")[0])
        if method not in self.document["paths"][template]:  # a method the URL does not take
            assert response.status_code == 405 and set(response.json()) == {"error"}, (method, url)
            return response
        op = self.document["paths"][template][method]
        status = str(response.status_code)
        assert status in op["responses"], (method, url, status, response.content[:500])
        content = op["responses"][status].get("content")
        if content:
            assert response["Content-Type"].startswith("application/json"), (method, url)
            schema = {**content["application/json"]["schema"], "components": self.components}
            if "$ref" not in schema:
                schema = closed(schema)
            jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)\
                .validate(response.json())
        if expect is not None:
            assert response.status_code == expect, (method, url, response.content[:1000])
        if response.status_code < 300:
            self.seen.add((method, template))
        return response


def data_url(width=64, height=64):
    return "data:image/png;base64," + base64.b64encode(image_bytes(width, height)).decode()


def run_all(comparison_id):
    for result in Result.objects.filter(comparison_id=comparison_id):
        execution.execute_result(result.pk)


def test_real_answers_of_every_operation_match_the_document(client, alice, bob, django_user_model, settings):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True  # the webhook below points at loopback (never called here)
    api = Checker(client, ApiToken.issue(alice)[1])
    teams = api.call("get", "/api/teams", expect=200).json()["teams"]
    team = teams[0]["id"]
    api.call("get", "/api/routes", expect=200)
    api.call("get", f"/api/routes?team={team}", expect=200)
    api.call("get", f"/api/teams/{team}/credentials", expect=200)
    api.call("put", f"/api/teams/{team}/credentials", {"OPENAI_API_KEY": "sk-test-abcd1234"}, expect=200)
    api.call("put", f"/api/teams/{team}/credentials", {"OPENAI_API_KEY": 5}, expect=400)
    api.call("put", f"/api/teams/{team}/budget", {"monthly_usd": "12.50"}, expect=200)
    api.call("put", f"/api/teams/{team}/budget", {"monthly_usd": None}, expect=200)
    api.call("put", f"/api/teams/{team}/budget", {"monthly": 1}, expect=400)
    hook = api.call("post", f"/api/teams/{team}/webhooks", {"url": "http://127.0.0.1:9/hooks/ipc",
                                                          "events": ["comparison.finished"]}, expect=201).json()
    api.call("post", f"/api/teams/{team}/webhooks", {"url": "ftp://x", "events": []}, expect=400)
    api.call("get", f"/api/teams/{team}/webhooks", expect=200)
    api.call("get", f"/api/teams/{team}/webhooks/{hook['id']}", expect=200, template="/api/teams/{pk}/webhooks/{hook}")
    api.call("delete", f"/api/teams/{team}/webhooks/{hook['id']}", expect=204,
             template="/api/teams/{pk}/webhooks/{hook}")
    api.call("get", "/api/routes?team=abc", expect=400)

    body = {"prompt": "a red fox", "routes": ["sandbox:fast", "sandbox:steady"],
            "params": {"size": "1024x1024", "quality": "low", "n": 1, "output_format": "png"}}
    created = api.call("post", "/api/comparisons", body, expect=201).json()
    api.call("post", "/api/comparisons", {**body, "routes": []}, expect=400)
    edit = api.call("post", "/api/comparisons", {**body, "routes": ["sandbox:fast"], "images": [data_url()]},
                    expect=201).json()
    keyed = {"Idempotency-Key": "doc-test-1"}
    api.call("post", "/api/comparisons", body, expect=201, headers=keyed)
    api.call("post", "/api/comparisons", {**body, "prompt": "another"}, expect=422, headers=keyed)
    pk = created["id"]
    api.call("get", f"/api/comparisons/{pk}", expect=200)  # running
    run_all(pk)
    run_all(edit["id"])
    api.call("get", "/api/comparisons", expect=200)
    api.call("get", "/api/comparisons?status=done&route=sandbox:fast&q=fox&page=1", expect=200)
    api.call("get", f"/api/comparisons/{pk}", expect=200)
    api.call("get", f"/api/comparisons/{edit['id']}", expect=200)
    api.call("post", f"/api/comparisons/{pk}/cancel", expect=200)
    rerun = api.call("post", f"/api/comparisons/{pk}/rerun", expect=201).json()
    api.call("post", f"/api/comparisons/{rerun['id']}/cancel", expect=200)

    # Review, blind first.
    api.call("put", f"/api/comparisons/{pk}/review-mode", {"blind": True, "hold_images_until_done": False}, expect=200)
    api.call("put", f"/api/comparisons/{pk}/review-mode", {"blind": "yes", "hold_images_until_done": False}, expect=400)
    api.call("get", f"/api/comparisons/{pk}", expect=200)
    api.call("get", "/api/comparisons", expect=200)
    state = api.call("get", f"/api/comparisons/{pk}/review", expect=200).json()
    first = state["results"][0]["id"]
    api.call("post", f"/api/results/{first}/rating", {"thumb": "up"}, expect=200)
    api.call("post", f"/api/results/{first}/rating", {"thumb": "left"}, expect=400)
    api.call("post", f"/api/comparisons/{pk}/comments", {"text": "sharp"}, expect=201)
    api.call("post", f"/api/comparisons/{pk}/comments", {"text": ""}, expect=400)
    api.call("post", f"/api/comparisons/{pk}/share", {"blind": False}, expect=403)  # names routes still blind to her
    api.call("post", f"/api/comparisons/{pk}/verdict", {"winner": "nobody"}, expect=400)
    api.call("post", f"/api/comparisons/{pk}/verdict", {"winner": first}, expect=200)
    api.call("get", f"/api/comparisons/{pk}/review", expect=200)
    api.call("post", f"/api/results/{first}/rating", {"thumb": None}, expect=200)

    # Share links.
    link = api.call("post", f"/api/comparisons/{pk}/share", {"vote": True, "expires_in_hours": 24}, expect=201).json()
    api.call("post", f"/api/comparisons/{pk}/share", None, expect=201)
    api.call("post", f"/api/comparisons/{pk}/share", {"expires_in_hours": -1}, expect=400)
    link_url = link["api_url"].replace("http://testserver", "")
    api.call("get", link_url, expect=200)
    api.call("delete", link_url, expect=204)

    # Leaderboard, prompt sets, batches.
    api.call("get", "/api/leaderboard", expect=200)
    api.call("get", "/api/leaderboard?from=2020-01-01&quality=low&size=square", expect=200)
    api.call("get", "/api/leaderboard?from=soon", expect=400)
    api.call("get", "/api/prompt-sets", expect=200)
    saved = api.call("post", "/api/prompts", {"text": "a sign that reads OPEN", "set": "Signs", "title": "open"},
                     expect=201).json()
    api.call("post", "/api/prompts", {"text": " "}, expect=400)
    api.call("delete", f"/api/prompts/{saved['prompt']['id']}", expect=204)
    api.call("delete", f"/api/prompt-sets/{saved['prompt_set']['id'].removeprefix('set-')}", expect=204)
    batch = api.call("post", "/api/batches", {"prompt_set": "typography", "routes": ["sandbox:fast"],
                                               "params": {"quality": "low"}}, expect=201).json()
    api.call("post", "/api/batches", {"prompt_set": "nothing", "routes": ["sandbox:fast"]}, expect=400)
    api.call("get", "/api/batches", expect=200)
    api.call("get", f"/api/batches/{batch['id']}", expect=200)
    api.call("post", f"/api/batches/{batch['id']}/cancel", expect=200)
    api.call("get", "/api/openapi.json", expect=200)

    # Refusals: 404 for bob's, 403 for a viewer, 405 for another method.
    api.call("get", f"/api/comparisons/{pk}/verdict", expect=405)
    api.call("get", "/api/comparisons/999999", expect=404)
    vic = django_user_model.objects.create_user("vic")
    Membership.objects.create(team_id=team, user=vic, role=Role.VIEWER)
    viewer = Checker(client, ApiToken.issue(vic)[1])
    viewer.call("post", f"/api/comparisons/{pk}/verdict", {"winner": "tie"}, expect=403)
    viewer.call("get", f"/api/teams/{team}/credentials", expect=403)
    stranger = Checker(client, "not-a-token")
    stranger.call("get", "/api/teams", expect=401)

    check_benchmarks(api, viewer, Checker(client, ApiToken.issue(bob)[1]), team)

    described = {(m, url) for url, methods in api.document["paths"].items() for m in methods}
    assert described - api.seen == set(), "operations never answered 2xx here"


def check_benchmarks(api, viewer, other, team):
    """The benchmark operations with real data: made, listed, run (its batch executed and
    checked, the run judged), changed, refused, deleted; a viewer's and another team's refusals."""
    body = {"name": "Nightly", "routes": ["sandbox:fast", "sandbox:steady"], "prompts": ["a red fox", "a blue car"],
            "params": {"size": "1024x1024", "quality": "low", "n": 1}, "repeats": 2, "schedule": "0 */6 * * *"}
    bench = api.call("post", "/api/benchmarks", body, expect=201).json()
    run_url = f"/api/benchmarks/{bench['id']}/run"
    api.call("post", "/api/benchmarks", {**body, "schedule": "61 * * * *"}, expect=400)
    api.call("post", "/api/benchmarks", {**body, "team": 999999}, expect=400)
    keyed = {"Idempotency-Key": "doc-bench-1"}
    api.call("post", "/api/benchmarks", {**body, "name": "Keyed"}, expect=201, headers=keyed)
    api.call("post", "/api/benchmarks", {**body, "name": "Keyed"}, expect=201, headers=keyed)  # replayed
    api.call("post", "/api/benchmarks", {**body, "name": "Other"}, expect=422, headers=keyed)
    api.call("get", "/api/benchmarks", expect=200)
    api.call("get", f"/api/benchmarks?team={team}", expect=200)
    api.call("get", f"/api/benchmarks/{bench['id']}", expect=200)  # no runs yet

    run = api.call("post", run_url, expect=201, headers={"Idempotency-Key": "doc-bench-run"}).json()
    api.call("post", run_url, expect=201, headers={"Idempotency-Key": "doc-bench-run"})  # replayed
    api.call("post", run_url, expect=400, headers={"Idempotency-Key": "two words"})
    assert run["status"] == "started"
    for result in Result.objects.filter(comparison__batch_item__batch=run["batch"], status=Status.QUEUED):
        execution.execute_result(result.pk)
        checks.run_checks(result.pk)
    benchmarks.finish_runs()
    # Drift itself is tested in tests/benchmarks; these two rows give the alerts' shape real values.
    BenchmarkAlert.objects.create(benchmark_id=bench["id"], route_key="sandbox:fast", metric="latency_ms",
                                  opened_by_id=run["id"], baseline=1200.0, current=1800.0, p_value=0.004,
                                  message="sandbox:fast: median latency 1.20 s → 1.80 s")
    BenchmarkAlert.objects.create(benchmark_id=bench["id"], route_key="sandbox:steady", metric="image_signature",
                                  opened_by_id=run["id"], baseline=0.0, current=0.5, p_value=None,
                                  message="sandbox:steady: the image signature changed", closed_at=timezone.now())
    got = api.call("get", f"/api/benchmarks/{bench['id']}", expect=200).json()
    assert got["runs"][0]["status"] == "done" and got["series"]["24h"]["sandbox:fast"]["points"]
    assert {a["p_value"] is None for a in got["alerts"]} == {True, False}

    api.call("patch", f"/api/benchmarks/{bench['id']}", {"schedule": None, "repeats": 1}, expect=200)
    api.call("patch", f"/api/benchmarks/{bench['id']}", {"repeats": 0}, expect=400)
    api.call("patch", f"/api/benchmarks/{bench['id']}", {"team": team}, expect=400)

    # A run refused: its prompt set is gone by the time it runs.
    saved = api.call("post", "/api/prompts", {"text": "a sign that reads SALE", "set": "Bench"}, expect=201).json()
    gone = api.call("post", "/api/benchmarks", {**{k: v for k, v in body.items() if k != "prompts"},
                                                 "name": "Gone", "prompt_set": saved["prompt_set"]["id"]},
                    expect=201).json()
    api.call("delete", f"/api/prompt-sets/{saved['prompt_set']['id'].removeprefix('set-')}", expect=204)
    refused = api.call("post", f"/api/benchmarks/{gone['id']}/run", expect=201).json()
    assert refused["status"] == "refused" and refused["reason"] and refused["batch"] is None
    api.call("get", f"/api/benchmarks/{gone['id']}", expect=200)

    for checker in (viewer, other):
        expect = 403 if checker is viewer else 404
        checker.call("post", run_url, expect=expect)
        checker.call("patch", f"/api/benchmarks/{bench['id']}", {"repeats": 3}, expect=expect)
        checker.call("delete", f"/api/benchmarks/{bench['id']}", expect=expect)
    viewer.call("get", f"/api/benchmarks/{bench['id']}", expect=200)
    viewer.call("post", "/api/benchmarks", {**body, "team": team}, expect=403)
    other.call("get", f"/api/benchmarks/{bench['id']}", expect=404)
    other.call("get", f"/api/benchmarks?team={team}", expect=404)
    api.call("get", "/api/benchmarks?team=abc", expect=400)
    api.call("put", f"/api/benchmarks/{bench['id']}", body, expect=405)
    api.call("delete", f"/api/benchmarks/{bench['id']}", expect=204)
    api.call("get", f"/api/benchmarks/{bench['id']}", expect=404)


def test_the_docs_page_lists_every_operation(alice_client):
    page = alice_client.get("/api/docs").content.decode()
    for url, methods in openapi.document()["paths"].items():
        for method in methods:
            assert f"<code>{method.upper()} {url}</code>" in page
    assert 'id="schema-Comparison"' in page


def test_cost_source_is_described_with_the_words_the_results_use():
    from compare.models import CostSource

    schema = openapi.document()["components"]["schemas"]["Result"]["properties"]["cost_source"]
    assert set(schema["oneOf"][0]["enum"] if "oneOf" in schema else schema["enum"]) - {None} == set(CostSource.values)
