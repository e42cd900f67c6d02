"""Pages made easier to read (issue 16): team credentials grouped by provider with each value's
real state, the leaderboard's ranking said in a line, the compare command's full link."""

import httpx
import pytest
from django.test import Client

from providers.testing.openai import FakeOpenAI

from compare.engine import execution
from compare.teams import credentials
from compare.teams.models import Team

pytestmark = pytest.mark.django_db
KEY = "sk-alices-team-key-1234"


@pytest.fixture
def owner(alice, settings):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    client = Client()
    client.force_login(alice)
    return client


def page(client, team):
    return client.get(f"/teams/{team.pk}/credentials").content.decode()


def test_credentials_come_grouped_by_provider_each_in_its_real_state(owner, alice, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "fal-server-secret-5678")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    team = Team.personal_for(alice)
    owner.post(f"/teams/{team.pk}/credentials", {"name": "OPENAI_API_KEY", "value": KEY})
    owner.post(f"/teams/{team.pk}/credentials", {"name": "OPENAI_BASE_URL", "value": "https://fake-openai.test/v1"})
    html = page(owner, team)
    assert "<strong>openai</strong>" in html and "<strong>fal</strong>" in html
    row = lambda name: html[html.index(f'id="credential-{name}"'):].split("</li>")[0]  # noqa: E731
    assert "state team" in row("OPENAI_API_KEY") and "····1234" in row("OPENAI_API_KEY") and KEY not in html
    # A base URL is an address, shown as one, and typed into a URL field.
    assert "https://fake-openai.test/v1" in row("OPENAI_BASE_URL") and 'type="url"' in row("OPENAI_BASE_URL")
    # The server's key: said to be there, never shown.
    assert "state server" in row("FAL_KEY") and "5678" not in html
    assert "state unset" in row("REPLICATE_API_TOKEN")


def test_a_connection_test_answers_on_the_variables_own_row(owner, alice, monkeypatch):
    fake = FakeOpenAI(api_key=KEY)
    monkeypatch.setattr(credentials, "http_client",
                        lambda deadline=None, **kw: httpx.Client(transport=httpx.MockTransport(fake.handle)))
    team = Team.personal_for(alice)
    owner.post(f"/teams/{team.pk}/credentials", {"name": "OPENAI_API_KEY", "value": KEY})
    owner.post(f"/teams/{team.pk}/credentials", {"name": "OPENAI_BASE_URL", "value": "https://fake-openai.test/v1"})
    response = owner.post(f"/teams/{team.pk}/credentials/test", {"name": "OPENAI_API_KEY"})
    assert response["Location"].endswith("#credential-OPENAI_API_KEY")
    html = page(owner, team)
    row = html[html.index('id="credential-OPENAI_API_KEY"'):].split("</li>")[0]
    assert 'class="tested ok"' in row and "the key works" in row
    assert 'class="tested' not in page(owner, team)  # said once


def test_the_leaderboard_says_how_it_ranks_in_a_line_and_names_its_columns(alice_client):
    from compare.engine import execution
    from compare import services

    team = Team.personal_for(__import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model()
                             .objects.get(username="alice"))
    comparison = services.create_comparison(user=team.memberships.get().user, team=team, prompt="a fox",
                                            route_keys=["sandbox:fast", "sandbox:steady"],
                                            params={"size": "1024x1024", "quality": "low", "output_format": "png",
                                                    "n": 1, "seed": None})
    for result in comparison.results.all():
        execution.execute_result(result.pk)
    alice_client.post(f"/comparisons/{comparison.pk}/verdict", {"verdict": comparison.results.first().pk})
    html = alice_client.get("/leaderboard").content.decode()
    assert 'class="ranking-note"' in html and "low end of the likely range" in html
    assert ">Comparisons run<" in html and ">Entered<" not in html


def test_serve_ends_with_the_url_and_the_login_in_a_box_after_the_worker_is_ready():
    import io
    import threading

    from compare.management.commands.serve import Command, box

    framed = box(["Image Provider Compare is running at http://127.0.0.1:8000/", "Log in as 'admin' with password 'x'"])
    rows = framed.strip().splitlines()
    assert rows[0] == rows[-1] == "+" + "-" * 61 + "+" and all(len(row) == len(rows[0]) for row in rows)

    command = Command(stdout=io.StringIO(), stderr=io.StringIO())
    command.workers, command.worker_ready = [object()], threading.Event()
    said = threading.Thread(target=command.say_when_ready, args=(["Log in as 'admin'"],))
    said.start()
    said.join(0.3)
    assert said.is_alive() and command.stdout.getvalue() == ""  # still waiting for the worker's banner
    command.worker_ready.set()
    said.join(10)
    assert "| Log in as 'admin' |" in command.stdout.getvalue()


