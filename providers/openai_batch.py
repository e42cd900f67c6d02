"""OpenAI's Batch API for GPT Image 2: half price, answered within 24 hours (OpenAI's Batch API guide).

Upload a one-line JSONL file (``POST /files``, purpose ``batch``), create the batch
(``POST /batches``), check it (``GET /batches/{id}``) until it is completed, then read the output
file (``GET /files/{id}/content``): each line carries the images response for our ``custom_id``.

A batch waits for minutes to hours, so this adapter is a ``LongRunningProvider``: instead of one
blocking ``generate``, the app calls ``submit`` once, stores the returned job, and calls ``check``
from a scheduled task every ``poll_interval`` seconds, without holding a worker thread in between;
``cancel`` stops the batch at OpenAI.

No edits: the Batch API takes ``/v1/images/edits`` lines (CreateBatchRequest.endpoint in
openai/openai-openapi), but only as JSON bodies (``EditImageBodyJsonParam``), whose ``size`` is
auto, 1024x1024, 1536x1024 or 1024x1536 only, and whose references are URLs or file ids rather
than the multipart uploads this app sends. This route declares ``edit=False``, so the runner
refuses an edit before anything is uploaded, instead of running a plain generation in its place.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

import httpx

from . import http
from .base import (BadResponseError, ImageRequest, ImageResult, LongRunningProvider, ProviderCancelledError,
                   ProviderTimeoutError, Route)
from .openai import CAPABILITIES, OpenAIProvider, images_body, images_result, openai_headers, raise_for_openai_error

ENDPOINT = "/v1/images/generations"
CUSTOM_ID = "image-provider-compare"
PENDING = ("validating", "in_progress", "finalizing", "cancelling")
BATCH_CAPABILITIES = dataclasses.replace(CAPABILITIES, edit=False, mask=False)


def routes(env: Mapping[str, str]) -> list[Route]:
    return [Route("openai-batch:gpt-image-2", OpenAIBatchProvider, "gpt-image-2",
                  "OpenAI GPT Image 2 (Batch API, 50% off, within 24 h)", BATCH_CAPABILITIES,
                  {"poll_interval": float(env.get("OPENAI_BATCH_POLL_SECONDS") or 60)})]


class OpenAIBatchProvider(LongRunningProvider):
    slug = "openai-batch"
    name = "OpenAI Batch API"
    # The same key, organisation, project and base URL as the direct route.
    credential_names = OpenAIProvider.credential_names
    optional_names = OpenAIProvider.optional_names
    base_url_name = OpenAIProvider.base_url_name
    secret_names = OpenAIProvider.secret_names
    default_base_url = OpenAIProvider.default_base_url
    # A batch is given 24 hours; we give it 25 before we cancel it and call it timed out.
    long_deadline_seconds = 25 * 3600

    @property
    def poll_interval(self) -> float:  # type: ignore[override]
        return self.route.options.get("poll_interval", 60.0)

    def headers(self) -> dict[str, str]:
        return openai_headers(self.credentials)

    def submit(self, request: ImageRequest) -> dict[str, Any]:
        """Upload the request as a batch of one and start it; returns the job to keep."""
        body = images_body(self.route.model, request)
        line = {"custom_id": CUSTOM_ID, "method": "POST", "url": ENDPOINT, "body": body}
        upload = http.send(self.client, "POST", f"{self.base_url}/files", headers=self.headers(),
                           data={"purpose": "batch"},
                           files={"file": ("batch.jsonl", json.dumps(line).encode() + b"\n", "application/jsonl")},
                           raise_for=raise_for_openai_error)
        input_file_id = _field(http.json_body(upload), "id")
        created = http.send(self.client, "POST", f"{self.base_url}/batches", headers=self.headers(),
                            json={"input_file_id": input_file_id, "endpoint": ENDPOINT, "completion_window": "24h",
                                  "metadata": {"source": "image-provider-compare"}},
                            raise_for=raise_for_openai_error)
        batch = http.json_body(created)
        return {"batch_id": _field(batch, "id"), "input_file_id": input_file_id, "body": body,
                "status": batch.get("status")}

    def check(self, job: Mapping[str, Any], request: ImageRequest) -> ImageResult | None:
        """None while the batch is still running; the result once it completed; an error if it
        failed, expired or was cancelled."""
        response = http.send(self.client, "GET", f"{self.base_url}/batches/{job['batch_id']}", headers=self.headers(),
                             raise_for=raise_for_openai_error)
        batch = http.json_body(response)
        status = batch.get("status")
        if status in PENDING:
            return None
        if status == "failed":
            errors = (batch.get("errors") or {}).get("data") or [{}]
            reason = str(errors[0].get("message") or "no reason given")
            # A job OpenAI ran and reports failed, not an answer we cannot read: classified by its
            # error code and words (a line OpenAI refused to run is an invalid request).
            raise http.failed_job_error(f"The batch failed: {reason}."[: http.MAX_MESSAGE],
                                        f"{errors[0].get('code') or ''} {reason}",
                                        policy=("safety system", "moderation"), invalid=("invalid", "must be"))
        if status == "expired":
            raise ProviderTimeoutError("OpenAI did not run the batch within its 24-hour window (expired).")
        if status == "cancelled":
            raise ProviderCancelledError("The batch was cancelled at OpenAI.")
        if status != "completed":
            raise BadResponseError(f"The batch has an unknown status {status!r}.")
        line = self._our_line(batch)
        answer = line.get("response") or {}
        if line.get("error") or answer.get("status_code", 200) >= 400:
            error_body = answer.get("body") or {"error": line.get("error") or {}}
            failed = httpx.Response(answer.get("status_code") or 400, json=error_body)
            raise_for_openai_error(failed)
            raise http.error_for(failed.status_code, http.error_message(failed))
        headers = {"x-request-id": answer.get("request_id") or ""}
        result = images_result(httpx.Response(200, json=answer.get("body") or {}, headers=headers), request,
                               self.route, job["body"], f"{self.base_url}/batches",
                               request_sent={"method": "POST", "url": f"{self.base_url}/batches", "batch_line":
                                             {"custom_id": CUSTOM_ID, "url": ENDPOINT, "body": job["body"]}})
        return _with_batch_times(result, batch)

    def cancel(self, job: Mapping[str, Any]) -> None:
        http.send(self.client, "POST", f"{self.base_url}/batches/{job['batch_id']}/cancel", headers=self.headers(),
                  raise_for=raise_for_openai_error)

    def generate(self, request: ImageRequest) -> ImageResult:
        """The blocking form (scripts, tests): submit, then check until done or the deadline."""
        job = self.submit(request)
        return http.poll(lambda: self.check(job, request), interval=self.poll_interval,
                         deadline_at=self.clock() + self.deadline, clock=self.clock, sleep=self.sleep,
                         on_give_up=lambda: self.cancel(job))

    def _our_line(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        for key in ("output_file_id", "error_file_id"):
            if not batch.get(key):
                continue
            content = http.send(self.client, "GET", f"{self.base_url}/files/{batch[key]}/content",
                                headers=self.headers(), raise_for=raise_for_openai_error)
            for raw in content.text.splitlines():
                if raw.strip():
                    line = json.loads(raw)
                    if line.get("custom_id") == CUSTOM_ID:
                        return line
        raise BadResponseError("The completed batch has no output line for our request.")


def _field(payload: Any, name: str) -> str:
    if not isinstance(payload, dict) or not payload.get(name):
        raise BadResponseError(f"OpenAI's answer has no {name!r}.")
    return str(payload[name])


def _with_batch_times(result: ImageResult, batch: Mapping[str, Any]) -> ImageResult:
    """The provider's own split: created -> in_progress is its queue, in_progress -> completed
    its processing (unix seconds on the batch object)."""
    import dataclasses

    created, started, finished = (batch.get(k) for k in ("created_at", "in_progress_at", "completed_at"))
    queue = (started - created) * 1000 if isinstance(created, int) and isinstance(started, int) else None
    work = (finished - started) * 1000 if isinstance(started, int) and isinstance(finished, int) else None
    timings = dataclasses.replace(result.timings, provider_queue_ms=queue, provider_generation_ms=work)
    return dataclasses.replace(result, timings=timings, request_id=batch.get("id") or result.request_id)
