import httpx
import pytest

from providers.testing.server import LoopbackServer

from compare.notifications import notifications


class Receiver:
    """A webhook receiver on 127.0.0.1: records each request (headers, raw body) and answers
    the next status of ``codes`` (then 200)."""

    def __init__(self, codes=()):
        self.codes = list(codes)
        self.requests = []

    def handle(self, request):
        self.requests.append(request)
        return httpx.Response(self.codes.pop(0) if self.codes else 200, text="ok")


@pytest.fixture
def receiver():
    fake = Receiver()
    with LoopbackServer(fake) as server:
        fake.url = server.url + "/hooks/ipc"
        yield fake


@pytest.fixture
def private_allowed(settings):
    """The loopback receiver is a private address: allowed, as for the local provider fakes."""
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    settings.SITE_URL = "https://compare.example.org"


@pytest.fixture
def tasks_inline(monkeypatch):
    """The notification tasks run at once in the test's thread (the unit tests' broker goes
    nowhere); each retry's countdown is kept in ``waits``."""
    waits = []

    def deliver_now(args, countdown=None):
        if countdown is not None:
            waits.append(countdown)
        notifications.deliver_webhook.run(*args)

    def mail_now(args, countdown=None):
        notifications.send_event_email.run(*args)

    monkeypatch.setattr(notifications.deliver_webhook, "apply_async", deliver_now)
    monkeypatch.setattr(notifications.send_event_email, "apply_async", mail_now)
    return waits
