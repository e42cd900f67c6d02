"""Teams under attack: nobody is put in a team without saying yes, anyone can leave, the team
switch sends nobody off-site, and a view's role is stated once and enforced."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import Client, RequestFactory

from compare.teams import views as teams
from compare.teams.models import Invite, Membership, Role, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def design(alice):
    team = Team.objects.create(name="Design")
    Membership.objects.create(team=team, user=alice, role=Role.OWNER)
    return team


def as_user(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_user_cannot_be_added_to_a_team_without_consent(design, alice, bob, django_user_model):
    owner = as_user(alice)
    owner.post(f"/teams/{design.pk}/members", {"username": "bob", "role": "owner"})
    assert design.role_of(bob) is None  # asked, not added
    assert not Team.objects.of(bob).filter(pk=design.pk).exists()
    member = as_user(bob)
    assert "1 invitation" in member.get("/comparisons/").content.decode()  # told, in the header
    page = member.get("/team/").content.decode()
    assert "Invitations for you" in page and "Design" in page
    invite = Invite.objects.get(invitee=bob)
    mallory = as_user(django_user_model.objects.create_user("mallory"))
    assert mallory.post(f"/join/{invite.token}").status_code == 404  # bob's invitation is bob's alone
    assert mallory.post(f"/invitations/{invite.pk}/decline").status_code == 404
    member.post(f"/join/{invite.token}")
    assert design.role_of(bob) == Role.OWNER  # joined by saying yes


def test_a_declined_invitation_adds_nobody(design, alice, bob):
    as_user(alice).post(f"/teams/{design.pk}/members", {"username": "bob"})
    invite = Invite.objects.get(invitee=bob)
    member = as_user(bob)
    member.post(f"/invitations/{invite.pk}/decline")
    assert not Invite.objects.filter(pk=invite.pk).exists()
    assert member.post(f"/join/{invite.token}").status_code == 404
    assert design.role_of(bob) is None


def test_a_member_can_leave(design, alice, bob):
    Membership.objects.create(team=design, user=bob, role=Role.MEMBER)
    member = as_user(bob)
    member.post("/team/switch", {"team": design.pk})
    assert "Leave Design" in member.get(f"/teams/{design.pk}/").content.decode()
    response = member.post(f"/teams/{design.pk}/leave")
    assert response.status_code == 302
    assert design.role_of(bob) is None
    assert b"bob&#x27;s team" in member.get("/team/").content  # back in the personal team
    assert member.post(f"/teams/{design.pk}/leave").status_code == 404  # not a member any more


def test_the_last_owner_and_the_personal_team_are_not_left(design, alice, bob):
    owner = as_user(alice)
    owner.post(f"/teams/{design.pk}/leave")
    assert design.role_of(alice) == Role.OWNER  # the last owner stays until someone else owns it
    personal = Team.personal_for(alice)
    owner.post(f"/teams/{personal.pk}/leave")
    assert personal.role_of(alice) == Role.OWNER
    Membership.objects.create(team=design, user=bob, role=Role.OWNER)
    owner.post(f"/teams/{design.pk}/leave")
    assert design.role_of(alice) is None  # another owner took over: alice may go


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "http://testserver.evil.example/"])
def test_team_switch_next_cannot_redirect_off_site(design, alice, target):
    response = as_user(alice).post("/team/switch", {"team": design.pk, "next": target})
    assert response.status_code == 302 and response["Location"] == "/comparisons/"


def test_team_switch_next_may_stay_on_site(design, alice):
    response = as_user(alice).post("/team/switch", {"team": design.pk, "next": "/leaderboard/?q=x"})
    assert response["Location"] == "/leaderboard/?q=x"


def test_team_and_role_are_on_the_request(design, alice, bob):
    Membership.objects.create(team=design, user=bob, role=Role.VIEWER)
    member = as_user(bob)
    member.post("/team/switch", {"team": design.pk})
    response = member.get("/comparisons/")
    assert response.wsgi_request.team == design and response.wsgi_request.role == Role.VIEWER
    design.memberships.filter(user=bob).delete()  # removed meanwhile: back to the personal team
    response = member.get("/comparisons/")
    assert response.wsgi_request.team == Team.personal_for(bob) and response.wsgi_request.role == Role.OWNER


def test_team_role_states_the_role_a_view_needs(design, alice, bob):
    Membership.objects.create(team=design, user=bob, role=Role.VIEWER)

    @teams.team_role(Role.MEMBER)
    def run(request):
        return HttpResponse("ran")

    @teams.team_role(Role.OWNER, url_kwarg="pk")
    def manage(request, team):
        return HttpResponse(team.name)

    def request_of(user, team):
        request = RequestFactory().post("/")
        request.user, request.session = user, {"team_id": team.pk}
        teams.attach_team(request)
        return request

    assert run(request_of(alice, design)).content == b"ran"
    with pytest.raises(PermissionDenied):
        run(request_of(bob, design))
    assert manage(request_of(alice, design), pk=design.pk).content == b"Design"
    with pytest.raises(Http404):
        manage(request_of(bob, design), pk=design.pk)  # a viewer does not see the controls
    with pytest.raises(Http404):
        manage(request_of(bob, design), pk=Team.personal_for(alice).pk)  # not bob's team at all
