"""Attacks on where the workers' requests go: a provider's answer naming another origin for its
polling URLs, a host name that resolves to a public address when checked and to a private one
when connected to (DNS rebinding), a team base URL on plain http or a private address. Loopback
servers stand in for the attacker's host and for the internal service it aims at."""

import socket
import threading

import httpx
import pytest

from providers import fal
from providers.base import ImageRequest
from providers.testing.fal import FakeFal
from providers.testing.openai import FakeOpenAI
from providers.testing.server import LoopbackServer
from providers.urls import check_download_url

from compare.engine import clients, execution
from compare.models import Result
from compare.teams import crypto
from compare.teams.models import Team, TeamCredential

from tests.compare import factories

SERVER_KEY = "sk-the-servers-own-openai-key-QZXW"
TEAM_KEY = "sk-the-teams-own-openai-key-7777"
FAL_KEY = "fal-the-servers-key-5150"
INTERNAL = "internal metadata: role credentials AKIA-SHOULD-NEVER-SHOW"


class Capture:
    """The attacker's (or an internal) host: records every request and answers with internal text."""

    def __init__(self):
        self.requests, self.lock = [], threading.Lock()

    def handle(self, request):
        with self.lock:
            self.requests.append({"url": str(request.url), "headers": dict(request.headers)})
        return httpx.Response(200, json={"status": "COMPLETED", "images": [], "detail": INTERNAL})


class Hostile:
    """fal's queue, except that its submit answer names the attacker's host for every handle URL."""

    def __init__(self, fal_fake, attacker_url):
        self.fal, self.attacker_url = fal_fake, attacker_url

    def handle(self, request):
        response = self.fal.handle(request)
        if request.method == "POST" and response.status_code == 200:
            job = response.json()
            for name in ("status_url", "response_url", "cancel_url"):
                job[name] = f"{self.attacker_url}/steal/{name}"
            return httpx.Response(200, json=job)
        return response


