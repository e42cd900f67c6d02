"""A fake of Apiframe's v2 job API for ``model: "gpt-image-2"`` (Apiframe's docs).

Checked against Apiframe's OpenAPI spec in apiframe-ai/apiframe-nodejs-sdk.

``POST {prefix}/images/generate`` (``X-API-Key``) validates the body like Apiframe's schema and
answers **202** ``{jobId, status: "QUEUED"}``; ``GET {prefix}/jobs/{id}`` moves the job
QUEUED -> PROCESSING -> COMPLETED over successive polls, with ``result``, ``creditCost`` (4/9/23/23
credits per image) and ``createdAt``/``completedAt``. Images are drawn by Pillow at the size
the aspect ratio gives and served by the fake itself under ``/files/``. Errors use Apiframe's
``{"error": ...}`` envelope; a content refusal is a FAILED job.

Edits: ``gptImage2Params.input_images`` is an array (or null) of URL strings (``format: uri`` in
the schema). The fake cannot fetch the app's links, so it checks each is an http(s) URL (a 400
``Invalid url`` detail otherwise, in the schema validator's words) and records them in
``input_images``. Scenario "unfetchable_input" fails the job as if the reference image could not
be downloaded; those words are ours [I].
"""

import threading
import uuid
from datetime import datetime, timedelta, timezone

import httpx

from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file

CREDITS = {"low": 4, "medium": 9, "high": 23, "auto": 23}
SIZES = {"1:1": (1024, 1024), "3:2": (1536, 1024), "2:3": (1024, 1536)}
ENUMS = {"quality": ("low", "medium", "high", "auto"), "aspect_ratio": tuple(SIZES),
         "output_format": ("png", "jpeg", "webp"), "background": ("auto", "opaque"), "moderation": ("auto", "low")}
KNOWN_PARAMS = set(ENUMS) | {"input_images", "number_of_images"}
FAILURES = {
    "policy": "Provider returned an error: content policy violation",
    "failed_job": "Provider returned an error: prediction failed unexpectedly",
    "unfetchable_input": "Provider returned an error: invalid input image, it could not be downloaded",
}
HTTP_ERRORS = {
    "auth": (401, {"error": "Invalid API key"}),
    "invalid": (400, {"error": "Validation failed", "details": {"gptImage2Params.aspect_ratio": ["Invalid enum value. Expected '1:1' | '3:2' | '2:3', received '16:9'"]}}),
    "insufficient_credit": (402, {"error": "Insufficient credits", "creditsRequired": 23, "creditsAvailable": 5}),
    "rate_limit": (429, {"error": "Rate limit exceeded"}),
    "server": (503, {"error": "Service temporarily unavailable"}),
}


