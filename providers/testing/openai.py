"""A fake of the OpenAI Images API (and of the OpenAI-compatible servers that copy it).

Speaks ``POST {prefix}/images/generations`` (JSON) and ``POST {prefix}/images/edits``
(multipart/form-data) with Bearer auth; answers with real images drawn
by Pillow at the requested size and format (an edit starts from its first reference image), token
usage as OpenAI's ``ImageGenUsage`` (with ``input_tokens_details`` and ``output_tokens_details``;
``text_output_tokens`` sets the text tokens written besides the image), the ``size`` echoed only
when it is one of the three ``ImagesResponse.size`` names, ``x-request-id`` and
``openai-processing-ms``; and with OpenAI's own error bodies for each ``scenario``.

The edits endpoint checks what the real one requires: a prompt; reference images as file parts
named ``image`` (exactly one) or ``image[]`` (one or more, at most 16), each a PNG, JPEG or WebP
that decodes; a ``mask`` (optional, one) that is a PNG with an alpha channel and the size of the
first image; no ``input_fidelity`` for gpt-image-2 (it always works at high fidelity [I]). A
multipart call is recorded with ``form`` (text fields) and ``files`` (field, filename,
content_type, data) next to the usual keys; its ``json`` is None.
"""

import base64
import email.parser
import email.policy
import io
import threading
import time
import uuid

import httpx
from PIL import Image, ImageDraw

from providers.base import InputImage, parse_size
from providers.testing.common import GARBAGE, image_or_garbage, origin, publish, receive, serve_file

# Input image tokens the fake reports per reference image (a figure of the fake's own).
IMAGE_INPUT_TOKENS = 1000
MAX_EDIT_IMAGES = 16
# Edit-path error scenarios: the request is fine, the provider refuses the reference image.
EDIT_ERRORS = {
    "edit_policy": (400, {"message": "Your request was rejected by the safety system. The input image may contain "
                          "content that is not allowed. safety_violations=[sexual].",
                          "type": "image_generation_user_error", "param": None, "code": "moderation_blocked"}),
}

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
                 image_mode="b64_json", text_output_tokens=0):
        self.api_key = api_key
        self.prefix = prefix
        self.delay = delay  # seconds, or a function of the request body
        self.scenario = scenario
        self.extra_headers = extra_headers or {}
        self.image_mode = image_mode  # "b64_json" or "url" (LocalAI and relays answer with URLs)
        # Text tokens the model reports having written besides the image (output_tokens_details)
        self.text_output_tokens = text_output_tokens
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        if is_multipart(request):
            form, parts = read_multipart(request)
            receive(self, request, delay=self.delay, tolerant=True, form=form, files=parts)
        else:
            body = receive(self, request, delay=self.delay)
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error("auth")
        if (request.method, path) == ("GET", f"{self.prefix}/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": "gpt-image-2", "object": "model"}]})
        if request.method == "POST" and path == f"{self.prefix}/images/edits":
            if not is_multipart(request):
                return invalid("Expected multipart/form-data for /images/edits.", None, "invalid_content_type")
            if self.scenario in ERRORS or self.scenario in EDIT_ERRORS:
                return self.error(self.scenario)
            return self.edits(request, form, parts)
        if (request.method, path) != ("POST", f"{self.prefix}/images/generations"):
            return httpx.Response(404, json={"error": {"message": f"Invalid URL ({request.method} {path})",
                                                       "type": "invalid_request_error", "param": None, "code": None}})
        if self.scenario in ERRORS:
            return self.error(self.scenario)
        return self.generations(request, body)

    def edits(self, request, form, parts):
        """``POST /images/edits``: the form checked as OpenAI checks it, then an answer of the
        generations shape whose images start from the first reference image."""
        problem = edit_problem(form, parts)
        if problem is not None:
            return problem
        images = [part for part in parts if part["field"] in ("image", "image[]")]
        return self.generations(request, dict(form), references=[part["data"] for part in images])

    def error(self, name):
        status, error = ERRORS.get(name) or EDIT_ERRORS[name]
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:12]}"}
        if name == "rate_limit":
            headers["retry-after"] = "7"
        return httpx.Response(status, json={"error": error}, headers=headers)

    def generations(self, request, body, references=()):
        """The images answer; ``references`` (an edit's reference images) make the images start
        from the first of them and count as input image tokens."""
        if not body.get("prompt"):
            return httpx.Response(400, json={"error": {"message": "Missing required parameter: 'prompt'.",
                                                       "type": "invalid_request_error", "param": "prompt", "code": "missing_required_parameter"}})
        width, height, fmt, data = drawn_images(self, request, body, references)
        quality = body.get("quality", "auto")
        chosen = "high" if quality == "auto" else quality
        n = len(data)
        image_in = IMAGE_INPUT_TOKENS * len(references)
        image_out, text_out = OUTPUT_TOKENS[quality] * n, self.text_output_tokens
        # ImageGenUsage: output_tokens_details {image_tokens, text_tokens} beside the input details.
        usage = {"input_tokens": 20 + image_in, "input_tokens_details": {"text_tokens": 20, "image_tokens": image_in},
                 "output_tokens": image_out + text_out,
                 "output_tokens_details": {"image_tokens": image_out, "text_tokens": text_out},
                 "total_tokens": 20 + image_in + image_out + text_out}
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:12]}", "openai-processing-ms": "1234",
                   "openai-version": "2020-10-01", **self.extra_headers}
        answer = {"created": int(time.time()), "data": data, "usage": usage, "quality": chosen, "output_format": fmt,
                  "background": "opaque"}
        if (width, height) in ((1024, 1024), (1024, 1536), (1536, 1024)):
            answer["size"] = f"{width}x{height}"  # ImagesResponse.size names these three only
        return httpx.Response(200, headers=headers, json=answer)


