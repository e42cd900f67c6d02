"""A fake of OpenRouter's dedicated Images API (OpenRouter's docs).

Speaks ``POST {prefix}/images`` with Bearer auth and a body as OpenRouter's OpenAPI defines
``ImageGenerationRequest`` (tests/conformance/specs/openrouter): the size as ``size`` (explicit
pixels ``WxH``, authoritative, or a tier) or as an ``aspect_ratio`` of the spec's list (plus an
optional ``resolution`` tier); explicit pixels beside a mismatched ``aspect_ratio`` or a
``resolution`` are refused with a 400, as the spec says. Draws real images with Pillow at the
pixels asked, or at a plausible GPT Image 2 size for the ratio; answers the spec's
``ImageGenerationResponse``: ``data[].b64_json`` (required, in every mode) + ``media_type``, and
``usage`` with ``cost`` and ``cost_details`` (``upstream_inference_prompt_cost`` and
``upstream_inference_completions_cost``, required by the spec, and ``upstream_inference_cost``);
errors as ``{"error": {code, message, metadata}}`` with HTTP status = code, and one failure
inside HTTP 200 ("failed_in_200"), as OpenRouter documents for errors that happen after
generation started.

Edits: ``input_references`` is an array of ``{"type": "image_url", "image_url": {"url": ...}}``
(6.1 [I]), at most 16 [I]; each url is an http(s) link (recorded, not fetched) or a data: URL
(decoded; one that is no image is refused the way OpenRouter relays an upstream 400, with OpenAI's
words in ``metadata.raw``). Unknown fields such as ``mask`` are tolerated (passed through), as
OpenRouter does. What each call received is kept in ``inputs``; reference images add input image
tokens to ``usage``.

Generic models (custom routes): any other ``author/slug`` model id is served as a Gemini-like image
model [I: behaviour modelled, not observed]: it honours ``n`` (up to ``max_images``) and
``aspect_ratio`` at its own resolution (``GENERIC_RATIO_SIZES``), ignores the pass-through extras
(``quality``, ``size``, ``output_format``: always PNG), and reports ``usage.cost`` at
``GENERIC_COST`` per image. Ids in ``unknown_models`` (or not ``author/slug``) are refused with
OpenRouter's 400 "... is not a valid model ID".
"""

import base64
import binascii
import io
import json
import re
import threading
import time

import httpx
from PIL import Image

from providers.testing.common import image_or_garbage, origin, publish, receive, serve_file
from providers.testing.openai import OUTPUT_TOKENS

# ImageGenerationRequest.aspect_ratio, resolution (and size tiers) in OpenRouter's OpenAPI.
SPEC_RATIOS = ("1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4", "8:1",
               "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9", "9:21", "21:9")
RESOLUTIONS = ("512", "1K", "2K", "4K")
SIZE_RE = re.compile(r"^(\d+)x(\d+)$")


def ratio_size(ratio, pixels=1024 * 1024 * 1.5, multiple=16):
    """A plausible output size for a ratio: about ``pixels``, sides multiples of ``multiple``."""
    w, h = (float(x) for x in ratio.split(":"))
    width = (pixels * w / h) ** 0.5
    return int(round(width / multiple)) * multiple, int(round(width * h / w / multiple)) * multiple


# The pixels a ratio plausibly gives on GPT Image 2 (multiples of 16, about 1-2 megapixels).
RATIO_SIZES = {
    "1:1": (1024, 1024), "2:3": (1024, 1536), "3:2": (1536, 1024), "3:4": (1152, 1536), "4:3": (1536, 1152),
    "4:5": (1024, 1280), "5:4": (1280, 1024), "9:16": (1008, 1792), "16:9": (1792, 1008), "21:9": (1680, 720),
}
RATIO_SIZES.update({ratio: ratio_size(ratio) for ratio in SPEC_RATIOS if ratio not in RATIO_SIZES})
QUALITIES = ("auto", "low", "medium", "high")
MODELS = ("openai/gpt-image-2",)
GENERIC_RATIO_SIZES = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
    "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672),
}
GENERIC_RATIO_SIZES.update({ratio: ratio_size(ratio, 1024 * 1024, 32) for ratio in SPEC_RATIOS
                            if ratio not in GENERIC_RATIO_SIZES})
GENERIC_COST = 0.039  # USD per image a generic model reports
GENERIC_IMAGE_TOKENS = 1290

