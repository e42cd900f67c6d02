"""Review and history as a new user meets them, in Chromium: the review queue by keyboard alone
(a verdict given, the next comparison loaded, blind kept); then every main page at 1440 and 390 px
wide, in light and dark mode: nothing wider than the screen, no serious axe violation, no console
error; a screenshot of each lands in SCREENSHOT_DIR."""

import re

import pytest

from tests.e2e.chromium.browser import AXE, axe_violations, log_in, screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROUTES = ["sandbox:fast", "sandbox:steady", "sandbox:slow"]
WIDTHS = {"wide": (1440, 900), "phone": (390, 844)}


def watch_console(page):
    """Console errors and uncaught exceptions of the page, as lines."""
    errors = []
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: uncaught {error}"))
    return errors


def make(stack, prompt, routes=ROUTES, blind=False):
    made = stack.http.post("/api/comparisons", json={
        "prompt": prompt, "routes": routes, "blind": blind,
        "params": {"size": "1024x1024", "quality": "low", "n": 1, "output_format": "png"}})
    assert made.status_code == 201, made.text
    stack.wait_done(made.json()["id"])
    return made.json()["id"]


def focused_id(page):
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_the_review_queue_works_by_keyboard_alone_and_stays_blind(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    errors = watch_console(page)
    log_in(page, stack)
    older = make(stack, "A blind test of a neon sign that reads OPEN", blind=True)
    newer = make(stack, "A blind test of a wooden sign that reads CLOSED", blind=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(stack.url + "/review")

    queue = page.locator("#queue")
    expect(queue).to_have_attribute("data-comparison", str(newer))
    left = int(page.locator(".queue-count strong").inner_text())
    assert left >= 2
    expect(page.locator(".candidate .blind-label")).to_have_text(["A", "B", "C"])
    assert "sandbox" not in queue.inner_text().lower() and "sandbox:" not in page.content()

    # The first image has the focus; → moves it, U gives it a thumb up and comes back to it.
    first = page.locator("[data-candidate]").first.get_attribute("id")
    assert focused_id(page) == first
    page.keyboard.press("ArrowRight")
    second = page.locator("[data-candidate]").nth(1).get_attribute("id")
    assert focused_id(page) == second
    page.keyboard.press("u")
    expect(page.locator(f"#{second} [data-thumb=up]")).to_have_attribute("aria-pressed", "true")
    assert focused_id(page) == second
    assert "sandbox:" not in page.content()  # a thumb does not unmask

    # C goes to the comment box; Escape comes back, and the letters are not typed anywhere.
    page.keyboard.press("c")
    assert focused_id(page) == "comment-text"
    page.keyboard.press("Escape")
    assert focused_id(page) != "comment-text"

    # 2 makes B the winner: the next comparison loads, still blind, one fewer left.
    page.keyboard.press("2")
    expect(queue).to_have_attribute("data-comparison", str(older))
    expect(page.locator(".queue-count strong")).to_have_text(str(left - 1))
    expect(page.locator(".candidate .blind-label")).to_have_text(["A", "B", "C"])
    assert "sandbox:" not in page.content()
    expect(page.locator(".messages")).to_contain_text(f"Verdict on #{newer} saved")

    # The verdict was B's, and on the judged comparison the routes are now named.
    page.goto(f"{stack.url}/comparisons/{newer}/")
    expect(page.locator("#results")).to_contain_text("sandbox:")
    expect(page.locator("#verdict-bar button[aria-pressed=true]")).to_contain_text("B")

    # T on the last one: a tie, and the queue says nothing is left of these two.
    page.goto(stack.url + f"/review?at={older}")
    page.keyboard.press("t")
    expect(page.locator(".messages")).to_contain_text(f"Verdict on #{older} saved")
    assert not errors, "console errors:\n" + "\n".join(errors)


def test_every_main_page_fits_a_phone_passes_axe_and_logs_no_error(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    shots = screenshots(stack)
    if AXE.exists():  # given to every page before its own scripts: the CSP refuses an injected <script>
        page.add_init_script(path=str(AXE))
    errors = watch_console(page)
    log_in(page, stack)
    plain = make(stack, "A street sign that reads WIDTH, photographed at dusk",
                 routes=ROUTES + ["sandbox:flaky"])
    make(stack, "A blind one for the queue", blind=True)
    batch = stack.http.post("/api/batches", json={"prompt_set": "multilingual", "routes": ROUTES[:2],
                                                  "params": {"size": "1024x1024", "quality": "low"}})
    assert batch.status_code == 201, batch.text
    for comparison_id in batch.json()["comparison_ids"]:
        stack.wait_done(comparison_id)
    rerun = stack.http.post(f"/api/comparisons/{plain}/rerun", json={})
    pages = {"new": "/", "review": "/review", "history": "/comparisons/", "detail": f"/comparisons/{plain}/",
             "leaderboard": "/leaderboard", "routes": "/routes/", "team": "/team/", "links": "/team/links",
             "tokens": "/tokens/", "batches": "/batches/", "batch": f"/batches/{batch.json()['id']}/",
             "prompts": "/prompts/"}
    page.goto(stack.url + "/team/")
    pages["credentials"] = page.locator("a[href$='/credentials']").first.get_attribute("href")
    if rerun.status_code == 201:
        stack.wait_done(rerun.json()["id"])
        pages["changes"] = f"/comparisons/{rerun.json()['id']}/changes"

    overflow, problems = [], []
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            page.goto(stack.url + path)
            page.wait_for_load_state("networkidle")
            wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if wide[0] > wide[1]:
                overflow.append(f"{path} at {width} px: {wide[0]} px wide")
            page.screenshot(path=str(shots / f"ux-{name}-{width_name}.png"), full_page=True)
            if AXE.exists():
                for scheme in ("light", "dark"):
                    page.emulate_media(color_scheme=scheme)
                    problems += [f"{path} {width}px [{scheme}] {line}" for line in axe_violations(page)]
                page.emulate_media(color_scheme="light")
        if width_name == "phone":
            # The first screen of a result shows an image, and the menu opens the navigation.
            page.goto(stack.url + pages["detail"])
            top = page.locator("article.card img").first.bounding_box()
            assert top is not None and top["y"] < height, f"first image at {top}"
            page.screenshot(path=str(shots / "ux-detail-phone-first-screen.png"))
            expect(page.locator("#site-nav")).to_be_hidden()
            page.click(".menu-toggle")
            expect(page.locator("#site-nav a", has_text="History")).to_be_visible()
            page.screenshot(path=str(shots / "ux-menu-phone.png"))
    assert not overflow, "wider than the screen:\n" + "\n".join(overflow)
    assert not problems, "axe found serious or critical violations:\n" + "\n".join(problems)
    assert not errors, "console errors:\n" + "\n".join(errors)


def test_a_run_finishing_live_brings_the_verdict_bar_and_the_pickers_without_a_console_error(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    errors = watch_console(page)
    log_in(page, stack)
    made = stack.submit("A chalkboard menu that reads SOUP OF THE DAY", ROUTES, size="1024x1024", quality="low",
                        n=1, output_format="png")
    page.goto(f"{stack.url}/comparisons/{made['id']}/")
    expect(page.locator("#verdict-bar")).to_contain_text("opens here when every route has finished")
    # The slow route takes over a second; then, without a reload: Cancel gone, the verdict bar's
    # buttons and the side-by-side lists in.
    expect(page.locator("#cancel-action")).to_have_count(0, timeout=30_000)
    expect(page.locator("#verdict-bar button[name=verdict]")).to_have_count(3 + 2, timeout=10_000)
    expect(page.locator("#side-by-side select")).to_have_count(2, timeout=10_000)
    page.locator("#verdict-bar button[name=verdict]").first.click()
    expect(page.locator("#verdict-bar button[aria-pressed=true]")).to_have_count(1)
    expect(page.locator(".messages")).to_contain_text("Verdict saved")
    assert not errors, "console errors:\n" + "\n".join(errors)
