"""The review endpoints: thumbs, verdicts, comments and review mode.

The rules are compare/review/models.py's; what each user sees is asked of compare/review/visibility.py."""

from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from compare.api.auth import api_view, read_json
from compare.api.presenters import comparison_dict, result_dict, review_dict
from compare.models import Comparison, Result
from compare.review.models import (
    Comment, Review, ReviewRefused, Thumb, VerdictKind, give_verdict, rate, set_review_mode,
)

THUMBS = {"up": Thumb.UP, "down": Thumb.DOWN, None: None}


def _visible_comparison(request, pk):
    return get_object_or_404(Comparison.objects.visible_to(request.user).select_related("team", "created_by"), pk=pk)


def _viewer_refused(comparison):
    return JsonResponse({"error": f"Viewers of {comparison.team} see the review but cannot vote or comment."},
                        status=403)


def _json_object(request, fields):
    """(payload, None) for a JSON object with exactly these keys, else (None, a 400 naming them)."""
    payload, error = read_json(request)
    if error:
        return None, error
    if not isinstance(payload, dict) or set(payload) != set(fields):
        return None, JsonResponse({"errors": {name: [f"Send a JSON object with exactly: {', '.join(fields)}."]
                                              for name in fields}}, status=400)
    return payload, None


def _member_payload(request, comparison, fields):
    """(payload, None) when the user may vote and comment on the comparison (an owner or a member)
    and sent a JSON object with exactly these keys, else (None, the 403 or 400 to answer)."""
    if not comparison.team.can_run(request.user):
        return None, _viewer_refused(comparison)
    return _json_object(request, fields)


def review_state(comparison, request):
    """The review as the requesting member may see it: verdicts, comments, each result's thumbs."""
    review = Review(comparison, request.user)
    kept = ("id", "blind_label", "route", "label", "status", "ratings", "my_rating")
    results = [{k: v for k, v in result_dict(r, request, review).items() if k in kept} for r in review.results]
    my = review.my_verdict
    return {"comparison": comparison.pk, **review_dict(review), "can_review": review.can_review,
            "can_vote": review.can_vote, "done": review.done,
            "my_verdict": None if my is None else {"kind": my.kind, "winner": my.winner_id},
            "results": results}


@api_view(["GET"])
def review(request, pk):
    """GET: the review state; blind until the user's own verdict, as on the page."""
    return JsonResponse(review_state(_visible_comparison(request, pk), request))


@api_view(["POST"])
def rate_result(request, pk):
    """POST {"thumb": "up" | "down" | null}: the user's thumb on a finished result (null takes it
    back); the result as the user may see it."""
    visible = Comparison.objects.visible_to(request.user)
    found = get_object_or_404(Result.objects.filter(comparison__in=visible).select_related("comparison__team"), pk=pk)
    comparison = found.comparison
    payload, error = _member_payload(request, comparison, ["thumb"])
    if error:
        return error
    if not isinstance(payload["thumb"], (str, type(None))) or payload["thumb"] not in THUMBS:
        return JsonResponse({"errors": {"thumb": ['thumb is "up", "down" or null (takes it back).']}}, status=400)
    try:
        rate(found, request.user, THUMBS[payload["thumb"]])
    except ReviewRefused as exc:
        return JsonResponse({"errors": {"thumb": [str(exc)]}}, status=400)
    seen = Review(comparison, request.user)
    return JsonResponse(result_dict(seen.result(found.pk), request, seen))


@api_view(["POST"])
def verdict(request, pk):
    """POST {"winner": RESULT_ID | "tie" | "all_bad"}: the user's one verdict (again: replaces it).
    On a blind comparison it reveals the routes to this user: the answer is the comparison."""
    comparison = _visible_comparison(request, pk)
    payload, error = _member_payload(request, comparison, ["winner"])
    if error:
        return error
    choice = payload["winner"]
    if isinstance(choice, int) and not isinstance(choice, bool):
        kind, winner = VerdictKind.WINNER, choice
    elif choice in (VerdictKind.TIE, VerdictKind.ALL_BAD):
        kind, winner = choice, None
    else:
        return JsonResponse({"errors": {"winner": ['winner is a result id of this comparison, "tie" or "all_bad".']}},
                            status=400)
    try:
        give_verdict(comparison, request.user, kind, winner)
    except ReviewRefused as exc:
        return JsonResponse({"errors": {"winner": [str(exc)]}}, status=400)
    return JsonResponse(comparison_dict(comparison, request))


@api_view(["POST"])
def comments(request, pk):
    """POST {"text": "..."}: a comment (plain text, 1 to 4,000 characters)."""
    comparison = _visible_comparison(request, pk)
    payload, error = _member_payload(request, comparison, ["text"])
    if error:
        return error
    text = payload["text"].strip() if isinstance(payload["text"], str) else None
    limit = Comment._meta.get_field("text").max_length
    if not text or len(text) > limit:
        return JsonResponse({"errors": {"text": [f"text is a non-empty string of at most {limit:,} characters."]}},
                            status=400)
    comment = Comment.objects.create(comparison=comparison, user=request.user, text=text)
    return JsonResponse({"id": comment.pk, "user": request.user.get_username(), "text": comment.text,
                         "created_at": comment.created_at}, status=201)


@api_view(["PUT"])
def review_mode(request, pk):
    """PUT {"blind": bool, "hold_images_until_done": bool}: the team's review mode (owners and
    members); the review state after it."""
    comparison = _visible_comparison(request, pk)
    if not comparison.team.can_run(request.user):
        return JsonResponse({"error": f"Viewers of {comparison.team} cannot change the review mode."}, status=403)
    payload, error = _json_object(request, ["blind", "hold_images_until_done"])
    if error:
        return error
    errors = {name: [f"{name} must be true or false."] for name, value in payload.items() if not isinstance(value, bool)}
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    set_review_mode(comparison, blind=payload["blind"], hold_images_until_done=payload["hold_images_until_done"])
    return JsonResponse(review_state(comparison, request))
