"""Validating, creating and cancelling a batch: every prompt of a set run with the same routes and
parameters (issue 7).

A batch is validated prompt by prompt with the same ComparisonForm as a single comparison (route
limits, capabilities, viewers refused, blind flags, call cap), but its budget is checked once,
for every call of the whole batch (Team.check_budget), and its calls are capped at
MAX_CALLS_PER_BATCH."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from providers.base import parse_size

from compare import services
from compare.batches.models import Batch, BatchItem
from compare.batches.prompt_sets import PromptView
from compare.engine import limits
from compare.forms import ComparisonForm
from compare.teams.models import SubmitRefused, Team

EDIT_FIELDS = ("reference_images", "mask", "references_from")
EDITS_REFUSED = ("A batch runs text-to-image prompts: remove the reference images and mask, "
                 "or run the edit as a single comparison.")


class BatchItemForm(ComparisonForm):
    """One prompt of a batch: every check of a comparison but the budget, which the batch checks
    once for all its comparisons together (check_batch)."""

    check_budget = False


class BatchRefused(Exception):
    """problems: the messages to show; errors: the same by form field, for the API."""

    def __init__(self, problems, errors=None):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.errors = errors or {"__all__": problems}


@dataclass
class Planned:
    prompt: PromptView
    form: BatchItemForm
    size_from_prompt: bool
    asked_size: str = ""  # the batch's own size ("1024x1024"), whatever this prompt ran at


def plan_batch(*, team, user, prompt_set, data, use_prompt_sizes=True):
    """Validate every prompt of the set as its own comparison with the routes and parameters in
    `data` (a QueryDict as the compare form posts it). Returns [Planned]; raises BatchRefused
    with every problem (each naming the prompts it applies to) and nothing created."""
    if prompt_set is None:
        raise BatchRefused(["Pick a prompt set to run."])
    if not prompt_set.prompts:
        raise BatchRefused([f"The set “{prompt_set.name}” has no prompts yet."])
    if any(data.get(name) for name in EDIT_FIELDS):
        raise BatchRefused([EDITS_REFUSED])
    planned, problems = [], {}
    asked_size = _asked_size(data)
    for number, prompt in enumerate(prompt_set.prompts, 1):
        item = data.copy()
        item["prompt"] = prompt.text
        for name in EDIT_FIELDS:
            item.pop(name, None)
        from_prompt = bool(use_prompt_sizes and prompt.size)
        if from_prompt:
            item["size"] = prompt.size
        form = BatchItemForm(item, team=team, user=user)
        if not form.is_valid():
            for name, messages_ in form.errors.items():
                for message in messages_:
                    problems.setdefault((name, message), []).append(number)
        planned.append(Planned(prompt, form, from_prompt, asked_size))
    if problems:
        count, errors = len(planned), {}
        for (name, message), numbers in problems.items():
            if len(numbers) < count:  # said once when it holds for every prompt
                message += f" (prompt{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))})"
            errors.setdefault(name, []).append(message)
        raise BatchRefused([m for messages_ in errors.values() for m in messages_], errors)
    try:
        check_batch(team, planned)
    except SubmitRefused as refused:
        raise BatchRefused([str(refused)]) from None
    return planned


def _asked_size(data):
    size = (data.get("size") or "").strip().lower()
    try:
        width, height = (int(data.get("width")), int(data.get("height"))) if size == "custom" else parse_size(size)
    except (TypeError, ValueError):
        return size
    return f"{width}x{height}"


def batch_costs(planned):
    """One CallCost per call of every comparison of the batch (compare/pricing.py)."""
    return [cost for item in planned for cost in item.form.call_costs()]


def check_batch(team, planned, costs=None):
    """The batch's call cap and the team's budget for every call of it; raises SubmitRefused."""
    costs = batch_costs(planned) if costs is None else costs
    limits.check_calls(len(costs), what="this batch")
    routes = len(planned[0].form.cleaned_data["routes"])
    team.check_budget(costs, what=f"this batch of {len(planned)} prompts × {routes} route{'s' if routes != 1 else ''}")


def create_batch(*, user, team, prompt_set, planned, name="", use_prompt_sizes=True):
    """One transaction: the batch and one comparison per prompt (each enqueued once it commits),
    its calls checked against the budget with the team row locked (as services.create_comparison
    does for each). Raises BatchRefused with nothing created."""
    author = user if user is not None and user.is_authenticated else None
    params = planned[0].form.params()
    params["size"] = planned[0].asked_size or params["size"]
    first = planned[0].form.cleaned_data
    costs = batch_costs(planned)
    try:
        with transaction.atomic():
            batch = _create_batch(Team.objects.locked(team.pk), planned, costs, author, prompt_set, name, first,
                                  params, use_prompt_sizes)
    except SubmitRefused as refused:
        raise BatchRefused([str(refused)]) from None
    return batch


def _create_batch(team, planned, costs, author, prompt_set, name, first, params, use_prompt_sizes):
    check_batch(team, planned, costs)
    batch = Batch.objects.create(
        team=team, created_by=author, source=prompt_set.ref, source_name=prompt_set.name,
        name=(name or "").strip()[:200] or f"{prompt_set.name} · {timezone.localtime():%Y-%m-%d %H:%M}",
        route_keys=list(first["routes"]), params=params, use_prompt_sizes=use_prompt_sizes,
        blind=bool(first.get("blind")))
    for position, item in enumerate(planned):
        comparison = services.create_from_form(item.form, author, team)
        BatchItem.objects.create(batch=batch, position=position, title=item.prompt.title[:120],
                                 comparison=comparison, size_from_prompt=item.size_from_prompt)
    return batch


def cancel_batch(batch):
    """Cancel every comparison of the batch still running: (queued cells cancelled, running cells
    asked to stop). The page and the API both call this."""
    cancelled = asked = 0
    for item in batch.items.select_related("comparison"):
        done, stopping = item.comparison.cancel()
        cancelled, asked = cancelled + done, asked + stopping
    return cancelled, asked
