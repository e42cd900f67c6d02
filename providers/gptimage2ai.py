"""GPTImage2AI (gptimage2.ai), GPTImage2AI's docs.

``POST {GPTIMAGE2AI_BASE_URL}/generate`` (Bearer) with ``{prompt, mode: "text-to-image", ratio,
count}`` returns a job id; ``GET {base}/generate/{jobId}`` answers 202 while the job is pending or
running and 200 with the image URLs or a failure. 10 credits per image, refunded on failure.

The API takes only a ratio (1:1, 16:9, 9:16, 4:3, 3:4): sizes are snapped to the nearest one
and the provider picks the pixels. It has no quality and no output-format option, so the route
declares quality "auto" only (the provider chooses) and notes what it could not send. The exact
JSON shapes of the answers are not documented in what we found: they are read tolerantly [I].

Edits: the same call with ``mode: "image-to-image"`` and ``imageUrls: [urls]`` (GPTImage2AI's docs,
gptimage2.ai's API docs). The API takes public URLs it fetches, not bytes or data: URLs, so the
route needs the app's public links (``edit_needs_public_url``). No mask field and no image limit
are documented: no mask is offered, and GPT Image 2's own 16 images is the assumed ceiling [I].
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, BadResponseError, Capabilities, GeneratedImage, ImageRequest, ImageResult,
                   Provider, ProviderError, Route, Usage, resolution_tier, snap_aspect_ratio)

RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4")
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, qualities=("auto",), max_n=4,
                            edit=True, mask=False, max_input_images=16, edit_needs_public_url=True)
PENDING = {"pending", "running", "queued", "processing", "in_progress", "submitted", "waiting"}
FAILED = {"failed", "failure", "error", "canceled", "cancelled"}
ID_KEYS = ("jobId", "job_id", "id", "taskId", "task_id")
IMAGE_KEYS = ("images", "imageUrls", "image_urls", "urls", "url", "imageUrl", "image_url", "output", "result", "data")
CREDIT_KEYS = ("credits", "creditsUsed", "credits_used", "cost")
POLICY_WORDS = re.compile(r"safety|moderat|content[ _-]?policy|nsfw|inappropriate", re.I)
CREDIT_WORDS = re.compile(r"insufficient|not enough credits|credit balance|out of credits", re.I)
KEPT_HEADERS = ("x-request-id", "x-vercel-id", "cf-ray", "retry-after")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("gptimage2ai:gpt-image-2", GPTImage2AIProvider, "gpt-image-2", "GPTImage2AI (gptimage2.ai) GPT Image 2",
                  CAPABILITIES)]


class GPTImage2AIProvider(Provider):
    slug = "gptimage2ai"
    name = "GPTImage2AI"
    credential_names = ("GPTIMAGE2AI_API_KEY",)
    base_url_name = "GPTIMAGE2AI_BASE_URL"
    secret_names = ("GPTIMAGE2AI_API_KEY",)
    default_base_url = "https://gptimage2.ai/api"
    poll_interval = 2.0  # not documented [I]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['GPTIMAGE2AI_API_KEY']}"}

    def generate(self, request: ImageRequest) -> ImageResult:
        deadline_at = self.clock() + self.deadline
        body, notes = request_body(request)
        url = f"{self.base_url}/generate"
        if request.is_edit or request.mask is not None:
            body.update(mode="image-to-image", imageUrls=http.reference_urls(request))
        sent = {"method": "POST", "url": url, "json": http.described_references(body, "imageUrls", request)}
        response = http.send(self.client, "POST", url, json=body, headers=self.headers(), raise_for=raise_for_error)
        payload = _unwrap(http.json_object(response, "gptimage2.ai"))
        kept = http.kept_headers(response, KEPT_HEADERS)
        job_id = _job_id(payload)
        images = _images_unless_failed(payload)
        if not images:
            if not job_id:
                raise BadResponseError("gptimage2.ai answered without a job id.")
            payload = self.wait(job_id, deadline_at)
            images = _images_unless_failed(payload)
        credits = next((payload[k] for k in CREDIT_KEYS if isinstance(payload.get(k), (int, float))), None)
        return ImageResult(
            images=tuple(images),
            usage=Usage(raw={"credits": credits}) if credits is not None else None,  # credits, not USD
            request_id=job_id,
            request_sent=sent,
            response_headers=kept,
            notes=tuple(notes),
        )

    def wait(self, job_id: str, deadline_at: float) -> dict:
        """Poll until HTTP 200 carries images (returned) or a failure (raised); 202 = not yet."""
        url = f"{self.base_url}/generate/{quote(job_id, safe='')}"

        def check():
            response = http.send(self.client, "GET", url, headers=self.headers(), raise_for=raise_for_error)
            if response.status_code == 202:
                return None
            payload = _unwrap(http.json_object(response, "gptimage2.ai"))
            if _images_unless_failed(payload):
                return payload
            if str(payload.get("status") or "").lower() in PENDING:
                return None
            raise BadResponseError(f"gptimage2.ai answered 200 for job {job_id} with neither images nor an error.")

        return http.poll(check, interval=self.poll_interval, deadline_at=deadline_at, clock=self.clock, sleep=self.sleep)


def request_body(request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    ratio, exact = snap_aspect_ratio(request.width, request.height, RATIOS)
    notes = []
    if not exact:
        notes.append(f"size {request.size} asked: gptimage2.ai takes only a ratio ({', '.join(RATIOS)}); "
                     f"sent the nearest, {ratio}")
    if resolution_tier(request.width, request.height) != "1K":
        notes.append(f"size {request.size} asked: gptimage2.ai has no resolution option; the provider chose the pixels")
    if request.quality != "auto":
        notes.append(f"quality {request.quality} asked: gptimage2.ai has no quality option; the provider chose")
    notes.append(f"output_format {request.output_format} asked: gptimage2.ai has no format option; "
                 "the image is in the format the provider returned")
    body = {"prompt": request.prompt, "mode": "text-to-image", "ratio": ratio, "count": request.n}
    return body, notes


def raise_for_error(response: httpx.Response) -> None:
    """Refusals and missing credit are recognised by their words; the status mapping does the rest."""
    http.raise_for_words(response, policy=POLICY_WORDS, credit=CREDIT_WORDS)


def failure_error(message: str) -> ProviderError:
    # the credits are refunded; trying again may work
    return http.failed_job_error(message, policy=POLICY_WORDS, credit=CREDIT_WORDS)


def _images_unless_failed(payload: dict) -> list[GeneratedImage]:
    status = str(payload.get("status") or "").lower()
    if status in FAILED or (payload.get("error") and status not in PENDING and not _urls(payload)):
        detail = http.error_message(httpx.Response(200, json=payload)) if (payload.get("error") or payload.get("message")) else ""
        raise failure_error(f"gptimage2.ai reported the job {status or 'failed'}: {detail or 'no reason given'}")
    return [GeneratedImage(url=url) for url in _urls(payload)]


def _urls(value: Any, depth: int = 0) -> list[str]:
    """Image URLs in any of the plausible shapes: a list of strings or of ``{url}`` objects,
    under ``images``/``imageUrls``/``urls``/``output``/``result``/``data``."""
    if depth > 4:
        return []
    if isinstance(value, str):
        return [value] if value.startswith(("https://", "http://", "data:")) else []
    if isinstance(value, list):
        return [url for item in value for url in _urls(item, depth + 1)]
    if isinstance(value, dict):
        for key in IMAGE_KEYS:
            found = _urls(value.get(key), depth + 1)
            if found:
                return found
    return []


def _job_id(payload: dict) -> str | None:
    for key in ID_KEYS:
        if isinstance(payload.get(key), (str, int)) and str(payload[key]):
            return str(payload[key])
    return None


def _unwrap(payload: dict) -> dict:
    """The answer as one flat object: ``{"success", "data": {...}}`` envelopes are opened."""
    if isinstance(payload.get("data"), dict):
        return {**payload, **payload["data"]}
    return payload
