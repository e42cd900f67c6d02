"""Apiframe: an asynchronous job API in front of GPT Image 2.

Submit ``POST {APIFRAME_BASE_URL}/images/generate`` with ``X-API-Key`` and a
``gptImage2Params`` block; the answer is **202** ``{jobId, status: "QUEUED"}``. Poll
``GET {APIFRAME_BASE_URL}/jobs/{id}`` every 2-3 s: QUEUED -> PROCESSING -> COMPLETED | FAILED
(| CANCELLED). A completed job carries ``result`` (``{"images": [urls]}``, or in an older
version one URL string: both are read), ``creditCost`` and ``createdAt``/``completedAt``.

Errors are ``{"error": "..."}`` (400 adds ``details``, 402 adds ``creditsRequired`` and
``creditsAvailable``), checked against Apiframe's OpenAPI spec (apiframe-ai/apiframe-nodejs-sdk
``openapi.json``, ``src/errors.ts``). A content refusal arrives as a FAILED job. There is no
cancel endpoint, so a job still running at our deadline is left to finish (credits are only
kept for completed jobs).

Edits: the same endpoint with ``gptImage2Params.input_images``, an array of URLs Apiframe fetches
(its OpenAPI schema: ``format: uri`` strings, no count limit; GPT Image 2's own limit of 16 is
assumed). Only links are sent, never bytes: the app's expiring public links (SITE_URL). GPT Image
2 takes no mask here (Apiframe's ``/images/edit`` inpainting endpoint is Flux Fill only).

Cost: ``creditCost`` is the credits Apiframe says the job used. It is turned into USD at $0.01
per credit, the pay-as-you-go credit price from a 2026 market article, not confirmed by Apiframe
(unresolved in providers/pricing.json): a cost "from usage", not a bill; ``Usage.raw`` keeps the
credits and that price.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

import httpx

from . import http
from .base import (MIME_TYPES, BadResponseError, Capabilities, ContentPolicyError, GeneratedImage, ImageRequest,
                   ImageResult, Provider, ProviderCancelledError, ProviderError, ProviderTimeoutError, Route, Timings,
                   Usage, snap_aspect_ratio)

ASPECT_RATIOS = ("1:1", "3:2", "2:3")
# input_images has no maxItems in Apiframe's schema; GPT Image 2 itself takes up to 16 [I].
MAX_INPUT_IMAGES = 16
CAPABILITIES = Capabilities(
    sizes=((1024, 1024), (1536, 1024), (1024, 1536)),  # what 1:1, 3:2 and 2:3 produce
    qualities=("low", "medium", "high", "auto"),
    formats=("png", "jpeg", "webp"),
    max_n=10,
    prompt_limit=2000,
    edit=True,
    mask=False,
    max_input_images=MAX_INPUT_IMAGES,
    edit_needs_public_url=True,
)
# Pay-as-you-go price of one Apiframe credit [S]: Apiframe's docs.
USD_PER_CREDIT = Decimal("0.01")
CREDIT_PRICE_SOURCE = ("$0.01 per credit pay-as-you-go, from 2026 market articles, not confirmed by Apiframe "
                       "(unresolved in providers/pricing.json; docs/pricing.md)")
KEPT_HEADERS = ("x-request-id", "retry-after", "x-ratelimit-remaining", "x-ratelimit-limit")
POLICY_WORDS = ("content policy", "policy violation", "safety", "moderation", "nsfw", "flagged")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("apiframe:gpt-image-2", ApiframeProvider, "gpt-image-2", "Apiframe GPT Image 2", CAPABILITIES)]


class ApiframeProvider(Provider):
    slug = "apiframe"
    name = "Apiframe"
    credential_names = ("APIFRAME_API_KEY",)
    base_url_name = "APIFRAME_BASE_URL"
    secret_names = ("APIFRAME_API_KEY",)
    default_base_url = "https://api.apiframe.ai/v2"
    poll_interval = 2.0  # Apiframe recommends polling image jobs every 2-3 s

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.credentials["APIFRAME_API_KEY"]}

    def generate(self, request: ImageRequest) -> ImageResult:
        body, notes = request_body(self.route.model, request)
        kept_body = body
        if request.is_edit:
            kept_body = {**body, "gptImage2Params": {**body["gptImage2Params"],
                                                     "input_images": [i.describe() for i in request.images]}}
        url = f"{self.base_url}/images/generate"
        response = http.send(self.client, "POST", url, json=body, headers=self.headers(), raise_for=raise_for_apiframe_error)
        accepted = http.json_body(response)
        job_id = accepted.get("jobId") if isinstance(accepted, dict) else None
        if not job_id:
            raise BadResponseError("Apiframe accepted the request without a jobId.")
        job_url = f"{self.base_url}/jobs/{job_id}"

        def check():
            job = http.json_body(http.send(self.client, "GET", job_url, headers=self.headers(),
                                           raise_for=raise_for_apiframe_error))
            return job if finished(job) else None

        deadline_at = self.clock() + self.deadline
        try:
            job = http.poll(check, interval=self.poll_interval, deadline_at=deadline_at,
                            clock=self.clock, sleep=self.sleep)  # Apiframe has no cancel endpoint
        except ProviderTimeoutError:
            if self.clock() < deadline_at:
                raise  # a timeout answered by Apiframe itself (408/504), not our deadline
            raise ProviderTimeoutError(f"Apiframe job {job_id} did not finish before our deadline; Apiframe cannot "
                                       "cancel jobs, so it may still complete (and be billed) at Apiframe.") from None
        images = images_of(job.get("result"), request.output_format)
        if not images:
            raise BadResponseError(f"Apiframe completed job {job_id} without any image in its result.")
        if len(images) != request.n:
            notes.append(f"asked n={request.n}, Apiframe returned {len(images)} image(s)")
        return ImageResult(
            images=tuple(images),
            usage=usage_of(job),
            timings=Timings(provider_generation_ms=duration_ms(job.get("createdAt"), job.get("completedAt"))),
            request_id=str(job_id),
            request_sent={"method": "POST", "url": url, "json": kept_body, "poll": f"GET {job_url}"},
            response_headers=http.kept_headers(response, KEPT_HEADERS),
            notes=tuple(notes),
        )


def request_body(model: str, request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    """The submit body and the notes on what could not be sent as asked. Quality is explicit."""
    ratio, exact = snap_aspect_ratio(request.width, request.height, ASPECT_RATIOS)
    notes = []
    if not exact:
        notes.append(f"asked size {request.size}; Apiframe takes only aspect ratios 1:1, 3:2, 2:3: sent {ratio}")
    if request.quality == "auto":
        notes.append("quality auto: Apiframe does not say what it chose and bills auto as high (23 credits per image)")
    params = {"quality": request.quality, "aspect_ratio": ratio, "output_format": request.output_format,
              "number_of_images": request.n}
    if request.is_edit:
        params["input_images"] = http.reference_urls(request)
    return {"model": model, "prompt": request.prompt, "gptImage2Params": params}, notes


def finished(job: Any) -> bool:
    """True for a COMPLETED job; raises for FAILED/CANCELLED; False while queued or running."""
    if not isinstance(job, dict):
        raise BadResponseError("Apiframe's job status is not a JSON object.")
    status = str(job.get("status") or "").upper()
    if status == "COMPLETED":
        return True
    if status == "FAILED":
        raise failure_error(str(job.get("error") or "the job failed without a reason"))
    if status == "CANCELLED":
        raise ProviderCancelledError("Apiframe: the job was cancelled.")
    if status in ("QUEUED", "PROCESSING", ""):
        return False
    raise BadResponseError(f"Apiframe answered an unknown job status {status!r}.")


def failure_error(message: str) -> ProviderError:
    """The shared error for a FAILED job's ``error`` text (Apiframe refunds failed jobs)."""
    return http.failed_job_error(f"Apiframe job failed: {message}"[: http.MAX_MESSAGE], message, policy=POLICY_WORDS,
                                 credit=("insufficient credit",), invalid=("invalid", "validation"))


