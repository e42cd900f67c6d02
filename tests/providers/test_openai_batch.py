from decimal import Decimal

import httpx
import pytest

from providers import openai_batch, runner
from providers.base import InputImage, InvalidRequestError, ProviderCancelledError, ProviderTimeoutError
from providers.testing.openai_batch import FakeOpenAIBatch

from tests.providers.contract import ProviderContract

BASE = "https://fake-openai.test/v1"


class TestOpenAIBatch(ProviderContract):
    module = openai_batch
    route_key = "openai-batch:gpt-image-2"
    reports_cost = True
    secret = "sk-test-key"

    def make_fake(self):
        return FakeOpenAIBatch(api_key=self.secret)

    def env(self, fake):
        return {"OPENAI_API_KEY": self.secret, "OPENAI_BASE_URL": BASE, "OPENAI_BATCH_POLL_SECONDS": "5"}

    def quality_sent(self, fake):
        return fake.uploaded[0]["body"]["quality"]

    def started(self, fake, **changes):
        provider = self.provider(fake)
        request = self.request(**changes)
        return provider, request, provider.submit(request)

    def test_it_uploads_one_jsonl_line_and_creates_a_24h_batch(self, fake):
        provider, request, job = self.started(fake, quality="high", n=2)
        assert [(c["method"], c["path"]) for c in fake.calls] == [("POST", "/v1/files"), ("POST", "/v1/batches")]
        assert fake.uploaded == [{"custom_id": "image-provider-compare", "method": "POST",
                                  "url": "/v1/images/generations", "body": job["body"]}]
        assert job["body"]["quality"] == "high" and job["body"]["n"] == 2
        assert fake.calls[1]["json"]["completion_window"] == "24h"
        assert job["batch_id"].startswith("batch_") and self.secret not in repr(job)

    def test_the_route_declares_no_edits_and_refuses_one_before_uploading_anything(self, fake):
        caps = self.route(self.env(fake)).capabilities
        assert (caps.edit, caps.mask) == (False, False)
        request = self.request(images=(InputImage(data=b"\x89PNG not really"),))
        assert caps.problems(request) == ["edits with reference images"]
        with pytest.raises(InvalidRequestError, match="does not take reference images"):
            runner.submit(self.provider(fake), request)
        assert fake.calls == []

    def test_checks_say_pending_until_the_batch_completes(self, fake):
        provider, request, job = self.started(fake)
        assert provider.check(job, request) is None  # validating -> in_progress
        result = provider.check(job, request)  # completed: the output line is read
        assert len(result.images) == 1 and result.request_id == job["batch_id"]
        assert result.timings.provider_queue_ms == 5000 and result.timings.provider_generation_ms == 40000

    def test_the_reported_cost_is_half_the_token_price(self, fake):
        provider, request, job = self.started(fake, quality="high")
        provider.check(job, request)
        # (20 text tokens x $5/M + 7034 image tokens x $30/M) x 0.5
        assert provider.check(job, request).usage.cost_usd == (Decimal("0.0001") + Decimal("0.21102")) / 2

    def test_cancel_stops_the_batch_at_openai(self, fake):
        provider, request, job = self.started(fake)
        provider.cancel(job)
        assert fake.calls[-1]["path"] == f"/v1/batches/{job['batch_id']}/cancel"
        with pytest.raises(ProviderCancelledError, match="cancelled at OpenAI"):
            provider.check(job, request)

    @pytest.mark.parametrize("scenario,kind,words", [("failed", InvalidRequestError, "model not available for batch"),
                                                    ("expired", ProviderTimeoutError, "24-hour window")])
    def test_a_batch_that_fails_or_expires_says_so(self, fake, scenario, kind, words):
        provider, request, job = self.started(fake)
        fake.scenario = scenario
        with pytest.raises(kind, match=words):
            provider.check(job, request)

    def test_the_blocking_form_cancels_at_the_deadline(self, fake):
        fake.checks_until_done = 10_000
        provider = self.provider(fake)
        now = [0.0]
        provider.clock = lambda: now[0]
        provider.sleep = lambda seconds: now.__setitem__(0, now[0] + seconds)
        provider.deadline = 20
        with pytest.raises(ProviderTimeoutError, match="we cancelled it at the provider"):
            provider.generate(self.request())
        assert fake.calls[-1]["path"].endswith("/cancel")

    def test_the_poll_interval_comes_from_the_environment(self, fake):
        assert self.provider(fake).poll_interval == 5.0
        route = {r.key: r for r in openai_batch.routes({})}[self.route_key]
        assert route.build(client=httpx.Client(), env={}).poll_interval == 60.0
