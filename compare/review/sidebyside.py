"""The side-by-side focus view of two images of one comparison (issue 7).

`/comparisons/ID/side-by-side?a=IMAGE&b=IMAGE` shows the two with synchronised zoom and pan, a
swipe divider and an onion skin (same shape only), and the pixel difference: a heat map PNG
(`.../side-by-side/diff.png?a=&b=`) and the numbers of compare/imagediff.py, made once per pair of
images and kept in the media storage under diffs/, keyed by the two images' SHA-256.

Only members of the comparison's team see it; anyone else, signed in or not, gets a 404, as for
the image files. A blind reviewer sees blind labels, in their own order, and no route, cost or
latency, as on the results page; held images are not shown at all.
"""

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from compare import imagediff
from compare.images import ImageRejected
from compare.models import Comparison, Status
from compare.review.models import Review

VIEWS = (("sync", "Side by side"), ("slider", "Swipe"), ("onion", "Onion skin"), ("diff", "Difference"))


@dataclass
class Choice:
    """One image the page can show, named as this viewer may see it."""

    image: object
    result: object
    label: str  # "Sandbox fast", "Sandbox fast · image 2", or blind: "Result A · image 2"

    @property
    def pk(self):
        return self.image.pk


def _choices(review):
    """Every image of the succeeded results, in the order this viewer sees the cards."""
    found = []
    for result in review.results:
        if result.status != Status.SUCCEEDED:
            continue
        images = list(result.images.all())
        name = f"Result {result.blind_label}" if review.masked else result.route_label
        for image in images:
            suffix = f" · image {image.index + 1}" if len(images) > 1 else ""
            found.append(Choice(image, result, name + suffix))
    return found


def _scope(request, pk):
    """(comparison, review, choices) for a member of the comparison's team; 404 for anyone else
    and while the images are held back."""
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user).select_related("team"), pk=pk)
    review = Review(comparison, request.user)
    if review.held:
        raise Http404("Images are held back until every route has finished.")
    return comparison, review, _choices(review)


def _find(choices, value):
    if value is None or not str(value).isdigit():
        raise Http404("Pick two images of this comparison.")
    for choice in choices:
        if choice.pk == int(value):
            return choice
    raise Http404("That image is not one of this comparison's.")


def _pair(request, choices):
    return _find(choices, request.GET.get("a")), _find(choices, request.GET.get("b"))


def _query(a, b, view=None):
    params = {"a": a.pk, "b": b.pk}
    if view and view != "sync":
        params["view"] = view
    return urlencode(params)


@login_not_required  # anyone outside the team gets a 404 (visible_to), as for the image files
def side_by_side(request, pk):
    comparison, review, choices = _scope(request, pk)
    picks = request.GET.getlist("pick")
    view = request.GET.get("view") if request.GET.get("view") in dict(VIEWS) else "sync"
    if len(picks) == 2 or not (request.GET.get("a") and request.GET.get("b")):
        # Picked with the checkboxes on the results page, or nothing asked: the canonical address.
        if len(picks) == 2:
            a, b = _find(choices, picks[0]), _find(choices, picks[1])
        elif len(choices) >= 2:
            a, b = choices[0], choices[1]
        else:
            return render(request, "review/sidebyside.html",
                          {"comparison": comparison, "review": review, "choices": choices, "too_few": True})
        return redirect(f"{reverse('review:side-by-side', args=[comparison.pk])}?{_query(a, b, view)}")
    a, b = _pair(request, choices)
    try:
        difference = cached_difference(a.image, b.image)[0]
        diff_error = ""
    except ImageRejected as exc:
        difference, diff_error = None, str(exc)
    same = imagediff.same_aspect((a.image.width, a.image.height), (b.image.width, b.image.height))
    views = [{"key": key, "text": text, "off": key in ("slider", "onion") and not same,
              "query": _query(a, b, key)} for key, text in VIEWS]
    if not same and view in ("slider", "onion"):
        view = "sync"
    context = {
        "comparison": comparison, "review": review, "choices": choices, "a": a, "b": b,
        "panes": [("A", a), ("B", b)], "view": view, "views": views, "same_aspect": same,
        "difference": difference, "diff_error": diff_error,
        "query": _query(a, b), "swap_query": _query(b, a, view),
        "diff_url": f"{reverse('review:side-by-side-diff', args=[comparison.pk])}?{_query(a, b)}",
    }
    return render(request, "review/sidebyside.html", context)


@login_not_required
def difference_png(request, pk):
    """The heat map PNG of two images of the comparison (made once, then read from storage)."""
    _, _, choices = _scope(request, pk)
    a, b = _pair(request, choices)
    try:
        png = cached_difference(a.image, b.image)[1]
    except ImageRejected as exc:
        raise Http404(f"No difference image: {exc}") from None
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- The cache -----------------------------------------------------------------------------


def cache_key(sha_a, sha_b):
    """The same for (a, b) and (b, a): the difference, the hashes and the heat map are symmetric."""
    pair = "|".join(sorted([sha_a, sha_b]))
    text = f"v{imagediff.VERSION}:{imagediff.MAX_DIFF_SIDE}:{imagediff.THRESHOLD}:{pair}"
    return hashlib.sha256(text.encode()).hexdigest()


def cache_names(key):
    """The storage names of a pair's heat map PNG and its numbers (JSON)."""
    folder = f"diffs/{key[:2]}"
    return f"{folder}/{key}.png", f"{folder}/{key}.json"


def _read_original(image):
    limit = settings.MAX_IMAGE_BYTES
    if image.bytes > limit:
        raise ImageRejected(f"The image is {image.bytes:,} bytes, over the {limit:,} byte cap.")
    try:
        with image.original.open("rb") as handle:
            return handle.read(limit + 1)
    except FileNotFoundError:
        raise ImageRejected("The image file is missing from storage.") from None


def _put(name, data):
    """Keep `data` under exactly `name` in the media storage (local folder or object storage)."""
    if default_storage.exists(name):
        default_storage.delete(name)  # an older or damaged entry
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:  # another request made the same entry meanwhile: keep theirs, drop the copy
        default_storage.delete(saved)


def _read_cached(png_name, json_name):
    """(Difference, PNG bytes) of a cached entry, or None when absent, older or damaged."""
    try:
        with default_storage.open(json_name, "rb") as handle:
            difference = imagediff.Difference(**json.loads(handle.read()))
        with default_storage.open(png_name, "rb") as handle:
            return difference, handle.read()
    except (FileNotFoundError, ValueError, TypeError):
        return None


def cached_difference(image_a, image_b):
    """(imagediff.Difference, the heat map PNG's bytes) of two ResultImages, computed once per
    pair and kept in the media storage; ImageRejected if either cannot be opened within the
    limits. The numbers are written last, so an entry with numbers has its PNG."""
    png_name, json_name = cache_names(cache_key(image_a.sha256, image_b.sha256))
    if default_storage.exists(json_name):
        cached = _read_cached(png_name, json_name)
        if cached is not None:
            return cached
    difference, png = imagediff.compare_bytes(_read_original(image_a), _read_original(image_b))
    _put(png_name, png)
    _put(json_name, json.dumps(difference.as_dict()).encode())
    return difference, png
