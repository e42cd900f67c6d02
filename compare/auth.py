"""Who is asking: a browser session, or a per-user API token (Authorization: Bearer TOKEN)."""

import functools
import json

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from . import teams
from .models import ApiToken


def bearer_user(request):
    """(user, None) for a live Bearer token, (None, None) without the header, (None, why) for a bad
    or expired one."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "Invalid API token."
    found = ApiToken.objects.find(token.strip())
    if found is None:
        return None, "Invalid API token."
    if found.expired:
        return None, (f"API token {found.prefix}… expired at {found.expires_at:%Y-%m-%d %H:%M} UTC: "
                      "create a new one on the API tokens page.")
    return found.user, None


def _act_as(request, user):
    """The token's user asks: the request's user, team and role become theirs."""
    request.user = user
    teams.attach_team(request)


def _csrf_failure(request):
    check = CsrfViewMiddleware(lambda r: None)
    return check.process_view(request, None, (), {})


def api_view(methods):
    """A JSON endpoint: token or session auth (session writes still need CSRF), JSON errors."""

    def decorator(view):
        @csrf_exempt
        @login_not_required
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                response = JsonResponse({"error": f"Method {request.method} not allowed."}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            user, error = bearer_user(request)
            if error:
                response = JsonResponse({"error": error}, status=401)
                response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
            if user is None:
                if not request.user.is_authenticated:
                    response = JsonResponse(
                        {"error": "Authentication required: send Authorization: Bearer TOKEN "
                                  "(create one with `python manage.py api_token USERNAME`)."}, status=401)
                    response["WWW-Authenticate"] = "Bearer"
                    return response
                if request.method not in ("GET", "HEAD", "OPTIONS") and _csrf_failure(request):
                    return JsonResponse({"error": "CSRF check failed for a session request."}, status=403)
            else:
                _act_as(request, user)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def session_or_token(view):
    """A page resource (images) that answers to the browser session or to an API token."""

    @login_not_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        user, error = bearer_user(request)
        if error:
            return JsonResponse({"error": error}, status=401)
        if user:
            _act_as(request, user)
        elif not request.user.is_authenticated:
            return JsonResponse({"error": "Authentication required."}, status=401)
        return view(request, *args, **kwargs)

    return wrapped


def read_json(request):
    """(payload, None) or (None, error response)."""
    try:
        return json.loads(request.body or b"null"), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, JsonResponse({"errors": {"__all__": [f"Malformed JSON: {exc}"]}}, status=400)
