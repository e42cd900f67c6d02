"""The documented production server survives slow clients (issue 11 item 7): with fifty
connections sending their headers or body one byte at a time, an ordinary request still answers
promptly. The old recipe (gunicorn's sync workers, no buffering proxy) fails this: each slow client
holds one of the few workers for as long as it likes (set SLOW_CLIENTS_COMMAND=gunicorn to see)."""

import socket
import threading
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 50
BYTE_EVERY = 0.5  # seconds between the bytes a slow client sends
PROMPT_SECONDS = 5.0  # an ordinary request answers within this, slow clients or not
# The server is conftest.production_server: the README's command (SLOW_CLIENTS_COMMAND=gunicorn
# starts the old one instead, to see this test fail on it).


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


def test_slow_clients_do_not_starve_an_ordinary_request(production_server):
    port, url = production_server.port, production_server.url
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


def test_a_300mb_body_is_refused_before_it_is_sent(production_server):
    """The ASGI app refuses a Content-Length over MAX_REQUEST_BYTES at once (413), so no 300 MB
    body is spooled to memory or disk ahead of Django's view (config/asgi.py)."""
    port = production_server.port
    with socket.create_connection(("127.0.0.1", port), timeout=PROMPT_SECONDS) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: %d\r\n\r\n" % (300 * 1024 * 1024) + b"x" * 65536)
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            answer += chunk
        answer = answer.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "MAX_REQUEST_BYTES" in answer
