"""A batch in Chromium: pick a prompt from a set (filled in place), run the whole typography set
against three sandbox routes, watch the prompts × routes matrix fill in without a reload until
every cell is done (then polling stops), and use it on a phone, in light and dark mode."""

import re

import pytest

from tests.e2e.chromium.browser import log_in, screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROUTES = ["sandbox:fast", "sandbox:steady", "sandbox:slow"]
PROMPTS = 6  # the built-in typography set


def test_a_user_runs_the_typography_set_and_watches_the_matrix(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    shots = screenshots(stack)
    log_in(page, stack)

    # Pick a prompt: htmx swaps the textarea in place, the page stays where it is.
    page.goto(stack.url + "/")
    page.click("#prompt-picker > summary")
    page.click("#prompt-picker a:text('Phone wallpaper (portrait)')")  # suggests 1024x1536
    expect(page.locator("#id_prompt")).to_have_value(re.compile("paper lantern"))
    expect(page.locator("select[name=size]")).to_have_value("portrait")  # static/js/prompts.js
    page.select_option("select[name=size]", "square")
    page.click("#prompt-picker a:text('Café menu board')")
    expect(page.locator("#id_prompt")).to_have_value(re.compile("THE COPPER KETTLE"))
    assert page.url == stack.url + "/"
    # Save it into a team set: answered in place, and the picker lists the new set.
    page.click("details.save-prompt > summary")
    page.fill("input[name=save_set]", "E2E <set>")
    page.click("button:text('Save this prompt')")
    expect(page.locator("#save-prompt-status")).to_contain_text("Saved")
    expect(page.locator("#prompt-picker")).to_contain_text("E2E <set>")
    expect(page.locator("#id_prompt")).to_have_value(re.compile("THE COPPER KETTLE"))  # the form is untouched
    page.screenshot(path=str(shots / "batch-picker.png"), full_page=True)

    for route in ROUTES:
        page.check(f"input[name=routes][value='{route}']")
    page.select_option("select[name=quality]", "low")
    page.select_option("select[name=prompt_set]", "typography")
    matrix_requests = []
    page.on("request", lambda request: "part=matrix" in request.url and matrix_requests.append(request.url))
    page.click("button:text('Run set as batch')")
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    first_paint = page.locator("td.cell.status-succeeded").count()

    expect(page.locator("#matrix h2")).to_contain_text(f"Done: {PROMPTS * 3} of {PROMPTS * 3} cells finished",
                                                       timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    expect(page).to_have_title(re.compile(r"^done · Batch #\d+ · "))  # another tab notices it ended
    expect(page.locator("#batch-cancel")).to_have_count(0)  # nothing left to cancel
    assert first_paint < PROMPTS * 3 and matrix_requests, "the matrix filled in live, by polling"
    expect(page.locator("table.matrix tbody tr")).to_have_count(PROMPTS)
    expect(page.locator("table.matrix td.cell")).to_have_count(PROMPTS * len(ROUTES))
    expect(page.locator("table.matrix td.cell.status-succeeded")).to_have_count(PROMPTS * len(ROUTES))
    expect(page.locator("table.matrix thead th code")).to_have_text(ROUTES)
    footers = page.locator("table.matrix tfoot td.footer")
    expect(footers).to_have_count(len(ROUTES))
    for n in range(len(ROUTES)):
        expect(footers.nth(n)).to_contain_text(f"{PROMPTS} of {PROMPTS} succeeded")
        expect(footers.nth(n)).to_contain_text(re.compile(r"median [\d,.]+ m?s"))
        expect(footers.nth(n)).to_contain_text("billed")
    images = page.locator("td.cell a.thumb img")
    expect(images).to_have_count(PROMPTS * len(ROUTES))
    images.first.scroll_into_view_if_needed()
    expect(images.first).to_have_js_property("complete", True)
    assert images.first.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("table.matrix tbody tr").first.locator("a.row-link")).to_have_attribute(
        "href", re.compile(r"^/comparisons/\d+/$"))
    # Done, and every cell's automatic checks in: the last answer stopped the polling (the matrix
    # keeps asking while checks are pending, which OCR on a loaded machine can make a while).
    for _ in range(24):
        settled = len(matrix_requests)
        page.wait_for_timeout(2500)
        if len(matrix_requests) == settled:
            break
    assert len(matrix_requests) == settled, "the matrix never stopped polling"
    expect(page.locator("td.cell .checks-facts:has-text('checking…')")).to_have_count(0)
    page.screenshot(path=str(shots / "batch-matrix.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(shots / "batch-matrix-dark.png"), full_page=True)

    # On a phone the matrix scrolls sideways in its own box; the page does not.
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator(".matrix-scroll")
    assert box.evaluate("el => el.scrollWidth > el.clientWidth && getComputedStyle(el).overflowX === 'auto'")
    box.evaluate("el => el.scrollLeft = 200")
    assert box.evaluate("el => el.scrollLeft") > 0
    assert page.evaluate("window.scrollX") == 0
    # The prompt column stays in view while the routes scroll under it.
    prompt_cell = page.locator("table.matrix tbody th.prompt-col").first
    assert prompt_cell.evaluate("el => el.getBoundingClientRect().left") >= 0
    box.evaluate("el => el.scrollLeft = 0")
    page.screenshot(path=str(shots / "batch-matrix-phone.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(shots / "batch-matrix-phone-dark.png"), full_page=True)

    page.goto(stack.url + "/batches/")  # (other tests of the session may have made batches too)
    expect(page.locator("table.batch-list tbody tr", has_text="Dense text and typography")).to_have_count(1)

    # A route that fails: its cells say so, with the reason; the footer counts the failures.
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    created = stack.http.post("/api/batches", json={"prompt_set": "product", "routes": ["sandbox:fast", "sandbox:flaky"],
                                                    "params": {"quality": "low"}})
    assert created.status_code == 201, created.text
    page.goto(created.json()["url"])
    expect(page.locator("#matrix h2")).to_contain_text("Done: 10 of 10", timeout=60_000)
    expect(page.locator("td.cell.status-failed")).to_have_count(5)
    expect(page.locator("td.cell.status-failed .reason").first).not_to_be_empty()
    expect(page.locator("tfoot td.footer").nth(1)).to_contain_text("0 of 5 succeeded")
    page.screenshot(path=str(shots / "batch-matrix-failures.png"), full_page=True)
