"""What a worker does with one result: claim it, call its provider once, store what came back,
and end in a terminal state. Long-running protocols (OpenAI's Batch API) are submitted once and
then checked by scheduled tasks, so no worker thread waits for hours."""

import logging
import threading
import time

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, transaction

from providers import runner
from providers.base import LongRunningProvider, ProviderCancelledError, ProviderError, ProviderTimeoutError, redact
from providers.deadline import DeadlineTransport
from providers.outbound import OutboundTransport, Policy
from providers.registry import UnknownRoute

from . import limits, logs, notifications
from . import routes as route_catalog
from .images import ImageRejected, check_images, start_image_processes
from .models import CostSource, EstimateSource, Result, ResultEvent, ResultImage, Status
from .services import dispatch, request_for

log = logging.getLogger(__name__)
FAILURE_STATUS = {ProviderTimeoutError: Status.TIMED_OUT, ProviderCancelledError: Status.CANCELLED}


_ssl_context = None
_ssl_lock = threading.Lock()


def ssl_context():
    """One TLS context per process: building one loads the CA bundle (~40 ms), and ten of them
    built at once by ten threads would delay every provider call of a comparison."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def http_client(deadline=None, trusted_base_url=""):
    """A client for one result's provider call; with ``deadline`` (seconds from now), no request
    or answer of it outlives that (providers/deadline.py: even an answer that drips in). Every
    request goes through the outbound policy (providers/outbound.py): private and plain-http
    targets only with ALLOW_PRIVATE_PROVIDER_URLS, or on ``trusted_base_url``'s origin, a base URL
    the server itself configured for the route."""
    timeout = httpx.Timeout(settings.PROVIDER_READ_TIMEOUT, connect=settings.PROVIDER_CONNECT_TIMEOUT)
    policy = Policy(allow_private=settings.ALLOW_PRIVATE_PROVIDER_URLS,
                    trusted=(trusted_base_url,) if trusted_base_url else ())
    transport = OutboundTransport(policy, ssl_context=ssl_context())
    if deadline is not None:
        transport = DeadlineTransport(transport, time.monotonic() + deadline)
    return httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                        headers={"User-Agent": "image-provider-compare"})


def call_deadline(route, request):
    """PROVIDER_DEADLINE_SECONDS when set (every route), else the route's own by quality."""
    if settings.PROVIDER_DEADLINE_SECONDS is not None:
        return settings.PROVIDER_DEADLINE_SECONDS
    return route.default_deadline(request)


def warm_up():
    """Run once when a worker starts, so the first comparison does not pay for it: import
    every provider module (and build the routes), build the TLS context, open the database
    connection, start the image processes."""
    route_catalog.available_routes()
    ssl_context()
    Result.objects.exists()
    start_image_processes()


class Attempt:
    """One result's provider, built with an HTTP client and its secrets known for redaction."""

    def __init__(self, result):
        self.result = result
        team = result.comparison.team
        self.route = route_catalog.get_route(result.route_key, team)
        self.request = request_for(result.comparison)
        self.deadline = call_deadline(self.route, self.request)
        access = route_catalog.route_access(self.route, team)
        if not access.configured:
            raise route_catalog.NotConfigured(self.route, access)
        self.client = http_client(self.deadline, trusted_base_url=access.trusted_base_url)
        self.provider = self.route.build(client=self.client, env=access.env, deadline=self.deadline)
        self.provider.sleep = cancellable_sleep(result)
        # The provider's secrets (Provider.secret_names) are blanked in everything we keep;
        # endpoints stay readable.
        self.secrets = self.provider.secrets()
        logs.add_secrets(self.secrets)  # log lines of this task are cleaned of them too

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    def fail(self, exc):
        """End the result for a ProviderError, or for a crash of the adapter itself."""
        if isinstance(exc, ProviderError):
            self.result.finish(FAILURE_STATUS.get(type(exc), Status.FAILED), error_code=exc.code,
                               error=redact(exc.message, self.secrets), latency_ms=exc.elapsed_ms,
                               attempts=redact(list(exc.attempts[:-1]), self.secrets),
                               parameters=parameters(self.request, self.route))
        else:
            log.exception("route %s crashed on result %s", self.result.route_key, self.result.pk, exc_info=exc)
            self.result.finish(Status.FAILED, error_code="internal",
                               error=f"The {self.route.provider.name} adapter crashed ({type(exc).__name__}); "
                                     "see the worker log.")


