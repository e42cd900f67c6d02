"""Team review and sharing in Chromium: a blind comparison reviewed with thumbs, a verdict and an
escaped comment; then a logged-out visitor opens a view link (images load, routes and costs stay
hidden as the link says), votes once through a vote link, and loses access when the link is revoked."""

import re

import pytest

from tests.e2e.chromium.browser import log_in, screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROUTES = ["sandbox:fast", "sandbox:steady", "sandbox:slow"]
COMMENT = "<script>alert('x')</script> the letters on B are crisper"


def open_share(page):
    if not page.locator("#share").evaluate("d => d.open"):
        page.locator("#share summary").click()


def make_link(page, kind, labels, costs):
    """Fills the share panel's form and returns the new link's public URL (the one not there before)."""
    open_share(page)
    urls = page.locator("#share input.share-url")
    before = {urls.nth(n).input_value() for n in range(urls.count())}
    page.check(f"#share input[name=kind][value={kind}]")
    page.check(f"#share input[name=labels][value={labels}]")
    page.set_checked("#share input[name=show_costs]", costs)
    page.click("#share button:has-text('Make a public link')")
    page.wait_for_load_state()
    open_share(page)
    after = {urls.nth(n).input_value() for n in range(urls.count())}
    (new,) = after - before
    return new


def test_a_team_reviews_blind_and_shares_a_link_that_works_logged_out(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    shots = screenshots(stack)
    log_in(page, stack)
    made = stack.http.post("/api/comparisons", json={
        "prompt": "A bakery sign that reads FRESH BREAD", "routes": ROUTES, "blind": True,
        "params": {"size": "1024x1024", "quality": "low", "n": 1, "output_format": "png"}})
    assert made.status_code == 201, made.text
    comparison = made.json()
    stack.wait_done(comparison["id"])
    url = f"{stack.url}/comparisons/{comparison['id']}/"

    # Blind: letters instead of routes, nothing on the page names one, until my verdict.
    page.goto(url)
    cards = page.locator("article.card")
    expect(cards).to_have_count(3)
    expect(cards.locator(".blind-label")).to_have_text(["A", "B", "C"])
    assert "sandbox" not in page.locator("#results").inner_text().lower()
    assert "sandbox:" not in page.content()

    # A thumb is an htmx swap of that card alone.
    first = cards.first
    first.locator("button.thumb[value=up]").click()
    expect(page.locator("article.card").first.locator("button.thumb[value=up]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("article.card").first.locator("button.thumb[value=up]")).to_contain_text("1")

    page.fill("#comment-text", COMMENT)
    page.click(".comment-form button[type=submit]")
    expect(page.locator(".comments article.comment p").first).to_have_text(COMMENT)  # shown as text, not run

    # The verdict reveals the routes, and the team's verdict lists who said what.
    page.locator("form.verdict input[name=verdict]").first.check()
    page.click("form.verdict button[type=submit]")
    expect(page.locator("#results")).to_contain_text("sandbox:")
    expect(page.locator("ul.verdicts li")).to_contain_text(re.compile(r"admin:\s+winner"))
    page.screenshot(path=str(shots / "review-after-verdict.png"), full_page=True)

    # Two links: a view link with blind labels and no costs, and a vote link.
    view_url = make_link(page, "view", "blind", costs=False)
    vote_url = make_link(page, "vote", "blind", costs=False)
    assert view_url != vote_url and re.search(r"/s/[A-Za-z0-9_-]{22,}$", view_url)

    # A visitor without an account.
    page.context.clear_cookies()
    page.goto(view_url)
    expect(page.locator("body")).to_contain_text("FRESH BREAD")
    images = page.locator("main img")
    expect(images).to_have_count(3, timeout=10_000)
    for n in range(3):
        expect(images.nth(n)).to_have_js_property("complete", True)
        assert images.nth(n).evaluate("img => img.naturalWidth") > 0
    text = page.locator("main").inner_text()
    assert "sandbox" not in text.lower() and "$" not in text  # blind labels, no costs
    assert page.locator("text=Log out").count() == 0
    assert page.locator("meta[property='og:image']").get_attribute("content").endswith("preview.png")
    page.screenshot(path=str(shots / "share-logged-out.png"), full_page=True)

    page.goto(vote_url)
    page.locator("form.vote-form input[name=verdict]").first.check()
    page.click("form.vote-form button[type=submit]")
    expect(page.locator("#vote")).to_contain_text("Thank you")
    page.reload()
    expect(page.locator("#vote")).to_contain_text("One verdict per visitor")
    assert page.locator("form.vote-form").count() == 0

    # Back in the team: the outside vote is counted apart; revoking the view link ends it at once.
    log_in(page, stack)
    page.goto(url)
    expect(page.locator("#share summary")).to_contain_text("outside votes: 1")
    open_share(page)
    row = page.locator("#share table tr", has=page.locator(f"input.share-url[value='{view_url}']"))
    row.locator("button:has-text('Revoke')").click()
    page.wait_for_load_state()
    page.context.clear_cookies()
    assert page.goto(view_url).status == 404
    assert page.goto(vote_url).status == 200
