"""What custom routes (models a user names in a comma-separated setting) share: their capabilities and their ids.

A custom route is honest and permissive: the three standard sizes, others up to 2048 a side in
multiples of 8 (what most hosted image models take), up to four images, no edits; a seed is sent
in the protocol's own field. The adapter's notes say what a model may have ignored.
"""

from __future__ import annotations

import re
from typing import Mapping

from .base import Capabilities, ConfigurationError, Provider, Route, SizeRule
from .http import comma_list

CUSTOM_CAPABILITIES = Capabilities(custom_size=SizeRule(multiple=8, min_side=256, max_side=2048, max_ratio=3.0,
                                                        max_pixels=2048 * 2048), max_n=4, edit=False, mask=False,
                                   seed=True)


def listed_ids(env: Mapping[str, str], setting: str, pattern: re.Pattern[str], example: str, *,
               slashes: bool = False, refused_segment: str | None = None, built_in: str | None = None) -> list[str]:
    """The ids in ``setting``, in order, once each, without ``built_in`` (that route exists anyway).
    ``slashes``: a leading or trailing '/' is dropped first (an entry of slashes alone is skipped).
    An entry that does not match ``pattern``, or has ``refused_segment`` as a path segment, raises
    ConfigurationError("{setting}: '<entry>' is not {example}.")."""
    found: list[str] = []
    for entry in comma_list(env, setting):
        model = entry.strip("/") if slashes else entry
        if not model:
            continue
        if not pattern.match(model) or (refused_segment is not None and refused_segment in model.split("/")):
            raise ConfigurationError(f"{setting}: {entry!r} is not {example}.")
        if model != built_in and model not in found:
            found.append(model)
    return found


def custom_routes(slug: str, provider: type[Provider], label: str, models: list[str]) -> list[Route]:
    """A route ``{slug}:{model}`` per model, labelled ``{label} {model} (custom route)``."""
    return [Route(f"{slug}:{model}", provider, model, f"{label} {model} (custom route)", CUSTOM_CAPABILITIES,
                  options={"custom": True})
            for model in models]
