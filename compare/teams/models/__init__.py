"""Teams, members, invitations, team credentials and prices, API tokens."""

from .budgets import TeamPrice, CallCost, BudgetState, SubmitRefused, OverBudget, parse_usd
from .credentials import TeamCredential
from .teams import Role, TeamQuerySet, Team, Membership, InviteQuerySet, Invite
from .tokens import ApiTokenQuerySet, ApiToken

__all__ = [
    "TeamPrice",
    "CallCost",
    "BudgetState",
    "SubmitRefused",
    "OverBudget",
    "parse_usd",
    "TeamCredential",
    "Role",
    "TeamQuerySet",
    "Team",
    "Membership",
    "InviteQuerySet",
    "Invite",
    "ApiTokenQuerySet",
    "ApiToken",
]
