"""The live app against its own OpenAPI document: schemathesis generates requests for every
operation of GET /api/openapi.json and sends them to a real server (`manage.py serve` on a
loopback port, its own VAR_DIR, sandbox routes only) with an API token. No answer is a 500, and
every answer has a documented status, content type and body (positive data); requests that break
the document (negative data) get no 500 either. Examples are bounded (and the seed fixed) so the
run stays near a minute on a small machine. Only creating a webhook is left out (LEFT_OUT says why)."""

import subprocess
import sys
from pathlib import Path

import pytest

from providers.testing.stack import Stack

pytestmark = pytest.mark.e2e

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("openapi"), env={"SANDBOX_LATENCY_SCALE": "0.02"}).start()
    yield stack
    stack.stop()


def seed_objects(stack):
    """Objects with id 1 (the fresh database's first), so that generated ids reach real rows:
    a finished comparison with its results, a batch and a share link of the token's team."""
    comparison = stack.submit("a red fox", ["sandbox:fast", "sandbox:steady"], quality="low")
    assert comparison["id"] == 1
    stack.wait_done(comparison["id"])
    batch = stack.http.post("/api/batches", json={"prompt_set": "typography", "routes": ["sandbox:fast"],
                                                  "params": {"quality": "low"}})
    assert batch.status_code == 201, batch.text
    link = stack.http.post("/api/comparisons/1/share", json={})
    assert link.status_code == 201, link.text


# Left out: creating a webhook makes the server resolve, and later call, whatever URL schemathesis
# invents (traffic beyond loopback). Its answers are checked against the document with real data
# in tests/api/test_openapi_document.py, and its rules in tests/notifications/test_webhook_api.py.
LEFT_OUT = ("createWebhook",)


def schemathesis(stack, report_dir, *options):
    """The CLI on the document as the server serves it, saved to a file (loaded from its URL, the
    CLI would leave that one operation out)."""
    document = report_dir / "openapi.json"
    report_dir.mkdir()
    document.write_bytes(stack.http.get("/api/openapi.json").raise_for_status().content)
    return subprocess.run(
        [str(SCHEMATHESIS), "run", str(document), "--url", stack.url,
         "--header", f"Authorization: Bearer {stack.token}",
         "--workers", "1", "--no-shrink", "--output-truncate", "false", "--report", "junit",
         "--report-dir", str(report_dir), *[f"--exclude-operation-id={op}" for op in LEFT_OUT], *options],
        capture_output=True, text=True, timeout=600, cwd=report_dir)  # its replay store lands there too


def test_every_operation_answers_as_documented(stack, tmp_path):
    seed_objects(stack)
    positive = schemathesis(stack, tmp_path / "positive", "--mode", "positive", "--max-examples", "5", "--seed", "17",
                            "--phases", "examples,coverage,fuzzing",
                            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                                        "response_schema_conformance")
    assert positive.returncode == 0, positive.stdout[-20000:] + positive.stderr[-5000:]
    paths = stack.http.get("/api/openapi.json").json()["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert f"Tested: {operations - len(LEFT_OUT)}" in positive.stdout, positive.stdout[-3000:]  # all the others ran
    negative = schemathesis(stack, tmp_path / "negative", "--mode", "negative", "--max-examples", "3", "--seed", "17",
                            "--phases", "fuzzing", "--checks", "not_a_server_error")
    assert negative.returncode == 0, negative.stdout[-20000:] + negative.stderr[-5000:]
    assert "Internal Server Error" not in stack.logs()  # Django's log line for a 500, whichever run caused it
