"""Media on S3-compatible storage: MEDIA_STORAGE_URL and AWS_* become the storage settings, keys
never come from the URL, and /healthz's storage check is one bounded HEAD of the bucket, tried
against a real local S3 server (moto in server mode on a loopback port)."""

import time
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from providers.testing.stack import free_port

from compare.ops import health

from config.storage import S3_BACKEND, SIGNED_URL_SECONDS, media_storage, parse_storage_url

KEYS = {"AWS_ACCESS_KEY_ID": "testing-key", "AWS_SECRET_ACCESS_KEY": "testing-secret"}


def test_the_url_names_bucket_prefix_endpoint_and_region():
    options = parse_storage_url("s3://media-bucket/ipc/prod?endpoint_url=http://127.0.0.1:9000"
                                "&region=eu-west-1&addressing_style=path")
    assert options == {"bucket_name": "media-bucket", "location": "ipc/prod", "endpoint_url": "http://127.0.0.1:9000",
                       "region_name": "eu-west-1", "addressing_style": "path"}


def test_the_storage_is_private_never_overwrites_and_signs_short_links():
    found = media_storage({"MEDIA_STORAGE_URL": "s3://b"})
    assert found["BACKEND"] == S3_BACKEND
    options = found["OPTIONS"]
    assert options["bucket_name"] == "b" and options["location"] == ""
    assert options["file_overwrite"] is False and options["default_acl"] is None
    assert options["querystring_auth"] is True and options["querystring_expire"] == SIGNED_URL_SECONDS <= 300


def test_the_usual_aws_settings_work_without_the_url():
    options = media_storage({"AWS_STORAGE_BUCKET_NAME": "b2", "AWS_LOCATION": "/media/", "AWS_S3_REGION_NAME": "us-east-2",
                             "AWS_S3_ENDPOINT_URL": "https://s3.example.test"})["OPTIONS"]
    assert (options["bucket_name"], options["location"], options["region_name"], options["endpoint_url"]) == \
        ("b2", "media", "us-east-2", "https://s3.example.test")


def test_without_either_media_stays_in_the_local_folder():
    assert media_storage({}) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


@pytest.mark.parametrize("url, named", [
    ("https://bucket/x", "s3://"),
    ("s3://AKIA:secret@bucket/x", "AWS_ACCESS_KEY_ID"),
    ("s3:///prefix", "names no bucket"),
    ("s3://bucket?endpoint=http://x", "'endpoint'"),
    ("s3://bucket?addressing_style=sideways", "addressing_style"),
])
def test_a_wrong_url_is_refused_with_what_is_wrong(url, named):
    with pytest.raises(ImproperlyConfigured, match=named) as caught:
        parse_storage_url(url)
    assert "secret" not in str(caught.value)


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_media(settings, s3_server, monkeypatch):
    """The default storage on a fresh bucket of the local S3 server."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    bucket = f"media-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **_keys()).create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(
        {"MEDIA_STORAGE_URL": f"s3://{bucket}/prefix?endpoint_url={s3_server}&region=us-east-1"})}
    return bucket


def _keys():
    return {"aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"]}


def test_files_go_to_the_bucket_under_the_prefix_and_are_never_overwritten(s3_media, s3_server):
    first = default_storage.save("results/1/0.png", ContentFile(b"first"))
    second = default_storage.save("results/1/0.png", ContentFile(b"second"))
    assert first == "results/1/0.png" and second != first
    with default_storage.open(first, "rb") as handle:
        assert handle.read() == b"first"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", **_keys())
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_media)["Contents"])
    assert keys == sorted([f"prefix/{first}", f"prefix/{second}"])
    # Should anything ask for a link: signed, and ending within SIGNED_URL_SECONDS.
    query = parse_qs(urlsplit(default_storage.url(first)).query)
    assert query["Signature"] and 0 < int(query["Expires"][0]) - time.time() <= SIGNED_URL_SECONDS + 5


def test_health_storage_is_ok_when_the_bucket_answers(s3_media):
    assert health.run_checks(["storage"])["checks"]["storage"]["status"] == "ok"


def test_health_storage_is_down_without_the_bucket(s3_media, settings):
    options = {**settings.STORAGES["default"]["OPTIONS"], "bucket_name": "no-such-bucket"}
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND, "OPTIONS": options}}
    answer = health.run_checks(["storage"])
    assert answer["status"] == "down" and answer["failing"] == ["storage"]
    assert answer["checks"]["storage"]["error"] == "ClientError"


def test_health_storage_gives_up_soon_when_the_server_is_gone(s3_media, settings):
    """A loopback port nobody listens on: refused at once; the check names only the error class."""
    options = {**settings.STORAGES["default"]["OPTIONS"], "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND, "OPTIONS": options}}
    settings.HEALTH_TIMEOUT_SECONDS = 1.0
    started = time.monotonic()
    answer = health.run_checks(["storage"])
    assert answer["failing"] == ["storage"] and answer["checks"]["storage"]["error"] == "EndpointConnectionError"
    assert time.monotonic() - started < 15  # one try with a 1 s timeout, not the transfers' retries
