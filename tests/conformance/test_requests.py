"""Every request body each adapter builds, over every parameter combination its route allows,
checked against the provider's own published schema (tests/conformance/specs, README there).

The grid: each quality x each size (the route's presets and, where it takes custom sizes, a few
that its rule allows) x each format x n of 1 and the route's maximum x text-to-image and, where the
route edits, an edit (with a mask where it takes one). Each combination is first checked to be one
the app allows (``Capabilities.problems`` is empty), then built by the adapter's own body function.
"""

import itertools

import pytest

from providers import apiframe, azure, fal, openai, openai_batch, openrouter
from providers.base import ImageRequest, InputImage

from tests.conformance import spec
from tests.helpers import image_bytes

CUSTOM_SIZES = ((1600, 896), (576, 1152), (2048, 2048), (1024, 1360), (2048, 1024), (3840, 2160))
LINK = "https://compare.example.com/inputs/signed-token"
PNG = image_bytes()


def grid(caps):
    """Every request the app lets through to a route with these capabilities."""
    sizes = list(caps.sizes) + [size for size in CUSTOM_SIZES
                                if caps.custom_size is not None and size not in caps.sizes
                                and caps.custom_size.problem(*size) is None]
    edits = (False, True) if caps.edit else (False,)
    for quality, (width, height), fmt, n, edit in itertools.product(caps.qualities, sizes, caps.formats,
                                                                   sorted({1, caps.max_n}), edits):
        images = (InputImage(data=PNG, filename="first.png", url=LINK),) if edit else ()
        mask = InputImage(data=PNG, filename="mask.png", url=LINK) if edit and caps.mask else None
        request = ImageRequest(prompt="a red fox in fresh snow", width=width, height=height, quality=quality,
                               output_format=fmt, n=n, images=images, mask=mask)
        assert caps.problems(request) == [], request  # the grid holds only what the app allows
        yield request


def multipart_instance(parts):
    """An edit's multipart form as the schema sees it: text fields (``n`` as the integer it
    encodes) and the file parts as their field names."""
    instance = {key: int(value) if key == "n" else value for key, value in parts.form.items()}
    for field, _ in parts.files:
        name = field.removesuffix("[]")
        instance[name] = [*instance.get(name, []), "<file>"] if field.endswith("[]") else "<file>"
    return instance


def check(cases, caps):
    """Validate each (request, extract, schema, body, extra fields allowed); fail with the first
    problems found. The cases must cover edits and custom sizes wherever the route offers them."""
    requests = [case[0] for case in cases]
    assert any(request.is_edit for request in requests) == caps.edit
    assert any((r.width, r.height) not in caps.sizes for r in requests) == (caps.custom_size is not None)
    assert {r.quality for r in requests} == set(caps.qualities) and {r.output_format for r in requests} == set(caps.formats)
    failures, count = [], 0
    for request, extract, schema, body, allowed_extra in cases:
        count += 1
        found = spec.problems(extract, schema, body)
        extra = set(body) - spec.properties(extract, schema) - set(allowed_extra)
        if extra:
            found.append(f"fields {sorted(extra)} are not in {schema}")
        if found:
            failures.append(f"{request.size} {request.quality} {request.output_format} n={request.n} "
                            f"edit={request.is_edit}: {found}")
    assert not failures, f"{len(failures)} of {count} bodies do not conform, e.g.: " + "\n".join(failures[:5])


def test_openai_bodies_conform_to_create_image_request_and_create_image_edit_request():
    caps = openai.CAPABILITIES
    cases = []
    for request in grid(caps):
        if request.is_edit:
            cases.append((request, "openai/images.json", "CreateImageEditRequest",
                          multipart_instance(openai.edit_parts("gpt-image-2", request)), ()))
        else:
            cases.append((request, "openai/images.json", "CreateImageRequest",
                          openai.images_body("gpt-image-2", request), ()))
    check(cases, caps)


