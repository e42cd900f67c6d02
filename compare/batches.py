"""PromptView sets and batch runs (issue 7): the built-in sets (compare/prompt_sets.json, read-only),
a team's own saved prompts, running a whole set at once, and the prompts × routes matrix.

A batch is validated prompt by prompt with the same ComparisonForm as a single comparison (route
limits, capabilities, viewers refused, blind flags, call cap), but its budget is checked once,
for every call of the whole batch (Team.check_budget), and its calls are capped at
MAX_CALLS_PER_BATCH. Everything is scoped to the team: another team's prompt, set or batch is
a 404."""

import csv
import functools
import json
import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from providers.base import SIZE_PRESETS, parse_size

from . import limits, services, teams
from .forms import ComparisonForm
from .models import (TERMINAL, Batch, BatchItem, Prompt, PromptSet, Result, ResultCheck, ResultEvent, Status, SubmitRefused,
                     Team, Verdict, checks_of, checks_status)
from .models.comparisons import COST_WORDS
from .models.prompts import DEFAULT_SET_NAME
from .visibility import Visibility

BUILTIN_PATH = Path(__file__).with_name("prompt_sets.json")


# --- PromptView sets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptView:
    ref: str  # "typo-cafe-menu" (built-in) or "saved-12" (a team's)
    title: str
    text: str
    size: str = ""  # a suggested WIDTHxHEIGHT, or ""
    pk: int | None = None  # a team's saved prompt


@dataclass(frozen=True)
class PromptSetView:
    ref: str  # "typography" (built-in) or "set-7" (a team's)
    name: str
    description: str
    prompts: tuple
    builtin: bool
    pk: int | None = None

    def as_dict(self):
        return {"id": self.ref, "name": self.name, "description": self.description, "builtin": self.builtin,
                "prompts": [{"id": p.ref, "title": p.title, "text": p.text, "size": p.size or None}
                            for p in self.prompts]}


@functools.cache
def builtin_sets():
    """The built-in sets, read once. A malformed file fails loudly (tests/compare/test_prompt_sets.py)."""
    data = json.loads(BUILTIN_PATH.read_text(encoding="utf-8"))
    sets = []
    for entry in data["sets"]:
        prompts = []
        for item in entry["prompts"]:
            if item.get("size"):
                parse_size(item["size"])  # ValueError if it is not WIDTHxHEIGHT
            prompts.append(PromptView(ref=item["id"], title=item["title"], text=item["text"], size=item.get("size", "")))
        sets.append(PromptSetView(ref=entry["id"], name=entry["name"], description=entry.get("description", ""),
                                  prompts=tuple(prompts), builtin=True))
    return tuple(sets)


def _saved(prompt):
    return PromptView(ref=prompt.ref, title=prompt.title or _title_of(prompt.text), text=prompt.text, size=prompt.size,
                  pk=prompt.pk)


def _title_of(text):
    line = " ".join(text.split())
    return line if len(line) <= 60 else line[:59] + "…"


def team_sets(team):
    rows = PromptSet.objects.filter(team=team).prefetch_related("prompts")
    return [PromptSetView(ref=row.ref, name=row.name, description="", builtin=False, pk=row.pk,
                          prompts=tuple(_saved(p) for p in row.prompts.all())) for row in rows]


def all_sets(team):
    return list(builtin_sets()) + team_sets(team)


def find_set(ref, team):
    """The built-in set with this slug, or the team's own set "set-<pk>"; None otherwise (another
    team's set looks the same as none)."""
    ref = str(ref or "")
    for found in builtin_sets():
        if found.ref == ref:
            return found
    if ref.startswith("set-") and ref[4:].isdigit():
        row = PromptSet.objects.filter(team=team, pk=int(ref[4:])).first()
        if row is not None:
            return PromptSetView(ref=row.ref, name=row.name, description="", builtin=False, pk=row.pk,
                                 prompts=tuple(_saved(p) for p in row.prompts.all()))
    return None


def find_prompt(ref, team):
    ref = str(ref or "")
    for found in builtin_sets():
        for prompt in found.prompts:
            if prompt.ref == ref:
                return prompt
    if ref.startswith("saved-") and ref[6:].isdigit():
        row = Prompt.objects.filter(team=team, pk=int(ref[6:])).first()
        if row is not None:
            return _saved(row)
    return None


def initial_from_prompt(ref, team):
    """The new-comparison form's initial prompt (and suggested size) from ?prompt_from=; 404 for
    a prompt that is not built in nor the team's."""
    prompt = find_prompt(ref, team)
    if prompt is None:
        raise Http404("No such prompt in your team's prompt sets.")
    initial = {"prompt": prompt.text}
    if prompt.size:
        initial.update(_size_initial(prompt.size))
    return initial


