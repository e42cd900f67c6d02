"""The price catalog: data in pricing.json, read once, each price with its source and date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Mapping

from .base import ImageRequest

CATALOG_PATH = Path(__file__).with_name("pricing.json")


@dataclass(frozen=True)
class Price:
    per_image: Mapping[str, Mapping[str, Decimal]]  # quality -> size -> USD, '*' = any
    source: str
    as_of: str

    def per_image_usd(self, request: ImageRequest) -> Decimal | None:
        by_size = self.per_image.get(request.quality) or self.per_image.get("*")
        if by_size is None:
            return None
        return by_size.get(request.size, by_size.get("*"))

    def estimate(self, request: ImageRequest) -> Decimal | None:
        """Estimated USD for the whole request (n images); None when the catalog can't say."""
        each = self.per_image_usd(request)
        return None if each is None else each * request.n

    def as_dict(self) -> dict:
        return {
            "per_image_usd": {q: {s: str(v) for s, v in t.items()} for q, t in self.per_image.items()},
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
        catalog[key] = Price(per_image=table, source=entry["source"], as_of=entry["as_of"])
    return catalog


def price_for(route_key: str) -> Price | None:
    catalog = _catalog()
    provider = route_key.split(":", 1)[0]
    return catalog.get(route_key) or catalog.get(f"{provider}:*")
