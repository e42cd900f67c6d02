"""Pixazo's GPT Image 2 route (Pixazo's docs).

``POST {PIXAZO_BASE_URL}/gpt-image-2/v1/text-to-image`` behind Pixazo's Azure API Management
gateway (``Ocp-Apim-Subscription-Key``, ``Cache-Control: no-cache``). Only ``{"prompt"}`` is
documented for this route; ``image_size``, ``quality``, ``num_images`` and ``output_format`` are
the fields of Pixazo's GPT Image 1.5 route, assumed here [I]. Whether the route answers with the
image directly or with Pixazo's queue pattern (202 ``{request_id, status, polling_url}``, then
``GET /v2/requests/status/{id}`` -> ``{status, output: {media_url: [...]}, error}``) is unknown,
so both are accepted, and several plausible direct shapes too.

Edits (image-to-image): ``POST {base}/gpt-image-2-image-to-image/v1/gpt-image-2-image-to-image/generate``
with ``{"prompt", "input_images": [urls]}`` (Pixazo's docs; Pixazo's own GPT Image 2 page shows
exactly this request). The route takes public URLs it fetches, never bytes or data: URLs, so it
needs the app's public links (``edit_needs_public_url``). No mask field and no image limit are
documented: no mask is offered, and GPT Image 2's own 16 images is the assumed ceiling [I]. The
same optional fields as text-to-image are sent with it [I], and the answer is read the same way
(direct or queued).
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote

import httpx

from . import http
from .base import (MIME_TYPES, BadResponseError, Capabilities, GeneratedImage, ImageRequest, ImageResult, Provider,
                   ProviderError, RateLimitError, Route)

SUBMIT_PATH = "/gpt-image-2/v1/text-to-image"
EDIT_PATH = "/gpt-image-2-image-to-image/v1/gpt-image-2-image-to-image/generate"
STATUS_PATH = "/v2/requests/status/{request_id}"
# The three sizes Pixazo's GPT Image 1.5 route shows as image_size strings; larger GPT Image 2
# sizes are not documented on Pixazo, so they are not offered.
CAPABILITIES = Capabilities(sizes=((1024, 1024), (1024, 1536), (1536, 1024)), max_n=4,
                            edit=True, mask=False, max_input_images=16, edit_needs_public_url=True)
SENT_QUALITIES = ("low", "medium", "high")  # the 1.5 route's values; no "auto" shown [I]
DONE = {"COMPLETED", "SUCCEEDED", "SUCCESS", "DONE"}
FAILED = {"FAILED", "ERROR", "CANCELED", "CANCELLED"}
KEPT_HEADERS = ("apim-request-id", "x-request-id", "x-ms-request-id", "retry-after")
POLICY_WORDS = re.compile(r"safety|moderat|content[ _-]?policy|nsfw|inappropriate", re.I)
CREDIT_WORDS = re.compile(r"insufficient|balance|credit|add funds|payment required", re.I)
IMAGE_KEYS = ("media_url", "images", "image_urls", "imageUrls", "urls", "url", "image_url", "imageUrl",
              "output_url", "output", "data", "result")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("pixazo:gpt-image-2", PixazoProvider, "gpt-image-2", "Pixazo GPT Image 2", CAPABILITIES)]


class PixazoProvider(Provider):
    slug = "pixazo"
    name = "Pixazo"
    credential_names = ("PIXAZO_API_KEY",)
    base_url_name = "PIXAZO_BASE_URL"
    secret_names = ("PIXAZO_API_KEY",)
    default_base_url = "https://gateway.pixazo.ai"
    poll_interval = 2.0  # not documented for images; public video clients poll every 5 s [I]

    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.credentials["PIXAZO_API_KEY"], "Cache-Control": "no-cache"}

    def generate(self, request: ImageRequest) -> ImageResult:
        deadline_at = self.clock() + self.deadline
        body, notes = request_body(request)
        url = f"{self.base_url}{SUBMIT_PATH}"
        if request.is_edit or request.mask is not None:
            body["input_images"] = http.reference_urls(request)
            url = f"{self.base_url}{EDIT_PATH}"
        sent = {"method": "POST", "url": url, "json": http.described_references(body, "input_images", request)}
        response = http.send(self.client, "POST", url, json=body, headers=self.headers(), raise_for=raise_for_pixazo_error)
        payload = http.json_object(response, "Pixazo")
        kept = http.kept_headers(response, KEPT_HEADERS)
        request_id = payload.get("request_id") or payload.get("id")
        images = images_in(payload)
        if not images:
            _raise_if_failed(payload)
            if not request_id:
                raise BadResponseError("Pixazo answered with neither an image nor a request_id to poll.")
            payload = self.wait(str(request_id), payload.get("polling_url"), deadline_at)
            images = images_in(payload)
            if not images:
                raise BadResponseError("Pixazo reported the job COMPLETED without any output.media_url.")
        mime = MIME_TYPES.get(body["output_format"])
        return ImageResult(
            images=tuple(GeneratedImage(data=i.data, url=i.url, mime=i.mime or mime) for i in images),
            request_id=str(request_id) if request_id else response.headers.get("apim-request-id"),
            request_sent=sent,
            response_headers=kept,
            notes=tuple(notes),
        )

    def wait(self, request_id: str, polling_url: Any, deadline_at: float) -> dict:
        """Poll the job until COMPLETED (returns its body) or FAILED/ERROR (raises)."""
        url = self.status_url(request_id, polling_url)

        def check():
            response = http.send(self.client, "GET", url, headers=self.headers(), raise_for=raise_for_pixazo_error)
            payload = http.json_object(response, "Pixazo")
            status = str(payload.get("status") or "").upper()
            _raise_if_failed(payload)
            if status in DONE or images_in(payload):
                return payload
            return None

        return http.poll(check, interval=self.poll_interval, deadline_at=deadline_at, clock=self.clock, sleep=self.sleep)

    def status_url(self, request_id: str, polling_url: Any) -> str:
        """The polling_url Pixazo gave, if it is on the gateway we trust with the key; else the
        documented status path."""
        return http.own_url(polling_url, self.base_url, STATUS_PATH.format(request_id=quote(request_id, safe="")))


def request_body(request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    notes = []
    quality = request.quality
    if quality not in SENT_QUALITIES:
        quality = "high"
        notes.append("quality auto asked: Pixazo's GPT Image route shows only low/medium/high; sent high "
                     "(an upper bound: OpenAI's auto may pick lower)")
    body = {"prompt": request.prompt, "image_size": request.size, "quality": quality,
            "num_images": request.n, "output_format": request.output_format}
    return body, notes


def raise_for_pixazo_error(response: httpx.Response) -> None:
    """APIM's own ``{statusCode, message}`` (401 key, 429 throttling, 403 quota) and the
    backend's ``{error|message}``; refusals and missing balance are recognised by their words."""
    http.raise_for_words(response, policy=POLICY_WORDS, credit=CREDIT_WORDS)
    message = http.error_message(response)
    if response.status_code == 403 and "quota" in message.lower():  # APIM "Out of call volume quota"
        raise RateLimitError(f"HTTP 403: {message}", status=403, retry_after=http.retry_after(response.headers))