def _attempt(result):
    try:
        return Attempt(result)
    except UnknownRoute:
        result.finish(Status.FAILED, error_code="unknown_route",
                      error=f"The route {result.route_key} is not available on this installation any more.")
        return None
    except route_catalog.NotConfigured as exc:
        result.finish(Status.FAILED, error_code="not_configured", error=exc.message)
        return None


def execute_result(result_id, worker=""):
    """Claim a result, call its provider once, store what came back, end in a terminal state.
    A result whose team (TEAM_MAX_IN_FLIGHT) or route (ROUTE_LIMITS) is at its limit holds no
    worker: it stays queued and its task is sent again shortly. When a call ends, the next of
    its team's waiting results is sent (services.dispatch)."""
    from .tasks import run_result

    result = Result.objects.select_related("comparison__team").filter(pk=result_id).first()
    if result is None:
        return  # gone
    team_id = result.comparison.team_id
    if result.status != Status.QUEUED:
        _pass_turn(team_id)  # another delivery has it, or it was cancelled: its place goes to the next
        return
    logs.bind(result=result.pk, comparison=result.comparison_id, team=team_id, route=result.route_key)
    if not limits.acquire_team(result, team_id):
        run_result.apply_async((result.pk,), countdown=settings.ROUTE_LIMIT_RETRY_SECONDS)
        return  # the team has its share of calls running: stay queued, try again shortly
    if not limits.acquire(result):
        limits.release_team(result)
        run_result.apply_async((result.pk,), countdown=settings.ROUTE_LIMIT_RETRY_SECONDS)
        return  # the route is at its limit: stay queued, try again shortly
    try:
        if result.claim(worker):
            _execute_claimed(result)
    finally:
        limits.release(result)
        limits.release_team(result)
        _pass_turn(team_id)


def _pass_turn(team_id):
    """Send the team's next waiting result; if that fails (the broker is down), the reaper
    sends it later, and the call that just ended keeps what it stored."""
    try:
        dispatch(team_id)
    except Exception:
        log.exception("could not send team %s's next waiting result; the reaper will", team_id)


def _execute_claimed(result):
    attempt = _attempt(result)
    if attempt is None:
        return
    with attempt:
        if isinstance(attempt.provider, LongRunningProvider):
            return _submit_long_job(attempt)
        # Give the database connection back while the provider works (seconds to minutes): on
        # PostgreSQL, a worker with many threads would otherwise hold one connection per call.
        close_old_connections()
        try:
            outcome = runner.execute(attempt.provider, attempt.request, max_image_bytes=settings.MAX_IMAGE_BYTES,
                                     allow_private_urls=settings.ALLOW_PRIVATE_PROVIDER_URLS,
                                     max_attempts=settings.PROVIDER_MAX_ATTEMPTS,
                                     backoff_base=settings.PROVIDER_BACKOFF_SECONDS)
        except Exception as exc:  # a bug in an adapter must not leave the card spinning either
            return attempt.fail(exc)
    store_outcome(result, outcome, attempt.request, attempt.secrets, route=attempt.route)


def _submit_long_job(attempt):
    from .tasks import check_result

    try:
        job = runner.submit(attempt.provider, attempt.request)
    except Exception as exc:
        return attempt.fail(exc)
    job = {**job, "submitted_at": time.time(), "deadline_at": time.time() + attempt.provider.long_deadline_seconds,
           "poll_interval": attempt.provider.poll_interval, "checked_at": time.time()}
    with transaction.atomic():  # the card now says the job was submitted
        Result.objects.filter(pk=attempt.result.pk).update(job=job)
        ResultEvent.record([(attempt.result.pk, attempt.result.comparison_id, Status.RUNNING)])
    check_result.apply_async((attempt.result.pk,), countdown=attempt.provider.poll_interval)


