"""A fake of fal.ai's queue protocol for ``openai/gpt-image-2`` (fal's docs).

Paths, relative to the queue root (``FAL_QUEUE_BASE_URL``):
``POST /openai/gpt-image-2`` (submit), ``GET /openai/gpt-image-2/requests/{id}/status``,
``GET /openai/gpt-image-2/requests/{id}`` (result), ``PUT .../requests/{id}/cancel``, and
``GET /files/...`` for the images it drew (its own "CDN"). Auth is ``Authorization: Key <key>``.

Edits: ``POST /openai/gpt-image-2/edit`` (``GptImage2EditInput`` in fal's schema) requires
``image_urls`` (1-16 https URLs or data: URIs) and takes an optional ``mask_url``; its jobs are
handled under the owner/alias root without the sub-path, as fal's queue does
(``/openai/gpt-image-2/requests/{id}``); ``/openai/gpt-image-2/edit/requests/...`` is unknown
here (404) [I]. Inline references are decoded and must be images; an inline mask must be a PNG
with an alpha channel and the first image's size (what OpenAI's edit endpoint behind it demands,
2.3) [I for fal's wording]. ``image_size: "auto"`` comes back at the first image's size.

A job is ``IN_QUEUE`` for ``queue_polls`` status polls, ``IN_PROGRESS`` for ``progress_polls``
more (and until ``delay`` seconds have passed since submit), then ``COMPLETED`` with
``metrics.inference_time``. Error answers use fal's two documented envelopes: model errors
``{"detail": [{loc, msg, type, url}]}`` and request errors ``{"detail": str, "error_type": str}``
with ``X-Fal-Error-Type``. Where fal's wire is inferred it says so [I].

Generic models (custom routes): ``generic`` names the other endpoint ids the fake serves (``"*"``:
any id of two or more segments), each as a FLUX-like text-to-image model [I: modelled on
``fal-ai/flux/dev``'s inputs]: ``prompt`` (required), ``image_size`` (preset or ``{width, height}``,
default ``landscape_4_3``), ``num_images`` (1-4), ``output_format`` (``jpeg`` | ``png`` only, default
``jpeg``), ``seed``; unknown inputs are ignored, as pydantic models on fal do by default. Inputs
named in ``generic_ignores`` are ignored too (a model that does not take them). Its jobs live under
``/{owner}/{alias}/requests/{id}`` like every fal app; its output is FLUX's ``{"images": [...],
"seed", "has_nsfw_concepts", "prompt"}``, or one ``{"image": ...}`` with ``single_image``. An id in
``unknown_endpoints`` is answered 404 (no such app) [I: wording].
"""

import base64
import binascii
import io
import threading
import time
import uuid

import httpx
from PIL import Image

from providers.testing.common import image_or_garbage, mime_of, origin, publish, receive, serve_file

ENDPOINT = "/openai/gpt-image-2"
GENERIC_FORMATS = ("jpeg", "png")
EDIT_ENDPOINT = f"{ENDPOINT}/edit"
MAX_IMAGE_URLS = 16
PRESETS = {"square_hd": (1024, 1024), "square": (512, 512), "landscape_4_3": (1024, 768),
           "landscape_16_9": (1024, 576), "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
           "auto": (1024, 1024)}
POLICY_DETAIL = [{"loc": ["body", "prompt"], "type": "content_policy_violation",
                  "msg": "The content could not be processed because it contained material flagged by a content checker.",
                  "url": "https://docs.fal.ai/errors#content_policy_violation"}]
