"""`make run`: migrate, make a local account, start the Celery workers (SERVE_WORKERS processes, the
first with Celery beat embedded: it starts scheduled benchmarks) and the web server (uvicorn
serving config.asgi) together."""

import os
import secrets
import signal
import subprocess
import sys
import threading

import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


# On Ctrl+C, open result streams are given this long to end before the server stops anyway
# (a browser reconnects to the next server from its last event).
STREAMS_GRACE_SECONDS = 3


class Command(BaseCommand):
    help = "Run the app locally: migrate, ensure a local account, start a Celery worker and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        parser.add_argument("--no-worker", action="store_true", help="serve pages only")

    def handle(self, *args, host, port, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        login = self.ensure_local_account()
        self.worker_ready = threading.Event()
        self.workers = [] if no_worker else [self.start_worker(n) for n in range(settings.SERVE_WORKERS)]
        self.stopping = threading.Event()
        if self.workers:
            threading.Thread(target=self.keep_worker_alive, name="worker-watch", daemon=True).start()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        url = f"http://{host}:{port}/"
        lines = [f"Image Provider Compare is running at {url}", f"Log in as {login}"]
        if self.workers:
            pids = ", ".join(str(worker.pid) for worker in self.workers)
            lines.append(f"Celery worker pid {pids}: pool={settings.CELERY_WORKER_POOL}, "
                         f"concurrency={settings.CELERY_WORKER_CONCURRENCY}, calls={settings.WORKER_CALLS} each, "
                         f"broker={_safe_broker()}, with beat (scheduled benchmarks, every "
                         f"{settings.BENCHMARK_TICK_SECONDS:g} s)")
        lines.append("Press Ctrl+C to stop.")
        # Said last, after the worker's own banner (which would otherwise scroll the login away).
        threading.Thread(target=self.say_when_ready, args=(lines,), name="ready-box", daemon=True).start()
        try:
            # The production server (README "Scale-out"), one process: result streams are async
            # (compare/streams.py), and config.asgi warms the process up before it listens.
            # No access log: its request lines would write share and invite tokens (README "Scale-out").
            uvicorn.run("config.asgi:application", host=host, port=port, log_level="info", access_log=False,
                        lifespan="off", timeout_graceful_shutdown=STREAMS_GRACE_SECONDS)
        finally:
            self.stopping.set()
            running = [worker for worker in self.workers if worker.poll() is None]
            for worker in running:
                worker.terminate()
            for worker in running:
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def say_when_ready(self, lines, wait=20.0):
        """The URL and the login in a box, once a worker says it is ready (or after `wait`
        seconds, or at once without a worker)."""
        if self.workers:
            self.worker_ready.wait(wait)
        self.stdout.write(self.style.SUCCESS(box(lines)))

    def keep_worker_alive(self):
        """Start a worker again if it exits while the server runs (a crash must not leave the
        app accepting comparisons that nobody runs)."""
        while not self.stopping.wait(1.0):
            for n, worker in enumerate(self.workers):
                if worker.poll() is not None and not self.stopping.is_set():
                    self.stderr.write(f"The Celery worker exited with {worker.returncode}; starting it again.")
                    self.workers[n] = self.start_worker(n)

    def start_worker(self, n=0):
        """Worker process ``n``: each carries its own provider calls (WORKER_CALLS) on its own
        interpreter, so SERVE_WORKERS of them use that many cores for claims and stores."""
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "-n", f"w{n}@%h",
            "--pool", settings.CELERY_WORKER_POOL, "--concurrency", str(settings.CELERY_WORKER_CONCURRENCY),
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        if n == 0:
            # Celery beat inside the first worker (tried with the filesystem broker and the threads
            # pool): every BENCHMARK_TICK_SECONDS it starts the benchmarks that are due. A
            # scale-out runs one `celery -A config beat` instead (README).
            command.append("--beat")
        worker = subprocess.Popen(command, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, errors="replace")
        threading.Thread(target=self.relay, args=(worker,), name="worker-output", daemon=True).start()
        return worker

    def relay(self, worker):
        """Pass the worker's output through as it comes, noting when it says it is ready."""
        for line in worker.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if " ready." in line:
                self.worker_ready.set()

    def ensure_local_account(self):
        """Create the local account on first run; say how to log in on every run."""
        User = get_user_model()
        username = settings.LOCAL_USERNAME
        account_file = settings.VAR_DIR / "local-account.txt"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, password=password, email="")
            account_file.write_text(f"username: {username}\npassword: {password}\n")
            account_file.chmod(0o600)
            return f"{username!r} with password {password!r} (created now; also in {account_file})"
        if account_file.exists():
            stored = dict(line.split(": ", 1) for line in account_file.read_text().splitlines() if ": " in line)
            if stored.get("username") == username and user.check_password(stored.get("password", "")):
                return f"{username!r} with password {stored['password']!r} (from {account_file})"
        return (f"{username!r} with the password you set (forgot it? "
                f"`.venv/bin/python manage.py changepassword {username}`)")


def _safe_broker():
    """The broker URL without credentials."""
    url = settings.CELERY_BROKER_URL
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if "@" in rest else url


def box(lines):
    """Lines framed, so the address and the login stand out from the logs around them."""
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join(["", rule, *(f"| {line.ljust(width)} |" for line in lines), rule, ""])