class Listener:
    """A TCP port that counts the connections it accepts (and closes them): what a worker reached."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


def rebinding(monkeypatch, host, *, first="93.184.216.34", then="127.0.0.1"):
    """``host`` resolves to a public address the first time it is asked, to ``then`` after that
    (an attacker's DNS with a zero TTL); every other name resolves as usual."""
    real = socket.getaddrinfo
    asked = []

    def resolve(name, port, *args, **kwargs):
        if name != host:
            return real(name, port, *args, **kwargs)
        address = first if not asked else then
        asked.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return resolve


def test_fal_status_url_on_another_origin_is_refused():
    fal_fake, capture = FakeFal(api_key=FAL_KEY), Capture()
    with LoopbackServer(capture) as attacker:
        with LoopbackServer(Hostile(fal_fake, attacker.url)) as queue:
            env = {"FAL_KEY": FAL_KEY, "FAL_QUEUE_BASE_URL": queue.url}
            with httpx.Client() as client:
                provider = fal.routes(env)[0].build(client=client, env=env)
                provider.sleep = lambda seconds: None
                result = provider.generate(ImageRequest(prompt="a fox", quality="low"))
    assert capture.requests == []  # neither the key nor a request went to the origin the answer named
    assert result.images and INTERNAL not in repr(result)
    assert {call["path"].split("/requests/")[0] for call in fal_fake.calls} == {"/openai/gpt-image-2"}


@pytest.mark.django_db
def test_fal_response_url_text_never_reaches_the_card(alice, settings, monkeypatch):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True  # both servers are on loopback
    fal_fake, capture = FakeFal(api_key=FAL_KEY, scenario=None), Capture()
    with LoopbackServer(capture) as attacker, LoopbackServer(Hostile(fal_fake, attacker.url)) as queue:
        monkeypatch.setenv("FAL_KEY", FAL_KEY)
        monkeypatch.setenv("FAL_QUEUE_BASE_URL", queue.url)
        result = factories.comparison(alice, routes=["fal:openai/gpt-image-2"]).results.get()
        execution.execute_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert capture.requests == []
    assert result.status == "succeeded" and INTERNAL not in repr((result.error, result.notes, result.usage))


def test_dns_rebinding_is_checked_at_connect_time(settings, monkeypatch, listener):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    resolve = rebinding(monkeypatch, "rebind.test")
    url = f"https://rebind.test:{listener.port}/image.png"
    check_download_url(url, allow_private=False, resolve=resolve)  # the early check sees a public address
    with clients.http_client(30) as client, pytest.raises(Exception) as raised:
        client.get(url)
    assert listener.accepted == 0  # the connection went to no address that was not checked
    assert getattr(raised.value, "code", None) == "refused_destination"
    assert "private or local" in str(raised.value)


@pytest.mark.django_db
def test_a_team_base_url_rebound_to_a_private_address_is_refused_at_connect_time(alice, settings, monkeypatch,
                                                                                listener):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    team = Team.personal_for(alice)
    # Saved while the name resolved to a public address (the save-time check passed then).
    for name, value in (("OPENAI_API_KEY", TEAM_KEY), ("OPENAI_BASE_URL", f"https://evil.test:{listener.port}/v1")):
        TeamCredential.objects.create(team=team, name=name, ciphertext=crypto.encrypt(value), last4=value[-4:])
    rebinding(monkeypatch, "evil.test", first="127.0.0.1")
    result = factories.comparison(alice, routes=["openai:gpt-image-2"]).results.get()
    execution.execute_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert listener.accepted == 0
    assert result.status == "failed" and result.error_code == "refused_destination"


@pytest.mark.django_db
def test_a_stored_plain_http_team_base_url_gets_no_request_when_private_urls_are_off(alice, settings, monkeypatch):
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    capture = Capture()
    team = Team.personal_for(alice)
    with LoopbackServer(capture) as attacker:
        for name, value in (("OPENAI_API_KEY", TEAM_KEY), ("OPENAI_BASE_URL", attacker.url + "/v1")):
            TeamCredential.objects.create(team=team, name=name, ciphertext=crypto.encrypt(value), last4=value[-4:])
        result = factories.comparison(alice, routes=["openai:gpt-image-2"]).results.get()
        execution.execute_result(result.pk)
    result = Result.objects.get(pk=result.pk)
    assert capture.requests == []
    assert result.error_code == "refused_destination" and "plain http" in result.error


@pytest.mark.django_db
def test_a_server_configured_private_base_url_is_trusted_config(alice, settings, monkeypatch):
    """Not an attack: the server's own base URL (a relay on its network) is used with the switch off."""
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    fake = FakeOpenAI(api_key=SERVER_KEY)
    with LoopbackServer(fake) as relay:
        monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", relay.url + "/v1")
        result = factories.comparison(alice, routes=["openai:gpt-image-2"]).results.get()
        execution.execute_result(result.pk)
    assert Result.objects.get(pk=result.pk).status == "succeeded"
    assert fake.calls and fake.calls[-1]["headers"]["authorization"] == f"Bearer {SERVER_KEY}"


def test_loopback_is_reached_only_with_the_switch_on(listener, settings):
    """ALLOW_PRIVATE_PROVIDER_URLS is the one switch for loopback and private targets."""
    url = f"http://127.0.0.1:{listener.port}/"
    settings.ALLOW_PRIVATE_PROVIDER_URLS = False
    with clients.http_client(30) as client, pytest.raises(Exception) as raised:
        client.get(url)
    assert getattr(raised.value, "code", None) == "refused_destination" and listener.accepted == 0
    settings.ALLOW_PRIVATE_PROVIDER_URLS = True
    with clients.http_client(30) as client, pytest.raises(httpx.TransportError):
        client.get(url)  # the listener hangs up without answering: but it was reached
    assert listener.accepted == 1
