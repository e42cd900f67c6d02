"""Kie.ai market jobs API: ``POST {KIE_BASE_URL}/jobs/createTask``, then poll
``GET {KIE_BASE_URL}/jobs/recordInfo?taskId=`` until ``data.state`` is success or fail
(Kie's docs; the same protocol serves APIPass, section 13, through the module-level
functions here).

What the protocol cannot express, and how this adapter says so in ``ImageResult.notes``:

- pixels: Kie takes an ``aspect_ratio`` and a ``resolution`` tier (1K/2K/4K); the size asked is
  snapped to the nearest ratio Kie offers and its long edge picks the tier;
- quality: GPT Image 2 on Kie has no quality field, so none is sent (the provider chooses);
- output format: no field either; Kie returns its own format;
- n: one image per task, so n tasks are submitted and polled together.

Edits use the sibling model ``gpt-image-2-image-to-image`` with ``input.input_urls``: Kie fetches
the reference images itself, so it takes URLs only (no bytes, no data: URLs; at most 16, JPEG,
PNG or WebP up to 10 MB each, as Kie's image-to-image pages say). The app hands out an expiring
public link per image (``InputImage.url``, SITE_URL); there is no mask field.

Errors come as HTTP 200 with a ``code`` in the body as often as with an HTTP status; both are
mapped. There is no documented cancel, so a job we stop waiting for may still be billed.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import httpx

from . import http
from .base import (GPT_IMAGE_2_SIZES, BadResponseError, Capabilities, ContentPolicyError, GeneratedImage, ImageRequest,
                   ImageResult, Provider, ProviderError, ProviderTimeoutError, ProviderUnavailableError, Route, Timings,
                   resolution_tier, snap_aspect_ratio)

MODEL = "gpt-image-2-text-to-image"
EDIT_MODEL = "gpt-image-2-image-to-image"
# Kie's image-to-image pages: at most 16 input URLs per task [V: docs.kie.ai gpt-image 1.5 image-to-image;
# the gpt-image-2 OpenAPI summary on ezkit.app says the same].
MAX_INPUT_URLS = 16
# Ratios that Kie's GPT Image 2 page and public clients agree on (Kie's docs list 4:5 too,
# but a public client saw createTask answer 422 to an explicit 4:5, so it is not offered here).
ASPECT_RATIOS = ("1:1", "3:2", "2:3", "4:3", "3:4", "16:9", "9:16")
# Ratios without a 4K tier (1:1 at 4K exceeds GPT Image 2's pixel limit): sent at 2K instead.
NO_4K = ("1:1",)
CAPABILITIES = Capabilities(custom_size=GPT_IMAGE_2_SIZES, max_n=4, prompt_limit=20_000, edit=True, mask=False,
                            max_input_images=MAX_INPUT_URLS, edit_needs_public_url=True)
PENDING = ("waiting", "queuing", "queueing", "generating", "pending", "processing", "running")
KEPT_HEADERS = ("x-request-id", "retry-after")
POLICY_WORDS = ("content polic", "flagged", "sensitive", "nsfw", "moderation", "safety", "violat")
# Kie's documented body codes (Kie's docs), beyond what http.error_for already maps.
UNAVAILABLE_CODES = (455, 500, 501, 505)


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("kie:gpt-image-2", KieProvider, MODEL, "Kie.ai GPT Image 2", CAPABILITIES,
                  {"edit_model": EDIT_MODEL})]


class KieProvider(Provider):
    slug = "kie"
    name = "Kie.ai"
    credential_names = ("KIE_API_KEY",)
    base_url_name = "KIE_BASE_URL"
    secret_names = ("KIE_API_KEY",)
    default_base_url = "https://api.kie.ai/api/v1"
    poll_interval = 3.0  # growing to 8 s, the cadence public Kie clients use

    def generate(self, request: ImageRequest) -> ImageResult:
        return run_jobs(self, request, self.credentials["KIE_API_KEY"])


# --- the jobs protocol, shared with APIPass ---------------------------------------------------

MAX_POLL_INTERVAL = 8.0
POLL_GROWTH = 1.5


def task_input(request: ImageRequest, provider_name: str) -> tuple[dict[str, Any], list[str]]:
    """``input`` for createTask and the notes on what could not be sent as asked."""
    notes = []
    ratio, exact = snap_aspect_ratio(request.width, request.height, ASPECT_RATIOS)
    if not exact:
        notes.append(f"size {request.size} has no matching aspect ratio on {provider_name}: "
                     f"sent aspect_ratio {ratio} (the provider picks the pixels)")
    tier = resolution_tier(request.width, request.height)
    if tier == "4K" and ratio in NO_4K:
        notes.append(f"size {request.size} is in the 4K tier, which {provider_name} does not offer for "
                     f"{ratio}: sent resolution 2K")
        tier = "2K"
    if request.quality != "auto":
        notes.append(f"quality {request.quality} cannot be set on this route: {provider_name} has no "
                     "quality option for GPT Image 2, so none was sent and the provider chose")
    if request.n > 1:
        notes.append(f"n={request.n}: {provider_name} makes one image per task, so {request.n} tasks "
                     "were submitted (each billed as one image)")
    return {"prompt": request.prompt, "aspect_ratio": ratio, "resolution": tier}, notes


def run_jobs(provider: Provider, request: ImageRequest, api_key: str) -> ImageResult:
    """Submit ``request.n`` tasks, poll them together, return their result URLs. An edit goes to
    the route's ``edit_model`` with the reference images' URLs in ``input_urls``."""
    name = provider.name
    headers = {"Authorization": f"Bearer {api_key}"}
    task, notes = task_input(request, name)
    model, recorded = provider.route.model, task
    if request.is_edit:
        model = provider.route.options.get("edit_model") or EDIT_MODEL
        task = {**task, "input_urls": http.reference_urls(request)}
        recorded = {**task, "input_urls": [image.describe() for image in request.images]}
    body = {"model": model, "input": task}
    create_url = f"{provider.base_url}/jobs/createTask"
    task_ids, kept = [], {}
    with http.jobs_exist_if(lambda: task_ids):
        for _ in range(request.n):
            response = http.send(provider.client, "POST", create_url, json=body, headers=headers,
                                 raise_for=lambda r: raise_for_status(r, name))
            data = envelope(response, name)
            task_id = data.get("taskId") if isinstance(data, dict) else None
            if not task_id:
                raise BadResponseError(f"{name} accepted the task but gave no taskId: {response.text[:200]!r}")
            task_ids.append(str(task_id))
            kept = http.kept_headers(response, KEPT_HEADERS)

    records: dict[str, dict] = {}
    gave_up = []

    def check():
        for task_id in task_ids:
            if task_id not in records:
                record = task_record(provider, task_id, headers)
                if record is not None:
                    records[task_id] = record
        return records if len(records) == len(task_ids) else None

    try:
        http.poll(check, interval=provider.poll_interval, max_interval=MAX_POLL_INTERVAL, growth=POLL_GROWTH,
                  deadline_at=provider.clock() + provider.deadline, clock=provider.clock, sleep=provider.sleep,
                  on_give_up=lambda: gave_up.append(True))  # nothing to cancel: Kie documents no cancel
    except ProviderTimeoutError:
        if not gave_up:
            raise
        pending = [t for t in task_ids if t not in records]
        raise ProviderTimeoutError(
            f"{name} task(s) {', '.join(pending)} did not finish before our deadline; {name} has no "
            "cancel, so they may still finish and be billed.") from None

    urls = [url for task_id in task_ids for url in result_urls(records[task_id], name)]
    notes.extend(format_notes(request, urls, name))
    return ImageResult(
        images=tuple(GeneratedImage(url=url) for url in urls),
        usage=None,  # no per-task cost in the answer: the catalog's per-tier price is the estimate
        timings=Timings(provider_generation_ms=generation_ms(records.values())),
        request_id=",".join(task_ids),
        request_sent={"method": "POST", "url": create_url, "json": {"model": model, "input": recorded},
                      **({"times": request.n} if request.n > 1 else {})},
        response_headers=kept,
        notes=tuple(notes),
    )


def task_record(provider: Provider, task_id: str, headers: Mapping[str, str]) -> dict | None:
    """The finished task record, None while it runs; a failed task raises."""
    name = provider.name
    response = http.send(provider.client, "GET", f"{provider.base_url}/jobs/recordInfo",
                         params={"taskId": task_id}, headers=headers, raise_for=lambda r: raise_for_status(r, name))
    data = envelope(response, name)
    if not isinstance(data, dict):
        raise BadResponseError(f"{name}'s task record for {task_id} is not an object.")
    state = str(data.get("state") or "").lower()
    if state == "success":
        return data
    if state in ("fail", "failed", "error"):
        raise failed_task_error(data, task_id, name)
    if state in PENDING or not state:
        return None
    raise BadResponseError(f"{name} reported an unknown task state {state!r} for {task_id}.")


def envelope(response: httpx.Response, name: str) -> Any:
    """``data`` of a ``{code, msg, data}`` answer; a code other than 200 raises, even in HTTP 200."""
    payload = http.json_object(response, name)
    code = payload.get("code")
    if code is not None and _int(code) != 200:
        raise code_error(_int(code), http.error_message(response), name, http.retry_after(response.headers))
    return payload.get("data")


def raise_for_status(response: httpx.Response, name: str) -> None:
    """An HTTP error status: the body's own ``code`` wins when there is one."""
    try:
        code = _int(response.json().get("code"))
    except (ValueError, AttributeError):
        code = None
    raise code_error(code or response.status_code, http.error_message(response), name,
                     http.retry_after(response.headers))


