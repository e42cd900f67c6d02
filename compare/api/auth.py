"""Who asks the API and for which team: a browser session or an API token, and the JSON body they send.

A token comes as Authorization: Bearer TOKEN and acts as its user; ?team=ID picks one of their teams."""

import functools
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt

from compare.params import MAX_ID, BadParameter, object_id
from compare.teams import views as teams
from compare.teams.models import ApiToken, Team


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
            if any(isinstance(value, int) and value > MAX_ID for value in kwargs.values()):
                return JsonResponse({"error": "Not found."}, status=404)  # no row has such an id
            try:
                return view(request, *args, **kwargs)
            except BadParameter as exc:  # ?team=abc, a huge id: a 400 naming the field
                return JsonResponse({"errors": {exc.field: [str(exc)]}}, status=400)
            except Http404:
                return JsonResponse({"error": "Not found."}, status=404)

        wrapped.api_methods = tuple(methods)  # read by the OpenAPI coverage test
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


# Deeper JSON than this is refused: no API body needs it, and deep nesting is how a small body
# reaches Python's recursion limit in the parser or in whatever walks the payload next.
MAX_JSON_DEPTH = 32


def read_json(request):
    """(payload, None) or (None, error response). At most MAX_REQUEST_BYTES are read (the API's
    images come as data: URLs, so the page forms' smaller DATA_UPLOAD_MAX_MEMORY_SIZE does not
    apply here); malformed or too deeply nested JSON is a 400."""
    limit = settings.MAX_REQUEST_BYTES  # a declared length over it never got here (RequestSizeMiddleware)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        return None, _too_big(len(raw), limit)
    try:
        payload = json.loads(raw or b"null")
    except RecursionError:
        return None, _bad_body(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, _bad_body(f"Malformed JSON: {exc}")
    if _depth(payload) > MAX_JSON_DEPTH:
        return None, _bad_body(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
    return payload, None


def _depth(value):
    """How deeply lists and objects nest in ``value``, walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _bad_body(message):
    return JsonResponse({"errors": {"__all__": [message]}}, status=400)


def _too_big(length, limit):
    return JsonResponse({"errors": {"__all__": [f"The body is {length:,} bytes, over the {limit:,} byte limit "
                                                "(MAX_REQUEST_BYTES)."]}}, status=413)


def team_asked(request):
    """The team of ?team=ID (one of the user's, else 404; not an id: 400), or the personal team."""
    if request.GET.get("team"):
        return get_object_or_404(Team.objects.of(request.user), pk=object_id(request.GET["team"], "team"))
    return Team.personal_for(request.user)
