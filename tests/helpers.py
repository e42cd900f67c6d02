import io

import httpx
from PIL import Image

from providers import runner
from providers.testing.server import LoopbackServer


def image_bytes(width=64, height=48, fmt="PNG", colour=(200, 40, 40)):
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, fmt)
    return out.getvalue()


class FakeClock:
    """``provider.clock`` / ``provider.sleep`` that advance virtual time and remember each sleep."""

    def __init__(self, now=1000.0):
        self.now = now
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def run_over_loopback(fake, route_for, env_for, request, *, timeout=10, **build):
    """Serve ``fake`` over real HTTP on 127.0.0.1 and run ``request`` through the runner with the
    route ``route_for(env)``, where ``env = env_for(server.url)``; ``build`` goes to ``Route.build``
    (a ``deadline``, say). Polls do not sleep. Returns the runner's result."""
    with LoopbackServer(fake) as server, httpx.Client(timeout=timeout) as client:
        env = env_for(server.url)
        provider = route_for(env).build(client=client, env=env, **build)
        provider.sleep = lambda seconds: None
        return runner.execute(provider, request, allow_private_urls=True)
