"""One overall deadline for every request a provider call makes, its answer's body included.

httpx's timeouts are per operation: a read timeout restarts with every chunk, so a server that
drips a byte a second never trips it. ``DeadlineTransport`` wraps the transport of the client one
result uses: before each request it caps connect/read/write/pool timeouts at the time left, and
while a body is read it raises ``httpx.ReadTimeout`` once the deadline has passed (the runner
turns that into a ``timed_out`` result). Polling adapters stop at the same deadline on their own
(``http.poll``); this covers what a single request can do.
"""

from __future__ import annotations

import time
from typing import Callable, Iterator

import httpx


class DeadlineTransport(httpx.BaseTransport):
    """``grace``: what a request sent after the deadline gets. Only the clean-up of a call sends
    one (cancelling its job at the provider, ``http.poll``'s give-up): the runner never starts an
    attempt past the deadline, and polling stops at it."""

    def __init__(self, inner: httpx.BaseTransport, deadline_at: float,
                 clock: Callable[[], float] = time.monotonic, grace: float = 10.0):
        self.inner = inner
        self.deadline_at = deadline_at
        self.clock = clock
        self.grace = grace

    def remaining(self) -> float:
        return self.deadline_at - self.clock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        until = self.deadline_at if now < self.deadline_at else now + self.grace
        left = until - now
        timeouts = dict(request.extensions.get("timeout") or {})
        for name in ("connect", "read", "write", "pool"):
            value = timeouts.get(name)
            timeouts[name] = left if value is None else min(value, left)
        request.extensions["timeout"] = timeouts
        response = self.inner.handle_request(request)
        response.stream = DeadlineStream(response.stream, self, request, until)
        return response

    def close(self) -> None:
        self.inner.close()


class DeadlineStream(httpx.SyncByteStream):
    """A response body that stops with ``httpx.ReadTimeout`` when the deadline passes mid-read."""

    def __init__(self, inner, transport: DeadlineTransport, request: httpx.Request, until: float):
        self.inner = inner
        self.transport = transport
        self.request = request
        self.until = until

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if self.transport.clock() > self.until:
                raise httpx.ReadTimeout("The answer was still arriving when our deadline for this call passed.",
                                        request=self.request)
            yield chunk

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
