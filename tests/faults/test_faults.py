import time
import uuid

import pytest

pytestmark = pytest.mark.e2e


def unique(word):
    return f"{word} {uuid.uuid4().hex[:8]}"


def result_of(stack, prompt, routes=("openai:gpt-image-2",), timeout=60):
    created = stack.submit(prompt, list(routes), quality="low")
    return stack.wait_done(created["id"], timeout=timeout)["results"]


def test_a_hung_provider_ends_timed_out_and_the_other_routes_are_untouched(fault_stack):
    hung, quick = result_of(fault_stack, unique("hang"), routes=("openai:gpt-image-2", "sandbox:quick"))
    assert hung["status"] == "timed_out" and "did not answer in time" in hung["error"]
    assert 1900 <= hung["latency_ms"] < 4000  # the read timeout, not a spinner
    assert quick["status"] == "succeeded"


def test_a_slow_drip_is_cut_off_at_the_deadline_and_ends_timed_out(fault_stack, faulty_openai):
    """Every byte arrives well within the 2 s read timeout, so only the 4 s deadline can stop it."""
    prompt = unique("drip")
    dripping, quick = result_of(fault_stack, prompt, routes=("openai:gpt-image-2", "sandbox:quick"))
    assert dripping["status"] == "timed_out" and "deadline" in dripping["error"], dripping
    assert 3900 <= dripping["latency_ms"] < 6000, dripping["latency_ms"]
    assert quick["status"] == "succeeded"
    assert len(faulty_openai.calls_for(prompt)) == 1  # a timeout may have billed: never retried


def test_a_429_is_retried_with_backoff_and_every_attempt_is_listed(fault_stack, faulty_openai):
    prompt = unique("refuse-once")
    (result,) = result_of(fault_stack, prompt)
    assert result["status"] == "succeeded", (result["error"], result["retried_attempts"])
    assert [(a["status"], a["waited_ms"]) for a in result["retried_attempts"]] == [(429, 1000.0)]
    assert len(faulty_openai.calls_for(prompt)) == 2


def test_a_garbage_image_fails_its_card_with_the_reason_and_keeps_the_cost(fault_stack):
    (result,) = result_of(fault_stack, unique("garbage"))
    assert result["status"] == "failed" and result["error_code"] == "bad_image"
    assert "not an image" in result["error"] and result["cost_source"] == "usage"


def test_a_worker_killed_mid_call_is_reaped_and_the_provider_is_called_once(fault_stack, faulty_openai):
    prompt = unique("slow")
    created = fault_stack.submit(prompt, ["openai:gpt-image-2"], quality="low")
    deadline = time.monotonic() + 20
    while not faulty_openai.calls_for(prompt):  # the call reached the provider: now crash
        assert time.monotonic() < deadline, fault_stack.logs()
        time.sleep(0.05)
    fault_stack.kill_workers()
    worker = fault_stack.spawn_worker(9)
    fault_stack.wait_ready_workers(2)  # the dead one's banner, and the new one's
    (result,) = fault_stack.wait_done(created["id"], timeout=30)["results"]
    assert result["status"] == "failed" and result["error_code"] == "worker_lost"
    time.sleep(6)  # past Redis's visibility timeout: a redelivered task must find the result claimed
    assert len(faulty_openai.calls_for(prompt)) == 1
    assert worker.poll() is None


def test_work_submitted_while_no_worker_runs_is_done_when_one_starts(fault_stack):
    fault_stack.kill_workers()
    created = fault_stack.submit(unique("waiting"), ["sandbox:quick"], quality="low")
    time.sleep(1)
    assert fault_stack.http.get(f"/api/comparisons/{created['id']}").json()["results"][0]["status"] == "queued"
    fault_stack.spawn_worker(7)
    (result,) = fault_stack.wait_done(created["id"], timeout=30)["results"]
    assert result["status"] == "succeeded"
