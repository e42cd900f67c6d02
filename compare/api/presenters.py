"""How comparisons, results, reviews, checks and leaderboard rows look in JSON, for every surface.

One place: the API endpoints, the compare command, the export archive and the check badges all use it.

What each field may show is asked of compare/review/visibility.py: until the requesting user has given a
verdict on a blind comparison, its results come in their blind order, named A, B, C, with nothing
that names the route (key, label, cost, request id, notes, error text, timings); the team's votes
and comments other than their own stay hidden. Held images are listed only once every route has
finished."""

from django.urls import reverse

from compare.checks.models import ResultCheck, checks_of, checks_status
from compare.review.models import Review
from compare.review.visibility import Visibility

# The fields each answer of the visibility policy hides (all of them can name the route).
HIDDEN_UNLESS = {
    "route_names": {"route": None, "label": None, "sandbox": None, "error": None, "error_code": None, "notes": [],
                    "parameters": {}, "seed": None,
                    "retried_attempts": [], "provider_request_id": None, "worker": None, "started_at": None,
                    "finished_at": None},
    "latency": {"queue_ms": None, "latency_ms": None, "provider_timings_ms": {}},
    "costs": {"cost_usd": None, "cost_source": None, "cost_label": None, "estimated_cost_usd": None,
              "estimate_source": None},
}
SIZE_FIELDS = ("width", "height", "format", "bytes")


def absolute(request, path):
    return request.build_absolute_uri(path) if request is not None else path


def _sizes(image):
    """An image's or a reference's pixel size, format and bytes, as read by Pillow (SIZE_FIELDS)."""
    return {name: getattr(image, name) for name in SIZE_FIELDS}


def result_dict(result, request=None, review=None):
    data = {
        "id": result.pk,
        "route": result.route_key,
        "label": result.route_label,
        "sandbox": result.sandbox,
        "status": result.status,
        "queue_ms": _round(result.queue_ms),
        "latency_ms": _round(result.latency_ms),
        "provider_timings_ms": result.provider_timings,
        "cost_usd": None if result.cost_usd is None else str(result.cost_usd.normalize()),
        # billed | usage | team_price | estimated | unknown; cost_label is the word the pages show
        # ("rough" for an estimate from an unresolved catalog price, see estimate_source).
        "cost_source": result.cost_source,
        "cost_label": result.cost_word,
        "estimated_cost_usd": None if result.estimated_cost_usd is None else str(result.estimated_cost_usd.normalize()),
        "estimate_source": result.estimate_source or None,  # catalog | rough | team_price
        "error": result.error or None,
        "error_code": result.error_code or None,
        "notes": result.notes,
        # What the route did with the request: {"size": {"asked", "sent", "received"}, ...,
        # "seed": {"asked", "supported", "sent"}, "revised_prompt": [...]} (see Result.parameters).
        "parameters": result.parameters,
        "seed": result.seed_word or None,  # "sent" | "seed not supported by this route" | null
        "retried_attempts": result.attempts,
        "provider_request_id": result.provider_request_id or None,
        "worker": result.worker or None,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "images": [
            {
                "url": absolute(request, image.get_absolute_url()),
                "thumbnail_url": absolute(request, image.get_thumbnail_url()),
                **_sizes(image),
                "sha256": image.sha256,
            }
            for image in result.images.all()
        ],
        "checks_status": checks_status(result),
        "checks": checks_dict(result),
    }
    if review is not None:
        seen = review.visibility
        data["blind_label"] = result.blind_label or None
        for question, fields in HIDDEN_UNLESS.items():
            if not getattr(seen, question):
                data.update(fields)
        if not seen.sizes:
            data["images"] = [{k: v for k, v in image.items() if k not in SIZE_FIELDS} for image in data["images"]]
        if not seen.images:
            data["images"] = []
        data["checks"] = checks_dict(result, seen)
        data["images_held"] = not seen.images
        data["ratings"] = [{"user": name, "value": "up"} for name in result.thumbs_up] + \
                          [{"user": name, "value": "down"} for name in result.thumbs_down]
        data["my_rating"] = {1: "up", -1: "down"}.get(result.my_thumb)
    return data


# Per image, what the checks keep (compare/checks/checks.py) and the API shows.
IMAGE_CHECK_FIELDS = ("index", "width", "height", "format", "asked_size", "size_matches", "sent_size",
                      "size_matches_sent", "sent_aspect_ratio", "aspect_matches_sent", "aspect_matches",
                      "asked_format", "format_matches", "blank", "stddev", "has_alpha", "transparent_fraction",
                      "text_accuracy", "text_read", "text_notes")


# What the checks say of the images' pixel sizes and formats (hidden where SIZE_FIELDS are).
CHECK_SIZE_FIELDS = ("width", "height", "format", "asked_size", "size_matches", "sent_size", "size_matches_sent",
                     "sent_aspect_ratio", "aspect_matches_sent", "aspect_matches", "asked_format", "format_matches")


