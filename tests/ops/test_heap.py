"""The garbage collector of a warmed-up process (compare/ops/heap.py): what exists after the warm
start is left out of later collections, and what is made after is collected as before."""

import gc
import logging
import weakref

import pytest

from compare import tasks, warmup
from compare.ops import heap


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def thawed(settings):
    settings.FREEZE_HEAP_AFTER_WARM_UP = True  # a server's setting (the unit tests' is off)
    yield
    gc.unfreeze()  # the rest of the test run's objects are collected as usual


def test_what_exists_at_the_freeze_is_not_walked_again_and_later_garbage_is_still_collected(thawed, caplog):
    kept = Node()
    with caplog.at_level(logging.INFO, logger="compare.ops.heap"):
        heap.freeze_after_warm_up("test process")
    made_after = Node()
    walked = {id(o) for o in gc.get_objects()}
    assert id(kept) not in walked and id(made_after) in walked
    assert gc.get_freeze_count() > 0
    assert "objects kept out of the garbage collector's walks" in caplog.text

    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    gc.collect()
    assert gone() is None


def test_a_freeze_first_collects_the_start_s_garbage(thawed):
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    heap.freeze_after_warm_up("test process")
    assert gone() is None  # collected, not kept for good


@pytest.mark.django_db
def test_the_web_and_the_worker_freeze_once_warmed_up(monkeypatch):
    frozen = []
    monkeypatch.setattr(heap, "freeze_after_warm_up", frozen.append)
    warmup.warm_web()
    for name in ("start_reaper", "start_call_pool"):
        monkeypatch.setattr(tasks, name, lambda: None)
    monkeypatch.setattr(tasks.health, "start_heartbeat", lambda name: None)
    monkeypatch.setattr(tasks.execution, "warm_up", lambda: None)
    tasks.warm_up(sender=None)
    assert frozen == ["web process", "worker"]


def test_the_unit_tests_process_is_not_frozen(caplog):
    before = gc.get_freeze_count()
    heap.freeze_after_warm_up("test process")
    assert gc.get_freeze_count() == before and "objects kept out" not in caplog.text