def iso(moment):
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeApiframe:
    def __init__(self, api_key="afk_test_key", prefix="/v2", delay=0.0, scenario=None, result_shape="images",
                 polls_to_finish=2, generation_seconds=12.5):
        self.api_key = api_key
        self.prefix = prefix
        self.delay = delay  # seconds before each answer
        self.scenario = scenario
        self.result_shape = result_shape  # "images": {"images": [urls]}; "string": one URL string (older docs)
        self.polls_to_finish = polls_to_finish  # polls answered QUEUED/PROCESSING before the terminal state
        self.generation_seconds = generation_seconds  # completedAt - createdAt
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.jobs = {}
        self.input_images = []  # every input_images list a job was submitted with

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request)) is not None:
            return served
        body = receive(self, request, delay=self.delay, tolerant=True)
        if request.headers.get("x-api-key") != self.api_key:
            return self.http_error("auth")
        if (request.method, path) == ("POST", f"{self.prefix}/images/generate"):
            return self.submit(request, body)
        if request.method == "GET" and path.startswith(f"{self.prefix}/jobs/"):
            return self.job(request, path.rsplit("/", 1)[-1])
        return httpx.Response(404, json={"error": f"Route {request.method} {path} not found"})

    def http_error(self, name):
        status, payload = HTTP_ERRORS[name]
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:12]}"}
        if name == "rate_limit":
            headers["retry-after"] = "7"
        return httpx.Response(status, json=payload, headers=headers)

    def problems(self, body):
        if not isinstance(body, dict):
            return {"": ["Expected object"]}
        found = {}
        if body.get("model") != "gpt-image-2":
            found["model"] = ["Invalid discriminator value"]
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 2000:
            found["prompt"] = ["String must contain between 1 and 2000 character(s)"]
        params = body.get("gptImage2Params") or {}
        for key, value in params.items():
            if key not in KNOWN_PARAMS:
                found[f"gptImage2Params.{key}"] = ["Unrecognized key"]
            elif key in ENUMS and value not in ENUMS[key]:
                found[f"gptImage2Params.{key}"] = [f"Invalid enum value, received '{value}'"]
        n = params.get("number_of_images", 1)
        if not isinstance(n, int) or not 1 <= n <= 10:
            found["gptImage2Params.number_of_images"] = ["Number must be between 1 and 10"]
        images = params.get("input_images")
        if images is not None and not isinstance(images, list):
            found["gptImage2Params.input_images"] = ["Expected array, received " + type(images).__name__]
        for index, url in enumerate(images if isinstance(images, list) else []):
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) < 12:
                found[f"gptImage2Params.input_images.{index}"] = ["Invalid url"]
        return found

    def submit(self, request, body):
        if self.scenario in HTTP_ERRORS:
            return self.http_error(self.scenario)
        found = self.problems(body)
        if found:
            return httpx.Response(400, json={"error": "Validation failed", "details": found})
        if (body.get("gptImage2Params") or {}).get("input_images"):
            with self.lock:
                self.input_images.append(list(body["gptImage2Params"]["input_images"]))
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = {"body": body, "polls": 0, "created": datetime.now(timezone.utc),
                             "host": origin(request)}
        return httpx.Response(202, json={"jobId": job_id, "status": "QUEUED"},
                              headers={"x-request-id": f"req_{uuid.uuid4().hex[:12]}"})

    def job(self, request, job_id):
        job = self.jobs.get(job_id)
        if job is None:
            return httpx.Response(404, json={"error": "Job not found"})
        job["polls"] += 1
        params = job["body"].get("gptImage2Params") or {}
        quality = params.get("quality", "auto")
        n = params.get("number_of_images", 1)
        state = {"id": job_id, "model": "gpt-image-2", "progress": 0, "result": None, "error": None,
                 "creditCost": CREDITS[quality] * n, "webhookStatus": None, "createdAt": iso(job["created"]),
                 "completedAt": None, "input": job["body"]}
        if self.scenario == "never_finishes" or job["polls"] <= self.polls_to_finish:
            state.update(status="QUEUED" if job["polls"] == 1 else "PROCESSING", progress=min(90, 40 * (job["polls"] - 1)))
            return httpx.Response(200, json=state)
        completed = iso(job["created"] + timedelta(seconds=self.generation_seconds))
        if self.scenario in FAILURES:
            state.update(status="FAILED", error=FAILURES[self.scenario], creditCost=0, completedAt=completed)
            return httpx.Response(200, json=state)
        if self.scenario == "cancelled":
            state.update(status="CANCELLED", creditCost=0, completedAt=completed)
            return httpx.Response(200, json=state)
        urls = job.get("urls") or self.render(job, params, n)
        job["urls"] = urls
        result = urls[0] if self.result_shape == "string" else {"images": urls}
        state.update(status="COMPLETED", progress=100, result=result, completedAt=completed)
        return httpx.Response(200, json=state)

    def render(self, job, params, n):
        width, height = SIZES[params.get("aspect_ratio", "1:1")]
        fmt = params.get("output_format", "webp")
        urls = []
        for _ in range(1 if self.result_shape == "string" else n):
            image = image_or_garbage(self.scenario, width, height, fmt, job["body"]["prompt"])
            urls.append(publish(self.files, job["host"], image, fmt))
        return urls
