import httpx
import pytest

from providers import http
from providers.base import (
    AuthenticationError, BadResponseError, InsufficientCreditError, InvalidRequestError,
    ProviderCancelledError, ProviderTimeoutError, ProviderUnavailableError, RateLimitError,
)

from tests.helpers import FakeClock


def test_poll_returns_the_first_answer_and_waits_between_checks():
    clock, answers = FakeClock(), iter([None, None, "done"])
    assert http.poll(lambda: next(answers), interval=1, deadline_at=clock() + 60, clock=clock,
                     sleep=clock.sleep, growth=2, max_interval=3) == "done"
    assert clock.slept == [1, 2]


def test_poll_cancels_at_the_provider_when_the_deadline_passes():
    clock, cancelled = FakeClock(), []
    with pytest.raises(ProviderTimeoutError, match="we cancelled it at the provider"):
        http.poll(lambda: None, interval=5, deadline_at=clock() + 12, clock=clock, sleep=clock.sleep,
                  on_give_up=lambda: cancelled.append(True))
    assert cancelled == [True] and clock.slept == [5, 5, 2]


def test_poll_says_when_a_provider_cannot_cancel():
    clock = FakeClock()
    with pytest.raises(ProviderTimeoutError, match="no cancel, so its job may still run"):
        http.poll(lambda: None, interval=5, deadline_at=clock() + 1, clock=clock, sleep=clock.sleep)


def test_a_user_cancel_during_a_wait_cancels_the_job_at_the_provider():
    clock, cancelled = FakeClock(), []

    def sleep(seconds):
        raise ProviderCancelledError("Cancelled by the user while the provider was working")

    with pytest.raises(ProviderCancelledError, match="working; we cancelled it at the provider"):
        http.poll(lambda: None, interval=1, deadline_at=clock() + 60, clock=clock, sleep=sleep,
                  on_give_up=lambda: cancelled.append(True))
    assert cancelled == [True]


def test_a_failing_cancel_is_reported_not_raised():
    def refuse():
        raise httpx.ConnectError("down")

    clock = FakeClock()
    with pytest.raises(ProviderTimeoutError, match="cancelling it at the provider failed"):
        http.poll(lambda: None, interval=1, deadline_at=clock(), clock=clock, sleep=clock.sleep, on_give_up=refuse)


@pytest.mark.parametrize("headers,seconds", [
    ({"retry-after-ms": "1500"}, 1.5), ({"retry-after": "7"}, 7.0), ({}, None),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
])
def test_retry_after_reads_milliseconds_seconds_and_dates(headers, seconds):
    assert http.retry_after(httpx.Headers(headers)) == seconds


@pytest.mark.parametrize("body,message", [
    ({"error": {"message": "bad key"}}, "bad key"),
    ({"detail": [{"msg": "field required"}, {"msg": "too long"}]}, "field required; too long"),
    ({"title": "Unauthenticated"}, "Unauthenticated"),
])
def test_error_messages_are_found_in_every_common_envelope(body, message):
    assert http.error_message(httpx.Response(400, json=body)) == message


@pytest.mark.parametrize("status,kind,retryable", [
    (401, AuthenticationError, False), (402, InsufficientCreditError, False), (422, InvalidRequestError, False),
    (429, RateLimitError, True), (503, ProviderUnavailableError, True), (504, ProviderTimeoutError, True),
])
def test_statuses_map_to_the_shared_errors(status, kind, retryable):
    error = http.error_for(status, "words")
    assert isinstance(error, kind) and error.retryable is retryable and error.message == f"HTTP {status}: words"


def test_a_transient_failure_of_a_status_check_is_retried_not_fatal():
    clock, answers = FakeClock(), iter([ProviderUnavailableError("HTTP 502", status=502), None, "done"])

    def check():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert http.poll(check, interval=1, deadline_at=clock() + 60, clock=clock, sleep=clock.sleep) == "done"


def test_errors_leaving_a_poll_are_marked_as_after_submit():
    clock = FakeClock()

    def check():
        raise ProviderUnavailableError("HTTP 503", status=503)

    with pytest.raises(ProviderUnavailableError) as caught:
        http.poll(check, interval=1, deadline_at=clock() + 60, clock=clock, sleep=clock.sleep)
    assert caught.value.after_submit and clock.slept == [1, 1, 1]  # three retried checks, then it gives up


QUEUE = "https://queue.fal.run"


@pytest.mark.parametrize("given,expected", [
    (f"{QUEUE}/openai/gpt-image-2/requests/r1/status", f"{QUEUE}/openai/gpt-image-2/requests/r1/status"),
    ("https://queue.fal.run:443/x", "https://queue.fal.run:443/x"),
    ("https://QUEUE.fal.run/x", "https://QUEUE.fal.run/x"),
    ("http://queue.fal.run/x", f"{QUEUE}/ours"),  # another scheme is another origin
    ("https://queue.fal.run:8443/x", f"{QUEUE}/ours"),
    ("https://queue.fal.run.evil.example/x", f"{QUEUE}/ours"),
    ("https://evil.example@169.254.169.254/x", f"{QUEUE}/ours"),
    ("//169.254.169.254/x", f"{QUEUE}/ours"),
    ("file:///etc/passwd", f"{QUEUE}/ours"),
    (None, f"{QUEUE}/ours"), (42, f"{QUEUE}/ours"), ("", f"{QUEUE}/ours"),
])
def test_a_url_an_answer_names_is_followed_only_on_our_own_origin(given, expected):
    assert http.own_url(given, QUEUE, "/ours") == expected


def test_json_object_refuses_other_json_in_the_providers_name():
    assert http.json_object(httpx.Response(200, json={"id": "x"})) == {"id": "x"}
    with pytest.raises(BadResponseError, match="^Pixazo's answer is not a JSON object.$"):
        http.json_object(httpx.Response(200, json=["x"]), "Pixazo")
    with pytest.raises(BadResponseError, match="non-JSON"):
        http.json_object(httpx.Response(200, text="<html>"))


def test_a_comma_list_is_stripped_without_empties_or_repeats_from_the_first_name_set():
    env = {"MODELS": " a/b , ,c/d,a/b,", "FALLBACK": "e/f"}
    assert http.comma_list(env, "MODELS", "FALLBACK") == ["a/b", "c/d"]
    assert http.comma_list(env, "UNSET", "FALLBACK") == ["e/f"]
    assert http.comma_list({}, "MODELS") == []
