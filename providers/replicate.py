"""Replicate predictions API for the official ``openai/gpt-image-2`` model (providers.md section 5).

``POST {REPLICATE_BASE_URL}/models/openai/gpt-image-2/predictions`` with ``{"input": {...}}`` and
``Prefer: wait=N`` (N <= 60) holds the request open; a prediction that is still ``starting`` or
``processing`` is polled at ``GET {base}/predictions/{id}`` and cancelled with
``POST {base}/predictions/{id}/cancel`` when our deadline passes. Output: a list of image URLs (a
single string is tolerated). Errors: RFC 7807 problem JSON; model failures are HTTP 200 with
``status: "failed"`` and an ``error`` string. Replicate reports no cost, only ``metrics``.

Sizes: the model takes ``aspect_ratio``. Only ``1:1``, ``3:2`` and ``2:3`` exist in both observed
schema versions (5.2), so the route declares just GPT Image 2's three standard sizes.

Edits: the model's ``input_images`` array (both schema versions, 5.2) takes file inputs the way
Replicate documents them (5.1, replicate.com/docs/topics/predictions/input-files): an https URL,
a ``data:`` URI (recommended below 1 MB), or a file uploaded with ``POST /v1/files`` (multipart
part ``content``) whose ``urls.get`` is passed on, as replicate-python does by default. A reference
goes as the app's public link when it has one, else inline when small, else uploaded. The model
has no mask input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from urllib.parse import urlsplit

import httpx

from . import http
from .base import (
    MIME_TYPES,
    BadResponseError,
    Capabilities,
    ContentPolicyError,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    InputImage,
    InvalidRequestError,
    Provider,
    ProviderError,
    ProviderUnavailableError,
    Route,
    Timings,
    Usage,
    redact,
)

# (width, height) -> the aspect_ratio value both schema versions accept (providers.md 5.2).
ASPECT_RATIOS = {(1024, 1024): "1:1", (1536, 1024): "3:2", (1024, 1536): "2:3"}
# The schema names no maximum for input_images; GPT Image 2 itself takes up to 16 (2.3) [I].
MAX_INPUT_IMAGES = 16
CAPABILITIES = Capabilities(sizes=tuple(ASPECT_RATIOS), max_n=10, prompt_limit=32_000,
                            edit=True, mask=False, max_input_images=MAX_INPUT_IMAGES)
INLINE_LIMIT = 1_000_000  # bytes: Replicate recommends data: URIs only for files under 1 MB
TERMINAL = ("succeeded", "failed", "canceled", "aborted")
MAX_WAIT = 60  # seconds Replicate holds a request open with Prefer: wait (5.1)
KEPT_HEADERS = ("x-request-id", "preference-applied", "retry-after")
# Words of a refusal in a failed prediction's ``error`` (no error codes exist) [I].
POLICY_WORDS = ("safety system", "moderation_blocked", "content policy", "content_policy", "flagged as sensitive",
                "(e005)", "nsfw", "safety_violations")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("replicate:openai/gpt-image-2", ReplicateProvider, "openai/gpt-image-2",
                  "Replicate — openai/gpt-image-2", CAPABILITIES)]


class ReplicateProvider(Provider):
    slug = "replicate"
    name = "Replicate"
    credential_names = ("REPLICATE_API_TOKEN",)
    # Bring-your-own OpenAI key, sent as the model input ``openai_api_key`` (5.2).
    optional_names = ("REPLICATE_OPENAI_API_KEY",)
    base_url_name = "REPLICATE_BASE_URL"
    default_base_url = "https://api.replicate.com/v1"
    poll_interval = 0.5  # the SDK's default REPLICATE_POLL_INTERVAL (5.1)
    max_poll_interval = 1.0

    @property
    def secrets(self) -> list[str]:
        return list(self.credentials.values())

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['REPLICATE_API_TOKEN']}"}

    def generate(self, request: ImageRequest) -> ImageResult:
        check_edit(request)
        deadline_at = self.clock() + self.deadline
        references, kept_references, uploads = self.reference_inputs(request.images)
        body, notes = prediction_body(request, self.credentials.get("REPLICATE_OPENAI_API_KEY"), references)
        url = f"{self.base_url}/models/{self.route.model}/predictions"
        wait = max(1, min(MAX_WAIT, int(self.deadline)))
        headers = {**self.headers(), "Prefer": f"wait={wait}"}
        response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=self.raise_for)
        prediction = self.read(response)
        prediction_id = str(prediction.get("id") or "")
        if prediction.get("status") not in TERMINAL:
            if not prediction_id:
                raise BadResponseError("Replicate answered without a prediction id to poll.")
            prediction = self.wait_for(prediction, deadline_at)
        self.raise_if_unsuccessful(prediction)
        images = output_images(prediction.get("output"), request.output_format)
        if len(images) < request.n:
            notes.append(f"asked for {request.n} images, Replicate returned {len(images)}")
        metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), dict) else {}
        return ImageResult(
            images=tuple(images),
            usage=Usage(raw={"metrics": metrics}) if metrics else None,
            timings=provider_timings(prediction),
            request_id=prediction_id or None,
            request_sent=self.kept_request(url, headers["Prefer"], body, kept_references, uploads),
            response_headers={k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS},
            notes=tuple(redact(notes, self.secrets)),
        )

    def kept_request(self, url: str, prefer: str, body: Mapping[str, Any], kept_references: list[str],
                     uploads: list[dict[str, Any]]) -> dict[str, Any]:
        """What was sent, without the token, the BYOK key or the reference bytes."""
        kept = redact(body, self.secrets)
        if kept_references:  # a new dict: redact() hands the body itself back when there is no secret
            kept = {**kept, "input": {**kept["input"], "input_images": kept_references}}
        sent = {"method": "POST", "url": url, "headers": {"Prefer": prefer}, "json": kept}
        if uploads:
            sent["uploads"] = uploads
        return sent

    # --- reference images ---------------------------------------------------------------------

    def reference_inputs(self, images: tuple[InputImage, ...]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """(what goes in ``input_images``, how each is kept in request_sent, the uploads made)."""
        sent, kept, uploads = [], [], []
        for image in images:
            if image.url:
                sent.append(image.url)
                kept.append(image.describe())
            elif len(image.data) < INLINE_LIMIT:
                sent.append(image.data_url())
                kept.append(image.describe(f"data:{image.mime};base64,"))
            else:
                file_url = self.upload(image)
                sent.append(file_url)
                kept.append(file_url)
                uploads.append({"method": "POST", "url": f"{self.base_url}/files", "filename": image.filename,
                                "content_type": image.mime, "bytes": len(image.data), "urls.get": file_url})
        return sent, kept, uploads

    def upload(self, image: InputImage) -> str:
        """``POST {base}/files`` with the bytes as multipart part ``content`` (replicate-python
        ``files.create``); the file's ``urls.get`` is what a prediction input takes."""
        response = http.send(self.client, "POST", f"{self.base_url}/files", headers=self.headers(),
                             files={"content": (image.filename, image.data, image.mime)}, raise_for=self.raise_for)
        file = http.json_body(response)
        urls = file.get("urls") if isinstance(file, dict) else None
        url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            raise BadResponseError("Replicate stored the reference image but named no urls.get for it.")
        return url

    # --- polling ------------------------------------------------------------------------------

    def wait_for(self, prediction: Mapping[str, Any], deadline_at: float) -> Mapping[str, Any]:
        urls = prediction.get("urls") if isinstance(prediction.get("urls"), dict) else {}
        get_url = self.own_url(urls.get("get"), f"/predictions/{prediction['id']}")
        cancel_url = self.own_url(urls.get("cancel"), f"/predictions/{prediction['id']}/cancel")

        def check():
            current = self.read(http.send(self.client, "GET", get_url, headers=self.headers(), raise_for=self.raise_for))
            return current if current.get("status") in TERMINAL else None

        def cancel():
            http.send(self.client, "POST", cancel_url, headers=self.headers(), raise_for=self.raise_for)

        return http.poll(check, interval=self.poll_interval, max_interval=self.max_poll_interval, growth=1.25,
                         deadline_at=deadline_at, clock=self.clock, sleep=self.sleep, on_give_up=cancel)

    def own_url(self, given: Any, path: str) -> str:
        """The URL the prediction names, if it is on our base URL's host (so the token never goes
        elsewhere, and a relay set as REPLICATE_BASE_URL stays in the path); else base + path."""
        base = urlsplit(self.base_url)
        if isinstance(given, str) and given:
            parts = urlsplit(given)
            if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
                return given
        return f"{self.base_url}{path}"

    # --- reading answers ----------------------------------------------------------------------

    def read(self, response: httpx.Response) -> Mapping[str, Any]:
        prediction = http.json_body(response)
        if not isinstance(prediction, dict):
            raise BadResponseError("Replicate's answer is not a prediction object.")
        return prediction

    def raise_if_unsuccessful(self, prediction: Mapping[str, Any]) -> None:
        status = prediction.get("status")
        if status == "succeeded":
            return
        message = redact(str(prediction.get("error") or f"the prediction ended {status}"), self.secrets)
        message = message[: http.MAX_MESSAGE]
        if status in ("canceled", "aborted"):
            raise ProviderUnavailableError(f"Replicate prediction {status}: {message}")
        raise failure_error(f"Replicate prediction failed: {message}", message)

    def raise_for(self, response: httpx.Response) -> None:
        """Problem JSON ``{type, title, status, detail}`` -> the shared errors, secrets removed."""
        message = redact(http.error_message(response), self.secrets)
        status = response.status_code
        if status in (400, 422) and _mentions_policy(message):
            raise ContentPolicyError(f"HTTP {status}: {message}", status=status)
        raise http.error_for(status, message, retry_after_s=http.retry_after(response.headers))