def _size_initial(size):
    width, height = parse_size(size)
    preset = next((name for name, dims in SIZE_PRESETS.items() if dims == (width, height)), None)
    return {"size": preset} if preset else {"size": "custom", "width": width, "height": height}


# --- Validating and creating a batch -----------------------------------------------------------


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


EDIT_FIELDS = ("reference_images", "mask", "references_from")


def plan_batch(*, team, user, prompt_set, data, use_prompt_sizes=True):
    """Validate every prompt of the set as its own comparison with the routes and parameters in
    `data` (a QueryDict as the compare form posts it). Returns [Planned]; raises BatchRefused
    with every problem (each naming the prompts it applies to) and nothing created."""
    if prompt_set is None:
        raise BatchRefused(["Pick a prompt set to run."])
    if not prompt_set.prompts:
        raise BatchRefused([f"The set “{prompt_set.name}” has no prompts yet."])
    if any(data.get(name) for name in EDIT_FIELDS):
        raise BatchRefused(["A batch runs text-to-image prompts: remove the reference images and mask, "
                            "or run the edit as a single comparison."])
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


# --- The matrix --------------------------------------------------------------------------------


@dataclass
class Column:
    key: str
    label: str
    results: list = field(default_factory=list)  # of the rows this user may see

    @property
    def succeeded(self):
        return sum(r.status == Status.SUCCEEDED for r in self.results)

    @property
    def finished(self):
        return sum(r.status in TERMINAL for r in self.results)

    @property
    def median_latency_ms(self):
        values = [r.latency_ms for r in self.results if r.status == Status.SUCCEEDED and r.latency_ms is not None]
        return statistics.median(values) if values else None

    @property
    def costs(self):
        """[(cost word, USD)] of the finished results, summed per word (billed, from usage, team
        price, est., rough), in that order; words with no result left out."""
        sums = {}
        for r in self.results:
            if r.status in TERMINAL and r.cost_is_known:
                sums[r.cost_word] = sums.get(r.cost_word, Decimal(0)) + r.cost_usd
        return [(word, sums[word]) for word in COST_WORDS if word in sums]

    @property
    def costs_by_source(self):
        """{cost_source: USD} as the API names them ("rough" is an "estimated" whose price is unresolved)."""
        sums = {}
        for r in self.results:
            if r.status in TERMINAL and r.cost_is_known:
                sums[r.cost_source] = sums.get(r.cost_source, Decimal(0)) + r.cost_usd
        return sums

    @property
    def unknown_cost(self):
        return sum(r.status in TERMINAL and r.cost_source == "unknown" for r in self.results)

    def _checked(self):
        return [found for found in (checks_of(r) for r in self.results if r.status == Status.SUCCEEDED)
                if found is not None and found.status == ResultCheck.DONE]

    @property
    def checked(self):
        """Succeeded cells whose automatic checks are done (docs/checks.md)."""
        return len(self._checked())

    @property
    def text_accuracy_mean(self):
        """The mean text accuracy of the cells whose prompt quotes text that OCR could read."""
        values = [c.text_accuracy for c in self._checked() if c.text_accuracy is not None]
        return statistics.fmean(values) if values else None

    @property
    def text_scored(self):
        return sum(c.text_accuracy is not None for c in self._checked())

    @property
    def blank_count(self):
        return sum(bool(c.blank) for c in self._checked())

    @property
    def size_mismatch_count(self):
        return sum(c.size_matches is False for c in self._checked())


@dataclass
class Row:
    item: BatchItem
    cells: list  # a Result (or None) per column, in column order
    masked: bool
    held: bool
    finished: int
    total: int

    @property
    def comparison(self):
        return self.item.comparison


@dataclass
class Matrix:
    batch: Batch
    columns: list
    rows: list
    names_hidden: bool  # every row is blind to this user: the columns are not named either

    @property
    def cells(self):
        return sum(row.total for row in self.rows)

    @property
    def finished(self):
        return sum(row.finished for row in self.rows)

    @property
    def done(self):
        return bool(self.rows) and self.finished == self.cells

    @property
    def checks_pending(self):
        """Some succeeded cell's automatic checks are still running (the matrix keeps polling)."""
        return any(result is not None and checks_status(result) == "pending"
                   for row in self.rows for result in row.cells)

    @property
    def sized_rows(self):
        """Rows that ran at their prompt's own suggested size instead of the batch's."""
        return sum(row.item.size_from_prompt for row in self.rows)

    @property
    def masked_rows(self):
        return sum(row.masked for row in self.rows)


