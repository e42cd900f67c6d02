"""The address a request comes from, behind a configured number of trusted proxies."""

import ipaddress

from django.conf import settings


def client_address(request):
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT = N > 0 the Nth X-Forwarded-For entry from the right
    (the one the outermost trusted proxy wrote; entries left of it are the client's own say).
    With N = 0 the header is never read. A missing or malformed entry falls back to REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    entries = [e.strip() for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if len(entries) < count:
        return remote
    try:
        return str(ipaddress.ip_address(entries[-count]))
    except ValueError:
        return remote