def drawn_images(fake, request, body, references=()):
    """``(width, height, format, data)`` of an images answer: ``n`` entries of ``url`` or
    ``b64_json`` as ``fake.image_mode`` says, at the asked size (an edit's "auto": its first
    reference image's), each starting from that reference image for an edit."""
    if references and body.get("size", "auto") == "auto":
        width, height = Image.open(io.BytesIO(references[0])).size
    else:
        width, height = parse_size(body.get("size", "1024x1024"))
    fmt = body.get("output_format", "png")
    data = []
    for _ in range(int(body.get("n", 1))):
        if references:
            image = GARBAGE if fake.scenario == "garbage" else edited(references[0], width, height, fmt, body["prompt"])
        else:
            image = image_or_garbage(fake.scenario, width, height, fmt, body["prompt"])
        if fake.image_mode == "url":
            data.append({"url": publish(fake.files, origin(request), image, fmt)})
        else:
            data.append({"b64_json": base64.b64encode(image).decode()})
    return width, height, fmt, data


# --- the edits endpoint's multipart form ------------------------------------------------------


def is_multipart(request):
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def read_multipart(request):
    """``(form, files)`` of a multipart/form-data request: the text fields (name -> value; a
    name sent twice keeps a list) and the file parts, in order, as dicts with ``field``,
    ``filename``, ``content_type`` and ``data``."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    form, files = {}, []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files.append({"field": name, "filename": filename, "content_type": part.get_content_type(),
                          "data": payload})
        elif name in form:
            form[name] = (form[name] if isinstance(form[name], list) else [form[name]]) + [payload.decode()]
        else:
            form[name] = payload.decode()
    return form, files


def invalid(message, param, code="invalid_value", status=400):
    return httpx.Response(status, headers={"x-request-id": f"req_{uuid.uuid4().hex[:12]}"},
                          json={"error": {"message": message, "type": "invalid_request_error", "param": param,
                                          "code": code}})


def edit_problem(form, files):
    """OpenAI's 400 answer to an edits form it would refuse, or None when the form is fine."""
    duplicated = [name for name, value in form.items() if isinstance(value, list)]
    if duplicated:
        return invalid(f"Duplicate parameter: '{duplicated[0]}'. You provided multiple values for this parameter, "
                       "whereas only one is allowed.", duplicated[0], "duplicate_parameter")
    if not form.get("prompt"):
        return invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    if "input_fidelity" in form and str(form.get("model", "")).startswith("gpt-image-2"):
        return invalid("Invalid parameter: 'input_fidelity' is not supported with gpt-image-2, which always "
                       "processes input images at high fidelity.", "input_fidelity", "unsupported_parameter")
    unknown = [part["field"] for part in files if part["field"] not in ("image", "image[]", "mask")]
    if unknown:
        return invalid(f"Unrecognized file parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter")
    plain = [part for part in files if part["field"] == "image"]
    array = [part for part in files if part["field"] == "image[]"]
    if len(plain) > 1 or (plain and array):
        return invalid("Duplicate parameter: 'image'. You provided multiple values for this parameter, whereas only "
                       "one is allowed. If you are trying to provide a list of values, use the array syntax instead "
                       "e.g. 'image[]=<value>'.", "image", "duplicate_parameter")
    images = plain or array
    if not images:
        return invalid("Missing required parameter: 'image'.", "image", "missing_required_parameter")
    if len(images) > MAX_EDIT_IMAGES:
        return invalid(f"Invalid 'image': too many images. Expected an array with maximum length {MAX_EDIT_IMAGES}, "
                       f"but got an array with length {len(images)} instead.", "image", "array_above_max_length")
    sizes = []
    for index, part in enumerate(images, start=1):
        decoded = decode(part["data"])
        if decoded is None or decoded.format not in ("PNG", "JPEG", "WEBP"):
            return invalid(f"Invalid image file or mode for image {index}, please check your image file.", "image",
                           "invalid_image_file")
        sizes.append(decoded.size)
    masks = [part for part in files if part["field"] == "mask"]
    if len(masks) > 1:
        return invalid("Duplicate parameter: 'mask'. You provided multiple values for this parameter, whereas only "
                       "one is allowed.", "mask", "duplicate_parameter")
    if masks:
        mask = decode(masks[0]["data"])
        if mask is None or mask.format != "PNG":
            return invalid("Invalid mask image: the mask must be a PNG file.", "mask", "invalid_image_format")
        if "A" not in mask.getbands() and "transparency" not in mask.info:
            return invalid("Invalid mask image: the mask must have an alpha channel (transparent pixels mark the "
                           "area to edit).", "mask", "invalid_image_format")
        if mask.size != sizes[0]:
            return invalid(f"Invalid mask image: mask size {mask.size[0]}x{mask.size[1]} does not match image size "
                           f"{sizes[0][0]}x{sizes[0][1]}.", "mask", "invalid_image_dimensions")
    return None


