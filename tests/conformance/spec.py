"""The vendored schema extracts (tests/conformance/specs, README there) as jsonschema validators."""

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

SPECS = Path(__file__).parent / "specs"


@lru_cache(maxsize=None)
def document(name: str) -> dict:
    """One extract, e.g. ``document("openai/images.json")``."""
    return json.loads((SPECS / name).read_text())


def validator(name: str, schema: str) -> Draft202012Validator:
    """A validator of ``components.schemas[schema]`` in the extract ``name``, its references resolved."""
    components = document(name)["components"]
    return Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": components})


def problems(name: str, schema: str, instance) -> list[str]:
    """Why ``instance`` does not conform, one line per error; [] when it does."""
    found = validator(name, schema).iter_errors(instance)
    return sorted(f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}" for error in found)


def properties(name: str, schema: str) -> set[str]:
    """The property names the schema declares, in any of its ``oneOf`` variants too (for telling
    fields it does not name from ones it does)."""
    node = document(name)["components"]["schemas"][schema]
    found = set(node.get("properties", {}))
    for variant in node.get("oneOf", []):
        found |= set(variant.get("properties", {}))
    return found


def statuses(name: str) -> dict[str, list[str]]:
    return document(name)["statuses"]
