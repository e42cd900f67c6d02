"""The offline provider: real images drawn with Pillow, a simulated latency, $0.

Sandbox routes let anyone use the whole product with no key and no network. Each route has a
latency profile (and optionally a failure rate), declared in one spec string so an operator or a
test can add routes:

    "fast=0.8-2; steady=3-5 presets; slow=6-12; flaky=1-3 fail=0.34"

``MIN-MAX`` is the simulated provider latency in seconds at medium quality (times
``QUALITY_LATENCY`` for the others, and ``latency_scale``), ``presets`` limits the route to the
three standard sizes, ``fail=R`` fails that share of attempts with a simulated 503 (which the
runner retries like any 503). The simulated wait is the provider's time; drawing the image is
ours (``Timings.ours_ms``).
"""

from __future__ import annotations

import hashlib
import io
import random
import secrets
import textwrap
import time
from decimal import Decimal

from PIL import Image, ImageDraw, ImageFont

from .base import (GPT_IMAGE_2_SIZES, Capabilities, GeneratedImage, ImageRequest, ImageResult, MIME_TYPES, Provider,
                   ProviderUnavailableError, Route, Timings, Usage)

DEFAULT_SPEC = "fast=0.8-2; steady=3-5 presets; slow=6-12; flaky=1-3 fail=0.34"


QUALITY_LATENCY = {"low": 0.5, "medium": 1.0, "high": 1.6, "auto": 1.0}


def parse_spec(spec: str) -> list[dict]:
    """Parse a sandbox route spec; ValueError with the offending part if it is malformed."""
    profiles = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, sep, rest = part.partition("=")
        name = name.strip()
        tokens = rest.split()
        if not sep or not name.replace("-", "").isalnum() or not tokens:
            raise ValueError(f"sandbox route {part!r}: expected NAME=MIN-MAX [presets] [fail=R]")
        low, _, high = tokens[0].partition("-")
        try:
            latency = (float(low), float(high or low))
            fail = 0.0
            presets = False
            for token in tokens[1:]:
                if token == "presets":
                    presets = True
                elif token.startswith("fail="):
                    fail = float(token[5:])
                else:
                    raise ValueError(token)
        except ValueError as exc:
            raise ValueError(f"sandbox route {part!r}: cannot read {exc}") from None
        if latency[0] < 0 or latency[1] < latency[0] or not 0 <= fail <= 1:
            raise ValueError(f"sandbox route {part!r}: need 0 <= MIN <= MAX and 0 <= fail <= 1")
        profiles.append({"name": name, "latency": latency, "fail": fail, "presets": presets})
    return profiles


def routes(spec: str = DEFAULT_SPEC, latency_scale: float = 1.0) -> list[Route]:
    found = []
    for profile in parse_spec(spec):
        low, high = profile["latency"]
        caps = Capabilities(custom_size=None if profile["presets"] else GPT_IMAGE_2_SIZES, edit=True, mask=True,
                            seed=True)  # the seed picks the drawing
        pace = f"{low:g}-{high:g} s" if low != high else f"{low:g} s"
        pace += " at medium quality"  # QUALITY_LATENCY scales it: what the simulated latency depends on
        extra = f", fails {profile['fail']:.0%} per attempt, retried" if profile["fail"] else ""
        found.append(Route(
            key=f"sandbox:{profile['name']}",
            provider=SandboxProvider,
            model=profile["name"],
            label=f"Sandbox {profile['name']} ({pace}{extra})",
            capabilities=caps,
            options={**profile, "latency_scale": latency_scale},
        ))
    return found


