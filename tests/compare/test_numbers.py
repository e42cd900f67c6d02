"""Every number says exactly what it is (issue 13): cost words, rough catalog prices, what each
route did with the request, time attributed to who spent it, and a difference reading that
agrees with every signal it is read from."""

import dataclasses
import importlib
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from PIL import Image

from providers import pricing, registry, runner, sandbox
from providers.base import GeneratedImage, ImageRequest, ImageResult, Usage

from compare import catalog, imagediff
from compare.engine import execution, requests as image_requests
from compare.models import Result
from compare.teams.models import Team, TeamPrice
from compare.templatetags.viewing import segments

from tests.compare import factories
from tests.compare.factories import finished
from tests.helpers import client_of


# --- The side-by-side reading agrees with every signal --------------------------------------


def _png(colour, size=(64, 64)):
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_a_reading_never_contradicts_a_hash(monkeypatch):
    """pHash says near, dHash says unrelated: the old reading (pHash and pixels only) called this
    near-identical; now the verdict is "disagree" and the reading names each signal."""
    hashes = iter([imagediff.Hashes(phash=0, dhash=0, ahash=0),
                   imagediff.Hashes(phash=0b111, dhash=(1 << 30) - 1, ahash=0b11)])
    monkeypatch.setattr(imagediff, "hashes", lambda image: next(hashes))
    difference, _ = imagediff.compare_bytes(_png((100, 100, 100)), _png((104, 100, 100)))
    assert (difference.phash, difference.dhash, difference.ahash) == (3, 30, 2)
    assert difference.share_over < 0.10
    assert difference.verdict == "disagree"
    assert "pHash (3 bits) and aHash (2 bits) find the same picture" in difference.reading
    assert "dHash (30 bits) finds an unrelated layout" in difference.reading


@pytest.mark.parametrize("distances, mean_abs, share, verdict", [
    ({"phash": 0, "dhash": 0, "ahash": 0}, 0.0, 0.0, "identical"),
    ({"phash": 2, "dhash": 4, "ahash": 1}, 1.5, 0.01, "near-identical"),
    ({"phash": 12, "dhash": 9, "ahash": 14}, 20.0, 0.4, "similar"),
    ({"phash": 30, "dhash": 28, "ahash": 13}, 60.0, 0.7, "different"),
    ({"phash": 30, "dhash": 28, "ahash": 31}, 0.5, 0.01, "disagree"),  # hashes far, pixels near
    ({"phash": 2, "dhash": 3, "ahash": 25}, 3.0, 0.02, "disagree"),
    ({"phash": 3, "dhash": 3, "ahash": 3}, 0.0, 0.0, "near-identical"),  # same pixels, hashes a little apart
])
def test_each_verdict_agrees_with_every_signal(distances, mean_abs, share, verdict):
    found, reading = imagediff.read(distances, mean_abs, share)
    assert found == verdict
    if verdict == "disagree":
        assert reading.startswith("The signals disagree")
    if verdict in ("near-identical", "similar"):  # "every hash" is only said when every hash is in the band
        assert max(distances.values()) <= (imagediff.NEAR_BITS if verdict == "near-identical"
                                           else imagediff.SIMILAR_BITS)


# --- Time is attributed to who spent it -----------------------------------------------------


class _Row:
    """A result as segments() reads it."""

    status, queue_ms, sandbox = "succeeded", 0, False

    def __init__(self, origin, *, latency, end, attempts=(), timings=None):
        self.enqueued_at = self.started_at = origin
        self.finished_at = origin + timedelta(milliseconds=end)
        self.latency_ms = latency
        self.attempts = list(attempts)
        self.provider_timings = timings or {}


