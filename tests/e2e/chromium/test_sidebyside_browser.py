"""Two images side by side in Chromium: picked on the results page, zoomed and panned together,
swiped, blended, their difference shown; on a phone the panes stack, and dark mode follows."""

import re

import pytest

from tests.e2e.chromium.browser import log_in, screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ROUTES = ["sandbox:fast", "sandbox:steady"]


def transforms(page):
    return page.locator(".sbs-viewport img").evaluate_all("images => images.map(i => i.style.transform)")


def scale_of(transform):
    return float(re.search(r"scale\(([\d.]+)\)", transform).group(1))


def test_a_user_compares_two_images_side_by_side(embedded_stack, page):
    from playwright.sync_api import expect

    stack = embedded_stack
    shots = screenshots(stack)
    log_in(page, stack)

    comparison = stack.submit("A harbour at dusk with the word SIDE", ROUTES,
                              size="1024x1024", quality="low", n=1, output_format="png")
    stack.wait_done(comparison["id"])
    page.goto(f"{stack.url}/comparisons/{comparison['id']}/")
    expect(page.locator("article.card.status-succeeded")).to_have_count(2)

    # Pick the two images with their "Compare" boxes, then open them side by side.
    boxes = page.locator("input[name=pick]")
    expect(boxes).to_have_count(2)
    boxes.nth(1).check()
    expect(page.locator("[data-sbs-status]")).to_contain_text("one image picked")
    boxes.nth(0).check()
    expect(page.locator("[data-sbs-status]")).to_contain_text("two images picked")
    second, first = (boxes.nth(n).get_attribute("value") for n in (1, 0))
    page.screenshot(path=str(shots / "sidebyside-picker.png"), full_page=True)
    page.click("[data-sbs-open]")
    expect(page).to_have_url(re.compile(rf"/comparisons/{comparison['id']}/side-by-side\?a={second}&b={first}$"))

    # Synchronised zoom and pan: both panes always carry the same transform (same-size images).
    images = page.locator(".sbs-viewport img")
    expect(images).to_have_count(2)
    for n in range(2):
        expect(images.nth(n)).to_have_js_property("complete", True)
    page.wait_for_function("() => [...document.querySelectorAll('.sbs-viewport img')].every(i => i.style.transform)")
    fitted = transforms(page)
    assert fitted[0] == fitted[1]
    page.click("button[data-zoom=in]")
    zoomed = transforms(page)
    assert zoomed[0] == zoomed[1] and scale_of(zoomed[0]) > scale_of(fitted[0]) * 1.4
    pane_a, pane_b = page.locator(".sbs-viewport").nth(0), page.locator(".sbs-viewport").nth(1)
    box = pane_a.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.wheel(0, -400)  # zoom in around the pointer
    page.wait_for_function("before => document.querySelector('.sbs-viewport img').style.transform !== before", arg=zoomed[0])
    wheeled = transforms(page)
    assert wheeled[0] == wheeled[1] and scale_of(wheeled[0]) > scale_of(zoomed[0])
    box = pane_b.bounding_box()  # drag the other pane: the first follows
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 + 40, steps=5)
    page.mouse.up()
    dragged = transforms(page)
    assert dragged[0] == dragged[1] and dragged[0] != wheeled[0]
    pane_a.focus()
    page.keyboard.press("+")
    page.keyboard.press("ArrowRight")
    keyed = transforms(page)
    assert keyed[0] == keyed[1] and scale_of(keyed[0]) > scale_of(dragged[0])
    page.click("button[data-zoom=actual]")
    actual = transforms(page)
    assert actual[0] == actual[1] and scale_of(actual[0]) == pytest.approx(1.0)  # device pixel ratio 1
    expect(page.locator("[data-zoom-level]")).to_contain_text("100% of A's pixels")
    page.click("button[data-zoom=fit]")
    assert transforms(page) == fitted
    page.screenshot(path=str(shots / "sidebyside-sync.png"), full_page=True)

    # Swipe: the divider follows the labelled range, by keyboard and by dragging on the picture.
    page.click("a[data-sbs-view=slider]")
    expect(page).to_have_url(re.compile(r"view=slider"))
    expect(page.locator("#sbs-slider")).to_be_visible()
    expect(page.locator("#sbs-sync")).to_be_hidden()
    over = page.locator("[data-swipe-over]")
    slider = page.get_by_label("Divider position (A on the left, B on the right)")
    start = over.evaluate("i => i.style.clipPath")
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    assert slider.input_value() == "60"
    assert over.evaluate("i => i.style.clipPath") != start and "40%" in over.evaluate("i => i.style.clipPath")
    stage = page.locator("[data-swipe]").bounding_box()
    page.mouse.move(stage["x"] + stage["width"] * 0.25, stage["y"] + stage["height"] / 2)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.2, stage["y"] + stage["height"] / 2, steps=3)
    page.mouse.up()
    assert 18 < float(slider.input_value()) < 22
    divider_left = page.locator("[data-swipe-divider]").evaluate("d => parseFloat(d.style.left)")
    assert 18 < divider_left < 22
    page.screenshot(path=str(shots / "sidebyside-swipe.png"))

    # Onion skin: image A's opacity follows its labelled range.
    page.click("a[data-sbs-view=onion]")
    onion = page.get_by_label("Opacity of image A over image B")
    onion.focus()
    page.keyboard.press("Home")
    assert page.locator("[data-onion-over]").evaluate("i => i.style.opacity") == "0"
    page.keyboard.press("End")
    assert page.locator("[data-onion-over]").evaluate("i => i.style.opacity") == "1"

    # Difference: the heat map loads and the hash distance is shown.
    page.click("a[data-sbs-view=diff]")
    heat = page.locator("img[data-diff-image]")
    expect(heat).to_be_visible()
    expect(heat).to_have_js_property("complete", True)
    assert heat.evaluate("i => i.naturalWidth") == 1024
    assert 0 <= int(page.locator("[data-phash]").inner_text()) <= 64
    expect(page.locator(".sbs-reading")).not_to_be_empty()
    page.screenshot(path=str(shots / "sidebyside-diff.png"), full_page=True)

    # Swap keeps the view; picking another pair needs no trip back.
    page.click("[data-sbs-swap]")
    expect(page).to_have_url(re.compile(rf"\?a={first}&b={second}&view=diff$"))
    expect(page.locator("#sbs-diff")).to_be_visible()

    # A phone, in dark mode: the panes stack, every control still there.
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    page.click("a[data-sbs-view=sync]")
    panes = page.locator(".sbs-pane").evaluate_all("ps => ps.map(p => p.getBoundingClientRect().toJSON())")
    assert panes[1]["top"] >= panes[0]["bottom"] and all(p["width"] > 300 for p in panes)
    stacked = transforms(page)
    width = page.locator(".sbs-viewport").first.evaluate("v => v.getBoundingClientRect().width")
    assert stacked[0] == stacked[1] and scale_of(stacked[0]) == pytest.approx(width / 1024, rel=0.01)  # fitted
    page.screenshot(path=str(shots / "sidebyside-phone-dark-top.png"))
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(15, 17, 23)"  # dark mode's --bg
    page.screenshot(path=str(shots / "sidebyside-phone-dark.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("a[data-sbs-view=diff]")
    page.screenshot(path=str(shots / "sidebyside-diff-dark.png"), full_page=True)
