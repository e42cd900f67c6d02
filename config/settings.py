"""Settings: everything from the environment, with inline defaults that need no server.

Embedded defaults: SQLite under var/ (WAL, busy timeout), Celery over kombu's filesystem
transport under var/broker/, media under var/media/, sandbox routes only. Scale-out: set
DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.storage import media_storage

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "on"):
        return True
    if value.lower() in ("0", "false", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use true/false, 1/0 or on/off")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None


def env_float(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def env_secret(name, default=""):
    """NAME, or the contents of the file named by NAME_FILE (for Docker/K8s secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


# Everything this process creates is readable by its owner only: var/ holds the secret key, the
# credentials key, the local account's password, the SQLite database, the broker's messages and the
# media (FILE_UPLOAD_PERMISSIONS below keeps that true where Django sets modes itself).
os.umask(0o077)
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _local_secret_key():
    """A random key kept in var/ so a local install needs no configuration."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_secret("SECRET_KEY") or _local_secret_key()


def _local_credentials_key():
    """A Fernet key kept in var/ so a local install can store team credentials at once."""
    from cryptography.fernet import Fernet

    path = VAR_DIR / "credentials_key"
    if not path.exists():
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


# Fernet keys for team credentials, comma-separated, newest first (MultiFernet): to rotate, put a
# new key first, run `manage.py rotate_credentials`, then drop the old one.
CREDENTIALS_KEYS = env_secret("CREDENTIALS_KEYS") or _local_credentials_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS").split(",") if o]
SITE_URL = env_str("SITE_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "compare",
    "compare.teams",
    "compare.review",
    "compare.sharing",
    "compare.insights",
    "compare.batches",
    "compare.benchmarks",
    "compare.notifications",
    "compare.checks",
    "compare.ops",
]

MIDDLEWARE = [
    "compare.ops.logs.RequestIdMiddleware",  # first: every answer carries its X-Request-ID
    "compare.ops.probes.ProbeMiddleware",  # /healthz, /metrics: before the host check and HTTPS redirect
    "django.middleware.security.SecurityMiddleware",
    "compare.uploads.RequestSizeMiddleware",  # a body over MAX_REQUEST_BYTES: 413, unread
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "compare.teams.views.team_context",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
else:
    DATABASES = {
        "default": {
            # Django's SQLite backend, its writers handed over at once (config/sqlite/base.py)
            "ENGINE": "config.sqlite",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL lets the web server read while a worker writes; IMMEDIATE transactions
                # plus a busy timeout make concurrent writers wait instead of failing.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Production hardening, all from the environment (see README "Scale-out"); `manage.py check
# --deploy` is clean with DEBUG=false, a long SECRET_KEY and SECURE=true behind HTTPS.
SECURE = env_bool("SECURE", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SECURE)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SECURE
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer (Django's own middleware): scripts, styles, images and
# requests from this origin only. No inline script runs: every script is a static file (an inline
# one would need {% csp_nonce_attr %} and CSP.NONCE added to script-src). Style *attributes* are
# allowed (style-src-attr): the side-by-side view sizes its stages from each image's aspect ratio
# in the markup, and an attribute cannot run script; <style> elements are refused (htmx's
# indicator styles are switched off in base.html). blob: images are the previews of the reference
# images chosen before upload.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- accounts: logins, sessions, teams on the request (compare/teams/accounts.py, compare/teams/middleware.py) ---
# Every login (the app's, the admin's) goes through this backend, which applies the limits below.
AUTHENTICATION_BACKENDS = ["compare.teams.accounts.LimitedModelBackend"]
# Failed logins before a pause of the rest of the window: per name (normalised as authentication
# normalises it) and address, and per address over all names (password spraying). Counted in the
# cache: shared across web processes when CACHE_URL points at Redis, per process otherwise.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
# Reverse proxies in front of the app that append to X-Forwarded-For: the client address is the
# Nth entry from the right. 0 (no proxy): the header is never trusted, REMOTE_ADDR is the address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# A session unused this long is logged out (its expiry slides with use, refreshed at most once a minute).
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 24 * 3600)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_SECONDS
# request.team / request.role are set once, right after the user is known.
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                  "compare.teams.middleware.IdleSessionMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("compare.teams.middleware.IdleSessionMiddleware") + 1,
                  "compare.teams.middleware.TeamMiddleware")
# --- end of accounts ---------------------------------------------------------------------------

# --- visibility ------------------------------------------------------------------------------
# Outside votes through a vote link: per client address, at most this many on one comparison of
# one link within the window (on top of one per signed ballot). Raise it for an audience that
# shares one address (an office behind NAT).
SHARE_VOTES_PER_ADDRESS = env_int("SHARE_VOTES_PER_ADDRESS", 1)
SHARE_VOTE_WINDOW_HOURS = env_float("SHARE_VOTE_WINDOW_HOURS", 24.0)
# --- end of visibility -------------------------------------------------------------------------

CACHE_URL = env_str("CACHE_URL", "")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
          if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "compare:new"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- files ------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Media is never served as public files: images go through views that check who asks.
MEDIA_URL = "/media-not-public/"
# Local folder by default; S3-compatible object storage with MEDIA_STORAGE_URL or
# AWS_STORAGE_BUCKET_NAME (config/storage.py, docs/deploy.md). Every read and write of media goes
# through this storage, so web and workers on different machines see the same files.
STORAGES = {
    "default": media_storage(os.environ),
    # Static files are public: they stay readable by a separate web server, if one serves them.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
                    "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755}},
}
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

# --- celery -----------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"  # filesystem, with atomic writes
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),  # exchanges and remote control, not the cwd
        # Poll often: a comparison's calls must all start within a fraction of a second.
        "polling_interval": env_float("CELERY_POLLING_INTERVAL", 0.05),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
    if CELERY_BROKER_URL.startswith("redis://"):
        CELERY_BROKER_TRANSPORT = "config.broker:RedisTransport"  # survives an ack lost with the broker
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "compare")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Celery task only claims a result and hands its call to the worker process's call pool
# (compare/engine/callpool.py), so a few Celery threads serve any number of calls in flight.
CELERY_WORKER_POOL = env_str("CELERY_WORKER_POOL", "threads")
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 8)
# Celery's Django fixup closes a task thread's database connections before and after every task
# unless this is set: each claim then opened a connection (PostgreSQL starts a backend process for
# it, ~20 ms before the claim's first query). The Celery threads keep theirs for this many tasks
# instead, checked before each task (compare/tasks.py reuse_connection); they are a fixed few.
CELERY_DB_REUSE_MAX = 1000
# Web and worker processes keep what they hold after their warm start out of the garbage
# collector's walks (compare/ops/heap.py); off in the unit tests, whose one process runs thousands of tests.
FREEZE_HEAP_AFTER_WARM_UP = True
# Provider calls one worker process carries at once (threads that wait on sockets; 0: one Celery
# slot per call, as before), the threads that store their answers (each holds one database
# connection), how often cancel requests are looked up, how long a stopping worker waits for them.
WORKER_CALLS = env_int("WORKER_CALLS", 1000)
WORKER_STORE_THREADS = env_int("WORKER_STORE_THREADS", 4)
WORKER_CANCEL_POLL_SECONDS = env_float("WORKER_CANCEL_POLL_SECONDS", 0.5)
WORKER_DRAIN_SECONDS = env_float("WORKER_DRAIN_SECONDS", 60.0)
# Results sent in one message and claimed together (one transaction, each team's credentials and
# each comparison's request read once), at most: enough to make a large comparison's claims cheap
# (10 rather than 5: a 50-route comparison's last call ~0.16 s after submit instead of ~0.24 s on
# PostgreSQL + Redis), and never more than half of what is sent at once, so that two worker
# processes share even a small comparison (compare/tasks.py message_size).
CLAIM_BATCH = env_int("CLAIM_BATCH", 10)
# Worker processes `make run` (manage.py serve) starts: one per core, up to two (each process's
# claims and stores run under its own interpreter lock).
SERVE_WORKERS = env_int("SERVE_WORKERS", max(1, min(2, os.cpu_count() or 1)))
# Celery beat (one process per deployment; `make run` embeds it in its worker): every
# BENCHMARK_TICK_SECONDS it starts the scheduled benchmarks that are due and judges finished runs
# (compare/benchmarks/runs.py). The schedules themselves live in the database (Benchmark.next_run_at).
BENCHMARK_TICK_SECONDS = env_float("BENCHMARK_TICK_SECONDS", 15.0)
CELERY_BEAT_SCHEDULE = {"benchmarks": {"task": "compare.benchmarks.tasks.benchmark_tick", "schedule": BENCHMARK_TICK_SECONDS}}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# A finished benchmark run waits this long for its images' automatic checks before it is judged
# without the ones still missing (docs/benchmarks.md).
BENCHMARK_CHECKS_WAIT_SECONDS = env_int("BENCHMARK_CHECKS_WAIT_SECONDS", 300)

# --- the product -------------------------------------------------------------------------------
# Read by compare.catalog; the provider package receives them as a plain mapping.
SANDBOX_ROUTES = env_str("SANDBOX_ROUTES", "")
SANDBOX_LATENCY_SCALE = env_float("SANDBOX_LATENCY_SCALE", 1.0)
PROVIDER_CONNECT_TIMEOUT = env_float("PROVIDER_CONNECT_TIMEOUT", 10.0)
PROVIDER_READ_TIMEOUT = env_float("PROVIDER_READ_TIMEOUT", 300.0)
# Overall seconds a provider call may take, polling, answer and downloads included. Unset: each
# route's default by quality (90 s low, 120 s medium, 180 s high/auto, more for n > 1 and edits;
# providers.base.Route.default_deadline); set, it overrides that for every route.
PROVIDER_DEADLINE_SECONDS = env_float("PROVIDER_DEADLINE_SECONDS", None)
LONGEST_DEADLINE_SECONDS = 600.0  # the cap of every route default (the reaper waits this long)
# Retries of a call the provider refused before any job existed (429, 5xx): attempts in all,
# and the first backoff in seconds (doubling, with jitter; Retry-After wins when longer).
PROVIDER_MAX_ATTEMPTS = env_int("PROVIDER_MAX_ATTEMPTS", 3)
PROVIDER_BACKOFF_SECONDS = env_float("PROVIDER_BACKOFF_SECONDS", 1.0)
# Per-route limits shared by all workers: "KEY=CONCURRENT/PER_MINUTE; provider:*=..." (compare/engine/limits.py).
ROUTE_LIMITS = env_str("ROUTE_LIMITS", "")
ROUTE_LIMIT_RETRY_SECONDS = env_float("ROUTE_LIMIT_RETRY_SECONDS", 2.0)
# Budgets (compare/pricing.py): a route with no known price (no team price, not in the catalog)
# counts this many USD per image asked for against a team's budget, reserved at submit.
UNPRICED_CALL_CEILING_USD = env_float("UNPRICED_CALL_CEILING_USD", 0.50)
# Fair share: calls (routes x n, duplicates included) one comparison and one batch may hold, and
# calls of one team sent to the workers at once (shared by every worker, compare/engine/limits.py).
MAX_CALLS_PER_COMPARISON = env_int("MAX_CALLS_PER_COMPARISON", 40)
MAX_CALLS_PER_BATCH = env_int("MAX_CALLS_PER_BATCH", 400)
TEAM_MAX_IN_FLIGHT = env_int("TEAM_MAX_IN_FLIGHT", 16)
# A result still running this long after its deadline lost its worker: the reaper ends it.
REAPER_GRACE_SECONDS = env_int("REAPER_GRACE_SECONDS", 120)
REAPER_INTERVAL_SECONDS = env_int("REAPER_INTERVAL_SECONDS", 60)
# A result still queued this long was probably lost by the broker: the reaper sends it again.
REQUEUE_AFTER_SECONDS = env_int("REQUEUE_AFTER_SECONDS", 300)
# Allow http and private/loopback image URLs (local fakes, self-hosted servers). Off in production.
ALLOW_PRIVATE_PROVIDER_URLS = env_bool("ALLOW_PRIVATE_PROVIDER_URLS", False)
MAX_IMAGE_BYTES = env_int("MAX_IMAGE_BYTES", 50 * 1024 * 1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
# The whole body of one request, checked against its Content-Length before any of it is read (by
# config/asgi.py in production and compare.uploads.RequestSizeMiddleware, both 413): room for two
# images of MAX_IMAGE_BYTES as base64 data: URLs in an API body, plus 1 MiB for the rest.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 2 * (MAX_IMAGE_BYTES * 4 // 3) + 1024 * 1024)
# Uploaded files stream through compare.uploads: each stops at MAX_IMAGE_BYTES (the form says so)
# and is never held whole in memory or on disk. Non-file form fields are held in memory, so they
# keep Django's own small cap (an anonymous login POST must not fill the memory).
FILE_UPLOAD_HANDLERS = [
    "compare.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_FORM_BYTES", 2_621_440)
THUMBNAIL_SIZE = env_int("THUMBNAIL_SIZE", 512)
# Processes a worker checks and thumbnails images in (0: in the calling thread). Out of the worker
# process so that Pillow's CPU work cannot hold the lock its threads need to read provider answers.
IMAGE_PROCESSES = env_int("IMAGE_PROCESSES", 2)
# The automatic checks of every stored image (docs/checks.md): each Tesseract run is stopped after
# OCR_TIMEOUT_SECONDS (its quotes are then not scored); TESSERACT_CMD is the program to run.
OCR_TIMEOUT_SECONDS = env_float("OCR_TIMEOUT_SECONDS", 20.0)
TESSERACT_CMD = env_str("TESSERACT_CMD", "tesseract")
# A succeeded result with no checks this long after it finished shows "not checked" (and stops
# polling for them) instead of "pending"; `manage.py check_images` checks such results.
CHECKS_MISSING_AFTER_SECONDS = env_int("CHECKS_MISSING_AFTER_SECONDS", 3600)
HISTORY_PAGE_SIZE = env_int("HISTORY_PAGE_SIZE", 20)
LOCAL_USERNAME = env_str("LOCAL_USERNAME", "admin")

# --- notifications: webhooks and e-mail (docs/notifications.md) --------------------------------
# A webhook delivery is tried this many times in all, waiting WEBHOOK_BACKOFF_SECONDS, then twice
# that, and so on between attempts; each attempt waits at most WEBHOOK_TIMEOUT_SECONDS.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
WEBHOOK_BACKOFF_SECONDS = env_float("WEBHOOK_BACKOFF_SECONDS", 30.0)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)


def _mailer():
    """Django's default mailer from EMAIL_URL (smtp://user:password@host:587, smtp+tls:// for
    STARTTLS, smtps:// for TLS from the start, console:// or locmem://) or from EMAIL_HOST,
    EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, EMAIL_USE_SSL. Neither set:
    the console backend (e-mails are printed by the process that sends them)."""
    backend = "django.core.mail.backends.{}.EmailBackend"
    url = env_secret("EMAIL_URL")
    if url:
        parts = urlsplit(url)
        kinds = {"console": "console", "locmem": "locmem", "smtp": "smtp", "smtp+tls": "smtp", "smtps": "smtp"}
        if parts.scheme not in kinds:
            raise ImproperlyConfigured(f"EMAIL_URL: use smtp://, smtp+tls://, smtps://, console:// or locmem:// "
                                       f"(not {parts.scheme or 'no scheme'}://)")
        if kinds[parts.scheme] != "smtp":
            return {"BACKEND": backend.format(kinds[parts.scheme])}
        options = {"host": parts.hostname or "localhost",
                   "port": parts.port or {"smtps": 465, "smtp+tls": 587}.get(parts.scheme, 25),
                   "username": unquote(parts.username or ""), "password": unquote(parts.password or ""),
                   "use_tls": parts.scheme == "smtp+tls", "use_ssl": parts.scheme == "smtps"}
    elif env_str("EMAIL_HOST"):
        options = {"host": env_str("EMAIL_HOST"), "port": env_int("EMAIL_PORT", 25),
                   "username": env_str("EMAIL_HOST_USER"), "password": env_secret("EMAIL_HOST_PASSWORD"),
                   "use_tls": env_bool("EMAIL_USE_TLS", False), "use_ssl": env_bool("EMAIL_USE_SSL", False)}
    else:
        return {"BACKEND": backend.format("console")}
    return {"BACKEND": backend.format("smtp"), "OPTIONS": {**options, "timeout": env_int("EMAIL_TIMEOUT", 10)}}


MAILERS = {"default": _mailer()}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "image-provider-compare@localhost")

# --- operations: health, metrics, logs (docs/operations.md) ------------------------------------
# LOG_FORMAT=json: one JSON object a line with the request id, team, comparison, result, route.
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use text or json")
# Bearer token /metrics asks for; unset, only a logged-in staff user may read it.
METRICS_TOKEN = env_secret("METRICS_TOKEN")
# /metrics' latency and queue-wait histograms cover the results finished in this many seconds.
METRICS_WINDOW_SECONDS = env_int("METRICS_WINDOW_SECONDS", 3600)
# Each worker writes a heartbeat row this often; /healthz counts a worker alive for 3 periods.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 15)
# The broker check of /healthz gives up after this many seconds.
HEALTH_TIMEOUT_SECONDS = env_float("HEALTH_TIMEOUT_SECONDS", 2.0)

# --- results pushed (compare/streams.py) --------------------------------------------------------
# Redis for the nudges that tell web processes a result changed: redis:// or rediss://; by
# default the Celery broker when that is Redis. Without it each web process checks the event
# table every EVENTS_POLL_SECONDS while a page follows it.
EVENTS_URL = env_str("EVENTS_URL", "")
if not EVENTS_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    EVENTS_URL = CELERY_BROKER_URL
if EVENTS_URL and not EVENTS_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"EVENTS_URL must be a redis:// or rediss:// URL (got {EVENTS_URL.split(':', 1)[0]}://)")
# How often a web process reads new event rows: without EVENTS_URL, and with it as a safety net.
EVENTS_POLL_SECONDS = env_float("EVENTS_POLL_SECONDS", 0.05)
EVENTS_FALLBACK_SECONDS = env_float("EVENTS_FALLBACK_SECONDS", 1.0)
# One stream answer lasts at most this long; the browser then reconnects from its last event id
# (and the team access is checked again).
EVENTS_STREAM_SECONDS = env_int("EVENTS_STREAM_SECONDS", 300)
# The reaper deletes event rows older than this.
EVENTS_KEEP_SECONDS = env_int("EVENTS_KEEP_SECONDS", 86400)
# --- end of results pushed ---------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # compare/ops/logs.py: the context fields on every record; secrets cleaned from every line.
    "filters": {"context": {"()": "compare.ops.logs.ContextFilter"}},
    "formatters": {"text": {"()": "compare.ops.logs.TextFormatter"}, "json": {"()": "compare.ops.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's own console handler (DEBUG) would print some lines twice, uncleaned: they reach
    # the root handler above instead.
    "loggers": {"django": {"handlers": [], "level": "INFO"},
                "httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
