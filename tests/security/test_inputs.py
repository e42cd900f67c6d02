"""Input limits (issue 11 item 7): oversized bodies and uploads are refused without being read
whole, and every malformed parameter is a clear 400 naming the field, never a 500."""

import json
import tracemalloc

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client

from compare.catalog import _routes_cache
from compare.models import Comparison
from compare.teams import credentials, crypto
from compare.teams.models import Team, TeamCredential

from tests.every_url import LISTS, NOT_OURS, app_patterns, url_for

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
BOUNDARY = "----capped-upload-test"


class Endless:
    """A wsgi.input that makes a multipart body with one file of ``file_bytes`` on the fly (the
    test never holds it either) and counts what the server read."""

    def __init__(self, file_bytes, fields=(("prompt", "a fox"), ("routes", "sandbox:fast"))):
        head = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                       for name, value in fields)
        head += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="reference_images"; filename="huge.png"\r\n'
                 "Content-Type: image/png\r\n\r\n")
        self.head, self.tail = head.encode(), f"\r\n--{BOUNDARY}--\r\n".encode()
        self.file_bytes = file_bytes
        self.length = len(self.head) + file_bytes + len(self.tail)
        self.position = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.length - self.position
        size = min(size, self.length - self.position)
        out = bytearray()
        while len(out) < size:
            at = self.position + len(out)
            if at < len(self.head):
                out += self.head[at:at + size - len(out)]
            elif at < len(self.head) + self.file_bytes:
                out += b"\0" * min(size - len(out), len(self.head) + self.file_bytes - at)
            else:
                start = at - len(self.head) - self.file_bytes
                out += self.tail[start:start + size - len(out)]
        self.position += len(out)
        return bytes(out)

    def readline(self, size=-1):  # not used by the multipart parser; WSGI asks for it
        return self.read(size)


def post_stream(client, stream):
    return client.request(**{"REQUEST_METHOD": "POST", "PATH_INFO": "/", "wsgi.input": stream,
                             "CONTENT_LENGTH": str(stream.length),
                             "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}"})


class Spy(FileUploadHandler):
    """Sits after the capped handler: the most bytes of one file that went on to be stored."""

    most = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.seen = 0

    def receive_data_chunk(self, raw_data, start):
        self.seen += len(raw_data)
        Spy.most = max(Spy.most, self.seen)
        return raw_data

    def file_complete(self, file_size):
        return None


