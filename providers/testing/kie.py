"""A fake of Kie.ai's market jobs API (Kie's docs) and of APIPass's copy of it.

APIPass serves the same protocol under its own base URL.

Speaks ``POST {prefix}/jobs/createTask`` -> ``{"code": 200, "msg", "data": {"taskId"}}`` and
``GET {prefix}/jobs/recordInfo?taskId=`` -> ``{"code", "message", "data": {taskId, model, state,
param, resultJson, failCode, failMsg, createTime, completeTime, updateTime}}``, the state moving
along ``states`` one step per poll. Errors come the way Kie sends them: HTTP 200 with the code in
the body (``http_errors=True`` sends the same code as the HTTP status too). Images are drawn with
Pillow at a plausible size for the ratio and tier and served from the fake's own ``/files/``.

Edits: model ``gpt-image-2-image-to-image`` needs ``input.input_urls``, 1 to 16 http(s) URLs
(Kie fetches them itself; the fake cannot fetch the app's links, so it checks their form and
records them in ``input_urls``). The text-to-image model takes no ``input_urls``. The words of
those 422 answers, and of scenario "unfetchable_input" (a task that fails because Kie could not
download a reference image), are ours [I]: Kie documents the codes, not these messages.
"""

import json
import threading
import time
import uuid
from urllib.parse import parse_qs

import httpx

from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file

TEXT_MODEL, EDIT_MODEL = "gpt-image-2-text-to-image", "gpt-image-2-image-to-image"
MODELS = (TEXT_MODEL, EDIT_MODEL)
MAX_INPUT_URLS = 16
# The 16 ratios newer public Kie clients list for GPT Image 2.
RATIOS = ("auto", "1:1", "3:2", "2:3", "4:3", "3:4", "5:4", "4:5", "16:9", "9:16",
          "2:1", "1:2", "3:1", "1:3", "21:9", "9:21")
# Pixels GPT Image 2 makes for ratio x tier, as a public gateway's mapping table lists them.
SIZES = {
    ("1:1", "1K"): (1024, 1024), ("3:2", "1K"): (1536, 1024), ("2:3", "1K"): (1024, 1536),
    ("4:3", "1K"): (1024, 768), ("3:4", "1K"): (768, 1024), ("16:9", "1K"): (1536, 864),
    ("9:16", "1K"): (864, 1536), ("1:1", "2K"): (2048, 2048), ("3:2", "2K"): (2048, 1360),
    ("2:3", "2K"): (1360, 2048), ("4:3", "2K"): (2048, 1536), ("3:4", "2K"): (1536, 2048),
    ("16:9", "2K"): (2048, 1152), ("9:16", "2K"): (1152, 2048), ("16:9", "4K"): (3840, 2160),
    ("9:16", "4K"): (2160, 3840),
}
GENERATION_MS = 8421  # completeTime - createTime of every finished task

# Kie's documented codes and its own words for them.
CODES = {
    "auth": (401, "You do not have access permissions"),
    "insufficient_credit": (402, "The current credits are insufficient. Please top up."),
    "invalid": (422, "aspect_ratio is not within the range of allowed options"),
    "rate_limit": (429, "Rate limited: request limit has been exceeded for this resource"),
    "maintenance": (455, "Service unavailable: the system is undergoing maintenance"),
    "server": (500, "Server error: an unexpected error occurred while processing the request"),
}
FAILURES = {
    "policy": ("400", "Your prompt was flagged by the content moderation system as violating content policies."),
    "failed_job": ("501", "Generation failed, please try again later"),
    "unfetchable_input": ("422", "input_urls: the image could not be downloaded (HTTP 403)"),
}


def plausible_size(ratio, tier):
    if ratio == "auto":
        ratio = "1:1"
    if (ratio, tier) in SIZES:
        return SIZES[ratio, tier]
    w, h = (int(x) for x in ratio.split(":"))
    long_edge = {"1K": 1536, "2K": 2048, "4K": 3840}[tier]
    scale = long_edge / max(w, h)
    while (w * scale) * (h * scale) > 8_294_400:
        scale *= 0.95
    return int(w * scale) // 16 * 16, int(h * scale) // 16 * 16


