"""The one HTTP choke point adapters use: send a request, map failures to the shared errors,
read JSON, keep our key on our own origin, and poll an asynchronous job under a deadline; and the
small helpers more than one adapter needs (comma-separated settings, reference links).

Retry policy is not here: a failed call raises with ``retryable`` set, and the caller decides.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import re
import time
from typing import Any, Callable, Mapping

import httpx

from .base import (AuthenticationError, BadResponseError, ContentPolicyError, GeneratedImage, ImageRequest,
                   InsufficientCreditError, InvalidRequestError, ProviderCancelledError, ProviderError,
                   ProviderTimeoutError, ProviderUnavailableError, RateLimitError)
from .outbound import same_origin

MAX_MESSAGE = 500


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from retry-after-ms, or retry-after as seconds or an HTTP date."""
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def error_message(response: httpx.Response) -> str:
    """The provider's own words from a JSON error body of any common shape, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:MAX_MESSAGE] or response.reason_phrase
    return _find_message(body)[:MAX_MESSAGE] or response.reason_phrase


def _find_message(body: Any) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "; ".join(filter(None, (_find_message(item) for item in body)))
    if isinstance(body, dict):
        for key in ("message", "msg", "detail", "error", "title", "failMsg", "errorMessage"):
            if body.get(key):
                found = _find_message(body[key])
                if found:
                    return found
    return ""


def error_for(status: int, message: str, *, retry_after_s: float | None = None) -> ProviderError:
    """The shared error type for an HTTP status (adapters refine with their own codes)."""
    if status in (401, 403):
        kind = AuthenticationError
    elif status == 402:
        kind = InsufficientCreditError
    elif status == 429:
        kind = RateLimitError
    elif status in (408, 504):
        kind = ProviderTimeoutError
    elif status >= 500:
        kind = ProviderUnavailableError
    elif status in (451,):
        kind = ContentPolicyError
    else:
        kind = InvalidRequestError
    return kind(f"HTTP {status}: {message}", status=status, retry_after=retry_after_s)


# Words that classify a message: lower-case substrings, or a compiled (case-insensitive) pattern.
Words = tuple[str, ...] | re.Pattern[str]


def mentions(message: str, words: Words) -> bool:
    """True when ``message`` contains one of ``words`` (lower-case substrings) or, for a compiled
    pattern, when the pattern finds something in it."""
    if isinstance(words, re.Pattern):
        return words.search(message) is not None
    lowered = message.lower()
    return any(word in lowered for word in words)


def failed_job_error(text: str, message: str | None = None, *, policy: Words = (), auth: Words = (),
                     credit: Words = (), rate_limit: Words = (), invalid: Words = ()) -> ProviderError:
    """The shared error for a job (task, prediction) the provider reports as failed, classified by
    the words of its error ``message`` (``text`` itself when not given), checked in this order: a
    content refusal, bad credentials, missing credit, a rate limit, an invalid request. Anything
    else is a failure another try may cure (ProviderUnavailableError). ``text`` is the error's own
    message."""
    message = text if message is None else message
    for words, kind in ((policy, ContentPolicyError), (auth, AuthenticationError), (credit, InsufficientCreditError),
                        (rate_limit, RateLimitError), (invalid, InvalidRequestError)):
        if words and mentions(message, words):
            return kind(text)
    return ProviderUnavailableError(text)


def raise_for_words(response: httpx.Response, *, policy: Words, credit: Words) -> None:
    """For providers whose error bodies carry no codes: a 400, 403 or 422 whose message has one of
    the ``policy`` words is a refusal (ContentPolicyError); a 402, or a 400 or 403 with one of the
    ``credit`` words, is missing credit (InsufficientCreditError). Anything else returns (``send``
    then maps the status)."""
    status = response.status_code
    message = error_message(response)
    text = f"HTTP {status}: {message}"
    if status in (400, 403, 422) and mentions(message, policy):
        raise ContentPolicyError(text, status=status)
    if status == 402 or (status in (400, 403) and mentions(message, credit)):
        raise InsufficientCreditError(text, status=status)


def send(client: httpx.Client, method: str, url: str, *,
         raise_for: Callable[[httpx.Response], None] | None = None, **kwargs) -> httpx.Response:
    """Send one request; a status >= 400 raises the mapped error (``raise_for`` may raise a more
    precise one first, from the provider's own error codes)."""
    response = client.request(method, url, **kwargs)
    if response.status_code >= 400:
        if raise_for is not None:
            raise_for(response)
        raise error_for(response.status_code, error_message(response), retry_after_s=retry_after(response.headers))
    return response


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:200].strip()
        raise BadResponseError(f"The provider answered HTTP {response.status_code} with non-JSON: {snippet!r}") from None


def reference_urls(request: ImageRequest) -> list[str]:
    """The reference images' public links, for protocols that fetch them by URL themselves
    (``Capabilities.edit_needs_public_url``): the runner has refused a request with a reference
    without one (``Provider.problems``)."""
    return [image.url for image in request.images]


def kept_headers(response: httpx.Response, names: tuple[str, ...]) -> dict[str, str]:
    """The answer's headers worth keeping with a result: those among ``names`` (lower-case)."""
    return {k: v for k, v in response.headers.items() if k.lower() in names}


