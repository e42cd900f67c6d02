"""Every status each asynchronous protocol documents (in the provider's own client or schema,
tests/conformance/specs) ends cleanly: a running one is polled again, a successful one gives the
images, and a terminal one gives the error of its kind (failed, cancelled, timed out), never
"unknown status" nor a retry of a job that may bill. The fake server answers the first status check
with the status under test; later checks get the success status after a running one, and the same
status again after a terminal one (a finished job stays finished)."""

import json

import httpx
import pytest

from providers import apiframe, fal, openai_batch, replicate, wavespeed
from providers.base import (
    BadResponseError, ImageRequest, ProviderCancelledError, ProviderError, ProviderTimeoutError,
)
from providers.runner import may_retry

from tests.conformance import spec
from tests.helpers import FakeClock

IMAGE_URL = "https://cdn.example.com/out.png"
REQUEST = ImageRequest(prompt="a red fox in fresh snow")


def run(route, env, answer_status, status, then):
    """Run ``route`` against a server that answers the first status check with ``status`` and any
    later one with ``then``; returns the result or the error raised, and the number of checks."""
    then = then if kind_of(route, status) == "running" else status
    checks = []

    def handle(request):
        if answer_status.matches(request):
            checks.append(request)
            return answer_status(request, status if len(checks) == 1 else then)
        return answer_status.other(request)

    provider = route.build(client=httpx.Client(transport=httpx.MockTransport(handle)), env=env, deadline=600)
    clock = FakeClock()
    provider.clock, provider.sleep = clock, clock.sleep
    try:
        return provider.generate(REQUEST), len(checks)
    except ProviderError as error:
        return error, len(checks)


def expect(outcome, checks, kind):
    """``kind``: "running", "success", or the error class a terminal status must raise."""
    if kind in ("running", "success"):
        assert not isinstance(outcome, Exception), outcome
        assert [image.url for image in outcome.images] == [IMAGE_URL]
        assert checks == (2 if kind == "running" else 1)
    else:
        assert isinstance(outcome, kind) and not isinstance(outcome, BadResponseError), outcome
        assert "unknown" not in outcome.message.lower()
        assert not may_retry(outcome)  # the job existed at the provider: never submitted again


RUNNING: dict[str, set[str]] = {}


def kind_of(route, status):
    return "running" if status in RUNNING.get(route.provider_slug, set()) else "ended"


class Server:
    """One protocol's answers: ``matches`` picks the status check, ``__call__`` answers it with a
    status, ``other`` answers everything else (submit, result)."""

    def __init__(self, matches, status_answer, other):
        self.matches, self.status_answer, self.other = matches, status_answer, other

    def __call__(self, request, status):
        return self.status_answer(request, status)


def kinds(extract, failures, slug):
    RUNNING[slug] = set(spec.statuses(extract).get("running", []))
    found = {status: "running" for status in spec.statuses(extract).get("running", [])}
    found.update({status: "success" for status in spec.statuses(extract).get("success", [])})
    found.update({status: failures[status] for status in spec.statuses(extract)["terminal"]})
    return found


# --- WaveSpeed: wavespeed-python's Client._wait ----------------------------------------------------

WAVESPEED = Server(
    lambda r: r.url.path.endswith("/result"),
    lambda r, status: httpx.Response(200, json={"code": 200, "message": "success", "data": {
        "id": "p1", "status": status, "outputs": [IMAGE_URL] if status == "completed" else [],
        "error": "" if status in ("completed", "processing", "pending") else f"the prediction {status}"}}),
    lambda r: httpx.Response(200, json={"code": 200, "message": "success", "data": {"id": "p1", "status": "created"}}))


@pytest.mark.parametrize("status, kind", kinds("wavespeed/statuses.json", {
    "failed": ProviderError, "cancelled": ProviderCancelledError, "timeout": ProviderTimeoutError}, "wavespeed").items())
def test_every_wavespeed_status_ends_cleanly(status, kind):
    route = wavespeed.routes({})[0]
    expect(*run(route, {"WAVESPEED_API_KEY": "ws-key-12345"}, WAVESPEED, status, "completed"), kind)


# --- Replicate: replicate-python's Prediction.status ----------------------------------------------

def replicate_prediction(status):
    return {"id": "abc", "status": status, "output": [IMAGE_URL] if status == "succeeded" else None,
            "error": f"the prediction {status}" if status == "failed" else None,
            "urls": {"get": "https://api.replicate.com/v1/predictions/abc",
                     "cancel": "https://api.replicate.com/v1/predictions/abc/cancel"}}


REPLICATE = Server(
    lambda r: r.method == "GET" and r.url.path == "/v1/predictions/abc",
    lambda r, status: httpx.Response(200, json=replicate_prediction(status)),
    lambda r: httpx.Response(201, json=replicate_prediction("starting")))


@pytest.mark.parametrize("status, kind", kinds("replicate/prediction.json", {
    "failed": ProviderError, "canceled": ProviderCancelledError}, "replicate").items())
def test_every_replicate_status_ends_cleanly(status, kind):
    route = replicate.routes({})[0]
    expect(*run(route, {"REPLICATE_API_TOKEN": "r8_key_12345"}, REPLICATE, status, "succeeded"), kind)


# --- fal: fal-js QueueStatus (a failed request ends COMPLETED with an error) ----------------------

