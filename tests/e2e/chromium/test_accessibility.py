"""The accessibility check: axe-core (npm, pinned in tests/axe/package-lock.json) runs in Chromium
on every main page, in light and dark mode, and no serious or critical WCAG 2.1 A/AA violation is
allowed. Installed by tests/ensure-axe.sh (`make test` runs it)."""

import pytest

from tests.e2e.chromium.browser import AXE, axe_violations, log_in
from tests.helpers import skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROUTES = ["sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:flaky"]


def check(page, url, problems):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        problems += [f"{url} [{scheme}] {line}" for line in axe_violations(page)]


def test_the_main_pages_pass_axe_in_light_and_dark_mode(embedded_stack, page):
    from playwright.sync_api import expect

    if not AXE.exists():
        skip_or_fail(f"axe-core is not installed at {AXE} (sh tests/ensure-axe.sh)", "REQUIRE_BROWSER")
    stack = embedded_stack
    problems = []
    check(page, stack.url + "/login/", problems)
    log_in(page, stack)

    comparison = stack.submit("A street sign that reads ACCESS", ROUTES, size="1024x1024", quality="low", n=1,
                              output_format="png")
    stack.wait_done(comparison["id"])
    detail = f"{stack.url}/comparisons/{comparison['id']}/"
    share = stack.http.post(f"/api/comparisons/{comparison['id']}/share", json={})
    assert share.status_code == 201, share.text
    share_url = share.json()["url"]
    if share_url.startswith("/"):
        share_url = stack.url + share_url

    batch = stack.http.post("/api/batches", json={"prompt_set": "multilingual", "routes": ROUTES[:2],
                                                  "params": {"size": "1024x1024", "quality": "low"}})
    assert batch.status_code == 201, batch.text
    for comparison_id in batch.json()["comparison_ids"]:
        stack.wait_done(comparison_id)
    images = [image["url"].split("/images/")[1] for result in stack.wait_done(comparison["id"])["results"]
              for image in result["images"]][:2]
    pair = f"/comparisons/{comparison['id']}/side-by-side?a={images[0]}&b={images[1]}"

    for path in ("/", "/comparisons/", f"/comparisons/{comparison['id']}/", "/leaderboard", "/routes/", "/team/",
                 "/team/links", "/tokens/", "/batches/", f"/batches/{batch.json()['id']}/", "/prompts/",
                 pair, pair + "&view=slider", pair + "&view=onion", pair + "&view=diff"):
        check(page, stack.url + path, problems)
    # The full-size viewer, open.
    page.goto(detail)
    page.locator("article.card a[data-viewer]").first.click()
    expect(page.locator("#viewer")).to_be_visible()
    problems += [f"{detail} [viewer] {line}" for line in axe_violations(page)]

    page.context.clear_cookies()
    check(page, share_url, problems)
    assert not problems, "axe found serious or critical violations:\n" + "\n".join(problems)
