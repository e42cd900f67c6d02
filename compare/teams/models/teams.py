"""Teams, their members and invites, and the one budget rule (Team.check_budget).

A team shares a history, credentials, prices, a budget and reviews. Every user belongs to at
least one team: a personal team is made for each new user (compare/teams/signals.py), however the
user was created (sign-up, admin, createsuperuser, a shell), so isolation always holds."""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from compare.models import TERMINAL, Result
from compare.teams.models.budgets import BudgetState, OverBudget


class Role(models.TextChoices):
    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"

    @classmethod
    def chosen(cls, value):
        """The role a form's value names; a member when it names none (invites and role changes)."""
        return value if value in cls.values else cls.MEMBER


class TeamQuerySet(models.QuerySet):
    def of(self, user):
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def locked(self, pk):
        """The team, its row locked until the transaction ends (PostgreSQL: SELECT ... FOR
        UPDATE). SQLite ignores FOR UPDATE; there the IMMEDIATE transactions of
        config/settings.py take the write lock at BEGIN, which serializes submits the same way."""
        return self.select_for_update().get(pk=pk)


class Team(models.Model):
    name = models.CharField(max_length=100)
    personal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # USD a month; None = no budget. Checked at submit against the month's spending.
    monthly_budget_usd = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        db_table = "compare_team"  # moved from the compare app; the table kept its name
        ordering = ["-personal", "name", "id"]

    def __str__(self):
        return self.name

    def role_of(self, user):
        membership = self.memberships.filter(user=user).first() if user.is_authenticated else None
        return membership.role if membership else None

    def can_run(self, user):
        return self.role_of(user) in (Role.OWNER, Role.MEMBER)

    def is_owner(self, user):
        return self.role_of(user) == Role.OWNER

    def budget_state(self):
        """This month's (UTC, from the 1st) money: spent = ended calls at what they really cost
        (see Result.charge_usd) and any cost already known; reserved = calls queued or running,
        at their estimate or, unpriced, the ceiling they were reserved at."""
        start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        results = Result.objects.filter(comparison__team=self, comparison__created_at__gte=start)
        ended, known = Q(status__in=TERMINAL), Q(cost_usd__isnull=False)
        totals = results.aggregate(
            ended=Sum(Coalesce("charge_usd", "cost_usd", "estimated_cost_usd"), filter=ended),
            known=Sum("cost_usd", filter=~ended & known),
            waiting=Sum(Coalesce("estimated_cost_usd", "charge_usd"), filter=~ended & ~known))
        spent = (totals["ended"] or Decimal(0)) + (totals["known"] or Decimal(0))
        return BudgetState(budget=self.monthly_budget_usd, spent=spent, reserved=totals["waiting"] or Decimal(0))

    def spent_this_month(self):
        """USD spent or reserved this month: what counts against the budget now."""
        state = self.budget_state()
        return state.spent + state.reserved

    def budget_left(self):
        return self.budget_state().left

    def check_budget(self, costs, what="this comparison"):
        """The one budget rule: refuse (OverBudget, with the numbers) calls whose costs
        (compare/pricing.py CallCost, one per call) would take the team past its monthly budget
        with what is spent and reserved. Binding only inside the transaction that creates the
        calls, on a row from Team.objects.locked (compare/services.py)."""
        if self.monthly_budget_usd is None:
            return
        state = self.budget_state()
        total = sum((cost.usd for cost in costs), Decimal(0))
        if not state.would_exceed(total):
            return
        unpriced = sorted({cost.route_key for cost in costs if cost.unpriced})
        note = (f" ({', '.join(unpriced)} ha{'s' if len(unpriced) == 1 else 've'} no known price: counted at the "
                f"${settings.UNPRICED_CALL_CEILING_USD:.2f}-per-image ceiling)") if unpriced else ""
        calls = f"{len(costs)} call{'s' if len(costs) != 1 else ''}"
        reserved = (f" (and ${state.reserved:.4f} is reserved for calls still queued or running)"
                    if state.reserved else "")
        raise OverBudget(f"Over budget: {what} is estimated at ${total:.4f} for {calls}{note}; {self} has spent "
                         f"${state.spent:.4f} of its ${self.monthly_budget_usd:.2f} this month{reserved}, "
                         f"${max(state.left, Decimal(0)):.4f} left.")

    def invite(self, role, by, invitee=None):
        """A new invite to the team with the role, made by `by`. One naming an invitee (an owner added
        them by username) replaces any invite of theirs still pending, so they see one."""
        if invitee is not None:
            self.invites.filter(invitee=invitee, used_at__isnull=True).delete()
        return Invite.objects.create(team=self, role=role, created_by=by, invitee=invitee)

    @classmethod
    def personal_for(cls, user):
        """The user's personal team, made now if it is missing."""
        team = cls.objects.filter(personal=True, memberships__user=user, memberships__role=Role.OWNER).first()
        if team is None:
            team = cls.objects.create(name=f"{user.get_username()}'s team", personal=True)
            Membership.objects.create(team=team, user=user, role=Role.OWNER)
        return team


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_membership"  # moved from the compare app; the table kept its name
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]
        ordering = ["team", "user__username"]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"


def _invite_token():
    return secrets.token_urlsafe(24)


def _in_a_week():
    return timezone.now() + timedelta(days=7)


class InviteQuerySet(models.QuerySet):
    def pending_for(self, user):
        """Invitations naming this user, not yet accepted, declined or expired."""
        return self.filter(invitee=user, used_at__isnull=True, expires_at__gt=timezone.now())


class Invite(models.Model):
    """A link an owner sends; whoever opens it logged in joins the team with the role. Once.
    An invite naming an invitee (an owner added them by username) is theirs alone to accept."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    token = models.CharField(max_length=64, unique=True, default=_invite_token)
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_in_a_week)
    used_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    used_at = models.DateTimeField(null=True, blank=True)
    invitee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="team_invitations")

    objects = InviteQuerySet.as_manager()

    @property
    def usable(self):
        return self.used_at is None and self.expires_at > timezone.now()

    def accept(self, user):
        """Join the team; False if the invite was used meanwhile, has expired or names someone else."""
        if self.invitee_id is not None and self.invitee_id != user.pk:
            return False
        won = Invite.objects.filter(pk=self.pk, used_at__isnull=True, expires_at__gt=timezone.now()).update(
            used_by=user, used_at=timezone.now())
        if won:
            Membership.objects.get_or_create(team=self.team, user=user, defaults={"role": self.role})
        return bool(won)

    class Meta:
        db_table = "compare_invite"  # moved from the compare app; the table kept its name


