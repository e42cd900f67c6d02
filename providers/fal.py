"""fal.ai queue protocol for ``openai/gpt-image-2`` (fal's docs).

Submit ``POST {FAL_QUEUE_BASE_URL}/openai/gpt-image-2`` with ``Authorization: Key <FAL_KEY>``;
the answer names ``status_url``, ``response_url`` and ``cancel_url``. Poll the status until
``COMPLETED`` (a failed request also ends ``COMPLETED``, with ``error``/``error_type`` set), then
GET the result ``{"images": [{url, content_type, width, height, ...}]}``; at our deadline PUT the
cancel URL. fal reports no cost: the price comes from the catalog; ``metrics.inference_time``
(seconds, only on ``COMPLETED``) is the provider's own generation time.

Custom routes: ``FAL_MODELS`` (comma-separated endpoint ids, e.g. ``fal-ai/flux/dev``) adds a route
``fal:<endpoint id>`` per id, on the same queue protocol (``FalCustomProvider``). No schema is read
(fal's OpenAPI per endpoint lives on another host, fal.ai/api/openapi): the body carries fal's
usual text-to-image inputs, ``prompt``, ``image_size`` ``{width, height}``, ``num_images``,
``output_format`` (and ``seed`` when asked), which a model may ignore; the notes say so, name
what was not sent (``quality``: fal has no common quality input) and compare what came back
(count, the ``width``/``height`` and ``content_type`` fal reports per image) with what was asked.
No catalog price, no edits.
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, MIME_TYPES, AuthenticationError, BadResponseError, Capabilities,
                   ContentPolicyError, GeneratedImage, ImageRequest, InputImage, ImageResult, InsufficientCreditError,
                   InvalidRequestError, Provider, ProviderError, ProviderTimeoutError, ProviderUnavailableError,
                   RateLimitError, Route, Timings, sent_parameters)
from .custom import custom_routes, listed_ids

ENDPOINT = "openai/gpt-image-2"
EDIT_SUBPATH = "edit"  # openai/gpt-image-2/edit (fal's docs)
MAX_INPUT_IMAGES = 16  # GptImage2EditInput.image_urls: up to 16
# Any size the GPT Image 2 rule allows goes as {"width", "height"} (fal's docs), for edits
# too. Edits take reference images as URLs or data: URIs and a mask (``mask_url``).
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=4, prompt_limit=32_000,
                            edit=True, mask=True, max_input_images=MAX_INPUT_IMAGES)
KEPT_HEADERS = ("x-fal-request-id", "x-fal-billable-units", "x-fal-error-type", "x-fal-retryable")
DONE = "COMPLETED"
FAILED = ("FAILED", "CANCELED", "CANCELLED", "ERROR")  # not in fal's SDK; tolerated [I]
# error_type values of fal's request errors (fal docs "Request Error Types").
TIMEOUT_TYPES = ("request_timeout", "startup_timeout", "runner_connection_timeout")
INVALID_TYPES = ("bad_request",)
# 403 bodies that mean "no credit", not "bad key": "User is locked. Reason: Exhausted balance..."
CREDIT_WORDS = ("exhausted balance", "reason: top_up", "top up your balance")


# Custom routes take custom.CUSTOM_CAPABILITIES: sizes go as {width, height} (what most fal image
# models take) [I], a seed as fal's usual ``seed`` input.
# owner/alias[/sub/path]: letters, digits, '.', '_', '-' per segment.
ENDPOINT_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)+$")



def custom_endpoint_ids(env: Mapping[str, str]) -> list[str]:
    """The endpoint ids in ``FAL_MODELS``, checked, without repeats nor the built-in GPT Image 2 one."""
    return listed_ids(env, "FAL_MODELS", ENDPOINT_ID_RE, "a fal endpoint id like 'fal-ai/flux/dev'",
                      slashes=True, refused_segment="requests", built_in=ENDPOINT)


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route(f"fal:{ENDPOINT}", FalProvider, ENDPOINT, "fal.ai GPT Image 2 (queue)", CAPABILITIES),
            *custom_routes("fal", FalCustomProvider, "fal.ai", custom_endpoint_ids(env))]


class FalProvider(Provider):
    slug = "fal"
    name = "fal.ai"
    credential_names = ("FAL_KEY",)
    base_url_name = "FAL_QUEUE_BASE_URL"
    secret_names = ("FAL_KEY",)
    default_base_url = "https://queue.fal.run"
    poll_interval = 0.5  # fal's own client polls every 0.1 s; half a second is gentler [I]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.credentials['FAL_KEY']}"}

    def input_body(self, request: ImageRequest) -> dict[str, Any]:
        return input_body(request)

    def endpoint(self, request: ImageRequest) -> str:
        return f"{self.route.model}/{EDIT_SUBPATH}" if request.is_edit else self.route.model

    def images(self, output: Any, request: ImageRequest) -> list[GeneratedImage]:
        return images_from(output, request)

    def notes(self, request: ImageRequest, output: Mapping[str, Any]) -> list[str]:
        return notes_for(request, output)

    def generate(self, request: ImageRequest) -> ImageResult:
        body = self.input_body(request)
        endpoint = self.endpoint(request)
        submit_url = f"{self.base_url}/{endpoint}"
        submitted = http.send(self.client, "POST", submit_url, json=body, headers=self.headers(),
                              raise_for=raise_for_fal_error)
        job = http.json_body(submitted)
        if not isinstance(job, dict) or not job.get("request_id"):
            raise BadResponseError("fal accepted the request but named no request_id.")
        urls = job_urls(self.base_url, endpoint, job)  # rebuilt ones drop "/edit"

        def check() -> dict | None:
            response = http.send(self.client, "GET", urls["status_url"], headers=self.headers(),
                                 raise_for=raise_for_fal_error)
            status = http.json_body(response)
            if not isinstance(status, dict):
                raise BadResponseError("fal's status answer is not a JSON object.")
            state = str(status.get("status") or "").upper()
            if state == DONE or state in FAILED:
                return status
            return None  # IN_QUEUE (queue_position) or IN_PROGRESS: keep polling

        def cancel() -> None:
            http.send(self.client, "PUT", urls["cancel_url"], headers=self.headers(), raise_for=raise_for_fal_error)

        status = http.poll(check, interval=self.poll_interval, deadline_at=self.clock() + self.deadline,
                           clock=self.clock, sleep=self.sleep, on_give_up=cancel)
        raise_for_failed_status(status)
        # The job exists and is done: fetching its result is retried like a status check, and
        # any failure is after_submit (a second submit would bill a second generation).
        result = http.poll(lambda: http.send(self.client, "GET", urls["response_url"], headers=self.headers(),
                                             raise_for=raise_for_fal_error),
                           interval=self.poll_interval, deadline_at=self.clock() + self.deadline,
                           clock=self.clock, sleep=self.sleep, on_give_up=lambda: None)
        output = http.json_body(result)
        return ImageResult(
            images=tuple(self.images(output, request)),
            timings=Timings(provider_generation_ms=inference_ms(status)),
            request_id=str(job["request_id"]),
            request_sent={"method": "POST", "url": submit_url, "json": kept_body(body, request)},
            response_headers=kept_headers(submitted, result),
            notes=tuple(self.notes(request, output)),
            sent=sent_parameters(body, {"n": "num_images", "size": "image_size"}),
        )


class FalCustomProvider(FalProvider):
    """Any fal model by endpoint id (``FAL_MODELS``), text to image, on the same queue protocol."""

    def input_body(self, request: ImageRequest) -> dict[str, Any]:
        return custom_input_body(request)

    def endpoint(self, request: ImageRequest) -> str:
        return self.route.model

    def images(self, output: Any, request: ImageRequest) -> list[GeneratedImage]:
        if isinstance(output, dict) and not output.get("images") and isinstance(output.get("image"), dict):
            output = {"images": [output["image"]]}  # some fal models answer one ``image``
        return images_from(output, request)

    def notes(self, request: ImageRequest, output: Mapping[str, Any]) -> list[str]:
        return custom_notes(request, output)


def input_body(request: ImageRequest) -> dict[str, Any]:
    """fal's ``GptImage2Input``, or ``GptImage2EditInput`` for an edit. Quality always explicit:
    fal's own default is ``high``.

    The edit endpoint's ``image_size`` defaults to ``auto`` (the size inferred from the inputs);
    the explicit ``{"width", "height"}`` the user asked for is sent instead, so an edit comes back
    at the same size on every route being compared, as on the text-to-image endpoint."""
    body: dict[str, Any] = {"prompt": request.prompt}
    if request.images:
        body["image_urls"] = [input_url(image) for image in request.images]
        if request.mask is not None:
            body["mask_url"] = input_url(request.mask)
    body.update({
        "image_size": {"width": request.width, "height": request.height},
        "quality": request.quality,  # low | medium | high | auto (fal-js GptImage2Input, Aug 2026)
        "num_images": request.n,
        "output_format": request.output_format,
    })
    return body


# The inputs a custom route sends, named for the notes (no schema tells which the model takes).
CUSTOM_SENT = ("image_size", "num_images", "output_format")


def custom_input_body(request: ImageRequest) -> dict[str, Any]:
    """fal's usual text-to-image inputs (FLUX, SD3, Recraft... take these names) [I for a given
    model]: the size as ``{width, height}``, ``num_images``, ``output_format``; ``seed`` when asked.
    No ``quality``: fal models have no common one (custom_notes says it was not sent)."""
    body: dict[str, Any] = {
        "prompt": request.prompt,
        "image_size": {"width": request.width, "height": request.height},
        "num_images": request.n,
        "output_format": request.output_format,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    return body


def custom_notes(request: ImageRequest, output: Mapping[str, Any]) -> list[str]:
    """What a custom route could not promise, and where fal's answer shows it was not honoured."""
    sent = CUSTOM_SENT + (("seed",) if request.seed is not None else ())
    notes = [f"custom fal route, no input schema read: {', '.join(sent)} were sent as fal's usual inputs; "
             "this model may ignore any of them"]
    notes.append(f"not sent: quality {request.quality} (fal has no common quality input; the model uses its own setting)")
    items = output.get("images") or ([output["image"]] if isinstance(output.get("image"), dict) else [])
    items = [item for item in items if isinstance(item, dict)]
    if len(items) != request.n:
        notes.append(f"asked for {request.n} image(s), fal returned {len(items)}")
    sizes = sorted({(item["width"], item["height"]) for item in items
                    if isinstance(item.get("width"), int) and isinstance(item.get("height"), int)})
    if sizes and sizes != [(request.width, request.height)]:
        got = ", ".join(f"{w}x{h}" for w, h in sizes)
        notes.append(f"asked size {request.size}, fal returned {got} (the model did not follow image_size)")
    asked = MIME_TYPES.get(request.output_format)
    types = sorted({str(item["content_type"]) for item in items if item.get("content_type")})
    if asked and types and types != [asked]:
        notes.append(f"asked output_format {request.output_format}, fal returned {', '.join(types)}")
    return notes


