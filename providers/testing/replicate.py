"""A fake of Replicate's predictions API for ``openai/gpt-image-2`` (Replicate's docs).

Speaks ``POST {prefix}/models/openai/gpt-image-2/predictions`` (Bearer auth, ``Prefer: wait``),
``GET {prefix}/predictions/{id}`` and ``POST {prefix}/predictions/{id}/cancel``; validates the
input against one of the two observed schema versions (``schema="early"`` or ``"later"``);
moves a prediction starting -> processing -> succeeded over successive polls (``finish_after``
polls; 0 finishes inside the ``Prefer: wait`` create call); serves its output images itself
(``GET /files/...``, like replicate.delivery); answers errors as RFC 7807 problem JSON and model
failures as ``status: "failed"`` with an ``error`` string.

Edits: ``input.input_images`` must be an array of URI strings (both schema versions). ``POST
{prefix}/files`` takes a multipart upload (part ``content``, as replicate-python sends it) and
answers a file object whose ``urls.get`` (``{prefix}/files/{id}``) a prediction may name. When a
prediction runs, each input is resolved: a data: URI is decoded, an uploaded file looked up, any
other https URL recorded without being fetched; an input that is no image fails the prediction
with the model's error string [I: wording]. Resolved inputs are kept in ``inputs[prediction_id]``.
The model has no ``mask`` input: Cog refuses it as an additional property.

Custom models (custom routes): ``custom_models`` maps ``owner/name`` to a model with a Cog-style
``openapi_schema`` (enums as ``allOf: [{"$ref": "#/components/schemas/<name>"}]``, as Cog writes
them) and a version id. ``GET {prefix}/models/{owner}/{name}`` answers the model object with
``latest_version.openapi_schema``; ``GET .../versions/{id}`` the version object; predictions are
created at ``POST {prefix}/models/{owner}/{name}/predictions`` (official models) or ``POST
{prefix}/predictions`` with ``version`` (an id, ``owner/name:id`` or, for an official model,
``owner/name``; anything else: 422 "Invalid version or not permitted"). The input is checked
against the schema (unknown inputs, enum values, integer bounds, required fields) the way the
GPT model's is, and the prediction draws ``width`` x ``height`` when given, else the size its own
table gives the ``aspect_ratio``, in ``output_format`` (or the model's default format).
"""

import base64
import binascii
import hashlib
import io
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP

import httpx
from PIL import Image

from providers.testing.common import draw, origin, receive, serve_file

MODEL = "openai/gpt-image-2"
EARLY_RATIOS = ("1:1", "3:2", "2:3")
LATER_RATIOS = EARLY_RATIOS + ("16:9", "9:16", "auto", "1024x1024", "1536x1024", "1024x1536", "2048x2048",
                               "2048x1152", "1152x2048", "3840x2160", "2160x3840")
INPUT_KEYS = ("prompt", "openai_api_key", "aspect_ratio", "input_images", "number_of_images", "quality", "background",
              "output_format", "output_compression", "moderation", "user_id")
MAX_UPLOAD = 100 * 1024 * 1024  # bytes Replicate takes per uploaded file
RATIO_SIZES = {"1:1": (1024, 1024), "3:2": (1536, 1024), "2:3": (1024, 1536), "16:9": (1536, 864),
               "9:16": (864, 1536), "auto": (1024, 1024)}
QUEUE_S, PREDICT_S = 0.25, 1.5
# What a FLUX-like model draws for each aspect ratio (multiples of 64, about one megapixel) [I].
CUSTOM_RATIO_SIZES = {"1:1": (1024, 1024), "16:9": (1344, 768), "9:16": (768, 1344), "21:9": (1536, 640),
                      "9:21": (640, 1536), "3:2": (1216, 832), "2:3": (832, 1216), "4:5": (896, 1088),
                      "5:4": (1088, 896), "3:4": (896, 1152), "4:3": (1152, 896)}


