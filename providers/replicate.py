"""Replicate predictions API for the official ``openai/gpt-image-2`` model (Replicate's docs).

``POST {REPLICATE_BASE_URL}/models/openai/gpt-image-2/predictions`` with ``{"input": {...}}`` and
``Prefer: wait=N`` (N <= 60) holds the request open; a prediction that is still ``starting`` or
``processing`` is polled at ``GET {base}/predictions/{id}`` and cancelled with
``POST {base}/predictions/{id}/cancel`` when our deadline passes. Output: a list of image URLs (a
single string is tolerated). Errors: RFC 7807 problem JSON; model failures are HTTP 200 with
``status: "failed"`` and an ``error`` string. Replicate reports no cost, only ``metrics``.

Sizes: the model takes ``aspect_ratio``. Only ``1:1``, ``3:2`` and ``2:3`` exist in both observed
schema versions (5.2), so the route declares just GPT Image 2's three standard sizes.

Edits: the model's ``input_images`` array (both schema versions, 5.2) takes file inputs the way
Replicate documents them (5.1, replicate.com/docs/topics/predictions/input-files): an https URL,
a ``data:`` URI (recommended below 1 MB), or a file uploaded with ``POST /v1/files`` (multipart
part ``content``) whose ``urls.get`` is passed on, as replicate-python does by default. A reference
goes as the app's public link when it has one, else inline when small, else uploaded. The model
has no mask input.

Custom routes: ``REPLICATE_MODELS`` (comma-separated ``owner/name`` or ``owner/name:version``)
adds a route ``replicate:<owner/name>`` per model (``ReplicateCustomProvider``). Each call first
reads the model's input schema: ``GET {base}/models/{owner}/{name}`` ->
``latest_version.openapi_schema``, or ``GET {base}/models/{owner}/{name}/versions/{version}`` ->
``openapi_schema`` for a pinned version; ``components.schemas.Input.properties`` (Cog writes an
enum as ``allOf: [{"$ref": "#/components/schemas/<name>"}]``, resolved here). Only inputs the
schema has are sent (``custom_inputs``): the size as ``width``/``height`` (with ``aspect_ratio:
"custom"`` where that is offered), else the nearest ``aspect_ratio`` the model offers, else a
``size`` enum; the count as ``num_outputs``/``number_of_images``/``num_images``/``n``/``batch_size``
(capped at its ``maximum``); ``quality``, ``output_format`` and ``seed`` where the model takes
our value. Everything else is a "not sent: ..." note. Without a version the prediction goes to the
official-model endpoint ``POST {base}/models/{owner}/{name}/predictions``; with one, to ``POST
{base}/predictions`` with ``{"version": ..., "input": ...}`` (community models need a version).
No catalog price (Replicate reports none), no edits. The rest (``Prefer: wait``, polling, cancel,
errors, output) is the GPT Image 2 route's.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Mapping, Sequence

import httpx

from . import http
from .base import (ConfigurationError, MIME_TYPES, BadResponseError, Capabilities, ContentPolicyError, GeneratedImage,
                   ImageRequest, ImageResult, InputImage, Provider, ProviderCancelledError, ProviderError,
                   ProviderUnavailableError, Route, Timings, Usage, redact, snap_aspect_ratio)
from .custom import CUSTOM_CAPABILITIES

# (width, height) -> the aspect_ratio value both schema versions accept (Replicate's docs).
ASPECT_RATIOS = {(1024, 1024): "1:1", (1536, 1024): "3:2", (1024, 1536): "2:3"}
# The schema names no maximum for input_images; GPT Image 2 itself takes up to 16 (2.3) [I].
MAX_INPUT_IMAGES = 16
CAPABILITIES = Capabilities(sizes=tuple(ASPECT_RATIOS), max_n=10, prompt_limit=32_000,
                            edit=True, mask=False, max_input_images=MAX_INPUT_IMAGES)
INLINE_LIMIT = 1_000_000  # bytes: Replicate recommends data: URIs only for files under 1 MB
TERMINAL = ("succeeded", "failed", "canceled", "aborted")
MAX_WAIT = 60  # seconds Replicate holds a request open with Prefer: wait (5.1)
KEPT_HEADERS = ("x-request-id", "preference-applied", "retry-after")
# Words of a refusal in a failed prediction's ``error`` (no error codes exist) [I].
POLICY_WORDS = ("safety system", "moderation_blocked", "content policy", "content_policy", "flagged as sensitive",
                "(e005)", "nsfw", "safety_violations")


BUILT_IN_MODEL = "openai/gpt-image-2"
# Custom routes take custom.CUSTOM_CAPABILITIES; the model's schema decides what is sent and its own
# checks refuse what it cannot do; a seed is sent when the schema has a ``seed`` input (a note says
# so when it has none).
MODEL_RE = re.compile(r"^([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?::([0-9a-f]{64}))?$")
# Count inputs, in the order they are looked for in a schema.
COUNT_FIELDS = ("num_outputs", "number_of_images", "num_images", "n", "batch_size")
RATIO_RE = re.compile(r"^\d+:\d+$")



def custom_models(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """``(owner/name, version or None)`` for each ``REPLICATE_MODELS`` entry, checked; the built-in
    GPT Image 2 model (without a version) is its own route and skipped here."""
    found: dict[str, str | None] = {}
    for entry in http.comma_list(env, "REPLICATE_MODELS"):
        match = MODEL_RE.match(entry)
        if not match:
            raise ConfigurationError(f"REPLICATE_MODELS: {entry!r} is not a Replicate model like 'owner/name' "
                                     "or 'owner/name:<64-character version id>'.")
        model, version = match.group(1), match.group(2)
        if model == BUILT_IN_MODEL and version is None:
            continue
        if model in found and found[model] != version:
            raise ConfigurationError(f"REPLICATE_MODELS: {model!r} is listed twice with different versions.")
        found[model] = version
    return list(found.items())


def routes(env: Mapping[str, str]) -> list[Route]:
    found = [Route("replicate:openai/gpt-image-2", ReplicateProvider, "openai/gpt-image-2",
                   "Replicate — openai/gpt-image-2", CAPABILITIES)]
    for model, version in custom_models(env):
        shown = f"{model}:{version[:8]}" if version else model
        found.append(Route(f"replicate:{model}", ReplicateCustomProvider, model, f"Replicate {shown} (custom route)",
                           CUSTOM_CAPABILITIES, options={"custom": True, "version": version}))
    return found


class ReplicateProvider(Provider):
    slug = "replicate"
    name = "Replicate"
    credential_names = ("REPLICATE_API_TOKEN",)
    # Bring-your-own OpenAI key, sent as the model input ``openai_api_key`` (5.2).
    optional_names = ("REPLICATE_OPENAI_API_KEY",)
    base_url_name = "REPLICATE_BASE_URL"
    secret_names = ("REPLICATE_API_TOKEN", "REPLICATE_OPENAI_API_KEY")
    default_base_url = "https://api.replicate.com/v1"
    poll_interval = 0.5  # the SDK's default REPLICATE_POLL_INTERVAL (5.1)
    max_poll_interval = 1.0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['REPLICATE_API_TOKEN']}"}

    def generate(self, request: ImageRequest) -> ImageResult:
        deadline_at = self.clock() + self.deadline
        references, kept_references, uploads = self.reference_inputs(request.images)
        body, notes = prediction_body(request, self.credentials.get("REPLICATE_OPENAI_API_KEY"), references)
        url = f"{self.base_url}/models/{self.route.model}/predictions"
        return self.run_prediction(request, url, body, notes, deadline_at, request.output_format,
                                   kept_references=kept_references, uploads=uploads)

    def run_prediction(self, request: ImageRequest, url: str, body: dict[str, Any], notes: list[str],
                       deadline_at: float, output_format: str | None, *, kept_references: Sequence[str] = (),
                       uploads: Sequence[dict[str, Any]] = (), extra_sent: Mapping[str, Any] | None = None) -> ImageResult:
        """Create the prediction at ``url``, wait for it (``Prefer: wait``, then polls), and read it."""
        wait = max(1, min(MAX_WAIT, int(self.deadline)))
        headers = {**self.headers(), "Prefer": f"wait={wait}"}
        response = http.send(self.client, "POST", url, json=body, headers=headers, raise_for=self.raise_for)
        prediction = self.read(response)
        prediction_id = str(prediction.get("id") or "")
        if prediction.get("status") not in TERMINAL:
            if not prediction_id:
                raise BadResponseError("Replicate answered without a prediction id to poll.")
            prediction = self.wait_for(prediction, deadline_at)
        try:
            self.raise_if_unsuccessful(prediction)
        except ProviderError as exc:
            exc.after_submit = True  # the prediction existed (and may have billed): never created again
            raise
        images = output_images(prediction.get("output"), output_format)
        if len(images) < request.n:
            notes.append(f"asked for {request.n} images, Replicate returned {len(images)}")
        metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), dict) else {}
        return ImageResult(
            images=tuple(images),
            usage=Usage(raw={"metrics": metrics}) if metrics else None,
            timings=provider_timings(prediction),
            request_id=prediction_id or None,
            request_sent={**self.kept_request(url, headers["Prefer"], body, list(kept_references), list(uploads)),
                          **(extra_sent or {})},
            response_headers=http.kept_headers(response, KEPT_HEADERS),
            notes=tuple(redact(notes, self.secrets())),
        )

    def kept_request(self, url: str, prefer: str, body: Mapping[str, Any], kept_references: list[str],
                     uploads: list[dict[str, Any]]) -> dict[str, Any]:
        """What was sent, without the token, the BYOK key or the reference bytes."""
        kept = redact(body, self.secrets())
        if kept_references:  # a new dict: redact() hands the body itself back when there is no secret
            kept = {**kept, "input": {**kept["input"], "input_images": kept_references}}
        sent = {"method": "POST", "url": url, "headers": {"Prefer": prefer}, "json": kept}
        if uploads:
            sent["uploads"] = uploads
        return sent

    # --- reference images ---------------------------------------------------------------------

    def reference_inputs(self, images: tuple[InputImage, ...]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """(what goes in ``input_images``, how each is kept in request_sent, the uploads made)."""
        sent, kept, uploads = [], [], []
        for image in images:
            if image.url:
                sent.append(image.url)
                kept.append(image.describe())
            elif len(image.data) < INLINE_LIMIT:
                sent.append(image.data_url())
                kept.append(image.describe(f"data:{image.mime};base64,"))
            else:
                file_url = self.upload(image)
                sent.append(file_url)
                kept.append(file_url)
                uploads.append({"method": "POST", "url": f"{self.base_url}/files", "filename": image.filename,
                                "content_type": image.mime, "bytes": len(image.data), "urls.get": file_url})
        return sent, kept, uploads

    def upload(self, image: InputImage) -> str:
        """``POST {base}/files`` with the bytes as multipart part ``content`` (replicate-python
        ``files.create``); the file's ``urls.get`` is what a prediction input takes."""
        response = http.send(self.client, "POST", f"{self.base_url}/files", headers=self.headers(),
                             files={"content": (image.filename, image.data, image.mime)}, raise_for=self.raise_for)
        file = http.json_body(response)
        urls = file.get("urls") if isinstance(file, dict) else None
        url = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(url, str) or not url:
            raise BadResponseError("Replicate stored the reference image but named no urls.get for it.")
        return url

    # --- polling ------------------------------------------------------------------------------

    def wait_for(self, prediction: Mapping[str, Any], deadline_at: float) -> Mapping[str, Any]:
        urls = prediction.get("urls") if isinstance(prediction.get("urls"), dict) else {}
        get_url = http.own_url(urls.get("get"), self.base_url, f"/predictions/{prediction['id']}")
        cancel_url = http.own_url(urls.get("cancel"), self.base_url, f"/predictions/{prediction['id']}/cancel")

        def check():
            current = self.read(http.send(self.client, "GET", get_url, headers=self.headers(), raise_for=self.raise_for))
            return current if current.get("status") in TERMINAL else None

        def cancel():
            http.send(self.client, "POST", cancel_url, headers=self.headers(), raise_for=self.raise_for)

        return http.poll(check, interval=self.poll_interval, max_interval=self.max_poll_interval, growth=1.25,
                         deadline_at=deadline_at, clock=self.clock, sleep=self.sleep, on_give_up=cancel)

    # --- reading answers ----------------------------------------------------------------------

    def read(self, response: httpx.Response) -> Mapping[str, Any]:
        prediction = http.json_body(response)
        if not isinstance(prediction, dict):
            raise BadResponseError("Replicate's answer is not a prediction object.")
        return prediction

    def raise_if_unsuccessful(self, prediction: Mapping[str, Any]) -> None:
        status = prediction.get("status")
        if status == "succeeded":
            return
        message = redact(str(prediction.get("error") or f"the prediction ended {status}"), self.secrets())
        message = message[: http.MAX_MESSAGE]
        if status == "canceled":  # cancelled at Replicate (our own cancel at the deadline raises a timeout)
            raise ProviderCancelledError(f"Replicate prediction canceled: {message}")
        if status == "aborted":
            raise ProviderUnavailableError(f"Replicate prediction aborted: {message}")
        raise failure_error(f"Replicate prediction failed: {message}", message)

    def raise_for(self, response: httpx.Response) -> None:
        """Problem JSON ``{type, title, status, detail}`` -> the shared errors, secrets removed."""
        message = redact(http.error_message(response), self.secrets())
        status = response.status_code
        if status in (400, 422) and _mentions_policy(message):
            raise ContentPolicyError(f"HTTP {status}: {message}", status=status)
        raise http.error_for(status, message, retry_after_s=http.retry_after(response.headers))


