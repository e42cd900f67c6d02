"""Team credentials: encrypted at rest, never shown back, used for that team only, rotatable."""

import httpx
import pytest
from cryptography.fernet import Fernet
from django.test import Client

from providers.testing.openai import FakeOpenAI

from compare import catalog
from compare.engine import execution
from compare.models import Result
from compare.teams import credentials, crypto
from compare.teams.models import Membership, Role, Team, TeamCredential

from tests.compare import factories

pytestmark = pytest.mark.django_db
KEY = "sk-alices-team-key-1234"


@pytest.fixture
def owner(alice, settings):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True  # the fakes' hosts resolve nowhere
    client = Client()
    client.force_login(alice)
    return client


def save(client, team, name, value):
    return client.post(f"/teams/{team.pk}/credentials", {"name": name, "value": value})


def test_a_saved_key_is_encrypted_and_only_its_last_four_are_shown(owner, alice):
    team = Team.personal_for(alice)
    save(owner, team, "OPENAI_API_KEY", KEY)
    row = TeamCredential.objects.get()
    assert KEY not in row.ciphertext and row.last4 == "1234"
    assert crypto.decrypt(row.ciphertext) == KEY
    html = owner.get(f"/teams/{team.pk}/credentials").content.decode()
    assert "····1234" in html and KEY not in html and "sk-alices" not in html


def test_the_key_configures_the_route_for_that_team_only(owner, alice, bob):
    save(owner, Team.personal_for(alice), "OPENAI_API_KEY", KEY)
    assert catalog.get_route("openai:gpt-image-2", Team.personal_for(alice)).missing_credentials(
        catalog.provider_env(Team.personal_for(alice))) == []
    bobs = catalog.provider_env(Team.personal_for(bob))
    assert "OPENAI_API_KEY" not in bobs or bobs["OPENAI_API_KEY"] != KEY


def test_a_comparison_of_the_team_is_sent_with_its_key_and_keeps_none_of_it(owner, alice, monkeypatch):
    fake = FakeOpenAI(api_key=KEY)
    monkeypatch.setattr(execution, "http_client", lambda deadline=None, **kw: httpx.Client(transport=httpx.MockTransport(fake.handle)))
    save(owner, Team.personal_for(alice), "OPENAI_API_KEY", KEY)
    save(owner, Team.personal_for(alice), "OPENAI_BASE_URL", "https://fake-openai.test/v1")
    result = factories.comparison(alice, routes=["openai:gpt-image-2"]).results.get()
    execution.execute_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert result.status == "succeeded"
    assert fake.calls[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert KEY not in repr((result.request_sent, result.response_headers, result.error, result.job))


def test_only_owners_reach_the_credentials_page(alice, bob):
    team = Team.personal_for(alice)
    Membership.objects.create(team=team, user=bob, role=Role.MEMBER)
    member = Client()
    member.force_login(bob)
    assert member.get(f"/teams/{team.pk}/credentials").status_code == 404
    assert save(member, team, "OPENAI_API_KEY", "sk-bob-sneaks-in").status_code == 404
    assert not TeamCredential.objects.exists()


def test_removing_a_value_falls_back_to_the_environment(owner, alice, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    team = Team.personal_for(alice)
    save(owner, team, "OPENAI_API_KEY", KEY)
    assert catalog.provider_env(team)["OPENAI_API_KEY"] == KEY
    owner.post(f"/teams/{team.pk}/credentials", {"name": "OPENAI_API_KEY", "delete": "1"})
    assert catalog.provider_env(team)["OPENAI_API_KEY"] == "sk-from-the-environment"


def test_keys_rotate_without_losing_a_credential(owner, alice, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = old
    save(owner, Team.personal_for(alice), "OPENAI_API_KEY", KEY)
    settings.CREDENTIALS_KEYS = f"{new},{old}"
    from django.core.management import call_command

    call_command("rotate_credentials")
    settings.CREDENTIALS_KEYS = new
    assert crypto.decrypt(TeamCredential.objects.get().ciphertext) == KEY
    settings.CREDENTIALS_KEYS = old
    with pytest.raises(Exception, match="cannot be decrypted"):
        crypto.decrypt(TeamCredential.objects.get().ciphertext)


@pytest.mark.parametrize("stored,expect", [(KEY, "the key works"), ("sk-wrong-key-9999", "the check failed: HTTP 401")])
def test_test_connection_makes_the_cheapest_call_and_says_what_failed(owner, alice, monkeypatch, stored, expect):
    fake = FakeOpenAI(api_key=KEY)
    monkeypatch.setattr(credentials, "http_client", lambda deadline=None, **kw: httpx.Client(transport=httpx.MockTransport(fake.handle)))
    team = Team.personal_for(alice)
    save(owner, team, "OPENAI_API_KEY", stored)
    save(owner, team, "OPENAI_BASE_URL", "https://fake-openai.test/v1")
    response = owner.post(f"/teams/{team.pk}/credentials/test", {"name": "OPENAI_API_KEY"}, follow=True)
    html = response.content.decode()
    assert expect in html and stored not in html
    assert fake.calls[-1]["path"] == "/v1/models"


def test_a_team_adds_its_own_custom_routes(owner, alice, bob):
    team = Team.personal_for(alice)
    save(owner, team, "FAL_KEY", "fal-alices-key")
    save(owner, team, "FAL_MODELS", "fal-ai/flux/dev")
    assert "fal:fal-ai/flux/dev" in catalog.available_routes(team)
    assert "fal:fal-ai/flux/dev" not in catalog.available_routes(Team.personal_for(bob))


@pytest.mark.parametrize("name,value", [
    ("OPENAI_BASE_URL", "http://169.254.169.254/latest"),
    ("OPENAI_BASE_URL", "https://127.0.0.1:8443/v1"),
    ("COMPATIBLE_ROUTES", '[{"name": "x", "base_url": "http://10.0.0.5/v1", "model": "m"}]'),
])
def test_a_team_cannot_point_the_workers_at_private_addresses(owner, alice, settings, name, value):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    response = save(owner, Team.personal_for(alice), name, value)
    assert not TeamCredential.objects.exists()
    assert "is refused" in owner.get(response["Location"]).content.decode()
