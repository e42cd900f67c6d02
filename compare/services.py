"""Orchestration that crosses boundaries: create rows, choose adapters, enqueue, store."""

import dataclasses
import logging
import time

import httpx
from celery import group
from django.conf import settings
from django.core.files.base import ContentFile
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from providers import runner
from providers.base import (
    ImageRequest,
    InputImage,
    ProviderCancelledError,
    ProviderError,
    ProviderTimeoutError,
    parse_size,
    redact,
)
from providers.registry import UnknownRoute

from . import routes as route_catalog
from .images import ImageRejected, check_image
from .models import Comparison, CostSource, ReferenceImage, Result, ResultImage, Status

log = logging.getLogger(__name__)
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
REFERENCE_SALT = "compare.reference"
REFERENCE_LINK_SECONDS = 24 * 3600


def create_comparison(*, user, prompt, route_keys, params, rerun_of=None, references=(), mask=None):
    """One transaction creates the comparison, its reference images (an edit) and a queued
    result per route; the tasks are enqueued only once that transaction has committed."""
    request = image_request(prompt, params)
    route_map = route_catalog.available_routes()
    with transaction.atomic():
        comparison = Comparison.objects.create(
            prompt=prompt, params=params, created_by=user if user and user.is_authenticated else None,
            rerun_of=rerun_of,
        )
        inputs = [(ReferenceImage.IMAGE, n, checked) for n, checked in enumerate(references)]
        inputs += [(ReferenceImage.MASK, 0, mask)] if mask is not None else []
        for role, index, checked in inputs:
            row = ReferenceImage(comparison=comparison, role=role, index=index, width=checked.width,
                                 height=checked.height, format=checked.format, bytes=checked.bytes,
                                 sha256=checked.sha256)
            row.file.save(f"{role}-{index}.{checked.format}", ContentFile(checked.data), save=False)
            row.save()
        for position, key in enumerate(route_keys):
            route = route_map[key]
            Result.objects.create(
                comparison=comparison, position=position, route_key=key, route_label=route.label,
                sandbox=route.sandbox, estimated_cost_usd=route_catalog.estimate(route, request),
            )
        transaction.on_commit(lambda: enqueue(comparison.pk))
    return comparison


def create_from_form(form, user, rerun_of=None):
    references, mask = form.references()
    return create_comparison(user=user, prompt=form.cleaned_data["prompt"], route_keys=form.cleaned_data["routes"],
                             params=form.params(), rerun_of=rerun_of, references=references, mask=mask)


def rerun(comparison, user):
    references, mask = stored_references(comparison)
    return create_comparison(user=user, prompt=comparison.prompt, route_keys=comparison.route_keys,
                             params=comparison.params, rerun_of=comparison, references=references, mask=mask)


def stored_references(comparison):
    """The comparison's reference images and mask, re-read and re-checked from storage."""
    images, mask = [], None
    for row in comparison.references.all():
        with row.file.open("rb") as handle:
            checked = check_image(handle.read())
        if row.role == ReferenceImage.MASK:
            mask = checked
        else:
            images.append(checked)
    return images, mask


def request_for(comparison):
    """The ImageRequest a worker sends: parameters plus the reference images, each with an
    expiring public link when SITE_URL is set (for protocols that fetch inputs by URL)."""
    request = image_request(comparison.prompt, comparison.params)
    images, mask = [], None
    for row in comparison.references.all():
        with row.file.open("rb") as handle:
            data = handle.read()
        url = None
        if settings.SITE_URL:
            token = signing.dumps(row.pk, salt=REFERENCE_SALT)
            url = settings.SITE_URL.rstrip("/") + reverse("compare:reference-public", args=[token])
        item = InputImage(data=data, mime=f"image/{row.format}", filename=f"{row.role}-{row.index}.{row.format}", url=url)
        if row.role == ReferenceImage.MASK:
            mask = item
        else:
            images.append(item)
    return dataclasses.replace(request, images=tuple(images), mask=mask)