def failure_error(message: str) -> ProviderError:
    """A job the provider reports as failed: a refusal, or a failure worth retrying."""
    return http.failed_job_error(message, policy=POLICY_WORDS, credit=CREDIT_WORDS)


def _raise_if_failed(payload: dict) -> None:
    status = str(payload.get("status") or "").upper()
    if status in FAILED:
        detail = http.error_message(httpx.Response(200, json=payload)) if payload.get("error") else ""
        raise failure_error(f"Pixazo reported the job {status}: {detail or 'no reason given'}")


def images_in(payload: Any, depth: int = 0) -> list[GeneratedImage]:
    """Every image in a Pixazo answer, whatever its shape: ``output.media_url[]``, fal-style
    ``images[{url}]``, ``imageUrl``, URL strings, OpenAI-style ``data[{url|b64_json}]``."""
    if depth > 4:
        return []
    if isinstance(payload, str):
        return [GeneratedImage(url=payload)] if payload.startswith(("https://", "http://", "data:")) else []
    if isinstance(payload, list):
        return [image for item in payload for image in images_in(item, depth + 1)]
    if not isinstance(payload, dict):
        return []
    if payload.get("b64_json"):
        return [http.decoded_image(payload["b64_json"], payload.get("content_type"), "Pixazo")]
    for key in IMAGE_KEYS:
        found = images_in(payload.get(key), depth + 1)
        if found:
            mime = payload.get("content_type")
            return [GeneratedImage(data=i.data, url=i.url, mime=i.mime or mime) for i in found]
    return []


