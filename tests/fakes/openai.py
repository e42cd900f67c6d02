"""A fake of the OpenAI Images API (and of the OpenAI-compatible servers that copy it).

Speaks ``POST {prefix}/images/generations`` with Bearer auth; answers with real images drawn by
Pillow at the requested size and format, token usage, ``x-request-id`` and
``openai-processing-ms``; and with OpenAI's own error bodies for each ``scenario``.
"""

import base64
import threading
import time
import uuid

import httpx

from providers.base import parse_size
from tests.fakes.common import image_or_garbage, origin, publish, receive, serve_file

# Output image tokens per image, chosen so that tokens x $30/M gives OpenAI's published
# per-image estimate for 1024x1024 (low $0.006, medium $0.053, high $0.211).
OUTPUT_TOKENS = {"low": 200, "medium": 1767, "high": 7034, "auto": 7034}

ERRORS = {
    "auth": (401, {"message": "Incorrect API key provided: sk-t****. You can find your API key at https://platform.openai.com/account/api-keys.",
                   "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}),
    "rate_limit": (429, {"message": "Rate limit reached for gpt-image-2 in organization org-x on images per minute (IPM): Limit 5, Used 5.",
                         "type": "requests", "param": None, "code": "rate_limit_exceeded"}),
    "quota": (429, {"message": "You exceeded your current quota, please check your plan and billing details.",
                    "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}),
    "server": (500, {"message": "The server had an error while processing your request. Sorry about that!",
                     "type": "server_error", "param": None, "code": None}),
    "invalid": (400, {"message": "Invalid value: '1000x1000'. Supported values are: multiples of 16.",
                      "type": "invalid_request_error", "param": "size", "code": "invalid_value"}),
    "policy": (400, {"message": "Your request was rejected by the safety system. safety_violations=[violence].",
                     "type": "image_generation_user_error", "param": None, "code": "moderation_blocked"}),
}


class FakeOpenAI:
    def __init__(self, api_key="sk-test-key", prefix="/v1", delay=0.0, scenario=None, extra_headers=None,
                 image_mode="b64_json"):
        self.api_key = api_key
        self.prefix = prefix
        self.delay = delay  # seconds, or a function of the request body
        self.scenario = scenario
        self.extra_headers = extra_headers or {}
        self.image_mode = image_mode  # "b64_json" or "url" (LocalAI and relays answer with URLs)
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see tests.fakes.common

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        body = receive(self, request, delay=self.delay)
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error("auth")
        if (request.method, path) != ("POST", f"{self.prefix}/images/generations"):
            return httpx.Response(404, json={"error": {"message": f"Invalid URL ({request.method} {path})",
                                                       "type": "invalid_request_error", "param": None, "code": None}})
        if self.scenario in ERRORS:
            return self.error(self.scenario)
        return self.generations(request, body)

    def error(self, name):
        status, error = ERRORS[name]
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:12]}"}
        if name == "rate_limit":
            headers["retry-after"] = "7"
        return httpx.Response(status, json={"error": error}, headers=headers)

    def generations(self, request, body):
        if not body.get("prompt"):
            return httpx.Response(400, json={"error": {"message": "Missing required parameter: 'prompt'.",
                                                       "type": "invalid_request_error", "param": "prompt", "code": "missing_required_parameter"}})
        width, height = parse_size(body.get("size", "1024x1024"))
        fmt = body.get("output_format", "png")
        quality = body.get("quality", "auto")
        chosen = "high" if quality == "auto" else quality
        data = []
        for n in range(int(body.get("n", 1))):
            image = image_or_garbage(self.scenario, width, height, fmt, body["prompt"])
            if self.image_mode == "url":
                data.append({"url": publish(self.files, origin(request), image, fmt)})
            else:
                data.append({"b64_json": base64.b64encode(image).decode()})
        n = len(data)
        usage = {"input_tokens": 20, "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
                 "output_tokens": OUTPUT_TOKENS[quality] * n, "total_tokens": 20 + OUTPUT_TOKENS[quality] * n}
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:12]}", "openai-processing-ms": "1234",
                   "openai-version": "2020-10-01", **self.extra_headers}
        return httpx.Response(200, headers=headers, json={
            "created": int(time.time()), "data": data, "usage": usage, "size": f"{width}x{height}",
            "quality": chosen, "output_format": fmt, "background": "opaque"})