ERRORS = {
    "auth": (401, {"code": 401, "message": "User not found."}),
    "forbidden": (403, {"code": 403, "message": "This API key is not allowed to use this model."}),
    "invalid": (400, {"code": 400, "message": "Invalid aspect_ratio: must be one of " + ", ".join(SPEC_RATIOS + ("auto",))}),
    "policy": (403, {"code": 403, "message": "openai/gpt-image-2 requires moderation on OpenAI. Your input was flagged for \"violence\". No credits were charged.",
                     "metadata": {"reasons": ["violence"], "flagged_input": "a red fox in...snow", "provider_name": "OpenAI",
                                  "model_slug": "openai/gpt-image-2"}}),
    "upstream_policy": (400, {"code": 400, "message": "Provider returned error", "metadata": {
        "provider_name": "OpenAI",
        "raw": json.dumps({"error": {"message": "Your request was rejected by the safety system. safety_violations=[violence].",
                                     "type": "image_generation_user_error", "code": "moderation_blocked"}})}}),
    "insufficient_credit": (402, {"code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits"}),
    "request_timeout": (408, {"code": 408, "message": "Request timed out. Please try again."}),
    "rate_limit": (429, {"code": 429, "message": "Rate limit exceeded: free-images-per-min. Slow down."}),
    "server": (502, {"code": 502, "message": "Provider returned error", "metadata": {"provider_name": "OpenAI", "raw": "upstream connect error"}}),
    "no_provider": (503, {"code": 503, "message": "No endpoints found that can handle the requested parameters."}),
}
RETRY_AFTER = {"rate_limit": "7", "no_provider": "3"}
MAX_REFERENCES = 16
INPUT_IMAGE_TOKENS = 765  # per reference image, priced at the image input rate ($8/M) [I]
BAD_IMAGE = {"code": 400, "message": "Provider returned error", "metadata": {
    "provider_name": "OpenAI",
    "raw": json.dumps({"error": {"message": "Invalid image file or mode for image 1, please check your image file.",
                                 "type": "invalid_request_error", "param": "image", "code": "invalid_image_file"}})}}


