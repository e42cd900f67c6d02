"""The HTTP client of every provider call and credential test: outbound policy, shared TLS, deadline.

One TLS context per process, the outbound policy (providers/outbound.py) on every request, and
an optional deadline (providers/deadline.py)."""

import threading
import time

import httpx
from django.conf import settings

from providers.deadline import DeadlineTransport
from providers.outbound import OutboundTransport, Policy

_ssl_context = None
_ssl_lock = threading.Lock()


def ssl_context():
    """One TLS context per process: building one loads the CA bundle (~40 ms), and ten of them
    built at once by ten threads would delay every provider call of a comparison."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def http_client(deadline=None, trusted_base_url=""):
    """A client for one result's provider call; with ``deadline`` (seconds from now), no request
    or answer of it outlives that (providers/deadline.py: even an answer that drips in). Every
    request goes through the outbound policy (providers/outbound.py): private and plain-http
    targets only with ALLOW_PRIVATE_PROVIDER_URLS, or on ``trusted_base_url``'s origin, a base URL
    the server itself configured for the route."""
    timeout = httpx.Timeout(settings.PROVIDER_READ_TIMEOUT, connect=settings.PROVIDER_CONNECT_TIMEOUT)
    policy = Policy(allow_private=settings.ALLOW_PRIVATE_PROVIDER_URLS,
                    trusted=(trusted_base_url,) if trusted_base_url else ())
    transport = OutboundTransport(policy, ssl_context=ssl_context())
    if deadline is not None:
        transport = DeadlineTransport(transport, time.monotonic() + deadline)
    return httpx.Client(timeout=timeout, follow_redirects=False, transport=transport,
                        headers={"User-Agent": "image-provider-compare"})
