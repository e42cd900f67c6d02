import logging

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from . import execution, health, logs


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


@shared_task(ignore_result=True, acks_late=True)
def check_result(result_id):
    """One scheduled check of a long-running provider job (OpenAI's Batch API)."""
    with logs.scope(result=result_id, request_id=None):
        execution.check_long_job(result_id)