def cog_schema(properties, enums=None, required=("prompt",)):
    """An ``openapi_schema`` as Cog writes it: ``Input.properties``, each enum in its own
    ``components.schemas.<name>`` referenced through ``allOf``."""
    schemas = {"Input": {"type": "object", "title": "Input", "required": list(required), "properties": {}},
               "Output": {"type": "array", "items": {"type": "string", "format": "uri"}, "title": "Output"}}
    for order, (name, prop) in enumerate(properties.items()):
        prop = {**prop, "x-order": order, "title": name.replace("_", " ").title()}
        if name in (enums or {}):
            schemas[name] = {"type": "string", "enum": list(enums[name]), "title": name, "description": "An enumeration."}
            prop = {"allOf": [{"$ref": f"#/components/schemas/{name}"}], **prop}
        schemas["Input"]["properties"][name] = prop
    return {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0.1.0"}, "paths": {},
            "components": {"schemas": schemas}}


# An SDXL-like model: width/height, num_outputs, a quality enum of its own, no output_format (PNG).
SIZES_MODEL = {"version": "a" * 64, "default_format": "png", "schema": cog_schema(
    {"prompt": {"type": "string"}, "negative_prompt": {"type": "string", "default": ""},
     "width": {"type": "integer", "default": 1024, "minimum": 256, "maximum": 2048},
     "height": {"type": "integer", "default": 1024, "minimum": 256, "maximum": 2048},
     "num_outputs": {"type": "integer", "default": 1, "minimum": 1, "maximum": 4},
     "quality": {"default": "standard"}, "seed": {"type": "integer"}},
    enums={"quality": ("draft", "standard", "high")})}
# A FLUX-schnell-like model: aspect_ratio enum, num_outputs up to 4, output_format webp|jpg|png.
RATIOS_MODEL = {"version": "b" * 64, "default_format": "webp", "schema": cog_schema(
    {"prompt": {"type": "string"}, "aspect_ratio": {"default": "1:1"},
     "num_outputs": {"type": "integer", "default": 1, "minimum": 1, "maximum": 4},
     "output_format": {"default": "webp"},
     "output_quality": {"type": "integer", "default": 80, "minimum": 0, "maximum": 100},
     "seed": {"type": "integer"}},
    enums={"aspect_ratio": tuple(CUSTOM_RATIO_SIZES), "output_format": ("webp", "jpg", "png")})}
CUSTOM_MODELS = {"acme/sizes-xl": SIZES_MODEL, "acme/ratios-schnell": RATIOS_MODEL}  # the timestamps and metrics every prediction reports

PROBLEMS = {
    "auth": (401, "Unauthenticated", "You did not pass a valid authentication token"),
    "insufficient_credit": (402, "Insufficient credit", "You have insufficient credit to run this model. "
                            "Go to https://replicate.com/account/billing#billing to purchase credit."),
    "rate_limit": (429, "Request was throttled.", "Request was throttled. Expected available in 7 seconds."),
    "server": (503, "Service Unavailable", "Replicate is temporarily unavailable. Please try again."),
}
FAILURES = {  # a prediction that runs, then ends "failed" with the model's own error string
    "policy": "The input or output was flagged as sensitive. Please try again with different inputs. (E005)",
    "failed_job": "Prediction failed: upstream image generation returned an error, please retry.",
}


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def problem(status, title, detail, **extra):
    return httpx.Response(status, json={"type": None, "title": title, "status": status, "detail": detail, **extra},
                          headers={"content-type": "application/problem+json"})


def envelope_problems(body, inputs):
    """Cog's refusal of a prediction's envelope, as it words it: a top-level field it does not take,
    no ``input`` object, or an input not among ``inputs`` (the first one found); [] if sound."""
    extra = sorted(set(body) - {"input", "webhook", "webhook_events_filter", "stream"})
    if extra:
        return [("", f"Additional property {extra[0]} is not allowed")]
    given = body.get("input")
    if not isinstance(given, dict):
        return [("", "input is required")]
    unknown = sorted(set(given) - set(inputs))
    if unknown:
        return [("input", f"Additional property {unknown[0]} is not allowed")]
    return []