def check_edit(request: ImageRequest) -> None:
    """What the model cannot take, refused before anything is sent (the form normally prevents it)."""
    if request.mask is not None:
        raise InvalidRequestError("Replicate's openai/gpt-image-2 has no mask input; edit without a mask on this route.")
    if len(request.images) > MAX_INPUT_IMAGES:
        raise InvalidRequestError(f"At most {MAX_INPUT_IMAGES} reference images on this route, not {len(request.images)}.")


def prediction_body(request: ImageRequest, openai_key: str | None,
                    input_images: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The create body. Quality and format are always explicit (Replicate defaults: auto, webp).
    An edit adds ``input_images``; the aspect ratio stays the one asked for (not ``auto``, which
    would follow the inputs), as on every other route of the comparison."""
    inputs: dict[str, Any] = {
        "prompt": request.prompt,
        "aspect_ratio": ASPECT_RATIOS[(request.width, request.height)],
        "number_of_images": request.n,
        "quality": request.quality,
        "output_format": request.output_format,
    }
    if input_images:
        inputs["input_images"] = list(input_images)
    notes = []
    if openai_key:
        inputs["openai_api_key"] = openai_key
        notes.append("sent with your own OpenAI key (REPLICATE_OPENAI_API_KEY): OpenAI bills the generation to that account")
    if request.seed is not None:
        notes.append(f"seed {request.seed} not sent: the model has no seed input")
    return {"input": inputs}, notes


def output_images(output: Any, output_format: str) -> list[GeneratedImage]:
    """``output`` is a list of URL strings (5.3); a single string and ``{"url": ...}`` items are
    tolerated. The runner downloads them (``data:`` URLs included)."""
    items = [output] if isinstance(output, (str, dict)) else output if isinstance(output, list) else []
    mime = MIME_TYPES.get(output_format)
    images = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else item
        if isinstance(url, str) and url:
            images.append(GeneratedImage(url=url, mime=mime))
    if not images:
        raise BadResponseError("Replicate's prediction succeeded without any image URL in output.")
    return images


def provider_timings(prediction: Mapping[str, Any]) -> Timings:
    """``metrics.predict_time`` (s) is generation; ``created_at`` -> ``started_at`` is queueing."""
    metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), dict) else {}
    generation = _float(metrics.get("predict_time"))
    created, started = _timestamp(prediction.get("created_at")), _timestamp(prediction.get("started_at"))
    queue = (started - created).total_seconds() * 1000 if created and started and started >= created else None
    return Timings(provider_queue_ms=queue, provider_generation_ms=generation * 1000 if generation is not None else None)


def failure_error(text: str, message: str) -> ProviderError:
    """A ``failed`` prediction's ``error`` string, classified by its words (no codes exist)."""
    return http.failed_job_error(text, message, policy=POLICY_WORDS, auth=("invalid_api_key", "incorrect api key"),
                                 credit=("insufficient_quota", "billing"), rate_limit=("rate limit", "rate_limit"),
                                 invalid=("input validation", "invalid value", "invalid image", "invalid_image"))


def _mentions_policy(message: str) -> bool:
    return http.mentions(message, POLICY_WORDS)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any) -> datetime | None:
    """ISO 8601 as Replicate writes it ('2026-04-22T10:00:00.123456Z'), fractions of any length."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
