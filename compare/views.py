"""The compare pages: the form, a comparison's results and cards, cancel, run again, history, images;
and member_action, the gate of every page's POST that acts on a comparison."""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from providers.base import SIZE_PRESETS, parse_size

from compare import catalog, services
from compare.api.auth import session_or_token
from compare.engine import requests as image_requests
from compare.forms import ComparisonForm, rerun_form
from compare.models import Comparison, ReferenceImage, Result, ResultEvent, ResultImage, Status
from compare.review import models as reviewing
from compare.review.models import Review
from compare.review.visibility import Visibility
from compare.route_picker import picker_context
from compare.teams import views as teams
from compare.teams.models import SubmitRefused
from compare.templatetags import viewing


def new_comparison(request):
    if request.method == "POST":
        team = teams.current_team(request)
        form = ComparisonForm(request.POST, request.FILES, team=team, user=request.user)
        if form.is_valid():
            try:
                return redirect(services.create_from_form(form, request.user, team))
            except SubmitRefused as refused:  # the budget, checked again with the team row locked
                form.add_error(None, str(refused))
        status = 400
    else:
        if request.htmx:
            form = ComparisonForm(request.GET, team=teams.current_team(request), user=request.user)
        else:
            initial = _initial_from(request.GET.get("from"), request.user)
            if request.GET.get("prompt_from"):  # a prompt picked from a set (compare/batches/prompt_sets.py)
                from compare.batches.prompt_sets import initial_from_prompt

                initial.update(initial_from_prompt(request.GET["prompt_from"], teams.current_team(request)))
            if request.GET.get("try") == "sandbox":  # the newcomer's one click: the free offline routes ticked
                initial["routes"] = _sandbox_keys(teams.current_team(request))
            form = ComparisonForm(initial=initial, team=teams.current_team(request), user=request.user)
        status = 200
    template = "compare/new.html#route-picker" if request.htmx and request.method == "GET" else "compare/new.html"
    context = picker_context(form)
    if template == "compare/new.html" and not context["selected"] and form.team is not None:
        # A team that has run nothing yet is offered the sandbox routes (free, offline) in one click.
        sandbox = _sandbox_keys(form.team)
        context["suggest_sandbox"] = sandbox if sandbox and not form.team.comparisons.exists() else []
    return render(request, template, context, status=status)


def _sandbox_keys(team, most=3):
    """The first few configured sandbox routes: a first comparison that costs nothing."""
    return [key for key, route in catalog.available_routes(team).items() if route.sandbox][:most]


def _initial_from(pk, user):
    """Prefill the form from an earlier comparison ("Edit & run")."""
    if not (pk and pk.isdigit()):
        return {"size": "square", "quality": "auto", "output_format": "png", "n": 1}
    earlier = get_object_or_404(Comparison.objects.visible_to(user), pk=pk)
    params = earlier.params
    size = next((name for name, dims in SIZE_PRESETS.items() if f"{dims[0]}x{dims[1]}" == params.get("size")), None)
    width, height = parse_size(params.get("size", "1024x1024"))
    return {"prompt": earlier.prompt, "routes": earlier.route_keys, "size": size or "custom",
            "width": None if size else width, "height": None if size else height,
            "quality": params.get("quality"), "output_format": params.get("output_format"),
            "n": params.get("n"), "seed": params.get("seed"),
            "references_from": earlier.pk if earlier.references.exists() else None}


def route_list(request):
    """Every route we know, configured or not, with what it needs and where its price comes
    from; and the sellers we cannot call, with the reason."""
    from providers.unsupported import UNSUPPORTED

    return render(request, "compare/routes.html", {"choices": catalog.route_choices(team=teams.current_team(request)),
                                                   "unsupported": UNSUPPORTED})


PARTS = {"bar": "review/_verdict_bar.html", "picker": "review/sidebyside.html#picker"}