def input_url(image: InputImage) -> str:
    """The image's public link when the app has one, else its bytes inline as a data: URI."""
    return image.url or image.data_url()


def kept_body(body: Mapping[str, Any], request: ImageRequest) -> dict[str, Any]:
    """The body as sent, minus the reference bytes: data: URIs become their prefix and size,
    links lose their query and most of their signed last segment."""
    kept = http.described_references(body, "image_urls", request)
    if "mask_url" in kept and request.mask is not None:
        kept["mask_url"] = request.mask.describe(body["mask_url"])
    return kept


# Endpoint ids that start with one of these take three segments, namespace/owner/alias, before
# any sub-path (fal-ai/fal-js, libs/client/src/utils.ts, ENDPOINT_NAMESPACES and parseEndpointId).
ENDPOINT_NAMESPACES = ("workflows", "comfy")


def job_urls(base_url: str, endpoint: str, job: Mapping[str, Any]) -> dict[str, str]:
    """The URLs fal returned when they are on our queue's origin (our key goes nowhere else);
    rebuilt from the request id where missing or elsewhere. The rebuilt form is
    ``{base}/[{namespace}/]{owner}/{alias}/requests/{id}``, as fal's own client builds it: a
    sub-path such as ``/edit`` is dropped, a ``workflows/`` or ``comfy/`` namespace is kept."""
    parts = endpoint.split("/")
    app = "/".join(parts[:3] if parts[0] in ENDPOINT_NAMESPACES else parts[:2])
    root = f"/{app}/requests/{quote(str(job['request_id']), safe='')}"
    rebuilt = {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}
    return {name: http.own_url(job.get(name), base_url, path) for name, path in rebuilt.items()}


