"""The results page's viewing aids: badges, sorting, the race timeline, the cost chart, the tab
title and the viewer's data. alice (owner) and carol (member) of "Studio" (tests/conftest.py)."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from compare.engine import execution
from compare.models import Comparison, Result
from compare.review.models import Rating
from compare.templatetags.viewing import segments

from tests.compare.factories import finished, results_of
from tests.helpers import HTMX, client_of, leaks, user

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def raced(studio):
    """fast: 1.0 s, the most expensive known cost; steady: 2.0 s, the cheapest (reported);
    slow: 3.0 s, cost unknown. Timings set as a worker would have stored them."""
    comparison = finished(studio)
    fast, steady, slow = results_of(comparison)
    set_times(fast, latency=1000, cost=("0.05", "estimated"))
    set_times(steady, latency=2000, cost=("0.02", "billed"), estimate="0.03")
    set_times(slow, latency=3000, cost=(None, "unknown"))
    return comparison


def set_times(result, latency, cost, estimate=None, queue=100, timings=None, status="succeeded"):
    """Submit at created_at; enqueued 10 ms later; our queue wait `queue`; the provider call
    `latency`; 50 ms of our own after it."""
    origin = result.comparison.created_at
    started = origin + timedelta(milliseconds=10 + queue)
    Result.objects.filter(pk=result.pk).update(
        status=status, enqueued_at=origin + timedelta(milliseconds=10), started_at=started, queue_ms=queue,
        latency_ms=latency, finished_at=started + timedelta(milliseconds=latency + 50),
        provider_timings=timings or {}, cost_usd=None if cost[0] is None else Decimal(cost[0]),
        cost_source=cost[1], estimated_cost_usd=None if estimate is None else Decimal(estimate))


def page_of(name, comparison, **params):
    return client_of(name).get(comparison.get_absolute_url(), params).content.decode()


def badges_on(html):
    """{result id: [badge, ...]} as the cards show them."""
    spans = re.findall(r'<span class="badges" id="badges-(\d+)"[^>]*>(.*?)</span>\n', html)
    return {int(pk): re.findall(r'<span class="badge (\w+)"', inner) for pk, inner in spans}


def card_order(html):
    return [int(pk) for pk in re.findall(r'<article id="result-(\d+)"', html)]


def timeline(html):
    """The race timeline's SVG, parsed as XML."""
    svg = re.search(r'<svg class="chart timeline".*?</svg>', html, re.S).group(0)
    return ET.fromstring(svg)


def test_badges_name_the_fastest_the_cheapest_known_cost_and_the_teams_winner(raced):
    fast, steady, slow = results_of(raced)
    for name in ("alice", "carol"):
        client_of(name).post(f"/comparisons/{raced.pk}/verdict", {"verdict": slow.pk})
    badges = badges_on(page_of("vic", raced))  # a viewer gives no verdict, but sees the badges
    assert badges == {fast.pk: ["fastest"], steady.pk: ["cheapest"], slow.pk: ["winner"]}


def test_a_failed_result_is_never_the_fastest_and_equal_costs_make_no_cheapest(studio):
    comparison = finished(studio)
    fast, steady, slow = results_of(comparison)
    set_times(fast, latency=500, cost=("0", "billed"), status="failed")
    set_times(steady, latency=1500, cost=("0", "billed"))
    set_times(slow, latency=2500, cost=("0", "billed"))
    badges = badges_on(page_of("alice", comparison))
    assert badges == {fast.pk: [], steady.pk: ["fastest"], slow.pk: []}


def test_badges_sorting_and_the_race_stay_hidden_from_a_blind_reviewer_until_the_verdict(raced):
    Comparison.objects.filter(pk=raced.pk).update(blind=True)
    raced.refresh_from_db()
    client_of("alice").post(f"/comparisons/{raced.pk}/verdict", {"verdict": results_of(raced)[2].pk})
    html = page_of("carol", raced)
    assert all(badges == [] for badges in badges_on(html).values()) and len(badges_on(html)) == 3
    assert 'id="race"' not in html and 'class="sort"' not in html.replace('class="sort muted"', "")
    assert "open with your verdict" in html and leaks(html) == []
    assert card_order(page_of("carol", raced, sort="latency")) == card_order(html)  # no sorting by a hidden number
    race = client_of("carol").get(raced.get_absolute_url(), {"part": "race"}, headers=HTMX).content.decode()
    assert leaks(race) == [] and "<svg" not in race

    client_of("carol").post(f"/comparisons/{raced.pk}/verdict", {"verdict": "tie"})
    html = page_of("carol", raced)
    assert sorted(b for badges in badges_on(html).values() for b in badges) == ["cheapest", "fastest", "winner"]
    labels = [text.text for text in timeline(html).iter(f"{SVG}text") if "label" in text.get("class", "")]
    assert [label.split(" · ")[0] for label in labels] == ["A", "B", "C"]  # the reviewer's letters, in card order


