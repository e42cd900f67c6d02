"""A fake of OpenAI's Batch API for image generations (OpenAI's Batch API guide).

Files, batches, batch status that progresses over successive checks, output and error files as
JSONL, cancel.
"""

import base64
import email.parser
import email.policy
import itertools
import json
import threading
import time

import httpx

from providers.base import parse_size
from providers.testing.common import image_or_garbage, receive
from providers.testing.openai import ERRORS, OUTPUT_TOKENS

_ids = itertools.count(1)


def multipart_fields(request):
    """{name: bytes} of a multipart/form-data body."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()}


class FakeOpenAIBatch:
    def __init__(self, api_key="sk-test-key", prefix="/v1", checks_until_done=2, scenario=None):
        self.api_key = api_key
        self.prefix = prefix
        self.checks_until_done = checks_until_done  # GETs of the batch before it completes
        self.scenario = scenario  # None, ERRORS keys ("policy" refuses the line), "timeout", "garbage", "failed", "expired"
        self.calls = []
        self.files = {}
        self.batches = {}
        self.lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        receive(self, request, empty=dict, tolerant=True)
        if request.headers.get("authorization") != f"Bearer {self.api_key}" or self.scenario == "auth":
            return self.error("auth")
        path = request.url.path.removeprefix(self.prefix)
        method = request.method
        if (method, path) == ("POST", "/files"):
            return self.upload(request)
        if (method, path) == ("POST", "/batches"):
            return self.create(json.loads(request.content))
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "batches" and parts[1] in self.batches:
            return self.status(self.batches[parts[1]])
        if method == "POST" and len(parts) == 3 and parts[0] == "batches" and parts[2] == "cancel":
            batch = self.batches.get(parts[1])
            if batch is None:
                return httpx.Response(404, json={"error": {"message": "No batch found", "type": "invalid_request_error"}})
            batch["status"] = "cancelling"
            batch["cancelled"] = True
            return httpx.Response(200, json=self.public(batch))
        if method == "GET" and len(parts) == 3 and parts[0] == "files" and parts[2] == "content" and parts[1] in self.files:
            return httpx.Response(200, content=self.files[parts[1]], headers={"content-type": "application/jsonl"})
        return httpx.Response(404, json={"error": {"message": f"Invalid URL ({method} {request.url.path})",
                                                   "type": "invalid_request_error"}})

    def error(self, name):
        status, error = ERRORS[name]
        headers = {"retry-after": "7"} if name == "rate_limit" else {}
        return httpx.Response(status, json={"error": error}, headers=headers)

    def upload(self, request):
        fields = multipart_fields(request)
        if fields.get("purpose") != b"batch" or not fields.get("file"):
            return httpx.Response(400, json={"error": {"message": "purpose must be 'batch' and a file is required",
                                                       "type": "invalid_request_error", "param": "purpose"}})
        lines = [json.loads(line) for line in fields["file"].splitlines() if line.strip()]
        file_id = f"file-{next(_ids)}"
        self.files[file_id] = fields["file"]
        self.uploaded = lines
        return httpx.Response(200, json={"id": file_id, "object": "file", "purpose": "batch",
                                         "bytes": len(fields["file"])})

    def create(self, body):
        if self.scenario in ("rate_limit", "server", "invalid", "quota"):
            return self.error(self.scenario)
        if body.get("input_file_id") not in self.files or body.get("endpoint") != "/v1/images/generations" \
                or body.get("completion_window") != "24h":
            return httpx.Response(400, json={"error": {"message": "Invalid batch request", "type": "invalid_request_error"}})
        batch_id = f"batch_{next(_ids)}"
        now = int(time.time())
        self.batches[batch_id] = {"id": batch_id, "status": "validating", "checks": 0, "created_at": now,
                                  "input_file_id": body["input_file_id"], "lines": self.uploaded}
        return httpx.Response(200, json=self.public(self.batches[batch_id]))

    def status(self, batch):
        batch["checks"] += 1
        if batch.get("cancelled"):
            batch["status"] = "cancelled"
        elif self.scenario in ("failed", "expired"):
            batch["status"] = self.scenario
        elif batch["checks"] >= self.checks_until_done and batch["status"] != "completed":
            self.complete(batch)
        elif batch["checks"] >= 1 and batch["status"] == "validating":
            batch["status"] = "in_progress"
            batch["in_progress_at"] = batch["created_at"] + 5
        return httpx.Response(200, json=self.public(batch))

    def complete(self, batch):
        batch["status"] = "completed"
        batch.setdefault("in_progress_at", batch["created_at"] + 5)
        batch["completed_at"] = batch["in_progress_at"] + 40
        output = []
        for line in batch["lines"]:
            body = line["body"]
            if self.scenario == "policy":
                status, error = ERRORS["policy"]
                response = {"status_code": status, "request_id": "req_batchline", "body": {"error": error}}
            else:
                width, height = parse_size(body["size"])
                data = [{"b64_json": base64.b64encode(image_or_garbage(self.scenario, width, height, body["output_format"],
                                                                       body["prompt"])).decode()}
                        for _ in range(body.get("n", 1))]
                tokens = OUTPUT_TOKENS[body["quality"]] * len(data)
                response = {"status_code": 200, "request_id": "req_batchline", "body": {
                    "created": batch["completed_at"], "data": data, "output_format": body["output_format"],
                    "usage": {"input_tokens": 20, "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
                              "output_tokens": tokens, "total_tokens": 20 + tokens}}}
            output.append({"id": f"batch_req_{next(_ids)}", "custom_id": line["custom_id"], "response": response,
                           "error": None})
        file_id = f"file-{next(_ids)}"
        self.files[file_id] = "\n".join(json.dumps(o) for o in output).encode() + b"\n"
        batch["output_file_id"] = file_id

    def public(self, batch):
        shown = {k: v for k, v in batch.items() if k not in ("checks", "lines", "cancelled")}
        shown.update({"object": "batch", "endpoint": "/v1/images/generations", "completion_window": "24h",
                      "request_counts": {"total": 1, "completed": int(batch["status"] == "completed"), "failed": 0}})
        if batch["status"] == "failed":
            shown["errors"] = {"data": [{"code": "invalid_request", "message": "Line 1: model not available for batch"}]}
        return shown


class OpenAIPlatform:
    """One loopback OpenAI: the Images API and the Batch API behind the same base URL."""

    def __init__(self, images, batch):
        self.images, self.batch = images, batch

    def handle(self, request):
        path = request.url.path
        wanted = self.batch if path.startswith(("/v1/files", "/v1/batches")) else self.images
        return wanted.handle(request)