def test_a_300mb_upload_is_refused_without_being_read_whole(alice_client):
    stream = Endless(300 * MB)
    tracemalloc.start()
    try:
        response = post_stream(alice_client, stream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert "314,573," in response.content.decode() and "MAX_REQUEST_BYTES" in response.content.decode()
    assert stream.position < MB, f"the server read {stream.position:,} bytes of a body it refuses"
    assert peak < 50 * MB
    assert not Comparison.objects.exists()


def test_a_file_over_the_image_limit_streams_past_and_is_never_kept_whole(alice_client, settings):
    """Under the request limit but over MAX_IMAGE_BYTES: read in chunks, stored up to the cap only,
    then dropped, and the form names the file; the prompt typed is not lost."""
    settings.MAX_IMAGE_BYTES = 2 * MB
    settings.MAX_REQUEST_BYTES = 100 * MB
    settings.FILE_UPLOAD_HANDLERS = ["compare.uploads.CappedUploadHandler", f"{__name__}.Spy",
                                     *settings.FILE_UPLOAD_HANDLERS[1:]]
    Spy.most = 0
    stream = Endless(40 * MB)
    tracemalloc.start()
    try:
        response = post_stream(alice_client, stream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    body = response.content.decode()
    assert response.status_code == 400
    assert "huge.png is 41,943,040 bytes" in body and "over the 2,097,152 byte limit per image" in body
    assert "a fox" in body  # the prompt comes back in the form
    assert Spy.most <= 2 * MB
    assert peak < 20 * MB
    assert not Comparison.objects.exists()


def test_an_api_body_over_the_limit_is_refused_before_it_is_read(alice_token, settings):
    settings.MAX_REQUEST_BYTES = MB
    body = json.dumps({"prompt": "x" * (2 * MB), "routes": ["sandbox:fast"]})
    response = Client().post("/api/comparisons", body, content_type="application/json",
                             headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 413 and "MAX_REQUEST_BYTES" in response.content.decode()


@pytest.mark.parametrize("path", ["/api/comparisons", "/api/batches"])
def test_deep_json_is_a_400(alice_token, path):
    auth = {"Authorization": f"Bearer {alice_token}"}
    for body in ("[" * 100_000 + "]" * 100_000, json.dumps({"prompt": "x", "params": {"size": [[[[[[]]]]]] * 1}})
                 .replace("[[[[[[]]]]]]", "[" * 40 + "]" * 40)):
        response = Client().post(path, body, content_type="application/json", headers=auth)
        assert response.status_code == 400, body[:60]
        assert "nested more than 32 levels" in response.json()["errors"]["__all__"][0]
    for body in ("[]", "1", '"text"', "null"):
        response = Client().post(path, body, content_type="application/json", headers=auth)
        assert response.status_code == 400 and "JSON object" in response.json()["errors"]["__all__"][0]


def test_huge_team_parameter_is_a_400(alice, alice_token):
    auth = {"Authorization": f"Bearer {alice_token}"}
    for path in ("/api/comparisons", "/api/routes", "/api/batches", "/api/prompt-sets"):
        for value in ("99999999999999999999999999", "abc", "-1", "1e5", "٣"):
            response = Client().get(path, {"team": value}, headers=auth)
            assert response.status_code == 400, (path, value)
            assert "team must be an id" in response.json()["errors"]["team"][0]
    team = Team.personal_for(alice)
    assert Client().get("/api/routes", {"team": str(team.pk)}, headers=auth).status_code == 200
    body = {"prompt": "x", "routes": ["sandbox:fast"], "team": 99999999999999999999999}
    response = Client().post("/api/comparisons", json.dumps(body), content_type="application/json", headers=auth)
    assert response.status_code == 400 and "team" in response.json()["errors"]
    client = Client()
    client.force_login(alice)
    for value in ("abc", "99999999999999999999999999"):  # the team switcher's form field
        assert client.post("/team/switch", {"team": value}).status_code == 400


def test_far_date_is_a_400(alice_client):
    for value in ("9999-12-31", "0001-01-01", "2024-13-45"):
        for name in ("from", "to"):
            page = alice_client.get("/leaderboard", {name: value})
            assert page.status_code == 400, (name, value)
            assert value in page.content.decode() and "ignored" in page.content.decode()
            export = alice_client.get("/leaderboard.csv", {name: value})
            assert export.status_code == 400 and f"{name}: " in export.content.decode()
    assert alice_client.get("/leaderboard", {"from": "2026-01-01", "to": "2026-12-31"}).status_code == 200


def test_malformed_team_compatible_routes_does_not_break_pages(alice, alice_client, alice_token):
    """A value stored before it was checked (or by hand): the team's pages and API still answer,
    the bad entry is listed as not usable with the reason, and the good entry next to it works."""
    team = Team.personal_for(alice)
    for value in ('{"not": "a list"}', "not json", '[{"name": "broken"}, {"name": "ok", '
                                                   '"base_url": "https://llm.example.com/v1", "model": "m"}]'):
        _routes_cache.clear()
        TeamCredential.objects.update_or_create(team=team, name="COMPATIBLE_ROUTES", defaults={
            "ciphertext": crypto.encrypt(value), "last4": value[-4:]})
        for path in ("/", "/routes/", "/comparisons/", "/leaderboard", f"/teams/{team.pk}/credentials"):
            assert alice_client.get(path).status_code == 200, (value, path)
        listed = alice_client.get("/routes/").content.decode()
        assert "COMPATIBLE_ROUTES" in listed and "not usable" in listed
        routes = Client().get("/api/routes", headers={"Authorization": f"Bearer {alice_token}"}).json()["routes"]
        bad = [r for r in routes if r["key"].startswith("compatible:") and not r["configured"]]
        assert bad and "COMPATIBLE_ROUTES" in bad[0]["missing_credentials"][0]
        refused = alice_client.post("/", {"prompt": "x", "routes": [bad[0]["key"]], "size": "square",
                                          "quality": "low", "output_format": "png", "n": "1"})
        assert refused.status_code == 400 and not Comparison.objects.exists()
    assert any(r["key"] == "compatible:ok" and r["configured"] for r in routes)
    # and a new malformed value is refused when it is saved, with the reason
    with pytest.raises(credentials.RefusedValue, match="needs name, base_url and model"):
        credentials.check_value("COMPATIBLE_ROUTES", '[{"name": "broken"}]')


def test_bad_parameters_on_pages_are_not_server_errors(alice, alice_client):
    """Cases the fuzzing of every URL found (each was a 500 before)."""
    team = Team.personal_for(alice)
    for value in ("99999999999999999999999", "1e400", "NaN", "-1"):
        response = alice_client.post(f"/teams/{team.pk}/budget", {"monthly_budget_usd": value})
        assert response.status_code == 302
        team.refresh_from_db()
        assert team.monthly_budget_usd is None
    assert alice_client.get(f"/teams/{team.pk}/").status_code == 200
    alice_client.post("/", {"prompt": "a fox", "routes": ["sandbox:fast"], "size": "square", "quality": "low",
                            "output_format": "png", "n": "1"})
    result = Comparison.objects.get().results.get()
    for value in ("x", "", "99999999999999999999"):
        assert alice_client.post(f"/results/{result.pk}/rating", {"value": value}).status_code == 400


# Malformed values for the parameters the app reads, sent together to every URL of the app.
MALFORMED = [
    {"team": "99999999999999999999999999", "from": "9999-12-31", "to": "0001-01-01", "page": "99999999999999999999",
     "a": "99999999999999999999", "b": "x", "size": "99999999999999999999x1", "rating": "99999999999999999999",
     "winner": "99999999999999999999", "prompt_from": "team-99999999999999999999", "value": "99999999999999999999",
     "monthly_budget_usd": "99999999999999999999999", "n": "99999999999999999999", "seed": "99999999999999999999",
     "references_from": "99999999999999999999", "prompt_set": "set-99999999999999999999", "q": "\x00"},
    {"team": "abc", "from": "2024-13-45", "to": "9999-12-31", "page": "-5", "a": "x", "value": "bad", "rating": "x",
     "monthly_budget_usd": "1e400", "prompt_from": "x", "status": "zz", "sort": "zz", "quality": "\x00",
     "width": "99999999999999999999", "role": "x", "kind": "x", "labels": "x", "part": "race"},
]
JSON_BODIES = ["[" * 100_000, "1", "[]", "null", "\xff", '{"team": 99999999999999999999999}', '{"team": true}',
               '{"prompt": "x", "routes": ["sandbox:fast"], "params": {"n": 99999999999999999999, "seed": 1e400}}',
               '{"prompt": "x", "routes": ["sandbox:fast"], "params": {"size": [], "quality": {}}}',
               '{"images": ["data:image/png;base64,@@@"], "mask": 5, "labels": 5, "prompt_set": []}']


def test_no_url_answers_a_malformed_parameter_with_a_server_error(alices, alice):
    """Every URL of compare/ and the API (from the resolver), GET and POST, with the malformed
    values above and, for the API, malformed JSON bodies: a 4xx or a page, never a 5xx."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    failures, tried = [], 0
    for name, route in app_patterns():
        url = route if name in LISTS else url_for(name, route, alices)
        if name in NOT_OURS or url is None or "<" in url:
            continue
        path, _, query = url.partition("?")
        for values in MALFORMED:
            for method in ("get", "post"):
                response = getattr(client, method)(f"{path}?{query}" if query else path, values)
                tried += 1
                if response.status_code >= 500:
                    failures.append((method, name, response.status_code))
        if name.startswith("api") and not name.endswith("-link"):
            for body in JSON_BODIES:
                for method in (client.post, client.put):
                    response = method(path, body, content_type="application/json")
                    tried += 1
                    if response.status_code >= 500:
                        failures.append(("json", method.__name__, name, body[:30], response.status_code))
    assert tried > 200
    assert not failures, failures


def test_the_asgi_app_cuts_off_a_body_without_content_length_at_the_limit():
    """A chunked body has no Content-Length to check: it is counted as it arrives and answered 413
    once past MAX_REQUEST_BYTES, before the app behind it has the whole of it."""
    import asyncio

    from config.asgi import limit_body

    reads = []

    async def app(scope, receive, send):  # reads everything, as Django's ASGI handler does
        while (await receive()).get("more_body"):
            reads.append(1)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive():
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}  # never ends

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "headers": [(b"transfer-encoding", b"chunked")]}
    asyncio.run(limit_body(app, 10_000)(scope, receive, send))
    assert sent[0]["status"] == 413 and len(reads) < 11
    sent.clear()
    asyncio.run(limit_body(app, 10_000)({"type": "http", "headers": [(b"content-length", b"10001")]}, receive, send))
    assert sent[0]["status"] == 413 and len(reads) < 11


VAR_FILES_SCRIPT = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from compare.management.commands.serve import Command
from config.celery import app

default_storage.save("comparisons/1/result.png", ContentFile(b"an image"))
Command().ensure_local_account()
app.send_task("compare.tasks.no_such_task")  # a message in the broker's folder (no worker runs)
"""


def test_var_files_are_owner_only(tmp_path):
    """A fresh var/ after migrate, a stored image, the local account and a broker message: every
    file and folder in it is the owner's alone (no group or other permission bits)."""
    import os
    import stat
    import subprocess
    import sys

    from providers.testing.stack import ROOT, UNIT_TEST_ENV

    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in UNIT_TEST_ENV}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(var)})
    for args in (["migrate", "--noinput"], ["shell", "-c", VAR_FILES_SCRIPT]):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              umask=0o022, timeout=120)
        assert done.returncode == 0, done.stderr
    found = {path.relative_to(var).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in [var, *var.rglob("*")]}
    for name in ("secret_key", "credentials_key", "local-account.txt", "db.sqlite3", "media/comparisons/1/result.png"):
        assert name in found, sorted(found)
    assert any(name.startswith("broker/queue/") for name in found), sorted(found)
    exposed = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert not exposed


