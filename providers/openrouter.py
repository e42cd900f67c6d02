"""OpenRouter's dedicated Images API for ``openai/gpt-image-2`` (OpenRouter's docs).

``POST {OPENROUTER_BASE_URL}/images`` (image-only models are served only there, 6.1) takes
OpenRouter's ``ImageGenerationRequest`` (OpenRouterTeam/typescript-sdk ``.speakeasy/in.openapi.yaml``,
vendored in tests/conformance/specs/openrouter): the size either as ``size`` (explicit pixels,
which are authoritative: a mismatched ``aspect_ratio`` or ``resolution`` beside them is refused
with a 400) or as an ``aspect_ratio`` from the spec's list. GPT Image 2 takes any size its rule
allows, so the built-in route sends ``size`` alone, never a ratio beside it. Images come back
base64 with a ``media_type``; ``usage.cost`` is the amount charged (credits = USD) and, for BYOK
calls, ``usage.cost_details.upstream_inference_cost`` what the upstream billed on the user's own
key (6.3). Errors are ``{"error": {code, message, metadata}}`` with HTTP status = code, or inside
an HTTP 200 once generation has started (6.3).

Edits go to the same endpoint with ``input_references: [{"type": "image_url", "image_url":
{"url": ...}}]`` (the spec's ``ContentPartImage``, at most 16). Each reference is the app's public
link when it has one, else a data: URL (the spec takes "base64 data URLs or HTTP(S) URLs"). The
API has no mask field.

Custom routes: ``OPENROUTER_MODELS`` (comma-separated model ids, e.g. ``google/gemini-2.5-flash-image``)
adds a route ``openrouter:<model id>`` per model on the same endpoint (``OpenRouterCustomProvider``).
No per-model schema is read: ``n`` and the nearest ``aspect_ratio`` of the spec's list are sent
(the resolution is the model's choice; no ``size`` beside the ratio), ``quality`` and
``output_format`` (and ``seed``) are the spec's fields too, which "providers without a quality knob
ignore"; the notes say the model may ignore any of them, and compare the count and the media type
that came back with what was asked. ``usage.cost`` is the reported cost; there is no catalog
price. No edits.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

import httpx

from . import http, openai
from .base import (GPT_IMAGE_2_SIZES, MIME_TYPES, AuthenticationError, BadResponseError, Capabilities,
                   ContentPolicyError, GeneratedImage, ImageRequest, ImageResult, InsufficientCreditError,
                   InvalidRequestError, Provider, ProviderError, ProviderTimeoutError, ProviderUnavailableError,
                   RateLimitError, Route, Usage, sent_parameters, snap_aspect_ratio)
from .custom import custom_routes, listed_ids

# The ratios of ImageGenerationRequest.aspect_ratio in OpenRouter's OpenAPI (its "auto" aside).
ASPECT_RATIOS = ("1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4", "8:1",
                 "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9", "9:21", "21:9")
# The standard GPT Image 2 sizes (sent like any other, as explicit pixels).
STANDARD_SIZES = {(1024, 1024): "1:1", (1024, 1536): "2:3", (1536, 1024): "3:2"}
# Any size GPT Image 2 allows is accepted and sent as explicit pixels.
# ImageGenerationRequest.input_references: maxItems 16.
MAX_INPUT_IMAGES = 16
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=10, prompt_limit=32_000,
                            edit=True, mask=False, max_input_images=MAX_INPUT_IMAGES)
KEPT_HEADERS = ("x-generation-id", "x-request-id", "retry-after", "x-ratelimit-limit",
                "x-ratelimit-remaining", "x-ratelimit-reset")
MODERATION_WORDS = ("moderation", "flagged", "guardrail", "safety system", "content policy", "moderation_blocked")


BUILT_IN_MODEL = "openai/gpt-image-2"
# Custom routes take custom.CUSTOM_CAPABILITIES: a size goes as the nearest aspect ratio (noted), a
# seed as the spec's ``seed``.
# author/slug, optionally with a variant (":free", ":nitro").
MODEL_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(:[\w.-]+)?$")



def custom_models(env: Mapping[str, str]) -> list[str]:
    """The model ids in ``OPENROUTER_MODELS``, checked, without repeats nor the built-in one."""
    return listed_ids(env, "OPENROUTER_MODELS", MODEL_RE, "an OpenRouter model id like 'author/slug'",
                      built_in=BUILT_IN_MODEL)


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("openrouter:openai/gpt-image-2", OpenRouterProvider, "openai/gpt-image-2",
                  "OpenRouter · GPT Image 2", CAPABILITIES),
            *custom_routes("openrouter", OpenRouterCustomProvider, "OpenRouter ·", custom_models(env))]


class OpenRouterProvider(Provider):
    slug = "openrouter"
    name = "OpenRouter"
    credential_names = ("OPENROUTER_API_KEY",)
    base_url_name = "OPENROUTER_BASE_URL"
    secret_names = ("OPENROUTER_API_KEY",)
    default_base_url = "https://openrouter.ai/api/v1"

    def images_body(self, request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
        return images_body(self.route.model, request)

    def generate(self, request: ImageRequest) -> ImageResult:
        body, notes = self.images_body(request)
        url = f"{self.base_url}/images"
        headers = {"Authorization": f"Bearer {self.credentials['OPENROUTER_API_KEY']}"}
        response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=raise_for_openrouter_error)
        payload = http.json_object(response, "OpenRouter")
        if isinstance(payload.get("error"), dict):  # an error after generation started: HTTP 200 (6.3)
            raise openrouter_error(payload["error"], response.status_code, response.headers)
        images = parse_images(payload, request)
        notes += result_notes(request, images)
        usage, usage_notes = usage_from(payload.get("usage"))
        return ImageResult(
            images=tuple(images),
            usage=usage,
            request_id=payload.get("id") or response.headers.get("x-generation-id") or response.headers.get("x-request-id"),
            request_sent={"method": "POST", "url": url, "json": kept_body(body, request)},
            response_headers=http.kept_headers(response, KEPT_HEADERS),
            notes=tuple(notes + usage_notes),
            sent=sent_parameters(body),  # a custom route's aspect_ratio is not a size: left out
        )


def images_body(model: str, request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    """The request body and the notes on what could not be expressed exactly."""
    # OpenAI's fields. The size as explicit pixels, authoritative for OpenRouter; no aspect_ratio or
    # resolution beside them (a mismatched one is refused with a 400, and GPT Image 2 takes the pixels).
    body = openai.images_body(model, request)
    if request.images:
        body["input_references"] = [{"type": "image_url", "image_url": {"url": image.url or image.data_url()}}
                                    for image in request.images]
    notes = []
    if (request.width, request.height) not in STANDARD_SIZES:
        notes.append(f"asked size {request.size}: sent as explicit pixels, which OpenRouter normalises to the "
                     "dimensions the upstream provider takes")
    return body, notes


class OpenRouterCustomProvider(OpenRouterProvider):
    """Any OpenRouter image model by id (``OPENROUTER_MODELS``), text to image."""

    def images_body(self, request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
        return custom_body(self.route.model, request)


def custom_body(model: str, request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    """The body for a model OpenRouter tells us nothing about, and the notes on what it may ignore."""
    ratio, exact = snap_aspect_ratio(request.width, request.height, ASPECT_RATIOS)
    body: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt,
        "n": request.n,
        # A ratio, not pixels: a model OpenRouter tells us nothing about may not take any size,
        # and a size beside a ratio that does not match it is refused.
        "aspect_ratio": ratio,
        "quality": request.quality,  # providers without a quality knob ignore it (the spec)
        "output_format": request.output_format,
    }
    fields = ["quality", "output_format"]
    if request.seed is not None:
        body["seed"] = request.seed
        fields.append("seed")
    how = f"so {ratio} was sent" if exact else f"so the nearest one, {ratio}, was sent"
    notes = [f"custom OpenRouter route, no input schema: n, {', '.join(fields)} were sent as OpenRouter's "
             f"fields; {model} may ignore any of them",
             f"asked size {request.size}; for a custom route OpenRouter is given an aspect ratio, {how} "
             "(the resolution is the model's choice)"]
    return body, notes


def kept_body(body: Mapping[str, Any], request: ImageRequest) -> dict[str, Any]:
    """The body as sent, minus the reference bytes (data: URLs become their prefix and size) and
    the links' query and signed last segment."""
    if "input_references" not in body:
        return dict(body)
    kept = [{"type": "image_url", "image_url": {"url": image.describe(ref["image_url"]["url"])}}
            for ref, image in zip(body["input_references"], request.images)]
    return {**body, "input_references": kept}


