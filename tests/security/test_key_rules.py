"""The one decision of which key goes with which origin (providers/access.py), for every route:
no server value is ever built into a provider whose base URL a team set, and a route never mixes
a team's credentials with the server's."""

import pytest

from providers import access, registry

SERVER_KEY = "sk-the-servers-own-openai-key-QZXW"


def every_route_with_a_base_url():
    server = {name: f"server-value-of-{name}" for name in registry.provider_variable_names()}
    server.update({"AZURE_OPENAI_DEPLOYMENTS": "dep", "HIGGSFIELD_MODEL_PATHS": "v/m/text-to-image",
                   "AZURE_OPENAI_ENDPOINT": "https://server.openai.azure.com"})
    return server, [r for r in registry.all_routes(server).values() if r.provider.base_url_name]


@pytest.mark.parametrize("key", [r.key for r in every_route_with_a_base_url()[1]])
def test_no_route_sends_any_server_value_to_a_base_url_a_team_set(key):
    server, _ = every_route_with_a_base_url()
    route = registry.all_routes(server)[key]
    team = {route.provider.base_url_name: "https://attacker.example/v1"}
    found = access.resolve(route, server, team)
    assert not any(v.startswith("server-value-of-") for v in found.env.values()), found.env
    assert found.team_origin and not found.configured and found.trusted_base_url == ""
    assert route.provider.base_url_name in found.problem
    provider = route.build(env=found.env)
    assert provider.base_url == "https://attacker.example/v1"
    assert not any(v.startswith("server-value-of-") for v in provider.credentials.values())


def test_a_server_key_never_rides_along_with_a_team_token():
    server = {"REPLICATE_API_TOKEN": "r8_server", "REPLICATE_OPENAI_API_KEY": SERVER_KEY}
    route = registry.all_routes(server)["replicate:openai/gpt-image-2"]
    found = access.resolve(route, server, {"REPLICATE_API_TOKEN": "r8_team_token"})
    assert found.env == {"REPLICATE_API_TOKEN": "r8_team_token"}  # on Replicate's own origin, in the team's account


def test_a_teams_own_higgsfield_pair_is_used_even_when_the_server_has_a_single_key():
    server = {"HF_KEY": "server-id:server-secret", "HIGGSFIELD_MODEL_PATHS": "v/m/text-to-image"}
    team = {"HF_API_KEY": "team-id", "HF_API_SECRET": "team-secret"}
    route = registry.all_routes({**server, **team})["higgsfield:v/m/text-to-image"]
    found = access.resolve(route, server, team)
    assert found.configured and found.env == team
    assert route.build(env=found.env).headers() == {"Authorization": "Key team-id:team-secret"}
