"""Redis pub/sub beside the event table, for web processes that should hear of a new result
event at once instead of at their next look at the table. Only with EVENTS_URL (by default the
Celery broker when that is Redis); the message is a nudge with no content, the rows are read from
the table (compare/models/events.py), so a lost message only delays a page by one table check."""

import logging
import threading

import redis
import redis.asyncio
from django.conf import settings

log = logging.getLogger(__name__)
CHANNEL = "ipc:result-events"
_client = None
_lock = threading.Lock()


def enabled():
    return bool(settings.EVENTS_URL)


def announce():
    """Tell the web processes that new event rows are committed (after the commit)."""
    global _client
    if not enabled():
        return
    try:
        with _lock:
            if _client is None:
                _client = redis.Redis.from_url(settings.EVENTS_URL, socket_timeout=2, socket_connect_timeout=2)
        _client.publish(CHANNEL, b"1")
    except redis.RedisError as exc:  # the pages find the rows at their next check of the table
        log.warning("could not announce a result event on %s: %s", CHANNEL, type(exc).__name__)


async def listen(wake):
    """Set the asyncio.Event ``wake`` on every announcement, until cancelled; reconnects after an
    error (meanwhile the table is still checked every EVENTS_FALLBACK_SECONDS)."""
    import asyncio

    while True:
        client = redis.asyncio.Redis.from_url(settings.EVENTS_URL, socket_connect_timeout=2)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                wake.set()  # read whatever was announced while not subscribed
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        wake.set()
        except asyncio.CancelledError:
            raise
        except redis.RedisError as exc:
            log.warning("result events: Redis subscription lost (%s); retrying", type(exc).__name__)
            await asyncio.sleep(1)
        finally:
            await client.aclose()
