"""The provider call is timed on the wire (providers/runner.py WireClock): from the moment its
first request starts going out to the last byte of its last answer. Our own work before (building
the request) and after (parsing JSON, decoding base64) is outside the window, and the window is
never shorter than what the server spent."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from providers import runner
from providers.base import (
    BadResponseError, Capabilities, GeneratedImage, ImageRequest, ImageResult, Provider, Route,
)

from tests.helpers import image_bytes

PNG = image_bytes()


class Server:
    """A loopback HTTP server: waits ``delay`` s before answering, and can send the body in two
    parts ``gap`` s apart. Records how long each request took on its side."""

    def __init__(self, delay=0.0, gap=0.0, body=PNG):
        self.delay, self.gap, self.body, self.server_s = delay, gap, body, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self):
                self.do_POST()

            def do_POST(self):
                arrived = time.perf_counter()
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                time.sleep(outer.delay)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                half = len(outer.body) // 2
                self.wfile.write(outer.body[:half])
                self.wfile.flush()
                time.sleep(outer.gap)
                self.wfile.write(outer.body[half:-1])
                self.wfile.flush()
                outer.server_s.append(time.perf_counter() - arrived)  # before the last byte: a lower bound
                self.wfile.write(outer.body[-1:])
                self.wfile.flush()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class Scripted(Provider):
    """generate = route.options["script"](client, base_url)."""

    slug = "scripted"
    name = "Scripted"

    def generate(self, request):
        return self.route.options["script"](self.client, self.route.options["base_url"])


def run(script, base_url="http://unused", client=None):
    route = Route("scripted:x", Scripted, "m", "Scripted", Capabilities(), {"script": script, "base_url": base_url})
    provider = route.build(client=client)
    return runner.execute(provider, ImageRequest("x"), allow_private_urls=True)


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as c:
        yield c


def test_the_window_ends_at_the_last_byte_not_after_our_parsing(client):
    with Server(delay=0.2) as server:

        def script(http, base):
            data = http.post(f"{base}/v1/images", json={"prompt": "x"}).content
            time.sleep(1.0)  # parsing a big JSON answer, decoding base64: our CPU, not the provider's
            return ImageResult(images=(GeneratedImage(data=data),))

        result = run(script, server.url, client)
    assert server.server_s[0] * 1000 <= result.timings.total_ms < 1000


def test_the_window_starts_when_the_request_goes_out_not_while_we_build_it(client):
    with Server(delay=0.1) as server:

        def script(http, base):
            time.sleep(0.8)  # building the request (reading reference images, multipart): ours
            data = http.post(f"{base}/v1/images", json={"prompt": "x"}).content
            return ImageResult(images=(GeneratedImage(data=data),))

        result = run(script, server.url, client)
    assert server.server_s[0] * 1000 <= result.timings.total_ms < 800


def test_a_body_that_arrives_slowly_is_timed_to_its_last_chunk(client):
    with Server(delay=0.05, gap=0.3, body=PNG * 40) as server:

        def script(http, base):
            return ImageResult(images=(GeneratedImage(data=http.get(f"{base}/img").content),))

        result = run(script, server.url, client)
    assert result.timings.total_ms >= server.server_s[0] * 1000 >= 300


def test_polls_and_downloads_are_all_inside_the_window_and_the_download_is_its_tail(client):
    with Server(delay=0.15) as server:

        def script(http, base):
            http.get(f"{base}/job")  # submit
            http.get(f"{base}/job")  # poll
            return ImageResult(images=(GeneratedImage(url=f"{base}/image.png"),))

        result = run(script, server.url, client)
    assert len(server.server_s) == 3
    assert result.timings.total_ms >= sum(server.server_s) * 1000
    assert server.server_s[2] * 1000 <= result.timings.download_ms <= result.timings.total_ms
    assert result.images[0].data == PNG


def test_a_transport_without_trace_events_is_timed_from_handing_over_the_request():
    def answer(request):
        time.sleep(0.2)
        return httpx.Response(200, content=PNG)

    with httpx.Client(transport=httpx.MockTransport(answer)) as mock:
        result = run(lambda http, base: ImageResult(images=(GeneratedImage(data=http.get("http://x/").content),)),
                     client=mock)
    assert 200 <= result.timings.total_ms < 1000


def test_a_call_without_http_is_timed_around_generate(client):
    def script(http, base):
        time.sleep(0.1)  # the sandbox draws its image after a simulated latency
        return ImageResult(images=(GeneratedImage(data=PNG),))

    assert run(script, client=client).timings.total_ms >= 100
    assert run(script, client=None).timings.total_ms >= 100


def test_a_failed_call_keeps_its_whole_window_and_the_hooks_are_removed(client):
    with Server(delay=0.0) as server:

        def script(http, base):
            http.get(f"{base}/job")
            time.sleep(0.3)
            raise BadResponseError("nothing usable")

        with pytest.raises(BadResponseError) as caught:
            run(script, server.url, client)
    assert caught.value.elapsed_ms >= 300
    assert client.event_hooks == {"request": [], "response": []}


def test_requests_made_by_another_thread_on_the_same_client_are_not_ours(client):
    with Server(delay=0.0) as server:
        other = []

        def script(http, base):
            data = http.get(f"{base}/mine").content
            time.sleep(0.3)
            thread = threading.Thread(target=lambda: other.append(http.get(f"{base}/theirs")))
            thread.start()
            thread.join()
            return ImageResult(images=(GeneratedImage(data=data),))

        result = run(script, server.url, client)
    assert other and result.timings.total_ms < 300
