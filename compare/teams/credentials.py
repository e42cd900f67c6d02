"""Team credentials: the names a team may set, the checks on a value, the listing and the owner's page.

Encryption is compare/teams/crypto.py. Values are never shown back, logged, exported or sent to Celery."""

import json

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from providers import access, registry
from providers.base import BadResponseError
from providers.urls import check_download_url

from compare.catalog import provider_env, route_access, server_env
from compare.engine.clients import http_client
from compare.notifications.models import Webhook
from compare.teams.crypto import cipher, encrypt, team_env
from compare.teams.models import Team, TeamCredential


def settable_names(values=None) -> list[tuple[str, list[str]]]:
    """(variable name, the routes that read it) for every credential, option and base URL a
    provider declares; with a team's ``values``, also the key names of that team's own routes
    (its COMPATIBLE_ROUTES' api_key_env)."""
    env = provider_env()
    env.update(values or {})
    used: dict[str, list[str]] = {name: ["adds routes"] for name in registry.ROUTE_CONFIG_NAMES}
    for route in registry.all_routes(env).values():
        provider = route.provider
        for name in (*route.credential_names, *provider.optional_names, provider.base_url_name):
            if name:
                used.setdefault(name, []).append(route.key)
    return sorted(used.items())


class RefusedValue(ValueError):
    pass


def check_value(name, value):
    """A team may not point the workers at private or local addresses (that would let a team
    owner reach the server's own network), unless ALLOW_PRIVATE_PROVIDER_URLS is set; a value
    that defines routes must be readable."""
    if name in registry.ROUTE_CONFIG_NAMES:
        problems = registry.setting_problems({**provider_env(), name: value})
        if problems:  # listing routes would show them as not usable: refuse them now, with the reason
            raise RefusedValue(problems[0])
    urls = []
    if name.endswith(("_BASE_URL", "_ENDPOINT")):
        urls = [value]
    elif name == "COMPATIBLE_ROUTES":
        urls = [entry["base_url"] for entry in json.loads(value)]  # read above: a list of checked entries
    for url in urls:
        try:
            check_download_url(url, allow_private=settings.ALLOW_PRIVATE_PROVIDER_URLS)
        except BadResponseError as exc:
            raise RefusedValue(f"{name}: {url!r} is refused: {exc}") from None



def _note_refusal(errors, name, value):
    """Record in ``errors`` why ``value`` may not be stored for ``name``, if it may not."""
    try:
        check_value(name, value.strip())
    except RefusedValue as exc:
        errors[name] = [str(exc)]

def check_changes(team, changes: dict) -> dict:
    """{name: [message]} for what is wrong with setting ``changes`` ({name: value}, "" removes) on
    ``team``; {} when all of it may be saved. Beyond each value's own check: a base URL (or a
    team's own route) is refused unless the team brings its own key for it, since the server's
    keys are never sent to an origin a team chose (providers/access.py)."""
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if not isinstance(value, str):
            errors[name] = ['A value must be a string ("" removes it).']
        elif name in registry.ROUTE_CONFIG_NAMES and value.strip():
            _note_refusal(errors, name, value)
    if errors:
        return errors
    after = {**team_env(team), **{k: v.strip() for k, v in changes.items()}}
    after = {k: v for k, v in after.items() if v}
    known = dict(settable_names(after))
    for name, value in changes.items():
        if name not in known:
            errors[name] = ["That is not a variable any route reads."]
        elif value.strip() and name not in registry.ROUTE_CONFIG_NAMES:
            _note_refusal(errors, name, value)
    if errors:
        return errors
    set_now = {name for name, value in changes.items() if value.strip()}
    server = server_env()
    for route in registry.all_routes({**server, **after}).values():
        found = access.resolve(route, server, after)
        named = [n for n in access.origin_names(route) if n in set_now and after.get(n)]
        if found.team_origin and found.missing and named:
            for name in named:
                errors.setdefault(name, []).append(
                    f"{route.key} would send requests to this team's {name} without this team's own "
                    f"{', '.join(found.missing)}: the server's keys are never sent to an origin a team sets, so "
                    f"set {', '.join(found.missing)} for this team first (or in the same request).")
    return {name: list(dict.fromkeys(messages)) for name, messages in errors.items()}


def set_credential(team, name, value, user):
    value = value.strip()
    check_value(name, value)
    TeamCredential.objects.update_or_create(team=team, name=name, defaults={
        "ciphertext": encrypt(value), "last4": value[-4:], "updated_by": user, "updated_at": timezone.now()})


def apply_changes(team, changes: dict, user) -> dict:
    """Check ``changes`` ({name: value}, "" removes) and save them all, or none: the errors."""
    errors = check_changes(team, changes)
    if errors:
        return errors
    with transaction.atomic():
        for name, value in changes.items():
            if value.strip():
                set_credential(team, name, value, user)
            else:
                team.credentials.filter(name=name).delete()
    return {}