class ReplicateCustomProvider(ReplicateProvider):
    """Any Replicate model by ``owner/name[:version]`` (``REPLICATE_MODELS``): text to image, with
    the inputs its own schema has."""

    def generate(self, request: ImageRequest) -> ImageResult:
        deadline_at = self.clock() + self.deadline
        version = self.route.options.get("version")
        schema_url, properties = self.input_schema(version)
        inputs, notes, output_format = custom_inputs(request, properties)
        if version:
            url, body = f"{self.base_url}/predictions", {"version": version, "input": inputs}
        else:
            url, body = f"{self.base_url}/models/{self.route.model}/predictions", {"input": inputs}
        return self.run_prediction(request, url, body, notes, deadline_at, output_format,
                                   extra_sent={"schema": {"method": "GET", "url": schema_url}})

    def input_schema(self, version: str | None) -> tuple[str, dict[str, dict[str, Any]]]:
        """(where it was read, the model's input properties with their $refs resolved). Read on
        every call: a model's latest version, and so its inputs, can change at any time."""
        model_url = f"{self.base_url}/models/{self.route.model}"
        url = f"{model_url}/versions/{version}" if version else model_url
        answer = http.json_body(http.send(self.client, "GET", url, headers=self.headers(), raise_for=self.raise_for))
        holder = answer if version else (answer.get("latest_version") if isinstance(answer, dict) else None)
        schema = holder.get("openapi_schema") if isinstance(holder, dict) else None
        properties = input_properties(schema)
        if properties is None:
            hint = "" if version else "; pin a version in REPLICATE_MODELS (owner/name:version)"
            raise BadResponseError(f"Replicate names no input schema for {self.route.model} "
                                   f"({'openapi_schema' if version else 'latest_version.openapi_schema'}){hint}.")
        return url, properties


