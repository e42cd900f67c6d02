"""Helpers the test folders share: images, a fake clock, the loopback runner, people and pages."""

import io
import os
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image, ImageFont

from providers import runner
from providers.testing.server import LoopbackServer
from providers.testing.stack import ROOT, UNIT_TEST_ENV, reachable

from compare.checks import textcheck

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


# The fonts the OCR tests draw with, and the Tesseract language that reads each script.
FONTS = {
    "latin": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "han": "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "devanagari": "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "bengali": "/usr/share/fonts/truetype/noto/NotoSansBengali-Regular.ttf",
}
LANGUAGE = {"latin": "eng", "han": "chi_sim", "devanagari": "hin", "bengali": "ben"}


def needs_ocr(script="latin"):
    """Skip (or, with REQUIRE_OCR=1, fail) unless Tesseract, the script's language data and the
    font the test draws with are all installed (config/ensure-ocr.sh installs them)."""
    textcheck.forget_languages()
    if shutil.which("tesseract") is None:
        skip_or_fail("Tesseract is not installed (sh config/ensure-ocr.sh)", "REQUIRE_OCR")
    if LANGUAGE[script] not in textcheck.installed_languages():
        skip_or_fail(f"Tesseract has no {LANGUAGE[script]} data (sh config/ensure-ocr.sh)", "REQUIRE_OCR")
    try:
        ImageFont.truetype(FONTS[script], 20)
    except OSError:
        skip_or_fail(f"the font {FONTS[script]} is not installed (sh config/ensure-ocr.sh)", "REQUIRE_OCR")


@contextmanager
def postgres_database(prefix):
    """A PostgreSQL database of its own, dropped afterwards (skipped with the reason where
    PostgreSQL is missing, failed with REQUIRE_SERVICES=1): yields (its DATABASE_URL, admin),
    admin being an autocommit connection to the server."""
    if not reachable("127.0.0.1", 5432):
        skip_or_fail("PostgreSQL is not reachable at 127.0.0.1:5432", "REQUIRE_SERVICES")
    import psycopg

    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{database}", admin
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


@contextmanager
def scale_out_env(prefix):
    """A PostgreSQL database and a Redis queue of their own for a stack (skipped with the reason
    where the services are missing, failed with REQUIRE_SERVICES=1): yields (env, admin), admin
    being an autocommit connection to the server; the queue is named as the database
    (env["CELERY_QUEUE"]), which is dropped afterwards."""
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        if not reachable("127.0.0.1", port):
            skip_or_fail(f"{name} is not reachable at 127.0.0.1:{port}", "REQUIRE_SERVICES")
    with postgres_database(prefix) as (url, admin):
        yield {"DATABASE_URL": url, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
               "CELERY_QUEUE": url.rsplit("/", 1)[1]}, admin
