from celery import shared_task

from . import services


@shared_task(bind=True, ignore_result=True, acks_late=True)
def run_result(self, result_id):
    services.execute_result(result_id, worker=self.request.hostname or "")
