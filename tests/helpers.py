"""Helpers the test folders share: images, a fake clock, the loopback runner, people and pages."""

import io
import os
import subprocess
import sys

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image

from providers import runner
from providers.testing.stack import ROOT, UNIT_TEST_ENV
from providers.testing.server import LoopbackServer

HTMX = {"HX-Request": "true"}
# What a blind page must not show before the viewer's own verdict: the route's name and cost, and
# the markers fixtures plant in a result's stored request, headers and notes.
BLIND_MARKERS = ("REQUEST-MARKER", "REQID-MARKER", "HEADER-MARKER", "NOTE-MARKER", "$0.00", "Sandbox", "sandbox:")


def skip_or_fail(reason, require_env):
    """Skip with a visible reason; in CI (where the variable is set) a missing service is a failure."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{reason} (and {require_env}=1 says it must be there)")
    pytest.skip(reason)


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


def user(name):
    return get_user_model().objects.get(username=name)


def client_of(name):
    """A browser logged in as the user of that name."""
    client = Client()
    client.force_login(user(name))
    return client


def leaks(text):
    """The BLIND_MARKERS found in ``text``."""
    return [marker for marker in BLIND_MARKERS if marker in text]


def manage(env, *args):
    """`manage.py ARGS` in a process of its own, with the environment `env` (see app_env)."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)


def app_env(var_dir, **extra):
    """The environment of the app as `make run` starts it (not the unit tests'), its files in var_dir."""
    env = {k: v for k, v in os.environ.items() if k not in UNIT_TEST_ENV}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(var_dir), **extra})
    return env
