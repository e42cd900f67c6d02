"""A fake of an Azure OpenAI resource serving image deployments (Azure OpenAI's docs).

Answers ``POST /openai/deployments/{deployment}/images/generations?api-version=...`` and
``POST /openai/v1/images/generations`` (deployment in the body's ``model``), authenticated by the
``api-key`` header (the v1 API also takes the key as a Bearer token, as the plain OpenAI SDK sends
it). Success bodies are the OpenAI Images shape with base64 images drawn by Pillow (or URLs it
serves itself, as Azure's DALL-E deployments answered); headers carry Azure's ``apim-request-id``,
``x-request-id``, ``x-ms-region``, ``x-ms-deployment-name`` and rate-limit counters. Errors use
Azure's bodies: ``{"error": {"code": "401", ...}}``, ``DeploymentNotFound``, the gpt-image
``moderation_blocked`` refusal, the content-filter ``inner_error``, the 403 resource block, and
429 whose message says how long to wait.

Edits: ``POST /openai/deployments/{deployment}/images/edits?api-version=...`` and
``POST /openai/v1/images/edits`` (deployment in the form's ``model``), multipart/form-data as
OpenAI's [I]; the form is checked by the OpenAI fake's rules
(``providers.testing.openai.edit_problem``) and answered in Azure's envelope; the images start from the
first reference image. A multipart call is recorded with ``form`` and ``files``.

At api-version 2025-04-01-preview (the only dated version whose spec is vendored, in
tests/conformance/specs/azure) a generation's ``output_format`` other than png/jpeg and a ``size``
outside that version's ``imageSize`` enum are refused with a 400, as the spec allows no more.
"""

import threading
import time
import uuid

import httpx

from providers.testing.common import receive, serve_file
from providers.testing.openai import (IMAGE_INPUT_TOKENS, OUTPUT_TOKENS, drawn_images, edit_problem, is_multipart,
                                      read_multipart)

RATE_LIMIT_MESSAGE = ("Requests to the ImageGenerations_Create Operation under Azure OpenAI API version "
                      "2025-04-01-preview have exceeded call rate limit of your current OpenAI S0 pricing tier. "
                      "Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you "
                      "would like to further increase the default rate limit.")

ERRORS = {
    "auth": (401, {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint. "
                   "Make sure to provide a valid key for an active subscription and use a correct regional API "
                   "endpoint for your resource."}),
    "invalid": (400, {"message": "Invalid value: '1000x1000'. Supported values are: multiples of 16.",
                      "type": "invalid_request_error", "param": "size", "code": "invalid_value"}),
    "policy": (400, {"message": "Your request was rejected by the safety system. If you believe this is an error, "
                     "open an Azure support ticket. safety_violations=[violence].",
                     "type": "image_generation_user_error", "param": None, "code": "moderation_blocked"}),
    "content_filter": (400, {"code": "content_policy_violation", "message": "Your request was rejected as a result "
                             "of our safety system. Your prompt may contain text that is not allowed by our safety system.",
                             "inner_error": {"code": "ResponsibleAIPolicyViolation", "content_filter_results": {
                                 "hate": {"filtered": False, "severity": "safe"},
                                 "sexual": {"filtered": False, "severity": "safe"},
                                 "violence": {"filtered": True, "severity": "medium"},
                                 "self_harm": {"filtered": False, "severity": "safe"}}}}),
    "resource_blocked": (403, {"code": "Forbidden", "message": "Your resource has been temporarily blocked because we "
                               "detected behavior that may violate our content policy. For more details on Azure "
                               "OpenAI service content policy, please visit https://aka.ms/aoaicodeofconduct"}),
    "rate_limit": (429, {"code": "429", "message": RATE_LIMIT_MESSAGE}),
    "rate_limit_ms": (429, {"code": "429", "message": RATE_LIMIT_MESSAGE}),
    "rate_limit_unsaid": (429, {"code": "429", "message": RATE_LIMIT_MESSAGE}),
    "server": (500, {"code": "InternalServerError", "message": "The service is temporarily unable to process your "
                     "request. Please try again later."}),
}
NOT_FOUND = {"code": "404", "message": "Resource not found"}
# api-version 2025-04-01-preview: imagesOutputFormat and imageSize.
DATED_FORMATS = {"2025-04-01-preview": ("png", "jpeg")}
DATED_SIZES = {"2025-04-01-preview": ("auto", "1792x1024", "1024x1792", "1024x1024", "1024x1536", "1536x1024")}
NO_DEPLOYMENT = {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist. If you "
                 "created the deployment within the last 5 minutes, please wait a moment and try again."}


