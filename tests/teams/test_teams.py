"""Teams: alice and bob each have their own; charlie joins alice's. Bob sees none of alice's."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from compare.engine import execution
from compare.models import Comparison
from compare.teams.models import Invite, Membership, Role, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices(alice):
    """A finished comparison of alice's personal team, with an image and a reference."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.helpers import image_bytes

    client = Client()
    client.force_login(alice)
    client.post("/", {"prompt": "alice's secret fox", "routes": ["sandbox:fast"], "size": "square", "quality": "low",
                      "output_format": "png", "n": "1",
                      "reference_images": [SimpleUploadedFile("r.png", image_bytes(64, 64))]})
    comparison = Comparison.objects.get()
    execution.execute_result(comparison.results.get().pk)
    return comparison


def urls_of(comparison):
    result = comparison.results.get()
    image = result.images.get()
    return {
        "get": [comparison.get_absolute_url(), f"/comparisons/{comparison.pk}/summary", f"/results/{result.pk}/card",
                image.get_absolute_url(), image.get_thumbnail_url(), comparison.references.get().get_absolute_url(),
                f"/?from={comparison.pk}", f"/api/comparisons/{comparison.pk}"],
        "post": [f"/comparisons/{comparison.pk}/rerun", f"/comparisons/{comparison.pk}/cancel",
                 f"/api/comparisons/{comparison.pk}/cancel"],
    }


def test_every_new_user_starts_in_a_personal_team_however_made(django_user_model):
    made = [django_user_model.objects.create_user("dora"), django_user_model.objects.create(username="eve")]
    call_command("createsuperuser", "--noinput", "--username", "frank", "--email", "f@example.com")
    made.append(django_user_model.objects.get(username="frank"))
    for user in made:
        team = Team.objects.of(user).get()
        assert team.personal and team.role_of(user) == Role.OWNER


def test_bob_of_another_team_gets_404_everywhere_and_sees_nothing(alices, bob):
    client = Client()
    client.force_login(bob)
    for url in urls_of(alices)["get"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"secret fox" not in response.content
    for url in urls_of(alices)["post"]:
        assert client.post(url).status_code == 404, url
    assert b"secret fox" not in client.get("/comparisons/").content
    assert client.get("/api/comparisons").json()["count"] == 0
    assert Comparison.objects.count() == 1  # bob's rerun made nothing


def test_bobs_api_token_opens_nothing_of_alices(alices, bob, client):
    from compare.teams.models import ApiToken

    token = ApiToken.issue(bob)[1]
    for url in urls_of(alices)["get"]:
        if url.startswith(("/images/", "/references/", "/api/")):
            assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 404, url


def test_anonymous_visitors_are_sent_to_log_in_or_refused(alices):
    client = Client()
    for url in urls_of(alices)["get"]:
        response = client.get(url)
        assert response.status_code in (302, 401), url
        assert b"secret fox" not in response.content


def test_charlie_joins_alices_team_by_invite_and_sees_its_history(alices, alice, django_user_model):
    charlie = django_user_model.objects.create_user("charlie", password="charlie-password")
    owner = Client()
    owner.force_login(alice)
    owner.post(f"/teams/{alices.team.pk}/invites", {"role": "member"})
    invite = Invite.objects.get()
    guest = Client()
    assert guest.get(f"/join/{invite.token}")["Location"].startswith("/login/")
    guest.force_login(charlie)
    assert b"Join" in guest.get(f"/join/{invite.token}").content
    guest.post(f"/join/{invite.token}")
    assert alices.team.role_of(charlie) == Role.MEMBER
    assert b"secret fox" in guest.get("/comparisons/").content  # the invite switched charlie to the team
    assert guest.get(alices.get_absolute_url()).status_code == 200
    assert guest.post(f"/join/{invite.token}").status_code == 404  # once only


def test_a_viewer_sees_but_cannot_run(alices, bob):
    Membership.objects.create(team=alices.team, user=bob, role=Role.VIEWER)
    client = Client()
    client.force_login(bob)
    assert client.get(alices.get_absolute_url()).status_code == 200
    client.post("/team/switch", {"team": alices.team.pk})
    response = client.post("/", {"prompt": "x", "routes": ["sandbox:fast"], "size": "square", "quality": "low",
                                 "output_format": "png", "n": "1"})
    assert response.status_code == 400 and "viewer" in response.content.decode()
    client.post(f"/comparisons/{alices.pk}/rerun")
    assert Comparison.objects.count() == 1


def test_owners_manage_members_and_a_team_keeps_an_owner(alices, alice, bob):
    owner = Client()
    owner.force_login(alice)
    team = alices.team
    owner.post(f"/teams/{team.pk}/members", {"username": "bob", "role": "member"})
    member = Client()
    member.force_login(bob)
    member.post(f"/join/{Invite.objects.get(invitee=bob).token}")  # bob accepts the invitation
    assert team.role_of(bob) == Role.MEMBER
    assert member.post(f"/teams/{team.pk}/members", {"username": "bob", "role": "owner"}).status_code == 404
    owner.post(f"/teams/{team.pk}/members/{bob.pk}/remove")
    assert team.role_of(bob) is None
    owner.post(f"/teams/{team.pk}/members/{alice.pk}/remove")
    assert team.role_of(alice) == Role.OWNER  # the last owner stays


def test_switching_to_someone_elses_team_is_404(alices, bob):
    client = Client()
    client.force_login(bob)
    assert client.post("/team/switch", {"team": alices.team.pk}).status_code == 404


def test_the_api_runs_in_a_chosen_team_and_refuses_others(client, alice, bob, alice_token):
    import json

    shared = Team.objects.create(name="Design")
    Membership.objects.create(team=shared, user=alice, role=Role.MEMBER)
    body = {"prompt": "x", "routes": ["sandbox:fast"], "team": shared.pk}
    response = client.post("/api/comparisons", json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 201 and response.json()["team"]["name"] == "Design"
    body["team"] = Team.personal_for(bob).pk
    response = client.post("/api/comparisons", json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 400 and "team" in response.json()["errors"]
    teams = client.get("/api/teams", headers={"Authorization": f"Bearer {alice_token}"}).json()["teams"]
    assert {t["name"] for t in teams} == {"alice's team", "Design"}


def test_the_page_shows_a_team_switcher(alices, alice):
    client = Client()
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert re.search(r'<select name="team"[^>]*>\s*<option value="\d+" selected>alice&#x27;s team</option>', html)