def raise_for_failed_status(status: Mapping[str, Any]) -> None:
    """``COMPLETED`` with ``error`` set (or a FAILED/CANCELED status) is a failed request."""
    state = str(status.get("status") or "").upper()
    error, error_type = status.get("error"), str(status.get("error_type") or "")
    if state == DONE and not error:
        return
    message = str(error or f"fal reports the request {state}.")[: http.MAX_MESSAGE]
    text = f"fal request failed ({error_type or state}): {message}"
    raise error_for_type(error_type, text) or ProviderUnavailableError(text)


def error_for_type(error_type: str, text: str, status: int | None = None) -> ProviderError | None:
    if "content_policy" in error_type:
        return ContentPolicyError(text, status=status)
    if error_type in TIMEOUT_TYPES:
        return ProviderTimeoutError(text, status=status)
    if error_type in INVALID_TYPES:
        return InvalidRequestError(text, status=status)
    if error_type.startswith("runner_") or error_type == "internal_error":
        return ProviderUnavailableError(text, status=status)
    return None


def raise_for_fal_error(response: httpx.Response) -> None:
    """Map fal's error bodies: ``{"detail": [{loc, msg, type, ...}]}`` (model errors, 422) or
    ``{"detail": str, "error_type": str}`` (request errors; also in ``X-Fal-Error-Type``)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    types = []
    if isinstance(detail, list):
        types = [str(item.get("type") or "") for item in detail if isinstance(item, dict)]
    if isinstance(body, dict) and body.get("error_type"):
        types.append(str(body["error_type"]))
    if response.headers.get("x-fal-error-type"):
        types.append(response.headers["x-fal-error-type"])
    status = response.status_code
    text = f"HTTP {status}: {detail_message(detail) or http.error_message(response)}"
    for error_type in types:
        error = error_for_type(error_type, text, status)
        if error is not None:
            raise error
    if status in (402, 403) and any(word in text.lower() for word in CREDIT_WORDS):
        raise InsufficientCreditError(text, status=status)
    if status in (401, 403):
        raise AuthenticationError(text, status=status)
    if status == 429:
        raise RateLimitError(text, status=status, retry_after=http.retry_after(response.headers))
    if status in (400, 404, 409, 422):
        raise InvalidRequestError(text, status=status)


def detail_message(detail: Any) -> str:
    """fal's ``msg`` texts (never ``input``, which echoes the whole prompt back)."""
    if isinstance(detail, str):
        return detail[: http.MAX_MESSAGE]
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and item.get("msg"):
                where = ".".join(str(part) for part in item.get("loc") or [] if part != "body")
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
        return "; ".join(parts)[: http.MAX_MESSAGE]
    return ""


