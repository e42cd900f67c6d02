"""The bench's stack harness: the real stack (providers/testing/stack.py's Stack) started against
bench/fake.py's routes and stopped with its logs kept, the workers' memory sampled from /proc, and
the helpers that match a comparison's results to the fake's records of its calls."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from providers.testing.stack import UNIT_TEST_ENV, Stack

from bench.fake import API_KEY, BenchFake

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"size": "1024x1024", "quality": "low", "n": 1, "output_format": "png"}
MAX_ROUTES = 50


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


# --- processes -------------------------------------------------------------------------------


def children(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def rss_mb(pid, field="VmRSS"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def worker_pids(stack):
    """Celery worker main processes: the serve process's child, or the worker processes."""
    if stack.workers:
        return [p.pid for p in stack.processes if p.log_name.startswith("worker")]
    serve = stack.processes[0].pid
    return children(serve)


def cpu_seconds(pid):
    """user + system CPU seconds of one process so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_role(pid, database=None):
    """What a stack's process is, from its command line: web, worker, image (a worker's image
    process), database (a PostgreSQL backend serving ``database``), broker (redis-server); None
    for anything else."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if "manage.py serve" in command:
        return "web"
    if "celery" in command and " worker" in command:
        return "worker"
    if "multiprocessing.spawn" in command:
        return "image"
    if database and command.startswith("postgres:") and f" {database} " in command:
        return "database"
    if command.startswith("redis-server"):
        return "broker"
    return None


class CpuMeter:
    """CPU seconds the stack's processes spent while the block ran, by role (process_role): the
    stack's processes and their descendants, and with ``database`` the PostgreSQL backends serving
    it and redis-server (which serve nothing else here while a bench runs)."""

    def __init__(self, stack, database=None):
        self.roots = [p.pid for p in stack.processes]
        self.database = database
        self.by_role = {}

    def _snapshot(self):
        pids, todo = set(), list(self.roots)
        while todo:
            pid = todo.pop()
            if pid not in pids:
                pids.add(pid)
                todo += children(pid)
        if self.database:
            pids |= {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
        out = {}
        for pid in pids:
            role = process_role(pid, self.database)
            seconds = cpu_seconds(pid) if role else None
            if seconds is not None:
                out[pid] = (role, seconds)
        return out

    def __enter__(self):
        self.before = self._snapshot()
        return self

    def __exit__(self, *exc):
        for pid, (role, seconds) in self._snapshot().items():
            spent = seconds - self.before.get(pid, (role, 0.0))[1]
            self.by_role[role] = round(self.by_role.get(role, 0.0) + spent, 3)
        return False


def settle(stack, database=None, idle_cores=0.2, window=0.5, longest=20.0):
    """Wait until the stack is idle (its processes, and with ``database`` PostgreSQL and Redis, used
    under ``idle_cores`` of CPU over ``window`` seconds) or ``longest`` seconds have passed; returns
    the seconds waited. A measure starts on a quiet stack: the previous one's automatic checks run
    after its results are stored (at a lower priority, but they still write rows), and a fan-out
    submitted into them measures them, not itself."""
    started = time.monotonic()
    while time.monotonic() - started < longest:
        with CpuMeter(stack, database) as meter:
            time.sleep(window)
        if sum(meter.by_role.values()) / window < idle_cores:
            break
    return round(time.monotonic() - started, 2)


class RssSampler:
    """Samples the RSS of some processes every 0.25 s in a thread (bounded by stop())."""

    def __init__(self, pids):
        self.pids = pids
        self.peak = {pid: rss_mb(pid) or 0 for pid in pids}
        self.start_rss = dict(self.peak)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopped.wait(0.25):
            for pid in self.pids:
                value = rss_mb(pid)
                if value:
                    self.peak[pid] = max(self.peak[pid], value)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=2)


# --- the stack -------------------------------------------------------------------------------


