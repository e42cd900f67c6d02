"""The loopback provider the benchmarks talk to: providers/testing/openai.py's FakeOpenAI (the OpenAI
Images protocol, which every `compatible:*` route speaks), with

- a server-side delay per request chosen from its body: ``plan[(prompt, model)]`` seconds
  (every route of a comparison sends the same prompt, and each bench route has its own model
  name, so one comparison can hold 20 different delays);
- a record per request of when it arrived (request line and headers read) and when its last byte
  was written, on the wall clock (to compare with submit times and the page's poller, all in
  this process) and on perf_counter (server-side duration, compared with our latency_ms:
  ``server_ms`` ends just before the last byte is handed to the socket, the earliest moment the
  client could have read it, so a correct client window is never shorter);
- images drawn once per (size, format, kind) and cached, so the fake's own CPU does not queue
  answers behind one another; prompts containing ``[photo]`` get a photo-like image (mandelbrot
  + noise + gradient: ~1.4 MB PNG at 1024x1024, like a real gpt-image PNG) instead of a flat one.

The fake runs in a process of its own (``RemoteFake`` starts ``python -m bench.fake``), so that
its timestamps are not delayed by the bench's pollers and samplers competing for one GIL; the
bench sets delays and reads records through ``/_bench/...`` endpoints on the same server.

It is served by uvicorn (a pinned dependency) on one asyncio event loop, not by
providers/testing/server.py's thread per connection: at 1,000 calls at once that server's single
accepting thread and its 1,000 sleeping threads were the floor's own bottleneck (the plain
asyncio.gather was 0.8 s late at the fake, not at our engine). The delay is an ``asyncio.sleep``;
FakeOpenAI builds the answer after it (delay 0). The listen backlog is 2048, so a burst of
connects never waits for a SYN retransmit.
"""

import asyncio
import functools
import io
import json
import socket
import threading
import time

import httpx
import uvicorn
from PIL import Image, ImageChops

import providers.testing.openai as fake_openai_module
from providers.testing.openai import FakeOpenAI

API_KEY = "sk-bench-fake-key"
DEFAULT_DELAY = 1.0

_original_image_or_garbage = fake_openai_module.image_or_garbage


@functools.lru_cache(maxsize=64)
def photo_like(width, height, fmt="png"):
    """A photo-like image: structure (mandelbrot), grain (noise) and a colour gradient."""
    m = Image.effect_mandelbrot((width, height), (-2.2, -1.3, 1.0, 1.3), 100)
    n = Image.effect_noise((width, height), 12)
    g = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (ImageChops.add(m, n, 2.0, 0), ImageChops.blend(m, g, 0.5), ImageChops.add(g, n, 2.0, 0)))
    out = io.BytesIO()
    image.save(out, {"jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG"))
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _flat(width, height, fmt):
    return _original_image_or_garbage(None, width, height, fmt, "bench")


def cached_image_or_garbage(scenario, width, height, fmt, text="", **style):
    if scenario == "garbage":
        return _original_image_or_garbage(scenario, width, height, fmt, text)
    if "[photo]" in text:
        return photo_like(width, height, fmt)
    return _flat(width, height, fmt)


# The bench process is the only user of this module object: drawing once per size is a property
# of the bench's fake, not a change to the test fakes' behaviour in the test suite.
fake_openai_module.image_or_garbage = cached_image_or_garbage