class FakeAzureOpenAI:
    def __init__(self, api_key="azure-test-key", deployments=("gpt-image-2",), delay=0.0, scenario=None,
                 image_mode="b64_json", request_id_header=True, region="Sweden Central"):
        self.api_key = api_key
        self.deployments = tuple(deployments)
        self.delay = delay  # seconds, or a function of the request body
        self.scenario = scenario
        self.image_mode = image_mode  # "b64_json" (gpt-image) or "url" (as Azure's DALL-E answered)
        self.request_id_header = request_id_header  # False: only apim-request-id, as some gateways answer
        self.region = region
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        files = None
        if is_multipart(request):
            body, files = read_multipart(request)
            receive(self, request, delay=self.delay, tolerant=True, params=dict(request.url.params), form=body,
                    files=files)
        else:
            body = receive(self, request, delay=self.delay, params=dict(request.url.params))
        deployment, operation = self.route(request, body)
        if deployment is None:
            return self.answer(404, NOT_FOUND)
        if not self.authorised(request, v1=path.startswith("/openai/v1/")):
            return self.error("auth")
        if deployment not in self.deployments:
            return self.answer(404, NO_DEPLOYMENT)
        if self.scenario in ERRORS:
            return self.error(self.scenario)
        version = request.url.params.get("api-version")
        if version in DATED_FORMATS and operation == "generations":
            if body.get("output_format", "png") not in DATED_FORMATS[version]:
                return self.answer(400, {"message": f"Invalid value: '{body.get('output_format')}'. Supported values "
                                         f"are: {', '.join(DATED_FORMATS[version])}.", "type": "invalid_request_error",
                                         "param": "output_format", "code": "invalid_value"})
            if body.get("size", "auto") not in DATED_SIZES[version]:
                return self.answer(400, {"message": f"Invalid value: '{body.get('size')}'. Supported values are: "
                                         f"{', '.join(DATED_SIZES[version])}.", "type": "invalid_request_error",
                                         "param": "size", "code": "invalid_value"})
        if operation == "edits":
            if files is None:
                return self.answer(400, {"message": "Expected multipart/form-data for images/edits.",
                                         "type": "invalid_request_error", "param": None, "code": "invalid_content_type"})
            refused = edit_problem(body, files)
            if refused is not None:  # OpenAI's words, in Azure's envelope and headers
                return self.answer(refused.status_code, refused.json()["error"])
            references = [part["data"] for part in files if part["field"] in ("image", "image[]")]
            return self.generations(request, dict(body), deployment, references=references)
        return self.generations(request, body, deployment)

    def route(self, request, body):
        """``(deployment, "generations" | "edits")`` a request addresses; deployment None when the
        path or api-version is unknown."""
        if request.method != "POST":
            return None, None
        parts = request.url.path.strip("/").split("/")
        if (parts[:2] == ["openai", "deployments"] and len(parts) == 5 and parts[3] == "images"
                and parts[4] in ("generations", "edits")):
            return (parts[2] if request.url.params.get("api-version") else None), parts[4]
        if parts[:3] == ["openai", "v1", "images"] and len(parts) == 4 and parts[3] in ("generations", "edits"):
            return str(body.get("model") or ""), parts[3]
        return None, None

    def authorised(self, request, *, v1):
        if request.headers.get("api-key") == self.api_key:
            return True
        return v1 and request.headers.get("authorization") == f"Bearer {self.api_key}"

    def answer(self, status, error, headers=None):
        return httpx.Response(status, json={"error": error}, headers={"apim-request-id": str(uuid.uuid4()), **(headers or {})})

    def error(self, name):
        status, error = ERRORS[name]
        headers = {"retry-after": "7", "x-ratelimit-remaining-requests": "0"} if name == "rate_limit" else {}
        if name == "rate_limit_ms":
            headers = {"retry-after-ms": "1500", "retry-after": "2"}
        return self.answer(status, error, headers)

    def generations(self, request, body, deployment, references=()):
        if not body.get("prompt"):
            return self.answer(400, {"message": "Missing required parameter: 'prompt'.", "type": "invalid_request_error",
                                     "param": "prompt", "code": "missing_required_parameter"})
        width, height, fmt, data = drawn_images(self, request, body, references)
        quality = body.get("quality", "auto")
        output_tokens = OUTPUT_TOKENS[quality] * len(data)
        image_in = IMAGE_INPUT_TOKENS * len(references)
        usage = {"input_tokens": 20 + image_in, "input_tokens_details": {"text_tokens": 20, "image_tokens": image_in},
                 "output_tokens": output_tokens, "total_tokens": 20 + image_in + output_tokens}
        request_id = str(uuid.uuid4())
        headers = {"apim-request-id": request_id, "x-ms-region": self.region, "x-ms-deployment-name": deployment,
                   "x-ratelimit-remaining-requests": "4", "x-ratelimit-remaining-tokens": "79000"}
        if self.request_id_header:
            headers["x-request-id"] = request_id
        return httpx.Response(200, headers=headers, json={
            "created": int(time.time()), "data": data, "usage": usage, "size": f"{width}x{height}",
            "quality": "high" if quality == "auto" else quality, "output_format": fmt, "background": "opaque"})