def check_long_job(result_id):
    """One scheduled check of a long-running job: finish it, or schedule the next check."""
    from .tasks import check_result

    result = Result.objects.select_related("comparison").filter(pk=result_id, status=Status.RUNNING).first()
    if result is None or not result.job:
        return  # finished, cancelled, or never submitted
    logs.bind(result=result.pk, comparison=result.comparison_id, team=result.comparison.team_id, route=result.route_key)
    attempt = _attempt(result)
    if attempt is None:
        return
    job = result.job
    with attempt:
        provider = attempt.provider
        try:
            if result.cancel_requested() or time.time() > job["deadline_at"]:
                cancelled_by_user = result.cancel_requested()
                try:
                    provider.cancel(job)
                    where = "; we cancelled it at the provider"
                except (ProviderError, httpx.HTTPError):
                    where = "; cancelling it at the provider failed"
                kind = ProviderCancelledError if cancelled_by_user else ProviderTimeoutError
                raise kind(("Cancelled by the user" if cancelled_by_user else
                            "The provider's job did not finish before our deadline") + where)
            outcome = provider.check(job, attempt.request)
            Result.objects.filter(pk=result.pk).update(job={**job, "checked_at": time.time()})
            if outcome is None:
                check_result.apply_async((result.pk,), countdown=provider.poll_interval)
                return
            outcome = runner.complete(provider, outcome, submitted_at=job["submitted_at"],
                                      max_image_bytes=settings.MAX_IMAGE_BYTES,
                                      allow_private_urls=settings.ALLOW_PRIVATE_PROVIDER_URLS)
        except Exception as exc:
            if isinstance(exc, ProviderError) and exc.elapsed_ms is None:
                exc.elapsed_ms = (time.time() - job["submitted_at"]) * 1000
            return attempt.fail(exc)
    outcome_notes = (f"Long-running job: checked every {provider.poll_interval:g} s, so our latency "
                     f"(submit to result, wall clock) may be up to that much late.",)
    store_outcome(result, outcome, attempt.request, attempt.secrets, extra_notes=outcome_notes, route=attempt.route)


def parameters(request, route, outcome=None, checked=()):
    """What the route did with each common parameter (Result.parameters): asked, sent where the
    adapter says what it sent (ImageResult.sent), received (the images as Pillow read them);
    the seed is sent only by a route whose Capabilities.seed says it takes one."""
    asked = {"size": request.size, "quality": request.quality, "output_format": request.output_format,
             "n": request.n, "seed": request.seed}
    sent = dict(outcome.sent) if outcome is not None else {}
    found = {name: {"asked": value, **({"sent": sent[name]} if name in sent else {})} for name, value in asked.items()}
    if route is not None:
        found["seed"]["supported"] = route.capabilities.seed
        if not route.capabilities.seed:
            found["seed"]["sent"] = None  # never passed on, whatever the adapter's body says
    if checked:
        found["size"]["received"] = [f"{c.width}x{c.height}" for c in checked]
        found["output_format"]["received"] = [c.format for c in checked]
        found["n"]["received"] = len(checked)
    if outcome is not None and outcome.revised_prompts:
        found["revised_prompt"] = list(outcome.revised_prompts)
    return found


def store_outcome(result, outcome, request, secrets, extra_notes=(), route=None):
    """Check every image with Pillow, keep originals and thumbnails, record timings, cost and
    what makes the result reproducible; end the result succeeded (or failed for a bad image)."""
    common = dict(
        latency_ms=outcome.timings.total_ms,
        provider_timings=outcome.timings.as_dict(),
        usage=_usage_dict(outcome.usage),
        request_sent=redact(dict(outcome.request_sent), secrets),
        provider_request_id=(outcome.request_id or "")[:200],
        response_headers=redact(dict(outcome.response_headers), secrets),
        notes=list(outcome.notes) + list(extra_notes),
        attempts=redact(list(outcome.attempts), secrets),
        parameters=redact(parameters(request, route, outcome), secrets),
    )
    if outcome.usage is not None and outcome.usage.cost_usd is not None:
        cost = dict(cost_usd=outcome.usage.cost_usd, cost_source=CostSource(outcome.usage.basis))
    elif result.estimated_cost_usd is not None:
        cost = dict(cost_usd=result.estimated_cost_usd, cost_source=(
            CostSource.TEAM_PRICE if result.estimate_source == EstimateSource.TEAM_PRICE else CostSource.ESTIMATED))
    else:
        cost = dict(cost_usd=None, cost_source=CostSource.UNKNOWN)

    try:
        # In the image processes, after the call's timing was taken (runner.execute), so that
        # this result's Pillow work lands in no provider's latency (BENCHMARKS.md, F2).
        checked = check_images(image.data for image in outcome.images)
    except ImageRejected as exc:
        # The provider was paid for the call, so its timing and cost are kept with the failure.
        result.finish(Status.FAILED, error_code="bad_image", error=str(exc), **common, **cost)
        return

    common["parameters"] = redact(parameters(request, route, outcome, checked), secrets)
    stored = []
    for index, (image, check) in enumerate(zip(outcome.images, checked)):
        row = ResultImage(result=result, index=index, width=check.width, height=check.height,
                          format=check.format, bytes=check.bytes, sha256=check.sha256,
                          source_url=(image.url or "")[:2000])
        row.original.save(f"{index}.{check.format}", ContentFile(check.data), save=False)
        row.thumbnail.save(f"{index}-thumb.webp", ContentFile(check.thumbnail), save=False)
        row.save()
        stored.append(row)
    mismatched = [f"#{i + 1} is {c.width}x{c.height}" for i, c in enumerate(checked)
                  if (c.width, c.height) != (request.width, request.height)]
    if mismatched:
        common["notes"].append(f"Asked for {request.size}; received " + ", ".join(mismatched) + ".")
    if result.cancel_requested():
        common["notes"].append("Cancel was asked while this provider was answering; its call could not be "
                               "interrupted, so the answer it gave (and billed) is kept.")
    if not result.finish(Status.SUCCEEDED, **common, **cost):
        for row in stored:  # cancelled meanwhile: keep nothing half-done
            row.original.delete(save=False)
            row.thumbnail.delete(save=False)
            row.delete()


