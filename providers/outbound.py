"""Where a worker's requests may go: one policy for every request of a provider call (the call
itself, the polling URLs an answer names, image downloads).

- ``OutboundTransport`` checks the scheme of each request and, at connect time, the address the
  host resolves to: the name is resolved once, every address is checked, and the socket is opened
  to a checked address (no second lookup, so no DNS-rebinding window). Plain http and loopback,
  private, link-local or reserved addresses are refused unless ``allow_private`` (the app's
  ALLOW_PRIVATE_PROVIDER_URLS) is on, or the origin is one the server itself configured
  (``trusted``: a base URL from the server's environment, e.g. a LiteLLM proxy on the LAN). A
  base URL a team set, and every URL taken from an answer, is never trusted.
- ``same_origin`` is what ``http.own_url`` asks before a URL an answer names (a status, result
  or cancel URL) may be sent our key: only on the provider's configured origin.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

import httpcore
import httpx

from .base import ProviderError

DEFAULT_PORTS = {"https": 443, "http": 80}


class DestinationRefusedError(ProviderError):
    """A request we will not send: its scheme, or the address its host resolves to, is refused."""

    code = "refused_destination"


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, lower-case host, port with the scheme's default filled in); None if not http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def same_origin(url: str, base: str) -> bool:
    found = origin(url)
    return found is not None and found == origin(base)


def is_public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_global


@dataclass(frozen=True)
class Policy:
    """``allow_private``: ALLOW_PRIVATE_PROVIDER_URLS. ``trusted``: base URLs the server
    configured, whose origins may be plain http or private. ``resolve``: getaddrinfo's signature
    (None: ``socket.getaddrinfo`` at call time)."""

    allow_private: bool = False
    trusted: tuple[str, ...] = ()
    resolve: Callable | None = None
    _trusted: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        found = {origin(url) for url in self.trusted}
        object.__setattr__(self, "_trusted", frozenset(o for o in found if o))

    def is_trusted_host(self, host: str, port: int) -> bool:
        return any(o[1] == host.lower() and o[2] == port for o in self._trusted)

    def check_url(self, url: str) -> None:
        """Before a request: an http(s) URL, and https unless private targets are allowed or the
        origin is trusted."""
        found = origin(url)
        if found is None:
            raise DestinationRefusedError(f"Refused to send a request to {_shown(url)}: only http(s) URLs are used.")
        if found[0] != "https" and not self.allow_private and found not in self._trusted:
            raise DestinationRefusedError(f"Refused to send a request to {found[1]} over plain http; "
                                          "only https is allowed.")

    def addresses(self, host: str, port: int) -> list[str]:
        """At connect time: the addresses ``host`` resolves to, each checked; the caller connects
        to these and nothing else."""
        resolve = self.resolve or socket.getaddrinfo
        try:
            infos = resolve(host, port, proto=socket.IPPROTO_TCP)
        except OSError:
            raise httpcore.ConnectError(f"{host} does not resolve.") from None
        found = list(dict.fromkeys(info[4][0] for info in infos))
        if not found:
            raise httpcore.ConnectError(f"{host} does not resolve.")
        if not (self.allow_private or self.is_trusted_host(host, port)):
            if not all(is_public(address) for address in found):
                raise DestinationRefusedError(f"Refused to connect to {host}: it resolves to a private or local "
                                              "address.")
        return found


def _shown(url: str) -> str:
    return (url.split("?", 1)[0])[:100]


class GuardedBackend(httpcore.SyncBackend):
    """Opens each connection to an address ``policy`` checked, resolved once (TLS still checks
    the certificate against the host name: httpcore passes the URL's host as server_hostname)."""

    def __init__(self, policy: Policy):
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last_error = None
        for address in self.policy.addresses(host, port):
            try:
                return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except httpcore.ConnectError as exc:  # try the next checked address, as create_connection does
                last_error = exc
        raise last_error


class OutboundTransport(httpx.HTTPTransport):
    """httpx's transport with ``policy`` applied to every request and connection."""

    def __init__(self, policy: Policy, *, ssl_context=None, limits: httpx.Limits = httpx.Limits()):
        ssl_context = ssl_context if ssl_context is not None else httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self.policy = policy
        # httpx builds its pool with httpcore's default backend; this one is the same pool with
        # the guarded backend (httpx 0.28 offers no argument for it).
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=GuardedBackend(policy))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.policy.check_url(str(request.url))
        return super().handle_request(request)
