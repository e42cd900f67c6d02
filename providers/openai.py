"""OpenAI Images API, direct: ``POST {OPENAI_BASE_URL}/images/generations`` (JSON) and, for an
edit, ``POST {OPENAI_BASE_URL}/images/edits`` (multipart/form-data: the reference images as file
parts, ``image`` for one and ``image[]`` for several, an optional ``mask`` file, and the
generation fields as text fields); base64 images, token usage priced from the catalog
(OpenAI's docs).

The functions at module level speak the OpenAI Images *shape*, which several other routes share
(Azure OpenAI, Vercel AI Gateway, PiAPI, any OpenAI-compatible server): those adapters call them
instead of inheriting from this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, MIME_TYPES, AuthenticationError, BadResponseError, Capabilities,
                   ContentPolicyError, GeneratedImage, ImageRequest, ImageResult, InputImage, InsufficientCreditError,
                   InvalidRequestError, Provider, RateLimitError, Route, Timings, Usage, sent_parameters)
from .pricing import price_for

# Edits: up to 16 reference images and a PNG mask on the first (OpenAI's docs).
MAX_EDIT_IMAGES = 16
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=10, prompt_limit=32_000,
                            edit=True, mask=True, max_input_images=MAX_EDIT_IMAGES)
# Response headers worth keeping with a result, for reproducing it or asking the provider.
KEPT_HEADERS = ("x-request-id", "openai-processing-ms", "openai-version", "openai-model",
                "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "x-litellm-response-cost",
                "x-litellm-model-api-base", "apim-request-id", "x-ms-region")


def openai_headers(credentials: Mapping[str, str]) -> dict[str, str]:
    """Bearer auth with OPENAI_API_KEY, and the organisation and project headers when they are set."""
    headers = {"Authorization": f"Bearer {credentials['OPENAI_API_KEY']}"}
    if credentials.get("OPENAI_ORG_ID"):
        headers["OpenAI-Organization"] = credentials["OPENAI_ORG_ID"]
    if credentials.get("OPENAI_PROJECT_ID"):
        headers["OpenAI-Project"] = credentials["OPENAI_PROJECT_ID"]
    return headers


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("openai:gpt-image-2", OpenAIProvider, "gpt-image-2", "OpenAI GPT Image 2 (direct)", CAPABILITIES)]


class OpenAIProvider(Provider):
    slug = "openai"
    name = "OpenAI"
    credential_names = ("OPENAI_API_KEY",)
    optional_names = ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID")
    base_url_name = "OPENAI_BASE_URL"
    secret_names = ("OPENAI_API_KEY",)
    default_base_url = "https://api.openai.com/v1"

    def headers(self) -> dict[str, str]:
        return openai_headers(self.credentials)

    def verify(self) -> str:
        """``GET /models``: free, and answers 401 for a bad key."""
        http.send(self.client, "GET", f"{self.base_url}/models", headers=self.headers(), raise_for=raise_for_openai_error)
        return "the key works (GET /models answered)"

    def generate(self, request: ImageRequest) -> ImageResult:
        if request.is_edit:
            parts = edit_parts(self.route.model, request)
            url = f"{self.base_url}/images/edits"
            response = http.send(self.client, "POST", url, **parts.send_kwargs(), headers=self.headers(),
                                 raise_for=raise_for_openai_error)
            return images_result(response, request, self.route, parts.form, url, request_sent=parts.sent(url))
        body = images_body(self.route.model, request)
        url = f"{self.base_url}/images/generations"
        response = http.send(self.client, "POST", url, json=body, headers=self.headers(), raise_for=raise_for_openai_error)
        return images_result(response, request, self.route, body, url)


def images_body(model: str, request: ImageRequest, **extra: Any) -> dict[str, Any]:
    """The generations body. Quality is always explicit, never the provider's default."""
    body = {
        "model": model,
        "prompt": request.prompt,
        "n": request.n,
        "size": request.size,
        "quality": request.quality,
        "output_format": request.output_format,
    }
    body.update(extra)
    return body