def test_retries_and_their_backoff_are_their_own_segments_never_ours():
    """Two refused attempts (100 ms and 200 ms calls) with 1.0 s and 2.1 s of backoff, then a
    1 s call, and 50 ms of ours to store it: the race shows each where it happened."""
    origin = timezone.now()
    row = _Row(origin, latency=1000, end=100 + 1000 + 200 + 2100 + 1000 + 50, attempts=[
        {"attempt": 1, "status": 503, "ms": 100, "waited_ms": 1000},
        {"attempt": 2, "status": 429, "ms": 200, "waited_ms": 2100}])
    parts = [(kind, round(length)) for kind, _, length in segments(row, origin, origin) if length]
    assert parts == [("retry", 100), ("backoff", 1000), ("retry", 200), ("backoff", 2100), ("call", 1000),
                     ("ours", 50)]
    ours = sum(length for kind, _, length in segments(row, origin, origin) if kind == "ours")
    assert ours == pytest.approx(50)  # before: 3,400 ms of retrying was drawn as ours


def test_a_sandbox_drawing_is_ours_and_its_simulated_wait_the_providers():
    route = sandbox.routes("quick=0.2")[0]
    provider = route.build()
    provider.sleep = lambda seconds: None  # the simulated wait, skipped: the figure is still reported
    request = ImageRequest(prompt="a fox", width=1024, height=1024, quality="high", output_format="png", n=1)
    result = runner.execute(provider, request)
    timings = result.timings
    assert timings.provider_generation_ms == pytest.approx(0.2 * 1.6 * 1000)  # by quality: high is 1.6x
    assert timings.ours_ms > 0
    assert timings.total_ms < timings.ours_ms + 50  # the call's window leaves the drawing out
    origin = timezone.now()
    row = _Row(origin, latency=400, end=400 + timings.ours_ms + 10,
               timings={"provider_generation_ms": 320, "ours_ms": timings.ours_ms})
    kinds = [kind for kind, _, length in segments(row, origin, origin) if length]
    assert kinds == ["generation", "call", "drawing", "ours"]


def test_sandbox_labels_say_what_the_latency_depends_on_and_that_failures_are_per_attempt():
    steady, flaky = sandbox.routes("steady=3-5; flaky=1-3 fail=0.34")
    assert steady.label == "Sandbox steady (3-5 s at medium quality)"
    assert flaky.label == "Sandbox flaky (1-3 s at medium quality, fails 34% per attempt, retried)"


@pytest.mark.django_db
def test_the_card_says_retried_and_the_wait(studio):
    comparison = finished(studio, routes=["sandbox:fast"])
    result = comparison.results.get()
    Result.objects.filter(pk=result.pk).update(attempts=[
        {"attempt": 1, "status": 503, "error_code": "unavailable", "error": "busy", "ms": 120.0, "waited_ms": 1000.0},
        {"attempt": 2, "status": 503, "error_code": "unavailable", "error": "busy", "ms": 80.0, "waited_ms": 2100.0}])
    html = client_of("alice").get(comparison.get_absolute_url()).content.decode()
    assert "retried 2×, 3,100 ms waiting and 200 ms in refused calls" in html


# --- Costs say what they are ----------------------------------------------------------------


def _png_result(usage=None):
    return ImageResult(images=(GeneratedImage(data=_png((10, 20, 30), (1024, 1024))),), usage=usage)


def _finish(result, usage=None):
    """End a queued result as a worker would, with an answer carrying `usage`."""
    assert result.claim("test")
    execution.store_outcome(result, _png_result(usage), image_requests.request_for(result.comparison), [])
    result.refresh_from_db()
    return result


def _card(client, result):
    return client.get(f"/results/{result.pk}/card").content.decode()


def _cost_cell(html):
    return re.search(r'<dt>Cost</dt><dd class="cost">(.*?)</dd>', html, re.S).group(1)


@pytest.mark.django_db
def test_a_result_priced_from_the_team_price_says_team_price_not_est(alice, alice_client):
    team = Team.personal_for(alice)
    TeamPrice.objects.create(team=team, route_key="sandbox:fast", usd_per_image=Decimal("0.05"))
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    assert result.estimate_source == "team_price"
    result = _finish(result)  # the answer carried no cost: the team's price is what it cost
    assert (result.cost_usd, result.cost_source, result.cost_word) == (Decimal("0.05"), "team_price", "team price")
    cell = _cost_cell(_card(alice_client, result))
    assert "$0.05" in cell and ">team price</span>" in cell and "est." not in cell
    api = alice_client.get(f"/api/comparisons/{result.comparison_id}").json()["results"][0]
    assert (api["cost_source"], api["cost_label"], api["estimate_source"]) == ("team_price", "team price", "team_price")