def input_properties(schema: Any) -> dict[str, dict[str, Any]] | None:
    """``components.schemas.Input.properties``, each with ``allOf``/``$ref`` parts merged in (Cog
    puts an enum's values in a referenced schema); None when the schema has no such object."""
    components = schema.get("components") if isinstance(schema, dict) else None
    schemas = components.get("schemas") if isinstance(components, dict) else None
    input_schema = schemas.get("Input") if isinstance(schemas, dict) else None
    properties = input_schema.get("properties") if isinstance(input_schema, dict) else None
    if not isinstance(properties, dict):
        return None

    def resolve(node: Any, depth: int = 0) -> dict[str, Any]:
        if not isinstance(node, dict) or depth > 5:
            return {}
        merged = {k: v for k, v in node.items() if k not in ("allOf", "$ref")}
        parts = list(node.get("allOf") or []) + ([{"$ref": node["$ref"]}] if isinstance(node.get("$ref"), str) else [])
        for part in parts:
            ref = part.get("$ref") if isinstance(part, dict) else None
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                target = schemas.get(ref.rsplit("/", 1)[-1])
            else:
                target = part
            for key, value in resolve(target, depth + 1).items():
                merged.setdefault(key, value)
        return merged

    return {name: resolve(prop) for name, prop in properties.items()}


