"""Batch runs: a whole prompt set as one comparison per prompt, validated like a comparison (route
capabilities, viewers, blind flags) with the budget checked for the whole batch; the prompts ×
routes matrix (cells, footers, polling, blind rows); the JSON API; and team isolation."""

import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from compare.batches.models import Batch
from compare.batches.prompt_sets import find_set
from compare.checks.models import ResultCheck
from compare.engine import execution
from compare.models import Comparison, Result, Status
from compare.review.models import Verdict, VerdictKind
from compare.teams.models import ApiToken, Membership, Role, Team

from tests.helpers import HTMX

pytestmark = pytest.mark.django_db

ROUTES = ["sandbox:fast", "sandbox:steady"]


def run_batch(client, prompt_set="typography", routes=ROUTES, **fields):
    data = {"prompt": "", "prompt_set": prompt_set, "routes": routes, "size": "square", "quality": "low",
            "output_format": "png", "n": "1", "use_prompt_sizes": "on", **fields}
    return client.post("/batches/new", {k: v for k, v in data.items() if v is not None})


def execute_all(batch):
    for result in Result.objects.filter(comparison__batch_item__batch=batch, status=Status.QUEUED):
        execution.execute_result(result.pk)


def api(client, method, url, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if method == "post":
        return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)
    return client.get(url, headers=headers)


@pytest.fixture
def alices_batch(alice_client):
    response = run_batch(alice_client)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Batch.objects.get()


def test_running_a_set_makes_one_comparison_per_prompt_in_order(alice, alice_client):
    response = run_batch(alice_client, batch_name="Typography vs sandbox")
    batch = Batch.objects.get()
    assert response["Location"] == f"/batches/{batch.pk}/"
    assert batch.team == Team.personal_for(alice) and batch.created_by == alice
    assert batch.name == "Typography vs sandbox" and batch.source == "typography"
    assert batch.source_name == "Dense text and typography" and batch.route_keys == ROUTES
    items = list(batch.items.select_related("comparison"))
    expected = find_set("typography", None).prompts
    assert [i.comparison.prompt for i in items] == [p.text for p in expected]
    assert [i.title for i in items] == [p.title for p in expected] and [i.position for i in items] == list(range(6))
    for item in items:
        assert item.comparison.route_keys == ROUTES and item.comparison.params["size"] == "1024x1024"
        assert item.comparison.team == batch.team and not item.comparison.blind
    assert Result.objects.filter(status=Status.QUEUED).count() == 12


def test_the_matrix_fills_in_and_stops_polling_when_done(alices_batch, alice_client):
    url = f"/batches/{alices_batch.pk}/"
    running = alice_client.get(url).content.decode()
    assert "Running: 0 of 12 cells finished" in running and 'hx-trigger="every 1s, sse:change"' in running
    assert running.count('class="cell status-queued"') == 12
    partial = alice_client.get(url + "?part=matrix", headers=HTMX)
    assert partial.status_code == 200 and partial.content.decode().lstrip().startswith('<section id="matrix"')

    execute_all(alices_batch)
    partial = alice_client.get(url + "?part=matrix", headers=HTMX)
    assert partial.status_code == 200  # every cell finished, their automatic checks not yet: still polling
    assert partial.content.decode().count("checking…") == 12
    for result in Result.objects.filter(status=Status.SUCCEEDED):
        ResultCheck.objects.create(result=result, **ResultCheck.about(result))  # checks done (what they found is test_checks.py's)
    partial = alice_client.get(url + "?part=matrix", headers=HTMX)
    assert partial.status_code == 286  # htmx stops polling
    html = alice_client.get(url).content.decode()
    assert "Done: 12 of 12 cells finished" in html and 'hx-trigger' not in html
    assert "from prompt" not in html and "own size" not in html  # the typography set suggests no size
    assert html.count('class="cell status-succeeded"') == 12
    assert html.count('loading="lazy"') == 12 and html.count("/thumbnail") == 12
    assert html.count("6 of 6 succeeded") == 2  # one footer per route
    assert html.count("$0.00 <span class=\"src\"") >= 12 and html.count(">billed</span>") >= 12  # the sandbox bills $0
    assert "est." not in html.split("<tbody>")[1].split("</tbody>")[0]  # the sandbox's costs are its own
    first = alices_batch.items.first().comparison
    assert f'href="/comparisons/{first.pk}/"' in html  # each row links to its comparison
    assert re.search(r"median [\d,]+ ms", html)


