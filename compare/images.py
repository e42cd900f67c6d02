"""Every image that arrives is opened with Pillow before we keep it.

Non-images, truncated files and decompression bombs are refused; what we record (width,
height, format, bytes) is what Pillow read, never what the provider claimed. The original is
kept byte for byte and a WebP thumbnail is written beside it.

The worker checks images in a small pool of processes of its own (``check_images``,
``IMAGE_PROCESSES``, default 2): decoding, resampling and WebP encoding are CPU work, and in the
worker's threads they held the interpreter lock that the threads still waiting on a provider need
to read their answer, which added our work to other routes' latency (BENCHMARKS.md, F2).
The automatic checks after a result is stored (``in_image_processes``) run in one more process of
their own, at a lower OS priority: a burst of results is checked and stored first, its checks
come after, so they never delay a result's card.
"""

import hashlib
import io
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif"}


class ImageRejected(Exception):
    """The bytes are not an image we accept; the message says why, for the result card."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    width: int
    height: int
    format: str  # png, jpeg, webp, gif
    sha256: str
    thumbnail: bytes

    @property
    def bytes(self):
        return len(self.data)


def check_image(data: bytes, *, max_pixels=None, max_bytes=None, thumbnail_size=None) -> CheckedImage:
    """Check one image in this thread (``check_images`` does it in the image processes)."""
    limits = _limits(max_pixels, max_bytes, thumbnail_size)
    return CheckedImage(data, *_inspect(data, *limits))


def _limits(max_pixels=None, max_bytes=None, thumbnail_size=None):
    return (max_pixels or settings.MAX_IMAGE_PIXELS, max_bytes or settings.MAX_IMAGE_BYTES,
            thumbnail_size or settings.THUMBNAIL_SIZE)


def _inspect(data: bytes, max_pixels: int, max_bytes: int, thumbnail_size: int):
    """(width, height, format, sha256, thumbnail) of ``data``, or ImageRejected. Reads no settings:
    it runs in the image processes too."""
    if not data:
        raise ImageRejected("The provider returned an empty file instead of an image.")
    if len(data) > max_bytes:
        raise ImageRejected(f"The image is {len(data):,} bytes, over the {max_bytes:,} byte cap.")
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except UnidentifiedImageError:
        raise ImageRejected("The provider returned data that is not an image.") from None
    except Image.DecompressionBombError:
        raise ImageRejected("The image is a decompression bomb (far too many pixels).") from None
    with image:
        fmt = ACCEPTED_FORMATS.get(image.format or "")
        if fmt is None:
            raise ImageRejected(f"The provider returned a {image.format} file, not PNG, JPEG or WebP.")
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(
                f"The image claims {width}x{height} pixels, over the {max_pixels:,} pixel limit "
                "(a decompression bomb or a runaway size); it was not decoded.")
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected(f"The image is damaged or truncated ({exc}).") from None
        # In place (F6): the decoded frame is not needed afterwards, so no full-size copy is made.
        # reducing_gap=1.0: a box reduction by whole factors first, then the resample; and WebP's
        # method 2: together about half the CPU of Pillow's defaults and method 4 (a burst of
        # results is stored at the rate of this function), for a thumbnail that looks the same.
        image.thumbnail((thumbnail_size, thumbnail_size), reducing_gap=1.0)
        thumb = image
        if thumb.mode not in ("RGB", "RGBA"):
            thumb = thumb.convert("RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB")
        out = io.BytesIO()
        thumb.save(out, "WEBP", quality=80, method=2)
    return width, height, fmt, hashlib.sha256(data).hexdigest(), out.getvalue()


# --- the image processes ---------------------------------------------------------------------

log = logging.getLogger(__name__)
_pools = {}  # "store": IMAGE_PROCESSES processes; "later": one process at a lower priority
_pool_lock = threading.Lock()
LATER_NICENESS = 10


def _executor(processes, kind="store"):
    with _pool_lock:
        if kind not in _pools:
            # spawn, not fork: the worker has many threads, and a forked child could inherit a held lock
            _pools[kind] = ProcessPoolExecutor(
                max_workers=processes if kind == "store" else 1, mp_context=multiprocessing.get_context("spawn"),
                initializer=None if kind == "store" else _lower_priority)
        return _pools[kind]


def _lower_priority():
    os.nice(LATER_NICENESS)


def _discard(pool):
    with _pool_lock:
        for kind, known in list(_pools.items()):
            if known is pool:
                del _pools[kind]
    pool.shutdown(wait=False, cancel_futures=True)


def _ready():
    return True


def start_image_processes():
    """Start the image processes now (a worker's warm-up), so the first comparison does not wait
    for them to import Pillow."""
    processes = settings.IMAGE_PROCESSES
    if processes > 0:
        pool, later = _executor(processes), _executor(processes, "later")
        for future in [pool.submit(_ready) for _ in range(processes)] + [later.submit(_ready)]:
            future.result(timeout=60)


def check_images(datas) -> list[CheckedImage]:
    """``check_image`` for each of ``datas``, in the image processes (in this thread when
    IMAGE_PROCESSES is 0). Raises ImageRejected for the first bad one. The calling thread only
    waits (without the interpreter lock) while the processes work."""
    datas = list(datas)
    processes = settings.IMAGE_PROCESSES
    limits = _limits()
    if processes <= 0 or not datas:
        return [check_image(data) for data in datas]
    for tries_left in (1, 0):
        pool = None
        try:
            pool = _executor(processes)
            futures = [pool.submit(_inspect, data, *limits) for data in datas]
            return [CheckedImage(data, *future.result()) for data, future in zip(datas, futures)]
        except BrokenProcessPool:
            # An image process died (killed, out of memory): start new ones and try once more.
            log.warning("an image process died; starting new ones (%s tries left)", tries_left)
            if pool is not None:
                _discard(pool)
        except (OSError, RuntimeError):
            # No processes can be started here: check in this thread rather than not at all.
            log.exception("cannot start image processes; checking images in the worker's thread")
            return [check_image(data) for data in datas]
    raise ImageRejected("The image could not be checked: the process checking it died twice "
                        "(out of memory on this image?).")


def in_image_processes(function, *args):
    """``function(*args)`` in the image process for later work (a module-level function: it is
    pickled), or in this thread when IMAGE_PROCESSES is 0 or no process can be started: Pillow
    work done after a result is stored (compare/checks/checks.py) keeps off the threads still
    timing provider calls, and behind the checks of results being stored (a lower priority)."""
    processes = settings.IMAGE_PROCESSES
    if processes <= 0:
        return function(*args)
    pool = None
    try:
        pool = _executor(processes, "later")
        return pool.submit(function, *args).result()
    except BrokenProcessPool:
        log.warning("an image process died; starting new ones")
        if pool is not None:
            _discard(pool)
        return function(*args)
    except (OSError, RuntimeError):
        log.exception("cannot start image processes; working in the worker's thread")
        return function(*args)