def test_the_compare_command_prints_a_full_link_or_says_how_to_get_one(alice, settings, capsys):
    from django.core.management import call_command

    settings.SITE_URL = ""
    call_command("compare", "a fox", "--route", "sandbox:fast", "--user", "alice")
    out = capsys.readouterr().out
    assert "/comparisons/" in out and "set SITE_URL" in out
    settings.SITE_URL = "https://compare.example.org"
    call_command("compare", "a fox", "--route", "sandbox:fast", "--user", "alice")
    assert "https://compare.example.org/comparisons/" in capsys.readouterr().out


def test_a_newcomer_is_offered_the_sandbox_routes_in_one_click(alice_client, alice):
    from compare import services

    html = alice_client.get("/").content.decode()
    assert "New here?" in html and 'href="?try=sandbox#route-picker"' in html
    ticked = alice_client.get("/?try=sandbox").content.decode()
    import re

    assert re.search(r'value="sandbox:fast" id="route-\d+"\s+checked', ticked) and "New here?" not in ticked
    services.create_comparison(user=alice, team=Team.personal_for(alice), prompt="a fox", route_keys=["sandbox:fast"],
                               params={"size": "1024x1024", "quality": "low", "output_format": "png", "n": 1, "seed": None})
    assert "New here?" not in alice_client.get("/").content.decode()  # not once the team has run something


def test_the_budget_warning_shows_beside_the_estimate_before_submit(alice_client, alice):
    from decimal import Decimal

    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.05")
    team.save()
    params = {"prompt": "a fox", "size": "square", "quality": "high", "output_format": "png", "n": "4"}
    over = alice_client.get("/", {**params, "routes": ["openai:gpt-image-2"]}, headers={"HX-Request": "true"})
    assert "Over budget: these routes would reserve" in over.content.decode()
    free = alice_client.get("/", {**params, "routes": ["sandbox:fast"]}, headers={"HX-Request": "true"})
    assert "Over budget" not in free.content.decode()  # free calls take no team past its budget


def _changes_run(team, previous, fast_ms):
    from decimal import Decimal

    from compare.models import Comparison, Result

    comparison = Comparison.objects.create(prompt="a fox", team=team, rerun_of=previous,
                                           params={"size": "1024x1024", "quality": "low", "n": 1})
    Result.objects.create(comparison=comparison, position=0, route_key="sandbox:fast", route_label="fast",
                          status="succeeded", latency_ms=fast_ms, cost_usd=Decimal("0.04"), cost_source="estimated")
    return comparison


def test_what_changed_calls_one_run_against_one_noise_and_colours_a_change_past_the_spread(alice, alice_client):
    team = Team.personal_for(alice)
    first = _changes_run(team, None, 1000)
    second = _changes_run(team, first, 3000)
    page = alice_client.get(f"/comparisons/{second.pk}/changes").content.decode()
    assert "noise? 1 earlier run, 3 needed" in page and 'class="num worse"' not in page
    runs = [second]
    for ms in (1100, 1050, 1200):
        runs.append(_changes_run(team, runs[-1], ms))
    within = alice_client.get(f"/comparisons/{runs[-1].pk}/changes").content.decode()
    assert "within the range of 4 earlier runs" in within and 'class="num worse"' not in within
    slow = _changes_run(team, runs[-1], 9000)
    page = alice_client.get(f"/comparisons/{slow.pk}/changes").content.decode()
    assert "outside the range of 5 earlier runs" in page and 'class="num worse"' in page


def test_what_changed_compares_the_images_by_perceptual_hash(alice, alice_client):
    from compare.engine import execution
    from compare import services

    team = Team.personal_for(alice)
    params = {"size": "1024x1024", "quality": "low", "output_format": "png", "n": 1, "seed": None}
    first = services.create_comparison(user=alice, team=team, prompt="a fox", route_keys=["sandbox:fast"], params=params)
    second = services.create_comparison(user=alice, team=team, prompt="a fox", route_keys=["sandbox:fast"],
                                        params=params, rerun_of=first)
    for comparison in (first, second):
        for result in comparison.results.all():
            execution.execute_result(result.pk)
    page = alice_client.get(f"/comparisons/{second.pk}/changes").content.decode()
    assert "pHash " in page and "/64" in page
    image_cell = page[page.index('class="image-change"'):].split("</td>")[0]
    assert image_cell.count("<img") == 2 and "/thumbnail" in image_cell