def comparison_detail(request, pk):
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user).select_related("created_by", "rerun_of", "team"), pk=pk)
    # Read before the results: the page's event stream starts here, so it misses no change.
    events_after = ResultEvent.latest_id([comparison.pk])
    context = _summary_context(comparison)
    context["events_after"] = events_after
    # Blind mode: the cards come in this reviewer's own order, labelled A, B, C (compare/review/models.py).
    review = Review(comparison, request.user)
    # ?sort= reorders the cards and the race timeline (never for a blind reviewer: it would tell).
    sort = viewing.sort_choice(request.GET.get("sort", ""), review)
    context.update(review=review, results=viewing.sort_results(review.results, sort, review.verdicts),
                   sort=sort, sorts=viewing.SORTS)
    part = request.GET.get("part") if request.htmx else None
    if part == "race":  # the timeline polling itself, with the cards' badges
        return render(request, "compare/detail.html#race", {**context, "oob_badges": True})
    if part in PARTS:  # the verdict bar and the side-by-side picker, anew when the comparison finishes
        return render(request, PARTS[part], context)
    return render(request, "compare/detail.html", context)


def comparison_summary(request, pk):
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user), pk=pk)
    response = render(request, "compare/detail.html#summary", _summary_context(comparison))
    if comparison.status != "done":
        return response
    # Done: stop polling, drop the Cancel button (out of band), and tell the review panel to
    # refresh now rather than at its next tick (it then shows the verdict form for the winners).
    done = HttpResponseStopPolling(response.content)
    done["HX-Trigger"] = "comparison-done"
    return done


def _summary_context(comparison):
    # One read of the results for the counts and for comparison.status, so the page never says
    # "Done: 2 of 3" when the third finished between two queries.
    prefetch_related_objects([comparison], "results")
    results = list(comparison.results.all())
    return {"comparison": comparison, "results": results,
            "finished": sum(r.is_terminal for r in results),
            "succeeded": sum(r.status == Status.SUCCEEDED for r in results)}


def result_card(request, pk):
    result = get_object_or_404(Result.objects.filter(comparison__in=Comparison.objects.visible_to(request.user))
                               .select_related("comparison__team"), pk=pk)
    review = Review(result.comparison, request.user)
    result = review.result(result.pk)
    response = render(request, "compare/detail.html#result-card",
                      {"result": result, "review": review, "comparison": result.comparison})
    # A held card keeps polling: its images appear once every route has finished.
    return HttpResponseStopPolling(response.content) if result.is_terminal and not review.held else response


