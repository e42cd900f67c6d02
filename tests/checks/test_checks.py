"""The automatic checks on every image (docs/checks.md): quotes found in prompts, real text drawn by
Pillow in each script and read back by Tesseract, the spec checks, and where they are stored and
shown. Provider-free. Tests that need Tesseract skip (with the reason) where it or a language pack
is missing; with REQUIRE_OCR=1 (.ci/run) they fail instead."""

import io
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw, ImageFont

from providers.base import Capabilities, GeneratedImage, ImageResult, Provider, Route, Usage

from compare import catalog, tasks
from compare.batches.models import Batch
from compare.checks import checks, pixels, textcheck
from compare.checks.models import ResultCheck
from compare.engine import execution
from compare.models import Result, Status

from tests.compare import factories
from tests.helpers import FONTS, LANGUAGE, needs_ocr

def drawn(text, script, size=(1024, 1024), fmt="PNG", background=(250, 245, 230)):
    """An image with ``text`` drawn in dark ink, large, in the script's font (Pillow with Raqm
    shapes Devanagari and Bengali)."""
    image = Image.new("RGB", size, background)
    ImageDraw.Draw(image).multiline_text((60, 300), text, font=ImageFont.truetype(FONTS[script], 72),
                                         fill=(20, 20, 20), spacing=30)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def read_back(tmp_path, prompt, data, **kwargs):
    path = tmp_path / "image.png"
    path.write_bytes(data)
    return textcheck.check_text(prompt, str(path), timeout=kwargs.pop("timeout", 60), **kwargs)


# --- quotes, folding, distance: pure ------------------------------------------------------------


def test_quotes_of_every_style_are_found_in_order():
    prompt = ('Sign "OPEN LATE", then “Fresh Bread”, „Brot“, «Café», ‹Tee›, 「麺屋」, 『本日』, '
              "‘noodles’ and 'since 1987'.")
    assert textcheck.quoted_texts(prompt) == ["OPEN LATE", "Fresh Bread", "Brot", "Café", "Tee", "麺屋", "本日",
                                              "noodles", "since 1987"]


def test_apostrophes_open_no_quote_and_stay_inside_double_quotes():
    prompt = "An index card: \"Grandma Ruth's Lemon Bars\", the potter's wheel, Europe's 'best' cafe's sign"
    assert textcheck.quoted_texts(prompt) == ["Grandma Ruth's Lemon Bars", "best"]


def test_quotes_are_kept_once_with_their_spacing_folded_and_empty_ones_dropped():
    assert textcheck.quoted_texts('"A  B" and "A B" and "" and "  " and \u201c\u201d') == ["A B"]


def test_a_prompt_without_quotes_has_none():
    assert textcheck.quoted_texts("A red fox in snow, 85mm lens, it's cold") == []
    assert textcheck.quoted_texts("") == []


def test_folding_ignores_case_width_and_spacing():
    assert textcheck.fold("The  Copper\nKETTLE") == textcheck.fold("thecopperkettle")
    assert textcheck.fold("ＡＢＣ１２") == "abc12"  # full-width forms


def test_closest_span_distance_is_the_edit_distance_to_the_best_substring():
    assert textcheck.closest_span_distance("kettle", "the copper kettle is hot") == 0
    assert textcheck.closest_span_distance("kettle", "the copper ketle is hot") == 1
    assert textcheck.closest_span_distance("kettle", "the copper kextle") == 1
    assert textcheck.closest_span_distance("abc", "") == 3
    assert textcheck.closest_span_distance("abc", "xyz") == 3