class FakeKie:
    def __init__(self, api_key="kie-test-key", prefix="/api/v1", delay=0.0, scenario=None, result_as="string",
                 states=("waiting", "queuing", "generating", "success"), http_errors=False):
        self.api_key = api_key
        self.prefix = prefix
        self.delay = delay  # seconds before each answer
        self.scenario = scenario
        self.result_as = result_as  # "string" (Kie) or "object" (what APIPass clients see)
        self.states = states  # APIPass: ("queuing", "generating", "success")
        self.http_errors = http_errors
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.tasks = {}
        self.input_urls = []  # every input_urls list an image-to-image task was created with

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        body = receive(self, request, delay=self.delay, empty=lambda: None, query=query)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error("auth")
        if (request.method, path) == ("POST", f"{self.prefix}/jobs/createTask"):
            return self.create(body or {})
        if (request.method, path) == ("GET", f"{self.prefix}/jobs/recordInfo"):
            return self.record(request, query.get("taskId"))
        return httpx.Response(404, json={"code": 404, "msg": f"Not Found: {request.method} {path}"})

    def error(self, name):
        code, message = CODES[name]
        return httpx.Response(code if self.http_errors else 200, json={"code": code, "msg": message, "data": None})

    def invalid(self, message):
        return httpx.Response(422 if self.http_errors else 200, json={"code": 422, "msg": message, "data": None})

    def create(self, body):
        if self.scenario in CODES:
            return self.error(self.scenario)
        task = body.get("input") if isinstance(body.get("input"), dict) else {}
        if body.get("model") not in MODELS:
            return self.invalid(f"model {body.get('model')!r} is not supported")
        if not task.get("prompt"):
            return self.invalid("input.prompt is required")
        if body["model"] == EDIT_MODEL:
            problem = self.input_urls_problem(task.get("input_urls"))
            if problem:
                return self.invalid(problem)
            with self.lock:
                self.input_urls.append(list(task["input_urls"]))
        elif "input_urls" in task:
            return self.invalid(f"input_urls is not a parameter of {TEXT_MODEL}")
        ratio, tier = task.get("aspect_ratio", "auto"), task.get("resolution", "1K")
        if ratio not in RATIOS or tier not in ("1K", "2K", "4K") or (ratio == "1:1" and tier == "4K"):
            return self.invalid(f"aspect_ratio {ratio} with resolution {tier} is not supported")
        task_id = uuid.uuid4().hex
        with self.lock:
            self.tasks[task_id] = {"body": body, "polls": 0, "created": int(time.time() * 1000)}
        return httpx.Response(200, json={"code": 200, "msg": "success", "data": {"taskId": task_id}})

    @staticmethod
    def input_urls_problem(urls):
        if not isinstance(urls, list) or not urls:
            return "input.input_urls is required"
        if len(urls) > MAX_INPUT_URLS:
            return f"input.input_urls accepts at most {MAX_INPUT_URLS} URLs"
        for url in urls:
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) < 12:
                return "input.input_urls must be a list of http(s) URLs"
        return None

    def record(self, request, task_id):
        task = self.tasks.get(task_id)
        if task is None:
            return httpx.Response(200, json={"code": 404, "message": f"task {task_id} not found", "data": None})
        with self.lock:
            task["polls"] += 1
            step = min(task["polls"], len(self.states)) - 1
        state = "generating" if self.scenario == "stuck" else self.states[step]
        data = {"taskId": task_id, "model": task["body"]["model"], "state": state,
                "param": json.dumps(task["body"]), "resultJson": "", "failCode": "", "failMsg": "",
                "createTime": task["created"], "completeTime": None, "updateTime": task["created"]}
        if state == "success" and self.scenario in FAILURES:
            data["state"] = "fail"
            data["failCode"], data["failMsg"] = FAILURES[self.scenario]
            data["completeTime"] = task["created"] + 1200
        elif state == "success":
            if "url" not in task:
                task["url"] = self.store(request, task["body"]["input"])
            result = {"resultUrls": [task["url"]]}
            data["resultJson"] = json.dumps(result) if self.result_as == "string" else result
            data["completeTime"] = data["updateTime"] = task["created"] + GENERATION_MS
        return httpx.Response(200, json={"code": 200, "message": "success", "data": data})

    def store(self, request, task):
        width, height = plausible_size(task.get("aspect_ratio", "auto"), task.get("resolution", "1K"))
        image = image_or_garbage(self.scenario, width, height, "png", task["prompt"])
        return publish(self.files, origin(request), image, "png")