def _enum(prop: Mapping[str, Any]) -> list[Any] | None:
    values = prop.get("enum")
    return list(values) if isinstance(values, list) else None


def _takes_strings(prop: Mapping[str, Any]) -> bool:
    enum = _enum(prop)
    if enum is not None:
        return all(isinstance(value, str) for value in enum)
    return prop.get("type", "string") == "string"


def custom_inputs(request: ImageRequest, properties: Mapping[str, Mapping[str, Any]]
                  ) -> tuple[dict[str, Any], list[str], str | None]:
    """(the ``input`` for a model with these schema properties, the notes on what could not be sent
    as asked, the output format sent or None). The prompt is always sent."""
    inputs: dict[str, Any] = {"prompt": request.prompt}
    notes: list[str] = []
    _map_size(request, properties, inputs, notes)
    count_field = next((name for name in COUNT_FIELDS if name in properties), None)
    if count_field:
        most = properties[count_field].get("maximum")
        count = request.n
        if isinstance(most, int) and not isinstance(most, bool) and 1 <= most < request.n:
            count = most
            notes.append(f"asked n={request.n}; the model makes at most {most} per call ({count_field}), "
                         f"so {most} was asked")
        inputs[count_field] = count
    elif request.n > 1:
        notes.append(f"not sent: n={request.n} (the model has no count input; it makes one image per call)")
    sent_quality = _map_choice(properties, "quality", request.quality, inputs, notes)
    if sent_quality is None and "quality" not in properties:
        notes.append(f"not sent: quality {request.quality} (the model has no such input)")
    fmt = request.output_format
    wanted = "jpg" if fmt == "jpeg" and "jpeg" not in (_enum(properties.get("output_format", {})) or ["jpeg"]) else fmt
    sent_format = _map_choice(properties, "output_format", wanted, inputs, notes, shown=fmt)
    if sent_format is None and "output_format" not in properties:
        notes.append(f"not sent: output_format {fmt} (the model has no such input)")
    if request.seed is not None:
        if "seed" in properties:
            inputs["seed"] = request.seed
        else:
            notes.append(f"not sent: seed {request.seed} (the model has no such input)")
    return inputs, notes, fmt if sent_format is not None else None


