"""Loopback providers that misbehave on purpose, for the issue 5 load test (bench/faultload.py and
tests/faults/test_load_faults.py).

Two protocols, each a subclass of the test suite's own fake (not edited):

- ``FaultyCompatible`` (providers/testing/openai.py's FakeOpenAI): the OpenAI Images protocol that every
  ``compatible:*`` route speaks; a route is told apart by the ``model`` it sends.
- ``FaultyFal`` (providers/testing/fal.py's FakeFal): fal's queue protocol (submit, poll, result, images
  by URL), the ``fal:openai/gpt-image-2`` route.

A result is identified in every request by its prompt (which carries the run id and the
comparison number) and its route (the model name, or "fal"). The plan maps (prompt, route) to a
fault kind; the fault is played on that result's *first* call only (a retry is answered normally,
as a provider that recovered would), so what the app does with each fault is exact.

Every request either fake receives goes to a shared ``Ledger`` with that identity, the operation
(``generate`` for a compatible call, ``submit``/``status``/``result``/``cancel``/``file`` for fal),
the fault played, the HTTP status and an ``outcome``:

- ``refused``: answered 429/5xx/4xx before any work started (nothing billed; a retry is allowed),
- ``processed``: a generation ran (or a fal job was accepted) and would be billed, whatever
  happened to its answer afterwards (garbage, truncated, hang, reset),
- ``-``: a status check, result fetch, cancel or image download (never billed).

The fakes are served by providers/testing/server.py's LoopbackServer, which also plays the transport
faults: ``reset`` (the status line, the headers and part of the body, then a TCP reset) and a
hang (the fake raises ``httpx.TimeoutException`` after sleeping past the client's read timeout;
the connection is then dropped without an answer).
"""

import base64
import json
import random
import threading
import time
import uuid

import httpx

from providers.testing.fal import ENDPOINT as FAL_ENDPOINT, JOB_FAILURES, SUBMIT_ERRORS, FakeFal
from providers.testing.openai import FakeOpenAI
from providers.testing.server import LoopbackServer

COMPATIBLE_KEY = "sk-faultload-key"
FAL_KEY = "fal-faultload-key"
FAL_ROUTE = "fal:openai/gpt-image-2"
FAL_ID = "fal"  # the route identity of fal calls in the ledger
RETRY_AFTER_S = 1  # what the 429s ask for (the app must wait at least this long)

# Every fault kind: which protocols play it, what it is, and the terminal state it must lead to.
KINDS = {
    "rate_limit": ("both", "429 with Retry-After: 1 before any work", "succeeded after 1 retry (waited >= 1 s)"),
    "server_error": ("both", "500 (fal: 503 runner_scheduling_failure) before any work",
                     "succeeded after 1 retry"),
    "unavailable": ("compatible", "503 'engine overloaded' before any work", "succeeded after 1 retry"),
    "policy": ("both", "content refusal: 400 moderation_blocked (fal: the job's result answers 422 "
               "content_policy_violation)", "failed, content_policy, the provider's words, no retry"),
    "garbage": ("both", "200 whose image is not an image (fal: the image URL serves garbage)",
                "failed, bad_image, no retry"),
    "truncated": ("both", "200 whose PNG is cut in half", "failed, bad_image, no retry"),
    "not_json": ("compatible", "200 with an HTML error page instead of JSON", "failed, bad_response, no retry"),
    "hang": ("both", "no answer past the read timeout (fal: the job never finishes, past the deadline)",
             "timed_out, no retry (fal: cancelled at the provider)"),
    "reset": ("both", "TCP reset half-way through the answer (fal: through the submit's answer)",
              "failed, unavailable, no retry"),
}
# The order faults are dealt in, per protocol (the seed picks which results; this, which fault).
COMPATIBLE_ORDER = ("rate_limit", "hang", "policy", "garbage", "reset", "server_error", "unavailable", "truncated",
                    "not_json")
FAL_ORDER = ("rate_limit", "hang", "policy", "reset", "server_error", "garbage", "truncated")
REFUSALS = ("rate_limit", "server_error", "unavailable")  # answered before work: retried, not billed
# Not in the 5% mix: a probe of one case found while building this test (see faultload.probe).
PROBES = {"result_5xx": ("fal", "the job completed, then its result fetch answers 503 once",
                         "no second submit (the job exists: fetch its result again, or fail)"),
          "poll_reset": ("fal", "a TCP reset on the job's first status check",
                         "the check retried like a 5xx (succeeded, 1 submit), or the job cancelled at fal")}


def make_plan(comparisons, routes, rate, seed):
    """{(comparison number, route id): kind} for round(rate x comparisons x routes) results, spread
    evenly over the routes; which comparisons is the seed's choice, the kinds are dealt in
    COMPATIBLE_ORDER / FAL_ORDER per protocol so that every kind appears once there are enough."""
    rng = random.Random(seed)
    total = int(comparisons * len(routes) * rate + 0.5)
    plan = {}
    dealt = {"compatible": 0, "fal": 0}
    for index, route in enumerate(routes):
        count = total // len(routes) + (index < total % len(routes))
        protocol = "fal" if route == FAL_ID else "compatible"
        order = FAL_ORDER if protocol == "fal" else COMPATIBLE_ORDER
        for number in sorted(rng.sample(range(comparisons), min(count, comparisons))):
            plan[(number, route)] = order[dealt[protocol] % len(order)]
            dealt[protocol] += 1
    return plan


