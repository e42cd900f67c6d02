"""The production entry point (README "Scale-out"): `uvicorn config.asgi:application --workers N
--no-access-log` (uvicorn's access log would write whole paths, share and invite tokens included;
the app logs each request by its URL pattern instead).

uvicorn reads every request asynchronously, so a client that sends its headers or body one byte at
a time holds a socket, not a worker. Django's ASGI handler then spools the whole body before the
view runs, so the body is capped here first: a Content-Length over MAX_REQUEST_BYTES is answered
413 before anything is read, and a body without one is cut off with a 413 once it passes the limit
(compare.uploads.RequestSizeMiddleware says the same under any other server).

`make run` serves this too. Open result streams (compare/streams.py) are async and hold no thread.
Each process is warmed up before it listens (compare/warmup.py), so its first submit is like any
other.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402  (after the settings module is chosen)


class BodyTooLarge(Exception):
    pass


def limit_body(app, limit):
    """``app`` behind a cap of ``limit`` bytes on every HTTP request body."""

    async def refuse(send, size):
        text = f"Request body too large: {size:,} bytes, over the {limit:,} byte limit (MAX_REQUEST_BYTES).\n"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": text.encode()})

    async def limited(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await refuse(send, int(declared))
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await app(scope, counted, send)
        except BodyTooLarge:  # raised while Django spooled the body, before any response
            await refuse(send, received)

    return limited


application = limit_body(django_application, settings.MAX_REQUEST_BYTES)

from compare.warmup import warm_web  # noqa: E402  (after the apps are loaded)

warm_web()