def test_sorting_by_route_latency_cost_and_rating(raced):
    fast, steady, slow = results_of(raced)
    Result.objects.filter(pk=fast.pk).update(route_label="Zeta")
    assert card_order(page_of("alice", raced)) == [fast.pk, steady.pk, slow.pk]
    assert card_order(page_of("alice", raced, sort="route")) == [slow.pk, steady.pk, fast.pk]  # Sandbox s…, s…, Zeta
    assert card_order(page_of("alice", raced, sort="latency")) == [fast.pk, steady.pk, slow.pk]
    assert card_order(page_of("alice", raced, sort="cost")) == [steady.pk, fast.pk, slow.pk]  # unknown last
    for name, result, value in (("alice", slow, 1), ("carol", slow, 1), ("alice", fast, -1)):
        Rating.objects.create(result=result, user=user(name), value=value)
    assert card_order(page_of("alice", raced, sort="rating")) == [slow.pk, steady.pk, fast.pk]
    html = page_of("alice", raced, sort="cost")
    assert '<a href="?sort=cost#results" aria-current="true">cost</a>' in html
    assert card_order(page_of("alice", raced, sort="nonsense")) == [fast.pk, steady.pk, slow.pk]


def test_the_timeline_svg_parses_and_its_bars_follow_the_timings(raced):
    fast, steady, slow = results_of(raced)
    set_times(fast, latency=1000, cost=("0.05", "estimated"),
              timings={"provider_queue_ms": 200, "provider_generation_ms": 500, "download_ms": 100})
    set_times(slow, latency=3000, cost=(None, "unknown"), status="timed_out")
    svg = timeline(page_of("alice", raced))
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text.startswith("Race timeline")
    assert "timed out" in svg.find(f"{SVG}desc").text
    rows = [g for g in svg.iter(f"{SVG}g") if "race-row" in g.get("class")]
    assert len(rows) == 3
    measured = {}
    for row, result in zip(rows, (fast, steady, slow)):
        bars = [(rect.get("class").split()[1], float(rect.get("width")), float(rect.get("data-ms")))
                for rect in row.iter(f"{SVG}rect")]
        measured[result.pk] = bars
        ends = [float(r.get("x")) + float(r.get("width")) for r in row.iter(f"{SVG}rect")]
        assert ends == sorted(ends)  # segments follow one another along the bar
    longest = max((bar for bars in measured.values() for bar in bars), key=lambda bar: bar[2])
    px_per_ms = longest[1] / longest[2]
    assert all(abs(width - ms * px_per_ms) < 0.02 for bars in measured.values() for _, width, ms in bars)
    assert [(kind, ms) for kind, _, ms in measured[fast.pk]] == [
        ("ours", 10), ("queue", 100), ("provider-queue", 200), ("generation", 500), ("call", 200),
        ("download", 100), ("ours", 50)]
    assert [(kind, ms) for kind, _, ms in measured[steady.pk]] == [("ours", 10), ("queue", 100), ("call", 2000),
                                                                     ("ours", 50)]
    slow_row = "".join(rows[2].itertext())
    assert "✕ timed out" in slow_row and "failed" in rows[2].find(f"{SVG}text[@class='value failed']").get("class")


def test_provider_figures_never_exceed_our_measured_latency():
    class Row:
        started_at = enqueued_at = None
        status, latency_ms, queue_ms = "succeeded", 1000, 0
        provider_timings = {"provider_queue_ms": 800, "provider_generation_ms": 900, "download_ms": 100}

    origin = timezone.now()
    row = Row()
    row.enqueued_at = row.started_at = origin
    row.finished_at = origin + timedelta(milliseconds=1000)
    parts = dict((kind, length) for kind, _, length in segments(row, origin, origin) if kind != "ours")
    assert parts == {"queue": 0, "provider-queue": 800, "generation": 100, "call": 0, "download": 100}