@pytest.fixture
def unresolved_sandbox(monkeypatch):
    """The sandbox's catalog price, marked unresolved as WaveSpeed's is."""
    prices = dict(pricing._catalog())
    prices["sandbox:*"] = dataclasses.replace(prices["sandbox:*"], per_image={"*": {"*": Decimal("0.10")}},
                                              unresolved=True)
    monkeypatch.setattr(pricing, "_catalog", lambda: prices)


@pytest.mark.django_db
def test_an_unresolved_catalog_price_is_rough_never_an_ordinary_estimate(alice, alice_client, unresolved_sandbox):
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    assert (result.estimated_cost_usd, result.estimate_source) == (Decimal("0.10"), "rough")
    result = _finish(result)
    assert (result.cost_source, result.cost_word) == ("estimated", "rough")
    cell = _cost_cell(_card(alice_client, result))
    assert ">rough</span>" in cell and "est." not in cell
    api = alice_client.get(f"/api/comparisons/{result.comparison_id}").json()["results"][0]
    assert (api["cost_source"], api["cost_label"], api["estimate_source"]) == ("estimated", "rough", "rough")
    choices = alice_client.get("/").content.decode()  # the new-comparison page's estimate table
    assert re.search(r"\$0\.10 <span class=\"src\" title=\"[^\"]*unresolved[^\"]*\">rough</span>", choices)


@pytest.mark.django_db
@pytest.mark.parametrize("usage, source, word", [
    (Usage(cost_usd=Decimal("0.07"), basis="billed"), "billed", "billed"),  # e.g. OpenRouter's usage.cost
    (Usage(cost_usd=Decimal("0.0421"), input_tokens=10, output_tokens=1000, basis="usage"), "usage", "from usage"),
    (None, "estimated", "est."),
])
def test_billed_usage_and_estimated_costs_are_told_apart(alice, alice_client, usage, source, word):
    result = _finish(factories.comparison(alice, routes=["sandbox:fast"]).results.get(), usage)
    assert (result.cost_source, result.cost_word) == (source, word)
    cell = _cost_cell(_card(alice_client, result))
    assert f">{word}</span>" in cell and ">reported<" not in cell
    if source != "estimated":  # the catalog's estimate stays beside a cost from the answer
        assert "catalog $0.00" in cell


def test_the_adapters_say_how_their_cost_was_come_by():
    from providers import openai, openrouter

    assert openrouter.usage_from({"cost": 0.04})[0].basis == "billed"
    assert openai.usage_from("openai:gpt-image-2", {"output_tokens": 1000}).basis == "usage"
    assert openai.usage_from("openai:gpt-image-2", {}, reported_cost="0.05").basis == "billed"  # LiteLLM's header
    with pytest.raises(ValueError):
        Usage(cost_usd=Decimal("1"))  # a cost with no word for it cannot be made


def test_old_reported_rows_become_billed_or_usage_by_what_they_recorded():
    migration = importlib.import_module("compare.migrations.0025_numbers")
    assert migration._basis("openrouter:openai/gpt-image-2", {"raw": {"cost": 0.04}}, {}) == "billed"
    assert migration._basis("compatible:litellm", {"raw": {}}, {"X-LiteLLM-Response-Cost": "0.01"}) == "billed"
    assert migration._basis("sandbox:fast", {"cost_usd": "0", "raw": {"images": 1}}, {}) == "billed"
    assert migration._basis("openai:gpt-image-2", {"output_tokens": 100, "raw": {"output_tokens": 100}}, {}) == "usage"
    assert migration._basis("apiframe:gpt-image-2", {"raw": {"creditCost": 9}}, {}) == "usage"


# --- What each route did with the request ---------------------------------------------------


