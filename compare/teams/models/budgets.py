"""Money rules on rows: a team's own prices for routes, and what a budget refusal says.

A team's budget is checked by Team.check_budget (compare/teams/models/teams.py) with the per-call
amounts compare/pricing.py works out; every call a comparison will make holds its amount on its
own Result row (Result.charge_usd) from submit until it ends."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import models
from django.utils import timezone


class TeamPrice(models.Model):
    """A price a team entered for a route (a plan discount, an enterprise contract, a Replicate
    model the catalog does not know): it wins over the catalog for that team's estimates and
    budget reservations, and is shown as "team price" with its date."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="prices")
    route_key = models.CharField(max_length=200)
    usd_per_image = models.DecimalField(max_digits=10, decimal_places=6)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "compare_teamprice"  # moved from the compare app; the table kept its name
        ordering = ["route_key"]
        constraints = [models.UniqueConstraint(fields=["team", "route_key"], name="one_price_per_team_route")]

    def __str__(self):
        return f"{self.route_key}: ${self.usd_per_image}/image for {self.team_id}"


@dataclass(frozen=True)
class CallCost:
    """What one provider call counts against a budget, and where the figure comes from:
    "team price" (entered by the team, as_of its date), "catalog" (the price catalog) or
    "ceiling" (no known price: UNPRICED_CALL_CEILING_USD per image)."""

    route_key: str
    usd: Decimal
    basis: str
    as_of: str = ""
    rough: bool = False  # a catalog price marked unresolved: its estimate is "rough"

    @property
    def unpriced(self):
        return self.basis == "ceiling"


@dataclass(frozen=True)
class BudgetState:
    budget: Decimal | None
    spent: Decimal  # ended calls this month: what they really cost (see Result.charge_usd)
    reserved: Decimal  # calls queued or running: what they may cost

    @property
    def left(self):
        return None if self.budget is None else self.budget - self.spent - self.reserved

    def would_exceed(self, total):
        """Whether calls reserving `total` more would take the team past its budget (free calls,
        such as the sandbox's, take no team past it)."""
        return self.budget is not None and total > 0 and self.spent + self.reserved + total > self.budget

    def as_dict(self):
        def usd(value):
            return None if value is None else f"{value:.4f}"

        return {"monthly_usd": usd(self.budget), "spent_usd": usd(self.spent), "reserved_usd": usd(self.reserved),
                "left_usd": usd(self.left)}


class SubmitRefused(Exception):
    """A submit refused when its calls were about to be created; the message says why."""


class OverBudget(SubmitRefused):
    """A submit that would take a team past its monthly budget; the message has the numbers."""


def parse_usd(value, places="0.01", what="A budget"):
    """A non-negative USD amount from a form or JSON ("12.50", 12.5); None for null or "".
    ValueError with a sentence for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{what} is an amount of USD, like \"12.50\" (null or empty: none).")
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 8:
            raise InvalidOperation
        return amount.quantize(Decimal(places))
    except InvalidOperation:
        raise ValueError(f"{what} is an amount of USD, like \"12.50\" (null or empty: none).") from None
