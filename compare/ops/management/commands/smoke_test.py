"""After a deploy: check a running site end to end over HTTP, as a user would reach it.

/healthz answers 200 with a live worker; a comparison on a sandbox route (no provider, no cost)
submitted through the JSON API finishes; every image and thumbnail it made is served, the
original with the byte count and SHA-256 the API reported. Exit status 1 with the failed step
otherwise. It leaves that one comparison in the token owner's history (prompt "smoke test ...")."""

import hashlib
import os
import time
import uuid
from urllib.parse import urlsplit

import httpx
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Check a deployed site: /healthz, a sandbox comparison through the API, its images. Exit 1 on failure."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the site's base URL, e.g. https://compare.example.org")
        parser.add_argument("--timeout", type=float, default=180.0,
                            help="seconds the comparison may take to finish (default 180)")
        parser.add_argument("--route", default="", help="the sandbox route to use (default: the first listed)")

    def handle(self, *args, url, timeout, route, **options):
        token = os.environ.get("SMOKE_TEST_TOKEN", "")
        if not token:
            raise CommandError("Set SMOKE_TEST_TOKEN to an API token (manage.py api_token USERNAME); "
                               "it is read from the environment so that it stays out of shell history.")
        base = url.rstrip("/")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                          follow_redirects=False) as client:
            self._health(client, wait=min(timeout, 60))
            route = route or self._sandbox_route(client)
            comparison = self._submit(client, route)
            done = self._wait(client, comparison["id"], timeout)
            self._images(client, done)
        self.stdout.write(f"smoke test passed: comparison {done['id']} on {route}")

    def _step(self, text):
        self.stdout.write(text)

    def _health(self, client, wait):
        """/healthz answers 200 with a live worker. Right after a deploy a worker may still be
        starting (its first heartbeat comes once it is up): wait up to ``wait`` seconds for one."""
        deadline = time.monotonic() + wait
        while True:
            response = client.get("/healthz")
            if response.status_code != 200:
                raise CommandError(f"/healthz answered {response.status_code}: {response.text[:500]}")
            body = response.json()
            if body["checks"]["workers"]["status"] == "ok":
                break
            if time.monotonic() > deadline:
                raise CommandError(f"/healthz: no worker is alive after {wait:g} s; comparisons would wait in the queue")
            time.sleep(2)
        self._step(f"healthz: {body['status']}, {body['checks']['workers']['alive']} worker(s) alive")

    def _sandbox_route(self, client):
        response = client.get("/api/routes")
        _expect(response, 200, "GET /api/routes")
        keys = [r["key"] for r in response.json()["routes"] if r["sandbox"] and r["configured"]]
        if not keys:
            raise CommandError("no sandbox route is listed: name one with --route")
        return keys[0]

    def _submit(self, client, route):
        response = client.post("/api/comparisons", headers={"Idempotency-Key": f"smoke-{uuid.uuid4()}"},
                               json={"prompt": f"smoke test {time.strftime('%Y-%m-%d %H:%M:%S')}", "routes": [route]})
        _expect(response, 201, "POST /api/comparisons")
        body = response.json()
        self._step(f"submitted comparison {body['id']} on {route}")
        return body

    def _wait(self, client, pk, timeout):
        deadline = time.monotonic() + timeout
        while True:
            response = client.get(f"/api/comparisons/{pk}")
            _expect(response, 200, f"GET /api/comparisons/{pk}")
            body = response.json()
            if body["status"] == "done":
                break
            if time.monotonic() > deadline:
                raise CommandError(f"comparison {pk} still {body['status']!r} after {timeout:.0f} s: are the workers "
                                   "reading the broker?")
            time.sleep(0.5)
        failed = [f"{r['route']}: {r['status']} {r.get('error') or ''}".strip() for r in body["results"]
                  if r["status"] != "succeeded"]
        if failed:
            raise CommandError(f"comparison {pk} finished with failures: {'; '.join(failed)}")
        self._step(f"comparison {pk} done")
        return body

    def _images(self, client, comparison):
        count = 0
        for result in comparison["results"]:
            if not result["images"]:
                raise CommandError(f"{result['route']} succeeded without an image")
            for image in result["images"]:
                original = client.get(_path(image["url"]))
                _expect(original, 200, f"the image {_path(image['url'])}")
                if len(original.content) != image["bytes"] or hashlib.sha256(original.content).hexdigest() != image["sha256"]:
                    raise CommandError(f"the image {_path(image['url'])} is not the one the API reported")
                thumbnail = client.get(_path(image["thumbnail_url"]))
                _expect(thumbnail, 200, f"the thumbnail {_path(image['thumbnail_url'])}")
                if not thumbnail.content:
                    raise CommandError(f"the thumbnail {_path(image['thumbnail_url'])} is empty")
                count += 1
        self._step(f"{count} image(s) and thumbnail(s) served")


def _path(url):
    """The path of a URL the site reported: fetched from --url only, so the token goes nowhere else."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _expect(response, status, what):
    if response.status_code != status:
        raise CommandError(f"{what} answered {response.status_code}, not {status}: {response.text[:300]}")
