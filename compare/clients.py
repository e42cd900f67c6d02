"""Who is asking, as far as the network says: the client address of a request, in one place."""


def client_ip(request):
    """The address the request came from: REMOTE_ADDR (the proxy in front, if there is one; a
    trusted-proxy setting that reads X-Forwarded-For belongs here, and only here)."""
    return request.META.get("REMOTE_ADDR", "")
