"""Looking at a finished comparison in Chromium: the tab title, the race timeline, the full-size
viewer (arrow keys, real size, Escape), sorting, and the page on a phone and in dark mode."""

import re

import pytest

from tests.e2e.chromium.browser import log_in, screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROUTES = ["sandbox:fast", "sandbox:steady", "sandbox:slow"]



def test_a_user_watches_a_race_and_steps_through_the_images_full_size(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    shots = screenshots(stack)
    log_in(page, stack)

    comparison = stack.submit("A lighthouse with the word VIEW on it", ROUTES,
                              size="1024x1024", quality="low", n=1, output_format="png")
    page.goto(f"{stack.url}/comparisons/{comparison['id']}/")
    assert re.match(r"^[0-3]/3 done · #\d+ · A lighthouse", page.title())  # the slow route takes a second
    expect(page.locator("article.card.status-succeeded")).to_have_count(3, timeout=30_000)
    # The summary's swaps carry the title along (static/js/progress-title.js), so another tab shows it.
    expect(page).to_have_title(re.compile(rf"^done · #{comparison['id']} · A lighthouse"), timeout=10_000)
    # The page settles without a reload: no Cancel once done, and the verdict form offers the winners.
    expect(page.locator("#cancel-action")).to_have_count(0, timeout=5_000)
    expect(page.locator("form.verdict input[name=verdict]")).to_have_count(3 + 2, timeout=5_000)  # 3 winners, tie, all bad
    # The race settles too: its last refresh (every second and on each change) has every route ended.
    expect(page.locator("#race[hx-get]")).to_have_count(0, timeout=10_000)
    expect(page.locator("#race svg.timeline g.race-row")).to_have_count(3)
    expect(page.locator("#race svg.costs")).to_be_visible()
    check_timeline_against_the_api(page, stack.wait_done(comparison["id"]))
    page.screenshot(path=str(shots / "viewing-results.png"), full_page=True)

    viewer = page.locator("#viewer")
    expect(viewer).to_be_hidden()
    page.locator("article.card a[data-viewer]").first.click()
    expect(viewer).to_be_visible()
    expect(page.locator("#viewer-caption")).to_contain_text("(1 of 3)")
    expect(page.locator("#viewer-facts")).to_contain_text("1024×1024 PNG")
    expect(page.locator("#viewer-image")).to_have_js_property("complete", True)
    assert page.locator("#viewer-image").evaluate("img => img.naturalWidth") == 1024
    page.keyboard.press("ArrowRight")
    expect(page.locator("#viewer-caption")).to_contain_text("(2 of 3)")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-caption")).to_contain_text("(3 of 3)")  # wraps around
    download = page.locator("#viewer [data-viewer-download]")
    expect(download).to_have_attribute("href", re.compile(r"/images/\d+$"))
    page.click("#viewer [data-viewer-actual]")
    expect(page.locator("#viewer [data-viewer-actual]")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(shots / "viewing-full-size.png"))
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    assert page.evaluate("document.activeElement.hasAttribute('data-viewer')")  # focus back on a thumbnail

    page.click("nav.sort >> text=latency")
    expect(page).to_have_url(re.compile(r"\?sort=latency#results$"))
    expect(page.locator("nav.sort a[aria-current]")).to_have_text("latency")
    expect(page.locator("article.card")).to_have_count(3)

    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    widths = page.locator("article.card").evaluate_all("cards => cards.map(c => c.getBoundingClientRect().width)")
    assert all(width > 300 for width in widths)  # one column on a phone
    page.screenshot(path=str(shots / "viewing-phone-dark.png"), full_page=True)


def check_timeline_against_the_api(page, api):
    """Each bar of the race timeline is the API's own timings: our queue wait is queue_ms, the
    provider's part adds up to latency_ms, the bar ends at finished_at - created_at, and every
    segment is drawn at one scale (pixels per ms)."""
    from providers.testing.stack import parse_time

    created = parse_time(api["created_at"])
    drawn = page.locator("#race svg.timeline g.race-row").evaluate_all("""rows => rows.map(row => ({
        label: row.querySelector('text.label').textContent,
        segs: [...row.querySelectorAll('rect.seg')].map(r => ({kind: r.classList[1], ms: +r.dataset.ms,
                                                              x: +r.getAttribute('x'), width: +r.getAttribute('width')}))}))""")
    by_route = {row["label"]: row["segs"] for row in drawn}
    scales = []
    for result in api["results"]:
        segs = by_route[result["route"]]
        total = lambda *kinds: sum(s["ms"] for s in segs if s["kind"] in kinds)  # noqa: E731
        assert abs(total("queue") - result["queue_ms"]) <= 1.0, (result["route"], segs)
        assert abs(total("provider-queue", "generation", "call", "download") - result["latency_ms"]) <= 1.0
        end_ms = (parse_time(result["finished_at"]) - created) * 1000
        assert abs(sum(s["ms"] for s in segs) - end_ms) <= 2.0, (result["route"], end_ms, segs)
        for before, after in zip(segs, segs[1:]):  # drawn end to end, left to right
            assert abs(before["x"] + before["width"] - after["x"]) <= 0.05
        scales += [s["width"] / s["ms"] for s in segs if s["ms"] >= 50]
    assert max(scales) - min(scales) <= 0.01 * max(scales)
    # The slowest route's bar is the longest.
    slowest = max(api["results"], key=lambda r: parse_time(r["finished_at"]))["route"]
    ends = {label: segs[-1]["x"] + segs[-1]["width"] for label, segs in by_route.items()}
    assert max(ends, key=ends.get) == slowest
