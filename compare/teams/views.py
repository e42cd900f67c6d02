"""Team pages: the switcher, members and roles, invitations and invite links. Owners manage;
everyone sees; nobody joins without accepting. Also where request.team and request.role are
decided (attach_team, called by compare.teams.middleware.TeamMiddleware) and checked (team_role,
viewer_refusal)."""

import functools

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from compare import catalog, params, pricing
from compare.teams.models import Invite, Membership, Role, Team, parse_usd


RANKS = {Role.VIEWER: 1, Role.MEMBER: 2, Role.OWNER: 3}


def attach_team(request):
    """Decide request.team (the team chosen in the session if the user is still in it, else their
    personal team) and request.role (the user's role in it); both None for an anonymous request."""
    request.team = request.role = None
    if not request.user.is_authenticated:
        return
    chosen = request.session.get("team_id")
    membership = (Membership.objects.filter(user=request.user, team_id=chosen).select_related("team").first()
                  if chosen else None)
    if membership is None:
        request.team, request.role = Team.personal_for(request.user), Role.OWNER
    else:
        request.team, request.role = membership.team, membership.role


def current_team(request):
    """The team the user works in now: request.team, as TeamMiddleware set it."""
    if not hasattr(request, "team"):  # a request that did not pass the middleware (a test's factory)
        attach_team(request)
    return request.team


def has_role(role, needed):
    return RANKS.get(role, 0) >= RANKS[needed]


def team_role(needed, url_kwarg=None):
    """The view needs at least role `needed` (viewer < member < owner). Without url_kwarg: in the
    current team, else 403. With url_kwarg: in the user's team whose id is that URL argument,
    passed to the view as `team` instead; a team not theirs or a role they lack is a 404 (members
    see a team, not its controls)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if url_kwarg is None:
                current_team(request)
                if not has_role(request.role, needed):
                    raise PermissionDenied(f"Only a {needed} of {request.team} can do this.")
                return view(request, *args, **kwargs)
            membership = get_object_or_404(Membership.objects.select_related("team"), user=request.user,
                                           team_id=kwargs.pop(url_kwarg))
            if not has_role(membership.role, needed):
                raise Http404(f"Only a {needed} can do this.")
            return view(request, *args, team=membership.team, **kwargs)

        return wrapped

    return decorator


def viewer_refusal(request, team, doing, back):
    """None when the user may act in the team (an owner or a member); for a viewer, the reason as
    a message ("Viewers of T cannot <doing>.") and a redirect to `back`, for the view to return."""
    if team.can_run(request.user):
        return None
    messages.error(request, f"Viewers of {team} cannot {doing}.")
    return redirect(back)


def team_context(request):
    """For base.html: the switcher, and how many invitations wait for the user."""
    if not request.user.is_authenticated:
        return {}
    return {"current_team": current_team(request), "my_teams": Team.objects.of(request.user),
            "invitation_count": Invite.objects.pending_for(request.user).count()}


def _owned(request, pk):
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        raise Http404("Only an owner can do this.")  # members see the team, not its controls
    return team


@require_POST
def switch_team(request):
    try:
        pk = params.object_id(request.POST.get("team") or "", "team")
    except params.BadParameter as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    request.session["team_id"] = team.pk
    following = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(following, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return redirect(following)
    return redirect("compare:history")


def team_detail(request, pk=None):
    team = get_object_or_404(Team.objects.of(request.user), pk=pk) if pk else current_team(request)
    owner = team.is_owner(request.user)
    context = {
        "team": team, "owner": owner, "role": team.role_of(request.user), "roles": Role.choices,
        "members": team.memberships.select_related("user"),
        "invites": team.invites.filter(used_at__isnull=True).select_related("created_by", "invitee") if owner else [],
        "invitations": Invite.objects.pending_for(request.user).select_related("team", "created_by"),
        "prices": team.prices.select_related("entered_by"), "ceiling": pricing.ceiling(),
        "route_keys": sorted(catalog.available_routes(team)) if owner else [],
    }
    return render(request, "teams/team.html", context)


@require_POST
def create_team(request):
    name = (request.POST.get("name") or "").strip()[:100]
    if not name:
        messages.error(request, "A team needs a name.")
        return redirect("teams:team")
    team = Team.objects.create(name=name)
    Membership.objects.create(team=team, user=request.user, role=Role.OWNER)
    request.session["team_id"] = team.pk
    messages.success(request, f"Team {team} created; you are its owner.")
    return redirect("teams:team-detail", team.pk)


@require_POST
@team_role(Role.OWNER, url_kwarg="pk")
def add_member(request, team):
    """A member's role changes at once; anyone else is invited, and joins only by accepting."""
    role = Role.chosen(request.POST.get("role"))
    user = get_user_model().objects.filter(username=(request.POST.get("username") or "").strip()).first()
    if user is None:
        messages.error(request, "No user has that username.")
    elif team.memberships.filter(user=user).update(role=role):
        messages.success(request, f"{user.get_username()} is now {role} of {team}.")
    else:
        team.invite(role, request.user, invitee=user)
        messages.success(request, f"{user.get_username()} is invited as {role}: they join {team} when they "
                                  "accept (on their Team page).")
    return redirect("teams:team-detail", team.pk)


