"""Rebuild the vendored schema extracts from the providers' own published files.

Not a test and not run by the suite: a record of how each extract was cut, so a newer commit of
the source can be extracted the same way. Each extract keeps the named component schemas and every
schema they reference (``$ref: #/components/schemas/...``), with descriptions and examples
dropped (and Apiframe's per-model ``oneOf`` narrowed to GPT Image 2's variant), under
``components.schemas`` so the references still resolve; ``source`` names the
repository, path, commit and licence (README.md in this folder says the same).

    python tests/conformance/specs/extract.py openai  path/to/openai-openapi/openapi.yaml  COMMIT
    python tests/conformance/specs/extract.py openrouter path/to/typescript-sdk/.speakeasy/in.openapi.yaml COMMIT
    python tests/conformance/specs/extract.py apiframe path/to/apiframe-nodejs-sdk/openapi.json COMMIT

Needs PyYAML for the YAML sources (not a dependency of the app or its tests).
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
WANTED = {
    "openai": ("openai/openai-openapi", "openapi.yaml", "MIT", "openai/images.json",
               ["CreateImageRequest", "CreateImageEditRequest", "EditImageBodyJsonParam", "ImagesResponse",
                "CreateBatchRequest", "Batch"]),
    "openrouter": ("OpenRouterTeam/typescript-sdk", ".speakeasy/in.openapi.yaml", "Apache-2.0",
                   "openrouter/images.json", ["ImageGenerationRequest", "ImageGenerationResponse"]),
    "apiframe": ("apiframe-ai/apiframe-nodejs-sdk", "openapi.json", "MIT", "apiframe/jobs.json",
                 ["GenerateImageRequest", "JobAccepted", "Job"]),
}
DROPPED = ("description", "example", "examples", "x-oaiMeta", "x-oaiTypeLabel", "x-stainless-const",
           "x-ms-enum", "title")


def refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/components/schemas/"):
            yield node["$ref"].rsplit("/", 1)[1]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def stripped(node):
    if isinstance(node, dict):
        return {k: stripped(v) for k, v in node.items() if k not in DROPPED}
    if isinstance(node, list):
        return [stripped(v) for v in node]
    return node


def closure(schemas, names):
    found, todo = {}, list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found[name] = stripped(schemas[name])
        todo.extend(refs(found[name]))
    return dict(sorted(found.items()))


def narrowed(kind, schemas):
    """Apiframe's GenerateImageRequest is a oneOf over every model it sells: keep GPT Image 2's."""
    if kind == "apiframe":
        request = schemas["GenerateImageRequest"]
        request["oneOf"] = [variant for variant in request["oneOf"]
                            if "gpt-image-2" in variant["properties"]["model"].get("enum", [])]
    return schemas


def main(kind, source, commit):
    repo, path, licence, target, names = WANTED[kind]
    text = Path(source).read_text()
    if source.endswith(".json"):
        document = json.loads(text)
    else:
        import yaml

        document = yaml.safe_load(text)
    extract = {"source": {"repository": repo, "path": path, "commit": commit, "licence": licence,
                          "schemas": names},
               "components": {"schemas": narrowed(kind, closure(document["components"]["schemas"], names))}}
    (HERE / target).parent.mkdir(exist_ok=True)
    (HERE / target).write_text(json.dumps(extract, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
