"""The end-to-end stack's API poll: a connection the server drops before answering is asked again
while the web process lives, and is an error naming the exit once it has died."""

import socket
import subprocess
import sys
import threading

import httpx
import pytest

from providers.testing.stack import Stack

BODY = b'{"status":"done"}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)


class DroppingServer:
    """Reads each request; drops the first ``drops`` connections without a byte, answers the rest."""

    def __init__(self, drops):
        self.drops = drops
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                seen = b""
                while b"\r\n\r\n" not in seen:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    seen += chunk
                self.requests += 1
                if self.requests > self.drops:
                    conn.sendall(ANSWER)


def stack_at(tmp_path, server, web):
    stack = Stack(tmp_path)
    stack.http = httpx.Client(base_url=server.url, timeout=5)
    stack.processes = [web]
    return stack


def test_a_dropped_connection_is_asked_again_while_the_web_process_lives(tmp_path, capsys):
    server = DroppingServer(drops=1)
    web = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        body = stack_at(tmp_path, server, web).poll("/api/comparisons/1").json()
    finally:
        web.kill()
        web.wait()
        server.sock.close()
    assert body == {"status": "done"}
    assert server.requests == 2
    assert "asked again" in capsys.readouterr().err  # said, not silent


def test_a_server_that_keeps_dropping_is_an_error_after_the_attempts(tmp_path):
    server = DroppingServer(drops=10)
    web = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            stack_at(tmp_path, server, web).poll("/api/comparisons/1", attempts=2)
    finally:
        web.kill()
        web.wait()
        server.sock.close()
    assert server.requests == 2


def test_a_dead_web_process_is_the_error_with_its_exit_code(tmp_path):
    server = DroppingServer(drops=10)
    web = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    web.wait()
    (tmp_path / "serve.log").write_text("Traceback: the web process's last words\n")
    try:
        with pytest.raises(RuntimeError, match=r"exited with 3(.|\n)*last words"):
            stack_at(tmp_path, server, web).poll("/api/comparisons/1")
    finally:
        server.sock.close()
    assert server.requests == 1
