"""Reference images for an edit in Chromium: chosen files are previewed with their size, one can
be removed before submitting, and the comparison keeps exactly the ones left."""

import re

import pytest

from tests.e2e.chromium.browser import log_in, screenshots
from tests.helpers import image_bytes

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_user_previews_reference_images_removes_one_and_runs_the_edit(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    log_in(page, stack)
    page.goto(stack.url + "/")
    page.locator("details.edit-inputs summary").click()
    page.set_input_files("input[name=reference_images]", [
        {"name": "red.png", "mimeType": "image/png", "buffer": image_bytes(64, 48, colour=(200, 40, 40))},
        {"name": "blue.png", "mimeType": "image/png", "buffer": image_bytes(80, 60, colour=(40, 40, 200))},
    ])
    previews = page.locator("#reference-previews figure")
    expect(previews).to_have_count(2)
    expect(previews.nth(0).locator("figcaption")).to_contain_text(re.compile(r"red.png · 64×48 · \d+ bytes"))
    expect(previews.nth(1).locator("img")).to_have_attribute("alt", "Reference image 2: blue.png")
    page.screenshot(path=str(screenshots(stack) / "edit-references.png"), full_page=True)

    page.click("button[aria-label='Remove red.png']")
    expect(previews).to_have_count(1)
    expect(previews.first.locator("figcaption")).to_contain_text("blue.png")
    assert page.locator("input[name=reference_images]").evaluate("input => input.files.length") == 1

    page.fill("textarea[name=prompt]", "Make the square green")
    page.check("input[name=routes][value='sandbox:fast']")
    page.select_option("select[name=quality]", "low")
    page.click("button.primary:text('Compare')")
    expect(page).to_have_url(re.compile(r"/comparisons/\d+/$"))
    references = page.locator(".references img")
    expect(references).to_have_count(1)
    comparison_id = int(re.search(r"/comparisons/(\d+)/", page.url).group(1))
    reference_url = references.first.evaluate("img => img.src")
    assert page.request.get(reference_url).body() == image_bytes(80, 60, colour=(40, 40, 200))  # the one kept
    assert stack.wait_done(comparison_id)["results"][0]["status"] == "succeeded"
