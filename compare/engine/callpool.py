"""A worker process's provider calls in flight: call threads, a few store threads, one cancel watcher.

A Celery task claims a result and hands its Call (compare/engine/execution.py) to this pool, then
returns: its Celery slot is free for the next claim at once, so the calls in flight of a worker
are not bounded by its Celery concurrency but by WORKER_CALLS (threads that only wait on sockets
and parse answers: they never touch the database). When a call has its answer, one of
WORKER_STORE_THREADS threads stores it (image checks in the image processes, files, rows) and
sends what comes next; those threads are the only ones that hold a database connection for the
calls, so 1,000 calls in flight mean a handful of PostgreSQL connections, not 1,000.

Cancelling: one watcher thread asks the database every WORKER_CANCEL_POLL_SECONDS which of this
process's calls were cancelled (one query for all of them) and wakes their adapters' sleeps, which
raise ProviderCancelledError so the adapter cancels its job at the provider.

Guarantees kept: the result was claimed before it came here (a second delivery of its task finds
it running and does nothing); a worker that dies with calls in flight leaves them running, and the
reaper ends them without calling the provider again (compare/engine/reaper.py); a worker that
stops gracefully waits for its calls (``drain``, up to WORKER_DRAIN_SECONDS)."""

import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from providers.base import ProviderCancelledError

from compare.engine.execution import Next
from compare.models import Result

log = logging.getLogger(__name__)
CHUNK = 500  # ids per cancel query (SQLite's variable limit is far above; a query stays small)


def kept_connection():
    """The database connections of this thread, kept between stores rather than closed after each
    (as DB_CONN_MAX_AGE=0 would): the pool's threads that use the database are a fixed few (store
    threads, the cancel watcher, the thread for later work), so keeping theirs bounds nothing, and
    opening one per stored result cost SQLite a file open and PostgreSQL a backend process start.
    Called before each use: a connection that an error left in a transaction, or that stopped
    answering (the database restarted), is closed, and the next query opens a new one."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.in_atomic_block or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"] or not _answers(conn):
            conn.close()
        else:
            conn.errors_occurred = False


def _answers(conn):
    """One round trip (Django's SQLite backend calls every connection usable, even a closed one)."""
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - whatever the driver raises, this connection is done
        return False


class CancelWatch:
    """Which of this process's calls the user cancelled, asked of the database for all at once."""

    def __init__(self, interval):
        self.interval = interval
        self.events = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = None

    def sleep_for(self, result_id):
        """The sleep of one call's adapter: returns after ``seconds``, or raises
        ProviderCancelledError as soon as the watcher sees the user's cancel."""
        event = threading.Event()
        with self.lock:
            self.events[result_id] = event
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="cancel-watch", daemon=True)
                self.thread.start()

        def wait(seconds):
            if event.wait(max(0.0, seconds)):
                raise ProviderCancelledError("Cancelled by the user while the provider was working")

        return wait

    def forget(self, result_id):
        with self.lock:
            self.events.pop(result_id, None)

    def stop(self):
        self.stopped.set()

    def _loop(self):
        while not self.stopped.wait(self.interval):
            try:
                kept_connection()
                self.look()
            except Exception:
                log.exception("could not look for cancelled calls; trying again")

    def look(self):
        """One look: wake the sleeps of the calls whose result has a cancel request."""
        with self.lock:
            ids = list(self.events)
        for start in range(0, len(ids), CHUNK):
            cancelled = (Result.objects.filter(pk__in=ids[start:start + CHUNK], cancel_requested_at__isnull=False)
                         .values_list("pk", flat=True))
            for pk in cancelled:
                with self.lock:
                    event = self.events.get(pk)
                if event is not None:
                    event.set()


class CallPool:
    """``submit(call, then)``: run ``call.perform()`` on a call thread, then ``call.conclude()`` and
    ``then(result_id, step)`` on a store thread (both in the log context of the submitting task)."""

    def __init__(self, calls, stores, cancel_poll_seconds=0.5):
        self.calls = ThreadPoolExecutor(max_workers=calls, thread_name_prefix="call")
        self.stores = ThreadPoolExecutor(max_workers=stores, thread_name_prefix="store")
        # Work that follows a stored result and may wait (its automatic checks): one thread, so
        # that it never holds a Celery thread that should be claiming the next results.
        self.after = ThreadPoolExecutor(max_workers=1, thread_name_prefix="after")
        self.watch = CancelWatch(cancel_poll_seconds)
        self.limit = calls
        self.free = calls  # places not reserved
        self.pending = set()
        self.lock = threading.Condition()

    def in_flight(self):
        """Calls handed to this pool and not yet stored."""
        with self.lock:
            return len(self.pending)

    def reserve(self, count):
        """Wait until ``count`` places are free and take them all at once (all or none: two
        tasks each holding half of what they need would wait for each other forever). A task
        reserves before it claims, so that a full pool leaves results unclaimed, in the broker,
        rather than claimed and waiting in this process (where a crash would lose them)."""
        count = min(count, self.limit)
        with self.lock:
            self.lock.wait_for(lambda: self.free >= count)
            self.free -= count
        return count

    def release(self, count=1):
        """Give back places reserved for results that did not become calls."""
        with self.lock:
            self.free += count
            self.lock.notify_all()

    def submit(self, call, then):
        """Run a call in a place reserved for it (``reserve``); the place is free again once the
        call is stored."""
        pk = call.result.pk
        call.attempt.provider.sleep = self.watch.sleep_for(pk)
        with self.lock:
            self.pending.add(pk)
        self.calls.submit(contextvars.copy_context().run, self._perform, call, then)

    def _perform(self, call, then):
        try:
            call.perform()
        finally:
            self.watch.forget(call.result.pk)
            # a copy: a context is entered by one thread at a time, and this one is still in it
            self.stores.submit(contextvars.copy_context().run, self._conclude, call, then)

    def _conclude(self, call, then):
        pk = call.result.pk
        try:
            kept_connection()
            step = call.conclude()
        except Exception:
            log.exception("storing result %s failed", pk)
            step = Next(turn_of=call.team_id)  # the team's turn still passes on, as when a call ends
        try:
            then(pk, step)
        except Exception:
            log.exception("could not send what comes after result %s; the reaper will", pk)
        finally:
            with self.lock:
                self.pending.discard(pk)
                self.free += 1
                self.lock.notify_all()

    def later(self, function, *args):
        """``function(*args)`` on the thread for work after a result (its checks), in the log
        context of the caller; its exception is logged, its database connection kept (``kept_connection``)."""

        def run():
            try:
                kept_connection()
                function(*args)
            except Exception:
                log.exception("%s%r failed", getattr(function, "__name__", function), args)

        self.after.submit(contextvars.copy_context().run, run)

    def drain(self, timeout):
        """Wait until every call handed here is stored, or ``timeout`` seconds; True if all were."""
        with self.lock:
            return self.lock.wait_for(lambda: not self.pending, timeout=timeout)

    def shutdown(self):
        self.watch.stop()
        self.calls.shutdown(wait=False)
        self.stores.shutdown(wait=False)
        self.after.shutdown(wait=False)