def raise_for_apiframe_error(response: httpx.Response) -> None:
    """Map ``{"error", "details"?, "creditsRequired"?, "creditsAvailable"?}`` to the shared errors."""
    try:
        payload = response.json()
    except ValueError:
        return  # not Apiframe's envelope (a proxy page): the generic mapping applies
    if not isinstance(payload, dict) or not payload.get("error"):
        return
    message = str(payload["error"])
    details = payload.get("details")
    if isinstance(details, dict) and details:
        message += " (" + "; ".join(f"{field}: {', '.join(map(str, problems)) if isinstance(problems, list) else problems}"
                                    for field, problems in details.items()) + ")"
    if response.status_code == 402 and "creditsRequired" in payload:
        message += f" (needs {payload.get('creditsRequired')} credits, {payload.get('creditsAvailable')} available)"
    if any(word in message.lower() for word in POLICY_WORDS) and response.status_code < 500:
        raise ContentPolicyError(f"HTTP {response.status_code}: {message}"[: http.MAX_MESSAGE], status=response.status_code)
    raise http.error_for(response.status_code, message[: http.MAX_MESSAGE], retry_after_s=http.retry_after(response.headers))


def images_of(result: Any, output_format: str) -> list[GeneratedImage]:
    """Image URLs from ``{"images": [...]}``, a bare URL string, or a list; entries may be
    strings or ``{"url": ...}`` objects."""
    if isinstance(result, dict):
        found = result.get("images") or result.get("imageUrls") or result.get("imageUrl") or result.get("url")
    else:
        found = result
    if isinstance(found, str):
        found = [found]
    mime = MIME_TYPES.get(output_format)
    urls = [item if isinstance(item, str) else item.get("url") for item in found or [] if isinstance(item, (str, dict))]
    return [GeneratedImage(url=url, mime=mime) for url in urls if url]


def usage_of(job: Mapping[str, Any]) -> Usage | None:
    credits = job.get("creditCost")
    if not isinstance(credits, (int, float)) or isinstance(credits, bool):
        return None
    # Credits, not money: the USD is our price per credit times what Apiframe reported using.
    return Usage(cost_usd=Decimal(str(credits)) * USD_PER_CREDIT, basis="usage",
                 raw={"creditCost": credits, "usd_per_credit": str(USD_PER_CREDIT), "credit_price_source": CREDIT_PRICE_SOURCE})


def duration_ms(started: Any, ended: Any) -> float | None:
    """completedAt - createdAt in ms: Apiframe's own time for the job (its queueing included)."""
    try:
        start = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(ended).replace("Z", "+00:00"))
    except ValueError:
        return None
    if (start.tzinfo is None) != (end.tzinfo is None):
        return None
    elapsed = (end - start).total_seconds() * 1000
    return elapsed if elapsed >= 0 else None
