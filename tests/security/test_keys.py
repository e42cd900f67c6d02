"""Attacks on the server's keys by a team owner: a base URL of the team's, a COMPATIBLE_ROUTES
entry naming a server variable, Test connection. A capture server on loopback stands in for the
attacker's host; ALLOW_PRIVATE_PROVIDER_URLS is on so that it can be reached at all (the attacks
here are about keys, not addresses: tests/security/test_outbound.py covers those)."""

import json
import threading

import httpx
import pytest
from django.test import Client

from providers import compatible
from providers.base import ConfigurationError, UnusableProvider
from providers.testing.server import LoopbackServer

from compare import catalog
from compare.engine import execution
from compare.models import Result
from compare.teams import crypto
from compare.teams.models import Membership, Role, Team, TeamCredential

from tests.compare import factories

pytestmark = pytest.mark.django_db

SERVER_KEY = "sk-the-servers-own-openai-key-QZXW"
TEAM_KEY = "sk-the-teams-own-openai-key-7777"
SERVER_SECRET = "django-secret-key-of-the-server-4242"


class Capture:
    """The attacker's host: records every request (headers and body) and answers 401."""

    def __init__(self):
        self.requests, self.lock = [], threading.Lock()

    def handle(self, request):
        with self.lock:
            self.requests.append({"url": str(request.url), "headers": dict(request.headers),
                                  "body": request.read().decode(errors="replace")})
        return httpx.Response(401, json={"error": {"message": "no"}})

    def saw(self, secret):
        return any(secret in json.dumps(r) for r in self.requests)


@pytest.fixture
def capture():
    fake = Capture()
    with LoopbackServer(fake) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def owner(alice, settings, monkeypatch):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True  # the capture server is on loopback
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.setenv("SECRET_KEY", SERVER_SECRET)
    client = Client()
    client.force_login(alice)
    return client


def save(client, team, name, value):
    return client.post(f"/teams/{team.pk}/credentials", {"name": name, "value": value}, follow=True)


def store(team, name, value):
    """A value as it may sit in the database (saved before a rule existed, or with its key removed
    since): the worker must be safe with what is stored, not only with what the form lets in."""
    TeamCredential.objects.update_or_create(team=team, name=name, defaults={
        "ciphertext": crypto.encrypt(value), "last4": value[-4:]})


def run(user, route):
    result = factories.comparison(user, routes=[route]).results.get()
    execution.execute_result(result.pk)
    return Result.objects.get(pk=result.pk)


def test_a_team_base_url_never_receives_the_server_key(owner, alice, capture):
    team = Team.personal_for(alice)
    save(owner, team, "OPENAI_API_KEY", TEAM_KEY)
    save(owner, team, "OPENAI_BASE_URL", capture.url + "/v1")
    owner.post(f"/teams/{team.pk}/credentials", {"name": "OPENAI_API_KEY", "delete": "1"})
    result = run(alice, "openai:gpt-image-2")
    assert not capture.saw(SERVER_KEY)
    assert result.status == "failed" and result.error_code == "not_configured"
    assert "OPENAI_BASE_URL" in result.error and "OPENAI_API_KEY" in result.error


def test_setting_a_base_url_without_the_teams_own_key_is_refused(owner, alice, capture):
    team = Team.personal_for(alice)
    html = save(owner, team, "OPENAI_BASE_URL", capture.url + "/v1").content.decode()
    assert not TeamCredential.objects.exists()
    assert "the server&#x27;s keys are never sent to an origin a team sets" in html


def test_a_team_base_url_gets_the_teams_own_key(owner, alice, capture):
    team = Team.personal_for(alice)
    save(owner, team, "OPENAI_API_KEY", TEAM_KEY)
    save(owner, team, "OPENAI_BASE_URL", capture.url + "/v1")
    run(alice, "openai:gpt-image-2")
    assert capture.requests and capture.saw(TEAM_KEY) and not capture.saw(SERVER_KEY)


def test_test_connection_never_sends_server_key_to_team_url(owner, alice, capture):
    team = Team.personal_for(alice)
    store(team, "OPENAI_BASE_URL", capture.url + "/v1")
    html = owner.post(f"/teams/{team.pk}/credentials/test", {"name": "OPENAI_BASE_URL"}, follow=True).content.decode()
    assert not capture.requests
    assert "nothing was sent" in html and "OPENAI_API_KEY" in html