def test_cells_show_failures_with_their_reason_and_estimates_as_est(alices_batch, alice_client):
    execute_all(alices_batch)
    first, second = Result.objects.filter(comparison=alices_batch.items.first().comparison)
    Result.objects.filter(pk=first.pk).update(status=Status.TIMED_OUT, error="No answer within 600 s.",
                                              latency_ms=600000, cost_usd=None, cost_source="unknown")
    Result.objects.filter(pk=second.pk).update(cost_usd=Decimal("0.0420"), cost_source="estimated")
    html = alice_client.get(f"/batches/{alices_batch.pk}/").content.decode()
    assert 'class="cell status-timed_out"' in html and "No answer within 600 s." in html
    assert "$0.042 <span class=\"src\">est.</span>" in html and "cost unknown" in html
    assert "5 of 6 succeeded" in html


def test_a_prompts_own_size_overrides_the_batch_size_when_asked(alice_client):
    run_batch(alice_client, prompt_set="formats")
    sized = Batch.objects.get()
    sizes = [i.comparison.params["size"] for i in sized.items.all()]
    assert sizes == ["1024x1536"] * 3 + ["1536x1024"] * 3 and all(i.size_from_prompt for i in sized.items.all())
    html = alice_client.get(sized.get_absolute_url()).content.decode()
    assert "1024x1536 · from prompt" in html and "6 prompts of this set suggest their own size" in html
    assert "ran at that size instead of 1024x1024" in html
    run_batch(alice_client, prompt_set="formats", use_prompt_sizes=None)
    plain = Batch.objects.exclude(pk=sized.pk).get()
    assert {i.comparison.params["size"] for i in plain.items.all()} == {"1024x1024"}


def test_route_capabilities_are_checked_for_every_prompt_and_nothing_runs(alice_client):
    response = run_batch(alice_client, size="custom", width="1000", height="704")  # steady: presets only
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="batch-errors"' in html and "sandbox:steady cannot do" in html
    assert "(prompts" not in html.split('id="batch-errors"')[1].split("</ul>")[0]  # said once, for every prompt
    assert not Comparison.objects.exists() and not Batch.objects.exists()
    assert re.search(r'value="sandbox:fast" id="route-\d+"\s+checked', html)  # the form keeps what was posted
    assert '<option value="custom" selected>' in html


