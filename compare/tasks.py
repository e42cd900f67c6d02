"""Every Celery task of a result and all scheduling: runs, long-job checks, teams' turns, the reaper.

Each step of a result's run says what should happen next (compare/engine/execution.py returns a Next);
this module sends it. Also the image checks' task. A task takes an id, claims or exits, and
calls one function. (The benchmarks' beat tick is in compare/benchmarks/tasks.py.)"""

import contextlib
import logging
import math
import threading
import time

from celery import shared_task
from celery.signals import task_prerun, worker_process_init, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections

from compare.checks import checks
from compare.engine import callpool, execution, limits, reaper
from compare.models import TERMINAL, Result, Status
from compare.notifications import notifications
from compare.ops import health, heap, logs
# The notification tasks live with their rules; imported here so that every worker registers them
# (the benchmarks' beat tick is in compare/benchmarks/tasks.py, registered by CELERY_IMPORTS).
from compare.notifications.notifications import deliver_webhook, send_event_email  # noqa: F401

log = logging.getLogger(__name__)
_calls = None  # this worker process's CallPool, once it is a worker (tests and the web run calls inline)


def start_call_pool():
    """This process carries its provider calls in a CallPool (compare/engine/callpool.py) from now
    on; WORKER_CALLS=0 keeps one Celery slot per call (the call runs inside its task)."""
    global _calls
    if _calls is None and settings.WORKER_CALLS > 0:
        _calls = callpool.CallPool(settings.WORKER_CALLS, settings.WORKER_STORE_THREADS,
                                   cancel_poll_seconds=settings.WORKER_CANCEL_POLL_SECONDS)
    return _calls


@worker_process_init.connect
def child_started(**kwargs):  # a prefork pool's child process: its own pool
    start_call_pool()
    heap.freeze_after_warm_up("worker process")


@worker_ready.connect
def warm_up(sender=None, **kwargs):
    start_reaper()  # first: it must run even if the warm-up fails (e.g. before migrations)
    start_call_pool()
    health.start_heartbeat(getattr(sender, "hostname", "") or "worker")  # /healthz counts the live workers
    try:
        execution.warm_up()
    except Exception:
        logging.getLogger(__name__).exception("warm-up failed; the first comparison will be slower")
    heap.freeze_after_warm_up("worker")


@task_prerun.connect
def reuse_connection(task=None, **kwargs):
    """Before each task on a worker thread: its database connection, kept from the last task
    (CELERY_DB_REUSE_MAX), is checked as the call pool's are (callpool.kept_connection: closed
    if it was left in a transaction or stopped answering; the task's first query opens another)."""
    if task is not None and not getattr(task.request, "is_eager", False):
        callpool.kept_connection()


@worker_shutdown.connect
def stopped(sender=None, **kwargs):
    if _calls is not None and not _calls.drain(settings.WORKER_DRAIN_SECONDS):
        log.warning("stopping with %s provider call(s) still in flight: the reaper will end them "
                    "(they are not called again)", _calls.in_flight())
    try:
        health.stop_heartbeat(getattr(sender, "hostname", "") or "worker")
    except Exception:
        logging.getLogger(__name__).exception("could not remove this worker's heartbeat")


@shared_task(bind=True, ignore_result=True, acks_late=True)
def run_result(self, result_id):
    """Claim the result and hand its call to this worker's call pool (the task ends at once: its
    Celery slot goes to the next claim); without a pool, the call runs here."""
    start([result_id], self.request.hostname or "")


@shared_task(bind=True, ignore_result=True, acks_late=True)
def run_results(self, result_ids):
    """``run_result`` for several results in one message: claimed in one transaction, their
    calls handed to the pool one by one as their providers are built (dispatch sends a team's
    turns this way, CLAIM_BATCH at a time)."""
    start(list(result_ids), self.request.hostname or "")


def start(result_ids, worker):
    """Claim the results and hand each claimed call to this worker's call pool as soon as it is
    built (without a pool, each runs here in turn), then do what each one's step asks. A full
    pool makes the task wait before it claims anything (CallPool.reserve)."""
    calls = _calls
    size = calls.limit if calls is not None else len(result_ids)
    for at in range(0, len(result_ids), size):  # a message never holds more than the pool at once
        part = result_ids[at:at + size]
        unused = calls.reserve(len(part)) if calls is not None else 0
        try:
            with logs.scope(result=part[0], request_id=None):  # each claimed one binds its own fields
                started = execution.start_results(part, worker=worker)
                for result_id in part:
                    _, step = next(started)
                    if calls is not None:  # its place goes to its call, or back to the pool
                        if isinstance(step, execution.Call):
                            calls.submit(step, then=ended)
                            unused -= 1
                            continue
                        calls.release()
                        unused -= 1
                    try:
                        step = step.run() if isinstance(step, execution.Call) else step
                    except Exception:
                        # A crash after the claim: the team's turn still passes on, as when a call
                        # ends; the error is raised as it was (if even this fails, the reaper
                        # sends the turn later).
                        with contextlib.suppress(Exception):
                            pass_turn(Result.objects.filter(pk=result_id)
                                      .values_list("comparison__team_id", flat=True).first())
                        raise
                    ended(result_id, step)
        finally:
            if unused > 0:
                calls.release(unused)


def ended(result_id, step):
    """After a step of a result's run: what it asked for, its log line, its image checks."""
    follow(result_id, step)
    log_outcome(result_id)
    enqueue_checks(result_id)


