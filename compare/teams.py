"""Team pages: the switcher, members and roles, invite links. Owners manage; everyone sees."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import params
from .models import Invite, Membership, Role, Team


def current_team(request):
    """The team the user works in now (kept in the session), or their personal team."""
    teams = Team.objects.of(request.user)
    chosen = teams.filter(pk=request.session.get("team_id")).first() if request.session.get("team_id") else None
    return chosen or Team.personal_for(request.user)


def team_context(request):
    """For base.html: the switcher."""
    if not request.user.is_authenticated:
        return {}
    return {"current_team": current_team(request), "my_teams": Team.objects.of(request.user)}


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
    return redirect(request.POST.get("next") or "compare:history")


def team_detail(request, pk=None):
    team = get_object_or_404(Team.objects.of(request.user), pk=pk) if pk else current_team(request)
    owner = team.is_owner(request.user)
    context = {
        "team": team, "owner": owner, "role": team.role_of(request.user), "roles": Role.choices,
        "members": team.memberships.select_related("user"),
        "invites": team.invites.filter(used_at__isnull=True).select_related("created_by") if owner else [],
    }
    return render(request, "compare/team.html", context)


@require_POST
def create_team(request):
    name = (request.POST.get("name") or "").strip()[:100]
    if not name:
        messages.error(request, "A team needs a name.")
        return redirect("compare:team")
    team = Team.objects.create(name=name)
    Membership.objects.create(team=team, user=request.user, role=Role.OWNER)
    request.session["team_id"] = team.pk
    messages.success(request, f"Team {team} created; you are its owner.")
    return redirect("compare:team-detail", team.pk)


@require_POST
def add_member(request, pk):
    team = _owned(request, pk)
    role = request.POST.get("role") if request.POST.get("role") in Role.values else Role.MEMBER
    user = get_user_model().objects.filter(username=(request.POST.get("username") or "").strip()).first()
    if user is None:
        messages.error(request, "No user has that username.")
    else:
        Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
        messages.success(request, f"{user.get_username()} is now {role} of {team}.")
    return redirect("compare:team-detail", team.pk)


@require_POST
def remove_member(request, pk, user_id):
    team = _owned(request, pk)
    membership = get_object_or_404(team.memberships, user_id=user_id)
    owners = team.memberships.filter(role=Role.OWNER)
    if membership.role == Role.OWNER and owners.count() == 1:
        messages.error(request, "A team keeps at least one owner: make someone else owner first.")
    elif team.personal and membership.user_id == request.user.pk:
        messages.error(request, "You cannot leave your personal team.")
    else:
        membership.delete()
        messages.success(request, f"{membership.user.get_username()} removed from {team}.")
    return redirect("compare:team-detail", team.pk)


@require_POST
def set_budget(request, pk):
    from decimal import Decimal, InvalidOperation

    team = _owned(request, pk)
    raw = (request.POST.get("monthly_budget_usd") or "").strip()
    field = Team._meta.get_field("monthly_budget_usd")
    try:
        team.monthly_budget_usd = Decimal(raw).quantize(Decimal("0.01")) if raw else None
        if team.monthly_budget_usd is not None and not 0 <= team.monthly_budget_usd < 10 ** (
                field.max_digits - field.decimal_places):  # what the column holds
            raise InvalidOperation
    except InvalidOperation:
        messages.error(request, "A budget is an amount of USD under $100,000,000, like 25 or 12.50 (empty: no budget).")
        return redirect("compare:team-detail", team.pk)
    team.save(update_fields=["monthly_budget_usd"])
    messages.success(request, f"Monthly budget: {'none' if raw == '' else f'${team.monthly_budget_usd}'}.")
    return redirect("compare:team-detail", team.pk)


@require_POST
def create_invite(request, pk):
    team = _owned(request, pk)
    role = request.POST.get("role") if request.POST.get("role") in Role.values else Role.MEMBER
    invite = Invite.objects.create(team=team, role=role, created_by=request.user)
    link = request.build_absolute_uri(invite_url(invite))
    messages.success(request, f"Invite link (valid 7 days, once): {link}")
    return redirect("compare:team-detail", team.pk)


@require_POST
def revoke_invite(request, pk, invite_id):
    team = _owned(request, pk)
    team.invites.filter(pk=invite_id, used_at__isnull=True).delete()
    return redirect("compare:team-detail", team.pk)


def invite_url(invite):
    from django.urls import reverse

    return reverse("compare:invite", args=[invite.token])


@login_not_required
def accept_invite(request, token):
    """Logged out: log in first (then come back). Logged in: join on POST."""
    invite = Invite.objects.filter(token=token).select_related("team").first()
    if invite is None or not invite.usable:
        raise Http404("This invite is not valid any more.")
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if request.method == "POST":
        if invite.accept(request.user):
            request.session["team_id"] = invite.team_id
            messages.success(request, f"You joined {invite.team} as {invite.role}.")
            return redirect("compare:history")
        raise Http404("This invite is not valid any more.")
    return render(request, "compare/invite.html", {"invite": invite})
