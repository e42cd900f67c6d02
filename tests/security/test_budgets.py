"""Attacks on a team's monthly budget (issue 11, item 3), each on the path it used to leak through:
duplicate routes, Run again, unpriced routes, two submits at once, batches. Then the promises
that keep the numbers honest: a reservation settles to what the call really cost, team prices,
and the budget JSON API."""

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from compare.batches.models import Batch
from compare.engine import execution
from compare.models import Comparison, Result, Status
from compare.teams.models import Membership, Role, Team, TeamPrice

from tests.compare import factories
from tests.helpers import postgres_database

pytestmark = pytest.mark.django_db

OPENAI = "openai:gpt-image-2"  # high 1024x1024: $0.211 a call in the catalog
UNPRICED = "fal:fal-ai/flux/dev"  # a fal model the catalog has no price for
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("FAL_KEY", "fal-test")
    monkeypatch.setenv("FAL_MODELS", "fal-ai/flux/dev")


def budget(user, usd):
    team = Team.personal_for(user)
    team.monthly_budget_usd = Decimal(usd)
    team.save()
    return team


def submit(client, routes, n="1", **extra):
    return client.post("/", {"prompt": "x", "routes": routes, "size": "square", "quality": "high",
                             "output_format": "png", "n": n, **extra})


def api_post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_duplicate_routes_count_once_each_against_the_budget(alice, alice_client, keys):
    budget(alice, "0.50")
    response = submit(alice_client, [OPENAI, OPENAI, OPENAI])  # 3 calls: $0.633, not $0.211
    assert response.status_code == 400
    assert "Over budget: this comparison is estimated at $0.6330 for 3 calls" in response.content.decode()
    response = api_post(alice_client, "/api/comparisons",
                        {"prompt": "x", "routes": [OPENAI, OPENAI, OPENAI], "params": {"quality": "high"}})
    assert response.status_code == 400 and "Over budget" in response.json()["errors"]["__all__"][0]
    assert submit(alice_client, [OPENAI], n="3").status_code == 400  # n images are n times the price
    assert not Comparison.objects.exists()
    assert submit(alice_client, [OPENAI, OPENAI]).status_code == 302  # $0.422 fits


def test_run_again_is_budget_checked(alice, alice_client, keys):
    earlier = factories.comparison(alice, routes=[OPENAI], quality="high")  # $0.211 reserved
    budget(alice, "0.30")
    response = alice_client.post(f"/comparisons/{earlier.pk}/rerun", follow=True)
    assert "Cannot run again: Over budget" in response.content.decode()
    response = api_post(alice_client, f"/api/comparisons/{earlier.pk}/rerun", {})
    assert response.status_code == 400
    assert "Over budget: this comparison is estimated at $0.2110" in response.json()["errors"]["__all__"][0]
    assert Comparison.objects.count() == 1
    budget(alice, "1.00")
    response = api_post(alice_client, f"/api/comparisons/{earlier.pk}/rerun", {})
    assert response.status_code == 201
    again = Comparison.objects.get(pk=response.json()["id"])
    assert again.rerun_of == earlier and again.route_keys == [OPENAI] and again.params["quality"] == "high"


def test_unpriced_route_is_not_free_under_a_budget(alice, alice_client, keys, settings):
    settings.UNPRICED_CALL_CEILING_USD = 0.50
    team = budget(alice, "0.40")
    response = submit(alice_client, [UNPRICED])
    html = response.content.decode()
    assert response.status_code == 400
    assert f"{UNPRICED} has no known price: counted at the $0.50-per-image ceiling" in html
    assert "unpriced ceiling of $0.50 per image" in html  # and the estimate area says so beforehand
    assert not Comparison.objects.exists()
    # The team enters its own price for the route: used for the estimate and the reservation.
    TeamPrice.objects.create(team=team, route_key=UNPRICED, usd_per_image=Decimal("0.03"), entered_by=alice)
    page = alice_client.get("/", {"routes": [UNPRICED], "n": "2"}, headers={"HX-Request": "true"}).content.decode()
    assert "$0.06" in page and "team price, " in page
    assert submit(alice_client, [UNPRICED]).status_code == 302
    result = Result.objects.get()
    assert (result.estimated_cost_usd, result.charge_usd) == (Decimal("0.03"), Decimal("0.03"))


