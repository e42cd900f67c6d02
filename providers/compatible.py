"""Any OpenAI-compatible images server: LiteLLM proxy, LocalAI, Helicone, a self-hosted relay
(providers.md section 15). Each is configured, not coded: ``COMPATIBLE_ROUTES`` holds a JSON
list of ``{"name", "base_url", "model", "api_key_env"?, "label"?, "price_as"?}``; the route key
is ``compatible:<name>``. Answers may carry ``b64_json`` or ``url``; LiteLLM's
``x-litellm-response-cost`` header is read as the reported cost.
"""

from __future__ import annotations

import json
from typing import Mapping

from . import http
from .base import Capabilities, GPT_IMAGE_2_SIZES, ImageRequest, ImageResult, Provider, Route
from .openai import images_body, images_result, raise_for_openai_error


class ConfigurationError(ValueError):
    pass


def parse_config(text: str) -> list[dict]:
    """The COMPATIBLE_ROUTES list, checked; ValueError naming what is wrong."""
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"COMPATIBLE_ROUTES is not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise ConfigurationError("COMPATIBLE_ROUTES must be a JSON list of objects.")
    for entry in entries:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k] for k in ("name", "base_url", "model")):
            raise ConfigurationError(f"COMPATIBLE_ROUTES entry {entry!r} needs name, base_url and model.")
    return entries


def routes(env: Mapping[str, str]) -> list[Route]:
    text = env.get("COMPATIBLE_ROUTES")
    if not text:
        return []
    found = []
    for entry in parse_config(text):
        key_env = entry.get("api_key_env")
        found.append(Route(
            key=f"compatible:{entry['name']}",
            provider=CompatibleProvider,
            model=entry["model"],
            label=entry.get("label") or f"{entry['name']} ({entry['model']}, OpenAI-compatible)",
            capabilities=Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=10),
            options={"base_url": entry["base_url"], "credential_names": (key_env,) if key_env else (),
                     "key_env": key_env, "price_key": entry.get("price_as") or f"compatible:{entry['name']}"},
        ))
    return found


class CompatibleProvider(Provider):
    slug = "compatible"
    name = "OpenAI-compatible server"

    def generate(self, request: ImageRequest) -> ImageResult:
        body = images_body(self.route.model, request)
        url = f"{self.base_url}/images/generations"
        key_env = self.route.options.get("key_env")
        headers = {"Authorization": f"Bearer {self.credentials[key_env]}"} if key_env else {}
        response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=raise_for_openai_error)
        cost = response.headers.get("x-litellm-response-cost")
        return images_result(response, request, self.route, body, url, reported_cost=cost)