def reap_stale():
    """End what a lost worker left behind, and resend what a lost message left queued.

    - running past its deadline (and the HTTP read timeout) plus a grace period, with no
      long-running job: the worker died mid-call. It ends ``failed``; the provider is not called
      again, since the first call may have billed.
    - a long-running job whose scheduled check was lost: a new check is scheduled.
    - queued for longer than REQUEUE_AFTER_SECONDS after its task was sent (the broker lost the
      message): the task is sent again; the claim makes a duplicate harmless. Never sent and
      waiting that long (the broker was down at submit, or a lost call never handed its team's
      turn on): sent within the team's fair share (services.dispatch).
    Returns (ended, rechecked, resent)."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from .tasks import check_result, run_result

    now = timezone.now()
    longest = settings.PROVIDER_DEADLINE_SECONDS or settings.LONGEST_DEADLINE_SECONDS
    limit = max(longest, settings.PROVIDER_READ_TIMEOUT) + settings.REAPER_GRACE_SECONDS
    ended = 0
    for result in Result.objects.filter(status=Status.RUNNING, started_at__lt=now - timedelta(seconds=limit)):
        if result.job:
            continue
        ended += result.finish(Status.FAILED, error_code="worker_lost", error=(
            "The worker running this call stopped before it finished (crashed, killed or restarted). "
            "The provider was called once and may have billed it, so it is not called again."))
    rechecked = 0
    for result in Result.objects.filter(status=Status.RUNNING).exclude(job={}):
        quiet = time.time() - result.job.get("checked_at", 0)
        if quiet > max(600, 5 * result.job.get("poll_interval", 60)):
            check_result.apply_async((result.pk,))
            rechecked += 1
    stale = now - timedelta(seconds=settings.REQUEUE_AFTER_SECONDS)
    queued = Result.objects.filter(status=Status.QUEUED)
    # Sent long ago and still queued: the broker lost the message. Sent again at once.
    resend = list(queued.filter(sent_at__lt=stale).values_list("pk", flat=True))
    Result.objects.filter(pk__in=resend).update(sent_at=now)
    for pk in resend:
        run_result.apply_async((pk,))
    # Never sent and waiting that long (the broker was down at submit, or the call that should
    # have handed its team's turn on was lost): sent within the team's fair share.
    waiting = queued.filter(Q(enqueued_at__lt=stale) | Q(enqueued_at__isnull=True, comparison__created_at__lt=stale),
                            sent_at__isnull=True)
    by_team = {}
    for pk, team_id in waiting.values_list("pk", "comparison__team_id"):
        by_team.setdefault(team_id, []).append(pk)
    sent = sum(dispatch(team_id, only=ids) for team_id, ids in by_team.items())
    limits.free_lost_slots()
    ResultEvent.prune(now - timedelta(seconds=settings.EVENTS_KEEP_SECONDS))
    return ended, rechecked, len(resend) + sent


def start_reaper(interval=None):
    """A daemon thread in each worker that runs ``reap_stale`` every REAPER_INTERVAL_SECONDS
    (several workers reaping at once is harmless: every change is a conditional update)."""
    from django.db import close_old_connections

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


def cancellable_sleep(result, *, slice_seconds=0.5, sleep=time.sleep):
    """The sleep an adapter waits with between polls (and the sandbox's simulated latency): it
    looks at the database every half second and raises ProviderCancelledError once the user has
    cancelled, so the adapter cancels the job at the provider."""

    def wait(seconds):
        end = time.monotonic() + seconds
        while True:
            if result.cancel_requested():
                raise ProviderCancelledError("Cancelled by the user while the provider was working")
            left = end - time.monotonic()
            if left <= 0:
                return
            sleep(min(slice_seconds, left))

    return wait


def _usage_dict(usage):
    if usage is None:
        return {}
    return {
        "cost_usd": None if usage.cost_usd is None else str(usage.cost_usd),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "basis": usage.basis,
        "raw": dict(usage.raw),
    }