def test_openai_batch_lines_conform_to_create_image_request_and_the_route_takes_no_edit():
    route = openai_batch.routes({})[0]
    caps = route.capabilities
    assert not caps.edit
    cases = [(request, "openai/images.json", "CreateImageRequest", openai.images_body(route.model, request), ())
             for request in grid(route.capabilities)]
    check(cases, caps)


def test_azure_deployment_bodies_conform_to_the_api_version_they_send():
    # 2025-04-01-preview names no ``model`` (the deployment is in the path; the OpenAI SDK sends it
    # all the same) and its imageEditsRequest has no ``output_format``: both go along as extras,
    # listed in docs/providers.md as not covered by that version's spec.
    route = azure.routes({"AZURE_OPENAI_DEPLOYMENT": "img"})[0]
    extract = "azure/2025-04-01-preview-images.json"
    caps, cases = route.capabilities, []
    for request in grid(caps):
        if request.is_edit:
            cases.append((request, extract, "imageEditsRequest",
                          multipart_instance(openai.edit_parts(route.model, request)), ("model", "output_format")))
        else:
            cases.append((request, extract, "imageGenerationsRequest", openai.images_body(route.model, request),
                          ("model",)))
    check(cases, caps)


def test_azure_v1_bodies_conform_to_openais_schemas():
    route = azure.routes({"AZURE_OPENAI_DEPLOYMENT": "img", "AZURE_OPENAI_API_STYLE": "v1"})[0]
    caps, cases = route.capabilities, []
    for request in grid(caps):
        if request.is_edit:
            cases.append((request, "openai/images.json", "CreateImageEditRequest",
                          multipart_instance(openai.edit_parts(route.model, request)), ()))
        else:
            cases.append((request, "openai/images.json", "CreateImageRequest",
                          openai.images_body(route.model, request), ()))
    check(cases, caps)


def conflicting_size(body):
    """OpenRouter's rule for ``size`` (ImageGenerationRequest.size): explicit pixels are
    authoritative, and a mismatched aspect_ratio or resolution beside them is rejected."""
    size = str(body.get("size") or "")
    if "x" not in size:
        return None
    width, height = (int(side) for side in size.split("x"))
    if "resolution" in body:
        return f"resolution {body['resolution']} beside explicit pixels {size}"
    ratio = body.get("aspect_ratio")
    if ratio and ratio != "auto":
        w, h = (float(side) for side in ratio.split(":"))
        if abs(width / height - w / h) > 1e-3:
            return f"aspect_ratio {ratio} does not match {size}"
    return None


@pytest.mark.parametrize("env, build", [
    ({}, openrouter.images_body),
    ({"OPENROUTER_MODELS": "google/gemini-2.5-flash-image"}, openrouter.custom_body),
])
def test_openrouter_bodies_conform_to_image_generation_request_and_never_pair_pixels_with_another_ratio(env, build):
    route = openrouter.routes(env)[-1]
    caps, cases, conflicts = route.capabilities, [], []
    for request in grid(caps):
        body, _ = build(route.model, request)
        cases.append((request, "openrouter/images.json", "ImageGenerationRequest", body, ()))
        if (conflict := conflicting_size(body)) is not None:
            conflicts.append(f"{request.size}: {conflict}")
    check(cases, caps)
    assert conflicts == []


def test_fal_bodies_conform_to_gpt_image_2_input_and_edit_input():
    caps, cases = fal.CAPABILITIES, []
    for request in grid(caps):
        schema = "GptImage2EditInput" if request.is_edit else "GptImage2Input"
        cases.append((request, "fal/gpt-image-2.json", schema, fal.input_body(request), ()))
    check(cases, caps)


def test_apiframe_bodies_conform_to_generate_image_request():
    caps = apiframe.CAPABILITIES
    cases = [(request, "apiframe/jobs.json", "GenerateImageRequest", apiframe.request_body("gpt-image-2", request)[0],
              ()) for request in grid(caps)]
    check(cases, caps)
