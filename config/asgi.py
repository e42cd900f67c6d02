"""The web server's entry point: `uvicorn config.asgi:application` (`make run`, and README's
production recipe with `--workers N`). Open result streams (compare/streams.py) are async and
hold no thread. Each process is warmed up as it starts (compare/warmup.py), so its first
submit is like any other."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()  # loads the settings, the apps and the middleware

from compare.warmup import warm_web  # noqa: E402  (after the apps are loaded)

warm_web()
