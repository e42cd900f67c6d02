"""Orchestration that crosses boundaries: create comparisons with their rows and inputs, enqueue
their tasks, and build the request a worker sends (compare/execution.py runs it)."""

import dataclasses
import logging
import secrets

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from providers.base import ImageRequest, InputImage, parse_size

from . import limits, logs, notifications, pricing
from . import routes as route_catalog
from .images import check_image
from .models import Comparison, ReferenceImage, Result, Status, Team

log = logging.getLogger(__name__)
REFERENCE_SALT = "compare.reference"
REFERENCE_LINK_SECONDS = 24 * 3600


def create_comparison(*, user, prompt, route_keys, params, team=None, rerun_of=None, references=(), mask=None,
                      blind=False, hold_images_until_done=False):
    """One transaction creates the comparison, its reference images (an edit) and a queued
    result per route; the tasks are enqueued only once that transaction has committed.

    Every call is checked and reserved here, whatever path asked for it (page, API, CLI, batch,
    Run again): the call cap, then the team's budget with the team row locked, so two submits at
    once cannot both pass; each result holds its call's reservation (charge_usd). Raises
    SubmitRefused (OverBudget, TooManyCalls) with nothing created."""
    request = image_request(prompt, params)
    author = user if user is not None and user.is_authenticated else None
    team = team or Team.personal_for(author)
    route_map = route_catalog.available_routes(team)
    limits.check_calls(len(route_keys) * request.n)
    costs = pricing.call_costs(team, route_map, route_keys, request)
    with transaction.atomic():
        locked = Team.objects.locked(team.pk)
        locked.check_budget(costs)
        comparison = Comparison.objects.create(
            prompt=prompt, params=params, created_by=author, rerun_of=rerun_of, team=team,
            blind=blind, hold_images_until_done=hold_images_until_done)
        inputs = [(ReferenceImage.IMAGE, n, checked) for n, checked in enumerate(references)]
        inputs += [(ReferenceImage.MASK, 0, mask)] if mask is not None else []
        for role, index, checked in inputs:
            row = ReferenceImage(comparison=comparison, role=role, index=index, width=checked.width,
                                 height=checked.height, format=checked.format, bytes=checked.bytes,
                                 sha256=checked.sha256)
            row.file.save(f"{role}-{index}.{checked.format}", ContentFile(checked.data), save=False)
            row.save()
        # Rows are inserted in a random order, so a result's id says nothing of its route's place
        # (a blind reviewer could otherwise read the route order from ids; blind may be set later).
        rows = list(enumerate(zip(route_keys, costs)))
        secrets.SystemRandom().shuffle(rows)
        for position, (key, cost) in rows:
            route = route_map[key]
            Result.objects.create(
                comparison=comparison, position=position, route_key=key, route_label=route.label,
                sandbox=route.sandbox, estimated_cost_usd=pricing.estimate_of(cost),
                estimate_source=pricing.estimate_source_of(cost), charge_usd=cost.usd,
            )
        transaction.on_commit(lambda: enqueue(comparison.pk))
        if locked.monthly_budget_usd:  # reservations count: a threshold may be reached at submit already
            transaction.on_commit(lambda: notifications.check_budget_of(team.pk), robust=True)
    logs.bind(team=team.pk, comparison=comparison.pk)
    log.info("comparison %s created: %s route(s)", comparison.pk, len(route_keys),
             extra={"event": "comparison_created", "routes": list(route_keys)})
    return comparison


def create_from_form(form, user, team, rerun_of=None):
    references, mask = form.references()
    return create_comparison(user=user, team=team, prompt=form.cleaned_data["prompt"],
                             route_keys=form.cleaned_data["routes"], params=form.params(), rerun_of=rerun_of,
                             references=references, mask=mask, blind=bool(form.cleaned_data.get("blind")),
                             hold_images_until_done=bool(form.cleaned_data.get("hold_images_until_done")))


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
    """The comparison's results join their team's queue (enqueued_at: our queue wait starts);
    dispatch sends as many as the team's fair share allows. With the broker down the submit still
    succeeds: the rows are stored, and the reaper sends them once it is back."""
    Result.objects.filter(comparison_id=comparison_id, status=Status.QUEUED).update(enqueued_at=timezone.now())
    team_id = Comparison.objects.filter(pk=comparison_id).values_list("team_id", flat=True).first()
    if team_id is None:
        return
    try:
        dispatch(team_id)
    except Exception:
        log.exception("could not send comparison %s's calls (is the broker down?); the reaper will send them "
                      "after REQUEUE_AFTER_SECONDS", comparison_id)


def dispatch(team_id, only=None):
    """Send the team's oldest waiting results to the broker, as many as it has free of
    TEAM_MAX_IN_FLIGHT (all of them when that is 0), one task each. The
    rest wait in the database, holding no broker message nor worker: so another team's first
    call is never queued behind this team's flood. Called when results are enqueued and when
    one of the team's calls ends (and by the reaper). ``only``: consider just these result ids.
    Returns how many were sent."""
    from .tasks import run_result

    waiting = Result.objects.filter(comparison__team_id=team_id, status=Status.QUEUED, sent_at__isnull=True)
    if only is not None:
        waiting = waiting.filter(pk__in=only)
    if settings.TEAM_MAX_IN_FLIGHT:
        free = settings.TEAM_MAX_IN_FLIGHT - limits.in_flight(team_id)
        if free <= 0:
            return 0
        waiting = waiting.order_by("enqueued_at", "id")[:free]
    ids = list(waiting.values_list("pk", flat=True))
    if not ids:
        return 0
    now = timezone.now()
    Result.objects.filter(pk__in=ids, sent_at__isnull=True).update(sent_at=now)
    ids = list(Result.objects.filter(pk__in=ids, sent_at=now).order_by("enqueued_at", "id").values_list("pk", flat=True))
    for pk in ids:
        run_result.apply_async((pk,))
    return len(ids)


def image_request(prompt, params):
    width, height = parse_size(params.get("size", "1024x1024"))
    return ImageRequest(prompt=prompt, width=width, height=height, quality=params.get("quality", "auto"),
                        output_format=params.get("output_format", "png"), n=int(params.get("n", 1)),
                        seed=params.get("seed"))
