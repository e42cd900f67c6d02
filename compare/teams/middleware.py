"""Per-request account state: idle sessions end, and the team and role are decided once."""

from django.conf import settings
from django.contrib.auth import logout
from django.utils import timezone

from compare.teams import views as teams

SEEN_KEY = "_seen_at"


class IdleSessionMiddleware:
    """Logs out a session unused for SESSION_IDLE_TIMEOUT_SECONDS. A session in use has its expiry
    moved on, at most once a minute (not a session write per request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            timeout = settings.SESSION_IDLE_TIMEOUT_SECONDS
            seen = request.session.get(SEEN_KEY)
            if seen is not None and now - seen > timeout:
                logout(request)  # the login-required check that follows sends the browser to log in
            elif seen is None or now - seen > min(60, timeout / 10):
                request.session[SEEN_KEY] = now
                request.session.set_expiry(timeout)
        return self.get_response(request)


class TeamMiddleware:
    """Sets request.team and request.role (teams.attach_team), the one place that decides them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        teams.attach_team(request)
        return self.get_response(request)