def build_matrix(batch, user):
    mine = Verdict.objects.filter(user=user) if user.is_authenticated else Verdict.objects.none()
    items = list(batch.items.select_related("comparison").prefetch_related(
        Prefetch("comparison__results", queryset=Result.objects.select_related("image_checks")),
        "comparison__results__images", Prefetch("comparison__verdicts", queryset=mine, to_attr="my_verdicts")))
    columns = [Column(key=key, label=key) for key in batch.route_keys]
    can_run = batch.team.can_run(user)
    rows = []
    for item in items:
        comparison = item.comparison
        results = list(comparison.results.all())
        seen = Visibility.for_member(comparison, user, has_verdict=bool(comparison.my_verdicts), results=results,
                                     can_run=can_run)
        masked = seen.masked
        by_route = {r.route_key: r for r in results}
        cells = [by_route.get(column.key) for column in columns]
        rows.append(Row(item=item, cells=cells, masked=masked, held=not seen.images,
                        finished=sum(r.status in TERMINAL for r in results), total=len(results)))
        if not masked:
            for column, result in zip(columns, cells):
                if result is not None:
                    column.label = result.route_label
                    column.results.append(result)
    names_hidden = bool(rows) and all(row.masked for row in rows)
    return Matrix(batch=batch, columns=columns, rows=rows, names_hidden=names_hidden)


# --- Pages -------------------------------------------------------------------------------------


def _visible_batch(request, pk):
    return get_object_or_404(Batch.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk)


@require_POST
def batch_cancel(request, pk):
    """Cancel every comparison of the batch still running: queued cells end cancelled at once,
    running ones at their next wait (as on a comparison's own page)."""
    batch = _visible_batch(request, pk)
    if not batch.team.can_run(request.user):
        messages.error(request, f"Viewers of {batch.team} cannot cancel batches.")
        return redirect(batch)
    cancelled = asked = 0
    for item in batch.items.select_related("comparison"):
        done, stopping = item.comparison.cancel()
        cancelled, asked = cancelled + done, asked + stopping
    if cancelled or asked:
        messages.info(request, f"Cancelled {cancelled} queued cell(s); asked {asked} running cell(s) to stop.")
    else:
        messages.info(request, "Nothing to cancel: every cell had already finished.")
    return redirect(batch)


def batch_list(request):
    team = teams.current_team(request)
    unfinished = Q(items__comparison__results__status__in=[Status.QUEUED, Status.RUNNING])
    batches = (Batch.objects.filter(team=team).select_related("created_by").order_by("-created_at", "-id")
               .annotate(prompts=Count("items", distinct=True),
                         cells=Count("items__comparison__results", distinct=True),
                         running=Count("items__comparison__results", filter=unfinished, distinct=True)))
    return render(request, "compare/batch_list.html", {"batches": batches[:200], "team": team})


def batch_detail(request, pk):
    batch = _visible_batch(request, pk)
    # Read before the matrix: the page's event stream starts here, so it misses no change.
    events_after = ResultEvent.latest_id(batch.items.values("comparison_id"))
    matrix = build_matrix(batch, request.user)
    context = {"batch": batch, "matrix": matrix, "events_after": events_after}
    if request.htmx and request.GET.get("part") == "matrix":
        response = render(request, "compare/batch_detail.html#matrix", context)
        return HttpResponseStopPolling(response.content) if matrix.done and not matrix.checks_pending else response
    return render(request, "compare/batch_detail.html", context)


def batch_csv(request, pk):
    """The matrix as CSV: one line per cell. Rows still blind to this user are left out."""
    batch = _visible_batch(request, pk)
    matrix = build_matrix(batch, request.user)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(["position", "title", "comparison", "size", "route", "status", "latency_ms", "cost_usd",
                     "cost_source", "estimate_source", "seed", "error", "text_accuracy", "size_matches", "blank"])
    for row in matrix.rows:
        if row.masked:
            continue
        for result in row.cells:
            if result is None:
                continue
            writer.writerow([row.item.position + 1, _csv_safe(row.item.title), row.comparison.pk,
                             row.comparison.params.get("size"), result.route_key, result.status,
                             "" if result.latency_ms is None else round(result.latency_ms, 1),
                             "" if result.cost_usd is None else result.cost_usd, result.cost_source,
                             result.estimate_source, result.seed_word,
                             _csv_safe(result.error), *_check_cells(result, row.held)])
    return response


def _check_cells(result, held):
    """text_accuracy, size_matches, blank of a cell's automatic checks; empty until they are done
    (and while its images are held)."""
    found = None if held else checks_of(result)
    if found is None or found.status != ResultCheck.DONE:
        return ["", "", ""]
    return ["" if found.text_accuracy is None else round(found.text_accuracy, 4),
            "" if found.size_matches is None else found.size_matches, "" if found.blank is None else found.blank]


def _csv_safe(text):
    """No spreadsheet formulas from user text."""
    return "'" + text if text and text[0] in "=+-@\t\r" else text