def test_compatible_route_cannot_read_server_secret_key(owner, alice, capture):
    team = Team.personal_for(alice)
    routes = json.dumps([{"name": "mine", "base_url": capture.url + "/v1", "model": "m", "api_key_env": "SECRET_KEY"}])
    html = save(owner, team, "COMPATIBLE_ROUTES", routes).content.decode()
    assert not TeamCredential.objects.exists() and "must not name a secret of the app" in html
    with pytest.raises(ConfigurationError):
        compatible.parse_config(routes)
    # listed, as a route that cannot be used and says why (a bad entry costs only its own route)
    [listed] = compatible.routes({"COMPATIBLE_ROUTES": routes})
    assert listed.provider is UnusableProvider and "must not name a secret of the app" in listed.options["reason"]


def test_a_teams_compatible_route_cannot_read_another_providers_server_key(owner, alice, capture):
    team = Team.personal_for(alice)
    # Stored as if the name rule did not exist: the route must still read the team's values only.
    routes = json.dumps([{"name": "mine", "base_url": capture.url + "/v1", "model": "m",
                          "api_key_env": "MINE_API_KEY"}])
    store(team, "COMPATIBLE_ROUTES", routes)
    route = catalog.get_route("compatible:mine", team)
    found = catalog.route_access(route, team)
    assert found.missing == ["MINE_API_KEY"]
    refused = json.dumps([{"name": "x", "base_url": capture.url + "/v1", "model": "m", "api_key_env": "OPENAI_API_KEY"}])
    assert "another provider" in save(owner, team, "COMPATIBLE_ROUTES", refused).content.decode()


def test_a_teams_compatible_route_never_gets_a_server_variable_even_when_stored(owner, alice, capture, monkeypatch):
    monkeypatch.setenv("MINE_API_KEY", SERVER_SECRET)  # a server variable of that name
    team = Team.personal_for(alice)
    store(team, "COMPATIBLE_ROUTES", json.dumps([{"name": "mine", "base_url": capture.url + "/v1", "model": "m",
                                                  "api_key_env": "MINE_API_KEY"}]))
    result = run(alice, "compatible:mine")
    assert not capture.saw(SERVER_SECRET)
    assert result.error_code == "not_configured"


def test_a_teams_compatible_route_with_its_own_key_works(owner, alice, capture):
    team = Team.personal_for(alice)
    routes = json.dumps([{"name": "mine", "base_url": capture.url + "/v1", "model": "m", "api_key_env": "MINE_API_KEY"}])
    response = owner.put(f"/api/teams/{team.pk}/credentials", {"COMPATIBLE_ROUTES": routes, "MINE_API_KEY": TEAM_KEY},
                         content_type="application/json")
    assert response.status_code == 200, response.content
    run(alice, "compatible:mine")
    assert capture.saw(TEAM_KEY) and not capture.saw(SERVER_KEY)


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "CREDENTIALS_KEYS", "OPENAI_API_KEY",
                                  "AWS_SECRET_ACCESS_KEY", "lower_key", "DB_PASSWORD_KEY"])
def test_server_compatible_routes_cannot_name_a_secret_or_another_providers_key(name):
    config = json.dumps([{"name": "x", "base_url": "https://relay.example/v1", "model": "m", "api_key_env": name}])
    with pytest.raises(ConfigurationError, match="api_key_env"):
        compatible.parse_config(config)
    [listed] = compatible.routes({"COMPATIBLE_ROUTES": config})
    assert listed.provider is UnusableProvider and "api_key_env" in listed.options["reason"]
    assert listed.build(env={name: "a secret"}).credentials == {}


def test_a_team_azure_endpoint_needs_the_teams_own_azure_key(owner, alice, capture, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENTS", "gpt-image-2")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://server.openai.azure.com")
    team = Team.personal_for(alice)
    save(owner, team, "AZURE_OPENAI_ENDPOINT", capture.url)
    store(team, "AZURE_OPENAI_ENDPOINT", capture.url)  # even if it were stored
    result = run(alice, "azure:gpt-image-2")
    assert not capture.requests and result.error_code == "not_configured"


