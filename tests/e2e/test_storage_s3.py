"""Media on S3-compatible storage, for real: the web process and two workers, each with its own
VAR_DIR and no shared disk (as on three machines), on PostgreSQL + Redis, with a local S3 server
(moto in server mode on a loopback port). Every image, thumbnail, reference, export, share preview
and difference image goes through the bucket; nothing is written under any VAR_DIR's media/."""

import base64
import hashlib
import io
import re
import subprocess
import sys
import uuid
import zipfile

import boto3
import httpx
import pytest
from cryptography.fernet import Fernet
from PIL import Image

from providers.testing.stack import ROOT, Stack, free_port, reachable

from tests.helpers import skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.services]

KEYS = {"AWS_ACCESS_KEY_ID": "e2e-access-key", "AWS_SECRET_ACCESS_KEY": "e2e-secret-key"}
BUCKET = "ipc-media"
ROUTES = [f"sandbox:r{n}" for n in range(6)]


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=BUCKET)
    yield url, client
    server.stop()


@pytest.fixture(scope="module")
def three_machines(tmp_path_factory, s3_server):
    """Web (its own VAR_DIR) + two workers (each its own VAR_DIR); PostgreSQL, Redis, S3 shared."""
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        if not reachable("127.0.0.1", port):
            skip_or_fail(f"{name} is not reachable at 127.0.0.1:{port}", "REQUIRE_SERVICES")
    import psycopg

    url, _ = s3_server
    database = f"ipc_storage_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    root = tmp_path_factory.mktemp("three-machines")
    var_dirs = {"web": root / "web", 0: root / "worker0", 1: root / "worker1"}
    for folder in var_dirs.values():
        folder.mkdir()
    stack = Stack(var_dirs["web"], workers=2, worker_concurrency=2,
                  worker_env={n: {"VAR_DIR": str(var_dirs[n])} for n in (0, 1)}, env={
                      "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
                      "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
                      "CELERY_QUEUE": database,  # a queue of its own on the shared Redis
                      "MEDIA_STORAGE_URL": f"s3://{BUCKET}/media?endpoint_url={url}&region=us-east-1",
                      **KEYS,
                      # Shared secrets come from the environment on every machine, not from var/.
                      "SECRET_KEY": "e2e-" + uuid.uuid4().hex * 2, "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
                      "SANDBOX_ROUTES": "; ".join(f"r{n}=1-1.5" for n in range(6)),
                  })
    try:
        stack.start()
        stack.var_dirs = var_dirs
        yield stack
    finally:
        stack.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def png_data_url():
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def logged_in(stack):
    """A browser-like session of the local admin (the ZIP export and the side-by-side are pages)."""
    client = httpx.Client(base_url=stack.url, timeout=30)
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login/", data={"username": "admin", "password": stack.local_password(),
                                          "csrfmiddlewaretoken": token}, headers={"Referer": stack.url + "/login/"})
    assert answer.status_code == 302, answer.text[:500]
    return client


def media_files(var_dir):
    folder = var_dir / "media"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_three_machines_share_media_through_the_bucket_only(three_machines, s3_server):
    stack, (_, s3) = three_machines, s3_server
    health = httpx.get(f"{stack.url}/healthz", timeout=30).json()
    assert health["checks"]["storage"]["status"] == "ok", health

    done = stack.wait_done(_submit_with_reference(stack)["id"], timeout=120)
    results = done["results"]
    assert [r["status"] for r in results] == ["succeeded"] * len(ROUTES), results
    workers = {r["worker"] for r in results}
    assert len(workers) == 2, f"the calls should land on both workers: {workers}"

    # Every image and thumbnail, made on either worker, is served by the web process.
    for result in results:
        for image in result["images"]:
            original = stack.http.get(image["url"])
            assert original.status_code == 200
            assert hashlib.sha256(original.content).hexdigest() == image["sha256"]
            thumbnail = stack.http.get(image["thumbnail_url"])
            assert thumbnail.status_code == 200 and Image.open(io.BytesIO(thumbnail.content)).format == "WEBP"
    references = done["references"]
    assert references
    for ref in references:
        answer = stack.http.get(ref["url"])
        assert answer.status_code == 200 and Image.open(io.BytesIO(answer.content)).size == (64, 64)

    browser = logged_in(stack)
    export = browser.get(f"/comparisons/{done['id']}/export.zip")
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        names = archive.namelist()
        images = [n for n in names if n.startswith("images/")]
        assert len(images) == len(ROUTES)
        by_sha = {i["sha256"] for r in results for i in r["images"]}
        assert {hashlib.sha256(archive.read(n)).hexdigest() for n in images} == by_sha

    a, b = results[0]["images"][0], results[1]["images"][0]
    a_id, b_id = (int(i["url"].rstrip("/").rsplit("/", 1)[1]) for i in (a, b))
    diff = browser.get(f"/comparisons/{done['id']}/side-by-side/diff.png", params={"a": a_id, "b": b_id})
    assert diff.status_code == 200 and Image.open(io.BytesIO(diff.content)).format == "PNG"

    share = stack.http.post(f"/api/comparisons/{done['id']}/share", json={})
    assert share.status_code == 201, share.text
    page_url = share.json()["url"]
    preview_url = page_url.rstrip("/") + "/preview.png"
    page = httpx.get(page_url, timeout=30)  # the outside viewer's page and its images, no login
    assert page.status_code == 200
    shared_thumbs = re.findall(r'src="(/s/[^"]+/thumbnail)"', page.text)
    assert shared_thumbs
    for path in shared_thumbs:
        assert httpx.get(stack.url + path, timeout=30).status_code == 200
    first = httpx.get(preview_url, timeout=30)
    assert first.status_code == 200 and Image.open(io.BytesIO(first.content)).size == (1200, 630)
    assert httpx.get(preview_url, timeout=30).content == first.content  # the second read comes from the bucket

    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])]
    assert all(k.startswith("media/") for k in keys)
    for kind in ("results/", "references/", "share-previews/", "diffs/"):
        assert any(k.startswith("media/" + kind) for k in keys), f"nothing under {kind}: {keys}"
    for name, var_dir in stack.var_dirs.items():
        assert media_files(var_dir) == [], f"{name} wrote media to its own disk"


def _submit_with_reference(stack):
    """A comparison that edits one uploaded image (a reference image kept in storage too)."""
    response = stack.http.post("/api/comparisons", json={"prompt": "make the red square blue", "routes": ROUTES,
                                                         "params": {"quality": "low"}, "images": [png_data_url()]})
    assert response.status_code == 201, response.text
    return response.json()


def test_the_operators_smoke_test_passes_against_the_running_site(three_machines):
    stack = three_machines
    env = {**stack.env, "SMOKE_TEST_TOKEN": stack.token}
    run = subprocess.run([sys.executable, "manage.py", "smoke_test", "--url", stack.url, "--timeout", "120"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "smoke test passed" in run.stdout and "image(s) and thumbnail(s) served" in run.stdout
    assert stack.token not in run.stdout + run.stderr


def test_the_smoke_test_fails_with_the_step_when_the_token_is_wrong(three_machines):
    stack = three_machines
    run = stack.manage("smoke_test", "--url", stack.url, check=False)  # no SMOKE_TEST_TOKEN
    assert run.returncode == 1 and "SMOKE_TEST_TOKEN" in run.stderr
    run = subprocess.run([sys.executable, "manage.py", "smoke_test", "--url", stack.url],
                         cwd=ROOT, env={**stack.env, "SMOKE_TEST_TOKEN": "not-a-token"}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1 and "answered 401" in run.stderr
