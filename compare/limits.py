"""Per-route limits on concurrent calls and calls per minute, from ROUTE_LIMITS:

    ROUTE_LIMITS="openai:gpt-image-2=4/60; fal:*=8/120"

``KEY=CONCURRENT/PER_MINUTE`` (either may be empty: ``=4/`` or ``=/30``); ``provider:*`` covers
every route of a provider. A result whose route is at its limit stays queued, and its task is
sent again a little later: the wait shows as our queue wait, never as provider latency."""

import time
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from .models import RouteMinute, RouteSlot, Status


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
    return RouteSlot.objects.exclude(result__isnull=True).exclude(result__status=Status.RUNNING).update(result=None)