def _map_choice(properties: Mapping[str, Mapping[str, Any]], field: str, value: str, inputs: dict[str, Any],
                notes: list[str], shown: str | None = None) -> str | None:
    """Send ``value`` as ``field`` when the schema has it and takes that value; note when not."""
    prop = properties.get(field)
    if prop is None:
        return None
    shown = shown or value
    enum = _enum(prop)
    if not _takes_strings(prop):
        notes.append(f"not sent: {field} {shown} (the model's {field} input is of type "
                     f"{prop.get('type', 'unknown')}, not one of ours)")
        return None
    if enum is not None and value not in enum:
        notes.append(f"not sent: {field} {shown} (the model's {field} takes only {', '.join(map(str, enum))})")
        return None
    inputs[field] = value
    return value


def _map_size(request: ImageRequest, properties: Mapping[str, Mapping[str, Any]], inputs: dict[str, Any],
              notes: list[str]) -> None:
    """width/height when the model has both (plus ``aspect_ratio: custom`` where offered), else an
    ``aspect_ratio`` (exact or the nearest offered), else a ``size`` string; noted when inexact."""
    ratio_prop = properties.get("aspect_ratio")
    ratio_enum = _enum(ratio_prop) if ratio_prop is not None else None
    if "width" in properties and "height" in properties:
        inputs["width"], inputs["height"] = request.width, request.height
        if ratio_prop is None:
            return
        if ratio_enum is not None and "custom" in ratio_enum:
            inputs["aspect_ratio"] = "custom"
            return
        ratio, exact = _ratio_for(request, ratio_enum)
        if ratio is not None:
            inputs["aspect_ratio"] = ratio
            if not exact:
                notes.append(f"asked size {request.size}; the model also takes an aspect ratio, and the nearest it "
                             f"offers, {ratio}, was sent with width/height (which one wins is the model's choice)")
        return
    if ratio_prop is not None and _takes_strings(ratio_prop):
        ratio, exact = _ratio_for(request, ratio_enum)
        if ratio is not None:
            inputs["aspect_ratio"] = ratio
            how = f"so {ratio} was sent" if exact else f"so the nearest one it offers, {ratio}, was sent"
            notes.append(f"asked size {request.size}; the model takes an aspect ratio, {how} "
                         "(the resolution is the model's choice)")
            return
    size_prop = properties.get("size")
    if size_prop is not None and _takes_strings(size_prop):
        size_enum = _enum(size_prop)
        if size_enum is None or request.size in size_enum:
            inputs["size"] = request.size
            return
        notes.append(f"not sent: size {request.size} (the model's size takes only {', '.join(map(str, size_enum))})")
        return
    notes.append(f"not sent: size {request.size} (the model has no width/height, aspect_ratio or size input)")


