"""Automatic checks on every image a succeeded result stored: OCR of quoted text, and the spec.

docs/checks.md: the quoted text read back by OCR (compare/checks/textcheck.py), and the spec: size against what was asked and what the route
sent, aspect ratio, format, a blank or near-uniform image, transparency.

They run in a Celery task of their own, enqueued once the result has been stored (compare/tasks.py),
never inside a provider call's timed window; the Pillow work runs in the image processes
(compare/images.py, compare/checks/pixels.py), and Tesseract in a child process stopped after
OCR_TIMEOUT_SECONDS.
"""

import logging
import math
import os
import tempfile
import time

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django_htmx.http import HttpResponseStopPolling

from providers.base import parse_size

from compare.checks import textcheck
from compare.checks.models import ResultCheck, TextStatus, checks_status
from compare.checks.pixels import inspect_pixels
from compare.engine.requests import image_request
from compare.images import in_image_processes
from compare.models import Comparison, Result, Status
from compare.review.models import Review

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01  # 1 %: |log(actual ratio / asked ratio)| under log(1.01)


def sent_shape(request_sent):
    """((width, height) or None, "W:H" or None): the pixels or the aspect ratio the route put in its
    request ("size": "WxH", "image_size"/"width"+"height", "aspect_ratio"), as it recorded it."""
    size = ratio = None
    stack, seen = [request_sent], 0
    while stack and seen < 200:
        node = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        width, height = node.get("width"), node.get("height")
        if size is None and isinstance(width, int) and isinstance(height, int):
            size = (width, height)
        if size is None and isinstance(node.get("size"), str):
            try:
                size = parse_size(node["size"])
            except ValueError:
                pass
        if ratio is None and isinstance(node.get("aspect_ratio"), str) and ":" in node["aspect_ratio"]:
            ratio = node["aspect_ratio"]
        stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return size, ratio


def _ratio(value):
    if isinstance(value, str):
        w, h = (float(x) for x in value.split(":"))
        return w / h
    return value[0] / value[1]


def aspect_close(actual, wanted):
    try:
        return abs(math.log(_ratio(actual) / _ratio(wanted))) <= math.log(1 + ASPECT_TOLERANCE)
    except (ValueError, ZeroDivisionError):
        return False


def spec_of(pixels, request, sent_size, sent_ratio):
    """The spec checks of one image, from inspect_pixels' answer."""
    got = (pixels["width"], pixels["height"])
    return {
        **pixels,
        "asked_size": request.size,
        "size_matches": got == (request.width, request.height),
        "sent_size": f"{sent_size[0]}x{sent_size[1]}" if sent_size else None,
        "size_matches_sent": None if sent_size is None else got == tuple(sent_size),
        "sent_aspect_ratio": sent_ratio,
        "aspect_matches_sent": None if sent_ratio is None else aspect_close(got, sent_ratio),
        "aspect_matches": aspect_close(got, (request.width, request.height)),
        "asked_format": request.output_format,
        "format_matches": pixels["format"] == request.output_format,
    }


def check_result(result):
    """Check every stored image of a succeeded result; store and return its ResultCheck."""
    started = time.perf_counter()
    comparison = result.comparison
    request = image_request(comparison.prompt, comparison.params)
    sent_size, sent_ratio = sent_shape(result.request_sent)
    wants_text = bool(textcheck.quoted_texts(comparison.prompt))
    images, texts = [], []
    for image in result.images.all():
        with image.original.open("rb") as handle:
            data = handle.read()
        pixels, ocr_png = in_image_processes(inspect_pixels, data, wants_text)
        spec = spec_of(pixels, request, sent_size, sent_ratio)
        text = _read_text(comparison.prompt, ocr_png)
        texts.append(text)
        spec.update(text_accuracy=text.accuracy, text_read=text.read_text, text_notes=text.notes)
        images.append({"index": image.index, **spec})
    return _store(result, images, texts, time.perf_counter() - started)


def _read_text(prompt, ocr_png):
    if ocr_png is None:
        return textcheck.check_text(prompt, None, timeout=settings.OCR_TIMEOUT_SECONDS, languages=())
    with tempfile.TemporaryDirectory(prefix="ipc-ocr-") as folder:
        path = os.path.join(folder, "image.png")
        with open(path, "wb") as handle:
            handle.write(ocr_png)
        return textcheck.check_text(prompt, path, timeout=settings.OCR_TIMEOUT_SECONDS,
                                    tesseract_cmd=settings.TESSERACT_CMD)


def _all(images, name):
    values = [image[name] for image in images if image[name] is not None]
    return all(values) if values else None


def _any(images, name):
    return any(image[name] for image in images) if images else None


def _store(result, images, texts, seconds):
    expected = texts[0].expected if texts else textcheck.quoted_texts(result.comparison.prompt)
    scores = [t.accuracy for t in texts if t.accuracy is not None]
    notes = []
    for text in texts:
        notes.extend(n for n in text.notes if n not in notes)
    if not expected:
        text_status = TextStatus.NO_QUOTES
    elif not scores:
        text_status = TextStatus.UNAVAILABLE
    elif any(t.status != "scored" for t in texts):
        text_status = TextStatus.PARTIAL
    else:
        text_status = TextStatus.SCORED
    reads = [t.read_text.strip() for t in texts]
    text_read = reads[0] if len(reads) == 1 else "\n".join(f"[image {i}] {r}" for i, r in enumerate(reads, 1) if r)
    fields = dict(
        status=ResultCheck.DONE, error="", text_status=text_status,
        text_accuracy=sum(scores) / len(scores) if scores else None,
        text_expected=expected, text_read=text_read[:20000], text_notes=notes,
        size_matches=_all(images, "size_matches"), size_matches_sent=_all(images, "size_matches_sent"),
        aspect_matches=_all(images, "aspect_matches"), format_matches=_all(images, "format_matches"),
        blank=_any(images, "blank"), has_alpha=_any(images, "has_alpha"), images=images,
        duration_ms=round(seconds * 1000, 1),
    )
    check, _ = ResultCheck.objects.update_or_create(result=result, defaults={**fields, **ResultCheck.about(result)})
    return check


def run_checks(result_id):
    """The task's body: check a succeeded result once (again if asked again); a failure is kept
    as a failed check with its reason, never raised into the worker."""
    result = (Result.objects.select_related("comparison").prefetch_related("images")
              .filter(pk=result_id, status=Status.SUCCEEDED).first())
    if result is None:
        return None
    try:
        return check_result(result)
    except Exception as exc:
        log.exception("checks of result %s failed", result_id)
        check, _ = ResultCheck.objects.update_or_create(
            result=result, defaults=dict(status=ResultCheck.FAILED, error=f"{type(exc).__name__}: {str(exc)[:300]}",
                                         **ResultCheck.about(result)))
        return check


def result_checks(request, pk):
    """The checks fragment of a result card (it polls while the checks run); 404 outside the
    user's teams, nothing while the result's images are held."""
    visible = Comparison.objects.visible_to(request.user)
    result = get_object_or_404(Result.objects.filter(comparison__in=visible).select_related("comparison__team"), pk=pk)
    review = Review(result.comparison, request.user)
    result = review.result(result.pk)
    if result.status != Status.SUCCEEDED or review.held:
        raise Http404("No checks to show for this result.")
    response = render(request, "checks/_result_checks.html", {"result": result, "review": review})
    return response if checks_status(result) == "pending" else HttpResponseStopPolling(response.content)
