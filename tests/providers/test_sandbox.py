import io
from decimal import Decimal

import pytest
from PIL import Image

from providers import sandbox
from providers.base import ImageRequest, ProviderUnavailableError


def route(spec="fast=1-2", scale=1.0):
    return sandbox.routes(spec, scale)[0]


def test_the_default_spec_ships_routes_with_different_latency_profiles():
    routes = sandbox.routes()
    assert len(routes) >= 3
    assert len({r.options["latency"] for r in routes}) == len(routes)
    assert all(r.sandbox and r.key.startswith("sandbox:") for r in routes)


def test_it_draws_a_real_image_of_the_requested_size_format_and_count(monkeypatch):
    provider = route(scale=0).build()
    result = provider.generate(ImageRequest("a red fox", 1536, 1024, "low", "webp", n=3, seed=7))
    assert len(result.images) == 3
    for generated in result.images:
        image = Image.open(io.BytesIO(generated.data))
        assert (image.format, image.size) == ("WEBP", (1536, 1024))
        assert generated.mime == "image/webp"
    assert result.images[0].data != result.images[1].data  # n distinct images


def test_the_same_prompt_and_seed_draw_the_same_bytes():
    request = ImageRequest("a lighthouse", 1024, 1024, "medium", "png", seed=42)
    assert sandbox.draw(request, "sandbox:x") == sandbox.draw(request, "sandbox:x")
    other = ImageRequest("a lighthouse", 1024, 1024, "medium", "png", seed=43)
    assert sandbox.draw(request, "sandbox:x") != sandbox.draw(other, "sandbox:x")


def test_it_waits_its_simulated_latency_scaled_and_reports_it_as_the_providers_timing():
    provider = route("slow=3-3", scale=0.5).build()
    waited = []
    provider.sleep = waited.append
    result = provider.generate(ImageRequest("x", quality="medium"))
    assert waited == [pytest.approx(1.5)]
    assert result.timings.provider_generation_ms == pytest.approx(1500)


def test_it_costs_nothing_and_says_so():
    result = route(scale=0).build().generate(ImageRequest("x"))
    assert result.usage.cost_usd == Decimal("0")
    assert result.request_sent["prompt"] == "x" and result.request_id.startswith("sbx_")


def test_a_failing_profile_raises_a_retryable_unavailable_error():
    provider = route("down=0-0 fail=1", scale=0).build()
    with pytest.raises(ProviderUnavailableError, match="503") as caught:
        provider.generate(ImageRequest("x"))
    assert caught.value.retryable


def test_a_presets_profile_refuses_custom_sizes():
    caps = route("steady=1-2 presets").capabilities
    assert caps.problems(ImageRequest("x", 1024, 1536)) == []
    assert caps.problems(ImageRequest("x", 1280, 720))


@pytest.mark.parametrize("spec", ["fast", "fast=", "=1-2", "fast=2-1", "fast=a-b", "fast=1-2 fail=3", "fast=1 wobble"])
def test_a_malformed_spec_is_refused_with_the_part_named(spec):
    with pytest.raises(ValueError, match="sandbox route"):
        sandbox.parse_spec(spec)


def test_each_sandbox_route_draws_its_own_picture_of_the_prompt():
    request = ImageRequest("a lighthouse", seed=1)
    assert sandbox.draw(request, "sandbox:fast") != sandbox.draw(request, "sandbox:slow")


def test_an_edit_starts_from_the_reference_and_a_mask_protects_the_rest():
    from providers.base import InputImage
    from tests.helpers import image_bytes

    reference = InputImage(image_bytes(1024, 1024, "PNG", colour=(0, 200, 0)))
    out = io.BytesIO()
    mask = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 512, 1024))  # only the left half may change
    mask.save(out, "PNG")
    request = ImageRequest("add a moon", images=(reference,), mask=InputImage(out.getvalue()), seed=1)
    edited = Image.open(io.BytesIO(sandbox.draw(request, "sandbox:x"))).convert("RGB")
    assert edited.getpixel((1000, 500)) == (0, 200, 0)  # protected by the mask: the reference, untouched
    assert edited.getpixel((1000, 500)) != Image.open(io.BytesIO(sandbox.draw(
        ImageRequest("add a moon", seed=1), "sandbox:x"))).convert("RGB").getpixel((1000, 500))
