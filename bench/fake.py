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

It is served by providers/testing/server.py's LoopbackServer (a listen backlog of 1024: a burst
of 50-200 connects would overflow socketserver's default of 5 and cost dropped SYNs and 1 s
retransmits, which would be the fake's delay, not ours), timed: ``BenchFake.answered`` records
each call with the server's ``Timing``.
"""

import functools
import io
import json
import threading

import httpx
from PIL import Image, ImageChops

import providers.testing.openai as fake_openai_module
from providers.testing.openai import FakeOpenAI
from providers.testing.server import LoopbackServer

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
        self.server = None

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

    def handle(self, request):
        """The ``/_bench/...`` control endpoints, or a call for the OpenAI fake (counted in flight
        from here until its last byte is written, see ``answered``)."""
        if request.url.path.startswith("/_bench/"):
            return httpx.Response(200, json=self._control(request.url.path, json.loads(request.content or b"null")))
        with self.lock:
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
        return self.fake.handle(request)

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

    def answered(self, request, response, content, timing):
        """LoopbackServer's ``on_answered``: the record of one call, on the server's clocks."""
        if request.url.path.startswith("/_bench/"):
            return
        try:
            parsed = json.loads(request.content) if request.content else {}
        except ValueError:
            parsed = {}
        with self.lock:
            self.active -= 1
            self.records.append({
                "prompt": parsed.get("prompt"), "model": parsed.get("model"), "status": response.status_code,
                "arrived_wall": timing.arrived_wall, "done_wall": timing.done_wall,
                "server_ms": (timing.last_byte - timing.arrived) * 1000,
                "server_done_ms": (timing.done - timing.arrived) * 1000,
                "delay": self._delay(parsed), "bytes": len(content)})

    def start(self):
        self.server = LoopbackServer(self, on_answered=self.answered).__enter__()
        self.url = self.server.url
        return self

    def stop(self):
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None


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