@shared_task(ignore_result=True, acks_late=True)
def check_result(result_id):
    """One scheduled check of a long-running provider job (OpenAI's Batch API)."""
    with logs.scope(result=result_id, request_id=None):
        follow(result_id, execution.check_long_job(result_id))
        log_outcome(result_id)
    enqueue_checks(result_id)


def follow(result_id, step):
    """Do what a step of the result's run asked for (an execution.Next, or None): its run again
    later, a check of its long job later, its team's next turn now (even if sending the check
    failed: the reaper schedules a lost check again)."""
    if step is None:
        return
    try:
        if step.retry_in is not None:
            run_result.apply_async((result_id,), countdown=step.retry_in)
        if step.check_in is not None:
            check_result.apply_async((result_id,), countdown=step.check_in)
    finally:
        pass_turn(step.turn_of)


def dispatch(team_id, only=None):
    """Send the team's oldest waiting results to the broker, as many as it has free of
    TEAM_MAX_IN_FLIGHT (limits.take_turns), CLAIM_BATCH to a message (one each when calls run
    inside their task: WORKER_CALLS=0). The rest wait in the database, holding no broker message
    nor worker: so another team's first call is never queued behind this team's flood. Called
    when results are enqueued (services.enqueue), when one of the team's calls ends and by the
    reaper. ``only``: consider just these result ids. Returns how many were sent.
    Several results go in two messages at least (``message_size``), so that two worker processes
    share even a small comparison's claims and stores."""
    ids = limits.take_turns(team_id, only=only)
    chunk = message_size(len(ids))
    for start_at in range(0, len(ids), chunk):
        part = ids[start_at:start_at + chunk]
        if len(part) == 1:
            run_result.apply_async((part[0],))
        else:
            run_results.apply_async((part,))
    return len(ids)


def message_size(count):
    """Results to a message when ``count`` are sent at once: CLAIM_BATCH at most (one each when
    calls run inside their task, WORKER_CALLS=0), and no more than half of them, so that they are
    at least two messages (a 6-route comparison: 3 + 3; 50 routes: 5 messages of 10)."""
    if settings.WORKER_CALLS <= 0:
        return 1
    return max(1, min(settings.CLAIM_BATCH, settings.WORKER_CALLS, math.ceil(count / 2)))


def pass_turn(team_id):
    """Send the team's next waiting result; if that fails (the broker is down), the reaper
    sends it later, and the call that just ended keeps what it stored."""
    if team_id is None:
        return
    try:
        dispatch(team_id)
    except Exception:
        log.exception("could not send team %s's next waiting result; the reaper will", team_id)


def log_outcome(result_id):
    """One line when a task has ended its result: status, error code, timings and cost."""
    row = (Result.objects.filter(pk=result_id, status__in=TERMINAL)
           .values("status", "error_code", "latency_ms", "queue_ms", "cost_usd", "cost_source").first())
    if row is not None:
        log.info("result %s %s", result_id, row["status"], extra={"event": "result_finished", **row})


@shared_task(ignore_result=True, acks_late=True)
def run_checks(result_id):
    """The automatic checks of a stored result's images (compare/checks/checks.py), after its timing:
    in a worker, on its call pool's thread for later work (so that a burst of checks never holds
    the Celery threads that claim results; a check lost with its worker shows as missing, and
    `manage.py check_images` runs it); elsewhere, here."""
    with logs.scope(result=result_id, request_id=None):
        if _calls is not None:
            _calls.later(checks.run_checks, result_id)
        else:
            checks.run_checks(result_id)


def enqueue_checks(result_id):
    """Once a result has succeeded and been stored, its checks follow: in a worker, on its call
    pool's thread for later work, handed there at once (a broker message that would come back to
    this process for the same thread cost every stored result a message written and read); elsewhere
    in a task of their own."""
    if Result.objects.filter(pk=result_id, status=Status.SUCCEEDED, image_checks__isnull=True).exists():
        if _calls is not None:
            _calls.later(checks.run_checks, result_id)
            return
        try:
            run_checks.apply_async((result_id,))
        except Exception:  # the result is stored; its checks show "missing" later (manage.py check_images)
            log.exception("could not enqueue the checks of result %s", result_id)


def reap_stale():
    """One pass of the reaper (compare/engine/reaper.py): end what a lost worker left running, and send
    what a lost message left behind: lost long-job checks, lost run messages at once, results
    never sent within their team's fair share (dispatch). Returns (ended, rechecked, resent)."""
    found = reaper.find_stale()
    for pk in found.recheck:
        check_result.apply_async((pk,))
    for pk in found.resend:
        run_result.apply_async((pk,))
    sent = sum(dispatch(team_id, only=ids) for team_id, ids in found.waiting.items())
    reaper.tidy()
    return found.ended, len(found.recheck), len(found.resend) + sent


def start_reaper(interval=None):
    """A daemon thread in each worker that runs ``reap_stale`` every REAPER_INTERVAL_SECONDS
    (several workers reaping at once is harmless: every change is a conditional update)."""
    interval = interval or settings.REAPER_INTERVAL_SECONDS

    def loop():
        while True:
            time.sleep(interval)
            try:
                ended, rechecked, resent = reap_stale()
                if ended or rechecked or resent:
                    log.warning("reaper: ended %s lost result(s), rechecked %s job(s), resent %s queued",
                                ended, rechecked, resent)
                late = notifications.resend_due()
                if late:
                    log.warning("reaper: resent %s webhook deliveries whose task was lost", late)
            except Exception:
                log.exception("reaper failed; it will try again")
            finally:
                close_old_connections()

    thread = threading.Thread(target=loop, name="result-reaper", daemon=True)
    thread.start()
    return thread
