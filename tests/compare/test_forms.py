import pytest

from compare.forms import ComparisonForm, form_from_json


def form(**data):
    base = {"prompt": "a red fox", "routes": ["sandbox:fast"], "size": "square", "quality": "low",
            "output_format": "png", "n": "1"}
    base.update(data)
    from compare.forms import _as_querydict

    return ComparisonForm(data=_as_querydict(base))


def errors_of(f):
    assert not f.is_valid()
    return {k: " ".join(v) for k, v in f.errors.items()}


def test_a_good_form_gives_the_common_parameters():
    f = form(size="portrait", n="2", seed="9")
    assert f.is_valid(), f.errors
    assert f.params() == {"size": "1024x1536", "quality": "low", "output_format": "png", "n": 2, "seed": 9}


def test_custom_sizes_take_width_and_height():
    f = form(size="custom", width="1280", height="720")
    assert f.is_valid(), f.errors
    assert f.params()["size"] == "1280x720"
    assert "needs both" in errors_of(form(size="custom", width="1280"))["size"]


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t"])
def test_an_empty_or_blank_prompt_is_refused(prompt):
    assert "cannot be empty" in errors_of(form(prompt=prompt))["prompt"]


def test_a_prompt_over_the_routes_limit_is_refused():
    assert "at most 32,000" in errors_of(form(prompt="x" * 32_001))["prompt"]
    assert form(prompt="x" * 32_000).is_valid()


def test_no_route_and_unknown_routes_are_refused():
    assert "at least one route" in errors_of(form(routes=[]))["routes"]
    assert "Unknown route nowhere:x" in errors_of(form(routes=["nowhere:x"]))["routes"]


def test_a_parameter_a_selected_route_cannot_do_names_the_route():
    message = errors_of(form(routes=["sandbox:fast", "sandbox:steady"], size="1280x720"))["routes"]
    assert "sandbox:steady cannot do size 1280x720" in message
    assert "sandbox:fast" not in message


@pytest.mark.parametrize("n", ["0", "5", "-1", "two"])
def test_n_out_of_range_is_refused(n):
    assert "n" in errors_of(form(n=n))


def test_a_bad_size_or_quality_is_refused():
    assert "not a size" in errors_of(form(size="huge"))["size"]
    assert "quality" in errors_of(form(quality="ultra"))


@pytest.mark.django_db
def test_json_bodies_are_checked_for_shape_before_the_form(alice):
    assert form_from_json([1, 2], alice)[1] == {"__all__": ["The body must be a JSON object."]}
    assert "Unknown parameter(s): colour" in form_from_json({"prompt": "x", "routes": [], "params": {"colour": 1}}, alice)[1]["params"][0]
    assert "list of route keys" in form_from_json({"prompt": "x", "routes": "sandbox:fast"}, alice)[1]["routes"][0]
    assert "must be a string" in form_from_json({"prompt": 5, "routes": []}, alice)[1]["prompt"][0]
    bound, errors = form_from_json({"prompt": "x", "routes": ["sandbox:fast"], "params": {"size": "1024x1536", "n": 2}}, alice)
    assert errors is None and bound.is_valid() and bound.params()["n"] == 2
