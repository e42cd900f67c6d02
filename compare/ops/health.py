"""Is the service up: the checks behind GET /healthz and `manage.py healthcheck`, and the
heartbeat each Celery worker writes so that any web process can tell which workers are alive.

A check answers {"status": "ok", ...} or {"status": "down", "error": <exception class>}: never a
message, a URL, a path or a setting (an error text may carry a host name or a password)."""

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from botocore.config import Config
from celery import current_app
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import close_old_connections, connections
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from storages.backends.s3 import S3Storage

from compare.ops.models import WorkerHeartbeat

log = logging.getLogger(__name__)
ALIVE_PERIODS = 3  # a worker whose heartbeat is older than this many periods counts as gone


def check_database():
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def check_broker():
    """The filesystem broker: its folders exist and are writable. Any other (Redis): a connection
    is made, and answers, within HEALTH_TIMEOUT_SECONDS."""
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for name in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = options.get(name)
            if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
                raise OSError("a broker folder is missing or not writable")
        return {}
    timeout = settings.HEALTH_TIMEOUT_SECONDS
    with current_app.connection_for_write(url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        connection.default_channel  # a virtual transport (Redis) connects, and pings, with its first channel
    return {}


def alive_workers():
    """The workers whose heartbeat is recent."""
    since = timezone.now() - timedelta(seconds=ALIVE_PERIODS * settings.WORKER_HEARTBEAT_SECONDS)
    return WorkerHeartbeat.objects.filter(seen_at__gte=since)


def check_workers():
    """How many workers wrote a heartbeat lately. None alive is reported as "none": the site
    still serves (history, pages), but new comparisons wait in the queue until a worker runs."""
    alive = alive_workers().count()
    return {"status": "ok" if alive else "none", "alive": alive}


def check_storage():
    """FileSystemStorage: its folder exists and is writable (no file written). S3: one HEAD of the
    bucket within HEALTH_TIMEOUT_SECONDS, no retry. Any other backend: one read round trip
    (exists). Never a write: each would be a billed request on object storage."""
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        location = storage.location
        os.makedirs(location, exist_ok=True)
        if not os.access(location, os.W_OK):
            raise OSError("the media folder is not writable")
    elif isinstance(storage, S3Storage):
        timeout = settings.HEALTH_TIMEOUT_SECONDS
        config = storage.client_config.merge(Config(connect_timeout=timeout, read_timeout=timeout,
                                                    retries={"mode": "standard", "max_attempts": 1}))
        # A client of its own: the storage's keeps long timeouts and retries for real transfers.
        client = storage._create_session().client("s3", region_name=storage.region_name, use_ssl=storage.use_ssl,
                                                  endpoint_url=storage.endpoint_url, config=config,
                                                  verify=storage.verify)
        client.head_bucket(Bucket=storage.bucket_name)
    else:
        storage.exists("healthz-probe")
    return {}


# A check that raises is a dependency the site cannot serve without: 503. No worker alive is not
# one (check_workers answers "none": 200, "degraded").
CHECKS = {"database": check_database, "broker": check_broker, "workers": check_workers, "storage": check_storage}


def run_checks(names=None):
    """{"status": "ok" | "degraded" | "down", "checks": {...}, "failing": [...]} for the checks."""
    checks, failing = {}, []
    for name in names or CHECKS:
        if name == "workers" and "database" in failing:
            checks[name] = {"status": "unknown"}  # the heartbeats are in the database
            continue
        started = time.perf_counter()
        try:
            found = {"status": "ok", **CHECKS[name]()}
        except Exception as exc:
            found = {"status": "down", "error": type(exc).__name__}
            if name == "database":
                close_old_connections()  # do not keep a broken connection for the next request
        found["ms"] = round((time.perf_counter() - started) * 1000, 1)
        checks[name] = found
        if found["status"] == "down":
            failing.append(name)
    if failing:
        status = "down"
    elif any(found["status"] != "ok" for found in checks.values()):
        status = "degraded"
    else:
        status = "ok"
    answer = {"status": status, "checks": checks}
    if failing:
        answer["failing"] = failing
    return answer


@never_cache
@require_safe
@login_not_required
def healthz(request):
    """200 when every dependency answers ("degraded" when no worker is alive), 503 naming the
    failing dependencies otherwise. No login: it says nothing about any team or setting."""
    answer = run_checks()
    return JsonResponse(answer, status=503 if answer["status"] == "down" else 200)


# --- the workers' heartbeat ------------------------------------------------------------------


def beat(hostname):
    """Record that this worker is alive now."""
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(hostname=hostname[:200]).update(seen_at=now)
    if not updated:
        WorkerHeartbeat.objects.update_or_create(hostname=hostname[:200], defaults={"seen_at": now, "started_at": now})


def start_heartbeat(hostname, interval=None):
    """A daemon thread in the worker that beats every WORKER_HEARTBEAT_SECONDS."""
    interval = interval or settings.WORKER_HEARTBEAT_SECONDS

    def loop():
        while True:
            try:
                beat(hostname)
            except Exception:
                log.exception("worker heartbeat failed; it will try again")
            finally:
                close_old_connections()
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="worker-heartbeat", daemon=True)
    thread.start()
    return thread


def stop_heartbeat(hostname):
    """The worker stops cleanly: it is not alive any more."""
    WorkerHeartbeat.objects.filter(hostname=hostname[:200]).delete()


def this_machine(hostname):
    """Whether a worker's Celery hostname (name@host) is on this machine."""
    return hostname.rpartition("@")[2] == socket.gethostname()
