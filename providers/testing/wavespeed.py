"""A fake of WaveSpeed AI's v3 prediction API for ``openai/gpt-image-2`` (WaveSpeed's docs).

Envelope and polling as in WaveSpeedAI/wavespeed-python and wavespeed-desktop's client.

``POST {prefix}/openai/gpt-image-2/text-to-image`` (Bearer) validates the input and answers
``{"code": 200, "message": "success", "data": {id, status: "created", urls: {get}, ...}}``;
``GET {prefix}/predictions/{id}/result`` moves it created -> processing -> completed over
successive polls, with ``outputs`` (image URLs served by the fake under ``/files/``) and
``timings.inference``. Images are drawn at a plausible size for the aspect ratio and resolution
tier (about 1, 4 or 8.3 megapixels; 1:1 at 1k is 1024x1024). Errors use the same envelope with
the HTTP status as ``code``; scenario "envelope_error" answers HTTP 200 with ``code`` 400.
Which words WaveSpeed uses for a refusal or for a missing top-up is not documented [I].

Edits: ``POST {prefix}/openai/gpt-image-2/edit`` takes the same input plus ``images`` (required,
a list of URLs WaveSpeed fetches). The fake cannot fetch the app's links, so it checks each is an
http(s) URL and records them in ``images``; it accepts the 15 ratios WaveSpeed's edit page
lists. Scenario "unfetchable_input" fails the prediction as if a reference image could not
be downloaded; those words are ours [I].
"""

import base64
import math
import threading
import uuid
from datetime import datetime, timezone

import httpx

from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file