def checks_dict(result, seen=None):
    """The automatic checks of a result's images (docs/checks.md), or None until they are done:
    the one place every surface takes them from. With ``seen`` (a Visibility): none while the
    images are held (they describe them), and nothing of sizes or formats where those are hidden."""
    found = checks_of(result)
    if found is None or found.status != ResultCheck.DONE or (seen is not None and not seen.images):
        return None
    data = {
        "text_status": found.text_status,
        "text_accuracy": None if found.text_accuracy is None else round(found.text_accuracy, 4),
        "text_expected": found.text_expected,
        "text_read": found.text_read,
        "text_notes": found.text_notes,
        "size_matches": found.size_matches,
        "size_matches_sent": found.size_matches_sent,
        "aspect_matches": found.aspect_matches,
        "format_matches": found.format_matches,
        "blank": found.blank,
        "has_alpha": found.has_alpha,
        "images": [{name: image.get(name) for name in IMAGE_CHECK_FIELDS} for image in found.images],
        "duration_ms": found.duration_ms,
        "checked_at": found.checked_at,
    }
    if seen is not None and not seen.sizes:
        for name in ("size_matches", "size_matches_sent", "aspect_matches", "format_matches"):
            data[name] = None
        data["images"] = [{k: v for k, v in image.items() if k not in CHECK_SIZE_FIELDS} for image in data["images"]]
    return data


def review_dict(review):
    """The team's verdicts and comments as the requesting user may see them."""
    def winner(verdict):
        return None if verdict.winner is None else {"id": verdict.winner_id, "route": verdict.winner.route_key}

    return {
        "blind": review.comparison.blind,
        "hold_images_until_done": review.comparison.hold_images_until_done,
        "masked": review.masked,
        "verdicts": [{"user": v.user.get_username(), "kind": v.kind, "winner": winner(v), "updated_at": v.updated_at}
                     for v in review.verdicts],
        "hidden_verdicts": review.hidden_verdicts,
        "comments": [{"user": c.user.get_username(), "text": c.text, "created_at": c.created_at}
                     for c in review.comments],
        "hidden_comments": review.hidden_comments,
    }


def comparison_dict(comparison, request=None, with_results=True, seen=None):
    """The comparison as the API shows it to the request's user; ``seen``: their Visibility of it,
    when the caller has it (a list page reads them together: Visibility.for_rows)."""
    user = getattr(request, "user", None)
    review = Review(comparison, user) if with_results and user is not None and user.is_authenticated else None
    data = {
        "id": comparison.pk,
        "prompt": comparison.prompt,
        "params": comparison.params,
        # from the results the review has read already (a 50-route submit read them twice)
        "status": comparison.status if review is None else comparison.status_of(review.results),
        "team": {"id": comparison.team_id, "name": comparison.team.name},
        "created_at": comparison.created_at,
        "created_by": comparison.created_by.get_username() if comparison.created_by else None,
        "url": absolute(request, comparison.get_absolute_url()),
        "api_url": absolute(request, reverse("api:comparison", args=[comparison.pk])),
        "rerun_of": comparison.rerun_of_id,
        "blind": comparison.blind,
        "references": [
            {"role": ref.role, "url": absolute(request, ref.get_absolute_url()), **_sizes(ref)}
            for ref in comparison.references.all()
        ],
    }
    if review is not None:
        data["results"] = [result_dict(r, request, review) for r in review.results]
        data["review"] = review_dict(review)
    elif with_results:
        data["results"] = [result_dict(r, request) for r in comparison.results.all()]
    else:
        # No request: server-side, unmasked.
        masked = user is not None and (seen or Visibility.for_member(comparison, user)).masked
        data["routes"] = None if masked else comparison.route_keys
    return data


def _round(value):
    return None if value is None else round(value, 1)


def leaderboard_row_dict(row):
    """One route of the leaderboard (compare/insights/leaderboard.py says what each number means), named as
    in its CSV: rates are shares of settled calls (0-1), latencies in ms, costs per image in USD as
    strings, kept apart by where they come from; None where there is nothing to compute it from."""
    score = row.score
    return {
        "rank": row.rank, "route": row.route_key, "label": row.label,
        "score": _round(score.score), "score_low": _round(score.low), "score_high": _round(score.high),
        "votes": score.votes, "bootstrap_samples": score.samples, "preliminary": row.preliminary,
        "wins": row.wins, "judged_votes": row.judged_votes, "win_rate": _rate(row.win_rate),
        "entered": row.entered, "settled": row.settled, "succeeded": row.succeeded, "failed": row.failed,
        "timed_out": row.timed_out, "content_refused": row.refused, "cancelled": row.cancelled,
        "success_rate": _rate(row.success_rate), "failure_rate": _rate(row.failure_rate),
        "timeout_rate": _rate(row.timeout_rate), "content_refusal_rate": _rate(row.refusal_rate),
        "retries": row.retries, "retried_calls": row.retried_calls,
        "median_latency_ms": _round(row.median_ms), "p95_latency_ms": _round(row.p95_ms),
        "billed_or_usage_cost_per_image_usd": _usd(row.reported_per_image),
        "estimated_or_team_price_cost_per_image_usd": _usd(row.estimated_per_image),
        "estimates_rough": row.rough, "unknown_cost_calls": row.unknown_cost_calls,
        "checked": row.checked, "text_scored": row.text_scored, "text_accuracy_mean": _rate(row.text_accuracy_mean),
        "blank": row.blank_count, "size_mismatches": row.size_mismatch_count,
    }


def _rate(value):
    return None if value is None else round(value, 4)


def _usd(value):
    return None if value is None else format(value.normalize(), "f")
