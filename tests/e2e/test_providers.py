"""Real provider routes side by side: a real Celery worker talks to loopback fakes of the
OpenAI, fal.ai and Replicate protocols, with one slow route and one failing route."""

import pytest

from providers.testing.stack import parse_time

pytestmark = pytest.mark.e2e

ROUTES = ["openai:gpt-image-2", "fal:openai/gpt-image-2", "replicate:openai/gpt-image-2"]


def test_openai_fal_and_replicate_side_by_side_with_a_slow_and_a_failing_route(embedded_stack, fake_replicate):
    fake_replicate.scenario = "policy"  # Replicate's prediction ends "failed" with a refusal
    try:
        created = embedded_stack.submit("a red fox in fresh snow", ROUTES, size="1024x1024", quality="low")
        done = embedded_stack.wait_done(created["id"], timeout=60)
    finally:
        fake_replicate.scenario = None
    openai, fal, replicate = (next(r for r in done["results"] if r["route"] == key) for key in ROUTES)

    assert openai["status"] == "succeeded" and openai["cost_source"] == "usage"
    assert openai["images"][0]["width"] == 1024

    assert fal["status"] == "succeeded", fal
    assert fal["latency_ms"] >= 2000  # the slow one: its job takes two seconds at the provider
    assert fal["cost_source"] == "estimated" and fal["cost_usd"] == "0.01"  # fal reports no cost: catalog
    assert fal["provider_timings_ms"]["provider_generation_ms"] > 0  # fal's own metrics.inference_time
    assert (fal["images"][0]["width"], fal["images"][0]["height"]) == (1024, 1024)
    assert parse_time(fal["finished_at"]) > parse_time(openai["finished_at"])  # each card ends on its own

    assert replicate["status"] == "failed"
    assert "flagged as sensitive" in replicate["error"] and replicate["error_code"] == "content_policy"
    assert replicate["cost_source"] == "unknown" and replicate["images"] == []


def test_a_provider_answering_with_a_bad_key_fails_only_its_own_card(embedded_stack, fake_fal):
    fake_fal.scenario = "auth"
    try:
        done = embedded_stack.wait_done(embedded_stack.submit("x", ROUTES[:2], quality="low")["id"], timeout=60)
    finally:
        fake_fal.scenario = None
    by_route = {r["route"]: r for r in done["results"]}
    assert by_route["openai:gpt-image-2"]["status"] == "succeeded"
    assert by_route["fal:openai/gpt-image-2"]["status"] == "failed"
    assert by_route["fal:openai/gpt-image-2"]["error_code"] == "auth"
    assert "fal-e2e-key" not in by_route["fal:openai/gpt-image-2"]["error"]


def test_a_batch_route_is_checked_by_scheduled_tasks_until_it_completes(embedded_stack, fake_openai):
    created = embedded_stack.submit("a fox, at half price", ["openai-batch:gpt-image-2", "openai:gpt-image-2"],
                                    quality="low")
    done = embedded_stack.wait_done(created["id"], timeout=60)
    batch, direct = done["results"]
    assert batch["status"] == "succeeded", batch
    assert batch["cost_source"] == "usage" and batch["cost_usd"] == "0.00305"  # (20 x $5/M + 200 x $30/M) / 2
    assert batch["provider_request_id"].startswith("batch_")
    assert any("checked every 0.3 s" in note for note in batch["notes"])
    checks = [c for c in fake_openai.batch.calls if c["method"] == "GET" and c["path"].startswith("/v1/batches/")]
    assert len(checks) >= 3  # three scheduled checks, not one blocked thread
    assert direct["status"] == "succeeded"
