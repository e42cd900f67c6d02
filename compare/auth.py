"""Who is asking: a browser session, or a per-user API token (Authorization: Bearer TOKEN)."""

import functools
import json

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from .models import ApiToken


def bearer_user(request):
    """The user of a valid Bearer token, None if there is no such header, False if it is bad."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    return ApiToken.objects.user_for(token.strip()) or False


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
            user = bearer_user(request)
            if user is False:
                return JsonResponse({"error": "Invalid API token."}, status=401)
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
                request.user = user
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def session_or_token(view):
    """A page resource (images) that answers to the browser session or to an API token."""

    @login_not_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        user = bearer_user(request)
        if user:
            request.user = user
        elif user is False or not request.user.is_authenticated:
            return JsonResponse({"error": "Authentication required."}, status=401)
        return view(request, *args, **kwargs)

    return wrapped


def read_json(request):
    """(payload, None) or (None, error response)."""
    try:
        return json.loads(request.body or b"null"), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, JsonResponse({"errors": {"__all__": [f"Malformed JSON: {exc}"]}}, status=400)
