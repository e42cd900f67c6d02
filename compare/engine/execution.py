"""What a worker does with one result: claim it, call its provider once, store it, say what comes next.

It ends the result in a terminal state and returns what should happen next (a Next, which
compare/tasks.py schedules: this module sends no task). A claimed call (``Call``) is in two steps,
the provider's (network only) and ours (store, in the database), so that a worker can carry many
calls at once (compare/engine/callpool.py). Long-running protocols (OpenAI's Batch API) are
submitted once and then checked by scheduled tasks, so no worker thread waits for hours."""

import logging
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import close_old_connections, transaction
from django.urls import get_resolver

from providers import runner
from providers.base import (
    LongRunningProvider, ProviderCancelledError, ProviderError, ProviderTimeoutError, redact,
)
from providers.registry import UnknownRoute

from compare import catalog
from compare.engine import limits
from compare.engine.clients import http_client, ssl_context
from compare.engine.requests import request_for
from compare.images import ImageRejected, check_images, start_image_processes
from compare.models import CostSource, EstimateSource, Result, ResultEvent, ResultImage, Status
from compare.ops import logs
from compare.teams.crypto import team_env

log = logging.getLogger(__name__)
FAILURE_STATUS = {ProviderTimeoutError: Status.TIMED_OUT, ProviderCancelledError: Status.CANCELLED}


@dataclass(frozen=True)
class Next:
    """What should happen after one step of a result's run; compare/tasks.py does it.
    ``retry_in``: send the result's run again after that many seconds (it stayed queued at a limit);
    ``check_in``: check its long-running job after that many seconds;
    ``turn_of``: the team whose next waiting result should be sent (one of its calls ended)."""

    retry_in: float | None = None
    check_in: float | None = None
    turn_of: int | None = None


def call_deadline(route, request):
    """PROVIDER_DEADLINE_SECONDS when set (every route), else the route's own by quality."""
    if settings.PROVIDER_DEADLINE_SECONDS is not None:
        return settings.PROVIDER_DEADLINE_SECONDS
    return route.default_deadline(request)


def warm_up():
    """Run once when a worker starts, so the first comparison does not pay for it: import
    every provider module (and build the routes), build the TLS context, open the database
    connection, start the image processes, load the URL patterns."""
    catalog.available_routes()
    ssl_context()
    Result.objects.exists()
    start_image_processes()
    get_resolver().reverse_dict  # the URL patterns, which the first result's notifications would load


class Shared:
    """What the results started together share: the server's environment (read once: a copy of
    os.environ per route was a third of building a call), each team's stored values (decrypted
    once) and each comparison's request (its reference images read once)."""

    def __init__(self):
        self.server = None
        self.values, self.requests = {}, {}

    def server_env(self):
        if self.server is None:
            self.server = catalog.server_env()
        return self.server

    def team_values(self, team):
        if team.pk not in self.values:
            self.values[team.pk] = team_env(team)
        return self.values[team.pk]

    def route(self, key, team):
        return catalog.get_route(key, team, values=self.team_values(team), server=self.server_env())

    def access(self, route, team):
        return catalog.route_access(route, team, values=self.team_values(team), server=self.server_env())

    def request(self, comparison):
        if comparison.pk not in self.requests:
            self.requests[comparison.pk] = request_for(comparison)
        return self.requests[comparison.pk]


class Attempt:
    """One result's provider, built with an HTTP client and its secrets known for redaction."""

    def __init__(self, result, shared=None):
        shared = shared or Shared()
        self.result = result
        team = result.comparison.team
        self.route = shared.route(result.route_key, team)
        self.request = shared.request(result.comparison)
        self.deadline = call_deadline(self.route, self.request)
        access = shared.access(self.route, team)
        if not access.configured:
            raise catalog.NotConfigured(self.route, access)
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


def _attempt(result, shared=None):
    try:
        return Attempt(result, shared)
    except UnknownRoute:
        result.finish(Status.FAILED, error_code="unknown_route",
                      error=f"The route {result.route_key} is not available on this installation any more.")
        return None
    except catalog.NotConfigured as exc:
        result.finish(Status.FAILED, error_code="not_configured", error=exc.message)
        return None
    except Exception as exc:  # a bug building the adapter: this card ends, the others go on
        log.exception("route %s could not be built for result %s", result.route_key, result.pk)
        result.finish(Status.FAILED, error_code="internal", error=f"The {result.route_key} route could not be "
                      f"built ({type(exc).__name__}); see the worker log.")
        return None


def execute_result(result_id, worker=""):
    """Claim a result, call its provider once, store what came back, end in a terminal state;
    return what should happen next (a Next, or None when nothing should). In one go, in this
    thread: a worker hands the claimed call to its call pool instead (compare/engine/callpool.py)."""
    started = start_result(result_id, worker)
    return started.run() if isinstance(started, Call) else started


def start_result(result_id, worker=""):
    """``start_results`` for one result: its Call, or its Next (or None)."""
    return next(start_results([result_id], worker))[1]


