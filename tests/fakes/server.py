"""Serve any protocol fake over real HTTP on 127.0.0.1.

A fake is an object with ``handle(request: httpx.Request) -> httpx.Response``; a response whose
``extensions["drip_seconds"]`` is set is written one byte at a time, that many seconds apart. Unit tests hand
it to ``httpx.MockTransport``; end-to-end tests serve the very same fake with ``LoopbackServer``
so a real Celery worker in another process talks to it over the loopback interface.
"""

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
                if drip:  # a slow drip: one byte at a time, until done or the client hangs up
                    self._drip(content, drip)
                else:
                    self.wfile.write(content)

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

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
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
