"""Where media lives: the STORAGES["default"] entry built from the environment.

Local folder (MEDIA_ROOT) by default; S3-compatible object storage through django-storages when
MEDIA_STORAGE_URL (s3://bucket/prefix?endpoint_url=...&region=...) or AWS_STORAGE_BUCKET_NAME is
set. Keys come only from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the machine's role), never
from the URL, so that the URL can be logged and shown in an error."""

from urllib.parse import parse_qsl, urlsplit

from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured

S3_BACKEND = "storages.backends.s3.S3Storage"
URL_OPTIONS = {"endpoint_url": "endpoint_url", "region": "region_name", "addressing_style": "addressing_style"}
# Objects are never handed to a browser by URL: every image goes through a view that checks who
# asks (compare/views.py). Should anything call .url(), it gets a signed link that ends soon.
SIGNED_URL_SECONDS = 300


def media_storage(environ):
    """The STORAGES["default"] dict for this environment (a mapping like os.environ)."""
    url = environ.get("MEDIA_STORAGE_URL", "")
    if url:
        return {"BACKEND": S3_BACKEND, "OPTIONS": _s3_options(**parse_storage_url(url))}
    bucket = environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if bucket:
        return {"BACKEND": S3_BACKEND, "OPTIONS": _s3_options(
            bucket_name=bucket, location=environ.get("AWS_LOCATION", "").strip("/"),
            endpoint_url=environ.get("AWS_S3_ENDPOINT_URL") or None,
            region_name=environ.get("AWS_S3_REGION_NAME") or None,
            addressing_style=environ.get("AWS_S3_ADDRESSING_STYLE") or None)}
    return {"BACKEND": environ.get("DEFAULT_FILE_STORAGE", "django.core.files.storage.FileSystemStorage")}


def parse_storage_url(url):
    """s3://bucket/prefix?endpoint_url=...&region=...&addressing_style=path -> S3Storage options."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ImproperlyConfigured("MEDIA_STORAGE_URL must start with s3:// (S3 or an S3-compatible server)")
    if parts.username or parts.password:
        raise ImproperlyConfigured("MEDIA_STORAGE_URL must not carry keys: set AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY")
    if not parts.hostname:
        raise ImproperlyConfigured("MEDIA_STORAGE_URL names no bucket: s3://BUCKET/optional/prefix")
    options = {"bucket_name": parts.netloc, "location": parts.path.strip("/"),
               "endpoint_url": None, "region_name": None, "addressing_style": None}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in URL_OPTIONS:
            raise ImproperlyConfigured(f"MEDIA_STORAGE_URL: unknown option {key!r} "
                                       f"(known: {', '.join(sorted(URL_OPTIONS))})")
        options[URL_OPTIONS[key]] = value or None
    if options["addressing_style"] not in (None, "auto", "path", "virtual"):
        raise ImproperlyConfigured("MEDIA_STORAGE_URL: addressing_style is auto, path or virtual")
    return options


def _s3_options(bucket_name, location, endpoint_url, region_name, addressing_style):
    return {
        "bucket_name": bucket_name, "location": location, "endpoint_url": endpoint_url,
        "region_name": region_name,
        # Two results may both save "0.png" in one folder: never overwrite, as on a local disk.
        "file_overwrite": False,
        "default_acl": None,  # the bucket's own (private); no public-read objects
        "querystring_auth": True, "querystring_expire": SIGNED_URL_SECONDS,
        "client_config": Config(s3={"addressing_style": addressing_style}, connect_timeout=5, read_timeout=60,
                                retries={"mode": "standard", "max_attempts": 3}),
    }