# --- edits: the multipart shape of POST /images/edits (OpenAI's docs) ----------------


@dataclass(frozen=True)
class EditParts:
    """An edits request as multipart/form-data: ``form`` holds the text fields (strings),
    ``files`` the file parts as httpx takes them: ``(field, (filename, bytes, mime))``."""

    form: dict[str, str]
    files: list[tuple[str, tuple[str, bytes, str]]]

    def send_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``httpx.Client.request`` (httpx builds the multipart body)."""
        return {"data": self.form, "files": self.files}

    def sent(self, url: str, **extra: Any) -> dict[str, Any]:
        """What was sent, for ``ImageResult.request_sent``: the text fields and, per file part,
        its field, name, type and size; never the bytes."""
        return {
            "method": "POST",
            "url": url,
            "content_type": "multipart/form-data",
            "form": dict(self.form),
            "files": [{"field": field, "filename": name, "mime": mime, "bytes": len(data)}
                      for field, (name, data, mime) in self.files],
            **extra,
        }


def edit_parts(model: str, request: ImageRequest, *, image_field: str = "image", array_field: str = "image[]",
               mask_field: str | None = "mask", **extra: Any) -> EditParts:
    """The edits request: the generations fields as text fields (quality explicit, as for
    generations; ``input_fidelity`` never, gpt-image-2 always works at high fidelity), one
    reference image as ``image_field`` or several as repeated ``array_field`` parts (the OpenAI
    SDK's "brackets" array format), then the mask (applied to the first image) as ``mask_field``.
    ``extra`` adds or overrides text fields; a None value drops a field."""
    form = {key: str(value) for key, value in images_body(model, request, **extra).items() if value is not None}
    field = image_field if len(request.images) == 1 else array_field
    files = [(field, file_part(image, index)) for index, image in enumerate(request.images, start=1)]
    if request.mask is not None and mask_field:
        files.append((mask_field, file_part(request.mask, 0, stem="mask")))
    return EditParts(form=form, files=files)


def file_part(image: InputImage, index: int, *, stem: str = "image") -> tuple[str, bytes, str]:
    """``(filename, bytes, mime)`` for one file part; a name with the type's extension when the
    image has none (servers that sniff by extension then agree with the content type)."""
    extension = {"image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(image.mime, "png")
    name = image.filename if image.filename and "." in image.filename else f"{stem}-{index}.{extension}"
    return name, image.data, image.mime or "image/png"


def raise_for_openai_error(response: httpx.Response) -> None:
    """Map the ``{"error": {message, type, code}}`` envelope to the shared errors."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return  # not the OpenAI shape: the generic mapping applies
    if not isinstance(error, dict) or not error:
        return  # no OpenAI error object: the generic mapping keeps the body's own words
    message = str(error.get("message") or response.reason_phrase)[: http.MAX_MESSAGE]
    code = str(error.get("code") or "")
    kind = str(error.get("type") or "")
    status = response.status_code
    retry = http.retry_after(response.headers)
    text = f"HTTP {status}: {message}"
    if code in ("moderation_blocked", "content_policy_violation", "content_filter") or "safety system" in message:
        raise ContentPolicyError(text, status=status)
    if code == "insufficient_quota" or kind == "insufficient_quota" or code == "billing_hard_limit_reached":
        raise InsufficientCreditError(text, status=status)
    if status in (401, 403):
        raise AuthenticationError(text, status=status)
    if status == 429:
        raise RateLimitError(text, status=status, retry_after=retry)
    if status in (400, 404, 409, 422):
        raise InvalidRequestError(text, status=status)


def images_result(response: httpx.Response, request: ImageRequest, route: Route, body: Mapping[str, Any],
                  url: str, *, reported_cost: Any = None, request_sent: Mapping[str, Any] | None = None) -> ImageResult:
    """Read an OpenAI-shaped images response (generations and edits answer alike):
    ``data[].b64_json`` or ``data[].url``, ``usage``. ``request_sent`` replaces the default record
    of a JSON ``body`` (an edit's multipart record, ``EditParts.sent``)."""
    payload = http.json_object(response)
    if isinstance(payload.get("error"), dict):  # an error inside HTTP 200
        raise_for_openai_error(httpx.Response(400, json=payload))
        raise BadResponseError(f"The provider answered 200 with an error: {http.error_message(response)}")
    images = []
    for item in payload.get("data") or []:
        if not isinstance(item, dict):
            continue
        mime = item.get("media_type") or MIME_TYPES.get(str(payload.get("output_format") or request.output_format))
        if item.get("b64_json"):
            images.append(http.decoded_image(item["b64_json"], mime))
        elif item.get("url"):
            images.append(GeneratedImage(url=item["url"], mime=mime))
    if not images:
        raise BadResponseError("The provider answered without any image in data[].")

    usage_raw = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    usage = usage_from(route.options.get("price_key") or route.key, usage_raw, reported_cost)
    headers = http.kept_headers(response, KEPT_HEADERS)
    processing = response.headers.get("openai-processing-ms")
    notes = echo_notes(request, payload)
    revised = tuple(item["revised_prompt"] for item in payload.get("data") or []
                    if isinstance(item, dict) and isinstance(item.get("revised_prompt"), str) and item["revised_prompt"])
    return ImageResult(
        images=tuple(images),
        usage=usage,
        timings=Timings(provider_generation_ms=float(processing) if _is_number(processing) else None),
        request_id=response.headers.get("x-request-id") or payload.get("id"),
        request_sent=dict(request_sent) if request_sent is not None else {"method": "POST", "url": url, "json": dict(body)},
        response_headers=headers,
        notes=tuple(notes),
        sent=sent_parameters(body),
        revised_prompts=revised,
    )


def usage_from(route_key: str, raw: Mapping[str, Any], reported_cost: Any = None) -> Usage | None:
    """Usage with a cost: the provider's own figure if it gave one (billed), else its reported
    token counts times the catalog's token prices (usage); no cost when neither is there."""
    if not raw and reported_cost is None:
        return None
    input_details = raw.get("input_tokens_details") or {}
    output_details = raw.get("output_tokens_details") or {}
    input_tokens = raw.get("input_tokens", raw.get("prompt_tokens"))
    output_tokens = raw.get("output_tokens", raw.get("completion_tokens"))
    cost, basis = None, None
    if reported_cost is not None:
        cost, basis = _decimal(reported_cost), "billed"
    else:
        price = price_for(route_key)
        if price is not None and isinstance(output_tokens, int):
            image_out = output_details.get("image_tokens", output_tokens)
            text_out = output_details.get("text_tokens", output_tokens - image_out if isinstance(image_out, int) else 0)
            text_in = input_details.get("text_tokens", input_tokens if not input_details else 0)
            cost = price.cost_of_tokens(text_input=text_in, image_input=input_details.get("image_tokens"),
                                        image_output=image_out, text_output=text_out)
            basis = "usage"
    return Usage(cost_usd=cost, input_tokens=input_tokens if isinstance(input_tokens, int) else None,
                 output_tokens=output_tokens if isinstance(output_tokens, int) else None, raw=dict(raw),
                 basis=basis if cost is not None else None)


def echo_notes(request: ImageRequest, payload: Mapping[str, Any]) -> list[str]:
    """Where the provider says it did something other than what was asked."""
    notes = []
    for field, asked in (("size", request.size), ("quality", request.quality), ("output_format", request.output_format)):
        said = payload.get(field)
        if said and said != asked and not (field == "quality" and asked == "auto"):
            notes.append(f"asked {field} {asked}, the provider used {said}")
        elif said and field == "quality" and asked == "auto":
            notes.append(f"quality auto: the provider chose {said}")
    return notes


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _decimal(value: Any):
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
