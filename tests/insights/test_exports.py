"""Exports (a comparison as ZIP, the leaderboard and history as CSV) and the "what changed" page."""

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.test import Client

from compare.engine import execution
from compare.insights.exports import safe_cell
from compare.models import Comparison, Result
from compare.teams.models import Team
from compare.templatetags.compare_tags import ms, usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(alice_client):
    """A real comparison of alice's team on two sandbox routes, run to the end (images stored)."""
    alice_client.post("/", {"prompt": "a red fox in snow", "routes": ["sandbox:fast", "sandbox:steady"],
                            "size": "square", "quality": "low", "output_format": "png", "n": "2"})
    comparison = Comparison.objects.get()
    for result in comparison.results.all():
        execution.execute_result(result.pk)
    return comparison


def read_csv(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_the_zip_holds_the_originals_a_csv_and_the_json(alice_client, submitted):
    response = alice_client.get(f"/comparisons/{submitted.pk}/export.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert {"results.csv", "comparison.json"} <= set(names)
    images = [n for n in names if n.startswith("images/")]
    assert len(images) == 4  # two routes, n = 2
    original = submitted.results.get(route_key="sandbox:fast").images.first()
    with original.original.open("rb") as handle:
        assert archive.read("images/01-sandbox-fast/1.png") == handle.read()
    data = json.loads(archive.read("comparison.json"))
    assert data["id"] == submitted.pk and data["prompt"] == "a red fox in snow"
    assert data["results"][0]["files"] == ["images/01-sandbox-fast/1.png", "images/01-sandbox-fast/2.png"]


def test_the_zips_csv_matches_the_results_page(alice_client, submitted):
    archive = zipfile.ZipFile(io.BytesIO(b"".join(alice_client.get(f"/comparisons/{submitted.pk}/export.zip")
                                                   .streaming_content)))
    rows = list(csv.DictReader(io.StringIO(archive.read("results.csv").decode())))
    page = alice_client.get(submitted.get_absolute_url()).content.decode()
    assert [r["route"] for r in rows] == ["sandbox:fast", "sandbox:steady"]
    for row in rows:
        result = submitted.results.get(route_key=row["route"])
        assert row["status"] == "succeeded" and row["images"] == "2"
        assert float(row["latency_ms"]) == round(result.latency_ms, 1)  # the CSV keeps 0.1 ms ...
        assert ms(result.latency_ms) in page  # ... of the number the card shows
        assert usd(row["cost_usd"]) in page and row["cost_source"] == result.cost_source
        assert Decimal(row["cost_per_image_usd"]) == result.cost_usd / 2


def test_the_zip_carries_no_secrets(alice_client, submitted):
    Result.objects.filter(comparison=submitted).update(
        response_headers={"x-request-id": "req_1"}, request_sent={"headers": {"Authorization": "Bearer sk-live"}})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(alice_client.get(f"/comparisons/{submitted.pk}/export.zip")
                                                   .streaming_content)))
    text = archive.read("comparison.json").decode() + archive.read("results.csv").decode()
    assert "sk-live" not in text and "Authorization" not in text and "x-request-id" not in text


def test_bob_gets_404_for_every_export_and_change_page_of_alices(submitted, bob):
    client = Client()
    client.force_login(bob)
    for url in (f"/comparisons/{submitted.pk}/export.zip", f"/comparisons/{submitted.pk}/changes"):
        assert client.get(url).status_code == 404, url
    assert len(read_csv(client.get("/comparisons.csv"))) == 0
    assert b"red fox" not in b"".join(client.get("/comparisons.csv").streaming_content)


def test_anonymous_visitors_cannot_export(submitted):
    for url in (f"/comparisons/{submitted.pk}/export.zip", f"/comparisons/{submitted.pk}/changes"):
        assert Client().get(url).status_code == 302, url


def test_history_csv_has_a_row_per_result_and_the_history_filters(alice, alice_client, submitted):
    other = Comparison.objects.create(prompt="a lighthouse at night", team=Team.personal_for(alice),
                                      params={"size": "1024x1024", "quality": "high", "n": 1})
    Result.objects.create(comparison=other, route_key="sandbox:slow", route_label="slow", status="failed",
                          error_code="timeout")
    rows = read_csv(alice_client.get("/comparisons.csv"))
    assert len(rows) == 3 and rows[0]["prompt"] == "a lighthouse at night"  # newest first
    assert [r["route"] for r in read_csv(alice_client.get("/comparisons.csv", {"q": "fox"}))] == [
        "sandbox:fast", "sandbox:steady"]
    assert [r["comparison"] for r in read_csv(alice_client.get("/comparisons.csv", {"route": "sandbox:slow"}))] == [
        str(other.pk)]
    assert [r["status"] for r in read_csv(alice_client.get("/comparisons.csv", {"status": "failed"}))] == ["failed"]


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(alice, alice_client):
    evil = Comparison.objects.create(prompt='=HYPERLINK("http://evil.example","click")', team=Team.personal_for(alice),
                                     params={"size": "1024x1024", "quality": "low", "n": 1})
    Result.objects.create(comparison=evil, route_key="@sandbox:fast", route_label="+x", status="succeeded",
                          latency_ms=1200)
    row = read_csv(alice_client.get("/comparisons.csv"))[0]
    assert row["prompt"].startswith("'=HYPERLINK") and row["route"] == "'@sandbox:fast"
    leaderboard_rows = read_csv(alice_client.get("/leaderboard.csv"))
    assert leaderboard_rows[0]["route"] == "'@sandbox:fast" and leaderboard_rows[0]["label"] == "'+x"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(alice_client.get(f"/comparisons/{evil.pk}/export.zip")
                                                   .streaming_content)))
    assert "'@sandbox:fast" in archive.read("results.csv").decode()


