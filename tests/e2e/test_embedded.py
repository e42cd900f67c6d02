"""The whole product on embedded defaults, with a real Celery worker (never eager mode)."""

import io
import time

import httpx
import pytest
from PIL import Image


pytestmark = pytest.mark.e2e


def test_ten_provider_calls_are_all_in_flight_before_the_first_answers(embedded_stack, fake_openai):
    """Measured where it matters: when each request reached the (loopback) provider. The speed
    target (every call within 0.5 s of submit) is a benchmark's (BENCHMARKS.md item 1, `make
    bench`); here the proof is that the ten 1-second calls run side by side."""
    routes = [f"compatible:fake{n}" for n in range(10)]  # the fake takes 1 s per call
    before = len(fake_openai.calls)
    submitted = time.time()
    created = embedded_stack.submit("fan out", routes, quality="medium")
    done = embedded_stack.wait_done(created["id"])
    finished = time.time()
    arrivals = sorted(call["arrived"] - submitted for call in fake_openai.calls[before:])
    assert len(arrivals) == 10
    assert all(r["status"] == "succeeded" for r in done["results"]), done
    assert arrivals[-1] < 1.0, f"calls arrived {[round(a, 3) for a in arrivals]} s after submit"
    assert finished - submitted < 3, "ten 1-second calls must run side by side, not one after another"
    for result in done["results"]:
        assert 0 <= result["queue_ms"] < 1000
        assert 1000 <= result["latency_ms"] < 2000  # the provider's second, and not our queue
        assert result["cost_source"] == "usage"  # usage tokens x catalog token prices


def test_the_openai_route_against_its_fake_reports_cost_and_the_providers_timing(embedded_stack):
    done = embedded_stack.wait_done(embedded_stack.submit("a fox", ["openai:gpt-image-2"], quality="high")["id"])
    result = done["results"][0]
    assert result["status"] == "succeeded", result
    assert result["cost_source"] == "usage" and result["cost_usd"] == "0.21112"
    assert result["estimated_cost_usd"] == "0.211"
    assert result["provider_timings_ms"]["provider_generation_ms"] == 1234.0
    assert result["provider_request_id"].startswith("req_")
    assert result["images"][0]["width"] == 1024


def test_a_comparison_ends_with_images_latency_and_cost_per_route(embedded_stack):
    created = embedded_stack.submit("a lighthouse in a storm", ["sandbox:fast", "sandbox:slow", "sandbox:flaky"],
                                    size="1536x1024", quality="low", n=2, output_format="webp")
    assert {r["status"] for r in created["results"]} <= {"queued", "running"}  # a worker may already have one
    done = embedded_stack.wait_done(created["id"])
    by_route = {r["route"]: r for r in done["results"]}
    fast, slow, flaky = by_route["sandbox:fast"], by_route["sandbox:slow"], by_route["sandbox:flaky"]
    for result in (fast, slow):
        assert result["status"] == "succeeded"
        assert result["cost_usd"] == "0" and result["cost_source"] == "billed"
        assert len(result["images"]) == 2
        assert {(i["width"], i["height"], i["format"]) for i in result["images"]} == {(1536, 1024, "webp")}
    # Their latency profiles show through (at quality low, half of fast=0.2-0.4 s and slow=1-1.5 s):
    # the simulated provider time, and our latency never under it (it also holds the drawing).
    fast_ms, slow_ms = (r["provider_timings_ms"]["provider_generation_ms"] for r in (fast, slow))
    assert 100 <= fast_ms <= 200 and 500 <= slow_ms <= 750
    assert fast["latency_ms"] >= fast_ms and slow["latency_ms"] >= slow_ms
    # the flaky route fails alone, with its reason, and the others are untouched
    assert flaky["status"] == "failed" and "outage" in flaky["error"] and flaky["cost_source"] == "unknown"
    image = fast["images"][0]
    response = embedded_stack.http.get(image["url"])
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (1536, 1024)
    assert httpx.get(image["url"]).status_code == 401  # no token, no image
    assert embedded_stack.http.get(image["thumbnail_url"]).headers["content-type"] == "image/webp"


def test_the_command_line_compares_and_waits(embedded_stack):
    out = embedded_stack.manage("compare", "from a script", "--route", "sandbox:fast", "--route", "sandbox:steady",
                                "--size", "portrait", "--quality", "low", "--wait", "--timeout", "60").stdout
    lines = out.splitlines()
    assert lines[0].startswith("Comparison #")
    assert lines[1].split() == ["ROUTE", "STATUS", "LATENCY", "QUEUE", "COST", "SOURCE"]
    assert lines[2].split()[:2] == ["sandbox:fast", "succeeded"]
    assert lines[3].split()[:2] == ["sandbox:steady", "succeeded"]
    assert "billed" in lines[2]


def test_a_bad_submission_enqueues_nothing(embedded_stack):
    before = embedded_stack.http.get("/api/comparisons").json()["count"]
    response = embedded_stack.http.post("/api/comparisons", json={"prompt": "", "routes": ["sandbox:fast"]})
    assert response.status_code == 400 and "prompt" in response.json()["errors"]
    assert embedded_stack.http.get("/api/comparisons").json()["count"] == before