def listing(team) -> dict:
    """What the API shows of a team's credentials: for each variable, where its value comes from
    (this team, the server, or nowhere) and, for the team's own values, the last four characters.
    Nothing of the server's values is shown. Routes this team's values leave unconfigured say why."""
    stored = {row.name: row for row in team.credentials.all()}
    values = team_env(team)
    server = server_env()
    rows = []
    for name, routes in settable_names(values):
        row = stored.get(name)
        rows.append({"name": name, "read_by": routes,
                     "source": "team" if row else "server" if server.get(name) else "not set",
                     "last4": row.last4 if row else None,
                     "updated_at": row.updated_at if row else None})
    unconfigured = []
    for route in registry.all_routes({**server, **values}).values():
        found = access.resolve(route, server, values)
        if found.problem:
            unconfigured.append({"route": route.key, "missing": found.missing, "reason": found.problem})
    return {"team": {"id": team.pk, "name": team.name}, "credentials": rows, "unconfigured_routes": unconfigured}


def rotate_all() -> int:
    """Re-encrypt every stored value (team credentials and webhook signing secrets) with the first
    key of CREDENTIALS_KEYS."""
    rows = list(TeamCredential.objects.all())
    for row in rows:
        TeamCredential.objects.filter(pk=row.pk).update(ciphertext=cipher().rotate(row.ciphertext.encode()).decode())
    hooks = list(Webhook.objects.all())
    for hook in hooks:
        Webhook.objects.filter(pk=hook.pk).update(
            secret_ciphertext=cipher().rotate(hook.secret_ciphertext.encode()).decode())
    return len(rows) + len(hooks)


def _owned_team(request, pk):
    team = get_object_or_404(Team.objects.of(request.user), pk=pk)
    if not team.is_owner(request.user):
        raise Http404("Only an owner manages credentials.")
    return team


def edit_credentials(request, pk):
    team = _owned_team(request, pk)
    names = settable_names(team_env(team))
    if request.method == "POST":
        name = request.POST.get("name", "")
        if name not in dict(names):
            messages.error(request, "That is not a variable any route reads.")
        elif request.POST.get("delete"):
            team.credentials.filter(name=name).delete()
            messages.success(request, f"{name} removed: this team falls back to the environment.")
        elif (request.POST.get("value") or "").strip():
            errors = apply_changes(team, {name: request.POST["value"]}, request.user)
            for message in errors.get(name, []):
                messages.error(request, message)
            if not errors:
                messages.success(request, f"{name} saved (ends in {request.POST['value'].strip()[-4:]}).")
        else:
            messages.error(request, "Type a value to save.")
        return redirect("teams:team-credentials", team.pk)
    stored = {row.name: row for row in team.credentials.select_related("updated_by")}
    listed = listing(team)
    tested = request.session.pop("credential_test", None)
    return render(request, "teams/credentials.html", {"team": team, "groups": _groups(listed["credentials"], stored, team, tested),
                                                        "unconfigured": listed["unconfigured_routes"]})


def is_url_name(name):
    return name.endswith(("_BASE_URL", "_ENDPOINT"))


def _groups(rows, stored, team, tested):
    """The page's rows grouped by the provider whose routes read them (route definitions apart),
    each with its state as listing() tells it; a team's own base URL is shown as the address it is
    (a key only by its last four characters); the last connection test's answer on its row."""
    values = team_env(team) if any(is_url_name(name) for name in stored) else {}
    groups: dict[str, list] = {}
    for row in rows:
        routes = [r for r in row["read_by"] if r != "adds routes"]
        provider = routes[0].split(":", 1)[0] if routes else "Route definitions"
        row = {**row, "routes": routes, "stored": stored.get(row["name"]), "is_url": is_url_name(row["name"]),
               "url": values.get(row["name"]) if is_url_name(row["name"]) else None,
               "tested": tested if tested and tested.get("name") == row["name"] else None}
        groups.setdefault(provider, []).append(row)
    return sorted(groups.items(), key=lambda item: (item[0] == "Route definitions", item[0]))


@require_POST
def test_credential(request, pk):
    """Build the routes that read this variable with the team's values and ask each adapter to
    verify them with its cheapest safe call (or its format check)."""
    team = _owned_team(request, pk)
    name = request.POST.get("name", "")
    routes = [r for r in registry.all_routes(provider_env(team)).values()
              if name in (*r.credential_names, *r.provider.optional_names, r.provider.base_url_name)]
    if not routes:
        messages.error(request, "No route reads that variable.")
        return redirect("teams:team-credentials", team.pk)
    route = routes[0]
    found = route_access(route, team)  # the one decision of which key goes to which origin

    def answer(ok, text):
        """The answer goes on the variable's own row (and as a message for a page without it)."""
        request.session["credential_test"] = {"name": name, "ok": ok, "text": text}
        (messages.success if ok else messages.error)(request, text)
        return redirect(f"{reverse('teams:team-credentials', args=[team.pk])}#credential-{name}")

    if not found.configured:
        return answer(False, f"{route.key}: not checked, nothing was sent: "
                             f"{found.problem or 'set ' + ', '.join(found.missing) + '.'}")
    with http_client(trusted_base_url=found.trusted_base_url) as client:
        provider = route.build(client=client, env=found.env)
        try:
            verdict = provider.verify()
        except Exception as exc:  # any failure is the answer the owner asked for
            message = getattr(exc, "message", None) or type(exc).__name__
            # No value is ever shown back (module docstring): not only the provider's secrets
            # (Provider.secrets) but every value the route was built with (an organisation id,
            # an endpoint), longest first.
            for value in sorted(filter(None, provider.credentials.values()), key=len, reverse=True):
                message = message.replace(value, "***")
            return answer(False, f"{route.key}: the check failed: {message}")
    return answer(True, f"{route.key}: {verdict}")