# Submit-time answers per scenario: (status, body, headers).
SUBMIT_ERRORS = {
    "auth": (401, {"detail": "No user found for Key ID and Secret"}, {}),
    "insufficient_credit": (403, {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."}, {}),
    "invalid": (422, {"detail": [{"loc": ["body", "num_images"], "msg": "Input should be less than or equal to 4",
                                  "type": "less_than_equal", "ctx": {"le": 4}}]}, {}),
    "rate_limit": (429, {"detail": "Too many concurrent requests; please slow down."}, {}),  # body text [I]
    "server": (503, {"detail": "No runner could be allocated to handle the request.",
                     "error_type": "runner_scheduling_failure"}, {"x-fal-error-type": "runner_scheduling_failure"}),
}
# Scenarios where the job is accepted and fails later: (error, error_type) on the COMPLETED
# status, and the (status, body) the result GET then answers.
JOB_FAILURES = {
    # Observed on fal (third-party record): COMPLETED with no error, the result GET answers 422.
    "policy": (None, None, 422, {"detail": POLICY_DETAIL}),
    "policy_in_status": ("The content could not be processed because it contained material flagged by a content checker.",
                         "content_policy_violation", 422, {"detail": POLICY_DETAIL}),  # [I]
    "failed_job": ("The runner disconnected unexpectedly during processing.", "runner_disconnected",
                   503, {"detail": "The runner disconnected unexpectedly during processing.", "error_type": "runner_disconnected"}),
    "job_timeout": ("Request timed out", "request_timeout", 504, {"detail": "Request timed out", "error_type": "request_timeout"}),
}


BACKGROUND = (30, 120, 90)  # fal's images are green, OpenAI's blue


def size_of(image_size):
    if isinstance(image_size, dict):
        return int(image_size["width"]), int(image_size["height"])
    return PRESETS[image_size or "landscape_4_3"]


def size_problem(width, height):
    if width % 16 or height % 16:
        return "Both dimensions must be multiples of 16"
    if max(width, height) > 3840 or max(width, height) / min(width, height) > 3:
        return "Max edge is 3840px and the aspect ratio must be at most 3:1"
    if not 655_360 <= width * height <= 8_294_400:
        return "Total pixels must be between 655,360 and 8,294,400"
    return None


class FakeFal:
    def __init__(self, api_key="fal-test-key", delay=0.0, scenario=None, queue_polls=1, progress_polls=1,
                 inference_time=3.25, with_urls=True, metrics=True, generic=(), generic_ignores=(),
                 single_image=False):
        self.api_key = api_key
        self.delay = delay  # seconds a job takes, or a function of the input body
        self.scenario = scenario
        self.queue_polls = queue_polls
        self.progress_polls = progress_polls
        self.inference_time = inference_time
        self.with_urls = with_urls  # False: submit answers with the request_id only
        self.metrics = metrics  # False: a legacy app's COMPLETED status without metrics
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.jobs = {}
        self.generic = generic  # endpoint ids served as a generic model, or "*" for any
        self.generic_ignores = set(generic_ignores)  # inputs the generic model does not take
        self.single_image = single_image  # the generic model answers {"image": ...}
        self.unknown_endpoints = set()

    def serves_generic(self, endpoint):
        if endpoint in self.unknown_endpoints or endpoint == ENDPOINT.strip("/"):
            return False
        return (self.generic == "*" and endpoint.count("/") >= 1) or endpoint in self.generic

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request)) is not None:
            return served
        body = receive(self, request)  # no delay here: ``delay`` is how long a job takes
        if request.headers.get("authorization") != f"Key {self.api_key}":
            return self.respond(*SUBMIT_ERRORS["auth"])
        if (request.method, path) == ("POST", ENDPOINT):
            return self.submit(request, body)
        if (request.method, path) == ("POST", EDIT_ENDPOINT):
            return self.submit(request, body, edit=True)
        root, marker, rest = path.partition("/requests/")
        if request.method == "POST" and not marker and self.serves_generic(path.strip("/")):
            return self.submit(request, body, endpoint=path.strip("/"))
        if request.method == "POST" and path.strip("/") in self.unknown_endpoints:
            return self.respond(404, {"detail": f"Application '{path.strip('/')}' not found"}, {})
        if marker:
            request_id, _, action = rest.partition("/")
            job = self.jobs.get(request_id)
            if job is not None and job["root"] != root:
                job = None  # a job is only found under its own app's owner/alias
            if job is None:
                return httpx.Response(404, json={"detail": f"Request {request_id} not found"})
            if (request.method, action) == ("GET", "status"):
                return self.status(job)
            if (request.method, action) == ("GET", ""):
                return self.result(job)
            if (request.method, action) == ("PUT", "cancel"):
                return self.cancel(job)
        return httpx.Response(404, json={"detail": "Not Found"})

    def respond(self, status, body, headers):
        return httpx.Response(status, json=body, headers={"x-fal-request-id": str(uuid.uuid4()), **headers})

    # --- the queue --------------------------------------------------------------------------

    def submit(self, request, body, edit=False, endpoint=None):
        if self.scenario in SUBMIT_ERRORS:
            return self.respond(*SUBMIT_ERRORS[self.scenario])
        problem = self.validate_generic(body) if endpoint else self.validate(body, edit)
        inputs = None
        if not problem and edit:
            problem, inputs = self.validate_edit(body)
        if problem:
            return self.respond(422, {"detail": [problem]}, {})
        request_id = str(uuid.uuid4())
        delay = self.delay(body) if callable(self.delay) else self.delay
        with self.lock:
            self.jobs[request_id] = {"id": request_id, "body": body, "polls": 0, "ready_at": time.time() + delay,
                                     "state": "IN_QUEUE", "host": origin(request),
                                     "images": None, "edit": edit, "inputs": inputs, "endpoint": endpoint,
                                     "root": "/" + "/".join(endpoint.split("/")[:2]) if endpoint else ENDPOINT}
        root = self.root(self.jobs[request_id])
        answer = {"request_id": request_id, "gateway_request_id": request_id, "queue_position": self.queue_polls}
        if self.with_urls:
            answer.update(response_url=root, status_url=f"{root}/status", cancel_url=f"{root}/cancel")
        return httpx.Response(200, json=answer, headers={"x-fal-request-id": request_id})

    def validate(self, body, edit=False):
        if not edit and ("image_urls" in body or "mask_url" in body):  # GptImage2Input has neither
            field = "image_urls" if "image_urls" in body else "mask_url"
            return {"loc": ["body", field], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}
        if body.get("quality", "high") not in ("auto", "low", "medium", "high"):
            return {"loc": ["body", "quality"], "msg": "Input should be 'auto', 'low', 'medium' or 'high'", "type": "enum"}
        if body.get("output_format", "png") not in ("jpeg", "png", "webp"):
            return {"loc": ["body", "output_format"], "msg": "Input should be 'jpeg', 'png' or 'webp'", "type": "enum"}
        if not 1 <= int(body.get("num_images", 1)) <= 4:
            return {"loc": ["body", "num_images"], "msg": "Input should be less than or equal to 4", "type": "less_than_equal"}
        image_size = body.get("image_size", "landscape_4_3")
        if isinstance(image_size, dict):
            problem = size_problem(*size_of(image_size))
            if problem:
                return {"loc": ["body", "image_size"], "msg": problem, "type": "value_error"}
        elif image_size not in PRESETS:
            return {"loc": ["body", "image_size"], "msg": "Unknown image size preset", "type": "enum"}
        return None

    def validate_generic(self, body):
        """A FLUX-like model's input checks (unknown inputs ignored)."""
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}
        if "output_format" not in self.generic_ignores and body.get("output_format", "jpeg") not in GENERIC_FORMATS:
            return {"loc": ["body", "output_format"], "msg": "Input should be 'jpeg' or 'png'", "type": "literal_error",
                    "ctx": {"expected": "'jpeg' or 'png'"}}
        if "num_images" not in self.generic_ignores and not 1 <= int(body.get("num_images", 1)) <= 4:
            return {"loc": ["body", "num_images"], "msg": "Input should be less than or equal to 4", "type": "less_than_equal"}
        image_size = body.get("image_size", "landscape_4_3")
        if "image_size" not in self.generic_ignores:
            if isinstance(image_size, dict):
                width, height = size_of(image_size)
                if not (64 <= width <= 14142 and 64 <= height <= 14142):
                    return {"loc": ["body", "image_size"], "msg": "Width and height must be between 64 and 14142",
                            "type": "value_error"}
            elif image_size not in PRESETS:
                return {"loc": ["body", "image_size"], "msg": "Unknown image size preset", "type": "enum"}
        return None

    def validate_edit(self, body):
        """(problem, inputs): the first problem with ``image_urls``/``mask_url`` as a fal detail item,
        and what was received: per image its kind ("url" or "data") and decoded size (None for a URL,
        which the fake does not fetch), and the mask's."""
        urls = body.get("image_urls")
        if not isinstance(urls, list) or not urls:
            return {"loc": ["body", "image_urls"], "msg": "Field required" if urls is None else
                    "List should have at least 1 item after validation, not 0", "type": "missing" if urls is None
                    else "too_short"}, None
        if len(urls) > MAX_IMAGE_URLS:
            return {"loc": ["body", "image_urls"], "msg": f"List should have at most {MAX_IMAGE_URLS} items after "
                    f"validation, not {len(urls)}", "type": "too_long"}, None
        inputs = {"images": [], "mask": None}
        for index, url in enumerate(urls):
            received, problem = self.read_input(url, ["body", "image_urls", index])
            if problem:
                return problem, None
            inputs["images"].append(received)
        if "mask_url" in body:
            mask, problem = self.read_input(body["mask_url"], ["body", "mask_url"])
            if problem:
                return problem, None
            first = inputs["images"][0]["size"]
            if mask["size"] is not None:
                if mask["format"] != "PNG" or not mask["alpha"]:
                    return {"loc": ["body", "mask_url"], "msg": "The mask must be a PNG image with an alpha channel",
                            "type": "image_load_error"}, None
                if first is not None and mask["size"] != first:
                    return {"loc": ["body", "mask_url"], "msg": "The mask must have the same dimensions as the "
                            "first image", "type": "value_error"}, None
            inputs["mask"] = mask
        return None, inputs

    def read_input(self, url, loc):
        """A received file input: an http(s) URL (recorded, not fetched) or a data: URI (decoded)."""
        if not isinstance(url, str):
            return None, {"loc": loc, "msg": "Input should be a valid string", "type": "string_type"}
        if url.startswith(("https://", "http://")):
            return {"kind": "url", "url": url, "size": None}, None
        if not url.startswith("data:") or ";base64," not in url:
            return None, {"loc": loc, "msg": "Input should be a valid URL", "type": "url_parsing"}
        try:
            data = base64.b64decode(url.split(",", 1)[1], validate=True)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return {"kind": "data", "mime": url[5:url.index(";")], "bytes": len(data), "size": image.size,
                        "format": image.format, "alpha": "A" in image.getbands()}, None
        except (binascii.Error, ValueError, OSError):
            return None, {"loc": loc, "msg": "Failed to load the image. Please ensure the image file is not "
                          "corrupted and is in a supported format.", "type": "image_load_error",
                          "url": "https://docs.fal.ai/errors#image_load_error"}

    def advance(self, job):
        with self.lock:
            if job["state"] in ("COMPLETED", "CANCELED"):
                return
            job["polls"] += 1
            if job["polls"] <= self.queue_polls:
                job["state"] = "IN_QUEUE"
            elif job["polls"] <= self.queue_polls + self.progress_polls or time.time() < job["ready_at"]:
                job["state"] = "IN_PROGRESS"
            else:
                job["state"] = "COMPLETED"

    def handle_urls(self, job):
        """The fields every QueueStatus carries (fal-js types/common.ts, BaseQueueStatus)."""
        root = self.root(job)
        return {"request_id": job["id"], "response_url": root, "status_url": f"{root}/status",
                "cancel_url": f"{root}/cancel"}

    def status(self, job):
        self.advance(job)
        state = job["state"]
        if state == "IN_QUEUE":
            return httpx.Response(202, json={"status": state, "queue_position": self.queue_polls - job["polls"],
                                             **self.handle_urls(job)})  # 202 while pending [I]
        if state == "IN_PROGRESS":
            return httpx.Response(202, json={"status": state, "logs": None, **self.handle_urls(job)})
        failure = JOB_FAILURES.get(self.scenario)
        answer = {"status": "COMPLETED", "logs": None, **self.handle_urls(job),
                  "error": failure[0] if failure else None, "error_type": failure[1] if failure else None}
        if self.metrics:
            answer["metrics"] = {"inference_time": self.inference_time}
        return httpx.Response(200, json=answer)

    def result(self, job):
        if job["state"] != "COMPLETED":
            return httpx.Response(400, json={"detail": "Request is still in progress"})
        failure = JOB_FAILURES.get(self.scenario)
        if failure:
            status, body = failure[2], failure[3]
            headers = {"x-fal-error-type": body["error_type"]} if isinstance(body.get("detail"), str) else {}
            return self.respond(status, body, headers)
        if job["images"] is None:
            job["images"] = self.render_generic(job) if job["endpoint"] else self.render(job)
        if job["endpoint"]:
            body = job["body"]
            answer = {"images": job["images"], "seed": body.get("seed", 42),
                      "has_nsfw_concepts": [False] * len(job["images"]), "prompt": body["prompt"],
                      "timings": {"inference": self.inference_time}}
            if self.single_image:
                answer = {"image": job["images"][0], "seed": answer["seed"]}
            return httpx.Response(200, json=answer, headers={"x-fal-request-id": job["id"]})
        return httpx.Response(200, json={"images": job["images"]}, headers={"x-fal-request-id": job["id"]})

    def cancel(self, job):
        with self.lock:
            if job["state"] == "COMPLETED":
                return httpx.Response(400, json={"status": "ALREADY_COMPLETED"})
            job["state"] = "CANCELED"
        return httpx.Response(202, json={"status": "CANCELLATION_REQUESTED"})

    # --- images -----------------------------------------------------------------------------

    def render_generic(self, job):
        body, ignores = job["body"], self.generic_ignores
        width, height = size_of("landscape_4_3" if "image_size" in ignores else body.get("image_size", "landscape_4_3"))
        fmt = "jpeg" if "output_format" in ignores else body.get("output_format", "jpeg")
        count = 1 if "num_images" in ignores else int(body.get("num_images", 1))
        images = []
        for _ in range(count):
            data = image_or_garbage(self.scenario, width, height, fmt, f"{job['endpoint']}: {body['prompt']}",
                                    background=(120, 60, 140))
            url = publish(self.files, job["host"], data, fmt)
            images.append({"url": url, "content_type": mime_of(url), "width": width, "height": height})
        return images

    def render(self, job):
        body = job["body"]
        if job["edit"]:  # the edit endpoint's default is auto: the first input's size
            image_size = body.get("image_size", "auto")
            first = job["inputs"]["images"][0]["size"]
            width, height = first if image_size == "auto" and first else size_of(image_size)
            text = f"edit of {len(body['image_urls'])}: {body['prompt']}"
        else:
            width, height = size_of(body.get("image_size", "landscape_4_3"))
            text = body["prompt"]
        fmt = body.get("output_format", "png")
        images = []
        for _ in range(int(body.get("num_images", 1))):
            data = image_or_garbage(self.scenario, width, height, fmt, text, background=BACKGROUND)
            url = publish(self.files, job["host"], data, fmt)
            images.append({"url": url, "content_type": mime_of(url),
                           "file_name": url.rsplit("/", 1)[1], "file_size": len(data), "width": width, "height": height})
        return images

    def root(self, job):
        return f"{job['host']}{job['root']}/requests/{job['id']}"
