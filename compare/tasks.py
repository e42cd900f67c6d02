import logging

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from . import benchmarks, checks, execution, health, logs
from .models import TERMINAL, Result, Status
# The notification tasks live with their rules; imported here so that every worker registers them.
from .notifications import deliver_webhook, send_event_email  # noqa: F401

log = logging.getLogger(__name__)


@worker_ready.connect
def warm_up(sender=None, **kwargs):
    execution.start_reaper()  # first: it must run even if the warm-up fails (e.g. before migrations)
    health.start_heartbeat(getattr(sender, "hostname", "") or "worker")  # /healthz counts the live workers
    try:
        execution.warm_up()
    except Exception:
        logging.getLogger(__name__).exception("warm-up failed; the first comparison will be slower")


@worker_shutdown.connect
def stopped(sender=None, **kwargs):
    try:
        health.stop_heartbeat(getattr(sender, "hostname", "") or "worker")
    except Exception:
        logging.getLogger(__name__).exception("could not remove this worker's heartbeat")


@shared_task(bind=True, ignore_result=True, acks_late=True)
def run_result(self, result_id):
    with logs.scope(result=result_id, request_id=None):
        execution.execute_result(result_id, worker=self.request.hostname or "")
        log_outcome(result_id)
    enqueue_checks(result_id)


@shared_task(ignore_result=True, acks_late=True)
def check_result(result_id):
    """One scheduled check of a long-running provider job (OpenAI's Batch API)."""
    with logs.scope(result=result_id, request_id=None):
        execution.check_long_job(result_id)
        log_outcome(result_id)
    enqueue_checks(result_id)


def log_outcome(result_id):
    """One line when a task has ended its result: status, error code, timings and cost."""
    row = (Result.objects.filter(pk=result_id, status__in=TERMINAL)
           .values("status", "error_code", "latency_ms", "queue_ms", "cost_usd", "cost_source").first())
    if row is not None:
        log.info("result %s %s", result_id, row["status"], extra={"event": "result_finished", **row})


@shared_task(ignore_result=True, acks_late=True)
def run_checks(result_id):
    """The automatic checks of a stored result's images (compare/checks.py), after its timing."""
    with logs.scope(result=result_id, request_id=None):
        checks.run_checks(result_id)


def enqueue_checks(result_id):
    """Once a result has succeeded and been stored, its checks go to a task of their own."""
    if Result.objects.filter(pk=result_id, status=Status.SUCCEEDED, image_checks__isnull=True).exists():
        try:
            run_checks.apply_async((result_id,))
        except Exception:  # the result is stored; its checks show "missing" later (manage.py check_images)
            log.exception("could not enqueue the checks of result %s", result_id)


@shared_task(ignore_result=True)
def benchmark_tick():
    """Celery beat's tick (CELERY_BEAT_SCHEDULE): finish ended benchmark runs, judge them for
    drift, and start the scheduled benchmarks that are due (compare/benchmarks.py)."""
    for run in benchmarks.tick():
        log.info("benchmark %s run %s %s", run.benchmark_id, run.pk, run.status,
                 extra={"event": "benchmark_run", "reason": run.reason})
