"""The pages of batches and of the team's prompts (issue 7): running a set from the compare page,
the batch list, a batch's matrix (page, CSV, cancel), the prompt library, saving and deleting
prompts. Everything is scoped to the team: another team's prompt, set or batch is a 404."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from compare.batches.matrix import build_matrix, write_csv
from compare.batches.models import Batch, Prompt, PromptSet
from compare.batches.planning import EDITS_REFUSED, BatchRefused, cancel_batch, create_batch, plan_batch
from compare.batches.prompt_sets import (
    all_sets, builtin_sets, find_set, initial_from_prompt, save_prompt, team_sets,
)
from compare.forms import ComparisonForm
from compare.models import ResultEvent
from compare.route_picker import picker_context
from compare.teams import views as teams


def _visible_batch(request, pk):
    return get_object_or_404(Batch.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk)


@require_POST
def batch_cancel(request, pk):
    """Cancel every comparison of the batch still running: queued cells end cancelled at once,
    running ones at their next wait (as on a comparison's own page)."""
    batch = _visible_batch(request, pk)
    if refused := teams.viewer_refusal(request, batch.team, "cancel batches", batch):
        return refused
    cancelled, asked = cancel_batch(batch)
    if cancelled or asked:
        messages.info(request, f"Cancelled {cancelled} queued cell(s); asked {asked} running cell(s) to stop.")
    else:
        messages.info(request, "Nothing to cancel: every cell had already finished.")
    return redirect(batch)


def batch_list(request):
    team = teams.current_team(request)
    batches = Batch.objects.filter(team=team).select_related("created_by").with_progress()
    return render(request, "batches/batch_list.html", {"batches": batches[:200], "team": team})


def batch_detail(request, pk):
    batch = _visible_batch(request, pk)
    # Read before the matrix: the page's event stream starts here, so it misses no change.
    events_after = ResultEvent.latest_id(batch.items.values("comparison_id"))
    matrix = build_matrix(batch, request.user)
    context = {"batch": batch, "matrix": matrix, "events_after": events_after}
    if request.htmx and request.GET.get("part") == "matrix":
        response = render(request, "batches/batch_detail.html#matrix", context)
        return HttpResponseStopPolling(response.content) if matrix.done and not matrix.checks_pending else response
    return render(request, "batches/batch_detail.html", context)


def batch_csv(request, pk):
    """The matrix as CSV: one line per cell. Rows still blind to this user are left out."""
    batch = _visible_batch(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}.csv"'
    write_csv(build_matrix(batch, request.user), response)
    return response


@require_POST
def batch_create(request):
    """The compare form's "Run set as batch" button: the same routes and parameters, every prompt
    of the chosen set."""
    team = teams.current_team(request)
    prompt_set = find_set(request.POST.get("prompt_set"), team)
    use_sizes = request.POST.get("use_prompt_sizes") == "on"
    try:
        if request.FILES:
            raise BatchRefused([EDITS_REFUSED])
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
    post = request.POST
    names = ("prompt", "size", "width", "height", "quality", "output_format", "n", "seed", "blind",
             "hold_images_until_done")
    initial = {name: post.get(name) for name in names if post.get(name) not in (None, "")}
    initial["routes"] = post.getlist("routes")
    form = ComparisonForm(initial=initial, team=team, user=request.user)
    context = picker_context(form)
    context.update(chosen_set=post.get("prompt_set", ""), use_prompt_sizes=post.get("use_prompt_sizes") == "on",
                   batch_name=post.get("batch_name", ""), **extra)
    return render(request, "compare/new.html", context, status=status)


# --- Team prompts --------------------------------------------------------------------------------


def prompt_library(request):
    team = teams.current_team(request)
    return render(request, "batches/prompt_library.html",
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
    set_name = request.POST.get("save_set") or ""
    title = request.POST.get("save_title") or ""
    error = None
    if not team.can_run(request.user):
        error = f"You are a viewer of {team}: only its owners and members save prompts."
    elif not text:
        error = "Type a prompt first: there is nothing to save."
    if error:
        if request.htmx:
            return render(request, "batches/prompt_saved.html", {"error": error})  # htmx swaps only 2xx
        messages.error(request, error)
        return redirect("compare:new")
    saved, prompt_set = save_prompt(team, request.user, text, set_name, title)
    if request.htmx:
        return render(request, "batches/prompt_saved.html",
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
    return redirect("batches:prompts")


@require_POST
def prompt_set_delete(request, pk):
    row = _editable(request, PromptSet, pk)
    if row is not None:
        count = row.prompts.count()
        row.delete()
        messages.info(request, f"Set “{row.name}” deleted with its {count} prompt{'s' if count != 1 else ''}. "
                               "Batches already run keep their comparisons.")
    return redirect("batches:prompts")
