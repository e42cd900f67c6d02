from decimal import Decimal

import httpx
import pytest

from providers import runner
from providers.base import (
    BadResponseError, Capabilities, GeneratedImage, ImageRequest, ImageResult, Provider,
    ProviderTimeoutError, ProviderUnavailableError, Route, Timings,
)

from tests.helpers import FakeClock, image_bytes


class OneShot(Provider):
    """A provider that returns (or raises) whatever the test gives it, using the injected client."""

    slug = "oneshot"
    name = "One shot"

    def generate(self, request):
        outcome = self.route.options["outcome"]
        if callable(outcome):
            return outcome(self.client)
        return outcome


def build(outcome, transport=None):
    route = Route("oneshot:test", OneShot, "test", "One shot", Capabilities(), {"outcome": outcome})
    client = httpx.Client(transport=transport) if transport else None
    return route.build(client=client)


def failing_closed(handlers):
    """A MockTransport that answers only the requests it was told about."""

    def handle(request):
        key = (request.method, str(request.url))
        if key not in handlers:
            raise AssertionError(f"unexpected request {key}")
        return handlers[key](request)

    return httpx.MockTransport(handle)


def test_it_times_the_call_and_keeps_the_providers_own_timings():
    outcome = ImageResult(images=(GeneratedImage(data=image_bytes()),), timings=Timings(provider_generation_ms=12.0))
    result = runner.execute(build(outcome), ImageRequest("x"))
    assert result.timings.total_ms > 0
    assert result.timings.provider_generation_ms == 12.0
    assert result.timings.download_ms is None


def test_it_downloads_url_images_with_the_injected_client_and_times_the_download():
    png = image_bytes()
    transport = failing_closed({("GET", "http://127.0.0.1/img/1.png"):
                                lambda r: httpx.Response(200, content=png, headers={"content-type": "image/png"})})
    outcome = ImageResult(images=(GeneratedImage(url="http://127.0.0.1/img/1.png"),))
    result = runner.execute(build(outcome, transport), ImageRequest("x"), allow_private_urls=True)
    assert result.images[0].data == png and result.images[0].mime == "image/png"
    assert 0 <= result.timings.download_ms <= result.timings.total_ms


def test_a_failed_download_is_a_bad_response():
    transport = failing_closed({("GET", "http://127.0.0.1/gone.png"): lambda r: httpx.Response(404)})
    outcome = ImageResult(images=(GeneratedImage(url="http://127.0.0.1/gone.png"),))
    with pytest.raises(BadResponseError, match="HTTP 404"):
        runner.execute(build(outcome, transport), ImageRequest("x"), allow_private_urls=True)


def test_an_image_over_the_cap_is_refused_while_downloading():
    transport = failing_closed({("GET", "http://127.0.0.1/big.png"): lambda r: httpx.Response(200, content=b"x" * 5000)})
    outcome = ImageResult(images=(GeneratedImage(url="http://127.0.0.1/big.png"),))
    with pytest.raises(BadResponseError, match="cap"):
        runner.execute(build(outcome, transport), ImageRequest("x"), max_image_bytes=1000, allow_private_urls=True)


def test_an_answer_without_images_is_a_bad_response_with_its_elapsed_time():
    with pytest.raises(BadResponseError, match="without any image") as caught:
        runner.execute(build(ImageResult(images=())), ImageRequest("x"))
    assert caught.value.elapsed_ms >= 0


def test_transport_timeouts_and_connection_errors_become_retryable_provider_errors():
    def timeout(client):
        raise httpx.ReadTimeout("slow")

    def refused(client):
        raise httpx.ConnectError("refused")

    with pytest.raises(ProviderTimeoutError) as caught:
        runner.execute(build(timeout), ImageRequest("x"))
    assert caught.value.retryable and caught.value.elapsed_ms is not None
    with pytest.raises(ProviderUnavailableError):
        runner.execute(build(refused), ImageRequest("x"))


def test_reported_usage_passes_through_unchanged():
    from providers.base import Usage

    outcome = ImageResult(images=(GeneratedImage(data=image_bytes()),), usage=Usage(cost_usd=Decimal("0.053"), basis="billed"))
    assert runner.execute(build(outcome), ImageRequest("x")).usage.cost_usd == Decimal("0.053")


