"""Team credentials: encryption (Fernet, MultiFernet for rotation), the names a team may set,
and the owner's page. Values are never shown back, logged, exported or sent to Celery."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from providers import compatible, registry
from providers.base import ConfigurationError

from .models import Team, TeamCredential


@lru_cache(maxsize=4)
def _cipher(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])
    except ValueError:
        raise ImproperlyConfigured("CREDENTIALS_KEYS must be comma-separated Fernet keys "
                                   "(make one with: python -c 'from cryptography.fernet import Fernet; "
                                   "print(Fernet.generate_key().decode())')") from None


def cipher() -> MultiFernet:
    return _cipher(settings.CREDENTIALS_KEYS)


def encrypt(value: str) -> str:
    return cipher().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("A team credential cannot be decrypted with CREDENTIALS_KEYS: was a key "
                                   "removed before `manage.py rotate_credentials` ran?") from None


def team_env(team) -> dict:
    """The team's credentials as environment names -> values (they override the environment)."""
    if team is None:
        return {}
    return {row.name: decrypt(row.ciphertext) for row in team.credentials.all()}


def settable_names() -> list[tuple[str, list[str]]]:
    """(variable name, the routes that read it) for every credential, option and base URL a
    provider declares."""
    from compare.routes import provider_env

    used: dict[str, list[str]] = {name: ["adds routes"] for name in registry.ROUTE_CONFIG_NAMES}
    for route in registry.all_routes(provider_env()).values():
        provider = route.provider
        for name in (*route.credential_names, *provider.optional_names, provider.base_url_name):
            if name:
                used.setdefault(name, []).append(route.key)
    return sorted(used.items())


class RefusedValue(ValueError):
    pass


def check_value(name, value):
    """A team may not point the workers at private or local addresses (that would let a team
    owner reach the server's own network), unless ALLOW_PRIVATE_PROVIDER_URLS is set."""
    from providers.base import BadResponseError
    from providers.urls import check_download_url

    urls = []
    if name.endswith(("_BASE_URL", "_ENDPOINT")):
        urls = [value]
    elif name == "COMPATIBLE_ROUTES":
        try:
            urls = [entry["base_url"] for entry in compatible.parse_config(value)]
        except ConfigurationError as exc:
            raise RefusedValue(f"{exc} (see the README).") from None
    for url in urls:
        try:
            check_download_url(url, allow_private=settings.ALLOW_PRIVATE_PROVIDER_URLS)
        except BadResponseError as exc:
            raise RefusedValue(f"{name}: {url!r} is refused: {exc}") from None


def set_credential(team, name, value, user):
    value = value.strip()
    check_value(name, value)
    TeamCredential.objects.update_or_create(team=team, name=name, defaults={
        "ciphertext": encrypt(value), "last4": value[-4:], "updated_by": user, "updated_at": timezone.now()})


def rotate_all() -> int:
    """Re-encrypt every stored value with the first key of CREDENTIALS_KEYS."""
    rows = list(TeamCredential.objects.all())
    for row in rows:
        TeamCredential.objects.filter(pk=row.pk).update(ciphertext=cipher().rotate(row.ciphertext.encode()).decode())
    return len(rows)


def _owned_team(request, pk):
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        raise Http404("Only an owner manages credentials.")
    return team


def edit_credentials(request, pk):
    team = _owned_team(request, pk)
    names = settable_names()
    if request.method == "POST":
        name = request.POST.get("name", "")
        if name not in dict(names):
            messages.error(request, "That is not a variable any route reads.")
        elif request.POST.get("delete"):
            team.credentials.filter(name=name).delete()
            messages.success(request, f"{name} removed: this team falls back to the environment.")
        elif (request.POST.get("value") or "").strip():
            try:
                set_credential(team, name, request.POST["value"], request.user)
            except RefusedValue as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"{name} saved (ends in {request.POST['value'].strip()[-4:]}).")
        else:
            messages.error(request, "Type a value to save.")
        return redirect("compare:team-credentials", team.pk)
    stored = {row.name: row for row in team.credentials.select_related("updated_by")}
    return render(request, "compare/credentials.html", {"team": team, "names": names, "stored": stored})


@require_POST
def test_credential(request, pk):
    """Build the routes that read this variable with the team's values and ask each adapter to
    verify them with its cheapest safe call (or its format check)."""
    from compare.execution import http_client
    from compare.routes import provider_env

    team = _owned_team(request, pk)
    name = request.POST.get("name", "")
    env = provider_env(team)
    routes = [r for r in registry.all_routes(env).values()
              if name in (*r.credential_names, *r.provider.optional_names, r.provider.base_url_name)]
    if not routes:
        messages.error(request, "No route reads that variable.")
        return redirect("compare:team-credentials", team.pk)
    route = routes[0]
    with http_client() as client:
        provider = route.build(client=client, env=env)
        secrets = [v for v in provider.credentials.values() if v]
        try:
            verdict = provider.verify()
        except Exception as exc:  # any failure is the answer the owner asked for
            message = getattr(exc, "message", None) or type(exc).__name__
            for secret in secrets:
                message = message.replace(secret, "***")
            messages.error(request, f"{route.key}: the check failed: {message}")
        else:
            messages.success(request, f"{route.key}: {verdict}")
    return redirect("compare:team-credentials", team.pk)