def test_the_budget_covers_the_whole_batch_and_is_refused_with_numbers(alice, alice_client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.50")  # one comparison ($0.211 high square) fits, six do not
    team.save()
    response = run_batch(alice_client, routes=["openai:gpt-image-2"], quality="high")
    html = response.content.decode()
    assert response.status_code == 400
    assert "Over budget: this batch of 6 prompts × 1 route is estimated at $1.2660" in html
    assert "spent $0.0000 of its $0.50 this month, $0.5000 left" in html
    assert not Comparison.objects.exists() and not Batch.objects.exists()
    assert run_batch(alice_client).status_code == 302  # the free sandbox still runs


def test_blind_batches_show_masked_rows_until_each_verdict(alice, alice_client):
    run_batch(alice_client, blind="on")
    batch = Batch.objects.get()
    execute_all(batch)
    assert batch.blind and all(i.comparison.blind for i in batch.items.all())
    html = alice_client.get(batch.get_absolute_url()).content.decode()
    assert html.count('class="cell masked"') == 6 and "sandbox:fast" not in html and "sandbox:steady" not in html
    assert "Route 1" in html and "Review comparison #" in html and "/thumbnail" not in html
    body = api(alice_client, "get", f"/api/batches/{batch.pk}", ApiToken.issue(alice)[1]).json()
    assert body["routes"] is None and body["columns"] is None and all(r["cells"] is None for r in body["rows"])
    assert "sandbox:" not in json.dumps(body)

    first = batch.items.first().comparison
    Verdict.objects.create(comparison=first, user=alice, kind=VerdictKind.TIE)
    html = alice_client.get(batch.get_absolute_url()).content.decode()
    assert html.count('class="cell masked"') == 5 and html.count('class="cell status-succeeded"') == 2
    assert "sandbox:fast" in html and "1 of 1 succeeded" in html  # footers count the reviewed row only
    csv_text = alice_client.get(f"/batches/{batch.pk}/matrix.csv").content.decode()
    assert len(csv_text.strip().splitlines()) == 1 + 2  # masked rows left out


def test_a_viewer_cannot_run_a_batch(alice, bob):
    team = Team.personal_for(alice)
    Membership.objects.create(team=team, user=bob, role=Role.VIEWER)
    client = Client()
    client.force_login(bob)
    client.post("/team/switch", {"team": team.pk})
    response = run_batch(client)
    assert response.status_code == 400 and "viewer" in response.content.decode()
    assert not Batch.objects.exists()


def test_edits_and_missing_csrf_are_refused(alice, alice_client):
    assert "remove the reference images" in run_batch(alice_client, references_from="1").content.decode()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert run_batch(client).status_code == 403
    assert not Batch.objects.exists()


def test_the_batch_list_and_nav(alices_batch, alice_client):
    html = alice_client.get("/batches/").content.decode()
    assert f'href="/batches/{alices_batch.pk}/"' in html and "Dense text and typography" in html
    assert "running: 12 of 12 cells unfinished" in html
    assert 'href="/batches/">Batches</a>' in alice_client.get("/").content.decode()
    execute_all(alices_batch)
    assert "done: 12 cells" in alice_client.get("/batches/").content.decode()


def test_csv_export_has_one_line_per_cell(alices_batch, alice_client):
    execute_all(alices_batch)
    response = alice_client.get(f"/batches/{alices_batch.pk}/matrix.csv")
    lines = response.content.decode().strip().splitlines()
    assert response["Content-Type"].startswith("text/csv") and len(lines) == 13
    assert lines[0].startswith("position,title,comparison,size,route,status,latency_ms,cost_usd,cost_source")
    assert ",sandbox:fast,succeeded," in lines[1]


# --- API --------------------------------------------------------------------------------------------


def test_api_creates_a_batch_and_reports_each_cell(alice, client, alice_token):
    body = {"prompt_set": "product", "routes": ROUTES, "params": {"size": "1024x1024", "quality": "low", "n": 1},
            "name": "API run"}
    response = api(client, "post", "/api/batches", alice_token, body)
    assert response.status_code == 201, response.content
    created = response.json()
    batch = Batch.objects.get(pk=created["id"])
    assert created["url"].endswith(f"/batches/{batch.pk}/") and created["api_url"].endswith(f"/api/batches/{batch.pk}")
    assert created["comparison_ids"] == [i.comparison_id for i in batch.items.all()] and len(created["comparison_ids"]) == 5
    assert created["status"] == "running" and created["name"] == "API run"
    assert created["rows"][0]["cells"][0]["status"] == "queued"

    execute_all(batch)
    done = api(client, "get", created["api_url"], alice_token).json()
    assert done["status"] == "done" and done["routes"] == ROUTES and len(done["rows"]) == 5
    cell = done["rows"][0]["cells"][1]
    assert cell["route"] == "sandbox:steady" and cell["status"] == "succeeded"
    assert cell["latency_ms"] is not None and cell["cost_source"] == "billed" and cell["images"]
    assert done["columns"][0] == {**done["columns"][0], "route": "sandbox:fast", "succeeded": 5, "finished": 5}
    assert api(client, "get", "/api/batches", alice_token).json()["batches"][0]["id"] == batch.pk


@pytest.mark.parametrize("body,field", [
    ({"prompt_set": "nope", "routes": ROUTES}, "prompt_set"),
    ({"prompt_set": "typography", "routes": ["no:such"]}, "routes"),
    ({"prompt_set": "typography", "routes": ROUTES, "prompt": "x"}, "prompt"),
    ({"prompt_set": "typography", "routes": ROUTES, "params": {"colour": "red"}}, "params"),
    ({"prompt_set": "typography", "routes": ROUTES, "use_prompt_sizes": "yes"}, "use_prompt_sizes"),
])
def test_api_refuses_bad_batches_and_creates_nothing(client, alice_token, body, field):
    response = api(client, "post", "/api/batches", alice_token, body)
    errors = response.json()["errors"]
    assert response.status_code == 400 and (field in errors or any(field in m for m in errors.get("__all__", [])))
    assert not Batch.objects.exists() and not Comparison.objects.exists()


def test_api_budget_refusal_has_the_numbers(alice, client, alice_token, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("1.00")
    team.save()
    body = {"prompt_set": "typography", "routes": ["openai:gpt-image-2"], "params": {"quality": "high"}}
    response = api(client, "post", "/api/batches", alice_token, body)
    assert response.status_code == 400
    assert "this batch of 6 prompts × 1 route is estimated at $1.2660" in response.json()["errors"]["__all__"][0]


# --- Isolation ------------------------------------------------------------------------------------


def test_another_team_gets_404_for_the_batch_and_cannot_run_its_sets(alices_batch, alice_client, bob):
    alice_client.post("/prompts/save", {"prompt": "alice's secret typography", "save_set": "Alice set"})
    from compare.batches.models import PromptSet

    alice_set = PromptSet.objects.get()
    client = Client()
    client.force_login(bob)
    for url in (f"/batches/{alices_batch.pk}/", f"/batches/{alices_batch.pk}/?part=matrix",
                f"/batches/{alices_batch.pk}/matrix.csv"):
        assert client.get(url, headers=HTMX).status_code == 404, url
    listing = client.get("/batches/").content.decode()
    assert alices_batch.name not in listing and f"/batches/{alices_batch.pk}/" not in listing
    token = ApiToken.issue(bob)[1]
    assert api(client, "get", f"/api/batches/{alices_batch.pk}", token).status_code == 404
    assert api(client, "get", "/api/batches", token).json()["batches"] == []
    response = api(client, "post", "/api/batches", token, {"prompt_set": alice_set.ref, "routes": ROUTES})
    assert response.status_code == 400 and "prompt_set" in response.json()["errors"]
    page = run_batch(client, prompt_set=alice_set.ref)
    assert page.status_code == 400 and "secret typography" not in page.content.decode()
    assert Batch.objects.count() == 1 and not Comparison.objects.filter(created_by=bob).exists()


def test_a_team_set_runs_as_a_batch(alice_client):
    for text in ("first own prompt", "second own prompt"):
        alice_client.post("/prompts/save", {"prompt": text, "save_set": "Own"})
    from compare.batches.models import PromptSet

    own = PromptSet.objects.get()
    assert run_batch(alice_client, prompt_set=own.ref).status_code == 302
    batch = Batch.objects.get()
    assert batch.source == own.ref and batch.source_name == "Own"
    assert [i.comparison.prompt for i in batch.items.all()] == ["first own prompt", "second own prompt"]


def test_the_batch_list_shows_the_newest_first(alices_batch, alice_client):
    run_batch(alice_client, prompt_set="product")
    html = alice_client.get("/batches/").content.decode()
    assert html.index("Product shots") < html.index("Dense text and typography")


def test_cancelling_a_batch_ends_every_queued_cell_and_only_members_may(alices_batch, alice_client, alice, bob):
    Membership.objects.create(team=alices_batch.team, user=bob, role=Role.VIEWER)
    viewer = Client()
    viewer.force_login(bob)
    viewer.post("/team/switch", {"team": alices_batch.team.pk})
    viewer.post(f"/batches/{alices_batch.pk}/cancel")
    cells = Result.objects.filter(comparison__batch_item__batch=alices_batch)
    assert not cells.filter(status=Status.CANCELLED).exists()  # a viewer cannot
    page = alice_client.get(f"/batches/{alices_batch.pk}/").content.decode()
    assert 'id="batch-cancel"' in page and 'data-title="0/12 · Batch' in page
    response = alice_client.post(f"/batches/{alices_batch.pk}/cancel", follow=True)
    assert "Cancelled 12 queued cell(s)" in response.content.decode()
    assert cells.count() == 12 and cells.filter(status=Status.CANCELLED).count() == 12
    page = alice_client.get(f"/batches/{alices_batch.pk}/").content.decode()
    assert 'id="batch-cancel"' not in page and 'data-title="done · Batch' in page


def test_the_form_shows_what_the_set_would_cost_as_a_batch(alice_client):
    from compare import catalog
    from providers.base import ImageRequest, parse_size

    prompt_set = find_set("formats", None)
    draft = ImageRequest(prompt="", quality="high")
    route = next(c.route for c in catalog.route_choices(draft) if c.estimate_usd)  # a priced route
    expected = Decimal(0)
    for prompt in prompt_set.prompts:
        width, height = parse_size(prompt.size or "1024x1024")
        expected += catalog.estimate(route, ImageRequest(prompt="", width=width, height=height, quality="high"))
    response = alice_client.get("/", {"routes": [route.key], "size": "square", "quality": "high", "n": "1",
                                      "prompt_set": "formats", "use_prompt_sizes": "on"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert f"({len(prompt_set.prompts)} prompts × 1 route)" in html
    from compare.templatetags.compare_tags import usd

    assert expected > 0 and f"<strong>{usd(expected)}</strong>" in html.split('id="batch-estimate"')[1]
