"""Orchestration that crosses boundaries: create a comparison with its rows and inputs, enqueue its calls.

compare/tasks.py sends the calls to the workers; compare/engine/execution.py runs each."""

import logging
import secrets

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from compare import catalog, pricing, tasks
from compare.engine import limits
from compare.engine.requests import image_request
from compare.models import Comparison, ReferenceImage, Result, Status
from compare.notifications import notifications
from compare.ops import logs
from compare.teams.models import Team

log = logging.getLogger(__name__)


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
    route_map = catalog.available_routes(team)
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
        # One INSERT for them all (bulk_create keeps the list's order, so the ids stay shuffled).
        rows = list(enumerate(zip(route_keys, costs)))
        secrets.SystemRandom().shuffle(rows)
        Result.objects.bulk_create([
            Result(comparison=comparison, position=position, route_key=key, route_label=route_map[key].label,
                   sandbox=route_map[key].sandbox, estimated_cost_usd=pricing.estimate_of(cost),
                   estimate_source=pricing.estimate_source_of(cost), charge_usd=cost.usd)
            for position, (key, cost) in rows])
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


def enqueue(comparison_id):
    """The comparison's results join their team's queue (enqueued_at: our queue wait starts);
    tasks.dispatch sends as many as the team's fair share allows. With the broker down the submit still
    succeeds: the rows are stored, and the reaper sends them once it is back."""
    Result.objects.filter(comparison_id=comparison_id, status=Status.QUEUED).update(enqueued_at=timezone.now())
    team_id = Comparison.objects.filter(pk=comparison_id).values_list("team_id", flat=True).first()
    if team_id is None:
        return
    try:
        tasks.dispatch(team_id)
    except Exception:
        log.exception("could not send comparison %s's calls (is the broker down?); the reaper will send them "
                      "after REQUEUE_AFTER_SECONDS", comparison_id)
