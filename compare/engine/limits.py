"""Per-route limits (ROUTE_LIMITS) and the teams' fair share (TEAM_MAX_IN_FLIGHT): slots and turns.

Per-route limits on concurrent calls and calls per minute, from ROUTE_LIMITS:

    ROUTE_LIMITS="openai:gpt-image-2=4/60; fal:*=8/120"

``KEY=CONCURRENT/PER_MINUTE`` (either may be empty: ``=4/`` or ``=/30``); ``provider:*`` covers
every route of a provider. A result whose route is at its limit stays queued, and its task is
sent again a little later: the wait shows as our queue wait, never as provider latency.

Fair share between teams: a comparison holds at most MAX_CALLS_PER_COMPARISON calls and a batch
MAX_CALLS_PER_BATCH; at most TEAM_MAX_IN_FLIGHT calls of one team are sent to the workers at once
(compare/tasks.py dispatch keeps the rest in the database until one of the team's calls ends) and run at
once (a TeamSlot row per running call), so one team's flood never queues in front of another
team's first call."""

import time
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from compare.models import Result, RouteMinute, RouteSlot, Status, TeamSlot
from compare.teams.models import SubmitRefused


@lru_cache(maxsize=4)
def parse(spec: str) -> dict:
    limits = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, _, numbers = part.partition("=")
        concurrent, _, per_minute = numbers.partition("/")
        try:
            limits[key.strip()] = (int(concurrent) if concurrent.strip() else None,
                                   int(per_minute) if per_minute.strip() else None)
        except ValueError:
            raise ValueError(f"ROUTE_LIMITS part {part!r}: expected KEY=CONCURRENT/PER_MINUTE") from None
    return limits


def limits_for(route_key: str) -> tuple:
    limits = parse(settings.ROUTE_LIMITS)
    return limits.get(route_key) or limits.get(route_key.split(":", 1)[0] + ":*") or (None, None)


def acquire(result) -> bool:
    """Take a slot and a call of this minute for the result's route; False if either is full."""
    concurrent, per_minute = limits_for(result.route_key)
    if concurrent is not None and not _take_slot(result, concurrent):
        return False
    if per_minute is not None and not _count_call(result.route_key, per_minute):
        release(result)
        return False
    return True


def release(result) -> None:
    RouteSlot.objects.filter(result=result).update(result=None)


def _take_slot(result, concurrent: int) -> bool:
    for index in range(concurrent):
        slot, _ = RouteSlot.objects.get_or_create(route_key=result.route_key, index=index)
        if RouteSlot.objects.filter(pk=slot.pk, result__isnull=True).update(result=result):
            return True
    return False


def _count_call(route_key: str, per_minute: int) -> bool:
    minute = int(time.time() // 60)
    try:
        with transaction.atomic():
            RouteMinute.objects.get_or_create(route_key=route_key, minute=minute)
    except IntegrityError:
        pass  # another worker made the row at the same moment
    return bool(RouteMinute.objects.filter(route_key=route_key, minute=minute, calls__lt=per_minute)
                .update(calls=F("calls") + 1))


def free_lost_slots() -> int:
    """Give back slots whose result is no longer running (a worker died holding them)."""
    lost = RouteSlot.objects.exclude(result__isnull=True).exclude(result__status=Status.RUNNING).update(result=None)
    return lost + TeamSlot.objects.exclude(result__isnull=True).exclude(result__status=Status.RUNNING).update(result=None)


class TooManyCalls(SubmitRefused):
    """A comparison or batch over its call cap; the message names the numbers."""


def check_calls(calls: int, what="this comparison"):
    """Refuse a comparison (or, with what="this batch", a batch) holding more calls than its cap."""
    cap = settings.MAX_CALLS_PER_BATCH if what == "this batch" else settings.MAX_CALLS_PER_COMPARISON
    setting = "MAX_CALLS_PER_BATCH" if what == "this batch" else "MAX_CALLS_PER_COMPARISON"
    if calls > cap:
        raise TooManyCalls(f"Too many calls: {what} would make {calls} provider calls (routes × n, each repeat "
                           f"counted); at most {cap} are allowed ({setting}).")


def in_flight(team_id) -> int:
    """The team's calls sent to the workers and not yet ended: sent and still queued, or running
    in a worker (holding a team slot)."""
    sent = (Result.objects.filter(comparison__team_id=team_id, status=Status.QUEUED, sent_at__isnull=False)
            .filter(team_slot__isnull=True).count())  # one holding a slot, not claimed yet, is counted there
    return sent + TeamSlot.objects.filter(team_id=team_id, result__isnull=False).count()


def take_turns(team_id, only=None) -> list:
    """Mark the team's oldest waiting results sent, as many as it has free of TEAM_MAX_IN_FLIGHT
    (all of them when that is 0), and return their ids in order; the rest wait in the database,
    holding no broker message nor worker. ``only``: consider just these result ids. A result is
    marked by one conditional update, so two callers at once never both take it."""
    waiting = Result.objects.filter(comparison__team_id=team_id, status=Status.QUEUED, sent_at__isnull=True)
    if only is not None:
        waiting = waiting.filter(pk__in=only)
    if settings.TEAM_MAX_IN_FLIGHT:
        free = settings.TEAM_MAX_IN_FLIGHT - in_flight(team_id)
        if free <= 0:
            return []
        waiting = waiting.order_by("enqueued_at", "id")[:free]
    ids = list(waiting.values_list("pk", flat=True))
    if not ids:
        return []
    now = timezone.now()
    Result.objects.filter(pk__in=ids, sent_at__isnull=True).update(sent_at=now)
    return list(Result.objects.filter(pk__in=ids, sent_at=now).order_by("enqueued_at", "id").values_list("pk", flat=True))


def acquire_team(result, team_id) -> bool:
    """Take one of the team's TEAM_MAX_IN_FLIGHT slots for this result; False if all are held."""
    limit = settings.TEAM_MAX_IN_FLIGHT
    if not limit:
        return True
    free = TeamSlot.objects.filter(team_id=team_id, index__lt=limit, result__isnull=True).values_list("pk", flat=True)
    for pk in free:
        if TeamSlot.objects.filter(pk=pk, result__isnull=True).update(result=result):
            return True
    for index in range(limit):
        slot, _ = TeamSlot.objects.get_or_create(team_id=team_id, index=index)
        if TeamSlot.objects.filter(pk=slot.pk, result__isnull=True).update(result=result):
            return True
    return False


def release_team(result) -> None:
    TeamSlot.objects.filter(result=result).update(result=None)