def member_action(doing):
    """The view acts on a comparison (URL argument pk) as an owner or member: it gets the comparison
    the user sees instead of pk (another team's: 404); a viewer is told they cannot `doing` and sent
    back to the comparison (teams.viewer_refusal)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, pk, *args, **kwargs):
            comparison = get_object_or_404(Comparison.objects.visible_to(request.user), pk=pk)
            if refused := teams.viewer_refusal(request, comparison.team, doing, comparison):
                return refused
            return view(request, comparison, *args, **kwargs)

        return wrapped

    return decorator


@require_POST
@member_action("cancel comparisons")
def cancel_comparison(request, comparison):
    cancelled, asked = comparison.cancel()
    if cancelled or asked:
        messages.info(request, f"Cancelled {cancelled} queued route(s); asked {asked} running route(s) to stop.")
    else:
        messages.info(request, "Nothing to cancel: every route had already finished.")
    return redirect(comparison)


@require_POST
@member_action("run comparisons")
def rerun_comparison(request, comparison):
    unavailable = set(comparison.route_keys) - set(catalog.available_routes(comparison.team))
    if unavailable:
        messages.error(request, f"Cannot run again: {', '.join(sorted(unavailable))} is not available any more.")
        return redirect(comparison)
    form = rerun_form(comparison, request.user)
    if form.is_valid():
        try:
            return redirect(services.create_from_form(form, request.user, comparison.team, rerun_of=comparison))
        except SubmitRefused as refused:
            form.add_error(None, str(refused))
    for message in (m for msgs in form.errors.values() for m in msgs):
        messages.error(request, f"Cannot run again: {message}")
    return redirect(comparison)


def _routes_used_by(team):
    """The route keys of the team's results, for the route filter: the distinct keys of the
    route_key index walked by seeks (one per key, a recursive query), each kept if the team has a
    result on it (a LIMIT 1 probe per key, which PostgreSQL cannot turn into a join of every
    result) - not a DISTINCT over every result row of the team."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            WITH RECURSIVE keys(k) AS (
                SELECT MIN(route_key) FROM compare_result
                UNION ALL
                SELECT (SELECT MIN(route_key) FROM compare_result WHERE route_key > keys.k) FROM keys
                WHERE keys.k IS NOT NULL
            )
            SELECT k FROM keys WHERE k IS NOT NULL AND (
                SELECT 1 FROM compare_result r INNER JOIN compare_comparison c ON c.id = r.comparison_id
                WHERE r.route_key = keys.k AND c.team_id = %s LIMIT 1) IS NOT NULL""", [team.pk])
        return [key for (key,) in cursor.fetchall()]


def _strip(comparison, user):
    """A history row's routes as its viewer may see them: in the blind order under letters while
    the routes are masked, each with its first image (none while images are held)."""
    seen, results = comparison.seen, list(comparison.results.all())
    if comparison.blind:
        results = reviewing.blind_order(comparison, results, user)
    strip = []
    for index, result in enumerate(results):
        images = list(result.images.all()) if seen.images and result.status == Status.SUCCEEDED else []
        strip.append({"result": result, "name": reviewing.blind_label(index) if seen.masked else result.route_key,
                      "label": reviewing.blind_label(index) if comparison.blind else "",
                      "image": images[0] if images else None})
    return strip


def history(request):
    query = request.GET.get("q", "").strip()
    route = request.GET.get("route", "")
    status = request.GET.get("status", "")
    review, winner, rating = (request.GET.get(name, "") for name in ("review", "winner", "rating"))
    team = teams.current_team(request)
    comparisons = Comparison.objects.filter(team=team).search(query).with_route(route).with_status(status)
    if route:  # a search by route would name the routes of blind comparisons the user has not judged
        comparisons = comparisons.filter(Visibility.named_for(request.user))
    # Everything a row shows in a fixed number of queries, whatever the page size: the results and
    # their images (the thumbnail strip), the verdicts, and the batch a comparison came from.
    comparisons = comparisons.select_related("created_by", "team", "batch_item__batch").prefetch_related(
        "results__images", "verdicts")
    if review == "mine":
        comparisons = reviewing.needing_review_by(comparisons, request.user) if team.can_run(request.user) \
            else comparisons.none()
    comparisons = reviewing.with_rating(reviewing.with_winner(comparisons, winner, request.user), rating)
    comparisons = reviewing.with_my_verdict(comparisons, request.user)
    page = Paginator(comparisons, settings.HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    for row in Visibility.for_rows(page.object_list, request.user):
        row.strip = _strip(row, request.user)
    known_routes = sorted(set(catalog.available_routes(team)) | set(_routes_used_by(team)))
    context = {"page": page, "q": query, "route": route, "status": status, "known_routes": known_routes,
               # "running" (some route unfinished) and "done" (all finished), then each route's end state
               "statuses": ["running", "done"] + [s.value for s in Status if s not in (Status.QUEUED, Status.RUNNING)],
               "review": review, "winner": winner, "rating": rating}
    template = "compare/history.html#history-list" if request.htmx else "compare/history.html"
    return render(request, template, context)


def _image_file(request, pk, field):
    visible = Comparison.objects.visible_to(request.user)
    image = get_object_or_404(ResultImage.objects.filter(result__comparison__in=visible).select_related("result__comparison"), pk=pk)
    if not Visibility.for_member(image.result.comparison, request.user).images:
        raise Http404("Images are held back until every route has finished.")
    content_type = "image/webp" if field == "thumbnail" else f"image/{image.format}"
    return _file_response(getattr(image, field), content_type)


def _file_response(file, content_type):
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise Http404("The image file is missing from storage.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@session_or_token
def reference_image(request, pk):
    visible = Comparison.objects.visible_to(request.user)
    row = get_object_or_404(ReferenceImage.objects.filter(comparison__in=visible), pk=pk)
    return _file_response(row.file, f"image/{row.format}")


@login_not_required
def reference_public(request, token):
    """An expiring, unguessable link to one reference image, for providers that fetch edit
    inputs by URL. Signed with SECRET_KEY; it opens nothing else."""
    try:
        pk = signing.loads(token, salt=image_requests.REFERENCE_SALT, max_age=image_requests.REFERENCE_LINK_SECONDS)
    except signing.BadSignature:
        raise Http404("This link is not valid or has expired.") from None
    row = get_object_or_404(ReferenceImage, pk=pk)
    return _file_response(row.file, f"image/{row.format}")


@session_or_token
def image_original(request, pk):
    return _image_file(request, pk, "original")


@session_or_token
def image_thumbnail(request, pk):
    return _image_file(request, pk, "thumbnail")
