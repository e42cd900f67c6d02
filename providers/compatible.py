"""Any OpenAI-compatible images server: LiteLLM proxy, LocalAI, Helicone, a self-hosted relay
(LiteLLM's docs). Each is configured, not coded: ``COMPATIBLE_ROUTES`` holds a JSON
list of ``{"name", "base_url", "model", "api_key_env"?, "label"?, "price_as"?, "edit"?, "mask"?}``;
the route key is ``compatible:<name>``. Answers may carry ``b64_json`` or ``url``; LiteLLM's
``x-litellm-response-cost`` header is read as the reported cost.

Edits are OpenAI's ``POST {base}/images/edits`` multipart (``image`` / ``image[]`` file parts, an
optional ``mask`` file; LiteLLM's docs). A server that has no edits endpoint (or no
mask) is configured with ``"edit": false`` (or ``"mask": false``); both default to true.
"""

from __future__ import annotations

import json
import re
from typing import Mapping

from . import http, registry
from .base import (ConfigurationError, Capabilities, GPT_IMAGE_2_SIZES, ImageRequest, ImageResult, Provider, Route,
                   unusable_route)
from .openai import MAX_EDIT_IMAGES, edit_parts, images_body, images_result, raise_for_openai_error

# ``api_key_env`` names a key of this route's own: upper-case, ending in _KEY or _TOKEN, naming no
# secret of the app (SECRET_KEY, passwords) and no variable another provider reads (its key
# belongs to its own origin). A team's route reads it from that team's own values only
# (providers/access.py).
KEY_ENV_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,60}_(KEY|TOKEN)$")
REFUSED_WORDS = ("SECRET", "PASSWORD", "DATABASE", "CREDENTIALS")


def key_env_problem(name) -> str | None:
    """Why ``name`` cannot be a compatible route's api_key_env; None when it can."""
    if not isinstance(name, str) or not KEY_ENV_RE.match(name):
        return "must be an upper-case variable name ending in _KEY or _TOKEN"
    if any(word in name for word in REFUSED_WORDS):
        return "must not name a secret of the app"
    if name in registry.provider_variable_names():
        return "must not name a variable another provider reads (a key goes only to its own provider)"
    return None

def parse_config(text: str) -> list[dict]:
    """The COMPATIBLE_ROUTES list, checked; ConfigurationError naming the first thing wrong."""
    entries, problems = read_config(text)
    if problems:
        raise ConfigurationError(problems[0][1])
    return entries


def read_config(text: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """(the usable entries, [(route key, reason)] for each one that is not): a bad entry costs
    only its own route, so a team's malformed value cannot stop every page that lists routes."""
    try:
        entries = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [], [("compatible:settings", f"COMPATIBLE_ROUTES is not valid JSON: {exc}")]
    if not isinstance(entries, list):
        return [], [("compatible:settings", "COMPATIBLE_ROUTES must be a JSON list of objects.")]
    usable, problems = [], []
    for number, entry in enumerate(entries, 1):
        name = entry.get("name") if isinstance(entry, dict) else None
        key = f"compatible:{name}" if isinstance(name, str) and name else f"compatible:entry-{number}"
        problem = _entry_problem(entry)
        if problem:
            problems.append((key, f"COMPATIBLE_ROUTES entry {number} {problem}"))
        else:
            usable.append(entry)
    return usable, problems


def _entry_problem(entry) -> str | None:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k] for k in ("name", "base_url", "model")):
        return "needs name, base_url and model (strings)."
    for flag in ("edit", "mask"):
        if flag in entry and not isinstance(entry[flag], bool):
            return f"({entry['name']!r}): {flag!r} must be true or false."
    if entry.get("api_key_env") is not None:
        problem = key_env_problem(entry["api_key_env"])
        if problem:
            return f"({entry['name']!r}): api_key_env {entry['api_key_env']!r} {problem}."
    for text in ("label", "price_as"):
        if entry.get(text) is not None and not isinstance(entry[text], str):
            return f"({entry['name']!r}): {text!r} must be a string."
    return None


def routes(env: Mapping[str, str]) -> list[Route]:
    text = env.get("COMPATIBLE_ROUTES")
    if not text:
        return []
    entries, problems = read_config(text)
    found = [unusable_route(key, reason) for key, reason in problems]
    for entry in entries:
        key_env = entry.get("api_key_env")
        edit = entry.get("edit", True)
        found.append(Route(
            key=f"compatible:{entry['name']}",
            provider=CompatibleProvider,
            model=entry["model"],
            label=entry.get("label") or f"{entry['name']} ({entry['model']}, OpenAI-compatible)",
            capabilities=Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=10, edit=edit,
                                      mask=edit and entry.get("mask", True), max_input_images=MAX_EDIT_IMAGES),
            options={"base_url": entry["base_url"], "credential_names": (key_env,) if key_env else (),
                     "defined_by": "COMPATIBLE_ROUTES",
                     "key_env": key_env, "price_key": entry.get("price_as") or f"compatible:{entry['name']}"},
        ))
    return found


class CompatibleProvider(Provider):
    slug = "compatible"
    name = "OpenAI-compatible server"
    secret_names = ()  # a route names its own key (COMPATIBLE_ROUTES api_key_env)

    def generate(self, request: ImageRequest) -> ImageResult:
        key_env = self.route.options.get("key_env")
        headers = {"Authorization": f"Bearer {self.credentials[key_env]}"} if key_env else {}
        if request.is_edit:
            parts = edit_parts(self.route.model, request)
            url = f"{self.base_url}/images/edits"
            response = http.send(self.client, "POST", url, **parts.send_kwargs(), headers=headers,
                                 raise_for=raise_for_openai_error)
            cost = response.headers.get("x-litellm-response-cost")
            return images_result(response, request, self.route, parts.form, url, reported_cost=cost,
                                 request_sent=parts.sent(url))
        body = images_body(self.route.model, request)
        url = f"{self.base_url}/images/generations"
        response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=raise_for_openai_error)
        cost = response.headers.get("x-litellm-response-cost")
        return images_result(response, request, self.route, body, url, reported_cost=cost)