@require_POST
@team_role(Role.OWNER, url_kwarg="pk")
def remove_member(request, team, user_id):
    membership = get_object_or_404(team.memberships, user_id=user_id)
    owners = team.memberships.filter(role=Role.OWNER)
    if membership.role == Role.OWNER and owners.count() == 1:
        messages.error(request, "A team keeps at least one owner: make someone else owner first.")
    elif team.personal and membership.user_id == request.user.pk:
        messages.error(request, "You cannot leave your personal team.")
    else:
        membership.delete()
        messages.success(request, f"{membership.user.get_username()} removed from {team}.")
    return redirect("teams:team-detail", team.pk)


@require_POST
@team_role(Role.VIEWER, url_kwarg="pk")
def leave_team(request, team):
    """Any member leaves, except from their own personal team, and except the last owner."""
    if team.personal and team.pk == Team.personal_for(request.user).pk:
        messages.error(request, "You cannot leave your personal team.")
        return redirect("teams:team-detail", team.pk)
    if team.is_owner(request.user) and team.memberships.filter(role=Role.OWNER).count() == 1:
        messages.error(request, f"You are the last owner of {team}: make another member owner before leaving.")
        return redirect("teams:team-detail", team.pk)
    team.memberships.filter(user=request.user).delete()
    if request.session.get("team_id") == team.pk:
        del request.session["team_id"]
    messages.success(request, f"You left {team}.")
    return redirect("teams:team")


@require_POST
def set_budget(request, pk):
    team = _owned(request, pk)
    try:
        team.monthly_budget_usd = parse_usd(request.POST.get("monthly_budget_usd"))
    except ValueError:
        messages.error(request, "A budget is an amount of USD, like 25 or 12.50 (empty: no budget).")
        return redirect("teams:team-detail", team.pk)
    team.save(update_fields=["monthly_budget_usd"])
    budget = team.monthly_budget_usd
    messages.success(request, f"Monthly budget: {'none' if budget is None else f'${budget}'}.")
    return redirect("teams:team-detail", team.pk)


@require_POST
@team_role(Role.OWNER, url_kwarg="pk")
def create_invite(request, team):
    invite = team.invite(Role.chosen(request.POST.get("role")), request.user)
    link = request.build_absolute_uri(invite_url(invite))
    messages.success(request, f"Invite link (valid 7 days, once): {link}")
    return redirect("teams:team-detail", team.pk)


@require_POST
@team_role(Role.OWNER, url_kwarg="pk")
def revoke_invite(request, team, invite_id):
    team.invites.filter(pk=invite_id, used_at__isnull=True).delete()
    return redirect("teams:team-detail", team.pk)


@require_POST
def decline_invite(request, invite_id):
    """The invited user says no: the invitation is gone."""
    invite = get_object_or_404(Invite.objects.pending_for(request.user), pk=invite_id)
    invite.delete()
    messages.success(request, f"You declined to join {invite.team}.")
    return redirect("teams:team")


def invite_url(invite):
    from django.urls import reverse

    return reverse("teams:invite", args=[invite.token])


@login_not_required
def accept_invite(request, token):
    """Logged out: log in first (then come back). Logged in: join on POST."""
    invite = Invite.objects.filter(token=token).select_related("team").first()
    if invite is None or not invite.usable:
        raise Http404("This invite is not valid any more.")
    if invite.invitee_id is not None and request.user.is_authenticated and invite.invitee_id != request.user.pk:
        raise Http404("This invite is not valid any more.")  # it names someone else
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        if invite.accept(request.user):
            request.session["team_id"] = invite.team_id
            messages.success(request, f"You joined {invite.team} as {invite.role}.")
            return redirect("compare:history")
        raise Http404("This invite is not valid any more.")
    return render(request, "teams/invite.html", {"invite": invite})