class SandboxProvider(Provider):
    slug = "sandbox"
    name = "Sandbox (offline)"
    secret_names = ()  # it reads no credential
    sandbox = True
    sleep = staticmethod(time.sleep)

    def generate(self, request: ImageRequest) -> ImageResult:
        options = self.route.options
        low, high = options["latency"]
        latency = random.uniform(low, high) * QUALITY_LATENCY.get(request.quality, 1.0)
        latency *= options.get("latency_scale", 1.0)
        self.sleep(latency)
        if options.get("fail") and random.random() < options["fail"]:
            raise ProviderUnavailableError(
                "Sandbox simulated an outage (HTTP 503 Service Unavailable).", status=503)
        drawing = time.perf_counter()
        images = tuple(
            GeneratedImage(data=draw(request, self.route.key, index), mime=MIME_TYPES[request.output_format])
            for index in range(request.n)
        )
        drawn_ms = (time.perf_counter() - drawing) * 1000  # ours, not the simulated provider's
        return ImageResult(
            images=images,
            usage=Usage(cost_usd=Decimal("0"), raw={"images": request.n}, basis="billed"),  # nothing is billed
            timings=Timings(provider_generation_ms=latency * 1000, ours_ms=drawn_ms),
            request_id="sbx_" + secrets.token_hex(8),
            request_sent={
                "model": self.route.model,
                "prompt": request.prompt,
                "size": request.size,
                "quality": request.quality,
                "output_format": request.output_format,
                "n": request.n,
                "seed": request.seed,
                "images": [repr(i) for i in request.images],
                "mask": repr(request.mask) if request.mask else None,
            },
            response_headers={"x-sandbox-latency-ms": f"{latency * 1000:.0f}"},
            sent={"size": request.size, "quality": request.quality, "output_format": request.output_format,
                  "n": request.n, "seed": request.seed},
        )


def draw(request: ImageRequest, route_key: str, index: int = 0) -> bytes:
    """A real image: the same bytes for the same route, prompt, seed, size, quality, format and index."""
    digest = hashlib.sha256(
        f"{route_key}\x00{request.prompt}\x00{request.seed}\x00{request.size}\x00{request.quality}\x00{index}".encode()
    ).digest()
    rng = random.Random(digest)
    width, height = request.width, request.height

    def colour():
        return tuple(rng.randrange(30, 230) for _ in range(3))

    corners = Image.new("RGB", (2, 2))
    corners.putdata([colour() for _ in range(4)])
    image = corners.resize((width, height), Image.Resampling.BICUBIC).convert("RGBA")
    if request.images:  # an edit: start from the first reference image
        with Image.open(io.BytesIO(request.images[0].data)) as reference:
            image = reference.convert("RGBA").resize((width, height), Image.Resampling.LANCZOS)
        original = image.copy()

    overlay = Image.new("RGBA", (width, height))
    pen = ImageDraw.Draw(overlay)
    detail = {"low": 6, "medium": 12, "high": 24}.get(request.quality, 12)
    for _ in range(detail):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(min(width, height) // 20, min(width, height) // 4)
        box = (x - r, y - r, x + r, y + r)
        fill = colour() + (rng.randrange(60, 160),)
        (pen.ellipse if rng.random() < 0.6 else pen.rectangle)(box, fill=fill)
    image = Image.alpha_composite(image, overlay)
    if request.images and request.mask is not None:
        # Only the mask's transparent pixels may change; the rest stays the reference.
        with Image.open(io.BytesIO(request.mask.data)) as mask:
            keep = mask.convert("RGBA").resize((width, height)).getchannel("A")
        image = Image.composite(original, image, keep)

    pen = ImageDraw.Draw(image)
    font_size = max(14, min(width, height) // 22)
    font = ImageFont.load_default(size=font_size)
    small = ImageFont.load_default(size=max(12, font_size // 2))
    columns = max(12, int(width / (font_size * 0.55)))
    lines = textwrap.wrap(request.prompt, columns)[:6] or [""]
    y = height // 8
    for line in lines:
        pen.text((width // 16 + 2, y + 2), line, font=font, fill=(0, 0, 0, 160))
        pen.text((width // 16, y), line, font=font, fill=(255, 255, 255, 255))
        y += int(font_size * 1.3)
    kind = "edit" if request.images else "new"
    # No route name in the picture: blind reviews must not be able to read it off the image.
    caption = f"SANDBOX · {request.size} · {request.quality} · {kind} #{index + 1}"
    pen.text((width // 16, height - font_size * 2), caption, font=small, fill=(255, 255, 255, 230))

    out = io.BytesIO()
    if request.output_format == "png":
        image.save(out, "PNG")
    else:
        image.convert("RGB").save(out, request.output_format.upper(), quality=90)
    return out.getvalue()
