"""Team review: thumbs on each finished result, one verdict per member, comments, blind mode.

Owners and members act; viewers see. Everything goes through Comparison.objects.visible_to, so
another team's comparison or result answers 404."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from compare.models import Comparison, Result
from compare.review.models import (
    Comment, Review, ReviewRefused, Thumb, VerdictKind, give_verdict, rate, review_queue,
    set_review_mode,
)
from compare.review.visibility import Visibility
from compare.teams import views as teams

THUMBS = {"up": Thumb.UP, "down": Thumb.DOWN, "clear": None}


def _visible(request, pk):
    return get_object_or_404(Comparison.objects.visible_to(request.user).select_related("team"), pk=pk)


def _refuse(request, comparison, text):
    """A viewer, or a vote that cannot be taken: say why (htmx: 403 with the reason)."""
    if request.htmx:
        return HttpResponse(text, status=403, content_type="text/plain; charset=utf-8")
    messages.error(request, text)
    return redirect(f"{comparison.get_absolute_url()}#review")


def _back(request, comparison, anchor):
    """Where a review action returns: the review queue when it came from there (a fixed place,
    never an address from the request), else the comparison's page."""
    if request.POST.get("next") == "queue":
        return redirect(f"{reverse('review:review-queue')}?at={comparison.pk}{anchor}")
    return redirect(f"{comparison.get_absolute_url()}{anchor}")


def _viewer_text(comparison):
    return f"Viewers of {comparison.team} see the review but cannot vote or comment."


@require_POST
def rate_result(request, pk):
    """Thumb up or down (the same thumb again takes it back); htmx gets the card back."""
    visible = Comparison.objects.visible_to(request.user)
    result = get_object_or_404(Result.objects.filter(comparison__in=visible).select_related("comparison__team"), pk=pk)
    comparison = result.comparison
    if not comparison.team.can_run(request.user):
        return _refuse(request, comparison, _viewer_text(comparison))
    if request.POST.get("value") not in THUMBS:
        return HttpResponse("value must be up, down or clear.", status=400, content_type="text/plain; charset=utf-8")
    value = THUMBS[request.POST["value"]]
    if value is not None and result.ratings.filter(user=request.user, value=value).exists():
        value = None  # pressing the thumb you gave again takes it back
    try:
        rate(result, request.user, value)
    except ReviewRefused as exc:
        return _refuse(request, comparison, str(exc))
    if not request.htmx:
        return _back(request, comparison, f"#result-{result.pk}")
    review = Review(comparison, request.user)
    return render(request, "compare/detail.html#result-card",
                  {"result": review.result(result.pk), "review": review, "comparison": comparison})


@require_POST
def post_verdict(request, pk):
    comparison = _visible(request, pk)
    if not comparison.team.can_run(request.user):
        return _refuse(request, comparison, _viewer_text(comparison))
    was_masked = Visibility.for_member(comparison, request.user).masked
    choice = request.POST.get("verdict", "")  # a result id (its winner), "tie" or "all_bad"
    kind, winner = (VerdictKind.WINNER, choice) if choice.isdigit() else (choice, None)
    try:
        give_verdict(comparison, request.user, kind, winner)
    except ReviewRefused as exc:
        return _refuse(request, comparison, str(exc))
    if request.POST.get("next") == "queue":  # on to the next comparison waiting for this member
        messages.success(request, f"Verdict on #{comparison.pk} saved." + (" Routes revealed." if was_masked else ""))
        return redirect(f"{reverse('review:review-queue')}?after={comparison.pk}")
    messages.success(request, "Verdict saved: routes revealed." if was_masked else "Verdict saved.")
    return redirect(f"{comparison.get_absolute_url()}#review")


@require_POST
def post_comment(request, pk):
    comparison = _visible(request, pk)
    if not comparison.team.can_run(request.user):
        return _refuse(request, comparison, _viewer_text(comparison))
    text = (request.POST.get("text") or "").strip()
    if not text:
        messages.error(request, "A comment cannot be empty.")
    elif len(text) > Comment._meta.get_field("text").max_length:
        messages.error(request, "A comment has at most 4,000 characters.")
    else:
        Comment.objects.create(comparison=comparison, user=request.user, text=text)
    return _back(request, comparison, "#comments")


@require_POST
def post_review_mode(request, pk):
    """Blind mode and holding images back, switched by a member for the whole team."""
    comparison = _visible(request, pk)
    if not comparison.team.can_run(request.user):
        return _refuse(request, comparison, f"Viewers of {comparison.team} cannot change the review mode.")
    set_review_mode(comparison, blind=request.POST.get("blind") == "on",
                    hold_images_until_done=request.POST.get("hold_images_until_done") == "on")
    return redirect(comparison)


@require_GET
def review_panel(request, pk):
    """The verdict, votes and comments; polls while the comparison runs (so the verdict form
    offers the results as they succeed) and while images are held back."""
    comparison = _visible(request, pk)
    review = Review(comparison, request.user)
    response = render(request, "compare/detail.html#review", {"comparison": comparison, "review": review})
    # review.done comes from the same read of the results as the form (not a second query), so the
    # panel never stops polling while showing fewer winners than there are.
    return response if review.held or not review.done else HttpResponseStopPolling(response.content)


def _pk(value):
    return int(value) if value and value.isdigit() else None


@require_GET
def queue(request):
    """The review queue: the current team's comparisons waiting for my verdict, one at a time,
    images large, keyboard first (static/js/review-queue.js). ?at=ID shows that one (if it still
    waits), ?after=ID the next older one (after a verdict on ID), else the newest."""
    team = teams.current_team(request)
    waiting = review_queue(team, request.user)
    at, after = _pk(request.GET.get("at")), _pk(request.GET.get("after"))
    comparison = None
    if at:
        comparison = waiting.filter(pk=at).select_related("team").first()
    if comparison is None and after:
        comparison = waiting.filter(pk__lt=after).select_related("team").first()
    if comparison is None:
        comparison = waiting.select_related("team").first()
    context = {"team": team, "left": waiting.count(), "comparison": comparison}
    if comparison is not None:
        review = Review(comparison, request.user)
        context.update(review=review, position=waiting.filter(pk__gt=comparison.pk).count() + 1,
                       newer=waiting.filter(pk__gt=comparison.pk).order_by("id").values_list("pk", flat=True).first(),
                       older=waiting.filter(pk__lt=comparison.pk).values_list("pk", flat=True).first())
    return render(request, "review/review_queue.html", context)
