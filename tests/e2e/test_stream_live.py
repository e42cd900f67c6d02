"""Results pushed, with the real stack (`manage.py serve`: uvicorn serving config.asgi, and its
Celery worker): the stream of a running comparison carries every result's end, and a results
page in Chromium shows them without polling while the stream is up."""

import json
import re

import httpx
import pytest

from providers.testing.stack import Stack

from tests.e2e.chromium.browser import log_in, screenshots

pytestmark = [pytest.mark.e2e]
ROUTES = ["sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:flaky"]
TERMINAL = {"succeeded", "failed", "timed_out", "cancelled"}
POLLING = re.compile(r"/results/\d+/card|/comparisons/\d+/summary|/comparisons/\d+/\?part=race|/comparisons/\d+/review")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("stream"), env={
        "SANDBOX_ROUTES": "fast=1-1.5; steady=1.5-2 presets; slow=3-4; flaky=1-1.5 fail=1"})
    stack.start()
    yield stack
    stack.stop()


def session(stack):
    """An httpx client logged in as the local account (the stream is a page's, not the API's)."""
    client = httpx.Client(base_url=stack.url, timeout=30)
    client.get("/login/")
    response = client.post("/login/", data={"username": "admin", "password": stack.local_password(),
                                            "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                           headers={"Referer": stack.url + "/login/"})
    assert response.status_code == 302, response.text
    return client


def test_the_stream_of_a_running_comparison_carries_every_results_end(stack):
    assert "Uvicorn running" in stack.logs()  # make run's web server is uvicorn now
    client = session(stack)
    created = stack.submit("a lighthouse, streamed", ROUTES)
    ends, ids = {}, []
    with client.stream("GET", f"/comparisons/{created['id']}/events?after=0") as response:
        assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
        event = {}
        for line in response.iter_lines():
            if line.startswith(("id: ", "event: ", "data: ")):
                key, value = line.split(": ", 1)
                event[key] = value
            elif not line and event:
                if event.get("event", "").startswith("result-"):
                    data = json.loads(event["data"])
                    ids.append(int(event["id"]))
                    if data["status"] in TERMINAL:
                        assert data["result"] not in ends, "a terminal state sent twice"
                        ends[data["result"]] = data["status"]
                if event.get("event") == "done":
                    break
                event = {}
    done = stack.wait_done(created["id"], timeout=30)
    assert ends == {r["id"]: r["status"] for r in done["results"]}
    assert set(ends.values()) == {"succeeded", "failed"}  # flaky fails; the rest succeed
    assert ids == sorted(ids)


@pytest.mark.browser
def test_the_results_page_updates_over_the_stream_without_polling(stack, page):
    from playwright.sync_api import expect

    log_in(page, stack)
    created = stack.submit("a lighthouse, watched", ROUTES)
    polls, streams = [], []
    page.on("request", lambda request: (polls if POLLING.search(request.url) else
                                        streams if "/events" in request.url else []).append(request.url))
    page.goto(f"{stack.url}/comparisons/{created['id']}/")
    expect(page.locator("article.card")).to_have_count(len(ROUTES))
    # Each with the stack's own time: flaky's three attempts and two backoffs take 4.5-9 s, up to
    # 6 s after slow's success (3-4 s), so the default 5 s after the third success was ~2% flaky.
    expect(page.locator("article.card.status-succeeded")).to_have_count(3, timeout=30_000)
    expect(page.locator("article.card.status-failed")).to_have_count(1, timeout=30_000)
    expect(page.locator("#summary")).to_contain_text("Done: 4 of 4 finished")
    assert len(streams) == 1, streams
    # The polling fallback sent nothing while the stream was up (at most one tick before it opened);
    # what the page fetched, it fetched because the stream said so: a few per change, not per 0.5 s.
    timed = [url for url in polls if "/card" in url]
    assert len(timed) <= 2 * len(ROUTES) + 4, polls
    first = page.locator("article.card.status-succeeded img").first
    expect(first).to_be_visible()
    page.screenshot(path=str(screenshots(stack) / "results-streamed.png"), full_page=True)