def test_no_redirect_built_from_the_request_leaves_the_site(alice, alice_client):
    """Every redirect that takes its address from the request checks it with
    url_has_allowed_host_and_scheme (the team switcher's is tested with the team pages)."""
    from compare.sharing.models import ShareLink
    from tests.compare.factories import comparison

    fox = comparison(user=alice)
    for target in ("//evil.example/x", "https://evil.example/", "http://testserver.evil.example/", "javascript:alert(1)"):
        link = ShareLink.objects.create(team=fox.team, comparison=fox)
        response = alice_client.post(f"/team/links/{link.pk}/revoke", {"next": target})
        assert response.status_code == 302 and response["Location"] == "/team/links", target
        response = Client().post("/login/", {"username": "alice", "password": "alice-password", "next": target})
        assert response.status_code == 302 and "evil" not in response["Location"] and "javascript" not in response["Location"]


def test_csp_header_is_sent(alice, alice_client):
    """Every page and the public share page carry the policy: this origin only, no inline script."""
    from compare.sharing.models import ShareLink
    from tests.compare.factories import comparison

    fox = comparison(user=alice)
    link = ShareLink.objects.create(team=fox.team, comparison=fox)
    for response in (alice_client.get("/"), alice_client.get("/comparisons/"), Client().get("/login/"),
                     Client().get(link.get_absolute_url())):
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
        assert "unsafe-inline" not in policy["style-src"] and policy["object-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        body = response.content.decode()
        assert " onchange=" not in body and " onfocus=" not in body and "<style" not in body
