"""The overall deadline of one provider call: every request's timeouts are capped at the time
left, a body still dripping when it passes is cut off, and each route's default follows quality."""

import httpx
import pytest

from providers import registry, runner
from providers.base import ImageRequest, ProviderTimeoutError
from providers.deadline import DeadlineTransport


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Drip(httpx.SyncByteStream):
    """A body that arrives a byte at a time, each byte `step` seconds after the last."""

    def __init__(self, clock, step, size=1000):
        self.clock, self.step, self.size = clock, step, size

    def __iter__(self):
        for _ in range(self.size):
            self.clock.now += self.step
            yield b"x"


def client_with(handler, clock, seconds):
    return httpx.Client(transport=DeadlineTransport(httpx.MockTransport(handler), clock() + seconds, clock=clock),
                        timeout=httpx.Timeout(300, connect=10))


def test_each_request_gets_at_most_the_time_left():
    clock = Clock()
    seen = []

    def handler(request):
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    client = client_with(handler, clock, 60)
    client.get("https://provider.test/a")
    clock.now += 45
    client.get("https://provider.test/b")
    assert seen[0]["read"] == 60 and seen[0]["connect"] == 10
    assert seen[1]["read"] == 15 and seen[1]["connect"] == 10 and seen[1]["pool"] == 15


def test_a_drip_that_outlasts_the_deadline_is_cut_off():
    clock = Clock()
    client = client_with(lambda request: httpx.Response(200, stream=Drip(clock, step=1.0)), clock, 30)
    with pytest.raises(httpx.ReadTimeout, match="still arriving"):
        client.get("https://provider.test/slow")
    assert clock.now - 100.0 <= 31  # stopped at the first byte past the deadline, not after 1000 s


def test_an_answer_within_the_deadline_is_untouched():
    clock = Clock()
    client = client_with(lambda request: httpx.Response(200, stream=Drip(clock, step=0.01, size=100)), clock, 30)
    assert client.get("https://provider.test/ok").content == b"x" * 100


def test_a_request_after_the_deadline_gets_only_the_grace_to_clean_up():
    """Cancelling a job at the provider happens after the deadline: it gets `grace` seconds."""
    clock = Clock()
    seen = []

    def handler(request):
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, stream=Drip(clock, step=1.0, size=100))

    client = client_with(handler, clock, 5)
    clock.now += 6
    with pytest.raises(httpx.ReadTimeout, match="still arriving"):
        client.put("https://provider.test/cancel")
    assert seen[0]["read"] == 10 and clock.now - 106 <= 11


def test_the_runner_reports_a_drip_past_the_deadline_as_timed_out():
    from providers.testing.openai import FakeOpenAI

    clock = Clock()
    fake = FakeOpenAI(api_key="sk-test")

    def handler(request):
        answer = fake.handle(request)
        return httpx.Response(answer.status_code, headers=answer.headers, stream=Drip(clock, step=2.0, size=50))

    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "https://api.openai.test/v1"}
    route = registry.get_route("openai:gpt-image-2", env)
    provider = route.build(client=client_with(handler, clock, 20), env=env, deadline=20)
    provider.clock = clock
    with pytest.raises(ProviderTimeoutError) as caught:
        runner.execute(provider, ImageRequest(prompt="a fox", quality="low"), max_attempts=3)
    assert caught.value.attempts and len(fake.calls) == 1  # a timeout may have billed: never retried


@pytest.mark.parametrize("quality, n, edit, seconds", [
    ("low", 1, False, 90), ("medium", 1, False, 120), ("high", 1, False, 180), ("auto", 1, False, 180),
    ("high", 3, False, 240), ("high", 1, True, 210), ("high", 20, True, 600),
])
def test_a_routes_default_deadline_follows_quality_images_and_edits(quality, n, edit, seconds):
    from providers.base import InputImage

    route = registry.get_route("openai:gpt-image-2", {"OPENAI_API_KEY": "sk-test"})
    images = (InputImage(data=b"png", mime="image/png", filename="a.png"),) if edit else ()
    assert route.default_deadline(ImageRequest(prompt="x", quality=quality, n=n, images=images)) == seconds