def described_references(body: Mapping[str, Any], field: str, request: ImageRequest) -> dict[str, Any]:
    """``body`` as we keep it: the reference links in ``field``, when it has one, as
    ``InputImage.describe`` shows them (no signed query, no data: bytes)."""
    if field not in body:
        return dict(body)
    return {**body, field: [image.describe(url) for url, image in zip(body[field], request.images)]}


def decoded_image(b64_json: str, mime: str | None, who: str = "The provider") -> GeneratedImage:
    """An image sent as base64; BadResponseError ("{who}'s b64_json does not decode.") when it is not."""
    try:
        return GeneratedImage(data=base64.b64decode(b64_json), mime=mime)
    except (binascii.Error, ValueError):
        raise BadResponseError(f"{who}'s b64_json does not decode.") from None


def json_object(response: httpx.Response, who: str = "The provider") -> dict[str, Any]:
    """The answer's JSON object; BadResponseError ("{who}'s answer is not a JSON object.") for
    any other JSON, and as ``json_body`` for no JSON at all."""
    payload = json_body(response)
    if not isinstance(payload, dict):
        raise BadResponseError(f"{who}'s answer is not a JSON object.")
    return payload


def own_url(given: Any, base_url: str, path: str) -> str:
    """The URL an answer named (a status, result or cancel URL) if it is on ``base_url``'s origin;
    else ``base_url + path``, the documented URL built from our own base URL. Our key never goes
    to an origin an answer chose (and the transport checks every request again)."""
    if isinstance(given, str) and given and same_origin(given, base_url):
        return given
    return base_url + path


def comma_list(env: Mapping[str, str], *names: str) -> list[str]:
    """The entries of a comma-separated setting (the first of ``names`` that is set): stripped,
    empty ones skipped, in order, once each. The caller checks each entry's form."""
    text = next((env[name] for name in names if env.get(name)), "")
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


@contextlib.contextmanager
def jobs_exist_if(submitted: Callable[[], Any]):
    """For adapters that submit several jobs in a row: an error after the first was accepted is
    marked ``after_submit``, so the call is not retried (the accepted jobs may bill)."""
    try:
        yield
    except ProviderError as exc:
        if submitted():
            exc.after_submit = True
        raise


CHECK_RETRIES = 3  # consecutive transient failures of a status check tolerated while polling


def poll(check: Callable[[], Any], *, interval: float, deadline_at: float, clock: Callable[[], float],
         sleep: Callable[[float], None], max_interval: float | None = None, growth: float = 1.0,
         on_give_up: Callable[[], None] | None = None) -> Any:
    """See ``_poll``. Any error leaving it is marked ``after_submit``: the job exists at the
    provider, so the caller must not submit it again."""
    try:
        return _poll(check, interval=interval, deadline_at=deadline_at, clock=clock, sleep=sleep,
                     max_interval=max_interval, growth=growth, on_give_up=on_give_up)
    except ProviderError as exc:
        exc.after_submit = True
        raise


def _poll(check: Callable[[], Any], *, interval: float, deadline_at: float, clock: Callable[[], float],
          sleep: Callable[[float], None], max_interval: float | None, growth: float,
          on_give_up: Callable[[], None] | None) -> Any:
    """Call ``check`` until it returns something other than None, sleeping ``interval`` (growing
    by ``growth`` up to ``max_interval``) between calls. At the deadline, ``on_give_up`` runs
    (cancel the job at the provider) and ProviderTimeoutError is raised. When the user cancels
    (``sleep`` raises ProviderCancelledError), the job is cancelled at the provider the same way."""
    wait = interval
    failures = 0
    while True:
        try:
            outcome = check()
            failures = 0
        except ProviderError as exc:
            # A status check is a GET of an existing job: retrying it cannot bill twice.
            failures += 1
            if not exc.retryable or isinstance(exc, ProviderCancelledError) or failures > CHECK_RETRIES:
                raise
            outcome = None
            wait = max(wait, exc.retry_after or 0)
        except httpx.TransportError as exc:
            # A reset or timed-out check is as transient as a 5xx; past the retries it leaves as a
            # ProviderError (so ``poll`` marks it after_submit and the job is never submitted again).
            failures += 1
            if failures > CHECK_RETRIES:
                kind = ProviderTimeoutError if isinstance(exc, httpx.TimeoutException) else ProviderUnavailableError
                raise kind(f"Checking the provider's job failed {failures} times in a row "
                           f"({type(exc).__name__}).") from None
            outcome = None
        if outcome is not None:
            return outcome
        remaining = deadline_at - clock()
        if remaining <= 0:
            gave_up = _give_up(on_give_up)
            raise ProviderTimeoutError(f"The provider's job did not finish before our deadline{gave_up}.")
        try:
            sleep(min(wait, remaining))
        except ProviderCancelledError as exc:
            exc.message += _give_up(on_give_up)
            exc.args = (exc.message,)
            raise
        wait = min(wait * growth, max_interval or wait * growth)


def _give_up(on_give_up: Callable[[], None] | None) -> str:
    """Cancel the job at the provider if the protocol can; say what happened."""
    if on_give_up is None:
        return "; this provider has no cancel, so its job may still run (and bill)"
    try:
        on_give_up()
    except (ProviderError, httpx.HTTPError):
        return "; cancelling it at the provider failed"
    return "; we cancelled it at the provider"