def test_production_downloads_refuse_plain_http_and_local_addresses():
    outcome = ImageResult(images=(GeneratedImage(url="http://example.com/a.png"),))
    with pytest.raises(BadResponseError, match="plain-http"):
        runner.execute(build(outcome, failing_closed({})), ImageRequest("x"))
    outcome = ImageResult(images=(GeneratedImage(url="https://127.0.0.1/a.png"),))
    with pytest.raises(BadResponseError, match="private or local"):
        runner.execute(build(outcome, failing_closed({})), ImageRequest("x"))


def test_every_redirect_hop_is_checked_and_hops_are_limited():
    png = image_bytes()
    transport = failing_closed({
        ("GET", "http://127.0.0.1/a"): lambda r: httpx.Response(302, headers={"location": "/b"}),
        ("GET", "http://127.0.0.1/b"): lambda r: httpx.Response(200, content=png),
        ("GET", "http://127.0.0.1/loop"): lambda r: httpx.Response(302, headers={"location": "/loop"}),
    })
    outcome = ImageResult(images=(GeneratedImage(url="http://127.0.0.1/a"),))
    assert runner.execute(build(outcome, transport), ImageRequest("x"), allow_private_urls=True).images[0].data == png
    outcome = ImageResult(images=(GeneratedImage(url="http://127.0.0.1/loop"),))
    with pytest.raises(BadResponseError, match="redirected more than"):
        runner.execute(build(outcome, transport), ImageRequest("x"), allow_private_urls=True)


def test_data_urls_are_decoded_without_any_request():
    import base64

    png = image_bytes()
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    result = runner.execute(build(ImageResult(images=(GeneratedImage(url=url),))), ImageRequest("x"))
    assert result.images[0].data == png and result.images[0].mime == "image/png"


class Sequence(Provider):
    """Answers with each outcome in turn (an exception is raised); counts its calls."""

    slug = "sequence"
    name = "Sequence"

    def generate(self, request):
        outcome = self.route.options["outcomes"].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def sequence(*outcomes, deadline=600):
    route = Route("sequence:test", Sequence, "test", "Sequence", Capabilities(), {"outcomes": list(outcomes)})
    provider = route.build(deadline=deadline)
    clock = FakeClock()
    provider.clock, provider.sleep, provider.waits = clock, clock.sleep, clock.slept
    return provider


def image_result():
    return ImageResult(images=(GeneratedImage(data=image_bytes()),))


def test_a_refusal_before_any_job_is_retried_with_backoff_honouring_retry_after():
    from providers.base import RateLimitError

    provider = sequence(RateLimitError("HTTP 429: slow down", status=429, retry_after=7.0),
                        ProviderUnavailableError("HTTP 503: busy", status=503), image_result())
    result = runner.execute(provider, ImageRequest("x"), max_attempts=3, backoff_base=1.0, jitter=lambda: 0.5)
    assert [a["status"] for a in result.attempts] == [429, 503]
    assert provider.waits == [7.0, 2.0]  # Retry-After first, then 1 s x 2^1
    assert result.attempts[0]["waited_ms"] == 7000.0 and result.timings.total_ms < 1000


@pytest.mark.parametrize("error", [
    ProviderTimeoutError("read timeout"),  # may have been billed
    ProviderUnavailableError("HTTP 503 after the job was accepted", status=503),
])
def test_what_could_bill_twice_is_never_retried(error):
    error.after_submit = "accepted" in error.message
    provider = sequence(error, image_result())
    with pytest.raises(type(error)) as caught:
        runner.execute(provider, ImageRequest("x"), max_attempts=3)
    assert provider.waits == [] and len(caught.value.attempts) == 1


def test_retries_stop_at_the_deadline_and_the_error_lists_every_attempt():
    from providers.base import RateLimitError

    provider = sequence(RateLimitError("HTTP 429", status=429, retry_after=50.0),
                        RateLimitError("HTTP 429", status=429, retry_after=50.0), image_result(), deadline=60)
    with pytest.raises(RateLimitError) as caught:
        runner.execute(provider, ImageRequest("x"), max_attempts=3, jitter=lambda: 0.5)
    assert provider.waits == [50.0] and [a["attempt"] for a in caught.value.attempts] == [1, 2]
