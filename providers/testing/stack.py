"""The real stack in subprocesses, each in its own var/, for end-to-end tests and benchmarks.

`manage.py serve` (web + its Celery worker, as `make run` starts them) or the web alone plus
separate `celery worker` processes. Plain Python: it starts the project, it imports none of it.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
UNIT_TEST_ENV = {"DJANGO_SETTINGS_MODULE", "VAR_DIR", "CELERY_BROKER_URL", "SANDBOX_LATENCY_SCALE"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Stack:
    def __init__(self, var_dir, env=None, workers=0, worker_concurrency=32, worker_env=None):
        """workers=0: `serve` runs its own worker; workers=N: web only, plus N worker processes.
        worker_concurrency: Celery threads per worker process (None: the settings' default).
        worker_env: {n: {...}} set on top of env for worker n (its own VAR_DIR, as on another machine)."""
        self.var_dir = Path(var_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.worker_concurrency = worker_concurrency
        self.worker_env = worker_env or {}
        # Start from this environment less what config.settings_test set for the unit tests.
        self.env = {k: v for k, v in os.environ.items() if k not in UNIT_TEST_ENV}
        self.env.update({
            "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(self.var_dir), "PYTHONUNBUFFERED": "1",
            "LOCAL_USERNAME": "admin",
        })
        if worker_concurrency is None:  # the settings' default, as `make run` has it
            self.env.pop("CELERY_WORKER_CONCURRENCY", None)
        else:
            self.env["CELERY_WORKER_CONCURRENCY"] = str(worker_concurrency)
        self.env.update(env or {})
        self.processes = []
        self.log_path = self.var_dir / "stack.log"

    def _spawn(self, args, name, env=None):
        log = open(self.var_dir / f"{name}.log", "ab")
        process = subprocess.Popen(args, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        process.log_name = name
        self.processes.append(process)
        return process

    def manage(self, *args, check=True, timeout=120):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, check=check, timeout=timeout)

    def start(self, timeout=90):
        self.var_dir.mkdir(parents=True, exist_ok=True)
        serve = [sys.executable, "manage.py", "serve", "--port", str(self.port)]
        self._spawn(serve + (["--no-worker"] if self.workers else []), "serve")
        for n in range(self.workers):
            self.spawn_worker(n)
        deadline = time.monotonic() + timeout
        while not (self._web_up() and self._workers_ready()):
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.log_name} exited with {process.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the stack did not start in {timeout} s:\n{self.logs()}")
            time.sleep(0.2)
        self.token = self.manage("api_token", "admin").stdout.strip()
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        return self

    def spawn_worker(self, n):
        return self._spawn([sys.executable, "-m", "celery", "-A", "config", "worker", "-n", f"w{n}@%h",
                            "--pool", "threads", *self._concurrency(), "--loglevel", "INFO",
                            "--without-gossip", "--without-mingle", "--without-heartbeat"], f"worker{n}",
                           self.worker_env.get(n))

    def _concurrency(self):
        return [] if self.worker_concurrency is None else ["--concurrency", str(self.worker_concurrency)]

    def kill_workers(self):
        """SIGKILL every worker process, as a crash would: no cleanup, no acknowledgement."""
        for process in self.processes:
            if process.log_name.startswith("worker") and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def wait_ready_workers(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while self.logs().count(" ready.") < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} workers not ready after {timeout} s:\n{self.logs()}")
            time.sleep(0.2)

    def _web_up(self):
        try:
            return httpx.get(f"{self.url}/login/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _workers_ready(self):
        text = self.logs()
        return text.count(" ready.") >= max(self.workers, 1)

    def logs(self):
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.var_dir.glob("*.log")))

    def local_password(self):
        lines = (self.var_dir / "local-account.txt").read_text().splitlines()
        return dict(line.split(": ", 1) for line in lines)["password"]

    def submit(self, prompt, routes, **params):
        response = self.http.post("/api/comparisons", json={"prompt": prompt, "routes": routes, "params": params})
        assert response.status_code == 201, response.text
        return response.json()

    def poll(self, path, attempts=3):
        """GET ``path`` as a client polling the API does. A connection the server dropped before
        answering is asked again while the web process lives (a GET is safe to repeat: the
        keep-alive race of a connection closed as the next request was sent, which a browser
        also retries); once the web process has exited, its exit and the logs are the error."""
        for attempt in range(attempts):
            try:
                return self.http.get(path)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError) as error:
                web = self.processes[0] if self.processes else None
                if web is not None and web.poll() is not None:
                    raise RuntimeError(f"the web process exited with {web.returncode} while GET {path} "
                                       f"was asked:\n{self.logs()}") from error
                if attempt == attempts - 1:
                    raise
                print(f"GET {path}: {error!r} from a live web process; asked again", file=sys.stderr)
                time.sleep(0.2)

    def wait_done(self, comparison_id, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            body = self.poll(f"/api/comparisons/{comparison_id}").json()
            if body["status"] == "done":
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"comparison {comparison_id} not done after {timeout} s: {body}\n{self.logs()}")
            time.sleep(0.1)

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def parse_time(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
