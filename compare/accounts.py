"""Logging in with a limit on failures, and the user's own API tokens."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .models import ApiToken


class LimitedAuthenticationForm(AuthenticationForm):
    """After LOGIN_FAILURE_LIMIT failures for one username from one address within the window,
    further attempts are refused without checking the password until the window passes."""

    def _key(self):
        username = (self.data.get("username") or "").strip().lower()
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return f"login-failures:{username}:{address}"

    def clean(self):
        if cache.get(self._key(), 0) >= settings.LOGIN_FAILURE_LIMIT:
            minutes = settings.LOGIN_FAILURE_WINDOW_SECONDS // 60
            raise forms.ValidationError(f"Too many failed attempts: try again in {minutes} minutes.",
                                        code="too_many_attempts")
        try:
            return super().clean()
        except forms.ValidationError:
            key = self._key()
            cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW_SECONDS)
            cache.incr(key)
            raise


class LimitedLoginView(LoginView):
    authentication_form = LimitedAuthenticationForm


def token_list(request):
    tokens = request.user.api_tokens.order_by("-created_at")
    return render(request, "compare/tokens.html", {"tokens": tokens})


@require_POST
def create_token(request):
    _, token = ApiToken.issue(request.user)
    return render(request, "compare/tokens.html", {"tokens": request.user.api_tokens.order_by("-created_at"),
                                                   "new_token": token})


@require_POST
def revoke_token(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.prefix}… revoked: it opens nothing any more.")
    return redirect("compare:tokens")
