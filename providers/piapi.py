"""PiAPI's OpenAI-compatible image API (PiAPI's docs), not its task API.

``POST {PIAPI_BASE_URL}/images/generations`` with the OpenAI body and Bearer auth; images come
back as ``data[].url`` or ``data[].b64_json``, with OpenAI-style ``usage`` token counts.

Two routes:
- ``gpt-image-2``: token-billed. The reported tokens times PiAPI's published token rates (catalog:
  $5/M text in, $8/M image in, $30/M image out) are a reported cost; a ``usage.cost`` figure,
  if PiAPI ever sends one, wins [I].
- ``gpt-image-2-preview``: a flat $0.10 per image whatever the tokens, so tokens say nothing about
  the price: cost stays None and the catalog's flat per-image price is the estimate.

Edits: ``POST {PIAPI_BASE_URL}/images/edits`` as multipart/form-data, the reference image as a
file field named ``image`` [V: piapi.ai/docs/gpt-image/gpt-image-api, whose one example is a
``gpt-image-2-preview`` edit with a single ``image`` file and the fields model, prompt, n, size,
response_format]. What each route is offered:
- ``gpt-image-2-preview``: exactly what the example shows, one reference image and no mask.
- ``gpt-image-2``: the OpenAI model behind an OpenAI-compatible endpoint (PiAPI bills its image
  input tokens), so several reference images go as OpenAI's repeated ``image[]`` parts, up to
  OpenAI's 16 [I]; one image is the documented ``image``. No mask on either: PiAPI documents none
  (PiAPI's docs), and a mask a relay silently dropped would make the comparison unfair.

The error envelope of this endpoint is not documented; OpenAI's ``{"error": {...}}`` is assumed
[I], and the ``{"code", "message"}`` body of PiAPI's task API is understood too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, Capabilities, ImageRequest, ImageResult, InsufficientCreditError, Provider, Route)
from .openai import MAX_EDIT_IMAGES, edit_parts, images_body, images_result, raise_for_openai_error

CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=10, prompt_limit=32_000,
                            edit=True, mask=False, max_input_images=MAX_EDIT_IMAGES)
# The preview's docs show only standard sizes and n=1 and bill a flat fee per call/image, so
# only what is shown is offered [I]; its edit example takes one ``image`` file and no mask.
PREVIEW_CAPABILITIES = Capabilities(max_n=1, prompt_limit=32_000, edit=True, mask=False, max_input_images=1)
CREDIT_WORDS = ("insufficient credit", "insufficient balance", "insufficient funds", "insufficient quota",
                "not enough credit", "balance is not enough", "top up", "recharge")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [
        Route("piapi:gpt-image-2", PiAPIProvider, "gpt-image-2", "PiAPI · GPT Image 2", CAPABILITIES),
        Route("piapi:gpt-image-2-preview", PiAPIProvider, "gpt-image-2-preview",
              "PiAPI · GPT Image 2 preview (flat $0.10)", PREVIEW_CAPABILITIES),
    ]


class PiAPIProvider(Provider):
    slug = "piapi"
    name = "PiAPI"
    credential_names = ("PIAPI_API_KEY",)
    base_url_name = "PIAPI_BASE_URL"
    secret_names = ("PIAPI_API_KEY",)
    default_base_url = "https://api.piapi.ai/v1"

    def generate(self, request: ImageRequest) -> ImageResult:
        headers = {"Authorization": f"Bearer {self.credentials['PIAPI_API_KEY']}"}
        if request.is_edit:
            parts = edit_parts(self.route.model, request)
            body: Mapping[str, Any] = parts.form
            url = f"{self.base_url}/images/edits"
            sent = parts.sent(url)
            response = http.send(self.client, "POST", url, **parts.send_kwargs(), headers=headers,
                                 raise_for=raise_for_piapi_error)
        else:
            body = images_body(self.route.model, request)
            url = f"{self.base_url}/images/generations"
            sent = None
            response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=raise_for_piapi_error)
        payload = http.json_body(response)
        if isinstance(payload, dict) and _task_api_failure(payload):  # {"code": 4xx, "message"} inside HTTP 200
            raise_for_piapi_error(httpx.Response(int(payload["code"]), json=payload))
        usage = payload.get("usage") if isinstance(payload, dict) and isinstance(payload.get("usage"), dict) else {}
        result = images_result(response, request, self.route, body, url, reported_cost=usage.get("cost"),
                               request_sent=sent)
        if len(result.images) != request.n:
            notes = result.notes + (f"asked n={request.n}, PiAPI returned {len(result.images)} image(s)",)
            result = dataclasses.replace(result, notes=notes)
        return result


def raise_for_piapi_error(response: httpx.Response) -> None:
    """Credit exhaustion by its words (PiAPI's statuses for it are undocumented), then OpenAI's
    envelope; anything else falls to the generic status mapping."""
    message = http.error_message(response)
    status = response.status_code
    if status == 402 or any(word in message.lower() for word in CREDIT_WORDS):
        raise InsufficientCreditError(f"HTTP {status}: {message}", status=status)
    try:
        envelope = isinstance(response.json().get("error"), dict)
    except (ValueError, AttributeError):
        envelope = False
    if envelope:
        raise_for_openai_error(response)
    raise http.error_for(status, message, retry_after_s=http.retry_after(response.headers))


def _task_api_failure(payload: Mapping[str, Any]) -> bool:
    code = payload.get("code")
    return isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 and not payload.get("data")
