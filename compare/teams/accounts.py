"""Logging in with a limit on failures, and the user's own API tokens."""

import hashlib
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.contrib.auth.views import LoginView, PasswordChangeView
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from compare.teams.addresses import client_address
from compare.teams.models import ApiToken


def login_name(username):
    """The name a lockout counts: NFKC-normalised as the login form and User.normalize_username do
    (so every spelling that signs in as one user shares its count), stripped and case-folded (so a
    database that matched names without regard to case could not hand out fresh tries either)."""
    return get_user_model().normalize_username(str(username or "")).strip().casefold()


class LoginLimits:
    """Failed logins counted in the shared cache, in a window of LOGIN_FAILURE_WINDOW_SECONDS from the
    first failure: LOGIN_FAILURE_LIMIT per name and address, LOGIN_ADDRESS_FAILURE_LIMIT per address
    over all names (one password sprayed over many names)."""

    def __init__(self, request, username):
        address = client_address(request)
        name = hashlib.sha256(login_name(username).encode()).hexdigest()[:32]
        self.limits = {f"login-failures:name:{name}:{address}": settings.LOGIN_FAILURE_LIMIT,
                       f"login-failures:address:{address}": settings.LOGIN_ADDRESS_FAILURE_LIMIT}

    def locked(self):
        counts = cache.get_many(list(self.limits))
        return any(counts.get(key, 0) >= limit for key, limit in self.limits.items())

    def failed(self):
        for key in self.limits:
            cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW_SECONDS)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW_SECONDS)


class LimitedModelBackend(ModelBackend):
    """Django's ModelBackend behind the login limits, so every entry point that authenticates (the
    app's login, the admin's, any later one) is limited alike. A locked name or address is refused
    before its password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        limits = LoginLimits(request, username)
        if limits.locked():
            raise PermissionDenied("Too many failed logins.")  # authenticate() stops here: no other backend
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            limits.failed()
        return user


class LimitedFormMixin:
    """Says so when a login was refused because of the limits, not because of the password."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            if LoginLimits(self.request, self.cleaned_data.get("username")).locked():
                minutes = settings.LOGIN_FAILURE_WINDOW_SECONDS // 60
                raise forms.ValidationError(f"Too many failed attempts: try again in {minutes} minutes.",
                                            code="too_many_attempts") from None
            raise


class LimitedAuthenticationForm(LimitedFormMixin, AuthenticationForm):
    pass


class LimitedAdminAuthenticationForm(LimitedFormMixin, AdminAuthenticationForm):
    pass


class LimitedLoginView(LoginView):
    authentication_form = LimitedAuthenticationForm


class LimitedPasswordChangeForm(PasswordChangeForm):
    """The current password is checked under the same limits as a login (a borrowed session cannot
    try passwords at leisure)."""

    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        limits = LoginLimits(self.request, self.user.get_username())
        if limits.locked():
            minutes = settings.LOGIN_FAILURE_WINDOW_SECONDS // 60
            raise forms.ValidationError(f"Too many failed attempts: try again in {minutes} minutes.",
                                        code="too_many_attempts")
        try:
            return super().clean_old_password()
        except forms.ValidationError:
            limits.failed()
            raise


class LimitedPasswordChangeView(PasswordChangeView):
    form_class = LimitedPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}


TOKEN_LIFETIMES = [("", "never (until revoked)"), ("7", "in 7 days"), ("30", "in 30 days"),
                   ("90", "in 90 days"), ("365", "in a year")]


def _tokens_page(request, **context):
    return render(request, "teams/tokens.html", {"tokens": request.user.api_tokens.order_by("-created_at"),
                                                   "lifetimes": TOKEN_LIFETIMES, **context})


def token_list(request):
    return _tokens_page(request)


@require_POST
def create_token(request):
    days = request.POST.get("expires_in_days", "")
    if days not in dict(TOKEN_LIFETIMES):
        return _tokens_page(request, error="Expires: choose one of the offered lifetimes.")
    _, token = ApiToken.issue(request.user, expires_in=timedelta(days=int(days)) if days else None,
                              name=request.POST.get("name", ""))
    return _tokens_page(request, new_token=token)


@require_POST
def revoke_token(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    messages.success(request, f"Token {token.name or token.prefix + '…'} revoked: it opens nothing any more.")
    return redirect("teams:tokens")