def enqueue(comparison_id):
    """One Celery task per result, sent together as a group."""
    from .tasks import run_result

    ids = list(Result.objects.filter(comparison_id=comparison_id, status=Status.QUEUED).values_list("pk", flat=True))
    Result.objects.filter(pk__in=ids).update(enqueued_at=timezone.now())
    group(run_result.si(pk) for pk in ids).apply_async()


def image_request(prompt, params):
    width, height = parse_size(params.get("size", "1024x1024"))
    return ImageRequest(prompt=prompt, width=width, height=height, quality=params.get("quality", "auto"),
                        output_format=params.get("output_format", "png"), n=int(params.get("n", 1)),
                        seed=params.get("seed"))


def http_client():
    timeout = httpx.Timeout(settings.PROVIDER_READ_TIMEOUT, connect=settings.PROVIDER_CONNECT_TIMEOUT)
    return httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "image-provider-compare"})


def execute_result(result_id, worker=""):
    """Claim a result, call its provider once, store what came back, end in a terminal state."""
    result = Result.objects.select_related("comparison").filter(pk=result_id).first()
    if result is None or not result.claim(worker):
        return  # gone, or another delivery of this message already has it
    try:
        route = route_catalog.get_route(result.route_key)
    except UnknownRoute:
        result.finish(Status.FAILED, error_code="unknown_route",
                      error=f"The route {result.route_key} is not available on this installation any more.")
        return
    request = request_for(result.comparison)
    env = route_catalog.provider_env()
    with http_client() as client:
        provider = route.build(client=client, env=env, deadline=settings.PROVIDER_DEADLINE_SECONDS)
        provider.sleep = cancellable_sleep(result)
        # Keys, tokens and secrets are blanked in everything we keep; endpoints stay readable.
        secrets = [v for k, v in provider.credentials.items() if any(w in k for w in SECRET_WORDS)]
        try:
            outcome = runner.execute(provider, request, max_image_bytes=settings.MAX_IMAGE_BYTES,
                                     allow_private_urls=settings.ALLOW_PRIVATE_PROVIDER_URLS)
        except ProviderError as exc:
            status = {ProviderTimeoutError: Status.TIMED_OUT, ProviderCancelledError: Status.CANCELLED}.get(
                type(exc), Status.FAILED)
            result.finish(status, error_code=exc.code, error=redact(exc.message, secrets), latency_ms=exc.elapsed_ms)
            return
        except Exception as exc:  # a bug in an adapter must not leave the card spinning
            log.exception("route %s crashed on result %s", result.route_key, result.pk)
            result.finish(Status.FAILED, error_code="internal",
                          error=f"The {route.provider.name} adapter crashed ({type(exc).__name__}); see the worker log.")
            return

    common = dict(
        latency_ms=outcome.timings.total_ms,
        provider_timings=outcome.timings.as_dict(),
        usage=_usage_dict(outcome.usage),
        request_sent=redact(dict(outcome.request_sent), secrets),
        provider_request_id=(outcome.request_id or "")[:200],
        response_headers=redact(dict(outcome.response_headers), secrets),
        notes=list(outcome.notes),
    )
    if outcome.usage is not None and outcome.usage.cost_usd is not None:
        cost = dict(cost_usd=outcome.usage.cost_usd, cost_source=CostSource.REPORTED)
    elif result.estimated_cost_usd is not None:
        cost = dict(cost_usd=result.estimated_cost_usd, cost_source=CostSource.ESTIMATED)
    else:
        cost = dict(cost_usd=None, cost_source=CostSource.UNKNOWN)

    try:
        checked = [check_image(image.data) for image in outcome.images]
    except ImageRejected as exc:
        # The provider was paid for the call, so its timing and cost are kept with the failure.
        result.finish(Status.FAILED, error_code="bad_image", error=str(exc), **common, **cost)
        return

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
        "raw": dict(usage.raw),
    }