class FakeOpenRouter:
    def __init__(self, api_key="sk-or-v1-test", prefix="/api/v1", delay=0.0, scenario=None, image_mode="b64_json",
                 honours_extras=True, max_images=10):
        self.api_key = api_key
        self.prefix = prefix
        self.delay = delay  # seconds, or a function of the request body
        self.scenario = scenario
        # "b64_json", or "url": a link as well beside the b64_json the spec requires in every item
        self.image_mode = image_mode
        self.honours_extras = honours_extras  # whether the pass-through size/output_format reach the upstream
        self.max_images = max_images
        self.calls, self.files, self.lock = [], {}, threading.Lock()  # see providers.testing.common
        self.inputs = []  # per accepted call: what each input reference was
        self.unknown_models = set()  # model ids refused as not valid

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (served := serve_file(self.files, request, mime="image/png")) is not None:
            return served
        body = receive(self, request, delay=self.delay, tolerant=True)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error("auth")
        if (request.method, path) != ("POST", f"{self.prefix}/images"):
            return httpx.Response(404, json={"error": {"code": 404, "message": "Not Found"}})
        if self.scenario in ERRORS:
            return self.error(self.scenario)
        problem = self.validate(body)
        if problem:
            return httpx.Response(400, json={"error": {"code": 400, "message": problem}})
        references, bad_image = self.read_references(body.get("input_references", []))
        if bad_image:
            return httpx.Response(400, json={"error": BAD_IMAGE})
        self.inputs.append(references)
        if self.scenario == "failed_in_200":
            return httpx.Response(200, json={"error": {"code": 502, "message": "Provider returned error",
                                                       "metadata": {"provider_name": "OpenAI", "raw": "stream reset by upstream"}}})
        return self.images(request, body)

    def validate(self, body):
        if not isinstance(body, dict):
            return "Invalid JSON body"
        model = body.get("model")
        generic = isinstance(model, str) and re.fullmatch(r"[\w.-]+/[\w.:-]+", model) and model not in self.unknown_models
        if model not in MODELS and not generic:
            return f"{model} is not a valid model ID"
        if not body.get("prompt"):
            return "prompt is required"
        if body.get("aspect_ratio", "auto") not in SPEC_RATIOS + ("auto",):
            return ERRORS["invalid"][1]["message"]
        if body.get("resolution", "1K") not in RESOLUTIONS:
            return "Invalid resolution: must be one of " + ", ".join(RESOLUTIONS)
        size = body.get("size")
        if size is not None and size not in RESOLUTIONS:
            pixels = SIZE_RE.match(str(size))
            if not pixels:
                return "Invalid size: use a tier (2K, 4K) or explicit pixels such as 2048x2048"
            # The spec: "An explicit pixel size is authoritative: a mismatched resolution or
            # aspect_ratio alongside it is rejected with a 400."
            if "resolution" in body:
                return f"size {size} is explicit pixels: a resolution alongside it is not allowed"
            ratio = body.get("aspect_ratio", "auto")
            if ratio != "auto":
                w, h = (float(x) for x in ratio.split(":"))
                if abs(int(pixels.group(1)) / int(pixels.group(2)) - w / h) > 1e-3:
                    return f"size {size} does not match aspect_ratio {ratio}"
        if body.get("quality", "auto") not in QUALITIES:
            return "quality must be one of auto, low, medium, high"
        if not isinstance(body.get("n", 1), int) or not 1 <= body.get("n", 1) <= 10:
            return "n must be an integer between 1 and 10"
        references = body.get("input_references", [])
        if not isinstance(references, list):
            return "input_references must be an array"
        if len(references) > MAX_REFERENCES:
            return f"input_references: at most {MAX_REFERENCES} items are allowed for this model"
        for index, item in enumerate(references):
            url = item.get("image_url", {}).get("url") if isinstance(item, dict) and isinstance(item.get("image_url"), dict) else None
            if not isinstance(item, dict) or item.get("type") != "image_url" or not isinstance(url, str):
                return f"input_references[{index}]: expected {{type: 'image_url', image_url: {{url: string}}}}"
            if not url.startswith(("https://", "http://", "data:image/")):
                return f"input_references[{index}].image_url.url must be an http(s) URL or a data:image URL"
        return None

    def read_references(self, references):
        """([what each was], whether an inline one is no image)."""
        received = []
        for item in references:
            url = item["image_url"]["url"]
            if not url.startswith("data:"):
                received.append({"kind": "url", "url": url})
                continue
            try:
                data = base64.b64decode(url.split(",", 1)[1], validate=True)
                with Image.open(io.BytesIO(data)) as image:
                    image.load()
                    received.append({"kind": "data", "mime": url[5:url.find(";")], "bytes": len(data), "size": image.size})
            except (binascii.Error, ValueError, IndexError, OSError):
                return received, True
        return received, False

    def error(self, name):
        status, error = ERRORS[name]
        headers = {"retry-after": RETRY_AFTER[name]} if name in RETRY_AFTER else {}
        return httpx.Response(status, json={"error": error}, headers=headers)

    def item(self, request, image, fmt):
        """One ``data[]`` item: ``b64_json`` always (the spec requires it), a link too in url mode."""
        item = {"b64_json": base64.b64encode(image).decode(), "media_type": f"image/{fmt}"}
        if self.image_mode == "url":
            item["url"] = publish(self.files, origin(request), image, fmt)
        return item

    def generic_images(self, request, body):
        width, height = GENERIC_RATIO_SIZES[self.ratio(body)]
        data = []
        for _ in range(min(body.get("n", 1), self.max_images)):
            image = image_or_garbage(self.scenario, width, height, "png", body["prompt"], background=(150, 110, 30))
            data.append(self.item(request, image, "png"))
        tokens = GENERIC_IMAGE_TOKENS * len(data)
        usage = {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens,
                 "completion_tokens_details": {"image_tokens": tokens}, "cost": round(GENERIC_COST * len(data), 8),
                 "is_byok": False, "cost_details": {"upstream_inference_cost": None, "upstream_inference_prompt_cost": 0,
                                                    "upstream_inference_completions_cost": 0}}
        if self.scenario == "no_cost":
            usage = {k: v for k, v in usage.items() if k not in ("cost", "cost_details", "is_byok")}
        return httpx.Response(200, json={"created": int(time.time()), "model": body["model"], "data": data, "usage": usage})

    @staticmethod
    def ratio(body):
        ratio = body.get("aspect_ratio", "auto")
        return "1:1" if ratio == "auto" else ratio

    def images(self, request, body):
        if body["model"] not in MODELS:
            return self.generic_images(request, body)
        pixels = SIZE_RE.match(str(body.get("size") or ""))
        width, height = (int(pixels.group(1)), int(pixels.group(2))) if pixels else RATIO_SIZES[self.ratio(body)]
        fmt = body.get("output_format", "png") if self.honours_extras else "png"
        quality = body.get("quality", "auto")
        data = []
        for _ in range(min(body.get("n", 1), self.max_images)):
            image = image_or_garbage(self.scenario, width, height, fmt, body["prompt"])
            data.append(self.item(request, image, fmt))
        image_tokens = OUTPUT_TOKENS[quality] * len(data)
        input_image_tokens = INPUT_IMAGE_TOKENS * len(body.get("input_references", []))
        prompt_tokens = 20 + input_image_tokens
        prompt_cost = round(20 * 5e-6 + input_image_tokens * 8e-6, 8)
        completions_cost = round(image_tokens * 30e-6, 8)
        cost = round(prompt_cost + completions_cost, 8)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": image_tokens,
                 "total_tokens": prompt_tokens + image_tokens,
                 "completion_tokens_details": {"image_tokens": image_tokens},
                 "cost": cost, "is_byok": False,
                 "cost_details": {"upstream_inference_cost": cost, "upstream_inference_prompt_cost": prompt_cost,
                                  "upstream_inference_completions_cost": completions_cost}}
        if self.scenario == "byok":  # OpenRouter charges its fee; the upstream bills the user's own key
            usage.update(cost=round(cost * 0.05, 8), is_byok=True)
        elif self.scenario == "no_cost":
            usage = {k: v for k, v in usage.items() if k not in ("cost", "cost_details", "is_byok")}
        return httpx.Response(200, json={"created": int(time.time()), "model": body["model"], "data": data, "usage": usage})