def test_safe_cell_leaves_numbers_and_plain_text_alone():
    assert [safe_cell(v) for v in ("-5", "+1", "@a", "=1", "\tx", "fox", -5, 1.5, None)] == [
        "'-5", "'+1", "'@a", "'=1", "'\tx", "fox", -5, 1.5, ""]


def test_leaderboard_csv_keeps_the_pages_filters(alice, alice_client):
    team = Team.personal_for(alice)
    for quality, latency in (("low", 1000), ("high", 3000)):
        comparison = Comparison.objects.create(prompt="p", team=team, params={"size": "1024x1024", "quality": quality,
                                                                              "n": 1})
        Result.objects.create(comparison=comparison, route_key="sandbox:fast", route_label="fast",
                              status="succeeded", latency_ms=latency)
    assert read_csv(alice_client.get("/leaderboard.csv"))[0]["median_latency_ms"] == "2000.0"
    row = read_csv(alice_client.get("/leaderboard.csv", {"quality": "high"}))[0]
    assert (row["median_latency_ms"], row["entered"], row["success_rate"]) == ("3000.0", "1", "1.0")


def run(team, previous, fast_ms, steady_status="succeeded", cost="0.04"):
    comparison = Comparison.objects.create(prompt="a fox", team=team, rerun_of=previous,
                                           params={"size": "1024x1024", "quality": "low", "n": 1})
    Result.objects.create(comparison=comparison, position=0, route_key="sandbox:fast", route_label="fast",
                          status="succeeded", latency_ms=fast_ms, cost_usd=Decimal(cost), cost_source="estimated")
    Result.objects.create(comparison=comparison, position=1, route_key="sandbox:steady", route_label="steady",
                          status=steady_status, latency_ms=2000 if steady_status == "succeeded" else None)
    return comparison


def test_changes_show_then_versus_now_and_the_whole_chain(alice, alice_client):
    team = Team.personal_for(alice)
    first = run(team, None, 1000)
    second = run(team, first, 1500)
    third = run(team, second, 3000, steady_status="failed", cost="0.05")
    page = alice_client.get(f"/comparisons/{third.pk}/changes").content.decode()
    assert f"#{second.pk}" in page and f"#{first.pk}" in page  # the chain, back to the first run
    assert "+1,500 ms" in page and "(+100%)" in page  # fast: 1500 -> 3000
    assert "succeeded</span> → <span class=\"dot status-failed\">failed" in page  # steady broke
    assert "+$0.0100" in page  # the cost went up by a cent
    assert "3/3" in page and "2/3" in page  # successes over the chain
    assert page.count("<polyline") == 2  # a latency line per route


def test_a_first_run_says_there_is_nothing_to_compare_yet(alice, alice_client):
    first = run(Team.personal_for(alice), None, 1000)
    later = run(Team.personal_for(alice), first, 1100)
    page = alice_client.get(f"/comparisons/{first.pk}/changes").content.decode()
    assert "not a re-run" in page and f"/comparisons/{later.pk}/changes" in page


def test_a_blind_comparison_is_not_exported_before_my_verdict(alice, alice_client, submitted):
    from compare.review.models import give_verdict, set_review_mode

    set_review_mode(submitted, blind=True, hold_images_until_done=False)
    for url in (f"/comparisons/{submitted.pk}/export.zip", f"/comparisons/{submitted.pk}/changes"):
        response = alice_client.get(url)
        assert response.status_code == 302 and response["Location"] == submitted.get_absolute_url(), url
    rows = read_csv(alice_client.get("/comparisons.csv"))
    assert all(r["route"].startswith("hidden") and r["latency_ms"] == "" for r in rows)
    give_verdict(submitted, alice, "tie")
    assert alice_client.get(f"/comparisons/{submitted.pk}/export.zip").status_code == 200
    assert {r["route"] for r in read_csv(alice_client.get("/comparisons.csv"))} == {"sandbox:fast", "sandbox:steady"}
