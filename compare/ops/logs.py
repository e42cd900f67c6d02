"""Logging for operators: context on every line (request id, team, comparison, result, route),
one JSON object a line with LOG_FORMAT=json, and secrets blanked in every line whatever the format.

The context lives in contextvars: the request middleware below sets the request id, the services
and the Celery task set the comparison, result, team and route they work on (``scope`` undoes it
all at the end). Loaded by LOGGING before the apps are ready, so nothing here imports a model."""

import json
import logging
import os
import re
import secrets
import time
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from django.conf import settings

from providers.base import redact
from providers.registry import secret_variable_names

FIELDS = ("request_id", "team", "comparison", "result", "route")
# Process variables whose names look secret; a provider's declared secrets are blanked whatever
# their names (Provider.secret_names).
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
SHORTEST_SECRET = 8  # shorter environment values are not treated as secrets (too many false hits)

_context = {name: ContextVar(f"log_{name}", default=None) for name in FIELDS}
_secrets = ContextVar("log_secrets", default=())

# Credentials that have a recognisable shape, wherever they appear in a line.
PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2***"),
    (re.compile(r"(?i)(\b(?:api[_-]?key|access[_-]?token|token|secret|password|passwd|authorization|x-api-key|key)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',&;}]{4,}"), r"\1***"),
    (re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@/\s]+@"), r"\1***@"),  # scheme://user:password@host
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), "***"),
]


# --- context ---------------------------------------------------------------------------------


def bind(**fields):
    """Set context fields (request_id, team, comparison, result, route) for what follows."""
    for name, value in fields.items():
        _context[name].set(value)


def add_secrets(values):
    """Strings every later line of this context is cleaned of (a result's credentials)."""
    found = tuple(v for v in values if isinstance(v, str) and len(v) >= 4)
    if found:
        _secrets.set(_secrets.get() + found)


def current():
    """The context fields that are set, as a dict."""
    return {name: var.get() for name, var in _context.items() if var.get() is not None}


@contextmanager
def scope(**fields):
    """Context fields (and secrets added) for the ``with`` block only."""
    saved = {name: var.get() for name, var in _context.items()}
    saved_secrets = _secrets.get()
    bind(**fields)
    try:
        yield
    finally:
        for name, value in saved.items():
            _context[name].set(value)
        _secrets.set(saved_secrets)


# --- redaction -------------------------------------------------------------------------------

_environment_secrets = None


def environment_secrets():
    """The values of secret-looking environment variables and secret settings, read once."""
    global _environment_secrets
    if _environment_secrets is None:
        declared = secret_variable_names()
        found = {value for name, value in os.environ.items() if len(value) >= SHORTEST_SECRET
                 and (name in declared or any(word in name.upper() for word in SECRET_WORDS))}
        for name in ("SECRET_KEY", "METRICS_TOKEN"):
            value = getattr(settings, name, "") if settings.configured else ""
            if isinstance(value, str) and len(value) >= SHORTEST_SECRET:
                found.add(value)
        keys = getattr(settings, "CREDENTIALS_KEYS", "") if settings.configured else ""
        found.update(k.strip() for k in str(keys).split(",") if len(k.strip()) >= SHORTEST_SECRET)
        _environment_secrets = sorted(found, key=len, reverse=True)  # longest first: no partial leftovers
    return _environment_secrets


def scrub(value):
    """value (a string, or dicts and lists of them) with every known secret and every
    credential-shaped substring replaced by '***'."""
    value = redact(value, [*environment_secrets(), *_secrets.get()])
    if isinstance(value, str):
        for pattern, replacement in PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


# --- logging classes (named in settings.LOGGING) ---------------------------------------------

STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# Django's request log passes the request object: its repr holds the raw path (share and invite
# tokens live in paths), and the message already names the path Django chose to show.
NOT_LOGGED = {"request"}


class ContextFilter(logging.Filter):
    """Puts the context fields on every record (a field passed in ``extra`` wins)."""

    def filter(self, record):
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """The usual text lines, cleaned of secrets."""

    def format(self, record):
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, event and any
    other ``extra`` field, the traceback as ``exc``; every string cleaned of secrets."""

    def format(self, record):
        data = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in STANDARD_ATTRIBUTES | NOT_LOGGED and not name.startswith("_") and value is not None:
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(scrub(_plain(data)), ensure_ascii=False)


def _plain(value):
    """value with anything JSON cannot hold turned into its str()."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# --- the request middleware ------------------------------------------------------------------

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
QUIET_PATHS = {"/healthz", "/metrics"}  # probed every few seconds: no line each time
request_log = logging.getLogger("compare.requests")


def request_id_from(header):
    """The incoming X-Request-ID when it is sane (1 to 128 of A-Z a-z 0-9 . _ : -), else a new one."""
    if header and REQUEST_ID.match(header):
        return header
    return secrets.token_hex(16)


class RequestIdMiddleware:
    """Gives each request an id (a sane incoming X-Request-ID is kept), puts it in the log context
    and the X-Request-ID response header, and logs one line per request: the URL pattern (never
    the path, which may hold a share or invite token), the status and the duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get("X-Request-ID", ""))
        started = time.perf_counter()
        with scope(request_id=request.request_id):
            response = self.get_response(request)
            response["X-Request-ID"] = request.request_id
            match = getattr(request, "resolver_match", None)
            if request.path_info not in QUIET_PATHS:
                request_log.info("%s %s %s", request.method, _pattern(match), response.status_code, extra={
                    "event": "request", "method": request.method, "url": _pattern(match),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        return response


def _pattern(match):
    return "/" + match.route if match is not None and match.route else "(unresolved)"
