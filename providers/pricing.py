"""The price catalog: data in pricing.json, read once, each price with its source and date."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Mapping

from .base import ImageRequest

CATALOG_PATH = Path(__file__).with_name("pricing.json")


TOKEN_KINDS = ("text_input", "image_input", "text_output", "image_output")


@dataclass(frozen=True)
class Price:
    per_image: Mapping[str, Mapping[str, Decimal]]  # quality -> size -> USD, '*' = any
    source: str
    as_of: str
    per_token: Mapping[str, Decimal] = field(default_factory=dict)  # TOKEN_KINDS -> USD per token
    multiplier: Decimal = Decimal(1)  # e.g. 0.5 for a batch discount, applied to both
    url: str = ""  # the public page the figures were read from (as_of: the date read)
    # Nobody could confirm the figure from the provider itself: its estimates are "rough".
    unresolved: bool = False

    def cost_of_tokens(self, **tokens: int | None) -> Decimal | None:
        """USD for reported token counts (text_input=..., image_output=...); None if unpriced."""
        if not self.per_token or not any(tokens.values()):
            return None
        total = Decimal(0)
        for kind, count in tokens.items():
            if count:
                if kind not in self.per_token:
                    return None
                total += self.per_token[kind] * count
        return total * self.multiplier

    def per_image_usd(self, request: ImageRequest) -> Decimal | None:
        by_size = self.per_image.get(request.quality) or self.per_image.get("*")
        if by_size is None:
            return None
        return by_size.get(request.size, by_size.get("*"))

    def estimate(self, request: ImageRequest) -> Decimal | None:
        """Estimated USD for the whole request (n images); None when the catalog can't say."""
        each = self.per_image_usd(request)
        return None if each is None else each * request.n * self.multiplier

    def as_dict(self) -> dict:
        return {
            "per_image_usd": {q: {s: str(v) for s, v in t.items()} for q, t in self.per_image.items()},
            "per_token_usd": {k: str(v) for k, v in self.per_token.items()},
            "multiplier": str(self.multiplier),
            "source": self.source,
            "url": self.url,
            "as_of": self.as_of,
            "unresolved": self.unresolved,
        }


@cache
def _catalog() -> dict[str, Price]:
    raw = json.loads(CATALOG_PATH.read_text())
    catalog = {}
    for key, entry in raw.items():
        if key.startswith("_"):
            continue
        table = {q: {s: Decimal(v) for s, v in sizes.items()} for q, sizes in entry["per_image"].items()}
        catalog[key] = Price(
            per_image=table, source=entry["source"], as_of=entry["as_of"],
            per_token={k: Decimal(v) for k, v in entry.get("per_token", {}).items()},
            multiplier=Decimal(entry.get("multiplier", "1")), url=entry.get("url", ""),
            unresolved=bool(entry.get("unresolved", False)),
        )
    return catalog


def price_for(route_key: str) -> Price | None:
    catalog = _catalog()
    provider = route_key.split(":", 1)[0]
    return catalog.get(route_key) or catalog.get(f"{provider}:*")


def markdown() -> str:
    """docs/pricing.md: every catalog entry with its public source, the date it was read and
    whether it is unresolved (``python -m providers.pricing > docs/pricing.md``; a test checks
    the page matches the catalog)."""
    lines = [
        "# Price catalog",
        "",
        "Generated from `providers/pricing.json` by `python -m providers.pricing > docs/pricing.md`;",
        "`tests/providers/test_pricing_doc.py` fails when the two disagree. Each price names the public",
        "page it was read from and the date it was read. An **unresolved** price could not be confirmed",
        "from the provider itself: the app shows its estimates as *rough*, never as an ordinary estimate.",
        "",
        "How a result's cost is labelled (the API's `cost_source`):",
        "",
        "- **billed** (`billed`): the provider's own money figure for the call (OpenRouter's `usage.cost`,",
        "  a LiteLLM proxy's `x-litellm-response-cost`, Vercel's gateway cost, PiAPI's `usage.cost`).",
        "- **from usage** (`usage`): what the provider reported using (tokens, Apiframe credits) times the",
        "  price below (OpenAI, Azure, PiAPI and Vercel token counts).",
        "- **team price** (`team_price`): the team's own price for the route, entered on the team page.",
        "- **est.** (`estimated`): the price below for the request as asked; **rough** when the price is unresolved.",
        "- **unknown** (`unknown`): none of these; never counted as $0.",
        "",
        "| Route | Per image (USD) | Per token (USD) | Multiplier | Source | Read on | Status |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, price in _catalog().items():
        per_image = "; ".join(f"{quality}: " + ", ".join(f"{size} {usd}" for size, usd in sizes.items())
                              for quality, sizes in price.per_image.items())
        per_token = ", ".join(f"{kind} {usd}" for kind, usd in price.per_token.items()) or "–"
        where = f"<{price.url}>: {price.source}" if price.url else price.source
        status = "**unresolved** (rough)" if price.unresolved else "sourced"
        lines.append(f"| `{key}` | {per_image} | {per_token} | {price.multiplier} | {where} | {price.as_of} | {status} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
