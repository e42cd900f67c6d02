"""Serve any protocol fake over real HTTP on 127.0.0.1.

A fake is an object with ``handle(request: httpx.Request) -> httpx.Response``. Unit tests hand
it to ``httpx.MockTransport``; end-to-end tests serve the very same fake with ``LoopbackServer``
so a real Celery worker in another process talks to it over the loopback interface.

Transport faults a fake can ask for: raising ``httpx.TimeoutException`` drops the connection
unanswered (a hang, after the fake's own sleep); a response with ``extensions["drip_seconds"]``
is written a byte at a time, that many seconds apart; one with
``extensions["reset_after_bytes"]`` sends the status line, the headers and that many bytes of the
body, then a TCP reset. The listen backlog is 1024: bursts of 50+ connects overflow
socketserver's default of 5 (dropped SYNs, 1 s retransmits).

A benchmark that times the fake from the server's side passes ``on_answered``: it is called with
the request, the response, the bytes sent and a ``Timing`` once each answer is written in full.
"""

import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass(frozen=True)
class Timing:
    """One answer on the server's clocks: wall clock (``*_wall``) and perf_counter (the rest).

    ``arrived``: the request line and headers were read. ``last_byte``: just before the answer's
    last byte was handed to the socket, the earliest moment a client could have read all of it
    (so a correct client-side window is never shorter). ``done``: that byte was written."""

    arrived_wall: float
    arrived: float
    last_byte: float
    done_wall: float
    done: float


class LoopbackServer:
    def __init__(self, fake, on_answered=None):
        self.fake = fake
        fake_ref = fake

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Timed: no Nagle, so the last byte (written on its own) and the headers do not wait
            # for the client's ACK of what went before.
            disable_nagle_algorithm = on_answered is not None

            def _serve(self):
                arrived_wall, arrived = time.time(), time.perf_counter()
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                host = self.headers.get("host", "127.0.0.1")
                request = httpx.Request(self.command, f"http://{host}{self.path}",
                                        headers=list(self.headers.items()), content=body)
                try:
                    response = fake_ref.handle(request)
                except httpx.TimeoutException:
                    self.close_connection = True  # the fake plays dead: drop the connection
                    return
                content = response.read()
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                drip = response.extensions.get("drip_seconds")
                reset_at = response.extensions.get("reset_after_bytes")
                if drip:  # a slow drip: one byte at a time, until done or the client hangs up
                    self._drip(content, drip)
                elif reset_at is not None:
                    self._reset(content[:reset_at])
                elif on_answered is not None:
                    self.wfile.write(content[:-1])
                    self.wfile.flush()
                    last_byte = time.perf_counter()
                    self.wfile.write(content[-1:])
                    self.wfile.flush()
                    timing = Timing(arrived_wall, arrived, last_byte, time.time(), time.perf_counter())
                    on_answered(request, response, content, timing)
                else:
                    self.wfile.write(content)

            def _reset(self, part):
                self.wfile.write(part)
                self.wfile.flush()
                self.close_connection = True
                # SO_LINGER 0: close() sends RST instead of FIN, a reset mid-response.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

            def _drip(self, content, seconds, longest=60.0):
                began = time.monotonic()
                try:
                    for index in range(len(content)):
                        self.wfile.write(content[index:index + 1])
                        self.wfile.flush()
                        if time.monotonic() - began > longest:
                            break
                        time.sleep(seconds)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a reset the fake asked for, a client that gave up on a hang or went away

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def fail_closed(handler):
    """A MockTransport for a fake; any request the fake does not know is a test failure."""
    return httpx.MockTransport(handler)
