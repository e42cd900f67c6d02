"""Which key goes with which origin: the one place that builds a route's credentials and base URL
from the server's environment and a team's own values.

The rules (docs/security.md, "Keys and outbound requests"):

- A route's origin (its base URL) is the team's when the team sets the provider's base-URL
  variable (``OPENAI_BASE_URL``, ``FAL_QUEUE_BASE_URL``, ``AZURE_OPENAI_ENDPOINT``, ...) or defined
  the route itself (its own ``COMPATIBLE_ROUTES``); else the server's (its environment, or the
  provider's public default).
- On a team's origin every value comes from the team: none of the server's keys, tokens or
  settings is ever sent there. A team that sets a base URL without its own key has an
  unconfigured route, and ``problem`` says why.
- On the server's origin the credentials come all from the team (when it sets any of the route's
  credentials) or all from the server, never mixed: a server's second key (e.g.
  ``REPLICATE_OPENAI_API_KEY``) never rides along with a team's token into the team's account.
- Only the variables a route declares are read (its credential, optional and base-URL names);
  nothing else of the environment is reachable by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .base import Route


@dataclass(frozen=True)
class Access:
    """What a route is built with: ``env`` holds exactly the values it may read."""

    env: Mapping[str, str]
    team_origin: bool  # the base URL is the team's: never trusted, always checked
    team_credentials: bool
    missing: list[str] = field(default_factory=list)
    problem: str = ""
    trusted_base_url: str = ""  # a base URL from the server's own configuration (may be private)

    @property
    def configured(self) -> bool:
        return not self.missing


def origin_names(route: Route) -> tuple[str, ...]:
    """The variables that decide where this route's requests go."""
    names = (route.provider.base_url_name,) if route.provider.base_url_name else ()
    defined_by = route.options.get("defined_by")
    return names + ((defined_by,) if defined_by else ())


def credential_names(route: Route) -> tuple[str, ...]:
    """Every other variable the route reads: its credentials and the provider's optional ones."""
    origins = origin_names(route)
    provider = route.provider
    names = (*route.credential_names, *provider.credential_names, *provider.alternative_names, *provider.optional_names)
    return tuple(n for n in dict.fromkeys(names) if n and n not in origins)


def resolve(route: Route, server: Mapping[str, str], team: Mapping[str, str]) -> Access:
    """The values ``route`` is built with for a team whose own values are ``team`` (empty for none),
    on a server whose environment is ``server``."""
    if route.options.get("unusable"):  # its setting could not be read (base.unusable_route): never configured
        return Access(env={}, team_origin=False, team_credentials=False, missing=[route.options["unusable"]],
                      problem=route.options["reason"])
    origins = origin_names(route)
    creds = credential_names(route)
    team_origin = any(team.get(name) for name in origins)
    team_credentials = team_origin or any(team.get(name) for name in creds)
    origin_source = team if team_origin else server
    credential_source = team if team_credentials else server
    base_name = route.provider.base_url_name
    env = {base_name: origin_source[base_name]} if base_name and origin_source.get(base_name) else {}
    env.update({name: credential_source[name] for name in creds if credential_source.get(name)})
    # A provider with alternative forms of a credential needs the form the values used hold.
    needed = route.provider.needed_names(env) if route.provider.alternative_names else route.credential_names
    missing = [name for name in needed if not env.get(name)]
    problem = ""
    if missing and team_credentials:
        why = ([n for n in origins if team.get(n)] or [n for n in creds if team.get(n)])
        problem = (f"This team sets {', '.join(why)}, so {route.key} uses this team's own values only "
                   f"(the server's keys are never sent "
                   f"{'to a base URL a team set' if team_origin else 'with a team credential'}): "
                   f"set this team's {', '.join(missing)} too.")
    trusted = ""
    if not team_origin:
        trusted = route.options.get("base_url") or env.get(route.provider.base_url_name or "", "")
    return Access(env=env, team_origin=team_origin, team_credentials=team_credentials, missing=missing,
                  problem=problem, trusted_base_url=trusted)