def test_batch_over_budget_is_refused(alice, alice_client, keys, settings):
    settings.UNPRICED_CALL_CEILING_USD = 0.50
    budget(alice, "1.00")
    response = api_post(alice_client, "/api/batches", {"prompt_set": "typography", "routes": [UNPRICED],
                                                       "params": {"quality": "high"}})
    assert response.status_code == 400
    message = response.json()["errors"]["__all__"][0]
    assert message.startswith("Over budget: this batch of ") and "no known price" in message
    response = alice_client.post("/batches/new", {"prompt_set": "typography", "routes": [OPENAI, OPENAI],
                                                  "size": "square", "quality": "high", "output_format": "png",
                                                  "n": "1", "use_prompt_sizes": ""})
    assert response.status_code == 400 and "Over budget: this batch of" in response.content.decode()
    assert not Batch.objects.exists() and not Comparison.objects.exists()


def test_the_command_line_and_edit_and_run_are_budget_checked(alice, alice_client, keys):
    from django.core.management import CommandError, call_command

    budget(alice, "0.50")
    with pytest.raises(CommandError, match=r"Over budget: this comparison is estimated at \$0.6330 for 3 calls"):
        call_command("compare", "a fox", "--user", "alice", "--quality", "high",
                     *["--route", OPENAI] * 3)
    earlier = factories.comparison(alice, routes=["sandbox:fast"])
    assert alice_client.get(f"/?from={earlier.pk}").status_code == 200  # "Edit & run" prefills the form ...
    response = submit(alice_client, [OPENAI, OPENAI, OPENAI], references_from="")  # ... which checks it
    assert response.status_code == 400 and "Over budget" in response.content.decode()
    assert Comparison.objects.count() == 1


# --- Two submits at once ---------------------------------------------------------------------

CHILD = r"""
import os, sys, time
from pathlib import Path
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from compare import services
from compare.forms import ComparisonForm, _as_querydict
from compare.models import Comparison
from compare.teams.models import Team

mode, work = sys.argv[1], Path(sys.argv[2])
if mode == "setup":
    call_command("migrate", verbosity=0)
    alice = get_user_model().objects.create_user("alice", password="x")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = "0.30"
    team.save()
elif mode == "submit":
    alice = get_user_model().objects.get(username="alice")
    team = Team.personal_for(alice)
    form = ComparisonForm(data=_as_querydict({"prompt": "x", "routes": ["openai:gpt-image-2"], "size": "1024x1024",
                                              "quality": "high", "output_format": "png", "n": 1}),
                          team=team, user=alice)
    assert form.is_valid(), form.errors  # each passes the form's check: nothing is reserved yet
    (work / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (work / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        services.create_from_form(form, alice, team)
        print("created")
    except Exception as refused:  # OverBudget is the one expected
        print("refused:", type(refused).__name__, refused)
else:
    print(Comparison.objects.count())
"""


def race(tmp_path, extra_env):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path / "var"),
           "CELERY_BROKER_URL": "memory://", "OPENAI_API_KEY": "sk-test", "SANDBOX_LATENCY_SCALE": "0",
           "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    env.update(extra_env)

    def child(mode):
        return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(tmp_path)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    setup = child("setup")
    assert setup.wait(timeout=180) == 0, setup.stderr.read()
    submits = [child("submit"), child("submit")]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < 2:
        assert time.monotonic() < deadline and all(p.poll() is None for p in submits), \
            [p.stderr.read() for p in submits if p.poll() is not None]
        time.sleep(0.05)
    (tmp_path / "go").touch()  # both have passed the form's check; now both create at once
    outputs = []
    for process in submits:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    count = child("count").communicate(timeout=120)[0].strip()
    return sorted(outputs), count


def check_race(outputs, count):
    assert outputs[0] == "created" and outputs[1].startswith("refused: OverBudget Over budget"), outputs
    assert count == "1"


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_once_cannot_both_pass(tmp_path):
    """Two processes on the project's own SQLite settings (WAL, IMMEDIATE transactions)."""
    check_race(*race(tmp_path, {}))


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_submits_at_once_cannot_both_pass_on_postgresql(tmp_path):
    """The same on PostgreSQL (the team row locked with SELECT ... FOR UPDATE), in a database of its own."""
    with postgres_database("ipc_money") as (url, _):
        check_race(*race(tmp_path, {"DATABASE_URL": url}))


# --- Reservations settle to what the call really cost ----------------------------------------