class FakeReplicate:
    def __init__(self, api_token="r8_test-token", prefix="/v1", delay=0.0, scenario=None, schema="later",
                 finish_after=2, output_shape="list", cap_outputs=None, custom_models=None):
        self.api_token = api_token
        self.prefix = prefix
        self.delay = delay  # seconds, or a function of the request body
        self.scenario = scenario  # None, PROBLEMS keys, FAILURES keys, "invalid", "timeout", "garbage", "stuck"
        self.schema = schema
        self.finish_after = finish_after  # GET polls before success; 0: done within Prefer: wait
        self.output_shape = output_shape  # "list" (documented) or "string"
        self.cap_outputs = cap_outputs  # return at most this many images
        self.failure_message = None  # overrides FAILURES[scenario] for a "failed" prediction
        self.urls_origin = None  # put urls.get/cancel on another origin (a relay's upstream)
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.predictions = {}
        self.uploads = {}  # file id -> {"name", "content_type", "data"}
        self.inputs = {}  # prediction id -> the resolved input_images
        self.max_upload = MAX_UPLOAD
        self.custom_models = dict(CUSTOM_MODELS if custom_models is None else custom_models)
        self.official = set(self.custom_models)  # custom models runnable without a version

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request)) is not None:  # replicate.delivery: no auth
            return served
        body = receive(self, request, delay=self.delay, tolerant=True, host=request.url.netloc.decode())
        if request.headers.get("authorization") != f"Bearer {self.api_token}":
            return problem(*PROBLEMS["auth"])
        if (request.method, path) == ("POST", f"{self.prefix}/models/{MODEL}/predictions"):
            if not isinstance(body, dict):
                return problem(400, "Bad request", "The request body is not valid JSON.")
            return self.create(request, body)
        if (request.method, path) == ("POST", f"{self.prefix}/files"):
            return self.upload(request)
        custom = self.custom_route(request, path, body)
        if custom is not None:
            return custom
        match = re.fullmatch(rf"{re.escape(self.prefix)}/predictions/([a-z0-9]+)(/cancel)?", path)
        if match and match.group(1) in self.predictions:
            if match.group(2) and request.method == "POST":
                return self.cancel(match.group(1))
            if not match.group(2) and request.method == "GET":
                return self.poll(match.group(1))
        return problem(404, "Not found", "The requested resource could not be found.")

    # --- custom models --------------------------------------------------------------------

    def custom_route(self, request, path, body):
        """The answer for a custom model's paths, or None when the path is none of them."""
        models = re.fullmatch(rf"{re.escape(self.prefix)}/models/([^/]+/[^/]+)(/versions/([^/]+)|/predictions)?", path)
        if models:
            name, tail, version = models.group(1), models.group(2) or "", models.group(3)
            model = self.custom_models.get(name)
            if model is None or (name == MODEL):
                return None
            if request.method == "GET" and not tail:
                return httpx.Response(200, json=self.model_object(name, model))
            if request.method == "GET" and version is not None:
                if version != model["version"]:
                    return problem(404, "Not found", "The requested resource could not be found.")
                return httpx.Response(200, json=self.version_object(model))
            if request.method == "POST" and tail == "/predictions":
                if name not in self.official:
                    return problem(404, "Not found", f"Model {name} is not an official model: create the "
                                   "prediction with a version.")  # [I: wording]
                return self.create_custom(request, body, name)
            return None
        if (request.method, path) == ("POST", f"{self.prefix}/predictions"):
            asked = body.get("version") if isinstance(body, dict) else None
            for name, model in self.custom_models.items():
                if asked in (model["version"], f"{name}:{model['version']}") or (asked == name and name in self.official):
                    return self.create_custom(request, {k: v for k, v in body.items() if k != "version"}, name)
            return problem(422, "Invalid version or not permitted", "The specified version does not exist "
                           "(or perhaps you don't have permission to use it?)")
        return None

    def model_object(self, name, model):
        owner, _, short = name.partition("/")
        return {"url": f"https://replicate.com/{name}", "owner": owner, "name": short, "description": "A custom model",
                "visibility": "public", "run_count": 12345, "default_example": None,
                "latest_version": self.version_object(model)}

    def version_object(self, model):
        return {"id": model["version"], "created_at": "2026-01-05T10:00:00.000000Z", "cog_version": "0.14.0",
                "openapi_schema": model["schema"]}

    def create_custom(self, request, body, name):
        if not isinstance(body, dict):
            return problem(400, "Bad request", "The request body is not valid JSON.")
        return self.create(request, body, model=name)

    def validate_custom(self, body, name):
        """(field, message) per input the custom model's schema refuses, as Cog's validator words it."""
        schemas = self.custom_models[name]["schema"]["components"]["schemas"]
        properties = schemas["Input"]["properties"]
        refused = envelope_problems(body, properties)
        if refused:
            return refused
        given = body["input"]
        found = [("input", f"{field} is required") for field in schemas["Input"]["required"] if field not in given]
        for field, value in given.items():
            prop = properties[field]
            ref = prop.get("allOf", [{}])[0].get("$ref")
            enum = schemas[ref.rsplit("/", 1)[-1]]["enum"] if ref else None
            if enum is not None and value not in enum:
                found.append((f"input.{field}", f"{field} must be one of the following: "
                              + ", ".join(f'"{a}"' for a in enum)))
            if prop.get("type") == "integer":
                if not isinstance(value, int) or isinstance(value, bool):
                    found.append((f"input.{field}", f"Invalid type. Expected: integer, given: {type(value).__name__}"))
                elif "maximum" in prop and value > prop["maximum"]:
                    found.append((f"input.{field}", f"Must be less than or equal to {prop['maximum']}"))
                elif "minimum" in prop and value < prop["minimum"]:
                    found.append((f"input.{field}", f"Must be greater than or equal to {prop['minimum']}"))
        if self.scenario == "invalid":
            found.append(("input.prompt", "prompt is too long for this model"))
        return found

    def finish_custom(self, state, prediction, completed, metrics):
        model = self.custom_models[state["model"]]
        given = prediction["input"]
        if "width" in given and "height" in given:
            width, height = given["width"], given["height"]
        else:
            width, height = CUSTOM_RATIO_SIZES.get(given.get("aspect_ratio", "1:1"), (1024, 1024))
        fmt = {"jpg": "jpeg"}.get(given.get("output_format"), given.get("output_format", model["default_format"]))
        urls = self.publish_outputs(state, given.get("num_outputs", 1), "out-", (width, height, fmt, given["prompt"]))
        prediction.update(status="succeeded", output=urls, completed_at=completed, metrics=metrics)

    def publish_outputs(self, state, count, stem, drawing):
        """Draw ``count`` images (``drawing``: width, height, format, text; at most ``cap_outputs``,
        garbage in the "garbage" scenario), serve them as /files/<prediction id>/<stem><index>.<format>
        on the prediction's origin, and return their URLs."""
        if self.cap_outputs:
            count = min(count, self.cap_outputs)
        fmt = drawing[2]
        urls = []
        for index in range(count):
            name = f"/files/{state['prediction']['id']}/{stem}{index}.{fmt}"
            self.files[name] = b"not an image at all" if self.scenario == "garbage" else draw(*drawing)
            urls.append(f"{state['origin']}{name}")
        return urls

    # --- endpoints ------------------------------------------------------------------------

    def create(self, request, body, model=MODEL):
        if self.scenario in PROBLEMS:
            response = problem(*PROBLEMS[self.scenario])
            if self.scenario == "rate_limit":
                response.headers["retry-after"] = "7"
            return response
        invalid = self.validate(body) if model == MODEL else self.validate_custom(body, model)
        if invalid:
            detail = "- " + "\n- ".join(f"{field}: {text}" for field, text in invalid)
            fields = [{"type": "invalid", "field": field, "description": text} for field, text in invalid]
            return problem(422, "Input validation failed", detail, invalid_fields=fields)
        prediction_id = uuid.uuid4().hex[:26]
        urls_origin = self.urls_origin or origin(request)
        created = datetime.now(timezone.utc)
        public_input = {k: ("[REDACTED]" if k == "openai_api_key" else v) for k, v in body["input"].items()}
        version = "hidden" if model == MODEL else self.custom_models[model]["version"]
        self.predictions[prediction_id] = state = {
            "polls": 0, "origin": origin(request), "model": model, "prediction": {
                "id": prediction_id, "model": model, "version": version, "input": public_input, "logs": "",
                "output": None, "error": None, "status": "starting", "data_removed": False,
                "created_at": _iso(created), "started_at": None, "completed_at": None,
                "urls": {"get": f"{urls_origin}{self.prefix}/predictions/{prediction_id}",
                         "cancel": f"{urls_origin}{self.prefix}/predictions/{prediction_id}/cancel",
                         "stream": f"https://stream.replicate.example/v1/streams/{prediction_id}",
                         "web": f"https://replicate.com/p/{prediction_id}"}}}
        if self.finish_after == 0 and request.headers.get("prefer", "").startswith("wait"):
            self.advance(state, finish=True)
        return httpx.Response(201, json=state["prediction"])

    def poll(self, prediction_id):
        state = self.predictions[prediction_id]
        if state["prediction"]["status"] not in ("succeeded", "failed", "canceled"):
            state["polls"] += 1
            self.advance(state, finish=state["polls"] >= self.finish_after and self.scenario != "stuck")
        return httpx.Response(200, json=state["prediction"])

    def cancel(self, prediction_id):
        prediction = self.predictions[prediction_id]["prediction"]
        if prediction["status"] in ("starting", "processing"):
            prediction.update(status="canceled", completed_at=_iso(datetime.now(timezone.utc)))
        return httpx.Response(200, json=prediction)

    def upload(self, request):
        """``POST /v1/files``: multipart/form-data with the file in part ``content``."""
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return problem(400, "Bad request", "Expected a multipart/form-data body with a content part.")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.content)
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        part = parts.get("content")
        if part is None:
            return problem(400, "Bad request", "The multipart body has no content part.")
        data = part.get_payload(decode=True) or b""
        if len(data) > self.max_upload:
            return problem(413, "Request Entity Too Large", f"File size exceeds the limit of {self.max_upload} bytes.")
        file_id = uuid.uuid4().hex[:20]
        name = part.get_filename() or "file"
        self.uploads[file_id] = {"name": name, "content_type": part.get_content_type(), "data": data}
        created = datetime.now(timezone.utc)
        return httpx.Response(201, json={
            "id": file_id, "name": name, "content_type": part.get_content_type(), "size": len(data),
            "etag": hashlib.md5(data).hexdigest(), "checksums": {"sha256": hashlib.sha256(data).hexdigest()},
            "metadata": {}, "created_at": _iso(created), "expires_at": _iso(created + timedelta(days=1)),
            "urls": {"get": f"{origin(request)}{self.prefix}/files/{file_id}"}})

    # --- behaviour --------------------------------------------------------------------------

    def validate(self, body):
        """(field, message) for each input the schema version refuses, as Cog's validator words it."""
        refused = envelope_problems(body, INPUT_KEYS)
        if refused:
            return refused
        given = body["input"]
        ratios = EARLY_RATIOS if self.schema == "early" else LATER_RATIOS
        most = 1 if self.schema == "early" else 10
        found = [] if given.get("prompt") else [("input", "prompt is required")]
        checks = (("aspect_ratio", ratios), ("quality", ("low", "medium", "high", "auto")),
                  ("output_format", ("webp", "png", "jpeg")))
        for field, allowed in checks:
            if field in given and given[field] not in allowed:
                found.append((f"input.{field}", f"{field} must be one of the following: "
                              + ", ".join(f'"{a}"' for a in allowed)))
        images = given.get("input_images", [])
        if not isinstance(images, list):
            found.append(("input.input_images", f"Invalid type. Expected: array, given: {type(images).__name__}"))
        else:
            for index, url in enumerate(images):
                if not isinstance(url, str) or not re.match(r"^(https?://|data:)", url):
                    found.append((f"input.input_images.{index}", "Does not match format 'uri'"))
        count = given.get("number_of_images", 1)
        if not isinstance(count, int) or not 1 <= count <= most:
            found.append(("input.number_of_images", f"Must be less than or equal to {most}"))
        if self.scenario == "invalid":
            found.append(("input.aspect_ratio", "aspect_ratio must be one of the following: "
                          + ", ".join(f'"{a}"' for a in ratios)))
        return found

    def advance(self, state, finish):
        prediction = state["prediction"]
        created = datetime.strptime(prediction["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        prediction.update(status="processing", started_at=_iso(created + timedelta(seconds=QUEUE_S)),
                          logs="Generating image...\n")
        if not finish:
            return
        completed = _iso(created + timedelta(seconds=QUEUE_S + PREDICT_S))
        metrics = {"predict_time": PREDICT_S, "total_time": QUEUE_S + PREDICT_S}
        if self.scenario in FAILURES:
            error = self.failure_message or FAILURES[self.scenario]
            prediction.update(status="failed", error=error, completed_at=completed, metrics=metrics)
            return
        if state["model"] != MODEL:
            self.finish_custom(state, prediction, completed, metrics)
            return
        given = prediction["input"]
        inputs, broken = self.resolve(given.get("input_images", []))
        self.inputs[prediction["id"]] = inputs
        if broken:
            prediction.update(status="failed", error=broken, completed_at=completed, metrics=metrics)
            return
        fmt = given.get("output_format", "webp")  # the model's default format
        ratio = given.get("aspect_ratio", "1:1")
        width, height = RATIO_SIZES.get(ratio) or tuple(int(x) for x in ratio.split("x"))
        text = f"edit of {len(inputs)}: {given['prompt']}" if inputs else given["prompt"]
        urls = self.publish_outputs(state, given.get("number_of_images", 1), "output_", (width, height, fmt, text))
        output = urls[0] if self.output_shape == "string" else urls
        prediction.update(status="succeeded", output=output, completed_at=completed, metrics=metrics,
                          logs=f"Generating image...\nGenerated {len(urls)} images\n")

    def resolve(self, urls):
        """([what each input was], the failed prediction's error or None)."""
        inputs = []
        for index, url in enumerate(urls):
            own = re.fullmatch(rf"https?://[^/]+{re.escape(self.prefix)}/files/([a-z0-9]+)", url)
            if url.startswith("data:"):
                try:
                    data = base64.b64decode(url.split(",", 1)[1], validate=True)
                except (binascii.Error, ValueError, IndexError):
                    return inputs, f"Prediction failed: input_images[{index}] is not a valid data URI"
                record = {"kind": "data", "mime": url[5:url.find(";")], "bytes": len(data)}
            elif own:
                upload = self.uploads.get(own.group(1))
                if upload is None:
                    return inputs, f"Prediction failed: could not download input_images[{index}]: 404 Not Found"
                data = upload["data"]
                record = {"kind": "upload", "name": upload["name"], "bytes": len(data)}
            else:
                inputs.append({"kind": "url", "url": url})
                continue
            try:
                with Image.open(io.BytesIO(data)) as image:
                    image.load()
                    record["size"] = image.size
            except OSError:
                return inputs, (f"Prediction failed: Error code: 400 - Invalid image file or mode for image {index + 1}, "
                                "please check your image file.")
            inputs.append(record)
        return inputs, None