class BenchStack(Stack):
    def start(self, timeout=120):
        super().start(timeout=timeout)
        self.http.timeout = httpx.Timeout(60)
        return self

    def submit_timed(self, prompt, routes, params=PARAMS):
        submitted = time.time()
        response = self.http.post("/api/comparisons", json={"prompt": prompt, "routes": routes, "params": params})
        answered = time.time()
        if response.status_code != 201:
            raise RuntimeError(f"submit failed: {response.status_code} {response.text[:500]}")
        return response.json(), submitted, answered

    def wait_done_timed(self, comparison_id, timeout, interval=0.05):
        """Poll the API until the comparison is done; (body, time the done answer arrived)."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.http.get(f"/api/comparisons/{comparison_id}").json()
            if body["status"] == "done":
                return body, time.time()
            if time.monotonic() > deadline:
                return body, None
            time.sleep(interval)

    def session(self):
        """A logged-in browser-like client (session cookie), as the page's htmx uses."""
        client = httpx.Client(base_url=self.url, timeout=30)
        client.get("/login/")
        client.post("/login/", data={"username": "admin", "password": self.local_password(),
                                     "csrfmiddlewaretoken": client.cookies.get("csrftoken")},
                    headers={"Referer": f"{self.url}/login/"})
        if "sessionid" not in client.cookies:
            raise RuntimeError("could not log in to the bench stack")
        return client


def code_defaults():
    """The worker settings this code defaults to, as `make run` has them: config.settings read in a
    subprocess, in the environment a stack gets (WORKER_CALLS is None where the settings do not know it)."""
    env = {k: v for k, v in os.environ.items() if k not in UNIT_TEST_ENV and k not in
           ("CELERY_WORKER_CONCURRENCY", "WORKER_CALLS", "SERVE_WORKERS", "WORKER_STORE_THREADS")}
    out = subprocess.run([sys.executable, "-c", "import json, config.settings as s; print(json.dumps("
                          "[s.CELERY_WORKER_CONCURRENCY, getattr(s, 'WORKER_CALLS', None), s.SERVE_WORKERS, "
                          "getattr(s, 'WORKER_STORE_THREADS', None)]))"],
                         cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                         capture_output=True, text=True, timeout=60, check=True)
    threads, calls, serve_workers, stores = json.loads(out.stdout.strip().splitlines()[-1])
    return {"celery_threads": threads, "worker_calls": calls, "serve_workers": serve_workers, "store_threads": stores}


def start_stack(name, fake, *, workers=0, concurrency=None, env=None):
    """A stack against ``fake``; ``concurrency``: Celery threads per worker process (None: the
    code's default, as `make run` has it)."""
    var_dir = ROOT / "var" / "bench" / f"{name}-{uuid.uuid4().hex[:6]}"
    var_dir.mkdir(parents=True)
    # One team's load against the whole stack: the fair-share caps between teams (a comparison's
    # calls, a team's calls in flight) would measure those caps instead of the stack.
    base_env = {"COMPATIBLE_ROUTES": fake.routes_config(MAX_ROUTES), "BENCH_FAKE_KEY": API_KEY,
                "MAX_CALLS_PER_COMPARISON": str(MAX_ROUTES), "TEAM_MAX_IN_FLIGHT": "0"}
    base_env.update(env or {})
    stack = BenchStack(var_dir, env=base_env, workers=workers, worker_concurrency=concurrency)
    started = time.monotonic()
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    log(f"stack {name} up in {time.monotonic() - started:.1f} s at {stack.url}")
    return stack


LOG_EVENTS = []  # alarming lines found in the stacks' logs, for the report


def stop_stack(stack, keep=False):
    stack.stop()
    for path in sorted(stack.var_dir.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if "Unrecoverable error" in line or "worker_lost" in line:
                LOG_EVENTS.append(f"{stack.var_dir.name.rsplit('-', 1)[0]}-{path.name}: {line.strip()[:300]}")
    logs = ROOT / "var" / "bench" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for path in stack.var_dir.glob("*.log"):  # kept for the reader: var/bench/logs/<stack>-<process>.log
        shutil.copy(path, logs / f"{stack.var_dir.name.rsplit('-', 1)[0]}-{path.name}")
    if not keep:
        shutil.rmtree(stack.var_dir, ignore_errors=True)


def routes(n):
    return [BenchFake.route_key(i) for i in range(n)]


def model_index(model):
    return int(model.rsplit("-", 1)[1])


def by_route(body):
    return {r["route"]: r for r in body["results"]}


def truth_samples(fake, prompt, body):
    """latency_ms (ours) minus the fake's server-side ms, per call of one comparison."""
    results = by_route(body)
    out = []
    for record in fake.records_for(prompt):
        result = results.get(BenchFake.route_key(model_index(record["model"])))
        if result and result["latency_ms"] is not None and result["status"] == "succeeded":
            out.append(result["latency_ms"] - record["server_ms"])
    return out

