"""The benchmarks' Celery beat tick: finish ended runs, judge them, start the scheduled ones due.

A task module of its own (every worker registers it through CELERY_IMPORTS) because
compare/tasks.py cannot import compare/benchmarks/runs.py: a run creates comparisons through
compare/services.py, which enqueues their calls through compare/tasks.py."""

import logging

from celery import shared_task

from compare.benchmarks import runs as benchmarks

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def benchmark_tick():
    """Celery beat's tick (CELERY_BEAT_SCHEDULE): finish ended benchmark runs, judge them for
    drift, and start the scheduled benchmarks that are due (compare/benchmarks/runs.py)."""
    for run in benchmarks.tick():
        log.info("benchmark %s run %s %s", run.benchmark_id, run.pk, run.status,
                 extra={"event": "benchmark_run", "reason": run.reason})
