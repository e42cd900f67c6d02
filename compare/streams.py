"""Results pushed, not polled: a results page or a batch matrix follows one server-sent event
stream instead of asking for each card twice a second.

The stream says only "result N is now in status S" (event ``result-N``, id = the event row's
id), and ``change`` for the page's summary parts (at most twice a second); the page then fetches
the card partial as it did when polling, through the same views and visibility rules (so a blind
comparison's stream names no route). A reconnect sends Last-Event-ID and gets every row after it,
in order. When every result has ended, ``done`` is sent and the stream ends.

Each web process follows the event table once (a Hub per event loop), whatever the number of open
pages: every EVENTS_POLL_SECONDS, or when Redis says there is something new (compare/eventbus.py)."""

import asyncio
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import aget_object_or_404

from compare import eventbus
from compare.batches.models import Batch
from compare.models import Comparison, Result, ResultEvent, Status

log = logging.getLogger(__name__)
FIELDS = ("id", "comparison_id", "result_id", "status")
BATCH_ROWS = 1000
KEEPALIVE_SECONDS = 15


def _rows_after(last_id, comparison_ids=None):
    rows = ResultEvent.objects.filter(id__gt=last_id)
    if comparison_ids is not None:
        rows = rows.filter(comparison_id__in=comparison_ids)
    return list(rows.order_by("id").values_list(*FIELDS)[:BATCH_ROWS])


def _newest_id():
    return ResultEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


class Hub:
    """Follows the event table for one web process and hands each new row to the open streams
    of its comparison. Runs only while a stream is open; reads the database in a thread of its own."""

    def __init__(self):
        self.streams = {}  # asyncio.Queue -> the comparison ids it follows
        self.task = None
        self.ready = None
        self.closing = True

    async def follow(self, comparison_ids):
        """A queue that receives every row of these comparisons committed from now on: rows with
        an id above the one awaited here (older ones are the caller's backlog to read)."""
        queue = asyncio.Queue()
        self.streams[queue] = frozenset(comparison_ids)
        if self.closing:
            self.closing = False
            self.ready = asyncio.get_running_loop().create_future()
            self.task = asyncio.create_task(self.run(self.ready))
        try:
            return queue, await asyncio.shield(self.ready)
        except Exception:
            self.leave(queue)
            raise

    def leave(self, queue):
        self.streams.pop(queue, None)

    async def run(self, ready):
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1, thread_name_prefix="result-events")
        wake = asyncio.Event()
        listener = asyncio.create_task(eventbus.listen(wake)) if eventbus.enabled() else None
        interval = settings.EVENTS_FALLBACK_SECONDS if listener else settings.EVENTS_POLL_SECONDS
        try:
            try:
                last = await loop.run_in_executor(executor, _newest_id)
            except Exception as exc:
                ready.set_exception(exc)
                self.closing = True
                return
            ready.set_result(last)
            full = False
            while True:
                if not self.streams:
                    self.closing = True  # a stream arriving now starts a new hub
                    return
                if not full:
                    try:
                        await asyncio.wait_for(wake.wait(), interval)
                    except TimeoutError:
                        pass
                    wake.clear()
                try:
                    rows = await loop.run_in_executor(executor, _rows_after, last)
                except Exception:
                    log.exception("result events: reading the table failed; trying again")
                    await loop.run_in_executor(executor, connections.close_all)
                    await asyncio.sleep(1)
                    continue
                full = len(rows) == BATCH_ROWS
                for row in rows:
                    last = row[0]
                    for queue, ids in list(self.streams.items()):
                        if row[1] in ids:
                            queue.put_nowait(row)
        finally:
            if listener is not None:
                listener.cancel()
            loop.run_in_executor(executor, connections.close_all)
            executor.shutdown(wait=False)


_hubs = WeakKeyDictionary()


def hub():
    """The Hub of the running event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub()
    return _hubs[loop]


def _messages(rows):
    """One message per row: ``result-N``, its id the row's, so a reconnect resumes after it."""
    parts = []
    for event_id, comparison_id, result_id, status in rows:
        data = json.dumps({"result": result_id, "comparison": comparison_id, "status": status})
        parts.append(f"id: {event_id}\nevent: result-{result_id}\ndata: {data}\n\n")
    return "".join(parts)


