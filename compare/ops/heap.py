"""The garbage collector of a long-running process (a web or worker process), set once it has warmed up.

CPython's full (generation 2) collection walks every tracked object in the process: a warmed-up
web or worker process holds about 140,000 (Django, Celery, every provider module, the route
catalog; its log says how many at the freeze), and beside what a burst makes, each full collection held the interpreter lock for 70 to 180 ms on this machine,
every thread of the process stopped. A worker claiming a 50-route comparison when one came found
its claims and the start of its calls late by that much (bench/enginebench.py's fan-out: the
second comparison after a start was the slowest, every run). ``gc.freeze()`` moves what exists
after the warm start (modules, classes, settings, caches: objects that live as long as the
process) to a generation the collector no longer walks, so a full collection walks only what was
made since: a few milliseconds. Collected first, so no garbage of the start is kept for good."""

import gc
import logging
import time

from django.conf import settings

log = logging.getLogger(__name__)


def freeze_after_warm_up(process):
    """Collect once, then keep every object that exists now out of later collections
    (FREEZE_HEAP_AFTER_WARM_UP: off in the unit tests' settings)."""
    if not settings.FREEZE_HEAP_AFTER_WARM_UP:
        return
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info("%s: %s objects kept out of the garbage collector's walks (%.0f ms)", process, gc.get_freeze_count(),
             (time.perf_counter() - started) * 1000, extra={"event": "heap_frozen"})