def _ratio_for(request: ImageRequest, enum: list[Any] | None) -> tuple[str | None, bool]:
    """The exact reduced "W:H" when any ratio is taken, else the nearest of the enum's ratios."""
    if enum is None:
        divisor = math.gcd(request.width, request.height)
        return f"{request.width // divisor}:{request.height // divisor}", True
    ratios = tuple(value for value in enum if isinstance(value, str) and RATIO_RE.match(value)
                   and all(int(part) for part in value.split(":")))
    if not ratios:
        return None, False
    return snap_aspect_ratio(request.width, request.height, ratios)


def prediction_body(request: ImageRequest, openai_key: str | None,
                    input_images: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The create body. Quality and format are always explicit (Replicate defaults: auto, webp).
    An edit adds ``input_images``; the aspect ratio stays the one asked for (not ``auto``, which
    would follow the inputs), as on every other route of the comparison."""
    inputs: dict[str, Any] = {
        "prompt": request.prompt,
        "aspect_ratio": ASPECT_RATIOS[(request.width, request.height)],
        "number_of_images": request.n,
        "quality": request.quality,
        "output_format": request.output_format,
    }
    if input_images:
        inputs["input_images"] = list(input_images)
    notes = []
    if openai_key:
        inputs["openai_api_key"] = openai_key
        notes.append("sent with your own OpenAI key (REPLICATE_OPENAI_API_KEY): OpenAI bills the generation to that account")
    if request.seed is not None:
        notes.append(f"seed {request.seed} not sent: the model has no seed input")
    return {"input": inputs}, notes


def output_images(output: Any, output_format: str | None) -> list[GeneratedImage]:
    """``output`` is a list of URL strings (5.3); a single string and ``{"url": ...}`` items are
    tolerated. The runner downloads them (``data:`` URLs included)."""
    items = [output] if isinstance(output, (str, dict)) else output if isinstance(output, list) else []
    mime = MIME_TYPES.get(output_format or "")
    images = []
    for item in items:
        url = item.get("url") if isinstance(item, dict) else item
        if isinstance(url, str) and url:
            images.append(GeneratedImage(url=url, mime=mime))
    if not images:
        raise BadResponseError("Replicate's prediction succeeded without any image URL in output.")
    return images


def provider_timings(prediction: Mapping[str, Any]) -> Timings:
    """``metrics.predict_time`` (s) is generation; ``created_at`` -> ``started_at`` is queueing."""
    metrics = prediction.get("metrics") if isinstance(prediction.get("metrics"), dict) else {}
    generation = _float(metrics.get("predict_time"))
    created, started = _timestamp(prediction.get("created_at")), _timestamp(prediction.get("started_at"))
    queue = (started - created).total_seconds() * 1000 if created and started and started >= created else None
    return Timings(provider_queue_ms=queue, provider_generation_ms=generation * 1000 if generation is not None else None)


def failure_error(text: str, message: str) -> ProviderError:
    """A ``failed`` prediction's ``error`` string, classified by its words (no codes exist)."""
    return http.failed_job_error(text, message, policy=POLICY_WORDS, auth=("invalid_api_key", "incorrect api key"),
                                 credit=("insufficient_quota", "billing"), rate_limit=("rate limit", "rate_limit"),
                                 invalid=("input validation", "invalid value", "invalid image", "invalid_image"))


def _mentions_policy(message: str) -> bool:
    return http.mentions(message, POLICY_WORDS)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _timestamp(value: Any) -> datetime | None:
    """ISO 8601 as Replicate writes it ('2026-04-22T10:00:00.123456Z'), fractions of any length."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