@pytest.mark.django_db
def test_a_seed_on_a_route_that_takes_none_is_never_shown_as_applied(alice, alice_client, monkeypatch):
    """The sandbox routes take a seed; made here to take none, as every OpenAI-shaped route: the
    card says so, the viewer's facts carry no seed, the API says it was not sent."""
    real = catalog.get_route

    def without_seed(key, team=None, **options):
        route = real(key, team, **options)
        return dataclasses.replace(route, capabilities=dataclasses.replace(route.capabilities, seed=False))

    monkeypatch.setattr(catalog, "get_route", without_seed)
    comparison = factories.comparison(alice, routes=["sandbox:fast"], seed=42)
    result = comparison.results.get()
    execution.execute_result(result.pk)
    result.refresh_from_db()
    assert result.status == "succeeded"
    assert result.parameters["seed"] == {"asked": 42, "supported": False, "sent": None}
    html = alice_client.get(comparison.get_absolute_url()).content.decode()
    assert "seed not supported by this route" in html
    assert not re.search(r"data-facts=\"[^\"]*seed 42", html)  # no image claims the seed
    assert not re.search(r'<span class="chip"[^>]*>seed 42</span>', html)  # the header says "asked"
    assert ('<span class="chip" title="Asked of every route; only routes that take a seed send it (each card says)">'
            "seed 42 asked</span>") in html
    api = alice_client.get(f"/api/comparisons/{comparison.pk}").json()["results"][0]
    assert api["seed"] == "seed not supported by this route" and api["parameters"]["seed"]["sent"] is None


@pytest.mark.django_db
def test_a_route_that_takes_the_seed_shows_it_sent_and_asked_sent_received(alice, alice_client):
    comparison = factories.comparison(alice, routes=["sandbox:fast"], seed=42, size="1536x1024")
    result = comparison.results.get()
    execution.execute_result(result.pk)
    result.refresh_from_db()
    assert result.parameters["seed"] == {"asked": 42, "sent": 42, "supported": True}
    assert result.parameters["size"] == {"asked": "1536x1024", "sent": "1536x1024", "received": ["1536x1024"]}
    assert result.parameters["n"] == {"asked": 1, "sent": 1, "received": 1}
    html = alice_client.get(comparison.get_absolute_url()).content.decode()
    assert re.search(r"data-facts=\"[^\"]*seed 42", html) and "seed not supported" not in html
    assert "<summary>Asked, sent, received</summary>" in html  # nothing differs


def test_openai_shaped_answers_keep_what_was_sent_and_the_revised_prompt():
    import httpx

    from providers import openai

    body = {"model": "gpt-image-2", "prompt": "a fox", "size": "1024x1024", "quality": "low", "n": 1}
    answer = httpx.Response(200, json={"data": [{"b64_json": "iVBORw0KGgo=", "revised_prompt": "a red fox, snow"}],
                                       "size": "1024x1024"})
    request = ImageRequest(prompt="a fox", quality="low", seed=7)
    route = registry.get_route("openai:gpt-image-2", {"OPENAI_API_KEY": "sk-test-0000"})
    result = openai.images_result(answer, request, route, body, "https://api.openai.com/v1/images/generations")
    assert result.sent == {"size": "1024x1024", "quality": "low", "n": 1}  # no seed in the body: none sent
    assert result.revised_prompts == ("a red fox, snow",)


# --- Exports use the same words -------------------------------------------------------------


