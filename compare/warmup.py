"""Warm start for the web process, as compare/engine/execution.py warm_up is for a worker: do once at
start what the first request would otherwise pay for (about 0.4 to 1 s on the first submit)."""

import logging
import time

from celery import current_app
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template.loader import get_template
from django.urls import get_resolver

from compare import catalog, tasks
from compare.models import Result
from compare.ops import heap

log = logging.getLogger(__name__)
# The pages a team opens first: compiled once here (the cached template loader keeps them).
TEMPLATES = ("base.html", "compare/new.html", "compare/detail.html", "compare/history.html",
             "batches/batch_detail.html")


def warm_web():
    """Import every view (the URL patterns) and the tasks, build the route catalog (every provider
    module), compile the first pages' templates, read the static files' manifest, open the
    database connection, prepare a task message and open the broker's connection. Returns the seconds it took; a failure is logged, never fatal
    (the first request then pays for it, as before)."""
    started = time.perf_counter()
    try:
        get_resolver().url_patterns
        catalog.available_routes()
        for name in TEMPLATES:
            get_template(name)
        staticfiles_storage.url("css/app.css")
        Result.objects.exists()
        # What sending a submit's first task would load: the task, its result backend, the
        # router, the task message, and the connection it is sent on.
        tasks.run_result.backend
        current_app.amqp.router
        current_app.events.Dispatcher
        current_app.amqp.create_task_message("warm-up", tasks.run_result.name, (0,), {})
        with current_app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
    except Exception:
        log.exception("warming up the web process failed; the first request will be slower")
    took = time.perf_counter() - started
    heap.freeze_after_warm_up("web process")
    log.info("web process warmed up in %.0f ms", took * 1000, extra={"event": "web_warm_up"})
    return took
