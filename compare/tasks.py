import logging

from celery import shared_task
from celery.signals import worker_ready

from . import checks, execution
from .models import Result, Status


@worker_ready.connect
def warm_up(**kwargs):
    execution.start_reaper()  # first: it must run even if the warm-up fails (e.g. before migrations)
    try:
        execution.warm_up()
    except Exception:
        logging.getLogger(__name__).exception("warm-up failed; the first comparison will be slower")


@shared_task(bind=True, ignore_result=True, acks_late=True)
def run_result(self, result_id):
    execution.execute_result(result_id, worker=self.request.hostname or "")
    enqueue_checks(result_id)


@shared_task(ignore_result=True, acks_late=True)
def check_result(result_id):
    """One scheduled check of a long-running provider job (OpenAI's Batch API)."""
    execution.check_long_job(result_id)
    enqueue_checks(result_id)


@shared_task(ignore_result=True, acks_late=True)
def run_checks(result_id):
    """The automatic checks of a stored result's images (compare/checks.py), after its timing."""
    checks.run_checks(result_id)


def enqueue_checks(result_id):
    """Once a result has succeeded and been stored, its checks go to a task of their own."""
    if Result.objects.filter(pk=result_id, status=Status.SUCCEEDED, image_checks__isnull=True).exists():
        try:
            run_checks.apply_async((result_id,))
        except Exception:  # the result is stored; its checks show "missing" later (manage.py check_images)
            logging.getLogger(__name__).exception("could not enqueue the checks of result %s", result_id)