CHANGE = "event: change\ndata: {}\n\n"


async def _all_ended(comparison_ids):
    return not await Result.objects.filter(comparison_id__in=comparison_ids,
                                           status__in=[Status.QUEUED, Status.RUNNING]).aexists()


async def follow(comparison_ids, after, *, resumed=False, change_every=0.5):
    """The stream's text: the rows after ``after``, then each new one as it is committed, until
    every result of these comparisons has ended (``done``) or EVENTS_STREAM_SECONDS have passed.
    A ``change`` message (for the summary, race timeline or matrix, which redraw whole) follows
    new rows, at most once every ``change_every`` seconds; a resumed stream starts with one, as
    the page may have missed one while away."""
    the_hub = hub()
    queue, _start = await the_hub.follow(comparison_ids)
    try:
        yield f"retry: 1000\n: following {len(comparison_ids)} comparison(s)\n\n"
        rows = await asyncio.to_thread(_backlog, comparison_ids, after)
        sent = after
        deadline = time.monotonic() + settings.EVENTS_STREAM_SECONDS
        change_due, next_change = resumed, 0.0
        first = True
        while True:
            fresh = [row for row in rows if row[0] > sent]
            if fresh:
                sent = fresh[-1][0]
                change_due = True
                yield _messages(fresh)
            ended = (fresh or first) and await _all_ended(comparison_ids)
            if change_due and (ended or time.monotonic() >= next_change):
                change_due, next_change = False, time.monotonic() + change_every
                yield CHANGE
            if ended:
                yield "event: done\ndata: {}\n\n"
                return
            first = False
            now = time.monotonic()
            left = deadline - now
            if left <= 0:
                return  # the browser reconnects from its last event id, and access is checked again
            wait = min(KEEPALIVE_SECONDS, left)
            if change_due:
                wait = min(wait, max(0.0, next_change - now))
            try:
                row = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if not change_due:
                    yield ": keep-alive\n\n"
                rows = []
                continue
            rows = [row]
            while not queue.empty():
                rows.append(queue.get_nowait())
    finally:
        the_hub.leave(queue)


def _backlog(comparison_ids, after):
    try:
        rows = []
        while True:
            chunk = _rows_after(after if not rows else rows[-1][0], comparison_ids)
            rows.extend(chunk)
            if len(chunk) < BATCH_ROWS:
                return rows
    finally:
        connections.close_all()


def _after(request):
    """Where the stream starts: the browser's Last-Event-ID on a reconnect, else the page's ?after=."""
    value = request.headers.get("Last-Event-ID") or request.GET.get("after") or "0"
    if not value.isdigit() or len(value) > 18:
        raise ValueError("after")
    return int(value)


def _response(stream):
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a buffering proxy would hold the events back
    return response


async def comparison_events(request, pk):
    """The event stream of one comparison, for members of its team (like the results page)."""
    user = await request.auser()
    if not await Comparison.objects.visible_to(user).filter(pk=pk).aexists():
        raise Http404("No comparison here.")
    try:
        after = _after(request)
    except ValueError:
        return HttpResponseBadRequest("Last-Event-ID (or after) must be an event id.")
    return _response(follow([pk], after, resumed="Last-Event-ID" in request.headers))


async def batch_events(request, pk):
    """The event stream of a batch's comparisons, for members of its team (like the matrix)."""
    user = await request.auser()
    batch = await aget_object_or_404(Batch.objects.visible_to(user), pk=pk)
    try:
        after = _after(request)
    except ValueError:
        return HttpResponseBadRequest("Last-Event-ID (or after) must be an event id.")
    ids = [cid async for cid in batch.items.values_list("comparison_id", flat=True)]
    if not ids:
        raise Http404("This batch has no comparisons.")
    return _response(follow(ids, after, resumed="Last-Event-ID" in request.headers, change_every=1.0))
