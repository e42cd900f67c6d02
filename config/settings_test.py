"""Settings for the unit tests: the real settings, with a throwaway var/ and a broker that
goes nowhere (the end-to-end tests run real workers with config.settings instead)."""

import os
import tempfile

os.environ.setdefault("VAR_DIR", os.path.join(tempfile.gettempdir(), f"ipc-unit-{os.getpid()}"))
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("SANDBOX_LATENCY_SCALE", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# One process runs every unit test (and imports config.asgi, which warms up the web): its heap is
# not a server's, so it is not frozen (compare/ops/heap.py); the e2e stacks run the real settings.
FREEZE_HEAP_AFTER_WARM_UP = False
