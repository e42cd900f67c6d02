"""A person's walk through the product: Playwright driving Debian's Chromium."""

import os
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]




def test_a_new_user_compares_three_sandbox_routes_and_finds_them_again(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    shots = Path(os.environ.get("SCREENSHOT_DIR") or stack.var_dir)
    page.goto(stack.url + "/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", stack.local_password())
    page.click("button[type=submit]")

    page.fill("textarea[name=prompt]", "A <lighthouse> in a storm")
    for key in ("sandbox:fast", "sandbox:steady", "sandbox:slow"):
        page.check(f"input[name=routes][value='{key}']")
    expect(page.locator("#total-estimate")).to_contain_text("Estimated total for 3 routes: $0.00")
    page.select_option("select[name=quality]", "high")
    expect(page.locator("#route-picker thead")).to_contain_text("high")
    page.screenshot(path=str(shots / "compare-form.png"), full_page=True)
    page.click("button:has-text('Compare')")

    expect(page).to_have_url(re.compile(r"/comparisons/\d+/$"))
    permalink = page.url
    cards = page.locator("article.card")
    expect(cards).to_have_count(3)
    expect(page.locator("article.card.status-running").first).to_be_visible()  # live, before the end
    expect(page.locator("article.card.status-succeeded")).to_have_count(3, timeout=30_000)
    expect(page.locator("article.card img")).to_have_count(3)
    for n in range(3):
        expect(cards.nth(n)).to_contain_text("measured")
        expect(cards.nth(n)).to_contain_text("billed")
        expect(cards.nth(n)).to_contain_text("1024×1024 PNG")
    assert page.locator("article.card img").first.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#summary")).to_contain_text("Done: 3 of 3 finished")
    expect(page.locator("blockquote.prompt")).to_have_text("A <lighthouse> in a storm")
    page.screenshot(path=str(shots / "comparison.png"), full_page=True)

    page.click("nav >> text=History")
    page.fill("input[name=q]", "lighthouse")
    expect(page.locator("#history-list")).to_contain_text("A <lighthouse> in a storm")
    page.locator("#history-list a", has_text="lighthouse").first.click()
    expect(page).to_have_url(permalink)

    page.click("button:has-text('Run again')")
    expect(page).not_to_have_url(permalink)
    expect(page.locator("article.card")).to_have_count(3)
    expect(page.locator("article.card.status-succeeded")).to_have_count(3, timeout=30_000)
    expect(page.locator(".params")).to_contain_text("re-run of")
