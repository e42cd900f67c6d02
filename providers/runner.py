"""The one place a provider call is timed, and retried.

``execute`` times an adapter's ``generate`` with ``time.perf_counter``: ``total_ms`` is the whole
provider call including downloading URL images (the user of a provider waits for those too), and
``download_ms`` is the download part alone. Transport failures of httpx become the shared error
types, so callers deal with ``ProviderError`` only.

The window is taken on the wire (``WireClock``): it starts when the call's first request begins
to be written to its connection and ends when the last byte of the call's last response has been
read; polls, retries inside the adapter and URL downloads in between are inside. Building the
request and opening the connection (TCP, TLS) before it, and parsing the answer after it (JSON,
base64), are our client's work, not the provider's, and are outside: a worker running many calls
at once in threads would otherwise add its own CPU work, and every wait for the interpreter lock,
to a provider's latency (BENCHMARKS.md, F2). The window is never shorter than the server's own
time: a request is sent before the server can read it, and its last byte is read after the server
wrote it. A call that sent nothing over HTTP (the sandbox) is timed around ``generate`` itself, less
the work the adapter reports as ours (``Timings.ours_ms``: the sandbox drawing its images), and a
failed call keeps its whole window (``elapsed_ms``), since its last exchange may not be its
end.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time

import httpx

from .base import (BadResponseError, GeneratedImage, ImageRequest, ImageResult, LongRunningProvider, Provider,
                   ProviderError, ProviderTimeoutError, ProviderUnavailableError)
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


def refuse_what_it_cannot_do(provider: Provider, request: ImageRequest) -> None:
    """Raise the provider's refusal (InvalidRequestError) when it declares problems with
    ``request`` (``Provider.problems``): before ``generate`` or ``submit``, nothing sent."""
    problems = provider.problems(request)
    if problems:
        raise provider.refusal(problems, request)


def submit(provider: LongRunningProvider, request: ImageRequest) -> dict:
    """Start a long-running job (``LongRunningProvider.submit``), after the same check ``execute``
    makes before ``generate``."""
    refuse_what_it_cannot_do(provider, request)
    return provider.submit(request)


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


class WireClock:
    """When a call's requests went out and its answers came in, read from httpx's event hooks on
    the provider's client (attached for one attempt, by the thread that makes it).

    ``first_sent``: perf_counter when the first request of the call began to be written to its
    connection (httpcore's ``send_request_headers.started`` trace event; opening the connection,
    TCP and TLS, comes before it and is not the provider's time), or, for a transport that reports
    no such event, when the request was handed to the transport. ``last_byte``: perf_counter when
    the last chunk of the latest response body was read off the socket (or, for a body nobody
    read, when it was closed). ``phase()`` starts a sub-window (the downloads): ``phase_first_sent``."""

    def __init__(self, client, clock=time.perf_counter):
        self.client = client
        self.clock = clock
        self.thread = threading.get_ident()
        self.first_sent: float | None = None
        self.phase_first_sent: float | None = None
        self.last_byte: float | None = None
        self.in_phase = False
        self._handed: float | None = None  # when the latest request was handed to the transport
        self._sending: dict = {}  # {"at": ...} once that request began to be written

    @classmethod
    def attach(cls, client) -> "WireClock | None":
        """A clock hooked into ``client`` (an httpx.Client); None for anything else."""
        if not isinstance(client, httpx.Client):
            return None
        clock = cls(client)
        hooks = client.event_hooks
        hooks["request"].append(clock._on_request)
        hooks["response"].append(clock._on_response)
        return clock

    def detach(self) -> None:
        hooks = self.client.event_hooks
        for name, hook in (("request", self._on_request), ("response", self._on_response)):
            if hook in hooks[name]:
                hooks[name].remove(hook)

    def phase(self) -> None:
        self.in_phase = True
        self.phase_first_sent = None

    def _mine(self) -> bool:
        return threading.get_ident() == self.thread  # a client shared with another thread: not ours

    def _on_request(self, request: httpx.Request) -> None:
        if not self._mine():
            return
        self._handed, self._sending = self.clock(), {}
        sending, outer = self._sending, request.extensions.get("trace")

        def trace(name, info):  # httpcore's trace extension: events of this request's connection
            if name.endswith("send_request_headers.started") and not sending:
                sending["at"] = self.clock()
                self._sent(sending["at"])
            if outer is not None:
                outer(name, info)

        request.extensions["trace"] = trace

    def _sent(self, at: float) -> None:
        if self.first_sent is None:
            self.first_sent = at
        if self.in_phase and self.phase_first_sent is None:
            self.phase_first_sent = at

    def _on_response(self, response: httpx.Response) -> None:
        if not self._mine():
            return
        if not self._sending and self._handed is not None:
            self._sent(self._handed)  # a transport without trace events (mocks): from handing it over
        response.stream = _TimedStream(response.stream, self)

    def _read(self, at: float) -> None:
        if self.last_byte is None or at > self.last_byte:
            self.last_byte = at

    def window(self, started: float, finished: float) -> tuple[float, float]:
        """(start, end) of the call on the wire, or the given ones when nothing went over HTTP."""
        if self.first_sent is None or self.last_byte is None or self.last_byte < self.first_sent:
            return started, finished
        return self.first_sent, self.last_byte


class _TimedStream(httpx.SyncByteStream):
    """A response body that tells its WireClock when its last chunk came off the socket."""

    def __init__(self, inner, clock: WireClock):
        self.inner, self.wire, self.done = inner, clock, False

    def __iter__(self):
        last = None
        for chunk in self.inner:
            last = self.wire.clock()
            yield chunk
        self.done = True
        self.wire._read(last if last is not None else self.wire.clock())

    def close(self) -> None:
        if not self.done:  # closed unread (a redirect, an error page): it ended when we let go of it
            self.done = True
            self.wire._read(self.wire.clock())
        self.inner.close()


def _attempt(provider: Provider, request: ImageRequest, max_image_bytes: int, allow_private_urls: bool) -> ImageResult:
    started = time.perf_counter()
    wire = WireClock.attach(getattr(provider, "client", None))
    try:
        refuse_what_it_cannot_do(provider, request)
        result = provider.generate(request)
        if not result.images:
            raise BadResponseError("The provider answered without any image.")
        generated = time.perf_counter()
        if wire is not None:
            wire.phase()
        images = tuple(_fetch(provider.client, image, max_image_bytes, allow_private_urls) for image in result.images)
        finished = time.perf_counter()
    except ProviderError as exc:
        error = exc
    except httpx.TimeoutException as exc:
        deadline = "deadline" in str(exc)  # providers/deadline.py: our overall deadline, not a read timeout
        error = ProviderTimeoutError(f"The provider did not answer in time ({exc})." if deadline
                                     else f"The provider did not answer in time ({type(exc).__name__}).")
    except httpx.TransportError as exc:
        error = ProviderUnavailableError(f"Could not reach the provider ({type(exc).__name__}).")
    else:
        start, end, download_start = started, finished, generated
        if wire is not None:
            start, end = wire.window(started, finished)
            if wire.phase_first_sent is not None:
                download_start = wire.phase_first_sent
        if (start, end) == (started, finished) and result.timings.ours_ms:
            end = max(start, end - result.timings.ours_ms / 1000)  # nothing on the wire: our own work is not the call
        download_start = min(max(download_start, start), end)
        downloaded = any(image.url for image in result.images)
        timings = dataclasses.replace(
            result.timings,
            total_ms=(end - start) * 1000,
            download_ms=(end - download_start) * 1000 if downloaded else None,
            setup_ms=(start - started) * 1000 if start > started else None,
        )
        return dataclasses.replace(result, images=images, timings=timings)
    finally:
        if wire is not None:
            wire.detach()
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