# --- the credentials API ------------------------------------------------------------------------


def test_the_credentials_api_shows_sources_and_last_four_only(owner, alice):
    team = Team.personal_for(alice)
    response = owner.put(f"/api/teams/{team.pk}/credentials", {"FAL_KEY": "fal-team-key-abcd"},
                         content_type="application/json")
    assert response.status_code == 200
    body = response.json()
    rows = {row["name"]: row for row in body["credentials"]}
    assert rows["FAL_KEY"] == {**rows["FAL_KEY"], "source": "team", "last4": "abcd"}
    assert rows["OPENAI_API_KEY"]["source"] == "server" and rows["OPENAI_API_KEY"]["last4"] is None
    assert rows["REPLICATE_API_TOKEN"]["source"] == "not set"
    text = json.dumps(body)
    assert "fal-team-key" not in text and SERVER_KEY not in text and SERVER_KEY[-4:] not in text
    assert owner.get(f"/api/teams/{team.pk}/credentials").json() == json.loads(json.dumps(body))


@pytest.mark.parametrize("payload,field,words", [
    ({"NOT_A_VARIABLE": "x"}, "NOT_A_VARIABLE", "not a variable"),
    ({"OPENAI_BASE_URL": "https://relay.example/v1"}, "OPENAI_BASE_URL", "never sent to an origin a team sets"),
    ({"COMPATIBLE_ROUTES": "[{not json"}, "COMPATIBLE_ROUTES", "not valid JSON"),
    ({"OPENAI_API_KEY": 12}, "OPENAI_API_KEY", "must be a string"),
])
def test_the_credentials_api_refuses_bad_values_and_saves_nothing(owner, alice, payload, field, words):
    team = Team.personal_for(alice)
    response = owner.put(f"/api/teams/{team.pk}/credentials", {"FAL_KEY": "fal-ok-key-1", **payload},
                         content_type="application/json")
    assert response.status_code == 400
    assert any(words in message for message in response.json()["errors"][field])
    assert not TeamCredential.objects.exists()


def test_the_credentials_api_refuses_a_private_base_url(owner, alice, settings):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    team = Team.personal_for(alice)
    response = owner.put(f"/api/teams/{team.pk}/credentials",
                         {"OPENAI_API_KEY": TEAM_KEY, "OPENAI_BASE_URL": "http://169.254.169.254/v1"},
                         content_type="application/json")
    assert response.status_code == 400 and "is refused" in response.json()["errors"]["OPENAI_BASE_URL"][0]
    assert not TeamCredential.objects.exists()


def test_the_credentials_api_removes_with_an_empty_value(owner, alice):
    team = Team.personal_for(alice)
    url = f"/api/teams/{team.pk}/credentials"
    owner.put(url, {"FAL_KEY": "fal-team-key-abcd"}, content_type="application/json")
    body = owner.put(url, {"FAL_KEY": ""}, content_type="application/json").json()
    assert {row["name"]: row for row in body["credentials"]}["FAL_KEY"]["source"] == "not set"
    assert not TeamCredential.objects.exists()


def test_only_owners_use_the_credentials_api(alice, bob, django_user_model):
    team = Team.personal_for(alice)
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    member = Client()
    member.force_login(bob)
    url = f"/api/teams/{team.pk}/credentials"
    assert member.get(url).status_code == 403
    assert member.put(url, {"FAL_KEY": "bob-sneaks-in"}, content_type="application/json").status_code == 403
    stranger = Client()
    stranger.force_login(django_user_model.objects.create_user("carol"))
    assert stranger.get(url).status_code == 404
    assert not TeamCredential.objects.exists()


def test_the_pages_say_why_a_team_base_url_leaves_a_route_unconfigured(owner, alice, capture):
    team = Team.personal_for(alice)
    store(team, "OPENAI_BASE_URL", capture.url + "/v1")
    for page in ("/", "/routes/", f"/teams/{team.pk}/credentials"):
        html = owner.get(page).content.decode()
        assert "never sent to a base URL a team set" in html, page
    reasons = {r["key"]: r["unconfigured_reason"] for r in owner.get(f"/api/routes?team={team.pk}").json()["routes"]}
    assert "OPENAI_API_KEY" in reasons["openai:gpt-image-2"] and not capture.requests
