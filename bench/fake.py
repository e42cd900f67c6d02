"""The loopback provider the benchmarks talk to: tests/fakes/openai.py's FakeOpenAI (the OpenAI
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

It is served by its own ThreadingHTTPServer (same handler shape as tests/fakes/server.py's
LoopbackServer) with a listen backlog of 1024: LoopbackServer keeps socketserver's default of 5,
and a burst of 50-200 connects overflows that and costs dropped SYNs and 1 s retransmits, which
would be the fake's delay, not ours.
"""

import functools
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from PIL import Image, ImageChops

import tests.fakes.openai as fake_openai_module
from tests.fakes.openai import FakeOpenAI

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
        self.fake = FakeOpenAI(api_key=API_KEY, delay=self._delay)
        self.httpd = None

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

    def start(self):
        bench = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # No Nagle: the answer's last byte (written on its own, see _serve) and the headers
            # must not wait for the client's ACK of what went before.
            disable_nagle_algorithm = True

            def _control(self):
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                if self.path == "/_bench/plan":
                    with bench.lock:
                        for prompt, model, seconds in body:
                            bench.plan[(prompt, model)] = seconds
                    answer = {"ok": True}
                elif self.path == "/_bench/records":
                    with bench.lock:
                        answer = [r for r in bench.records if r["prompt"] == body["prompt"]]
                elif self.path == "/_bench/peak":
                    with bench.lock:
                        answer = {"active": bench.active, "peak": bench.peak_active}
                        if body and body.get("reset"):
                            bench.peak_active = bench.active
                else:
                    answer = {"error": "unknown"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self):
                if self.path.startswith("/_bench/"):
                    return self._control()
                arrived_wall, arrived = time.time(), time.perf_counter()
                with bench.lock:
                    bench.active += 1
                    bench.peak_active = max(bench.peak_active, bench.active)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                host = self.headers.get("host", "127.0.0.1")
                request = httpx.Request(self.command, f"http://{host}{self.path}",
                                        headers=list(self.headers.items()), content=body)
                response = bench.fake.handle(request)
                content = response.read()
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                # The server-side end is taken just before the last byte is handed to the socket:
                # the client cannot read that byte any earlier, so a correct client-side window is
                # never shorter than server_ms (a timestamp taken after the write returns could be
                # late by this thread's own scheduling, and make a true client look too fast).
                self.wfile.write(content[:-1])
                self.wfile.flush()
                last_byte = time.perf_counter()
                self.wfile.write(content[-1:])
                self.wfile.flush()
                done_wall, done = time.time(), time.perf_counter()
                try:
                    parsed = json.loads(body) if body else {}
                except ValueError:
                    parsed = {}
                with bench.lock:
                    bench.active -= 1
                    bench.records.append({
                        "prompt": parsed.get("prompt"), "model": parsed.get("model"), "status": response.status_code,
                        "arrived_wall": arrived_wall, "done_wall": done_wall, "server_ms": (last_byte - arrived) * 1000,
                        "server_done_ms": (done - arrived) * 1000,
                        "delay": bench._delay(parsed), "bytes": len(content)})

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that went away (a worker stopped mid-call) is not the bench's news

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


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
    import signal
    import sys

    photo_like(1024, 1024, "png")  # drawn before the first request, not during it
    _flat(1024, 1024, "png")
    fake = BenchFake().start()
    print(fake.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait(3600)  # bounded: the bench stops it long before
    fake.stop()
    sys.exit(0)