def decode(data):
    """The Pillow image of ``data``, loaded; None when the bytes are no image."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except Exception:  # noqa: BLE001 - any undecodable upload is the same 400
        return None


def edited(reference, width, height, fmt, text=""):
    """The first reference image at ``width`` x ``height`` in ``fmt``, marked as edited."""
    image = Image.open(io.BytesIO(reference)).convert("RGB").resize((width, height))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 24), fill=(20, 20, 20))
    draw.text((10, 6), ("edited: " + text)[:60], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, {"jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG"))
    return out.getvalue()


def mask_png(width, height):
    """A mask the edits endpoint accepts: an RGBA PNG, opaque but for a transparent centre (the
    area to change)."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(0, 0, 0, 0))
    out = io.BytesIO()
    mask.save(out, "PNG")
    return out.getvalue()


# --- edit inputs as the app hands them to an adapter ---------------------------------------------

RED = (200, 40, 40)


def reference(width=64, height=48, fmt="PNG", colour=RED, name=None):
    """A reference image (an ``InputImage``) of ``width`` x ``height`` in one colour."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return InputImage(data=out.getvalue(), mime=mime, filename=name or f"ref.{fmt.lower()}")


def mask(width=64, height=48):
    """The ``InputImage`` of ``mask_png``."""
    return InputImage(data=mask_png(width, height), mime="image/png", filename="mask.png")
