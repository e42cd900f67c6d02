"""Vercel AI Gateway, OpenAI Images route (Vercel's docs).

Image-only models use ``POST {AI_GATEWAY_BASE_URL}/images/generations`` with the OpenAI body and
``model: "openai/gpt-image-2"``; the answer is OpenAI-shaped (``data[].b64_json`` or ``url``) [I].

Cost, decided here: the gateway's own figure wins when the answer carries one
(``provider_metadata.gateway.cost``, the field Vercel's OpenAI-compatible answers and the AI SDK
use [I for images]). Otherwise reported ``usage`` tokens are priced at Vercel's published token
rates from the catalog ($5/M input, $30/M output, no markup): the tokens are the gateway's
statement of what it billed, so that is a reported cost, as for OpenAI direct. With neither,
``cost_usd`` stays None and the app shows the catalog estimate.

Errors: the gateway envelope ``{"error": {message, type, param, code}, "generationId"}`` with
types ``authentication_error``, ``invalid_request_error``, ``rate_limit_exceeded``,
``model_not_found``, ``forbidden``, ``internal_server_error``, ``failed_dependency`` (vercel/ai
``packages/gateway`` ``createGatewayErrorFromResponse``); OpenAI's own refusal codes pass through.

No edits on this route (``edit=False``): whether the gateway serves ``/v1/images/edits`` is not
documented by Vercel (its docs name only ``/v1/images/generations`` for image-only models and chat
completions for multimodal ones); the JSON ``images: [{image_url}]`` shape seen in a public client
is another gateway's. Vercel's own edit protocol is the AI SDK's ``POST /v3/ai/image-model`` with
``files`` (vercel/ai ``packages/gateway/src/gateway-image-model.ts``), a different endpoint and
answer shape; its ``mask`` is reported silently ignored for OpenAI models (vercel/ai issue #14360).
An edit reaching this adapter is refused rather than sent as a plain generation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, AuthenticationError, Capabilities, ContentPolicyError, ImageRequest, ImageResult,
                   InsufficientCreditError, InvalidRequestError, Provider, ProviderError, ProviderTimeoutError,
                   ProviderUnavailableError, RateLimitError, Route)
from .openai import images_body, images_result, usage_from

# Aspect ratios 1:3 to 3:1 and up to 10 outputs per call (Vercel's model page).
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=10, prompt_limit=32_000)
KEPT_HEADERS = ("x-vercel-id", "x-request-id", "retry-after", "x-ratelimit-remaining-requests")
REFUSAL_CODES = ("moderation_blocked", "content_policy_violation", "content_filter")
# The status each gateway error type stands for, to judge an error found inside an HTTP 200.
STATUS_OF_TYPE = {"invalid_request_error": 400, "authentication_error": 401, "forbidden": 403, "model_not_found": 404,
                  "timeout_error": 408, "failed_dependency": 424, "rate_limit_exceeded": 429, "internal_server_error": 500}
CREDIT_WORDS = ("insufficient funds", "insufficient credit", "insufficient balance", "out of credits", "top up")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("vercel:openai/gpt-image-2", VercelGatewayProvider, "openai/gpt-image-2",
                  "Vercel AI Gateway · GPT Image 2", CAPABILITIES)]


class VercelGatewayProvider(Provider):
    slug = "vercel"
    name = "Vercel AI Gateway"
    credential_names = ("AI_GATEWAY_API_KEY",)
    base_url_name = "AI_GATEWAY_BASE_URL"
    secret_names = ("AI_GATEWAY_API_KEY",)
    default_base_url = "https://ai-gateway.vercel.sh/v1"

    def generate(self, request: ImageRequest) -> ImageResult:
        if request.images or request.mask is not None:
            raise InvalidRequestError("Edits are not offered on the Vercel AI Gateway route: an images edit endpoint "
                                      "for openai/gpt-image-2 is not documented by Vercel.")
        body = images_body(self.route.model, request)
        url = f"{self.base_url}/images/generations"
        headers = {"Authorization": f"Bearer {self.credentials['AI_GATEWAY_API_KEY']}"}
        response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=raise_for_gateway_error)
        payload = http.json_body(response)
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):  # an error inside HTTP 200
            kind = payload["error"].get("type")
            raise gateway_error(payload, STATUS_OF_TYPE.get(kind, 502), response.headers)
        result = images_result(response, request, self.route, body, url)
        gateway = gateway_metadata(payload)
        usage = usage_from(self.route.key, normalised_usage(payload.get("usage")), gateway.get("cost"))
        notes = list(result.notes)
        if len(result.images) != request.n:
            notes.append(f"asked n={request.n}, the gateway returned {len(result.images)} image(s)")
        return dataclasses.replace(
            result,
            usage=usage,
            request_id=gateway.get("generationId") or payload.get("generationId") or result.request_id
            or response.headers.get("x-vercel-id"),
            response_headers=http.kept_headers(response, KEPT_HEADERS),
            notes=tuple(notes),
        )


def gateway_metadata(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``provider_metadata.gateway`` (or the AI SDK's ``providerMetadata.gateway``), else {}."""
    for name in ("provider_metadata", "providerMetadata"):
        block = payload.get(name)
        if isinstance(block, dict) and isinstance(block.get("gateway"), dict):
            return block["gateway"]
    return {}


def normalised_usage(raw: Any) -> dict[str, Any]:
    """OpenAI's snake_case usage as is; the AI SDK's camelCase ``inputTokens``/``outputTokens``
    mapped onto it (the gateway's own image protocol uses those names)."""
    if not isinstance(raw, dict):
        return {}
    usage = dict(raw)
    for camel, snake in (("inputTokens", "input_tokens"), ("outputTokens", "output_tokens"), ("totalTokens", "total_tokens")):
        if camel in usage and snake not in usage:
            usage[snake] = usage.pop(camel)
    return usage


def raise_for_gateway_error(response: httpx.Response) -> None:
    try:
        payload = response.json()
    except ValueError:
        return  # not the gateway's envelope: the generic mapping applies
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        raise gateway_error(payload, response.status_code, response.headers)


def gateway_error(payload: Mapping[str, Any], status: int, headers: httpx.Headers) -> ProviderError:
    error = payload["error"]
    message = str(error.get("message") or "The gateway reported an error")
    kind = str(error.get("type") or "")
    code = str(error.get("code") or "")
    text = f"HTTP {status}: {message}"[: http.MAX_MESSAGE]
    retry = http.retry_after(headers)
    lowered = message.lower()
    if code in REFUSAL_CODES or kind in REFUSAL_CODES or "safety system" in lowered:
        return ContentPolicyError(text, status=status)
    if status == 402 or code in ("insufficient_quota", "insufficient_funds") or any(w in lowered for w in CREDIT_WORDS):
        return InsufficientCreditError(text, status=status)
    if kind == "authentication_error" or status == 401:
        return AuthenticationError(text, status=status)
    if kind == "forbidden" or status == 403:
        return AuthenticationError(text, status=status)  # a gateway rule or key scope forbids it
    if kind == "rate_limit_exceeded" or status == 429:
        return RateLimitError(text, status=status, retry_after=retry)
    if kind == "timeout_error" or status in (408, 504):
        return ProviderTimeoutError(text, status=status)
    if kind in ("internal_server_error", "failed_dependency", "response_error") or status >= 500 or status == 424:
        return ProviderUnavailableError(text, status=status, retry_after=retry)
    if kind in ("invalid_request_error", "model_not_found") or 400 <= status < 500:
        return InvalidRequestError(text, status=status)
    return http.error_for(status, message, retry_after_s=retry)
