"""The results stream (compare/streams.py): what it sends, to whom, and that a reconnect resumes
it without losing or repeating an event. Behaviour only; the latency is measured in bench/."""

import asyncio
import json
import re
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient, Client

from compare.models import Comparison, Result, ResultEvent, Status
from compare.review.models import Verdict

from tests.compare import factories

pytestmark = pytest.mark.django_db(transaction=True)
TERMINAL = {"succeeded", "failed", "timed_out", "cancelled"}


def read_stream(user, url, headers=None, until="event: done", timeout=10.0):
    """The text of the stream at ``url`` as ``user`` (None: logged out), until ``until`` appears
    or the stream ends; and the response."""

    async def read():
        client = AsyncClient()
        if user is not None:
            await client.aforce_login(user)
        response = await client.get(url, headers=headers or {})
        if not response.streaming:
            return response, response.content.decode()
        text = ""
        iterator = aiter(response.streaming_content)
        try:
            while until not in text:
                chunk = await asyncio.wait_for(anext(iterator), timeout)
                text += chunk.decode() if isinstance(chunk, bytes) else chunk
        except StopAsyncIteration:
            pass
        finally:
            await iterator.aclose()
        return response, text

    return async_to_sync(read)()


def messages(text):
    """The stream's messages as dicts of their fields (comments left out)."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
                      and ": " in line)
        if "event" in fields:
            found.append(fields)
    return found


def result_messages(text):
    return [(int(m["id"]), m["event"], json.loads(m["data"]))
            for m in messages(text) if m["event"].startswith("result-")]


def run_all(comparison, statuses):
    """Claim and end each result of ``comparison`` in the given terminal statuses."""
    for result, status in zip(comparison.results.order_by("pk"), statuses):
        assert result.claim("test-worker")
        assert result.finish(status, error_code="" if status == Status.SUCCEEDED else "test")


def test_every_state_change_writes_one_event_row_in_order(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
    run_all(comparison, [Status.SUCCEEDED, Status.FAILED])
    rows = list(ResultEvent.objects.values_list("result_id", "status"))
    first, second = comparison.results.order_by("pk").values_list("pk", flat=True)
    assert rows == [(first, "running"), (first, "succeeded"), (second, "running"), (second, "failed")]


def test_the_event_row_is_written_in_the_transaction_of_the_change(alice, monkeypatch):
    """If the event cannot be written, the state change is rolled back with it: a page can never
    miss a change that happened."""
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    result = comparison.results.get()
    assert result.claim("w")

    def broken(*args, **kwargs):
        assert not connection.get_autocommit()  # inside the change's transaction
        raise RuntimeError("event table unavailable")

    monkeypatch.setattr(ResultEvent.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        result.finish(Status.SUCCEEDED)
    assert Result.objects.get(pk=result.pk).status == Status.RUNNING
    assert ResultEvent.objects.filter(status="succeeded").count() == 0


def test_cancel_writes_an_event_per_cancelled_and_per_asked_result(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
    running, queued = comparison.results.order_by("pk")
    assert running.claim("w")
    assert comparison.cancel() == (1, 1)
    assert list(ResultEvent.objects.filter(result=queued).values_list("status", flat=True)) == ["cancelled"]
    assert list(ResultEvent.objects.filter(result=running).values_list("status", flat=True)) == ["running", "running"]


def test_the_stream_delivers_each_terminal_state_once_and_in_order_and_resumes_after_last_event_id(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady", "sandbox:slow"])
    run_all(comparison, [Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT])
    url = f"/comparisons/{comparison.pk}/events"

    response, text = read_stream(alice, url)
    assert response["Content-Type"] == "text/event-stream"
    events = result_messages(text)
    ids = [event_id for event_id, _, _ in events]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 6
    terminal = [(data["result"], data["status"]) for _, _, data in events if data["status"] in TERMINAL]
    results = list(comparison.results.order_by("pk"))
    assert terminal == [(results[0].pk, "succeeded"), (results[1].pk, "failed"), (results[2].pk, "timed_out")]
    assert all(name == f"result-{data['result']}" for _, name, data in events)
    assert text.rstrip().endswith("event: done\ndata: {}")

    # The browser lost the connection after the first terminal event: it reconnects with that id
    # and gets the rest, each once, in order, and nothing before it.
    cut = next(event_id for event_id, _, data in events if data["status"] == "succeeded")
    _, again = read_stream(alice, url, headers={"Last-Event-ID": str(cut)})
    resumed = result_messages(again)
    assert "event: change" in again  # the page refreshes its summary after being away
    assert [e[0] for e in resumed] == [e for e in ids if e > cut]
    assert [(d["result"], d["status"]) for _, _, d in resumed if d["status"] in TERMINAL] == terminal[1:]


def test_a_live_stream_sends_changes_committed_after_it_opened(alice):
    """The hub follows the table: a result that ends while the stream is open reaches it."""
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
    first, second = comparison.results.order_by("pk")
    page_after = ResultEvent.latest_id([comparison.pk])

    async def scenario():
        client = AsyncClient()
        await client.aforce_login(alice)
        response = await client.get(f"/comparisons/{comparison.pk}/events?after={page_after}")
        iterator = aiter(response.streaming_content)
        text = (await asyncio.wait_for(anext(iterator), 10)).decode()  # the opening comment
        from asgiref.sync import sync_to_async

        await sync_to_async(run_all)(comparison, [Status.SUCCEEDED, Status.CANCELLED])
        try:
            while "event: done" not in text:
                text += (await asyncio.wait_for(anext(iterator), 10)).decode()
        finally:
            await iterator.aclose()
        return text

    text = async_to_sync(scenario)()
    statuses = [(d["result"], d["status"]) for _, _, d in result_messages(text)]
    assert statuses == [(first.pk, "running"), (first.pk, "succeeded"),
                        (second.pk, "running"), (second.pk, "cancelled")]
    assert "event: change" in text


def test_the_page_starts_the_stream_after_what_it_rendered(alice_client, alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
    first = comparison.results.order_by("pk").first()
    assert first.claim("w")
    html = alice_client.get(f"/comparisons/{comparison.pk}/").content.decode()
    after = ResultEvent.objects.get().pk
    assert f'sse-connect="/comparisons/{comparison.pk}/events?after={after}"' in html
    assert "htmx-ext-sse-2.2.4.min.js" in html and "js/stream.js" in html


def test_no_stream_for_another_team_or_a_logged_out_visitor(alice, bob):
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    run_all(comparison, [Status.SUCCEEDED])
    response, text = read_stream(bob, f"/comparisons/{comparison.pk}/events")
    assert response.status_code == 404 and "result-" not in text
    response, text = read_stream(None, f"/comparisons/{comparison.pk}/events")
    assert response.status_code == 302 and response["Location"].startswith("/login/") and "result-" not in text


def test_a_bad_last_event_id_is_a_400(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    response, text = read_stream(alice, f"/comparisons/{comparison.pk}/events", headers={"Last-Event-ID": "x1"})
    assert response.status_code == 400 and "Last-Event-ID" in text


def test_a_blind_comparisons_stream_names_no_route(alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast", "sandbox:steady"])
    Comparison.objects.filter(pk=comparison.pk).update(blind=True)
    run_all(comparison, [Status.SUCCEEDED, Status.FAILED])
    _, text = read_stream(alice, f"/comparisons/{comparison.pk}/events")
    assert len(result_messages(text)) == 4
    for secret in ("sandbox", "fast", "steady", "Sandbox"):
        assert secret not in text
    # The card it makes the page fetch is the masked one, as when polling.
    result = comparison.results.order_by("pk").first()
    client = Client()
    client.force_login(alice)
    card = client.get(f"/results/{result.pk}/card", headers={"HX-Request": "true"}).content.decode()
    assert "sandbox:fast" not in card and "blind" in card


def test_the_batch_stream_follows_every_comparison_of_the_batch(alice, alice_client):
    from compare.batches.models import Batch, BatchItem

    first = factories.comparison(alice, routes=["sandbox:fast"])
    second = factories.comparison(alice, routes=["sandbox:steady"])
    other = factories.comparison(alice, routes=["sandbox:slow"])
    batch = Batch.objects.create(team=first.team, name="b", created_by=alice, source="s", source_name="s")
    for position, comparison in enumerate([first, second]):
        BatchItem.objects.create(batch=batch, position=position, comparison=comparison)
    run_all(first, [Status.SUCCEEDED])
    run_all(other, [Status.SUCCEEDED])
    run_all(second, [Status.FAILED])
    _, text = read_stream(alice, f"/batches/{batch.pk}/events")
    followed = {d["comparison"] for _, _, d in result_messages(text)}
    assert followed == {first.pk, second.pk} and text.rstrip().endswith("event: done\ndata: {}")


def test_polling_still_works_as_the_fallback(alice_client, alice):
    """Without a stream the card and summary answer their polls as before: a running card keeps
    its polling, a finished one stops it (286)."""
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    result = comparison.results.get()
    assert result.claim("w")
    running = alice_client.get(f"/results/{result.pk}/card", headers={"HX-Request": "true"})
    assert running.status_code == 200
    assert re.search(rf'hx-trigger="every 500ms, sse:result-{result.pk}"', running.content.decode())
    result.finish(Status.SUCCEEDED)
    done = alice_client.get(f"/results/{result.pk}/card", headers={"HX-Request": "true"})
    assert done.status_code == 286 and f'hx-get="/results/{result.pk}/card"' not in done.content.decode()
    summary = alice_client.get(f"/comparisons/{comparison.pk}/summary", headers={"HX-Request": "true"})
    assert summary.status_code == 286


def test_the_reaper_prunes_old_event_rows(alice, settings):
    from datetime import timedelta

    from django.utils import timezone

    from compare import tasks

    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    run_all(comparison, [Status.SUCCEEDED])
    ResultEvent.objects.filter(status="running").update(created_at=timezone.now() - timedelta(days=2))
    tasks.reap_stale()
    assert list(ResultEvent.objects.values_list("status", flat=True)) == ["succeeded"]


@pytest.mark.services
def test_with_redis_a_change_reaches_the_stream_at_once_not_at_the_next_table_check(alice, settings):
    """EVENTS_URL: the worker's commit is announced on Redis and the hub reads the table then; the
    table check alone (every EVENTS_FALLBACK_SECONDS, here far longer than the test) is not needed."""
    from providers.testing.stack import reachable

    if not reachable("127.0.0.1", 6379):
        from tests.helpers import skip_or_fail

        skip_or_fail("Redis is not reachable at 127.0.0.1:6379", "REQUIRE_SERVICES")
    settings.EVENTS_URL = "redis://127.0.0.1:6379/15"
    settings.EVENTS_FALLBACK_SECONDS = 120
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    result = comparison.results.get()

    async def scenario():
        from asgiref.sync import sync_to_async

        client = AsyncClient()
        await client.aforce_login(alice)
        response = await client.get(f"/comparisons/{comparison.pk}/events?after=0")
        iterator = aiter(response.streaming_content)
        text = (await asyncio.wait_for(anext(iterator), 10)).decode()
        await asyncio.sleep(0.5)  # the hub has subscribed
        started = time.monotonic()
        await sync_to_async(run_all)(comparison, [Status.SUCCEEDED])
        try:
            while "event: done" not in text:
                text += (await asyncio.wait_for(anext(iterator), 20)).decode()
        finally:
            await iterator.aclose()
        return text, time.monotonic() - started

    text, took = async_to_sync(scenario)()
    assert [(d["result"], d["status"]) for _, _, d in result_messages(text)] == [
        (result.pk, "running"), (result.pk, "succeeded")]
    assert took < 60  # far under the 120 s table check: Redis woke the hub