def parse_images(payload: Mapping[str, Any], request: ImageRequest) -> list[GeneratedImage]:
    """``data[].b64_json`` (+``media_type``); a ``url`` (https or data:) is accepted too."""
    images = []
    for item in payload.get("data") or []:
        if not isinstance(item, dict):
            continue
        mime = item.get("media_type") or MIME_TYPES.get(request.output_format)
        encoded = item.get("b64_json")
        if isinstance(encoded, str) and encoded.startswith("data:"):
            images.append(GeneratedImage(url=encoded, mime=mime))
        elif encoded:
            images.append(http.decoded_image(encoded, mime, "OpenRouter"))
        elif item.get("url"):
            images.append(GeneratedImage(url=item["url"], mime=mime))
    if not images:
        raise BadResponseError("OpenRouter answered without any image in data[].")
    return images


def result_notes(request: ImageRequest, images: list[GeneratedImage]) -> list[str]:
    notes = []
    if len(images) != request.n:
        notes.append(f"asked n={request.n}, OpenRouter returned {len(images)} image(s)")
    asked = MIME_TYPES.get(request.output_format)
    got = {image.mime for image in images if image.mime}
    if asked and got and got != {asked}:
        notes.append(f"asked output_format {request.output_format}, OpenRouter returned {', '.join(sorted(got))}")
    return notes