def code_error(code: int | None, message: str, name: str, retry_after: float | None = None) -> ProviderError:
    """The shared error for one of Kie's codes (401, 402, 404, 422, 429, 455, 500, 501, 505)."""
    text = f"{name} code {code}: {message}"
    if any(word in message.lower() for word in POLICY_WORDS):
        return ContentPolicyError(text, status=code)
    if code in UNAVAILABLE_CODES:
        return ProviderUnavailableError(text, status=code, retry_after=retry_after)
    if code is None:
        return BadResponseError(text)
    error = http.error_for(code, message, retry_after_s=retry_after)
    return type(error)(text, status=code, retry_after=retry_after)


def failed_task_error(data: Mapping[str, Any], task_id: str, name: str) -> ProviderError:
    """A task in state ``fail``: a refusal, one of the documented codes, or a generation failure."""
    code = _int(data.get("failCode"))
    message = str(data.get("failMsg") or "no reason given")[: http.MAX_MESSAGE]
    text = f"{name} task {task_id} failed (failCode {data.get('failCode') or '-'}): {message}"
    if any(word in message.lower() for word in POLICY_WORDS):
        return ContentPolicyError(text, status=code)
    if code in (401, 402, 404, 422, 429):
        return type(code_error(code, message, name))(text, status=code)
    return ProviderUnavailableError(text, status=code)  # "generation failed": trying again may work