def test_the_cost_chart_tells_estimated_billed_and_unknown_apart(raced):
    html = page_of("alice", raced)
    svg = ET.fromstring(re.search(r'<svg class="chart costs".*?</svg>', html, re.S).group(0))
    kinds = [rect.get("class") for rect in svg.iter(f"{SVG}rect")]
    assert kinds == ["bar estimated", "bar billed", "bar estimated"]  # fast est.; steady billed + its estimate
    values = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["$0.05 est.", "$0.02 billed · $0.03 est.", "unknown"]


def test_the_title_shows_progress_while_running_and_done_after(studio, alice_client):
    running = finished(studio, run=False)
    html = alice_client.get(running.get_absolute_url()).content.decode()
    assert f"<title>0/3 done · #{running.pk} · a red fox in snow</title>" in html
    assert f'data-title="0/3 done · #{running.pk} · a red fox in snow"' in html
    assert "/static/js/progress-title.js" in html and "/static/js/viewer.js" in html
    execution.execute_result(results_of(running)[0].pk)
    summary = alice_client.get(f"/comparisons/{running.pk}/summary", headers=HTMX).content.decode()
    assert f'data-title="1/3 done · #{running.pk}' in summary
    done = finished(studio)
    summary = alice_client.get(f"/comparisons/{done.pk}/summary", headers=HTMX)
    assert summary.status_code == 286 and f'data-title="done · #{done.pk} · a red fox in snow"' in summary.content.decode()


def test_the_race_polls_while_running_and_refreshes_every_cards_badges(studio, alice_client):
    comparison = finished(studio, run=False)
    html = alice_client.get(comparison.get_absolute_url()).content.decode()
    assert f'hx-get="/comparisons/{comparison.pk}/?part=race"' in html
    for result in results_of(comparison):
        execution.execute_result(result.pk)
    fast, steady, slow = results_of(comparison)
    set_times(fast, latency=100, cost=("0", "billed"))
    set_times(steady, latency=200, cost=("0", "billed"))
    set_times(slow, latency=300, cost=("0", "billed"))
    race = alice_client.get(comparison.get_absolute_url(), {"part": "race", "sort": "latency"}, headers=HTMX)
    text = race.content.decode()
    assert text.lstrip().startswith('<section id="race"') and "hx-trigger" not in text  # done: no more polling
    assert f'<span class="badges" id="badges-{fast.pk}" hx-swap-oob="true"><span class="badge fastest"' in text
    assert all(f'id="badges-{r.pk}" hx-swap-oob="true"' in text for r in (steady, slow))


def test_thumbnails_link_to_the_original_with_the_viewers_facts(studio):
    comparison = finished(studio)
    Comparison.objects.filter(pk=comparison.pk).update(params={**comparison.params, "seed": 42})
    image = results_of(comparison)[0].images.get()
    html = page_of("carol", comparison)
    link = re.search(rf'<a href="{image.get_absolute_url()}"[^>]*data-viewer[^>]*>', html, re.S).group(0)
    assert 'data-caption="Image 1 from sandbox:fast"' in link
    assert f'data-facts="{image.width}×{image.height} PNG · ' in link
    assert "seed 42" not in link  # the seed was put in after the run: no image was made with it
    result = results_of(comparison)[0]
    Result.objects.filter(pk=result.pk).update(parameters={**result.parameters,
                                                           "seed": {"asked": 42, "sent": 42, "supported": True}})
    html = page_of("carol", comparison)
    link = re.search(rf'<a href="{image.get_absolute_url()}"[^>]*data-viewer[^>]*>', html, re.S).group(0)
    assert "seed 42" in link  # sent by a route that takes a seed
    assert f'data-download="comparison-{comparison.pk}-image-{image.pk}.png"' in link
    assert '<dialog id="viewer"' in html
    Comparison.objects.filter(pk=comparison.pk).update(blind=True)
    blind = page_of("carol", comparison)
    assert "data-caption=\"Image 1 from result " in blind and leaks(blind) == []
