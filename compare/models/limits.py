"""Per-route and per-team limits shared by every worker process: rows in the database, taken and given back
with conditional UPDATEs, so they hold with any number of workers on any number of machines."""

from django.db import models


class RouteSlot(models.Model):
    """One of a route's N concurrent-call slots; ``result`` holds it while its call runs."""

    route_key = models.CharField(max_length=200)
    index = models.PositiveSmallIntegerField()
    result = models.OneToOneField("compare.Result", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="slot")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route_key", "index"], name="one_slot_per_index")]


class RouteMinute(models.Model):
    """How many calls a route started in one minute (epoch minutes)."""

    route_key = models.CharField(max_length=200)
    minute = models.BigIntegerField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["route_key", "minute"], name="one_counter_per_minute")]


class TeamSlot(models.Model):
    """One of a team's TEAM_MAX_IN_FLIGHT call slots; ``result`` holds it while a worker runs
    the call, so one team's flood cannot take every worker (compare/engine/limits.py)."""

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="slots")
    index = models.PositiveSmallIntegerField()
    result = models.OneToOneField("compare.Result", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="team_slot")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "index"], name="one_team_slot_per_index")]
