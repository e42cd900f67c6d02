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
            "as_of": self.as_of,
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
            multiplier=Decimal(entry.get("multiplier", "1")),
        )
    return catalog


def price_for(route_key: str) -> Price | None:
    catalog = _catalog()
    provider = route_key.split(":", 1)[0]
    return catalog.get(route_key) or catalog.get(f"{provider}:*")