def usage_from(raw: Any) -> tuple[Usage | None, list[str]]:
    """``usage.cost`` is what OpenRouter charged. On a BYOK call that is only OpenRouter's fee:
    ``cost_details.upstream_inference_cost`` (billed on the user's own key) is added, so the
    cost shown is what the image cost in all. Without ``usage.cost`` the catalog estimates."""
    if not isinstance(raw, dict) or not raw:
        return None, []
    cost = _decimal(raw.get("cost"))
    notes = []
    details = raw.get("cost_details") if isinstance(raw.get("cost_details"), dict) else {}
    upstream = _decimal(details.get("upstream_inference_cost"))
    if raw.get("is_byok") is True and upstream:
        notes.append(f"BYOK: OpenRouter charged ${cost or 0} and the upstream provider ${upstream} on your own key; "
                     "the cost shown is their sum")
        cost = (cost or Decimal(0)) + upstream
    output_details = raw.get("completion_tokens_details") if isinstance(raw.get("completion_tokens_details"), dict) else {}
    output = output_details.get("image_tokens", raw.get("completion_tokens"))
    prompt = raw.get("prompt_tokens")
    return Usage(cost_usd=cost, input_tokens=prompt if isinstance(prompt, int) else None,
                 output_tokens=output if isinstance(output, int) else None, raw=dict(raw),
                 basis="billed" if cost is not None else None), notes


def raise_for_openrouter_error(response: httpx.Response) -> None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return  # not OpenRouter's envelope: the generic mapping applies
    if isinstance(error, dict):
        raise openrouter_error(error, response.status_code, response.headers)


def openrouter_error(error: Mapping[str, Any], status: int, headers: httpx.Headers) -> ProviderError:
    """The shared error for an OpenRouter error object. Inside an HTTP 200, ``error.code`` is
    the status. The provider's words include the upstream's own (``metadata.raw``)."""
    if status < 400:
        try:
            status = int(error.get("code"))
        except (TypeError, ValueError):
            status = 502
        if status < 400:
            status = 502  # no usable code after generation started: the upstream failed
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
    message = str(error.get("message") or "OpenRouter reported an error")
    raw = metadata.get("raw")
    if raw:
        who = metadata.get("provider_name") or "upstream"
        message = f"{message} ({who}: {raw if isinstance(raw, str) else raw!r})"
    if metadata.get("reasons"):
        message = f"{message} [reasons: {', '.join(map(str, metadata['reasons']))}]"
    text = f"HTTP {status}: {message}"[: http.MAX_MESSAGE]
    retry = http.retry_after(headers)
    moderation = bool(metadata.get("reasons") or metadata.get("flagged_input")) or any(
        word in message.lower() for word in MODERATION_WORDS)
    if moderation and status in (400, 403, 422, 451):
        return ContentPolicyError(text, status=status)
    if status == 401 or status == 403:
        return AuthenticationError(text, status=status)  # 403 without a moderation flag: permissions
    if status == 402:
        return InsufficientCreditError(text, status=status)
    if status == 408:
        return ProviderTimeoutError(text, status=status)
    if status == 429:
        return RateLimitError(text, status=status, retry_after=retry)
    if status >= 500:
        return ProviderUnavailableError(text, status=status, retry_after=retry)
    if 400 <= status < 500:
        return InvalidRequestError(text, status=status)
    return http.error_for(status, message, retry_after_s=retry)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