RATIOS = ("1:1", "3:2", "2:3", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EDIT_RATIOS = RATIOS + ("1:2", "2:1", "1:3", "3:1", "9:21")
PIXELS = {"1k": 1024 * 1024, "2k": 2048 * 2048, "4k": 3840 * 2160}
ENUMS = {"aspect_ratio": RATIOS, "resolution": tuple(PIXELS), "quality": ("low", "medium", "high"),
         "output_format": ("jpeg", "png", "webp")}
HTTP_ERRORS = {
    "auth": (401, "Unauthorized: invalid API key"),
    "no_topup": (401, "Unauthorized: please top up your account balance to use the API"),
    "invalid": (400, "Invalid input: aspect_ratio must be one of 1:1, 3:2, 2:3, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9"),
    "rate_limit": (429, "Too many requests, please slow down"),
    "server": (500, "Internal server error"),
}
# Scenarios that end the prediction in WaveSpeed's other terminal statuses (wavespeed-python's
# Client._wait: failed, cancelled, timeout); the error words are ours [I].
ENDINGS = {
    "cancelled": ("cancelled", "The prediction was cancelled."),
    "timed_out": ("timeout", "The prediction exceeded its time limit."),
}
FAILURES = {
    "policy": "Your request was rejected as a result of our safety system (NSFW content detected).",
    "failed_job": "Model error: upstream inference failed",
    "unfetchable_input": "Invalid input: failed to download the image at images[0] (HTTP 403)",
}


def size_for(ratio, resolution):
    """A plausible output size: the tier's pixel count at that ratio, sides multiples of 16."""
    w, h = (int(x) for x in ratio.split(":"))
    width = math.sqrt(PIXELS[resolution] * w / h)
    return int(round(width / 16) * 16), int(round(width * h / w / 16) * 16)


class FakeWaveSpeed:
    def __init__(self, api_key="ws-test-key", prefix="/api/v3", delay=0.0, scenario=None, polls_to_finish=2,
                 inference_ms=4321, output_mode="url"):
        self.api_key = api_key
        self.prefix = prefix
        self.delay = delay
        self.scenario = scenario
        self.polls_to_finish = polls_to_finish
        self.inference_ms = inference_ms  # a number, or a function of the prediction's index
        self.output_mode = output_mode  # "url" or "base64" (enable_base64_output)
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.predictions = {}
        self.images = []  # every images list an edit was submitted with

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request)) is not None:
            return served
        body = receive(self, request, delay=self.delay, tolerant=True)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.envelope_error(*HTTP_ERRORS["auth"])
        if (request.method, path) == ("POST", f"{self.prefix}/openai/gpt-image-2/text-to-image"):
            return self.submit(request, body, "text-to-image")
        if (request.method, path) == ("POST", f"{self.prefix}/openai/gpt-image-2/edit"):
            return self.submit(request, body, "edit")
        if request.method == "GET" and path.startswith(f"{self.prefix}/predictions/") and path.endswith("/result"):
            return self.result(path.split("/")[-2])
        return self.envelope_error(404, f"Not found: {request.method} {path}")

    def envelope_error(self, status, message, http_status=None):
        return httpx.Response(http_status or status, json={"code": status, "message": message, "data": None})

    def submit(self, request, body, task):
        if self.scenario in HTTP_ERRORS:
            return self.envelope_error(*HTTP_ERRORS[self.scenario])
        if self.scenario == "envelope_error":
            return self.envelope_error(400, "prompt is required", http_status=200)
        if not isinstance(body, dict) or not body.get("prompt"):
            return self.envelope_error(400, "prompt is required")
        enums = dict(ENUMS, aspect_ratio=EDIT_RATIOS) if task == "edit" else ENUMS
        for key, allowed in enums.items():
            if key in body and body[key] not in allowed:
                return self.envelope_error(400, f"{key} must be one of {', '.join(allowed)}")
        if task == "edit":
            images = body.get("images")
            if not isinstance(images, list) or not images:
                return self.envelope_error(400, "images is required")
            if not all(isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) >= 12
                       for url in images):
                return self.envelope_error(400, "images must be a list of image URLs")
            with self.lock:
                self.images.append(list(images))
        elif "images" in body:
            return self.envelope_error(400, "images is not an input of openai/gpt-image-2/text-to-image")
        prediction_id = uuid.uuid4().hex
        host = origin(request)
        self.predictions[prediction_id] = {"input": body, "polls": 0, "host": host, "index": len(self.predictions),
                                           "task": task, "created_at": datetime.now(timezone.utc).isoformat()}
        return httpx.Response(200, json={"code": 200, "message": "success", "data": self.data(prediction_id, "created")})

    def data(self, prediction_id, status, outputs=(), error="", inference=0):
        prediction = self.predictions[prediction_id]
        return {"id": prediction_id, "model": f"openai/gpt-image-2/{prediction['task']}", "status": status,
                "input": prediction["input"], "outputs": list(outputs),
                "urls": {"get": f"{prediction['host']}{self.prefix}/predictions/{prediction_id}/result"},
                "has_nsfw_contents": [False] * len(outputs), "error": error,
                "timings": {"inference": inference}, "created_at": prediction["created_at"]}

    def result(self, prediction_id):
        prediction = self.predictions.get(prediction_id)
        if prediction is None:
            return self.envelope_error(404, "prediction not found")
        prediction["polls"] += 1
        if self.scenario == "never_finishes" or prediction["polls"] <= self.polls_to_finish:
            status = "created" if prediction["polls"] == 1 else "processing"
            return httpx.Response(200, json={"code": 200, "message": "success", "data": self.data(prediction_id, status)})
        if self.scenario in FAILURES:
            data = self.data(prediction_id, "failed", error=FAILURES[self.scenario])
            return httpx.Response(200, json={"code": 200, "message": "success", "data": data})
        if self.scenario in ENDINGS:
            data = self.data(prediction_id, ENDINGS[self.scenario][0], error=ENDINGS[self.scenario][1])
            return httpx.Response(200, json={"code": 200, "message": "success", "data": data})
        outputs = prediction.get("outputs") or self.render(prediction)
        prediction["outputs"] = outputs
        inference = self.inference_ms(prediction["index"]) if callable(self.inference_ms) else self.inference_ms
        data = self.data(prediction_id, "completed", outputs=outputs, inference=inference)
        return httpx.Response(200, json={"code": 200, "message": "success", "data": data})

    def render(self, prediction):
        body = prediction["input"]
        width, height = size_for(body.get("aspect_ratio", "1:1"), body.get("resolution", "1k"))
        fmt = body.get("output_format", "jpeg")
        image = image_or_garbage(self.scenario, width, height, fmt, body["prompt"])
        if self.output_mode == "base64":
            return [base64.b64encode(image).decode()]
        return [publish(self.files, prediction["host"], image, fmt)]
