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
"""

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class LoopbackServer:
    def __init__(self, fake):
        self.fake = fake
        fake_ref = fake

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
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
                import time

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
                pass  # a reset the fake asked for, or a client that gave up on a hang

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
