"""A fake of Higgsfield's platform API (Higgsfield's docs).

As in higgsfield-js ``src/v2`` and docs.higgsfield.ai "Requests and lifecycle".

``POST /{model path}`` (only the paths in ``model_paths``; 404 otherwise) with ``Authorization:
Key id:secret`` -> ``{status: "queued", request_id, status_url, cancel_url}``; ``GET
/requests/{id}/status`` goes queued -> in_progress -> completed with ``images: [{url}]`` (or
``failed`` with ``error``, or ``nsfw``); ``POST /requests/{id}/cancel`` answers 202 with no body
while queued, 400 once started. Errors are FastAPI-style ``{"detail": ...}``; 403 is "not enough
credits" as the SDK reads it. Images are drawn for the aspect ratio and resolution tier sent.
"""

import threading
import uuid

import httpx

from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file

RATIOS = {"1:1": (1, 1), "3:2": (3, 2), "2:3": (2, 3), "4:3": (4, 3), "3:4": (3, 4), "16:9": (16, 9), "9:16": (9, 16)}
PENDING_STATES = ("queued", "in_progress")
EDGE = {"1k": (1024, 1536), "2k": (2048, 2560), "4k": (2880, 3840)}  # long edge: (square, other ratios)
ERRORS = {
    "auth": (401, "Invalid credentials"),
    "rate_limit": (429, "Too many requests"),
    "server": (500, "Internal Server Error"),
    "insufficient_credit": (403, "Not enough credits"),
}


def size_for(ratio, resolution):
    """A plausible pixel size: GPT Image 2's 1024x1024 / 1536x1024 at 1k, the long edge of the
    tier otherwise, multiples of 16, within GPT Image 2's pixel cap."""
    w, h = RATIOS[ratio]
    edge = EDGE[resolution][0 if w == h else 1]
    while True:
        width, height = (edge, edge * h // w) if w >= h else (edge * w // h, edge)
        width, height = width // 16 * 16, height // 16 * 16
        if width * height <= 8_294_400:
            return width, height
        edge -= 64


class FakeHiggsfield:
    def __init__(self, key_id="hf-key-id", key_secret="hf-key-secret", model_paths=("openai/gpt-image-2/text-to-image",),
                 polls_to_finish=3, delay=0.0, scenario=None):
        self.credentials = f"{key_id}:{key_secret}"
        self.model_paths = set(model_paths)
        self.polls_to_finish = polls_to_finish
        self.delay = delay
        self.scenario = scenario  # also "failed_job", "stuck" (stays queued), "flaky_status" (one 502 while polling)
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.requests = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        body = receive(self, request, delay=self.delay, query=dict(request.url.params))
        if self.scenario == "auth" or request.headers.get("authorization") != f"Key {self.credentials}":
            return self.error("auth")
        if self.scenario in ("rate_limit", "server"):
            return self.error(self.scenario)
        parts = path.strip("/").split("/")
        if request.method == "GET" and len(parts) == 3 and parts[0] == "requests" and parts[2] == "status":
            return self.status(parts[1])
        if request.method == "POST" and len(parts) == 3 and parts[0] == "requests" and parts[2] == "cancel":
            return self.cancel(parts[1])
        if request.method == "POST" and path.strip("/") in self.model_paths:
            return self.submit(request, body)
        return httpx.Response(404, json={"detail": "Not Found"})

    def error(self, name):
        status, detail = ERRORS[name]
        headers = {"retry-after": "7"} if name == "rate_limit" else None
        return httpx.Response(status, json={"detail": detail}, headers=headers)

    def submit(self, request, body):
        if self.scenario == "insufficient_credit":
            return self.error("insufficient_credit")
        problems = []
        if not body.get("prompt"):
            problems.append({"type": "missing", "loc": ["body", "prompt"], "msg": "Field required", "input": body})
        if self.scenario == "invalid" or body.get("aspect_ratio", "1:1") not in RATIOS:
            problems.append({"type": "literal_error", "loc": ["body", "aspect_ratio"],
                             "msg": "Input should be " + ", ".join(f"'{r}'" for r in RATIOS),
                             "input": body.get("aspect_ratio")})
        if body.get("resolution", "1k") not in EDGE:
            problems.append({"type": "literal_error", "loc": ["body", "resolution"], "msg": "Input should be '1k', '2k' or '4k'"})
        if problems:
            return httpx.Response(422, json={"detail": problems})
        request_id = str(uuid.uuid4())
        base = origin(request)
        width, height = size_for(body.get("aspect_ratio", "1:1"), body.get("resolution", "1k"))
        data = image_or_garbage(self.scenario, width, height, "png", body["prompt"])
        url = publish(self.files, base, data, "png")
        with self.lock:
            self.requests[request_id] = {"polls": 0, "status": "queued", "url": url, "origin": base}
        return httpx.Response(200, json=self.view(request_id))

    def view(self, request_id):
        job = self.requests[request_id]
        return {"status": job["status"], "request_id": request_id,
                "status_url": f"{job['origin']}/requests/{request_id}/status",
                "cancel_url": f"{job['origin']}/requests/{request_id}/cancel"}

    def status(self, request_id):
        job = self.requests.get(request_id)
        if job is None:
            return httpx.Response(404, json={"detail": "Request not found"})
        job["polls"] += 1
        if self.scenario == "flaky_status" and job["polls"] == 1:
            return httpx.Response(502, text="<html>502 Bad Gateway</html>")
        if job["status"] in PENDING_STATES and self.scenario != "stuck":
            if job["polls"] < self.polls_to_finish:
                job["status"] = "in_progress"
            elif self.scenario == "policy":
                job["status"] = "nsfw"
            elif self.scenario == "failed_job":
                job["status"] = "failed"
            else:
                job["status"] = "completed"
        answer = self.view(request_id)
        if job["status"] == "completed":
            answer["images"] = [{"url": job["url"]}]
        elif job["status"] == "failed":
            answer["error"] = "Generation fail message"
        return httpx.Response(200, json=answer)

    def cancel(self, request_id):
        job = self.requests.get(request_id)
        if job is None:
            return httpx.Response(404, json={"detail": "Request not found"})
        if job["status"] != "queued":
            return httpx.Response(400, json={"detail": "Request has already started and can no longer be canceled"})
        job["status"] = "canceled"
        return httpx.Response(202)

