"""A fake of GPTImage2AI's jobs API (gptimage2.ai, GPTImage2AI's docs).

``POST {prefix}/generate`` (Bearer) with ``{prompt, mode, ratio, count}`` -> a job id;
``GET {prefix}/generate/{jobId}`` answers 202 while the job is pending, then running, and 200
with the image URLs or with a failure (credits refunded). The exact JSON is not documented in
what we found, so ``envelope`` switches between a flat answer and a ``{"success", "data"}``
envelope, and ``url_items`` between URL strings and ``{url}`` objects. Images are drawn with
Pillow at a plausible size for the ratio and served from the fake's own host.

Edits: ``mode: "image-to-image"`` needs ``imageUrls``, a non-empty list of public http(s) URLs (no
data: URLs, no bytes); the result follows ``ratio`` as for text-to-image. What an edit received is
kept in ``edits`` (its imageUrls).
"""

import threading
import uuid

import httpx

from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file

RATIO_SIZES = {"1:1": (1024, 1024), "16:9": (1536, 864), "9:16": (864, 1536), "4:3": (1024, 768), "3:4": (768, 1024)}
ERRORS = {
    "auth": (401, "Unauthorized: invalid API key"),
    "invalid": (400, "Invalid ratio. Supported ratios: 1:1, 16:9, 9:16, 4:3, 3:4"),
    "rate_limit": (429, "Too many requests, please slow down"),
    "server": (500, "Internal server error"),
    "insufficient_credit": (402, "Insufficient credits: 10 credits per image required"),
}
FAILURES = {
    "policy": "Prompt rejected by content moderation. Credits have been refunded.",
    "failed_job": "Generation failed. Credits have been refunded.",
}


class FakeGPTImage2AI:
    def __init__(self, api_key="g2-test-key", prefix="/api", envelope=False, url_items="strings",
                 polls_to_finish=3, delay=0.0, scenario=None):
        self.api_key = api_key
        self.prefix = prefix
        self.envelope = envelope  # True: {"success": true, "data": {...}}
        self.url_items = url_items  # "strings" or "objects" ({"url": ...})
        self.polls_to_finish = polls_to_finish
        self.delay = delay
        self.scenario = scenario
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.jobs = {}
        self.edits = []  # the imageUrls of each image-to-image job received

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        body = receive(self, request, delay=self.delay)
        if self.scenario == "auth" or request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error("auth")
        if self.scenario in ("rate_limit", "server"):
            return self.error(self.scenario)
        if (request.method, path) == ("POST", f"{self.prefix}/generate"):
            return self.submit(request, body)
        if request.method == "GET" and path.startswith(f"{self.prefix}/generate/"):
            return self.status(path.rsplit("/", 1)[1])
        return self.answer(404, {"success": False, "error": "Not found"})

    def answer(self, status, payload, headers=None):
        if self.envelope and status < 400:
            payload = {"success": True, "data": payload}
        return httpx.Response(status, json=payload, headers=headers)

    def error(self, name):
        status, message = ERRORS[name]
        headers = {"retry-after": "7"} if name == "rate_limit" else None
        return httpx.Response(status, json={"success": False, "error": message}, headers=headers)

    def submit(self, request, body):
        if self.scenario in ("invalid", "insufficient_credit"):
            return self.error(self.scenario)
        if not body.get("prompt") or body.get("mode") not in ("text-to-image", "image-to-image"):
            return httpx.Response(400, json={"success": False, "error": "prompt and mode are required"})
        if body["mode"] == "image-to-image":
            refs = body.get("imageUrls")
            if not isinstance(refs, list) or not refs:
                return httpx.Response(400, json={"success": False, "error": "imageUrls is required for image-to-image mode"})
            if not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in refs):
                return httpx.Response(400, json={"success": False, "error": "imageUrls must be public http(s) image URLs"})
            with self.lock:
                self.edits.append(list(refs))
        if body.get("ratio", "1:1") not in RATIO_SIZES:
            return self.error("invalid")
        if not 1 <= int(body.get("count", 1)) <= 4:
            return httpx.Response(400, json={"success": False, "error": "count must be between 1 and 4"})
        job_id = uuid.uuid4().hex
        width, height = RATIO_SIZES[body.get("ratio", "1:1")]
        urls = []
        for _ in range(int(body.get("count", 1))):
            data = image_or_garbage(self.scenario, width, height, "png", body["prompt"])
            urls.append(publish(self.files, origin(request), data, "png"))
        with self.lock:
            self.jobs[job_id] = {"polls": 0, "urls": urls, "count": len(urls)}
        return self.answer(200, {"jobId": job_id, "status": "pending"})

    def status(self, job_id):
        job = self.jobs.get(job_id)
        if job is None:
            return httpx.Response(404, json={"success": False, "error": "Job not found"})
        job["polls"] += 1
        if job["polls"] < self.polls_to_finish:
            return self.answer(202, {"jobId": job_id, "status": "pending" if job["polls"] == 1 else "running"})
        if self.scenario in FAILURES:
            return self.answer(200, {"jobId": job_id, "status": "failed", "error": FAILURES[self.scenario]})
        images = job["urls"] if self.url_items == "strings" else [{"url": url} for url in job["urls"]]
        return self.answer(200, {"jobId": job_id, "status": "completed", "images": images, "credits": 10 * job["count"]})
