import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from providers.testing.stack import ROOT, UNIT_TEST_ENV, free_port

ADMIN_PASSWORD = "production-admin-password"


def production_command(port):
    """README "Scale-out": `uvicorn config.asgi:application --host 0.0.0.0 --port 8000 --workers 4
    --no-access-log`, here on loopback with two workers (this machine has two cores).
    SLOW_CLIENTS_COMMAND=gunicorn runs the recipe it replaced, for comparison only."""
    if os.environ.get("SLOW_CLIENTS_COMMAND") == "gunicorn":
        return [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "2"]
    return [str(Path(sys.executable).parent / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "2", "--no-access-log"]


@dataclass
class Server:
    port: int
    url: str
    var_dir: Path


@pytest.fixture(scope="session")
def production_server(tmp_path_factory):
    """The production recipe on a free loopback port with its own var/: migrate, collectstatic, an
    account `admin` (ADMIN_PASSWORD), then the server (no Celery worker: pages only)."""
    var_dir = tmp_path_factory.mktemp("production")
    env = {k: v for k, v in os.environ.items() if k not in UNIT_TEST_ENV}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(var_dir),
                "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"],
                 ["createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=120)
    port = free_port()
    log = open(var_dir / "server.log", "wb")
    process = subprocess.Popen(production_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/login/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (var_dir / "server.log").read_text()
            time.sleep(0.2)
        yield Server(port, url, var_dir)
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()
