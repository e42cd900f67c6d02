"""The one place a provider call is timed, and retried.

``execute`` wraps an adapter's ``generate`` with ``time.perf_counter``: ``total_ms`` is the
whole provider call including downloading URL images (the user of a provider waits for those
too), and ``download_ms`` is the download part alone. Transport failures of httpx become the
shared error types, so callers deal with ``ProviderError`` only.
"""

from __future__ import annotations

import dataclasses
import random
import time

import httpx

from .base import (
    BadResponseError,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from .urls import check_download_url, decode_data_url

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_REDIRECTS = 3


def execute(provider: Provider, request: ImageRequest, *, max_image_bytes: int = MAX_IMAGE_BYTES,
            allow_private_urls: bool = False, max_attempts: int = 1, backoff_base: float = 1.0,
            jitter=random.random) -> ImageResult:
    """Run the call, retrying it while that cannot bill twice (see ``may_retry``), with
    exponential backoff and jitter that honours Retry-After, within the provider's deadline.
    The result's timings are the successful attempt's; the earlier ones are in ``attempts``."""
    began = provider.clock()
    attempts: list[dict] = []
    for number in range(1, max_attempts + 1):
        try:
            result = _attempt(provider, request, max_image_bytes, allow_private_urls)
        except ProviderError as exc:
            attempts.append(_attempt_record(number, exc))
            wait = _backoff(number, exc.retry_after, backoff_base, jitter)
            in_time = provider.clock() - began + wait < provider.deadline
            if number == max_attempts or not may_retry(exc) or not in_time:
                exc.attempts = tuple(attempts)
                raise
            attempts[-1]["waited_ms"] = round(wait * 1000, 1)
            provider.sleep(wait)
            continue
        return dataclasses.replace(result, attempts=tuple(attempts))
    raise AssertionError("unreachable")  # pragma: no cover


def may_retry(error: ProviderError) -> bool:
    """Only a refusal before any job existed: the provider answered 429 or 5xx to the call
    itself. A timeout may have been billed, and a job that was accepted must not be resubmitted."""
    return (error.retryable and error.status is not None and (error.status == 429 or error.status >= 500)
            and not error.after_submit)


def _backoff(number: int, retry_after: float | None, base: float, jitter) -> float:
    exponential = min(30.0, base * 2 ** (number - 1)) * (0.5 + jitter())
    return max(exponential, min(retry_after or 0.0, 60.0))


def _attempt_record(number: int, error: ProviderError) -> dict:
    return {"attempt": number, "error_code": error.code, "status": error.status, "error": error.message[:300],
            "ms": None if error.elapsed_ms is None else round(error.elapsed_ms, 1),
            "retry_after_s": error.retry_after}


def _attempt(provider: Provider, request: ImageRequest, max_image_bytes: int, allow_private_urls: bool) -> ImageResult:
    started = time.perf_counter()
    try:
        result = provider.generate(request)
        if not result.images:
            raise BadResponseError("The provider answered without any image.")
        download_started = time.perf_counter()
        images = tuple(_fetch(provider.client, image, max_image_bytes, allow_private_urls) for image in result.images)
        finished = time.perf_counter()
    except ProviderError as exc:
        error = exc
    except httpx.TimeoutException as exc:
        error = ProviderTimeoutError(f"The provider did not answer in time ({type(exc).__name__}).")
    except httpx.TransportError as exc:
        error = ProviderUnavailableError(f"Could not reach the provider ({type(exc).__name__}).")
    else:
        downloaded = any(image.url for image in result.images)
        timings = dataclasses.replace(
            result.timings,
            total_ms=(finished - started) * 1000,
            download_ms=(finished - download_started) * 1000 if downloaded else None,
        )
        return dataclasses.replace(result, images=images, timings=timings)
    error.elapsed_ms = (time.perf_counter() - started) * 1000
    raise error


def _fetch(client: httpx.Client | None, image: GeneratedImage, limit: int, allow_private: bool) -> GeneratedImage:
    if image.data is None and image.url and image.url.startswith("data:"):
        data, mime = decode_data_url(image.url)
        image = GeneratedImage(data=data, mime=image.mime or mime)
    if image.data is not None:
        if len(image.data) > limit:
            raise BadResponseError(f"An image of {len(image.data):,} bytes is over the {limit:,} byte cap.")
        return image
    if not image.url:
        raise BadResponseError("The provider returned an image entry with neither data nor URL.")
    if client is None:
        raise BadResponseError("The provider returned an image URL but no HTTP client was given.")
    url = image.url
    for _ in range(MAX_REDIRECTS + 1):
        check_download_url(url, allow_private=allow_private)
        with client.stream("GET", url, follow_redirects=False) as response:
            if response.is_redirect and response.headers.get("location"):
                url = str(response.url.join(response.headers["location"]))
                continue
            if response.status_code != 200:
                raise BadResponseError(f"Downloading the image failed with HTTP {response.status_code}.")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise BadResponseError(f"The image is {int(declared):,} bytes, over the {limit:,} byte cap.")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise BadResponseError(f"The image download is over the {limit:,} byte cap.")
                chunks.append(chunk)
            mime = response.headers.get("content-type", image.mime)
            return GeneratedImage(data=b"".join(chunks), url=image.url, mime=mime)
    raise BadResponseError(f"The image URL redirected more than {MAX_REDIRECTS} times.")


def complete(provider: Provider, result: ImageResult, *, submitted_at: float, max_image_bytes: int = MAX_IMAGE_BYTES,
             allow_private_urls: bool = False, clock=time.time) -> ImageResult:
    """Finish a long-running job's result (checked across several tasks and processes): download
    its URL images like ``execute`` does, and time it with the wall clock from ``submitted_at``
    (epoch seconds), since no monotonic clock spans processes."""
    download_started = time.perf_counter()
    try:
        images = tuple(_fetch(provider.client, image, max_image_bytes, allow_private_urls) for image in result.images)
    except httpx.TimeoutException as exc:
        raise ProviderTimeoutError(f"Downloading the image timed out ({type(exc).__name__}).") from None
    except httpx.TransportError as exc:
        raise ProviderUnavailableError(f"Could not download the image ({type(exc).__name__}).") from None
    if not images:
        raise BadResponseError("The provider answered without any image.")
    downloaded = any(image.url for image in result.images)
    timings = dataclasses.replace(
        result.timings,
        total_ms=(clock() - submitted_at) * 1000,
        download_ms=(time.perf_counter() - download_started) * 1000 if downloaded else None,
    )
    return dataclasses.replace(result, images=images, timings=timings)
