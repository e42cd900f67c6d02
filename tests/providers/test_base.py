import subprocess
import sys

import pytest

from providers import custom, openai, registry
from providers.base import (
    PROBLEM_CODES, REFUSED_PROBLEMS, Capabilities, ImageRequest, InputImage, Problem, Provider,
    Route, SizeRule, parse_size, redact,
)


def test_parse_size_reads_presets_and_wxh():
    assert parse_size("square") == (1024, 1024)
    assert parse_size("landscape") == (1536, 1024)
    assert parse_size("1024x1536") == (1024, 1536)
    assert parse_size(" 2048 X 1152 ") == (2048, 1152)


@pytest.mark.parametrize("value", ["", "big", "1024", "1024x", "x1024", "-5x10"])
def test_parse_size_refuses_what_is_not_a_size(value):
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(value)


def test_a_size_rule_explains_each_violation():
    rule = SizeRule(multiple=16, min_side=256, max_side=3840, max_ratio=3.0, min_pixels=655_360, max_pixels=8_294_400)
    assert rule.problem(1024, 1024) is None
    assert "multiples of 16" in rule.problem(1000, 1024)
    assert "aspect ratio" in rule.problem(3840, 1024)
    assert "between 256 and 3840" in rule.problem(4096, 2048)
    assert "pixels" in rule.problem(512, 512)


def test_capabilities_list_every_problem_of_a_request():
    caps = Capabilities(qualities=("high",), formats=("png",), max_n=1, prompt_limit=10)
    problems = caps.problems(ImageRequest("a much too long prompt", 1000, 700, "low", "webp", 2))
    assert len(problems) == 5
    assert any(p.startswith("size 1000x700: only 1024x1024") for p in problems)
    assert caps.problems(ImageRequest("short", 1024, 1536, "high", "png", 1)) == []


def test_redact_removes_secrets_deeply():
    value = {"headers": {"Authorization": "Bearer sk-123456"}, "list": ["x sk-123456 y"], "n": 1}
    assert redact(value, ["sk-123456"]) == {"headers": {"Authorization": "Bearer ***"}, "list": ["x *** y"], "n": 1}
    assert redact("nothing to hide", []) == "nothing to hide"


def test_the_providers_package_imports_without_django():
    code = ("import sys, providers.registry, providers.runner, providers.sandbox; "
            "import providers.testing.server, providers.testing.stack, providers.testing.fal, "
            "providers.testing.openai_batch, providers.testing.replicate; "
            "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_aspect_ratios_snap_to_the_nearest_allowed_and_say_whether_exact():
    from providers.base import resolution_tier, snap_aspect_ratio

    assert snap_aspect_ratio(1536, 1024, ("1:1", "3:2", "2:3")) == ("3:2", True)
    assert snap_aspect_ratio(1280, 720, ("1:1", "3:2", "2:3")) == ("3:2", False)
    assert snap_aspect_ratio(1024, 1792, ("1:1", "16:9", "9:16")) == ("9:16", False)
    assert [resolution_tier(*s) for s in ((1024, 1024), (2048, 1152), (3840, 2160))] == ["1K", "2K", "4K"]


def test_an_edit_needs_a_route_that_edits_and_a_mask_one_that_masks():
    from providers.base import InputImage

    reference = InputImage(b"png-bytes")
    plain = Capabilities()
    assert "edits with reference images" in plain.problems(ImageRequest("x", images=(reference,)))
    editing = Capabilities(edit=True, max_input_images=1)
    assert editing.problems(ImageRequest("x", images=(reference,))) == []
    assert "2 reference images: at most 1" in editing.problems(ImageRequest("x", images=(reference, reference)))
    assert "a mask" in editing.problems(ImageRequest("x", images=(reference,), mask=reference))
    assert reference.data_url() == "data:image/png;base64,cG5nLWJ5dGVz"


def test_what_we_keep_of_an_input_image_opens_nothing():
    from providers.base import InputImage

    signed = InputImage(b"12345", url="https://app.example/inputs/eyJhbGciOiJ9.SIGNATURE?x=1")
    assert signed.describe() == "https://app.example/inputs/eyJhbG... (image/png, 5 bytes)"
    assert signed.describe("data:image/png;base64,MTIzNDU=") == "data:image/png;base64,... (image/png, 5 bytes)"
    assert InputImage(b"12345", filename="fox.png").describe() == "fox.png (image/png, 5 bytes)"


def test_capabilities_say_whether_the_route_passes_a_seed_on():
    assert Capabilities().seed is False and Capabilities().as_dict()["seed"] is False
    assert Capabilities(seed=True).as_dict()["seed"] is True
    assert openai.CAPABILITIES.seed is False  # GPT Image 2 takes no seed
    assert custom.CUSTOM_CAPABILITIES.seed is True  # custom routes send it in the protocol's own field
    sandbox = [route for route in registry.all_routes({}).values() if route.sandbox]
    assert sandbox and all(route.capabilities.seed for route in sandbox)


def test_each_problem_carries_a_code_beside_the_words_a_user_reads():
    caps = Capabilities(qualities=("low",), formats=("png",), max_n=1, prompt_limit=5, edit=True, max_input_images=1)
    reference = InputImage(b"png-bytes")
    problems = caps.problems(ImageRequest("too long", 1000, 700, "high", "webp", 2, images=(reference,) * 2,
                                          mask=reference))
    assert [p.code for p in problems] == ["prompt_length", "size", "quality", "output_format", "n", "input_images",
                                          "mask"]
    assert problems[0] == str(problems[0]) == "prompts of at most 5 characters"
    with pytest.raises(ValueError, match="unknown problem code"):
        Problem("prompt", "a made-up code")


def test_a_provider_adds_what_its_protocol_needs_and_leaves_parameters_to_the_form():
    route = registry.get_route("kie:gpt-image-2", {"KIE_API_KEY": "kie-key-123456"})
    provider = route.build(env={"KIE_API_KEY": "kie-key-123456"})
    linked, unlinked = InputImage(b"a", filename="a.png", url="https://app.example/a.png"), InputImage(b"b", filename="b.png")
    assert provider.problems(ImageRequest("x", quality="nonsense", n=99, images=(linked,))) == []
    assert [p.code for p in provider.problems(ImageRequest("x", images=(linked, unlinked)))] == ["public_url"]
    assert [p.code for p in provider.problems(ImageRequest("x", mask=linked))] == ["mask"]
    assert set(REFUSED_PROBLEMS) < set(PROBLEM_CODES)


def test_an_adapter_that_declares_no_secrets_has_every_value_it_reads_taken_for_one():
    class Undeclared(Provider):
        credential_names = ("PLAIN_ID",)
        optional_names = ("REGION",)

    route = Route("undeclared:m", Undeclared, "m", "Undeclared", Capabilities())
    provider = route.build(env={"PLAIN_ID": "id-0123456789", "REGION": "eu-west-1"})
    assert provider.secrets() == ["id-0123456789", "eu-west-1"]
