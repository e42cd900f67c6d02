"""Higgsfield platform API (Higgsfield's docs; higgsfield-ai/higgsfield-js ``src/v2``,
docs.higgsfield.ai "Requests and lifecycle").

Submit ``POST {HIGGSFIELD_BASE_URL}/{model path}`` with the model input as JSON ->
``{status, request_id, status_url, cancel_url}``; poll ``GET /requests/{id}/status`` ->
``queued | in_progress | completed | failed | nsfw | canceled`` with ``images: [{url}]`` when
completed and ``error`` when failed; ``POST /requests/{id}/cancel`` works while queued (202,
else 400). Auth: ``Authorization: Key <key id>:<key secret>``.

Whether GPT Image 2 is callable on this API, and under which path, is unverified: there is no
default route. ``HIGGSFIELD_MODEL_PATHS`` (comma-separated) makes one route per path. The input
fields ``prompt``, ``aspect_ratio``, ``resolution`` (1k/2k/4k) and ``quality`` are inferred from
Higgsfield's other image models and its app's GPT Image settings [I].

No edits (``edit=False``): no reference-image field is documented for a GPT Image model path on
this API, and public material shows differently named fields per model (``image_references`` on
the legacy v1 API, ``image_url`` / ``input_image_urls`` in third-party clients), so none can be
assumed. An edit reaching this adapter is refused rather than sent as a plain generation.
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, BadResponseError, Capabilities, ContentPolicyError, GeneratedImage, ImageRequest,
                   ImageResult, InsufficientCreditError, InvalidRequestError, Provider, ProviderUnavailableError, Route,
                   resolution_tier, snap_aspect_ratio)
from .custom import listed_ids

RATIOS = ("1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16")  # Higgsfield image models' common set [I]
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=1)  # one image per request [I]
PATH_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
PENDING = {"queued", "in_progress"}
# The SDK reads HF_CREDENTIALS or HF_KEY ("KEY_ID:KEY_SECRET") first, then HF_API_KEY + HF_API_SECRET.
SINGLE_NAMES = ("HF_CREDENTIALS", "HF_KEY")
PAIR_NAMES = ("HF_API_KEY", "HF_API_SECRET")



def model_paths(env: Mapping[str, str]) -> list[str]:
    return listed_ids(env, "HIGGSFIELD_MODEL_PATHS", PATH_RE, "a model path like 'vendor/model/text-to-image'",
                      slashes=True, refused_segment="..")


def routes(env: Mapping[str, str]) -> list[Route]:
    names = _credential_names(env)
    return [Route(key=f"higgsfield:{path}", provider=HiggsfieldProvider, model=path,
                  label=f"Higgsfield {path} (GPT Image 2 on Higgsfield's API is unverified)",
                  capabilities=CAPABILITIES, options={"credential_names": names})
            for path in model_paths(env)]


def _credential_names(env: Mapping[str, str]) -> tuple[str, ...]:
    for name in SINGLE_NAMES:
        if ":" in (env.get(name) or ""):
            return (name,)
    return PAIR_NAMES


class HiggsfieldProvider(Provider):
    slug = "higgsfield"
    name = "Higgsfield"
    credential_names = PAIR_NAMES
    alternative_names = SINGLE_NAMES
    base_url_name = "HIGGSFIELD_BASE_URL"
    secret_names = (*PAIR_NAMES, *SINGLE_NAMES)
    default_base_url = "https://platform.higgsfield.ai"
    poll_interval = 2.0  # the SDK's pollInterval

    @classmethod
    def needed_names(cls, env: Mapping[str, str]) -> tuple[str, ...]:
        return _credential_names(env)

    def headers(self) -> dict[str, str]:
        single = next((self.credentials[n] for n in SINGLE_NAMES if ":" in self.credentials.get(n, "")), None)
        if single is None:
            single = f"{self.credentials['HF_API_KEY']}:{self.credentials['HF_API_SECRET']}"
        return {"Authorization": f"Key {single}"}

    def generate(self, request: ImageRequest) -> ImageResult:
        if request.images or request.mask is not None:
            raise InvalidRequestError("Edits are not offered on Higgsfield routes: no reference-image field is "
                                      "documented for a GPT Image model on Higgsfield's API.")
        deadline_at = self.clock() + self.deadline
        body, notes = request_body(request)
        url = f"{self.base_url}/{self.route.model}"
        response = http.send(self.client, "POST", url, json=body, headers=self.headers(), raise_for=raise_for_error)
        payload = http.json_object(response, "Higgsfield")
        request_id = payload.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise BadResponseError("Higgsfield accepted the request without a request_id.")
        if payload.get("status") not in ("completed", "failed", "nsfw", "canceled"):
            payload = self.wait(request_id, payload, deadline_at)
        return ImageResult(
            images=tuple(images_of(payload)),
            request_id=request_id,
            request_sent={"method": "POST", "url": url, "json": body},
            notes=tuple(notes),
        )

    def wait(self, request_id: str, submitted: Mapping[str, Any], deadline_at: float) -> dict:
        status_url = http.own_url(submitted.get("status_url"), self.base_url, f"/requests/{quote(request_id, safe='')}/status")
        cancel_url = http.own_url(submitted.get("cancel_url"), self.base_url, f"/requests/{quote(request_id, safe='')}/cancel")

        def check():
            try:
                response = http.send(self.client, "GET", status_url, headers=self.headers(), raise_for=raise_for_error)
            except ProviderUnavailableError:
                return None  # the SDK keeps polling through 5xx
            payload = http.json_object(response, "Higgsfield")
            return None if payload.get("status") in PENDING else payload

        def cancel():
            http.send(self.client, "POST", cancel_url, headers=self.headers())

        return http.poll(check, interval=self.poll_interval, deadline_at=deadline_at, clock=self.clock,
                         sleep=self.sleep, on_give_up=cancel)


def request_body(request: ImageRequest) -> tuple[dict[str, Any], list[str]]:
    ratio, exact = snap_aspect_ratio(request.width, request.height, RATIOS)
    resolution = resolution_tier(request.width, request.height).lower()
    notes = [f"size {request.size} asked: Higgsfield takes aspect_ratio + resolution; sent {ratio} at {resolution}"
             + ("" if exact else " (nearest ratio)") + ", the provider chose the pixels",
             f"output_format {request.output_format} asked: no format option is known on Higgsfield's API; "
             "the image is in the format the provider returned"]
    body = {"prompt": request.prompt, "aspect_ratio": ratio, "resolution": resolution, "quality": request.quality}
    return body, notes


def raise_for_error(response: httpx.Response) -> None:
    """The SDK's mapping: 401 credentials, 403 not enough credits, 400/422 bad input (``detail``);
    a model unavailable to the account answers 404, 423 or 503 (docs: Authentication)."""
    status = response.status_code
    text = f"HTTP {status}: {http.error_message(response)}"
    if status == 403:
        raise InsufficientCreditError(text, status=status)
    if status == 404:
        raise InvalidRequestError(f"{text} (is the model path right and available to this account?)", status=status)
    if status == 423:
        raise ProviderUnavailableError(text, status=status)


def images_of(payload: Mapping[str, Any]) -> list[GeneratedImage]:
    """The images of a finished request, or the error its terminal status means."""
    status = payload.get("status")
    if status == "nsfw":
        raise ContentPolicyError("Higgsfield's moderation rejected the input or the output (nsfw); credits refunded.")
    if status == "failed":
        reason = http.error_message(httpx.Response(200, json={"error": payload.get("error")})) if payload.get("error") else ""
        raise ProviderUnavailableError(f"Higgsfield reported the request failed: {reason or 'no reason given'}")
    if status == "canceled":
        raise ProviderUnavailableError("Higgsfield reports the request as canceled.")
    images = [GeneratedImage(url=item["url"]) for item in payload.get("images") or []
              if isinstance(item, dict) and isinstance(item.get("url"), str)]
    if not images:
        raise BadResponseError(f"Higgsfield reported the request {status or 'finished'} without any images[].url.")
    return images