FAL_JOB = {"request_id": "req-1", "status_url": "https://queue.fal.run/openai/gpt-image-2/requests/req-1/status",
           "response_url": "https://queue.fal.run/openai/gpt-image-2/requests/req-1",
           "cancel_url": "https://queue.fal.run/openai/gpt-image-2/requests/req-1/cancel"}


def fal_status(request, status):
    if status == "COMPLETED (error)":
        return httpx.Response(200, json={**FAL_JOB, "status": "COMPLETED", "error": "the runner crashed",
                                         "error_type": "runner_server_error"})
    return httpx.Response(200, json={**FAL_JOB, "status": status, "queue_position": 0})


FAL = Server(lambda r: r.url.path.endswith("/status"), fal_status,
             lambda r: httpx.Response(200, json={**FAL_JOB, "status": "IN_QUEUE"}) if r.method == "POST"
             else httpx.Response(200, json={"images": [{"url": IMAGE_URL, "content_type": "image/png"}]}))


RUNNING["fal"] = set(spec.statuses("fal/gpt-image-2.json")["running"])


@pytest.mark.parametrize("status, kind", [
    *((status, "running") for status in spec.statuses("fal/gpt-image-2.json")["running"]),
    *((status, "success") for status in spec.statuses("fal/gpt-image-2.json")["terminal"]),
    ("COMPLETED (error)", ProviderError),
])
def test_every_fal_status_ends_cleanly(status, kind):
    route = fal.routes({})[0]
    expect(*run(route, {"FAL_KEY": "fal-key-12345"}, FAL, status, "COMPLETED"), kind)


# --- Apiframe: Job.status in its OpenAPI -----------------------------------------------------------

def apiframe_job(request, status):
    return httpx.Response(200, json={
        "id": "6f1c0a5e-1111-4222-8333-944455556666", "status": status, "model": "gpt-image-2", "progress": None,
        "error": "the job failed" if status == "FAILED" else None, "creditCost": 23 if status == "COMPLETED" else None,
        "webhookStatus": None, "createdAt": "2026-12-06T07:00:00Z",
        "completedAt": "2026-12-06T07:00:30Z" if status == "COMPLETED" else None,
        "result": {"images": [IMAGE_URL]} if status == "COMPLETED" else None})


APIFRAME = Server(lambda r: r.method == "GET" and "/jobs/" in r.url.path, apiframe_job,
                  lambda r: httpx.Response(202, json={"jobId": "6f1c0a5e-1111-4222-8333-944455556666",
                                                      "status": "QUEUED"}))
APIFRAME_STATUSES = spec.document("apiframe/jobs.json")["components"]["schemas"]["Job"]["properties"]["status"]["enum"]
APIFRAME_KINDS = {"QUEUED": "running", "PROCESSING": "running", "COMPLETED": "success", "FAILED": ProviderError,
                  "CANCELLED": ProviderCancelledError}
RUNNING["apiframe"] = {"QUEUED", "PROCESSING"}


@pytest.mark.parametrize("status", APIFRAME_STATUSES)
def test_every_apiframe_job_status_ends_cleanly(status):
    route = apiframe.routes({})[0]
    expect(*run(route, {"APIFRAME_API_KEY": "af-key-12345"}, APIFRAME, status, "COMPLETED"), APIFRAME_KINDS[status])


# --- OpenAI Batch: Batch.status in openai-openapi -------------------------------------------------

def batch_answer(request, status):
    return httpx.Response(200, json={
        "id": "batch_1", "object": "batch", "endpoint": "/v1/images/generations", "input_file_id": "file-in",
        "completion_window": "24h", "status": status, "created_at": 1, "in_progress_at": 2, "completed_at": 3,
        "output_file_id": "file-out" if status == "completed" else None,
        "errors": {"data": [{"message": "the batch failed"}]} if status == "failed" else None})


def batch_other(request):
    if request.url.path.endswith("/files"):
        return httpx.Response(200, json={"id": "file-in"})
    if request.url.path.endswith("/batches"):
        return batch_answer(request, "validating")
    line = {"custom_id": openai_batch.CUSTOM_ID, "response": {"status_code": 200, "request_id": "req_1", "body": {
        "created": 1, "data": [{"url": IMAGE_URL}]}}}
    return httpx.Response(200, text=json.dumps(line) + "\n")


BATCH = Server(lambda r: r.method == "GET" and r.url.path == "/v1/batches/batch_1", batch_answer, batch_other)
BATCH_STATUSES = spec.document("openai/images.json")["components"]["schemas"]["Batch"]["properties"]["status"]["enum"]
BATCH_KINDS = {"validating": "running", "in_progress": "running", "finalizing": "running",
               "cancelling": ProviderCancelledError, "completed": "success", "failed": ProviderError,
               "expired": ProviderTimeoutError, "cancelled": ProviderCancelledError}
RUNNING["openai-batch"] = {"validating", "in_progress", "finalizing", "cancelling"}


def batch_then(status):
    """What follows a running batch status: cancelling ends cancelled, the others completed."""
    return "cancelled" if status == "cancelling" else "completed"


@pytest.mark.parametrize("status", BATCH_STATUSES)
def test_every_openai_batch_status_ends_cleanly(status):
    route = openai_batch.routes({})[0]
    outcome, checks = run(route, {"OPENAI_API_KEY": "sk-key-12345"}, BATCH, status, batch_then(status))
    if status == "cancelling":  # polled on until it ends cancelled
        assert isinstance(outcome, ProviderCancelledError) and checks == 2
    else:
        expect(outcome, checks, BATCH_KINDS[status])
