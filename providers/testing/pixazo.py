"""A fake of Pixazo's GPT Image 2 route (Pixazo's docs).

``POST /gpt-image-2/v1/text-to-image`` behind an Azure-API-Management-style gateway
(``Ocp-Apim-Subscription-Key``; APIM's ``{statusCode, message}`` bodies for 401 and 429). It
answers in one of the two shapes the route may use (``mode``): Pixazo's queue pattern (202
``{request_id, status, polling_url}``, then ``GET /v2/requests/status/{id}`` going QUEUED ->
PROCESSING -> COMPLETED with ``output.media_url``) or a direct answer (``direct_shape``: fal-style
``images[{url}]``, ``output.media_url`` or a single ``imageUrl``). Images are real, drawn with
Pillow, and served from ``/files/`` on the fake's own host.

Edits: ``POST /gpt-image-2-image-to-image/v1/gpt-image-2-image-to-image/generate`` with
``{"prompt", "input_images": [urls]}``: at least one image, each a public http(s) URL (no data:
URLs, no bytes); the result follows ``image_size`` and is answered in the same ``mode``. What an
edit received is kept in ``edits`` (its input_images).
"""

import threading
import uuid

import httpx

from providers.base import parse_size
from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file

SUBMIT = "/gpt-image-2/v1/text-to-image"
EDIT = "/gpt-image-2-image-to-image/v1/gpt-image-2-image-to-image/generate"
STATUS_PREFIX = "/v2/requests/status/"
SIZES = {"1024x1024", "1024x1536", "1536x1024"}

APIM = {
    "auth": (401, "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."),
    "rate_limit": (429, "Rate limit is exceeded. Try again in 7 seconds."),
    "quota": (403, "Out of call volume quota. Quota will be replenished in 00:00:59."),
    "server": (500, "Internal server error"),
}
BACKEND = {
    "invalid": (400, "Invalid image_size '1000x1000'. Allowed values: 1024x1024, 1024x1536, 1536x1024."),
    "insufficient_credit": (402, "Insufficient balance. Please add funds to your Pixazo account to continue."),
}
POLICY_MESSAGE = "Your request was rejected by the safety system: content policy violation."
FAILED_MESSAGE = "Generation failed: upstream provider error."


class FakePixazo:
    def __init__(self, api_key="pixazo-test-key", mode="async", direct_shape="fal", polls_to_finish=3,
                 delay=0.0, scenario=None):
        self.api_key = api_key
        self.mode = mode  # "async" (202 + polling) or "direct" (images in the POST answer)
        self.direct_shape = direct_shape  # "fal", "media_url" or "image_url"
        self.polls_to_finish = polls_to_finish  # status polls until COMPLETED
        self.delay = delay
        self.scenario = scenario
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.jobs = {}
        self.edits = []  # the input_images of each edit received

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        body = receive(self, request, delay=self.delay)
        if self.scenario == "auth" or request.headers.get("ocp-apim-subscription-key") != self.api_key:
            return self.apim("auth")
        if self.scenario in ("rate_limit", "quota", "server"):
            return self.apim(self.scenario)
        if (request.method, path) == ("POST", SUBMIT):
            return self.submit(request, body)
        if (request.method, path) == ("POST", EDIT):
            problem = self.invalid_edit(body)
            if problem:
                return self.backend_error(400, problem)
            with self.lock:
                self.edits.append(list(body["input_images"]))
            return self.submit(request, body)
        if request.method == "GET" and path.startswith(STATUS_PREFIX):
            return self.status(request, path[len(STATUS_PREFIX):])
        return httpx.Response(404, json={"statusCode": 404, "message": "Resource not found"})

    def apim(self, name):
        status, message = APIM[name]
        headers = {"apim-request-id": str(uuid.uuid4())}
        if name == "rate_limit":
            headers["retry-after"] = "7"
        return httpx.Response(status, json={"statusCode": status, "message": message}, headers=headers)

    def backend_error(self, status, message):
        return httpx.Response(status, json={"error": message}, headers={"apim-request-id": str(uuid.uuid4())})

    def submit(self, request, body):
        if self.scenario in BACKEND:
            return self.backend_error(*BACKEND[self.scenario])
        problem = self.invalid(body)
        if problem:
            return self.backend_error(400, problem)
        if self.mode == "direct" and self.scenario == "policy":
            return self.backend_error(400, POLICY_MESSAGE)
        request_id = str(uuid.uuid4())
        job = {"body": body, "polls": 0, "urls": self.render(request, body)}
        with self.lock:
            self.jobs[request_id] = job
        if self.mode == "direct":
            return httpx.Response(200, json=self.direct(job), headers={"apim-request-id": request_id})
        return httpx.Response(202, json={"request_id": request_id, "status": "QUEUED",
                                         "polling_url": f"{origin(request)}{STATUS_PREFIX}{request_id}"})

    def invalid(self, body):
        if not body.get("prompt"):
            return "prompt is required."
        if body.get("image_size", "1024x1024") not in SIZES:
            return BACKEND["invalid"][1]
        if body.get("quality", "high") not in ("low", "medium", "high"):
            return f"Invalid quality '{body.get('quality')}'. Allowed values: low, medium, high."
        if not 1 <= int(body.get("num_images", 1)) <= 4:
            return "num_images must be between 1 and 4."
        if body.get("output_format", "png") not in ("png", "jpeg", "webp"):
            return "output_format must be png, jpeg or webp."
        return None

    def invalid_edit(self, body):
        images = body.get("input_images")
        if not isinstance(images, list) or not images:
            return "input_images is required: a list of at least one image URL."
        for item in images:
            if not isinstance(item, str) or not item.startswith(("https://", "http://")):
                return "input_images must be publicly accessible image URLs (http or https)."
        return None

    def render(self, request, body):
        width, height = parse_size(body.get("image_size", "1024x1024"))
        fmt = body.get("output_format", "png")
        urls = []
        for _ in range(int(body.get("num_images", 1))):
            data = image_or_garbage(self.scenario, width, height, fmt, body["prompt"])
            urls.append(publish(self.files, origin(request), data, fmt))
        return urls

    def direct(self, job):
        urls, body = job["urls"], job["body"]
        width, height = parse_size(body.get("image_size", "1024x1024"))
        fmt = body.get("output_format", "png")
        if self.direct_shape == "media_url":
            return {"status": "COMPLETED", "output": {"media_url": urls, "media_type": "image"}}
        if self.direct_shape == "image_url":
            return {"imageUrl": urls[0]}
        return {"images": [{"url": url, "content_type": f"image/{fmt}", "width": width, "height": height}
                           for url in urls]}

    def status(self, request, request_id):
        job = self.jobs.get(request_id)
        if job is None:
            return httpx.Response(404, json={"error": f"Request {request_id} not found"})
        job["polls"] += 1
        answer = {"request_id": request_id, "model_id": "gpt-image-2", "error": None, "output": None}
        if job["polls"] < self.polls_to_finish:
            answer["status"] = "QUEUED" if job["polls"] == 1 else "PROCESSING"
        elif self.scenario in ("policy", "failed_job"):
            answer.update(status="FAILED", error=POLICY_MESSAGE if self.scenario == "policy" else FAILED_MESSAGE)
        else:
            answer.update(status="COMPLETED", output={"media_url": job["urls"], "media_type": "image"})
        return httpx.Response(200, json=answer)
