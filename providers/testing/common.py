"""Plumbing the protocol fakes share: requests, delays, drawn images, served files.

Reading and recording a request, the optional delay and the "timeout" scenario, drawing real
images with Pillow and serving them under ``/files/``.

A fake keeps ``calls`` (a list), ``files`` (path -> bytes), ``lock`` and ``scenario``; what its
protocol says (paths, envelopes, error bodies) stays in its own module.
"""

import io
import json
import time
import uuid

import httpx
from PIL import Image, ImageDraw

GARBAGE = b"this is not an image"


def draw(width, height, fmt, text="", background=(40, 90, 160)):
    """A real image of ``width`` x ``height`` in ``fmt`` (png, jpeg or webp) with ``text`` on it."""
    image = Image.new("RGB", (width, height), background)
    ImageDraw.Draw(image).text((10, 10), text[:60], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, {"jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG"))
    return out.getvalue()


def image_or_garbage(scenario, width, height, fmt, text="", **style):
    """The image to hand out: bytes that are no image at all in the ``garbage`` scenario."""
    return GARBAGE if scenario == "garbage" else draw(width, height, fmt, text, **style)


def mime_of(path):
    """The content type for a file name's extension (png unless jpeg or webp)."""
    return {"jpeg": "image/jpeg", "webp": "image/webp"}.get(path.rsplit(".", 1)[-1], "image/png")


def origin(request):
    """``scheme://host[:port]`` the request was sent to: where the fake's own files are served."""
    return f"{request.url.scheme}://{request.url.netloc.decode()}"


def publish(files, base, data, ext):
    """Keep ``data`` under a new ``/files/<id>.<ext>`` name in ``files``; its URL on ``base``."""
    name = f"/files/{uuid.uuid4().hex}.{ext}"
    files[name] = data
    return f"{base}{name}"


def serve_file(files, request, mime=None):
    """The answer to ``GET /files/...`` (404 for a file never published), with ``mime`` or the
    type its extension names; None for any other request."""
    path = request.url.path
    if request.method != "GET" or not path.startswith("/files/"):
        return None
    data = files.get(path)
    if not data:
        return httpx.Response(404)
    return httpx.Response(200, content=data, headers={"content-type": mime or mime_of(path)})


def read_json(request, *, empty=dict, tolerant=False):
    """The request's JSON body; ``empty()`` when it has none. A body that is not JSON is None
    when ``tolerant``, else its error propagates."""
    if not request.content:
        return empty()
    try:
        return json.loads(request.content)
    except ValueError:
        if tolerant:
            return None
        raise


def receive(fake, request, *, delay=0.0, empty=dict, tolerant=False, **extra):
    """The common start of a fake's ``handle``: read the JSON body, record the call in
    ``fake.calls`` (arrival time, method, path, json, headers and ``extra``), wait ``delay``
    seconds (or ``delay(body)``), and in the ``timeout`` scenario play dead. Returns the body."""
    body = read_json(request, empty=empty, tolerant=tolerant)
    with fake.lock:
        fake.calls.append({"arrived": time.time(), "method": request.method, "path": request.url.path, "json": body,
                           "headers": dict(request.headers), **extra})
    seconds = delay(body) if callable(delay) else delay
    if seconds:
        time.sleep(seconds)
    if fake.scenario == "timeout":
        raise httpx.ReadTimeout("the fake never answers", request=request)
    return body