class BenchFake:
    def __init__(self):
        self.plan = {}  # (prompt, model) -> seconds
        self.records = []
        self.lock = threading.Lock()
        self.active = 0  # requests being served right now (arrived, last byte not yet written)
        self.peak_active = 0
        self.fake = FakeOpenAI(api_key=API_KEY)  # the delay is the event loop's sleep, see __call__
        self.url = None

    def _delay(self, body):
        if not isinstance(body, dict):
            return DEFAULT_DELAY
        return self.plan.get((body.get("prompt"), body.get("model")), DEFAULT_DELAY)

    def routes_config(self, count, prefix="b"):
        """COMPATIBLE_ROUTES for `count` routes, compatible:{prefix}{i}, model bench-{i}."""
        return json.dumps([{"name": f"{prefix}{i}", "base_url": f"{self.url}/v1", "model": f"bench-{i}",
                            "api_key_env": "BENCH_FAKE_KEY", "price_as": "openai:gpt-image-2"}
                           for i in range(count)])

    @staticmethod
    def route_key(i, prefix="b"):
        return f"compatible:{prefix}{i}"

    @staticmethod
    def model(i):
        return f"bench-{i}"

    def records_for(self, prompt):
        with self.lock:
            return [r for r in self.records if r["prompt"] == prompt]

    # --- serving -----------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        """The ASGI app: the ``/_bench/...`` control endpoints, or a call for the OpenAI fake,
        counted in flight from its arrival (request line and headers read) until its last byte is
        handed to the socket, and recorded then on the server's clocks."""
        if scope["type"] != "http":
            return
        arrived_wall, arrived = time.time(), time.perf_counter()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        request = httpx.Request(scope["method"], f"http://127.0.0.1{scope['path']}", headers=headers, content=body)
        if scope["path"].startswith("/_bench/"):
            answer = json.dumps(self._control(scope["path"], json.loads(body or b"null"))).encode()
            await respond(send, 200, [(b"content-type", b"application/json")], answer)
            return
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
        with self.lock:
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
        try:
            await asyncio.sleep(self._delay(parsed))
            response = self.fake.handle(request)
            content = response.read()
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
                       if k.lower() not in ("content-length", "transfer-encoding", "connection")]
            last_byte = await respond(send, response.status_code, headers, content)
        finally:
            with self.lock:
                self.active -= 1
        with self.lock:
            self.records.append({
                "prompt": parsed.get("prompt"), "model": parsed.get("model"), "status": response.status_code,
                "arrived_wall": arrived_wall, "done_wall": time.time(),
                "server_ms": (last_byte - arrived) * 1000, "server_done_ms": (time.perf_counter() - arrived) * 1000,
                "delay": self._delay(parsed), "bytes": len(content)})

    def _control(self, path, body):
        with self.lock:
            if path == "/_bench/plan":
                for prompt, model, seconds in body:
                    self.plan[(prompt, model)] = seconds
                return {"ok": True}
            if path == "/_bench/records":
                return [r for r in self.records if r["prompt"] == body["prompt"]]
            if path == "/_bench/peak":
                answer = {"active": self.active, "peak": self.peak_active}
                if body and body.get("reset"):
                    self.peak_active = self.active
                return answer
        return {"error": "unknown"}

    def serve(self, ready):
        """Serve on 127.0.0.1 (a free port) until SIGTERM; ``ready(url)`` once it listens."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % sock.getsockname()[1]
        config = uvicorn.Config(self, loop="asyncio", http="h11", lifespan="off", access_log=False,
                                log_level="warning", backlog=2048, timeout_keep_alive=60,
                                timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)

        async def main():
            task = asyncio.ensure_future(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            ready(self.url)
            await task

        asyncio.run(main())  # uvicorn stops on SIGTERM (its own handler)


async def respond(send, status, headers, content):
    """Send one answer, its last byte on its own: returns the perf_counter just before that byte
    was handed to the transport (the earliest a client could have read it all)."""
    await send({"type": "http.response.start", "status": status,
                "headers": headers + [(b"content-length", str(len(content)).encode())]})
    if len(content) > 1:
        await send({"type": "http.response.body", "body": content[:-1], "more_body": True})
    last_byte = time.perf_counter()
    await send({"type": "http.response.body", "body": content[-1:]})
    return last_byte


class RemoteFake:
    """The bench's handle on a BenchFake running in its own process (``python -m bench.fake``)."""

    def __init__(self):
        self.process = None

    def start(self, timeout=30):
        import os
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parents[1]
        self.process = subprocess.Popen([sys.executable, "-m", "bench.fake"], cwd=root, stdout=subprocess.PIPE,
                                        text=True, start_new_session=True,
                                        env={**os.environ, "PYTHONPATH": str(root)})
        line = self.process.stdout.readline().strip()  # the fake prints its URL once it listens
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the fake provider did not start: {line!r}")
        self.url = line
        self.control = httpx.Client(base_url=self.url, timeout=timeout)
        return self

    def set_plan(self, prompt, delays):
        """delays: {model: seconds} for this prompt."""
        self.control.post("/_bench/plan", json=[[prompt, model, seconds] for model, seconds in delays.items()])

    def records_for(self, prompt):
        return self.control.post("/_bench/records", json={"prompt": prompt}).json()

    def peak(self, reset=False):
        return self.control.post("/_bench/peak", json={"reset": reset}).json()

    routes_config = BenchFake.routes_config
    route_key = staticmethod(BenchFake.route_key)
    model = staticmethod(BenchFake.model)

    def stop(self):
        import os
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except Exception:  # noqa: BLE001
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


if __name__ == "__main__":
    photo_like(1024, 1024, "png")  # drawn before the first request, not during it
    _flat(1024, 1024, "png")
    BenchFake().serve(lambda url: print(url, flush=True))