def test_a_reservation_becomes_the_real_cost_or_zero_when_nothing_was_billed(alice, keys):
    team = Team.personal_for(alice)
    billed, refused, cancelled = (factories.comparison(alice, routes=[OPENAI], quality="high").results.get()
                                  for _ in range(3))
    assert team.budget_state().reserved == Decimal("0.633")
    billed.claim(), refused.claim()
    billed.finish(Status.SUCCEEDED, cost_usd=Decimal("0.19"))
    refused.finish(Status.FAILED, error_code="auth", error="bad key")  # the provider refused: not billed
    cancelled.comparison.cancel()  # queued: never called
    state = team.budget_state()
    assert (state.spent, state.reserved) == (Decimal("0.19"), Decimal(0))


def test_a_call_that_may_have_been_billed_keeps_its_reservation(alice, keys, settings):
    settings.UNPRICED_CALL_CEILING_USD = 0.50
    timed_out = factories.comparison(alice, routes=[OPENAI], quality="high").results.get()
    unpriced = factories.comparison(alice, routes=[UNPRICED], quality="high").results.get()
    timed_out.claim(), unpriced.claim()
    timed_out.finish(Status.TIMED_OUT, error_code="timeout")
    unpriced.finish(Status.SUCCEEDED)  # no cost reported: it still counts at the ceiling
    assert Team.personal_for(alice).budget_state().spent == Decimal("0.711")


def test_a_finished_sandbox_call_runs_through_the_worker_and_settles(alice):
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    execution.execute_result(result.pk)
    result.refresh_from_db()
    assert result.status == Status.SUCCEEDED and result.charge_usd == 0


def test_free_calls_still_run_when_the_budget_is_spent(alice, alice_client, keys):
    spent = factories.comparison(alice, routes=[OPENAI], quality="high").results.get()
    spent.claim(), spent.finish(Status.SUCCEEDED, cost_usd=Decimal("0.60"))
    budget(alice, "0.50")
    assert submit(alice_client, [OPENAI]).status_code == 400
    assert submit(alice_client, ["sandbox:fast", "sandbox:fast"]).status_code == 302


# --- Team prices and the budget JSON API -----------------------------------------------------


def test_owners_enter_team_prices_on_the_team_page_and_members_cannot(alice, bob, alice_client, keys):
    team = Team.personal_for(alice)
    response = alice_client.post(f"/teams/{team.pk}/prices", {"route_key": OPENAI, "usd_per_image": "0.15"},
                                 follow=True)
    html = response.content.decode()
    assert "Team price for openai:gpt-image-2: $0.15 per image" in html and "by alice" in html
    assert alice_client.post(f"/teams/{team.pk}/prices", {"route_key": OPENAI, "usd_per_image": "-1"},
                             follow=True).content.decode().count("A price per image is an amount of USD") == 1
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    member = Client()
    member.force_login(bob)
    assert member.post(f"/teams/{team.pk}/prices", {"route_key": OPENAI, "usd_per_image": "0"}).status_code == 404
    assert TeamPrice.objects.get().usd_per_image == Decimal("0.15")
    comparison = factories.comparison(alice, routes=[OPENAI], quality="high")
    assert comparison.results.get().charge_usd == Decimal("0.15")


def test_the_budget_api_sets_and_reports_the_budget_for_owners_only(alice, bob, alice_client, keys):
    team = Team.personal_for(alice)
    factories.comparison(alice, routes=[OPENAI], quality="high")

    def put(client, body, pk=team.pk):
        return client.put(f"/api/teams/{pk}/budget", data=json.dumps(body), content_type="application/json")

    response = put(alice_client, {"monthly_usd": "12.50"})
    assert response.status_code == 200
    assert response.json() == {"team": {"id": team.pk, "name": team.name}, "monthly_usd": "12.5000",
                               "spent_usd": "0.0000", "reserved_usd": "0.2110", "left_usd": "12.2890"}
    assert put(alice_client, {"monthly_usd": "lots"}).status_code == 400
    assert "monthly_usd" in put(alice_client, {"monthly_usd": -1}).json()["errors"]
    assert put(alice_client, {"budget": 3}).status_code == 400
    assert put(alice_client, {"monthly_usd": None}).json()["monthly_usd"] is None
    other = Client()
    other.force_login(bob)
    assert put(other, {"monthly_usd": "99"}).status_code == 404  # not bob's team: nothing to see
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    assert put(other, {"monthly_usd": "99"}).status_code == 403
    team.refresh_from_db()
    assert team.monthly_budget_usd is None
