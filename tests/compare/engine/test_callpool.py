"""A worker's call pool: calls in flight are not Celery slots, nor database connections."""

import contextlib
import threading
import types

import pytest
from django.db import connections
from django.utils import timezone

from providers.base import Capabilities, GeneratedImage, ImageResult, Provider, Route

from compare import catalog, tasks
from compare.engine import callpool, execution
from compare.models import Result, Status

from tests.compare import factories
from tests.helpers import image_bytes

pytestmark = pytest.mark.django_db(transaction=True)  # the pool's threads have their own connections
IN_FLIGHT = 60


class Gathered(Provider):
    """Answers only once ``IN_FLIGHT`` calls are inside generate at the same moment (a barrier),
    and records whether the thread it runs on holds a database connection."""

    slug = "gathered"
    name = "Gathered"
    barrier = None
    connected = []

    def generate(self, request):
        Gathered.connected.append(connections["default"].connection is not None)
        Gathered.barrier.wait(timeout=30)
        return ImageResult(images=(GeneratedImage(data=image_bytes()),))


class Waiting(Provider):
    """Waits a minute through its sleep (the cancellable one), then answers."""

    slug = "waiting"
    name = "Waiting"

    def generate(self, request):
        self.sleep(60)
        return ImageResult(images=(GeneratedImage(data=image_bytes()),))


ENQUEUE_CHECKS = tasks.enqueue_checks


@pytest.fixture(autouse=True)
def no_checks(monkeypatch):
    """A stored result's checks run on the pool's later thread, beside the store thread: the unit
    tests' in-memory database refuses two writers at once (a file database waits), so the tests
    that are not about the checks leave them out."""
    monkeypatch.setattr(tasks, "enqueue_checks", lambda result_id: None)


@pytest.fixture
def route(monkeypatch):
    def use(adapter):
        made = Route("sandbox:fast", adapter, "m", adapter.name, Capabilities(), {})
        monkeypatch.setattr(catalog, "get_route", lambda key, team=None, **_: made)

    return use


@pytest.fixture
def pool():
    # One store thread: the unit tests' SQLite database is in memory (shared cache), where two
    # writing connections fail with "table is locked" instead of waiting as a file database does.
    made = callpool.CallPool(calls=200, stores=1, cancel_poll_seconds=0.05)
    yield made
    made.shutdown()


def hand_over(pool, results, ended):
    for result in results:
        started = execution.start_result(result.pk, worker="w1")
        assert isinstance(started, execution.Call)
        pool.submit(started, then=lambda pk, step: ended.append((pk, step)))


def test_sixty_calls_are_in_flight_at_once_with_one_store_thread_and_no_connection(alice, route, pool, settings):
    settings.TEAM_MAX_IN_FLIGHT = 0  # the team's fair share is not what is tried here
    Gathered.barrier, Gathered.connected = threading.Barrier(IN_FLIGHT), []
    route(Gathered)
    results = [factories.comparison(alice, routes=["sandbox:fast"], prompt=f"p{i}").results.get()
               for i in range(IN_FLIGHT)]
    ended = []
    hand_over(pool, results, ended)
    assert pool.drain(timeout=60)
    # every call was inside its provider at the same moment (else the barrier breaks: failed cards)
    assert not Gathered.barrier.broken
    assert Result.objects.filter(status=Status.SUCCEEDED).count() == IN_FLIGHT
    assert Gathered.connected == [False] * IN_FLIGHT  # the call threads never opened one
    assert sorted(pk for pk, _ in ended) == sorted(r.pk for r in results)
    assert all(step.turn_of == alice.memberships.get().team_id for _, step in ended)
    assert pool.in_flight() == 0


def test_a_cancel_wakes_the_sleeping_adapter_within_the_watch_interval(alice, route, pool):
    route(Waiting)
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    ended = []
    hand_over(pool, [result], ended)
    assert not pool.drain(timeout=0.3)  # still waiting at its provider
    Result.objects.filter(pk=result.pk).update(cancel_requested_at=timezone.now())
    assert pool.drain(timeout=20)  # not the adapter's 60 s
    result.refresh_from_db()
    assert (result.status, result.error_code) == (Status.CANCELLED, "cancelled")
    assert ended[0][0] == result.pk