def images_from(output: Any, request: ImageRequest) -> list[GeneratedImage]:
    if not isinstance(output, dict):
        raise BadResponseError("fal's result is not a JSON object.")
    images = []
    for item in output.get("images") or []:
        if isinstance(item, dict) and item.get("url"):  # a CDN URL, or a data: URI with sync_mode
            mime = item.get("content_type") or MIME_TYPES.get(request.output_format)
            images.append(GeneratedImage(url=str(item["url"]), mime=mime))
    if not images:
        raise BadResponseError("fal's result has no image in images[].")
    return images


def inference_ms(status: Mapping[str, Any]) -> float | None:
    metrics = status.get("metrics")
    value = metrics.get("inference_time") if isinstance(metrics, dict) else None
    try:
        return float(value) * 1000 if value is not None else None
    except (TypeError, ValueError):
        return None


def kept_headers(*responses: httpx.Response) -> dict[str, str]:
    kept = {}
    for response in responses:
        kept.update(http.kept_headers(response, KEPT_HEADERS))
    return kept


def notes_for(request: ImageRequest, output: Mapping[str, Any]) -> list[str]:
    notes = []
    if request.quality == "auto":
        notes.append("quality auto sent as auto: fal lets the model choose and does not report which quality it used")
    got = len(output.get("images") or [])
    if got != request.n:
        notes.append(f"asked for {request.n} image(s), fal returned {got}")
    return notes
