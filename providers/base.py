"""The contract every provider adapter speaks.

Plain Python: no Django import. An adapter receives an ``ImageRequest``, an injected
``httpx.Client`` and its credentials, and returns an ``ImageResult`` or raises a
``ProviderError``. Timing is not the adapter's job: ``providers.runner.execute`` measures it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Mapping

QUALITIES = ("low", "medium", "high", "auto")
FORMATS = ("png", "jpeg", "webp")
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

# The common size names of the compare form, as GPT Image 2 defines them.
SIZE_PRESETS = {
    "square": (1024, 1024),
    "portrait": (1024, 1536),
    "landscape": (1536, 1024),
}

_SIZE_RE = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")


def parse_size(value: str) -> tuple[int, int]:
    """'1024x1536' or a preset name -> (width, height); ValueError if neither."""
    if value in SIZE_PRESETS:
        return SIZE_PRESETS[value]
    match = _SIZE_RE.match(value or "")
    if not match:
        raise ValueError(f"{value!r} is not a size: use WIDTHxHEIGHT, e.g. 1024x1024")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class InputImage:
    """A reference image (or a mask) for an edit. ``url`` is a public, expiring link to the same
    bytes, set by the app when it can serve one, for protocols that take URLs only."""

    data: bytes
    mime: str = "image/png"
    filename: str = "image.png"
    url: str | None = None

    def data_url(self) -> str:
        import base64

        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"

    def describe(self, sent: str | None = None) -> str:
        """What we keep of how this image was sent (``sent``: the URL or data: URL on the wire,
        default ``self.url``): never the bytes, and a link without its query or the signed last
        path segment, so a kept record opens nothing."""
        from urllib.parse import urlsplit

        sent = sent if sent is not None else self.url
        size = f"{self.mime}, {len(self.data)} bytes"
        if not sent:
            return f"{self.filename} ({size})"
        if sent.startswith("data:"):
            return f"{sent.split(',', 1)[0]},... ({size})"
        parts = urlsplit(sent)
        head, _, last = parts.path.rpartition("/")
        shown = last if len(last) <= 12 else last[:6] + "..."
        return f"{parts.scheme}://{parts.netloc}{head}/{shown} ({size})"

    def __repr__(self) -> str:
        return f"InputImage({self.filename!r}, {len(self.data)} bytes, {self.mime})"


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    width: int = 1024
    height: int = 1024
    quality: str = "auto"
    output_format: str = "png"
    n: int = 1
    seed: int | None = None
    # An edit when reference images are given; the mask (if any) applies to the first image.
    images: tuple[InputImage, ...] = ()
    mask: InputImage | None = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def is_edit(self) -> bool:
        return bool(self.images)


@dataclass(frozen=True)
class GeneratedImage:
    """One image as the provider gave it: bytes, or a URL the runner downloads."""

    data: bytes | None = None
    url: str | None = None
    mime: str | None = None

    def __repr__(self) -> str:  # never dump megabytes into a log line
        size = f"{len(self.data)} bytes" if self.data is not None else self.url
        return f"GeneratedImage({size}, mime={self.mime!r})"


# How a cost_usd in Usage was come by: "billed" is the provider's own money figure for the call
# (OpenRouter's usage.cost, LiteLLM's response-cost header, ...); "usage" is what the provider
# reported using (tokens, credits) times our catalog's price for it.
COST_BASES = ("billed", "usage")


@dataclass(frozen=True)
class Usage:
    """What the provider reported about what it billed. cost_usd is None unless reported, and
    then ``basis`` says how it was come by (one of COST_BASES)."""

    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    basis: str | None = None

    def __post_init__(self):
        if self.cost_usd is not None and self.basis not in COST_BASES:
            raise ValueError(f"a cost needs its basis, one of {COST_BASES}, not {self.basis!r}")


@dataclass(frozen=True)
class Timings:
    """Milliseconds. ``total_ms`` and ``download_ms`` are ours (perf_counter in the runner);
    ``provider_queue_ms`` and ``provider_generation_ms`` are what the provider says it spent."""

    total_ms: float | None = None
    download_ms: float | None = None
    # Before the first byte of the call went out: building the request and opening the connection
    # (TCP, TLS). Ours and the network's, shown apart, not in total_ms (see providers/runner.py).
    setup_ms: float | None = None
    provider_queue_ms: float | None = None
    provider_generation_ms: float | None = None
    # Our own work inside a call that sent nothing over HTTP (the sandbox drawing its images):
    # reported by the adapter, left out of total_ms by the runner, shown as ours.
    ours_ms: float | None = None

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 1) for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class ImageResult:
    images: tuple[GeneratedImage, ...]
    usage: Usage | None = None
    timings: Timings = Timings()
    request_id: str | None = None
    # What was sent, with every secret removed, so a result can be reproduced.
    request_sent: Mapping[str, Any] = field(default_factory=dict)
    response_headers: Mapping[str, str] = field(default_factory=dict)
    # Where the route could not do exactly what was asked ("not equivalent").
    notes: tuple[str, ...] = ()
    # Earlier attempts that the provider refused and we retried (see runner.execute).
    attempts: tuple[Mapping[str, Any], ...] = ()
    # What the adapter sent for each of COMMON_PARAMETERS, where it sends that parameter as such
    # (an OpenAI-shaped body, the sandbox); a name left out was not sent as asked, or in another
    # form (an aspect ratio, a resolution tier): request_sent and notes say how.
    sent: Mapping[str, Any] = field(default_factory=dict)
    # The prompt the provider says it used instead, where it returns one (revised_prompt).
    revised_prompts: tuple[str, ...] = ()


# The parameters every route is asked for, as named in ImageRequest and the comparison's params.
COMMON_PARAMETERS = ("size", "quality", "output_format", "n", "seed")


def sent_parameters(body: Mapping[str, Any], renamed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """For ImageResult.sent: the COMMON_PARAMETERS a request body carries as such (``renamed``:
    our name -> the body's, e.g. {"n": "num_images"}); a size given as {"width", "height"} is
    read as "WxH". A parameter sent in another form (an aspect ratio, a tier) is left out."""
    renamed = renamed or {}
    sent = {}
    for name in COMMON_PARAMETERS:
        key = renamed.get(name, name)
        if key not in body:
            continue
        value = body[key]
        if name == "size" and isinstance(value, Mapping):
            if not {"width", "height"} <= value.keys():
                continue
            value = f"{value['width']}x{value['height']}"
        sent[name] = value
    return sent


# --- errors -------------------------------------------------------------------------------


class ConfigurationError(ValueError):
    """A route-defining variable (COMPATIBLE_ROUTES, FAL_MODELS, ...) that cannot be read."""


class ProviderError(Exception):
    """A provider call that did not produce images. ``retryable`` says whether trying the
    same call again could succeed (429, 5xx, timeouts) or cannot (auth, bad input, policy)."""

    retryable: ClassVar[bool] = False
    code: ClassVar[str] = "provider_error"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.elapsed_ms: float | None = None  # set by the runner: how long the failed call took
        self.attempts: tuple[Mapping[str, Any], ...] = ()  # set by the runner: the attempts before
        # True once the provider has accepted a job: trying the whole call again could bill twice.
        self.after_submit = False


class AuthenticationError(ProviderError):
    code = "auth"


class InvalidRequestError(ProviderError):
    code = "invalid_request"


class ContentPolicyError(ProviderError):
    code = "content_policy"


class InsufficientCreditError(ProviderError):
    code = "insufficient_credit"


class RateLimitError(ProviderError):
    retryable = True
    code = "rate_limited"


class ProviderUnavailableError(ProviderError):
    retryable = True
    code = "unavailable"


class ProviderTimeoutError(ProviderError):
    retryable = True
    code = "timeout"


class ProviderCancelledError(ProviderError):
    """The user cancelled while the call was under way (raised from the injected ``sleep``)."""

    code = "cancelled"


class BadResponseError(ProviderError):
    """The provider answered, but not with something we can use."""

    code = "bad_response"


# --- capabilities ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeRule:
    """Arbitrary WxH sizes a route accepts."""

    multiple: int = 16
    min_side: int = 256
    max_side: int = 3840
    max_ratio: float = 3.0
    min_pixels: int = 0
    max_pixels: int = 3840 * 2160

    def problem(self, width: int, height: int) -> str | None:
        if width % self.multiple or height % self.multiple:
            return f"both sides must be multiples of {self.multiple}"
        if min(width, height) < self.min_side or max(width, height) > self.max_side:
            return f"each side must be between {self.min_side} and {self.max_side} pixels"
        if max(width, height) / min(width, height) > self.max_ratio:
            return f"the aspect ratio must be at most {self.max_ratio:g}:1"
        if not self.min_pixels <= width * height <= self.max_pixels:
            return f"the image must have between {self.min_pixels:,} and {self.max_pixels:,} pixels"
        return None


# GPT Image 2's documented size rule: multiples of 16, ratio up to 3:1, edges up to 3840,
# 655,360 to 8,294,400 pixels (OpenAI's image generation guide).
GPT_IMAGE_2_SIZES = SizeRule(multiple=16, min_side=256, max_side=3840, max_ratio=3.0,
                             min_pixels=655_360, max_pixels=8_294_400)


class Problem(str):
    """Why a route cannot do a request: the words a user reads (the string itself), and a
    ``code`` a program filters by (one of PROBLEM_CODES), never the words' prefix."""

    code: str

    def __new__(cls, code: str, message: str) -> "Problem":
        if code not in PROBLEM_CODES:
            raise ValueError(f"unknown problem code {code!r}: use one of {PROBLEM_CODES}")
        problem = super().__new__(cls, message)
        problem.code = code
        return problem


# prompt_length, size, quality, output_format, n: what the route cannot take; edit: reference
# images where it takes none; input_images: too many; mask: where it takes none, or without an
# image; public_url: a route that fetches references by URL, and a reference without a link.
PROBLEM_CODES = ("prompt_length", "size", "quality", "output_format", "n", "edit", "input_images", "mask",
                 "public_url")

# What an adapter has no way to send: the runner refuses a call with one (Provider.problems).
REFUSED_PROBLEMS = ("edit", "input_images", "mask", "public_url")


@dataclass(frozen=True)
class Capabilities:
    sizes: tuple[tuple[int, int], ...] = tuple(SIZE_PRESETS.values())
    custom_size: SizeRule | None = None
    qualities: tuple[str, ...] = QUALITIES
    formats: tuple[str, ...] = FORMATS
    max_n: int = 4
    prompt_limit: int = 32_000
    edit: bool = False
    mask: bool = False
    max_input_images: int = 16
    # The protocol takes reference images as URLs it fetches itself (no bytes, no data: URLs):
    # the app must be able to hand out public links (SITE_URL).
    edit_needs_public_url: bool = False
    # The route passes a seed on (GPT Image 2 takes none, so most routes do not): without it a
    # seed asked for is not sent, and the app can say "seed not supported by this route".
    seed: bool = False

    def problems(self, request: ImageRequest) -> list[Problem]:
        """Why this route cannot do the request, in words a user understands; [] if it can."""
        found = []
        if len(request.prompt) > self.prompt_limit:
            found.append(Problem("prompt_length", f"prompts of at most {self.prompt_limit:,} characters"))
        if (request.width, request.height) not in self.sizes:
            rule_problem = (
                self.custom_size.problem(request.width, request.height)
                if self.custom_size
                else "only " + ", ".join(f"{w}x{h}" for w, h in self.sizes)
            )
            if rule_problem:
                found.append(Problem("size", f"size {request.size}: {rule_problem}"))
        if request.quality not in self.qualities:
            found.append(Problem("quality", f"quality {request.quality}: only " + ", ".join(self.qualities)))
        if request.output_format not in self.formats:
            found.append(Problem("output_format", f"format {request.output_format}: only " + ", ".join(self.formats)))
        if not 1 <= request.n <= self.max_n:
            found.append(Problem("n", f"n={request.n}: at most {self.max_n} image(s) per call"))
        if request.images and not self.edit:
            found.append(Problem("edit", "edits with reference images"))
        elif len(request.images) > self.max_input_images:
            found.append(Problem("input_images",
                                 f"{len(request.images)} reference images: at most {self.max_input_images}"))
        if request.mask is not None and not self.mask:
            found.append(Problem("mask", "a mask"))
        return found

    def as_dict(self) -> dict[str, Any]:
        rule = self.custom_size
        return {
            "sizes": [f"{w}x{h}" for w, h in self.sizes],
            "custom_size": None if rule is None else dict(rule.__dict__),
            "qualities": list(self.qualities),
            "formats": list(self.formats),
            "max_n": self.max_n,
            "prompt_limit": self.prompt_limit,
            "edit": self.edit,
            "mask": self.mask,
            "max_input_images": self.max_input_images,
            "edit_needs_public_url": self.edit_needs_public_url,
            "seed": self.seed,
        }


class Provider:
    """One hosted API. Subclasses declare identity and capabilities as attributes and
    implement ``generate``. They take an injected ``httpx.Client``, their credentials and base
    URL, and never read settings, environment or database themselves."""

    slug: ClassVar[str] = ""
    name: ClassVar[str] = ""
    sandbox: ClassVar[bool] = False
    # Environment variable names that must be set for the route to be usable.
    credential_names: ClassVar[tuple[str, ...]] = ()
    # Optional variables the adapter reads when set (organisation ids, api versions, ...).
    optional_names: ClassVar[tuple[str, ...]] = ()
    # Other forms a credential may take; ``needed_names`` picks the form a set of values uses.
    alternative_names: ClassVar[tuple[str, ...]] = ()
    # The variable that overrides the base URL, and the provider's public default.
    base_url_name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    # The values it reads that are secrets (keys, tokens), blanked in all we keep, log or show;
    # every adapter names them, even none (an organisation id, an endpoint stay readable). None:
    # all it reads. A route's own ``credential_names`` (a COMPATIBLE_ROUTES key) are secrets too.
    secret_names: ClassVar[tuple[str, ...] | None] = None
    # Seconds between status polls for asynchronous protocols (the provider's recommended pace).
    poll_interval: ClassVar[float] = 1.0
    # Our overall deadline for one call by quality (PROVIDER_DEADLINE_SECONDS overrides it for
    # every route); see Route.default_deadline. GPT Image 2 at high quality takes a minute or two.
    deadline_seconds: ClassVar[Mapping[str, float]] = {"low": 90.0, "medium": 120.0, "high": 180.0, "auto": 180.0}

    def __init__(self, route: "Route", *, client=None, credentials: Mapping[str, str] | None = None,
                 base_url: str | None = None, deadline: float = 600.0):
        self.route = route
        self.client = client
        self.credentials = dict(credentials or {})
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.deadline = deadline  # seconds this call may take in all, polling included
        self.sleep = time.sleep
        self.clock = time.monotonic

    @classmethod
    def needed_names(cls, env: Mapping[str, str]) -> tuple[str, ...]:
        """The credential names these values must hold (providers with alternative forms of a
        credential pick the form the values use)."""
        return cls.credential_names

    def secrets(self) -> list[str]:
        """The values of this route's secrets (``secret_names`` and a route's own), longest first."""
        declared = self.credentials.keys() if self.secret_names is None else self.secret_names
        names = (*declared, *self.route.options.get("credential_names", ()))
        return sorted({self.credentials[name] for name in names if self.credentials.get(name)}, key=len, reverse=True)

    def problems(self, request: ImageRequest) -> list[Problem]:
        """What this route cannot send at all of ``request`` (codes in REFUSED_PROBLEMS): reference
        images or a mask its capabilities do not take, a mask with no image to apply it to, and, for a
        protocol that fetches references by URL, a reference without a public http(s) link. The
        runner asks before ``generate`` (and ``submit``) and refuses the call (``refusal``), so
        adapters do not check these again. A size, quality or n is the form's to refuse."""
        found = [p for p in self.route.capabilities.problems(request) if p.code in REFUSED_PROBLEMS]
        if request.mask is not None and not request.images and self.route.capabilities.mask:
            found.append(Problem("mask", "a mask without a reference image to apply it to"))
        if request.images and self.route.capabilities.edit_needs_public_url:
            missing = ", ".join(image.filename for image in request.images if not image.url)
            other = ", ".join(image.filename for image in request.images
                              if image.url and not image.url.startswith(("https://", "http://")))
            if missing:
                found.append(Problem("public_url", f"fetches reference images by URL and {missing} has no public "
                                                   "link: set SITE_URL to this app's public address"))
            if other:
                found.append(Problem("public_url", f"needs http(s) links to reference images; {other} has another kind"))
        return found

    def refusal(self, problems: list[Problem], request: ImageRequest) -> InvalidRequestError:
        """The error for a call refused for ``problems`` (the first says why), before anything is sent."""
        problem, caps, who = problems[0], self.route.capabilities, f"{self.name} ({self.route.model})"
        return InvalidRequestError({
            "edit": f"{who} does not take reference images on this route.",
            "input_images": f"{who} takes at most {caps.max_input_images} reference images; "
                            f"{len(request.images)} were given.",
            "mask": f"{who} takes no mask: its edit protocol has none." if not caps.mask
                    else "A mask needs a reference image to apply to.",
        }.get(problem.code, f"{self.name} {problem}."))  # public_url: a sentence of its own

    def generate(self, request: ImageRequest) -> ImageResult:  # pragma: no cover - interface
        raise NotImplementedError

    def verify(self) -> str:
        """Check the credentials with the provider's cheapest safe call, and say what was
        checked. Adapters with such a call override this; the default checks only that every
        needed value is there and looks like a key, and says so."""
        missing = [name for name in self.route.credential_names if not self.credentials.get(name)]
        if missing:
            raise AuthenticationError(f"Not set: {', '.join(missing)}.")
        short = [name for name in self.route.credential_names
                 if self.credentials[name] in self.secrets() and len(self.credentials[name].strip()) < 8]
        if short:
            raise AuthenticationError(f"{', '.join(short)} is too short to be a key.")
        return ("set and well-formed (this provider offers no free call to check a key, so it was not "
                "sent anywhere)")


class LongRunningProvider(Provider):
    """A protocol whose job waits minutes to hours (OpenAI's Batch API). Instead of one blocking
    ``generate``, the app calls ``submit`` once and keeps the job it returns (ids, no secrets,
    JSON), calls ``check`` from a scheduled task every ``poll_interval`` seconds without holding a
    worker thread in between (None while the job runs, its result once done, a ProviderError if it
    failed), and ``cancel`` when the user cancels or ``long_deadline_seconds`` pass."""

    long_deadline_seconds: ClassVar[float] = 25 * 3600

    def submit(self, request: ImageRequest) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - interface

    def check(self, job: Mapping[str, Any], request: ImageRequest) -> ImageResult | None:
        raise NotImplementedError  # pragma: no cover - interface

    def cancel(self, job: Mapping[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover - interface


@dataclass(frozen=True)
class Route:
    """A provider plus a model on it: what the user ticks."""

    key: str
    provider: type[Provider]
    model: str
    label: str
    capabilities: Capabilities
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def provider_slug(self) -> str:
        return self.provider.slug

    @property
    def sandbox(self) -> bool:
        return self.provider.sandbox

    @property
    def credential_names(self) -> tuple[str, ...]:
        """The variables this route needs (a configured route may name its own)."""
        return tuple(self.options.get("credential_names", self.provider.credential_names))

    def missing_credentials(self, env: Mapping[str, str]) -> list[str]:
        if self.options.get("unusable"):  # a setting that could not be read (unusable_route)
            return [self.options["unusable"]]
        return [name for name in self.credential_names if not env.get(name)]

    def default_deadline(self, request: ImageRequest) -> float:
        """Seconds one call may take in all, from the provider's table by quality, with 30 s
        more per extra image and for an edit, and never more than 600 s."""
        table = self.provider.deadline_seconds
        seconds = table.get(request.quality, max(table.values()))
        seconds += 30.0 * (max(request.n, 1) - 1) + (30.0 if request.is_edit else 0.0)
        return min(seconds, 600.0)

    def build(self, *, client=None, env: Mapping[str, str] | None = None, deadline: float = 600.0) -> Provider:
        env = env or {}
        provider = self.provider
        names = self.credential_names + provider.credential_names + provider.alternative_names + provider.optional_names
        credentials = {name: env[name] for name in names if env.get(name)}
        base_url = self.options.get("base_url") or env.get(self.provider.base_url_name or "") or None
        return self.provider(self, client=client, credentials=credentials, base_url=base_url, deadline=deadline)


def redact(value, secrets):
    """value with every secret string replaced by '***' (strings, dicts and lists, deeply)."""
    secrets = [s for s in secrets if s and len(s) >= 4]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value


def snap_aspect_ratio(width: int, height: int, allowed: tuple[str, ...]) -> tuple[str, bool]:
    """The allowed "W:H" ratio nearest to width/height (compared on a log scale), and whether
    it is exact. Adapters of aspect-ratio protocols note a snap as "not equivalent"."""
    import math

    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (float(x) for x in ratio.split(":"))
        return abs(math.log(w / h) - target)

    best = min(allowed, key=distance)
    return best, distance(best) < 1e-3


def resolution_tier(width: int, height: int) -> str:
    """"1K", "2K" or "4K" by the longer edge, for protocols that take a resolution tier."""
    edge = max(width, height)
    return "1K" if edge <= 1536 else "2K" if edge <= 2560 else "4K"


class UnusableProvider(Provider):
    """Stands in for a route whose setting could not be read: it is listed, never configured."""

    slug = "unusable"
    name = "A route setting that cannot be read"

    def generate(self, request: ImageRequest) -> ImageResult:
        raise ConfigurationError(self.route.options["unusable"])


def unusable_route(key: str, reason: str) -> Route:
    """A route that shows why a setting (a COMPATIBLE_ROUTES entry, say) cannot be used, in place
    of the error that would otherwise stop every page that lists routes; it is never configured."""
    return Route(key=key, provider=UnusableProvider, model="-", label=f"{key} (not usable: {reason})",
                 capabilities=Capabilities(), options={"unusable": f"a valid setting: {reason}", "reason": reason})
