"""The Content-Security-Policy breaks nothing: the main pages, served by the production recipe, load
in Debian's Chromium with no CSP violation in the console, and the behaviours that used inline
handlers (the team switcher) and htmx (the live route picker) still work."""

import re

import pytest

from tests.helpers import skip_or_fail
from tests.security.conftest import ADMIN_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
PAGES = ["/", "/comparisons/", "/batches/", "/leaderboard", "/routes/", "/team/", "/team/links", "/tokens/"]


def test_pages_load_without_csp_violations(production_server, tmp_path):
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)", "REQUIRE_BROWSER")
    from playwright.sync_api import expect, sync_playwright

    url = production_server.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        messages = []
        page.on("console", lambda message: messages.append(f"{page.url}: {message.type}: {message.text}"))
        page.on("pageerror", lambda error: messages.append(f"{page.url}: pageerror: {error}"))
        page.goto(url + "/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        expect(page).not_to_have_url(re.compile(r"/login/"))
        for path in PAGES:
            response = page.goto(url + path)
            assert response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"], path
            page.wait_for_load_state("networkidle")
        # htmx still swaps the route picker as parameters change (a request, a swap, no inline code)
        page.goto(url + "/")
        with page.expect_response(lambda r: "quality=" in r.url):
            page.select_option("select[name=quality]", "high")
        # the team switcher submits on change without its old inline onchange handler
        page.goto(url + "/team/")
        page.fill("input[name=name]", "Studio")
        with page.expect_navigation():  # the new team's page, with the switcher, before it is read
            page.click("form[action$='/team/new'] button[type=submit]")
        page.wait_for_selector("select[data-autosubmit]")
        other = page.eval_on_selector_all("select[data-autosubmit] option",
                                          "options => options.filter(o => !o.selected).map(o => o.value)")[0]
        with page.expect_navigation():
            page.select_option("select[data-autosubmit]", other)
        assert page.eval_on_selector("select[data-autosubmit]", "select => select.value") == other
        browser.close()
    violations = [m for m in messages if "Content Security Policy" in m or "Refused to" in m or "pageerror" in m]
    assert not violations, "\n".join(violations)