def test_the_task_hands_its_call_to_the_pool_and_returns(alice, route, settings, monkeypatch):
    settings.WORKER_CALLS, settings.WORKER_STORE_THREADS = 10, 1
    monkeypatch.setattr(tasks, "_calls", None)
    running = tasks.start_call_pool()
    try:
        Gathered.barrier, Gathered.connected = threading.Barrier(2), []
        route(Gathered)
        result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
        tasks.run_result.run(result.pk)  # returns with the call still at its provider
        assert Result.objects.get(pk=result.pk).status == Status.RUNNING
        Gathered.barrier.wait(timeout=10)  # the provider answers
        assert running.drain(timeout=30)
        assert Result.objects.get(pk=result.pk).status == Status.SUCCEEDED
    finally:
        running.shutdown()


def test_without_a_pool_the_task_runs_its_call_itself(alice, route, settings, monkeypatch):
    settings.WORKER_CALLS = 0
    monkeypatch.setattr(tasks, "_calls", None)
    assert tasks.start_call_pool() is None
    Gathered.barrier, Gathered.connected = threading.Barrier(1), []
    route(Gathered)
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    tasks.run_result.run(result.pk)
    assert Result.objects.get(pk=result.pk).status == Status.SUCCEEDED


def test_a_full_pool_leaves_the_next_result_unclaimed_until_a_place_frees(alice, route, settings, monkeypatch):
    settings.WORKER_CALLS, settings.WORKER_STORE_THREADS, settings.TEAM_MAX_IN_FLIGHT = 1, 1, 0
    monkeypatch.setattr(tasks, "_calls", None)
    running = tasks.start_call_pool()
    try:
        Gathered.barrier, Gathered.connected = threading.Barrier(2), []
        route(Gathered)
        first, second = factories.comparison(alice, routes=["sandbox:fast", "sandbox:fast"]).results.all()
        tasks.run_result.run(first.pk)  # at its provider, holding the pool's one place
        waiting = threading.Thread(target=tasks.run_result.run, args=(second.pk,), daemon=True)
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive()  # the task waits for a place...
        assert Result.objects.get(pk=second.pk).status == Status.QUEUED  # ...before it claims
        Gathered.barrier.wait(timeout=10)  # the first call's provider answers and it is stored
        waiting.join(timeout=30)
        assert not waiting.is_alive()
        Gathered.barrier.wait(timeout=10)  # the second's
        assert running.drain(timeout=30)
        assert set(Result.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    finally:
        running.shutdown()


def test_places_are_taken_all_at_once_or_not_at_all():
    pool = callpool.CallPool(calls=3, stores=1)
    try:
        assert pool.reserve(2) == 2
        taken = []
        wanting = threading.Thread(target=lambda: taken.append(pool.reserve(2)), daemon=True)
        wanting.start()
        wanting.join(timeout=0.3)
        assert wanting.is_alive() and taken == []  # one place is free, not two: it took none
        pool.release(1)
        wanting.join(timeout=5)
        assert taken == [2] and pool.free == 0
        pool.release(3)
        assert pool.reserve(10) == 3  # a message larger than the pool takes the whole pool, not more
    finally:
        pool.shutdown()


def test_a_store_thread_keeps_its_connection_between_stores(alice, route, pool, settings):
    settings.TEAM_MAX_IN_FLIGHT = 0
    Gathered.barrier, Gathered.connected = threading.Barrier(1), []
    route(Gathered)
    seen = []
    for index in range(3):
        result = factories.comparison(alice, routes=["sandbox:fast"], prompt=f"p{index}").results.get()
        # on the store thread, after the store: the connection it used
        pool.submit(execution.start_result(result.pk, worker="w1"),
                    then=lambda pk, step: seen.append(connections["default"].connection))
        assert pool.drain(timeout=30)
    assert Result.objects.filter(status=Status.SUCCEEDED).count() == 3
    assert seen[0] is not None and seen[0] is seen[1] is seen[2]  # kept, not opened per result


class Conn:
    """A stand-in for one of Django's connections, as kept_connection looks at them."""

    def __init__(self, answers=True, in_atomic_block=False, autocommit=True):
        self.connection, self.in_atomic_block, self.autocommit = object(), in_atomic_block, autocommit
        self.settings_dict, self.errors_occurred, self.closed, self.answers = {"AUTOCOMMIT": True}, True, False, answers

    def get_autocommit(self):
        return self.autocommit

    def cursor(self):
        if not self.answers:
            raise OSError("server closed the connection unexpectedly")
        return contextlib.nullcontext(types.SimpleNamespace(execute=lambda sql: None))

    def close(self):
        self.closed = True


def test_a_kept_connection_that_stopped_answering_or_was_left_in_a_transaction_is_closed(monkeypatch):
    healthy, gone, left_open, not_autocommit = Conn(), Conn(answers=False), Conn(in_atomic_block=True), Conn(
        autocommit=False)
    monkeypatch.setattr(callpool, "connections", types.SimpleNamespace(
        all=lambda initialized_only: [healthy, gone, left_open, not_autocommit]))
    callpool.kept_connection()
    assert (healthy.closed, gone.closed, left_open.closed, not_autocommit.closed) == (False, True, True, True)
    assert healthy.errors_occurred is False  # it answered: the error that marked it is behind it


def test_a_stored_result_s_checks_go_to_the_pool_s_later_thread_without_a_broker_message(
        alice, route, settings, monkeypatch):
    settings.WORKER_CALLS, settings.WORKER_STORE_THREADS, settings.IMAGE_PROCESSES = 10, 1, 0
    monkeypatch.setattr(tasks, "_calls", None)
    monkeypatch.setattr(tasks, "enqueue_checks", ENQUEUE_CHECKS)
    sent = []
    monkeypatch.setattr(tasks.run_checks, "apply_async", lambda *args, **kwargs: sent.append(args))
    running = tasks.start_call_pool()
    try:
        Gathered.barrier, Gathered.connected = threading.Barrier(1), []
        route(Gathered)
        # The later thread waits until the store is done: the unit tests' in-memory database
        # refuses two writers at once (a file database waits).
        stored = threading.Event()
        running.after.submit(stored.wait, 30)
        result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
        tasks.run_result.run(result.pk)
        assert running.drain(timeout=30)
        stored.set()
        running.after.submit(lambda: None).result(timeout=60)  # the later thread has done what it was given
        assert Result.objects.get(pk=result.pk).image_checks is not None
        assert sent == []
    finally:
        running.shutdown()


class Task:
    def __init__(self, eager):
        self.request = types.SimpleNamespace(is_eager=eager)


@pytest.mark.django_db
def test_a_celery_thread_keeps_its_database_connection_from_one_task_to_the_next():
    """Celery's Django fixup closes a task thread's connections around every task unless
    CELERY_DB_REUSE_MAX says otherwise: with ours, the connection a task used is the next one's."""
    from celery.fixups.django import DjangoWorkerFixup

    from config.celery import app

    fixup = DjangoWorkerFixup(app)
    Result.objects.exists()
    used = connections["default"].connection
    for _ in range(3):  # a task ends, the next starts, and so on
        fixup.on_task_postrun(sender=Task(eager=False))
        fixup.on_task_prerun(sender=Task(eager=False))
    assert used is not None and connections["default"].connection is used


def test_each_worker_task_starts_on_a_checked_connection_and_eager_ones_are_left_alone(monkeypatch):
    checked = []
    monkeypatch.setattr(callpool, "kept_connection", lambda: checked.append(True))
    tasks.reuse_connection(task=Task(eager=True))  # a test's or the web's inline task: its connection is not ours
    assert checked == []
    tasks.reuse_connection(task=Task(eager=False))
    assert checked == [True]