def result_urls(record: Mapping[str, Any], name: str) -> list[str]:
    """``resultJson`` -> ``resultUrls``; Kie sends a JSON string, APIPass clients see an object."""
    raw = record.get("resultJson")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise BadResponseError(f"{name}'s resultJson does not parse: {raw[:200]!r}") from None
    urls = raw.get("resultUrls") if isinstance(raw, dict) else None
    urls = [u for u in urls or [] if isinstance(u, str) and u]
    if not urls:
        raise BadResponseError(f"{name}'s task {record.get('taskId')} succeeded without resultUrls.")
    return urls


def generation_ms(records) -> float | None:
    """completeTime - createTime (ms epochs) of the slowest task: the provider's own figure."""
    spans = []
    for record in records:
        created, completed = _int(record.get("createTime")), _int(record.get("completeTime"))
        if created and completed and completed >= created:
            spans.append(float(completed - created))
    return max(spans) if spans else None


def format_notes(request: ImageRequest, urls: list[str], name: str) -> list[str]:
    """Kie has no output-format option: say so unless every URL ends in the format asked."""
    wanted = {"jpeg": (".jpg", ".jpeg")}.get(request.output_format, (f".{request.output_format}",))
    paths = [httpx.URL(url).path.lower() for url in urls]
    if all(path.endswith(wanted) for path in paths):
        return []
    got = sorted({path.rsplit(".", 1)[-1] for path in paths if "." in path.rsplit("/", 1)[-1]})
    said = f"; it returned {', '.join(got)}" if got else ""
    return [f"output format {request.output_format} cannot be chosen on this route: {name} has no format "
            f"option (none was sent){said}"]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
