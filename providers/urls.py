"""Where we may download a provider's image from.

This is the early check with a clear message; the rule itself is enforced again at connect time,
on the address actually connected to, by providers/outbound.py (every worker request goes
through it). In production only https URLs whose host resolves to public addresses are fetched (no loopback,
private, link-local or reserved ranges), and every redirect hop is checked the same way. The
local fakes and self-hosted servers need http and loopback: ``allow_private`` (the app's
ALLOW_PRIVATE_PROVIDER_URLS) permits them, and is off by default.
"""

from __future__ import annotations

import base64
import binascii
import socket
from urllib.parse import unquote_to_bytes, urlsplit

from .base import BadResponseError
from .outbound import is_public


def check_download_url(url: str, *, allow_private: bool, resolve=socket.getaddrinfo) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadResponseError(f"The provider gave an image URL we cannot download ({parts.scheme or 'no'} scheme).")
    if allow_private:
        return
    if parts.scheme != "https":
        raise BadResponseError("The provider gave a plain-http image URL; only https downloads are allowed.")
    try:
        addresses = {info[4][0] for info in resolve(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except OSError:
        raise BadResponseError(f"The image host {parts.hostname} does not resolve.") from None
    for address in addresses:
        if not is_public(address):
            raise BadResponseError(
                f"The image URL points at a private or local address ({parts.hostname}); refused.")


def decode_data_url(url: str) -> tuple[bytes, str]:
    """(bytes, mime) from a data: URL."""
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:"):
        raise BadResponseError("The provider returned a malformed data: URL.")
    mime = header[5:].split(";", 1)[0] or "application/octet-stream"
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=False), mime
        return unquote_to_bytes(payload), mime
    except (binascii.Error, ValueError):
        raise BadResponseError("The provider returned a data: URL that does not decode.") from None
