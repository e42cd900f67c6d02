"""The documented production server survives slow clients (issue 11 item 7): with fifty
connections sending their headers or body one byte at a time, an ordinary request still answers
promptly. The old recipe (gunicorn's sync workers, no buffering proxy) fails this: each slow client
holds one of the few workers for as long as it likes (set SLOW_CLIENTS_COMMAND=gunicorn to see)."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import ROOT, UNIT_TEST_ENV, free_port

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 50
BYTE_EVERY = 0.5  # seconds between the bytes a slow client sends
PROMPT_SECONDS = 5.0  # an ordinary request answers within this, slow clients or not


def production_command(port):
    """README "Scale-out": `uvicorn config.asgi:application --host 0.0.0.0 --port 8000 --workers 4`,
    here on loopback with two workers (this machine has two cores)."""
    if os.environ.get("SLOW_CLIENTS_COMMAND") == "gunicorn":  # the old recipe, for comparison only
        return [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "2"]
    return [str(Path(sys.executable).parent / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "2"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("production")
    env = {k: v for k, v in os.environ.items() if k not in UNIT_TEST_ENV}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path)})
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):  # as the recipe does
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True,
                       timeout=120)
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
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
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        yield port, url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


def slow_client(port, at_once, trickled, stop, opened):
    """Connect, send ``at_once``, then ``trickled`` one byte every BYTE_EVERY seconds, until
    ``stop`` is set (the request is never finished)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            opened.append(1)
            sock.sendall(at_once)
            for byte in trickled:
                if stop.wait(BYTE_EVERY):
                    return
                sock.sendall(bytes([byte]))
            stop.wait()
    except OSError:
        pass  # the server may close a connection it judges too slow: that is allowed


def test_slow_clients_do_not_starve_an_ordinary_request(server):
    port, url = server
    headers = b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    body = b"Content-Length: 1000\r\n\r\n" + b"a" * 1000
    stop, opened, threads = threading.Event(), [], []
    try:
        for n in range(SLOW_CLIENTS):
            # half trickle their headers; half send the headers at once and trickle the body
            split = len(headers) // 2 if n % 2 else len(headers) + len(b"Content-Length: 1000\r\n\r\n")
            request = headers + body
            thread = threading.Thread(target=slow_client, args=(port, request[:split], request[split:], stop, opened),
                                      daemon=True)
            thread.start()
            threads.append(thread)
        time.sleep(3)  # every slow client is connected and part-way through its request
        assert len(opened) == SLOW_CLIENTS
        answers = []
        for _ in range(3):
            started = time.monotonic()
            try:
                status = httpx.get(f"{url}/login/", timeout=PROMPT_SECONDS * 2).status_code
            except httpx.TimeoutException:
                status = None
            answers.append((status, round(time.monotonic() - started, 2)))
            time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert all(status == 200 and seconds < PROMPT_SECONDS for status, seconds in answers), answers


def test_a_300mb_body_is_refused_before_it_is_sent(server):
    """The ASGI app refuses a Content-Length over MAX_REQUEST_BYTES at once (413), so no 300 MB
    body is spooled to memory or disk ahead of Django's view (config/asgi.py)."""
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=PROMPT_SECONDS) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: %d\r\n\r\n" % (300 * 1024 * 1024) + b"x" * 65536)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            answer += chunk
        answer = answer.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "MAX_REQUEST_BYTES" in answer