def reference_span_distance(needle, haystack):
    """The textbook O(n·m) table (Sellers 1980): the fewest edits from needle to any span."""
    previous = [0] * (len(haystack) + 1)
    for i, char in enumerate(needle, 1):
        current = [i] + [0] * len(haystack)
        for j, other in enumerate(haystack, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
        previous = current
    return min(previous)


def test_the_fast_distance_agrees_with_the_textbook_table_on_random_strings():
    import random

    rng = random.Random(15)
    for _ in range(400):
        needle = "".join(rng.choice("abcé龙") for _ in range(rng.randint(1, 70)))
        haystack = "".join(rng.choice("abcdé龙") for _ in range(rng.randint(0, 90)))
        assert textcheck.closest_span_distance(needle, haystack) == reference_span_distance(needle, haystack)


def test_a_long_quote_against_a_page_of_text_is_scored_quickly():
    import time

    needle, haystack = "the quick brown fox " * 100, "a lazy dog jumped over it " * 400  # 2,000 x 10,400
    started = time.perf_counter()
    distance = textcheck.closest_span_distance(needle, haystack)
    assert 0 < distance < len(needle)
    assert time.perf_counter() - started < 5  # the textbook table: ~20 million cells of Python here


def test_the_language_follows_the_script_of_the_quote():
    assert textcheck.language_for("Pâtisserie Müller & Søn") == (["eng"], [])
    assert textcheck.language_for("西湖龙井") == (["chi_sim"], [])
    assert textcheck.language_for("麺屋 はなび") == (["jpn"], [])
    assert textcheck.language_for("प्रस्थान") == (["hin"], [])
    assert textcheck.language_for("প্রস্থান") == (["ben"], [])
    assert textcheck.language_for("No. 218") == (["eng"], [])
    assert textcheck.language_for("ጤና") == ([], ["ethiopic"])  # no Tesseract language here for it


def test_a_script_without_a_language_is_unavailable_not_zero(tmp_path):
    text = textcheck.check_text('A sign: "ጤና ይስጥልኝ".', str(tmp_path / "unused.png"), timeout=5, languages={"eng"})
    assert text.accuracy is None
    assert text.notes == ["OCR unavailable for the ethiopic script: no Tesseract language is set up for it"]


# --- OCR on real rendered text ------------------------------------------------------------------


def test_clean_latin_text_reads_back_almost_exactly(tmp_path):
    needs_ocr("latin")
    text = read_back(tmp_path, 'A poster: "THE COPPER KETTLE", and \'open late\'.',
                     drawn("THE COPPER KETTLE\nopen late", "latin"))
    assert text.status == "scored"
    assert text.accuracy >= 0.9
    assert "COPPER" in text.read_text


def test_a_misspelt_render_scores_what_its_missing_letters_cost(tmp_path):
    needs_ocr("latin")
    # "THE COPPER KETTLE" folds to 15 letters; the render lacks two of them: 1 - 2/15 = 0.867.
    text = read_back(tmp_path, 'A poster: "THE COPPER KETTLE".', drawn("THE COPER KETLE", "latin"))
    assert text.accuracy == pytest.approx(1 - 2 / 15, abs=0.07)
    assert text.accuracy < 0.95


def test_text_that_is_not_in_the_image_scores_low(tmp_path):
    needs_ocr("latin")
    text = read_back(tmp_path, 'A poster: "THE COPPER KETTLE".', drawn("SUMMER SALE", "latin"))
    assert text.accuracy is not None and text.accuracy < 0.5


@pytest.mark.parametrize("script, prompt, render", [
    ("han", 'A tea tin: "西湖龙井", below: "明前特级".', "西湖龙井\n明前特级"),
    ("devanagari", 'A banner: "दीवाली की हार्दिक शुभकामनाएँ".', "दीवाली की हार्दिक शुभकामनाएँ"),
    ("bengali", 'A book cover: "আমার সোনার বাংলা".', "আমার সোনার বাংলা"),
])
def test_chinese_hindi_and_bengali_read_back(tmp_path, script, prompt, render):
    needs_ocr(script)
    text = read_back(tmp_path, prompt, drawn(render, script))
    assert text.status == "scored", text.notes
    assert text.accuracy >= 0.8
    assert {q.language for q in text.quotes} == {LANGUAGE[script]}


def test_a_prompt_that_quotes_nothing_gives_no_score_not_zero(tmp_path):
    text = read_back(tmp_path, "A red fox in snow", png())
    assert text.accuracy is None
    assert text.status == "no_quotes"
    assert text.read == {}  # Tesseract was not even run


def test_a_missing_language_pack_says_so_instead_of_scoring_zero(tmp_path):
    text = read_back(tmp_path, 'A cover: "আমার সোনার বাংলা".', png(), languages={"eng", "hin"})
    assert text.accuracy is None
    assert text.status == "unavailable"
    assert text.notes == ["OCR unavailable for Bengali: install tesseract-ocr-ben"]


def test_with_one_language_missing_the_other_quotes_are_still_scored(tmp_path):
    needs_ocr("latin")
    text = read_back(tmp_path, 'A sign: "DEPARTURES" and "প্রস্থান".', drawn("DEPARTURES", "latin"),
                     languages={"eng"})
    assert text.status == "partial"
    assert text.accuracy >= 0.9
    assert text.notes == ["OCR unavailable for Bengali: install tesseract-ocr-ben"]


def test_without_tesseract_the_check_says_it_is_not_installed(tmp_path):
    textcheck.forget_languages()
    try:
        text = read_back(tmp_path, 'A poster: "HELLO".', png(),
                         tesseract_cmd="/nonexistent/tesseract")
    finally:
        textcheck.forget_languages()
    assert text.accuracy is None
    assert text.notes[0] == "OCR unavailable: Tesseract is not installed (apt-get install tesseract-ocr)."


def test_ocr_that_runs_past_its_limit_is_stopped_and_not_scored(tmp_path):
    needs_ocr("latin")
    text = read_back(tmp_path, 'A poster: "HELLO".', drawn("HELLO", "latin"), timeout=0.001)
    assert text.accuracy is None
    assert text.status == "unavailable"
    assert "stopped after its 0.001 s limit" in text.notes[0]


# --- spec checks --------------------------------------------------------------------------------


def png(size=(64, 48), colour=(200, 30, 30, 255), mode="RGB", fmt="PNG", noise=True):
    image = Image.new(mode, size, colour[:len(mode)])
    if noise:
        draw = ImageDraw.Draw(image)
        for x in range(0, size[0], 8):
            draw.line([(x, 0), (x, size[1])], fill=(0, 0, 0, 255)[:len(mode)], width=3)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_a_uniform_image_is_flagged_blank_and_a_drawn_one_is_not():
    blank, _ = pixels.inspect_pixels(png(noise=False), False)
    assert blank["blank"] is True and blank["stddev"] == 0
    drawn_on, _ = pixels.inspect_pixels(png(), False)
    assert drawn_on["blank"] is False


def test_a_fully_transparent_image_is_blank_and_has_alpha():
    found, _ = pixels.inspect_pixels(png(colour=(0, 0, 0, 0), mode="RGBA", noise=False), False)
    assert found["has_alpha"] is True
    assert found["transparent_fraction"] == 1.0
    assert found["blank"] is True


def test_the_spec_compares_size_aspect_and_format_with_the_request_and_what_was_sent():
    from compare.engine.requests import image_request

    request = image_request("x", {"size": "1024x1536", "output_format": "png"})
    found, _ = pixels.inspect_pixels(png(size=(512, 768), fmt="JPEG"), False)
    spec = checks.spec_of(found, request, (512, 768), None)
    assert spec["size_matches"] is False
    assert spec["size_matches_sent"] is True  # the route said it would send 512x768
    assert spec["aspect_matches"] is True  # 2:3 both
    assert spec["format_matches"] is False and spec["format"] == "jpeg"
    spec = checks.spec_of(pixels.inspect_pixels(png(size=(600, 600)), False)[0], request, None, "1:1")
    assert spec["aspect_matches"] is False and spec["size_matches_sent"] is None and spec["sent_aspect_ratio"] == "1:1"
    assert spec["aspect_matches_sent"] is True  # the route sent 1:1 (a snap), and 1:1 came back


def test_what_the_route_sent_is_read_from_its_request_record():
    assert checks.sent_shape({"size": "1536x1024"}) == ((1536, 1024), None)
    assert checks.sent_shape({"json": {"image_size": {"width": 800, "height": 600}}}) == ((800, 600), None)
    assert checks.sent_shape({"form": {"aspect_ratio": "16:9"}}) == (None, "16:9")
    assert checks.sent_shape({"size": "auto"}) == (None, None)


# --- stored after the result, shown in the API ------------------------------------------------


class Drawn(Provider):
    """A provider whose images the test draws."""

    slug = "drawn"
    name = "Drawn"

    def generate(self, request):
        return ImageResult(images=tuple(GeneratedImage(data=data) for data in self.route.options["images"]),
                           usage=Usage(cost_usd=Decimal("0"), basis="billed"), request_sent=self.route.options.get("sent", {}))


@pytest.fixture
def provider_draws(monkeypatch):
    def use(*images, sent=None):
        route = Route("sandbox:fast", Drawn, "m", "Drawn", Capabilities(), {"images": images, "sent": sent or {}})
        monkeypatch.setattr(catalog, "get_route", lambda key, team=None, **_: route)

    return use


def stored_result(user, prompt, **params):
    result = factories.comparison(user, prompt=prompt, routes=["sandbox:fast"], **params).results.get()
    execution.execute_result(result.pk, worker="w1")
    result = Result.objects.get(pk=result.pk)
    assert result.status == Status.SUCCEEDED, result.error
    return result


@pytest.mark.django_db
def test_the_checks_of_a_result_are_stored_with_text_and_spec(alice, provider_draws, settings):
    needs_ocr("latin")
    settings.IMAGE_PROCESSES = 0
    provider_draws(drawn("THE COPPER KETTLE", "latin", size=(1024, 768)), sent={"json": {"size": "1024x768"}})
    result = stored_result(alice, 'A chalkboard: "THE COPPER KETTLE".', size="1024x1024")
    assert not ResultCheck.objects.filter(result=result).exists()  # not inside the call: pending

    check = checks.run_checks(result.pk)
    check.refresh_from_db()
    assert check.status == ResultCheck.DONE
    assert check.text_status == "scored" and check.text_accuracy >= 0.9
    assert check.text_expected == ["THE COPPER KETTLE"] and "KETTLE" in check.text_read
    assert check.size_matches is False  # asked 1024x1024, got 1024x768 ...
    assert check.size_matches_sent is True  # ... as the route said it would send
    assert check.aspect_matches is False and check.format_matches is True
    assert check.blank is False and check.has_alpha is False
    assert check.images[0]["width"] == 1024 and check.images[0]["height"] == 768
    assert check.duration_ms > 0


@pytest.mark.django_db
def test_a_blank_image_and_a_prompt_without_quotes_are_stored_as_such(alice, provider_draws, settings):
    settings.IMAGE_PROCESSES = 0
    provider_draws(png(size=(1024, 1024), noise=False))
    result = stored_result(alice, "A red fox in snow")
    check = checks.run_checks(result.pk)
    assert check.blank is True
    assert check.size_matches is True and check.aspect_matches is True
    assert check.text_status == "no_quotes" and check.text_accuracy is None and check.text_expected == []


@pytest.mark.django_db
def test_the_pillow_work_runs_in_the_image_processes(alice, provider_draws, settings, caplog):
    import os

    from compare import images

    settings.IMAGE_PROCESSES = 1
    assert images.in_image_processes(os.getpid) != os.getpid()  # another process
    provider_draws(png(size=(256, 256)))
    result = stored_result(alice, "A red fox in snow", size="256x256")
    with caplog.at_level("WARNING", logger="compare.images"):
        assert checks.run_checks(result.pk).blank is False
    assert not [r for r in caplog.records if r.name == "compare.images"]  # no process died, no fallback


@pytest.mark.django_db
def test_a_check_that_crashes_is_stored_as_failed_with_its_reason(alice, provider_draws, settings, monkeypatch):
    settings.IMAGE_PROCESSES = 0
    provider_draws(png())
    result = stored_result(alice, "A red fox in snow")

    def broken(*args):
        raise ValueError("no pixels today")

    monkeypatch.setattr(checks, "inspect_pixels", broken)
    check = checks.run_checks(result.pk)
    assert check.status == ResultCheck.FAILED and "no pixels today" in check.error


@pytest.mark.django_db
def test_a_result_that_succeeded_gets_its_checks_enqueued_after_it_was_stored(alice, provider_draws, monkeypatch):
    provider_draws(png())
    sent = []
    monkeypatch.setattr(tasks.run_checks, "apply_async", lambda args, **kw: sent.append(
        (args, Result.objects.get(pk=args[0]).status)))
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    tasks.run_result.run(result.pk)
    assert sent == [((result.pk,), Status.SUCCEEDED)]  # after the result ended, so off its timing
    tasks.enqueue_checks(result.pk)
    assert len(sent) == 2  # asked again while no check is stored: sent again (harmless)
    checks.run_checks(result.pk)
    tasks.enqueue_checks(result.pk)
    assert len(sent) == 2  # checked: not again


@pytest.mark.django_db
def test_a_failed_result_gets_no_checks(alice, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run_checks, "apply_async", lambda args, **kw: sent.append(args))
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    Result.objects.filter(pk=result.pk).update(status=Status.FAILED)
    tasks.enqueue_checks(result.pk)
    assert sent == [] and checks.run_checks(result.pk) is None


@pytest.mark.django_db
def test_the_api_says_pending_then_gives_the_checks(client, alice, alice_token, provider_draws, settings):
    needs_ocr("latin")
    settings.IMAGE_PROCESSES = 0
    provider_draws(drawn("OPEN LATE", "latin"))
    result = stored_result(alice, 'A neon sign: "open late".')
    url, auth = f"/api/comparisons/{result.comparison_id}", {"Authorization": f"Bearer {alice_token}"}
    body = client.get(url, headers=auth).json()["results"][0]
    assert body["checks_status"] == "pending" and body["checks"] is None

    checks.run_checks(result.pk)
    body = client.get(url, headers=auth).json()["results"][0]
    assert body["checks_status"] == "done"
    found = body["checks"]
    assert found["text_status"] == "scored" and found["text_accuracy"] >= 0.9
    assert found["text_expected"] == ["open late"] and "OPEN LATE" in found["text_read"]
    assert found["size_matches"] is True and found["blank"] is False and found["format_matches"] is True
    assert found["images"][0]["width"] == 1024 and found["images"][0]["asked_size"] == "1024x1024"


@pytest.mark.django_db
def test_a_failed_result_has_no_checks_in_the_api(client, alice, alice_token):
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    Result.objects.filter(pk=result.pk).update(status=Status.FAILED)
    auth = {"Authorization": f"Bearer {alice_token}"}
    body = client.get(f"/api/comparisons/{result.comparison_id}", headers=auth).json()
    assert body["results"][0]["checks_status"] is None and body["results"][0]["checks"] is None


@pytest.mark.django_db
def test_the_card_polls_for_its_checks_then_shows_them(alice_client, alice, provider_draws, settings):
    settings.IMAGE_PROCESSES = 0
    provider_draws(png(size=(512, 512), noise=False))
    result = stored_result(alice, 'A sign: "HELLO"', size="1024x1024")
    page = alice_client.get(f"/comparisons/{result.comparison_id}/").content.decode()
    assert f'hx-get="/results/{result.pk}/checks"' in page and "Checking the image" in page

    pending = alice_client.get(f"/results/{result.pk}/checks", headers={"HX-Request": "true"})
    assert pending.status_code == 200  # still pending: keeps polling

    ResultCheck.objects.filter(result=result).delete()
    checks.run_checks(result.pk)
    done = alice_client.get(f"/results/{result.pk}/checks", headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx: stop polling
    text = done.content.decode()
    assert "512×512" in text and "asked 1024x1024" in text and "blank or near-uniform" in text
    page = alice_client.get(f"/comparisons/{result.comparison_id}/").content.decode()
    assert "blank or near-uniform" in page and f'hx-get="/results/{result.pk}/checks"' not in page


@pytest.mark.django_db
def test_another_teams_result_checks_are_a_404(client, alice, bob, provider_draws, settings):
    settings.IMAGE_PROCESSES = 0
    provider_draws(png())
    result = stored_result(alice, "A red fox")
    checks.run_checks(result.pk)
    client.force_login(bob)
    assert client.get(f"/results/{result.pk}/checks").status_code == 404


@pytest.mark.django_db
def test_the_batch_matrix_shows_each_cells_checks_and_each_routes_means(alice_client, alice, settings):
    settings.IMAGE_PROCESSES = 0
    response = alice_client.post("/batches/new", {"prompt": "", "prompt_set": "typography", "size": "square",
                                                  "routes": ["sandbox:fast", "sandbox:steady"], "quality": "low",
                                                  "output_format": "png", "n": "1"})
    assert response.status_code == 302
    batch = Batch.objects.get()
    results = list(Result.objects.filter(comparison__batch_item__batch=batch))
    for result in results:
        execution.execute_result(result.pk)
    # Checks stored as the task would, with known figures (the OCR itself is tested above).
    for result in results:
        fast = result.route_key == "sandbox:fast"
        ResultCheck.objects.create(result=result, **ResultCheck.about(result), text_status="scored",
                                   text_accuracy=0.5 if fast else 1.0, text_expected=["X"],
                                   size_matches=fast is False, blank=fast,
                                   images=[{"index": 0, "width": 512, "height": 512, "asked_size": "1024x1024"}])
    html = alice_client.get(f"/batches/{batch.pk}/").content.decode()
    assert html.count("text 50%") == 6 + 1 and html.count("text 100%") == 6 + 1  # cells + the footer's mean
    assert "6 blank · 6 off-size" in html
    body = alice_client.get(f"/api/batches/{batch.pk}").json()
    columns = {c["route"]: c for c in body["columns"]}
    assert columns["sandbox:fast"]["text_accuracy_mean"] == 0.5 and columns["sandbox:fast"]["blank"] == 6
    assert columns["sandbox:steady"]["text_accuracy_mean"] == 1.0 and columns["sandbox:steady"]["size_mismatches"] == 0
    cell = body["rows"][0]["cells"][0]
    assert cell["checks_status"] == "done" and cell["checks"]["text_accuracy"] in (0.5, 1.0)
    csv_text = alice_client.get(f"/batches/{batch.pk}/matrix.csv").content.decode()
    assert csv_text.splitlines()[0].endswith("text_accuracy,size_matches,blank")
    assert sum(line.endswith(",0.5,False,True") for line in csv_text.splitlines()) == 6


@pytest.mark.django_db
def test_the_leaderboard_shows_each_routes_check_means(alice_client, alice):
    import csv as csv_module
    from datetime import timedelta

    from django.utils import timezone

    from compare.insights import leaderboard
    from compare.teams.models import Team

    stored = {}
    for accuracy, blank, size_ok in ((0.6, False, True), (0.8, True, False), (None, False, True)):
        comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
        for result in comparison.results.all():
            execution.execute_result(result.pk)
            fast = result.route_key == "sandbox:fast"
            ResultCheck.objects.create(result=result, **ResultCheck.about(result), blank=blank and fast,
                                       text_accuracy=accuracy if fast else 1.0, size_matches=size_ok or not fast)
            stored.setdefault(result.route_key, []).append(result)
    ResultCheck.objects.filter(result=stored["sandbox:steady"][0]).update(status=ResultCheck.FAILED)  # not counted

    rows = {r.route_key: r for r in leaderboard.build_for_team(Team.personal_for(alice))}
    fast, steady = rows["sandbox:fast"], rows["sandbox:steady"]
    assert (fast.checked, fast.text_scored, fast.blank_count, fast.size_mismatch_count) == (3, 2, 1, 1)
    assert fast.text_accuracy_mean == pytest.approx(0.7)  # the result with no quoted text is left out
    assert fast.blank_rate == pytest.approx(1 / 3) and fast.size_match_rate == pytest.approx(2 / 3)
    assert (steady.checked, steady.text_accuracy_mean, steady.blank_count) == (2, 1.0, 0)
    # The page's filters apply to the checks too (they copy the comparison's size, quality and date).
    team = Team.personal_for(alice)
    assert leaderboard.route_checks(team, leaderboard.Filters(size="1024x1536")) == {}
    assert leaderboard.route_checks(team, leaderboard.Filters(quality="low"))["sandbox:fast"]["checked"] == 3
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert leaderboard.route_checks(team, leaderboard.Filters(date_from=tomorrow)) == {}

    html = alice_client.get("/leaderboard").content.decode()
    assert "Automatic checks" in html and "70% <span class=\"muted\">of 2</span>" in html
    lines = list(csv_module.DictReader(io.StringIO(alice_client.get("/leaderboard.csv").getvalue().decode())))
    by_route = {line["route"]: line for line in lines}
    assert by_route["sandbox:fast"]["text_accuracy_mean"] == "0.7" and by_route["sandbox:fast"]["blank"] == "1"
    assert by_route["sandbox:steady"]["checked"] == "2"


@pytest.mark.django_db
def test_a_result_left_unchecked_says_so_and_the_command_checks_it(alice_client, alice, provider_draws, settings):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    settings.IMAGE_PROCESSES = 0
    provider_draws(png())
    result = stored_result(alice, "A red fox")
    Result.objects.filter(pk=result.pk).update(finished_at=timezone.now() - timedelta(seconds=3601))
    done = alice_client.get(f"/results/{result.pk}/checks", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "Not checked" in done.content.decode()  # no polling for ever

    out = io.StringIO()
    call_command("check_images", stdout=out)
    assert "Checked 1 result(s); 0 could not be checked." in out.getvalue()
    assert ResultCheck.objects.get(result=result).status == ResultCheck.DONE
    call_command("check_images", stdout=out)
    assert "Checked 0 result(s)" in out.getvalue()


def test_the_set_up_script_is_quiet_when_everything_is_installed():
    import subprocess
    from pathlib import Path

    needs_ocr("latin")
    for script in ("han", "devanagari", "bengali"):
        needs_ocr(script)
    script = Path(__file__).resolve().parents[2] / "config" / "ensure-ocr.sh"
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""


@pytest.mark.django_db
def test_a_broker_that_refuses_the_checks_task_does_not_fail_the_stored_result(alice, provider_draws, monkeypatch):
    provider_draws(png())

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.run_checks, "apply_async", refuse)
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    tasks.run_result.run(result.pk)  # does not raise
    assert Result.objects.get(pk=result.pk).status == Status.SUCCEEDED


@pytest.mark.django_db
def test_a_result_with_two_images_gets_the_mean_of_their_text_accuracies(alice, provider_draws, settings):
    needs_ocr("latin")
    settings.IMAGE_PROCESSES = 0
    provider_draws(drawn("OPEN LATE", "latin"), png(size=(1024, 1024), noise=False))
    check = checks.run_checks(stored_result(alice, 'A neon sign: "open late".', n=2).pk)
    first, second = (image["text_accuracy"] for image in check.images)
    assert first >= 0.9 and second == 0  # nothing to read on a blank image: every letter missing
    assert check.text_accuracy == pytest.approx((first + second) / 2)
    assert check.blank is True  # some image is blank
    assert check.text_read.startswith("[image 1] OPEN LATE")


@pytest.mark.django_db
def test_a_stored_result_whose_language_pack_is_missing_says_unavailable(alice, provider_draws, settings, monkeypatch):
    settings.IMAGE_PROCESSES = 0
    monkeypatch.setattr(textcheck, "installed_languages", lambda cmd="tesseract": frozenset({"eng", "chi_sim", "hin"}))
    provider_draws(png())
    check = checks.run_checks(stored_result(alice, 'A book cover: "আমার সোনার বাংলা".').pk)
    assert check.status == ResultCheck.DONE
    assert check.text_status == "unavailable" and check.text_accuracy is None  # not 0
    assert check.text_notes == ["OCR unavailable for Bengali: install tesseract-ocr-ben"]


@pytest.mark.django_db
def test_the_checks_follow_the_visibility_policy(alice, provider_draws, settings):
    from dataclasses import replace

    from compare.api.presenters import checks_dict
    from compare.review.visibility import Visibility

    settings.IMAGE_PROCESSES = 0
    provider_draws(png(size=(512, 512)))
    result = stored_result(alice, "A red fox")
    checks.run_checks(result.pk)
    result = Result.objects.select_related("image_checks").get(pk=result.pk)
    member = Visibility.for_member(result.comparison, alice)
    assert checks_dict(result, member)["images"][0]["width"] == 512
    no_sizes = checks_dict(result, replace(member, sizes=False))
    assert no_sizes["size_matches"] is None and "width" not in no_sizes["images"][0]
    assert no_sizes["blank"] is False  # what is not about sizes stays
    assert checks_dict(result, replace(member, images=False)) is None  # held images: nothing about them