@require_POST
def batch_create(request):
    """The compare form's "Run set as batch" button: the same routes and parameters, every prompt
    of the chosen set."""
    team = teams.current_team(request)
    prompt_set = find_set(request.POST.get("prompt_set"), team)
    use_sizes = request.POST.get("use_prompt_sizes") == "on"
    try:
        if request.FILES:
            raise BatchRefused(["A batch runs text-to-image prompts: remove the reference images and mask, "
                                "or run the edit as a single comparison."])
        planned = plan_batch(team=team, user=request.user, prompt_set=prompt_set, data=request.POST,
                             use_prompt_sizes=use_sizes)
        batch = create_batch(user=request.user, team=team, prompt_set=prompt_set, planned=planned,
                             name=request.POST.get("batch_name", ""), use_prompt_sizes=use_sizes)
    except BatchRefused as refused:
        return _new_page_with(request, team, batch_errors=refused.problems, status=400)
    return redirect(batch)


def _new_page_with(request, team, status=200, **extra):
    """The compare page again with what was posted (unvalidated: the batch's problems are shown
    in its own section, not as the single comparison's)."""
    from .views import _picker_context

    post = request.POST
    names = ("prompt", "size", "width", "height", "quality", "output_format", "n", "seed", "blind",
             "hold_images_until_done")
    initial = {name: post.get(name) for name in names if post.get(name) not in (None, "")}
    initial["routes"] = post.getlist("routes")
    form = ComparisonForm(initial=initial, team=team, user=request.user)
    context = _picker_context(form)
    context.update(chosen_set=post.get("prompt_set", ""), use_prompt_sizes=post.get("use_prompt_sizes") == "on",
                   batch_name=post.get("batch_name", ""), **extra)
    return render(request, "compare/new.html", context, status=status)


# --- Team prompts --------------------------------------------------------------------------------


def prompt_library(request):
    team = teams.current_team(request)
    return render(request, "compare/prompt_library.html",
                  {"builtin": builtin_sets(), "own": team_sets(team), "team": team,
                   "can_edit": team.can_run(request.user)})


def prompt_fill(request, ref):
    """htmx: the prompt textarea holding this prompt (the picker swaps it in place); without
    JavaScript the picker's links go to /?prompt_from=REF instead."""
    team = teams.current_team(request)
    initial = initial_from_prompt(ref, team)
    form = ComparisonForm(initial=initial, team=team, user=request.user)
    attrs = {"data-suggested-size": initial["size"]} if "size" in initial and initial["size"] != "custom" else {}
    return HttpResponse(form["prompt"].as_widget(attrs=attrs))


@require_POST
def prompt_save(request):
    """"Save this prompt" on the compare page: into a named set of the team (made if new), or
    into its default set."""
    team = teams.current_team(request)
    text = (request.POST.get("prompt") or "").strip()
    set_name = " ".join((request.POST.get("save_set") or "").split())[:100] or DEFAULT_SET_NAME
    title = " ".join((request.POST.get("save_title") or "").split())[:120]
    error = None
    if not team.can_run(request.user):
        error = f"You are a viewer of {team}: only its owners and members save prompts."
    elif not text:
        error = "Type a prompt first: there is nothing to save."
    if error:
        if request.htmx:
            return render(request, "compare/prompt_saved.html", {"error": error})  # htmx swaps only 2xx
        messages.error(request, error)
        return redirect("compare:new")
    with transaction.atomic():
        prompt_set, _ = PromptSet.objects.get_or_create(team=team, name=set_name,
                                                        defaults={"created_by": request.user})
        saved = Prompt.objects.create(team=team, prompt_set=prompt_set, title=title, text=text,
                                           created_by=request.user)
    if request.htmx:
        return render(request, "compare/prompt_saved.html",
                      {"saved": saved, "prompt_set": prompt_set, "prompt_sets": all_sets(team)})
    messages.info(request, f"Saved to “{prompt_set.name}”.")
    return redirect(f"/?prompt_from={saved.ref}")


def _editable(request, model, pk):
    team = teams.current_team(request)
    row = get_object_or_404(model.objects.filter(team=team), pk=pk)  # another team's: 404
    if not team.can_run(request.user):
        messages.error(request, f"Viewers of {row.team} cannot delete prompts.")
        return None
    return row


@require_POST
def prompt_delete(request, pk):
    row = _editable(request, Prompt, pk)
    if row is not None:
        row.delete()
        messages.info(request, "PromptView deleted.")
    return redirect("compare:prompts")


@require_POST
def prompt_set_delete(request, pk):
    row = _editable(request, PromptSet, pk)
    if row is not None:
        count = row.prompts.count()
        row.delete()
        messages.info(request, f"Set “{row.name}” deleted with its {count} prompt{'s' if count != 1 else ''}. "
                               "Batches already run keep their comparisons.")
    return redirect("compare:prompts")