@pytest.mark.django_db
def test_the_zip_says_cost_words_seed_and_retry_wait(alice, alice_client):
    import csv
    import json
    import zipfile

    team = Team.personal_for(alice)
    TeamPrice.objects.create(team=team, route_key="sandbox:steady", usd_per_image=Decimal("0.03"))
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"], seed=5)
    fast, steady = comparison.results.order_by("route_key")
    execution.execute_result(fast.pk)  # the sandbox bills $0 and takes the seed
    _finish(steady)  # an answer without a cost: the team's price
    Result.objects.filter(pk=fast.pk).update(attempts=[{"attempt": 1, "status": 503, "ms": 10.0, "waited_ms": 1500.0}])
    archive = zipfile.ZipFile(io.BytesIO(b"".join(alice_client.get(f"/comparisons/{comparison.pk}/export.zip")
                                                 .streaming_content)))
    rows = {r["route"]: r for r in csv.DictReader(io.StringIO(archive.read("results.csv").decode()))}
    assert (rows["sandbox:fast"]["cost_source"], rows["sandbox:fast"]["seed"]) == ("billed", "sent")
    assert rows["sandbox:fast"]["retry_wait_ms"] == "1500.0"
    assert (rows["sandbox:steady"]["cost_source"], rows["sandbox:steady"]["estimate_source"]) == ("team_price", "team_price")
    data = json.loads(archive.read("comparison.json"))
    assert {r["route"]: r["cost_label"] for r in data["results"]} == {"sandbox:fast": "billed",
                                                                      "sandbox:steady": "team price"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_old_rows_their_words():
    """Rows written with "reported" and a plain "estimated" read as billed / usage / team_price
    after 0025_numbers, and back again when it is reversed."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("compare", "0024_merge_visibility")], [("compare", "0025_numbers")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Team_, Comparison_, Result_, TeamPrice_ = (apps.get_model("compare", name) for name in (
        "Team", "Comparison", "Result", "TeamPrice"))
    team = Team_.objects.create(name="old")
    comparison = Comparison_.objects.create(prompt="a fox", team=team, params={})
    TeamPrice_.objects.create(team=team, route_key="replicate:x", usd_per_image=Decimal("0.02"),
                              entered_at=comparison.created_at - timedelta(days=1))

    def row(route, source, **fields):
        return Result_.objects.create(comparison=comparison, route_key=route, route_label=route,
                                      cost_source=source, **fields).pk

    openrouter = row("openrouter:openai/gpt-image-2", "reported", cost_usd=Decimal("0.04"),
                     usage={"raw": {"cost": 0.04}})
    tokens = row("openai:gpt-image-2", "reported", cost_usd=Decimal("0.05"), estimated_cost_usd=Decimal("0.053"),
                 usage={"output_tokens": 1000, "raw": {"output_tokens": 1000}})
    theirs = row("replicate:x", "estimated", cost_usd=Decimal("0.02"), estimated_cost_usd=Decimal("0.02"))
    rough = row("wavespeed:openai/gpt-image-2", "estimated", cost_usd=Decimal("0.10"), estimated_cost_usd=Decimal("0.10"))
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        Result_ = executor.loader.project_state(after).apps.get_model("compare", "Result")
        found = {pk: (source, estimate) for pk, source, estimate in
                 Result_.objects.values_list("pk", "cost_source", "estimate_source")}
        assert found[openrouter] == ("billed", "")
        assert found[tokens] == ("usage", "catalog")
        assert found[theirs] == ("team_price", "team_price")
        assert found[rough] == ("estimated", "rough")
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        Result_ = executor.loader.project_state(before).apps.get_model("compare", "Result")
        assert dict(Result_.objects.values_list("pk", "cost_source")) == {
            openrouter: "reported", tokens: "reported", theirs: "estimated", rough: "estimated"}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_adapters_record_what_they_sent_in_the_common_names():
    from providers import fal, openrouter
    from providers.base import sent_parameters

    request = ImageRequest(prompt="a fox", width=1536, height=1024, quality="high", output_format="webp", n=2, seed=9)
    assert sent_parameters(fal.input_body(request), {"n": "num_images", "size": "image_size"}) == {
        "size": "1536x1024", "quality": "high", "output_format": "webp", "n": 2}  # GPT Image 2 on fal: no seed
    assert sent_parameters(fal.custom_input_body(request), {"n": "num_images", "size": "image_size"}) == {
        "size": "1536x1024", "output_format": "webp", "n": 2, "seed": 9}  # no quality on custom fal routes
    body, _ = openrouter.custom_body("black-forest-labs/flux", request)
    assert sent_parameters(body) == {"quality": "high", "output_format": "webp", "n": 2, "seed": 9}  # a ratio, no size
    body, _ = openrouter.images_body("openai/gpt-image-2", request)
    assert sent_parameters(body)["size"] == "1536x1024"
