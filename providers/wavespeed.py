"""WaveSpeed AI: asynchronous predictions for ``openai/gpt-image-2``.

Submit ``POST {WAVESPEED_BASE_URL}/openai/gpt-image-2/text-to-image`` with Bearer auth and
``{prompt, aspect_ratio, resolution, quality, output_format}``; poll
``GET {WAVESPEED_BASE_URL}/predictions/{id}/result`` every 2 s. Every answer is the envelope
``{"code", "message", "data": {id, status, outputs: [urls], error, timings: {inference: ms},
has_nsfw_contents}}``; a ``code`` other than 200 inside an HTTP 200 answer is an error too (as
WaveSpeed's own clients treat it). ``status`` is created or processing while it runs and ends
completed, failed, cancelled or timeout: the terminal statuses of WaveSpeed's official Python
client (WaveSpeedAI/wavespeed-python, ``Client._wait``; tests/conformance/specs/wavespeed).

Mapping, and where it is not exact (each noted on the result):

* size -> ``aspect_ratio`` (the nearest of the ten the text-to-image page lists) and
  ``resolution`` ``1k``/``2k``/``4k`` by the longer edge; WaveSpeed picks the pixel size.
* quality: ``low|medium|high`` only, no ``auto``: ``auto`` is sent as ``high``, the quality
  the price catalog assumes for auto everywhere.
* n: one image per prediction, so n > 1 submits n predictions and polls them together.

Edits: ``POST {WAVESPEED_BASE_URL}/openai/gpt-image-2/edit`` with the same fields plus ``images``
(required), a list of URLs WaveSpeed fetches [V: WaveSpeed's gpt-image-2 edit docs, "List of URLs
of input images"]. Whether it also takes data: URLs or base64 is not documented for this model,
so only the app's expiring public links (SITE_URL) are sent. No mask field; no documented limit on
the number of images (GPT Image 2's own 16 is assumed [I]). The aspect ratio is sent as for
text-to-image (the edit page lists the same ten in one version and five more in another), so the
output follows the size asked rather than WaveSpeed's auto-detection from the input.

Cost: the answer carries no price, so ``cost_usd`` stays None (the catalog estimates it).
No cancel endpoint is documented, so predictions still running at our deadline are left alone.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Mapping

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, MIME_TYPES, AuthenticationError, BadResponseError, Capabilities,
                   ContentPolicyError, GeneratedImage, ImageRequest, ImageResult, InsufficientCreditError, Provider,
                   ProviderCancelledError, ProviderError, ProviderTimeoutError, Route, Timings, resolution_tier,
                   snap_aspect_ratio)

# The text-to-image page lists these ten. WaveSpeed's docs say the edit page adds 1:2, 2:1, 1:3, 3:1
# and 9:21, but WaveSpeed's edit docs page lists these ten only: edits use the same ten.
ASPECT_RATIOS = ("1:1", "3:2", "2:3", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# Reference images per edit: not documented by WaveSpeed; GPT Image 2's own limit [I].
MAX_INPUT_IMAGES = 16
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, qualities=("low", "medium", "high", "auto"),
                            formats=("png", "jpeg", "webp"), max_n=4, prompt_limit=32_000, edit=True, mask=False,
                            max_input_images=MAX_INPUT_IMAGES, edit_needs_public_url=True)
KEPT_HEADERS = ("x-request-id", "x-trace-id", "retry-after", "x-ratelimit-remaining")
POLICY_WORDS = ("nsfw", "content policy", "policy violation", "safety", "moderation", "sensitive", "flagged")
CREDIT_WORDS = ("top up", "top-up", "topup", "insufficient", "balance", "recharge")


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("wavespeed:openai/gpt-image-2", WaveSpeedProvider, "openai/gpt-image-2",
                  "WaveSpeed AI GPT Image 2", CAPABILITIES)]


class WaveSpeedProvider(Provider):
    slug = "wavespeed"
    name = "WaveSpeed AI"
    credential_names = ("WAVESPEED_API_KEY",)
    base_url_name = "WAVESPEED_BASE_URL"
    secret_names = ("WAVESPEED_API_KEY",)
    default_base_url = "https://api.wavespeed.ai/api/v3"
    poll_interval = 2.0  # WaveSpeed's clients poll /result every 1-2 s

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['WAVESPEED_API_KEY']}"}

    def generate(self, request: ImageRequest) -> ImageResult:
        body, notes = request_body(request)
        kept_body = body
        if request.is_edit:
            body = {**body, "images": http.reference_urls(request)}
            kept_body = {**body, "images": [image.describe() for image in request.images]}
        url = f"{self.base_url}/{self.route.model}/{'edit' if request.is_edit else 'text-to-image'}"
        ids, submitted = [], None
        with http.jobs_exist_if(lambda: ids):
            for _ in range(request.n):  # one image per prediction
                submitted = http.send(self.client, "POST", url, json=body, headers=self.headers(),
                                      raise_for=raise_for_wavespeed_error)
                data = envelope_data(submitted)
                if not data.get("id"):
                    raise BadResponseError("WaveSpeed accepted the prediction without an id.")
                ids.append(str(data["id"]))
        done: dict[str, dict] = {}
        ended: list[ProviderError] = []  # a prediction that ended without images

        def check():
            for prediction_id in ids:
                if prediction_id not in done:
                    answer = http.send(self.client, "GET", f"{self.base_url}/predictions/{prediction_id}/result",
                                       headers=self.headers(), raise_for=raise_for_wavespeed_error)
                    data = envelope_data(answer)
                    if finished(data):
                        done[prediction_id] = data
                        if (error := ending_error(prediction_id, data)) is not None:
                            ended.append(error)
                            return done  # stop polling: the call cannot succeed any more
            return done if len(done) == len(ids) else None

        deadline_at = self.clock() + self.deadline
        try:
            http.poll(check, interval=self.poll_interval, deadline_at=deadline_at, clock=self.clock, sleep=self.sleep)
        except ProviderTimeoutError:
            if self.clock() < deadline_at:
                raise  # a timeout answered by WaveSpeed itself, not our deadline
            raise ProviderTimeoutError(f"WaveSpeed prediction(s) {', '.join(i for i in ids if i not in done)} did not "
                                       "finish before our deadline; WaveSpeed has no documented cancel, so they may "
                                       "still complete (and be billed).") from None
        if ended:
            ended[0].after_submit = True  # the prediction existed (and may have billed): not submitted again
            raise ended[0]
        results = [done[prediction_id] for prediction_id in ids]
        images = [image for data in results for image in images_of(data, request.output_format)]
        if not images:
            raise BadResponseError("WaveSpeed completed the prediction without any output.")
        flagged = sum(1 for data in results for flag in data.get("has_nsfw_contents") or [] if flag is True)
        if flagged:
            notes.append(f"WaveSpeed flagged {flagged} output(s) as NSFW")
        if request.n > 1:
            notes.append(f"asked n={request.n}: WaveSpeed makes one image per request, so {request.n} predictions were sent")
        inference = [ms for data in results if (ms := inference_ms(data)) is not None]
        return ImageResult(
            images=tuple(images),
            usage=None,  # WaveSpeed's answer carries no price or usage
            timings=Timings(provider_generation_ms=max(inference) if inference else None),  # predictions run side by side
            request_id=",".join(ids),
            request_sent={"method": "POST", "url": url, "json": kept_body, "requests": len(ids),
                          "poll": f"GET {self.base_url}/predictions/{{id}}/result"},
            response_headers=http.kept_headers(submitted, KEPT_HEADERS),
            notes=tuple(notes),
        )


def request_body(request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    """The prediction input and the notes on what could not be sent as asked."""
    ratio, exact = snap_aspect_ratio(request.width, request.height, ASPECT_RATIOS)
    resolution = resolution_tier(request.width, request.height).lower()
    notes = []
    if not exact:
        notes.append(f"asked size {request.size}; WaveSpeed takes an aspect ratio and a resolution tier: "
                     f"sent {ratio} at {resolution}, WaveSpeed chooses the pixel size")
    quality = request.quality
    if quality == "auto":
        quality = "high"
        notes.append("quality auto is not offered by WaveSpeed: sent high (the catalog prices auto as high)")
    return {"prompt": request.prompt, "aspect_ratio": ratio, "resolution": resolution, "quality": quality,
            "output_format": request.output_format}, notes


def envelope_data(response: httpx.Response) -> dict[str, Any]:
    """``data`` of a ``{code, message, data}`` answer; a code other than 200 is an error."""
    payload = http.json_object(response, "WaveSpeed")
    code = payload.get("code")
    if isinstance(code, int) and code != 200:
        raise error_for_code(code, str(payload.get("message") or "no message"), response.headers)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise BadResponseError("WaveSpeed's answer has no data object.")
    return data


# The statuses WaveSpeed's official client waits through, and those that end a prediction.
RUNNING = ("created", "processing", "pending", "queued", "")
TERMINAL = ("completed", "failed", "cancelled", "timeout")


def finished(data: Mapping[str, Any]) -> bool:
    """Whether the prediction has ended (in any terminal status); an unknown status is an error."""
    status = str(data.get("status") or "").lower()
    if status in TERMINAL:
        return True
    if status in RUNNING:
        return False
    raise BadResponseError(f"WaveSpeed answered an unknown prediction status {status!r}.")


def ending_error(prediction_id: str, data: Mapping[str, Any]) -> ProviderError | None:
    """The error of a prediction that ended without images (failed, cancelled at WaveSpeed, timed
    out there); None when it completed."""
    status = str(data.get("status") or "").lower()
    reason = str(data.get("error") or "no reason given")
    if status == "failed":
        return failure_error(reason if data.get("error") else "the prediction failed without a reason")
    if status == "cancelled":
        return ProviderCancelledError(f"WaveSpeed cancelled prediction {prediction_id}: {reason}"[: http.MAX_MESSAGE])
    if status == "timeout":
        return ProviderTimeoutError(f"WaveSpeed timed out prediction {prediction_id}: {reason}"[: http.MAX_MESSAGE])
    return None


def failure_error(message: str) -> ProviderError:
    return http.failed_job_error(f"WaveSpeed prediction failed: {message}"[: http.MAX_MESSAGE], message,
                                 policy=POLICY_WORDS, invalid=("invalid", "must be"))


def error_for_code(code: int, message: str, headers: httpx.Headers) -> ProviderError:
    """The shared error for a WaveSpeed code (the HTTP status, or ``code`` inside a 200)."""
    lowered = message.lower()
    if code in (401, 402, 403) and any(word in lowered for word in CREDIT_WORDS):
        return InsufficientCreditError(f"HTTP {code}: {message}"[: http.MAX_MESSAGE], status=code)
    if code == 401:  # WaveSpeed also says 401 to a key whose account was never topped up
        return AuthenticationError(f"HTTP 401: {message} (a WaveSpeed key also gets 401 until the account "
                                   "has been topped up)"[: http.MAX_MESSAGE], status=401)
    if 400 <= code < 500 and code != 429 and any(word in lowered for word in POLICY_WORDS):
        return ContentPolicyError(f"HTTP {code}: {message}"[: http.MAX_MESSAGE], status=code)
    if code < 400:
        return BadResponseError(f"WaveSpeed answered code {code}: {message}"[: http.MAX_MESSAGE])
    return http.error_for(code, message[: http.MAX_MESSAGE], retry_after_s=http.retry_after(headers))


def raise_for_wavespeed_error(response: httpx.Response) -> None:
    try:
        payload = response.json()
    except ValueError:
        return  # not WaveSpeed's envelope: the generic mapping applies
    message = http.error_message(response) if isinstance(payload, (dict, list)) else str(payload)
    raise error_for_code(response.status_code, message, response.headers)


def images_of(data: Mapping[str, Any], output_format: str) -> list[GeneratedImage]:
    """``outputs``: URLs, or base64 strings when ``enable_base64_output`` was on."""
    mime = MIME_TYPES.get(output_format)
    images = []
    for output in data.get("outputs") or []:
        if isinstance(output, dict):
            output = output.get("url") or output.get("b64_json") or ""
        if not isinstance(output, str) or not output:
            continue
        if output.startswith(("http://", "https://", "data:")):
            images.append(GeneratedImage(url=output, mime=mime))
        else:
            try:
                images.append(GeneratedImage(data=base64.b64decode(output, validate=True), mime=mime))
            except (binascii.Error, ValueError):
                raise BadResponseError("WaveSpeed returned an output that is neither a URL nor base64.") from None
    return images


def inference_ms(data: Mapping[str, Any]) -> float | None:
    timings = data.get("timings")
    value = timings.get("inference") if isinstance(timings, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None