def start_results(result_ids, worker=""):
    """Claim results and build their providers; yields (id, Call ready to run), or (id, Next or
    None) when there is nothing to call, in the order given, each Call as soon as it is built.
    The claims are one transaction, and the results share their teams' values and their
    comparisons' requests (``Shared``), so that a message of many results costs little more
    than one (the last call of a 50-route comparison starts soon after the first).
    A result whose team (TEAM_MAX_IN_FLIGHT) or route (ROUTE_LIMITS) is at its limit holds no
    worker: it stays queued and its run is retried shortly. When a call ends, its team's turn
    passes on (the next of the team's waiting results is sent: compare/tasks.py dispatch)."""
    found = {r.pk: r for r in Result.objects.select_related("comparison__team").filter(pk__in=result_ids)}
    held, steps = [], {}
    for pk in result_ids:
        result = found.get(pk)
        if result is None:
            steps[pk] = None  # gone
        elif result.status != Status.QUEUED:
            # another delivery has it, or it was cancelled: its place goes to the next
            steps[pk] = Next(turn_of=result.comparison.team_id)
        elif not limits.acquire_team(result, result.comparison.team_id):
            # the team has its share of calls running: stay queued, try again shortly
            steps[pk] = Next(retry_in=settings.ROUTE_LIMIT_RETRY_SECONDS)
        elif not limits.acquire(result):
            limits.release_team(result)
            steps[pk] = Next(retry_in=settings.ROUTE_LIMIT_RETRY_SECONDS)  # the route is at its limit: the same
        else:
            held.append(result)
    won = set()
    try:
        won = {r.pk for r in Result.claim_all(held, worker)}
    finally:
        for result in held:
            if result.pk not in won:
                limits.release(result)
                limits.release_team(result)
    shared = Shared()
    for pk in result_ids:
        result = found.get(pk)
        if pk in steps or result is None:
            yield pk, steps.get(pk)
            continue
        team_id = result.comparison.team_id
        attempt = None
        if pk in won:
            logs.bind(result=pk, comparison=result.comparison_id, team=team_id, route=result.route_key)
            try:
                attempt = _attempt(result, shared)
            finally:
                if attempt is None:
                    limits.release(result)
                    limits.release_team(result)
        yield pk, (Next(turn_of=team_id) if attempt is None else Call(attempt, team_id))


class Call:
    """A claimed result with its provider built and its limit slots held. ``perform`` talks to
    the provider and nothing else (no database: a worker carries hundreds of these at once);
    ``conclude`` stores what came back, gives the slots back and says what comes next."""

    def __init__(self, attempt, team_id):
        self.attempt, self.team_id = attempt, team_id
        self.result = attempt.result
        self.outcome = self.job = self.error = None

    def run(self):
        """Both steps in this thread, the database connection given back while the provider works
        (seconds to minutes): on PostgreSQL a thread per call would otherwise hold one each."""
        close_old_connections()
        self.perform()
        return self.conclude()

    def perform(self):
        attempt = self.attempt
        try:
            if isinstance(attempt.provider, LongRunningProvider):
                self.job = {**runner.submit(attempt.provider, attempt.request), "submitted_at": time.time()}
            else:
                self.outcome = runner.execute(attempt.provider, attempt.request,
                                              max_image_bytes=settings.MAX_IMAGE_BYTES,
                                              allow_private_urls=settings.ALLOW_PRIVATE_PROVIDER_URLS,
                                              max_attempts=settings.PROVIDER_MAX_ATTEMPTS,
                                              backoff_base=settings.PROVIDER_BACKOFF_SECONDS)
        except Exception as exc:  # a bug in an adapter must not leave the card spinning either
            self.error = exc
        finally:
            attempt.client.close()

    def conclude(self):
        attempt, check_in = self.attempt, None
        try:
            if self.error is not None:
                attempt.fail(self.error)
            elif self.job is not None:
                check_in = _store_long_job(attempt, self.job)
            else:
                store_outcome(self.result, self.outcome, attempt.request, attempt.secrets, route=attempt.route)
        finally:
            limits.release(self.result)
            limits.release_team(self.result)
        return Next(check_in=check_in, turn_of=self.team_id)


def _store_long_job(attempt, job):
    """Store a submitted job; returns when to check it first."""
    provider = attempt.provider
    job = {**job, "deadline_at": job["submitted_at"] + provider.long_deadline_seconds,
           "poll_interval": provider.poll_interval, "checked_at": time.time()}
    with transaction.atomic():  # the card now says the job was submitted
        Result.objects.filter(pk=attempt.result.pk).update(job=job)
        ResultEvent.record([(attempt.result.pk, attempt.result.comparison_id, Status.RUNNING)])
    return provider.poll_interval


def check_long_job(result_id):
    """One scheduled check of a long-running job: finish it, or return a Next asking for the
    next check."""
    result = Result.objects.select_related("comparison").filter(pk=result_id, status=Status.RUNNING).first()
    if result is None or not result.job:
        return None  # finished, cancelled, or never submitted
    logs.bind(result=result.pk, comparison=result.comparison_id, team=result.comparison.team_id, route=result.route_key)
    attempt = _attempt(result)
    if attempt is None:
        return None
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
                return Next(check_in=provider.poll_interval)
            outcome = runner.complete(provider, outcome, submitted_at=job["submitted_at"],
                                      max_image_bytes=settings.MAX_IMAGE_BYTES,
                                      allow_private_urls=settings.ALLOW_PRIVATE_PROVIDER_URLS)
        except Exception as exc:
            if isinstance(exc, ProviderError) and exc.elapsed_ms is None:
                exc.elapsed_ms = (time.time() - job["submitted_at"]) * 1000
            attempt.fail(exc)
            return None
    outcome_notes = (f"Long-running job: checked every {provider.poll_interval:g} s, so our latency "
                     f"(submit to result, wall clock) may be up to that much late.",)
    store_outcome(result, outcome, attempt.request, attempt.secrets, extra_notes=outcome_notes, route=attempt.route)
    return None


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