class Ledger:
    """Every request the fakes received, with the identity of the result it belongs to."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.plan = {}  # (prompt, route id) -> kind
        self.counts = {}  # (prompt, route id) -> billable-kind requests seen so far

    def set_plan(self, plan):
        with self.lock:
            self.plan.update(plan)

    def first_call(self, prompt, route):
        """The fault for this (prompt, route)'s call, which is the first call or not: (kind, n)."""
        with self.lock:
            n = self.counts[(prompt, route)] = self.counts.get((prompt, route), 0) + 1
            return (self.plan.get((prompt, route)) if n == 1 else None), n

    def add(self, **record):
        record.setdefault("at", time.time())
        with self.lock:
            self.records.append(record)

    def for_prompts(self, prompts):
        prompts = set(prompts)
        with self.lock:
            return [r for r in self.records if r.get("prompt") in prompts]


def Reset(response, keep=None):
    """The answer, cut off by the server after the headers and ``keep`` bytes of the body (half
    of it by default), then a TCP reset (LoopbackServer's ``reset_after_bytes``)."""
    content = response.read()
    return httpx.Response(response.status_code, headers=response.headers, content=content,
                          extensions={"reset_after_bytes": len(content) // 2 if keep is None else keep})


def _truncated(png):
    return png[: len(png) // 2]


# --- the OpenAI Images protocol (compatible:* routes) -------------------------------------------


class FaultyCompatible(FakeOpenAI):
    OVERLOADED = {"message": "The engine is currently overloaded, please try again later.", "type": "server_error",
                  "param": None, "code": None}

    def __init__(self, ledger, *, api_key=COMPATIBLE_KEY, delay=0.3, hang_seconds=6.0):
        super().__init__(api_key=api_key, delay=delay)
        self.ledger = ledger
        self.hang_seconds = hang_seconds

    def handle(self, request):
        if (request.method, request.url.path) != ("POST", f"{self.prefix}/images/generations"):
            return super().handle(request)
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        prompt, route = body.get("prompt"), body.get("model")
        kind, n = self.ledger.first_call(prompt, route)
        record = {"protocol": "compatible", "prompt": prompt, "route": route, "op": "generate", "n": n,
                  "fault": kind}
        if kind in REFUSALS or kind == "policy":
            response = self.refusal(kind)
            self.ledger.add(**record, status=response.status_code, outcome="refused")
            return response
        if kind == "hang":
            self.ledger.add(**record, status=None, outcome="processed")
            time.sleep(self.hang_seconds)
            raise httpx.ReadTimeout("the fake hangs", request=request)
        response = super().handle(request)  # the server-side delay, then a real image
        self.ledger.add(**record, status=response.status_code, outcome="processed")
        if response.status_code != 200 or kind is None:
            return response
        payload = response.json()
        if kind == "not_json":
            return httpx.Response(200, text="<html><body><h1>Bad gateway</h1>upstream sent garbage</body></html>",
                                  headers={"content-type": "text/html"})
        if kind == "reset":
            return Reset(response)
        for item in payload["data"]:
            image = base64.b64decode(item["b64_json"])
            image = b"<html>not an image</html>" if kind == "garbage" else _truncated(image)
            item["b64_json"] = base64.b64encode(image).decode()
        return httpx.Response(200, json=payload, headers=response.headers)

    def refusal(self, kind):
        if kind == "unavailable":
            return httpx.Response(503, json={"error": self.OVERLOADED},
                                  headers={"x-request-id": f"req_{uuid.uuid4().hex[:12]}"})
        response = self.error({"rate_limit": "rate_limit", "server_error": "server", "policy": "policy"}[kind])
        if kind == "rate_limit":
            response.headers["retry-after"] = str(RETRY_AFTER_S)
        return response


# --- fal's queue protocol --------------------------------------------------------------------------


class FaultyFal(FakeFal):
    def __init__(self, ledger, *, api_key=FAL_KEY, delay=0.3):
        super().__init__(api_key=api_key, delay=delay)
        self.ledger = ledger
        self.job_faults = {}  # request id -> kind
        self.file_faults = {}  # /files/... path -> (prompt, kind)
        self.once_done = set()  # the probes' jobs whose one failure was already played

    def handle(self, request):
        path = request.url.path
        if (request.method, path) == ("POST", FAL_ENDPOINT):
            return self.faulty_submit(request)
        response = super().handle(request)
        op, prompt, kind = "other", None, None
        if path.startswith("/files/"):
            op = "file"
            prompt, kind = self.file_faults.get(path, (None, None))
        elif "/requests/" in path:
            request_id, _, action = path.partition("/requests/")[2].partition("/")
            job = self.jobs.get(request_id)
            prompt = job["body"].get("prompt") if job else None
            kind = self.job_faults.get(request_id)
            op = {"status": "status", "cancel": "cancel", "": "result"}.get(action, "other")
        if prompt is not None:
            self.ledger.add(protocol="fal", prompt=prompt, route=FAL_ID, op=op, n=None, fault=kind,
                            status=response.status_code, outcome="-")
        if op == "status" and kind == "poll_reset" and request_id not in self.once_done:
            self.once_done.add(request_id)
            return Reset(response, keep=0)  # the status line and headers, then a reset
        return response

    def faulty_submit(self, request):
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        prompt = body.get("prompt")
        kind, n = self.ledger.first_call(prompt, FAL_ID)
        record = {"protocol": "fal", "prompt": prompt, "route": FAL_ID, "op": "submit", "n": n, "fault": kind}
        if kind in ("rate_limit", "server_error"):
            status, error, headers = SUBMIT_ERRORS["rate_limit" if kind == "rate_limit" else "server"]
            if kind == "rate_limit":
                headers = {**headers, "retry-after": str(RETRY_AFTER_S)}
            response = self.respond(status, error, headers)
            self.ledger.add(**record, status=status, outcome="refused")
            return response
        response = super().handle(request)
        accepted = response.status_code == 200
        self.ledger.add(**record, status=response.status_code, outcome="processed" if accepted else "refused")
        if accepted and kind is not None:
            request_id = response.json()["request_id"]
            with self.lock:
                self.job_faults[request_id] = kind
                if kind == "hang":
                    self.jobs[request_id]["ready_at"] = float("inf")  # IN_PROGRESS until cancelled
            if kind == "reset":
                return Reset(response)
        return response

    def result(self, job):
        kind = self.job_faults.get(job["id"])
        if job["state"] == "COMPLETED" and kind == "policy":
            status, body = JOB_FAILURES["policy"][2], JOB_FAILURES["policy"][3]
            return self.respond(status, body, {})
        if job["state"] == "COMPLETED" and kind == "result_5xx" and job["id"] not in self.once_done:
            self.once_done.add(job["id"])  # a transient failure of the result fetch, once
            return self.respond(503, {"detail": "Service temporarily unavailable", "error_type": "internal_error"}, {})
        return super().result(job)

    def render(self, job):
        images = super().render(job)
        kind = self.job_faults.get(job["id"])
        for image in images:
            path = "/files/" + image["url"].split("/files/", 1)[1]
            self.file_faults[path] = (job["body"].get("prompt"), kind)
            if kind == "garbage":
                self.files[path] = b"<html>not an image</html>"
            elif kind == "truncated":
                self.files[path] = _truncated(self.files[path])
        return images


class FaultFakes:
    """Both fakes on loopback with one ledger, and the environment that points a stack at them:
    ``compatible:fl0..fl{n-1}`` (models ``load-0``...) plus ``fal:openai/gpt-image-2``."""

    def __init__(self, compatible_routes=4, with_fal=True, delay=0.3, hang_seconds=6.0):
        self.ledger = Ledger()
        self.n_compatible = compatible_routes
        self.with_fal = with_fal
        rng = random.Random(0)
        delays = {}

        def delay_of(body):  # a fixed pseudo-random 0.1-0.6 s per (prompt, model): calls interleave
            key = (body or {}).get("prompt"), (body or {}).get("model")
            if key not in delays:
                delays[key] = delay * (0.3 + 1.7 * rng.random())
            return delays[key]

        self.compatible = FaultyCompatible(self.ledger, delay=delay_of, hang_seconds=hang_seconds)
        self.fal = FaultyFal(self.ledger, delay=delay) if with_fal else None
        self.servers = []

    def __enter__(self):
        server = LoopbackServer(self.compatible).__enter__()
        self.servers.append(server)
        self.compatible.url = server.url
        if self.fal is not None:
            server = LoopbackServer(self.fal).__enter__()
            self.servers.append(server)
            self.fal.url = server.url
        return self

    def __exit__(self, *exc):
        for server in self.servers:
            server.__exit__(*exc)
        self.servers = []

    def route_ids(self):
        """The ledger's route identities, in route order."""
        return [f"load-{i}" for i in range(self.n_compatible)] + ([FAL_ID] if self.with_fal else [])

    def route_keys(self):
        return [f"compatible:fl{i}" for i in range(self.n_compatible)] + ([FAL_ROUTE] if self.with_fal else [])

    def route_key_of(self, route_id):
        return FAL_ROUTE if route_id == FAL_ID else f"compatible:fl{route_id.rsplit('-', 1)[1]}"

    def env(self):
        env = {"COMPATIBLE_ROUTES": json.dumps([
            {"name": f"fl{i}", "base_url": f"{self.compatible.url}/v1", "model": f"load-{i}",
             "api_key_env": "FAULTLOAD_KEY", "price_as": "openai:gpt-image-2"} for i in range(self.n_compatible)]),
            "FAULTLOAD_KEY": COMPATIBLE_KEY, "ALLOW_PRIVATE_PROVIDER_URLS": "1"}
        if self.fal is not None:
            env.update({"FAL_KEY": FAL_KEY, "FAL_QUEUE_BASE_URL": self.fal.url})
        return env
