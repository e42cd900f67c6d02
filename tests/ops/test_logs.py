"""Logs: request ids (kept from a sane X-Request-ID, returned in the answer), the context fields
on every line, one JSON object a line with LOG_FORMAT=json, and no secret in any line."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from providers.base import Capabilities, Provider, Route

from compare import catalog, tasks
from compare.models import Comparison, Result, Status
from compare.ops import logs

from tests.compare import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_context():
    """No context left by an earlier test of this thread (they call the task body outside a task)."""
    with logs.scope(**{name: None for name in logs.FIELDS}):
        yield


@pytest.fixture
def lines():
    """The JSON lines logged during the test, as dicts (a handler like settings.LOGGING's)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_a_submit_logs_a_json_line_with_the_request_id_and_the_comparison(client, alice, alice_token, lines):
    response = client.post("/api/comparisons", {"prompt": "a fox", "routes": ["sandbox:fast"]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {alice_token}",
                           HTTP_X_REQUEST_ID="req-7f3a:edge.1")
    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "req-7f3a:edge.1"
    comparison = Comparison.objects.get()
    created = [line for line in lines() if line.get("event") == "comparison_created"]
    assert len(created) == 1
    line = created[0]
    assert line["request_id"] == "req-7f3a:edge.1"
    assert line["comparison"] == comparison.pk and line["team"] == comparison.team_id
    assert line["level"] == "INFO" and line["logger"] == "compare.services" and line["routes"] == ["sandbox:fast"]
    request = [line for line in lines() if line.get("event") == "request"]
    assert request[-1]["request_id"] == "req-7f3a:edge.1" and request[-1]["status"] == 201
    assert request[-1]["url"] == "/api/comparisons" and request[-1]["method"] == "POST"


@pytest.mark.parametrize("sent", ["", "has spaces", "x" * 129, "new\nline", "ümlaut"])
def test_an_insane_request_id_is_replaced(client, alice, sent):
    client.force_login(alice)
    response = client.get("/routes/", HTTP_X_REQUEST_ID=sent)
    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32 and int(response["X-Request-ID"], 16) >= 0


def test_each_request_gets_its_own_id(client):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert first != second


def test_no_line_for_each_probe(client, lines):
    client.get("/healthz")
    assert not [line for line in lines() if line.get("event") == "request"]


class Leaky(Provider):
    """An adapter that crashes with its own credential in the error (a bug we must survive)."""

    slug = "leaky"
    name = "Leaky"
    credential_names = ("LEAKY_API_KEY",)

    def generate(self, request):
        raise RuntimeError(f"upstream refused credential {self.credentials['LEAKY_API_KEY']} (HTTP 401)")


def test_a_provider_failure_carrying_a_key_is_logged_redacted_with_its_context(alice, monkeypatch, lines):
    key = "team-credential-Zq81xPL0w"  # no recognisable shape: only knowing the route's key redacts it
    monkeypatch.setenv("LEAKY_API_KEY", key)
    route = Route("sandbox:fast", Leaky, "m", "Leaky", Capabilities(), {})
    monkeypatch.setattr(catalog, "get_route", lambda route_key, team=None, **_: route)
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()

    before = logs.current()
    tasks.run_result(result.pk)  # the Celery task's body, in-process

    assert Result.objects.get(pk=result.pk).status == Status.FAILED
    crashed = [line for line in lines() if "crashed" in line["message"]]
    assert len(crashed) == 1
    line = crashed[0]
    assert (line["result"], line["comparison"], line["route"]) == (result.pk, result.comparison_id, "sandbox:fast")
    assert line["team"] == result.comparison.team_id and line["level"] == "ERROR"
    assert "RuntimeError: upstream refused credential *** (HTTP 401)" in line["exc"]
    assert all(key not in json.dumps(found) for found in lines())
    finished = [line for line in lines() if line.get("event") == "result_finished"]
    assert len(finished) == 1 and finished[0]["result"] == result.pk and finished[0]["route"] == "sandbox:fast"
    assert (finished[0]["status"], finished[0]["error_code"]) == ("failed", "internal")
    # The task's context ends with it: later lines of the thread carry neither its ids nor its secrets.
    assert logs.current() == before == {"team": result.comparison.team_id, "comparison": result.comparison_id}
    assert logs.scrub(f"again {key}") == f"again {key}"


def test_credential_shapes_are_blanked_wherever_they_appear():
    cleaned = logs.scrub("GET https://user:pa55word@api.example/v1?api_key=abcd1234efgh "
                         "Authorization: Bearer abcdefgh12345678 sk-proj-ABCDEFGHIJKLMNOP")
    for secret in ("pa55word", "abcd1234efgh", "abcdefgh12345678", "sk-proj-ABCDEFGHIJKLMNOP"):
        assert secret not in cleaned
    assert "https://user:***@api.example" in cleaned
    assert logs.scrub("route_key=sandbox:fast result 12") == "route_key=sandbox:fast result 12"


def test_a_provider_secret_in_the_environment_is_blanked_whatever_its_name(monkeypatch):
    monkeypatch.setenv("HF_CREDENTIALS", "hf-id-1234:hf-secret-5678")  # declared by Higgsfield, no secret word
    monkeypatch.setattr(logs, "_environment_secrets", None)
    assert logs.scrub("signed with hf-id-1234:hf-secret-5678") == "signed with ***"


LOGGING_SCRIPT = """
import logging, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
logging.getLogger("compare.check").warning("calling with %s and the %s", os.environ["OPENAI_API_KEY"],
                                           "metrics token " + os.environ["METRICS_TOKEN"], extra={"event": "probe"})
"""


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_format_from_the_environment_and_configured_secrets_never_printed(tmp_path, log_format):
    env = {k: v for k, v in os.environ.items() if k not in ("VAR_DIR",)}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings_test", "VAR_DIR": str(tmp_path), "LOG_FORMAT": log_format,
                "OPENAI_API_KEY": "plain-looking-value-8812", "METRICS_TOKEN": "another-plain-value-5531"})
    done = subprocess.run([sys.executable, "-c", LOGGING_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stderr.strip().splitlines()
    assert len(printed) == 1, printed
    assert "plain-looking-value-8812" not in done.stderr and "another-plain-value-5531" not in done.stderr
    if log_format == "json":
        line = json.loads(printed[0])
        assert line["message"] == "calling with *** and the metrics token ***"
        assert (line["level"], line["logger"], line["event"]) == ("WARNING", "compare.check", "probe")
    else:
        assert printed[0] == "calling with *** and the metrics token ***"


def test_an_unknown_log_format_is_refused(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "VAR_DIR": str(tmp_path),
           "LOG_FORMAT": "yaml"}
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "LOG_FORMAT='yaml': use text or json" in done.stderr
