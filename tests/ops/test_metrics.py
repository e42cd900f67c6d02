"""GET /metrics: Prometheus text from the database (what the workers did, wherever they ran),
behind METRICS_TOKEN, with the series parsed back by prometheus_client's own parser."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from compare.models import Comparison, Result, Status
from compare.ops.models import WorkerHeartbeat
from compare.teams.models import Team

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests-0123456789"
FAST, STEADY = "sandbox:fast", "sandbox:steady"


@pytest.fixture
def scraper(client, settings):
    settings.METRICS_TOKEN = TOKEN
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


def samples(response):
    """{(sample name, frozenset of labels): value} of a scrape."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name, **labels):
    return found[(name, frozenset(labels.items()))]


def result(comparison, route, status, *, latency=None, queue=None, cost=None, source="unknown", attempts=(),
           error_code="", finished_ago=60):
    now = timezone.now()
    terminal = status not in (Status.QUEUED, Status.RUNNING)
    return Result.objects.create(
        comparison=comparison, route_key=route, route_label=route, status=status, latency_ms=latency,
        queue_ms=queue, cost_usd=None if cost is None else Decimal(cost), cost_source=source,
        attempts=list(attempts), error_code=error_code,
        enqueued_at=now - timedelta(seconds=finished_ago + 30),
        finished_at=now - timedelta(seconds=finished_ago) if terminal else None)


@pytest.fixture
def history(alice):
    """Two routes, two teams; one result finished long ago (out of the histograms' window)."""
    team = Team.personal_for(alice)
    other = Team.objects.create(name="other team")
    first = Comparison.objects.create(prompt="a fox", team=team, params={"quality": "low"})
    second = Comparison.objects.create(prompt="a hare", team=other, params={"quality": "low"})
    result(first, FAST, Status.SUCCEEDED, latency=800, queue=40, cost="0.04", source="estimated")
    result(first, STEADY, Status.SUCCEEDED, latency=2500, queue=300, cost="0.07", source="billed",
           attempts=[{"status": 429}, {"status": 503}])
    result(second, FAST, Status.SUCCEEDED, latency=1500, queue=20, cost=None, source="unknown")
    result(second, STEADY, Status.FAILED, latency=100, queue=10, error_code="content_policy")
    result(second, STEADY, Status.TIMED_OUT, latency=90000, queue=5, finished_ago=3 * 3600)
    result(first, FAST, Status.QUEUED)
    result(second, STEADY, Status.RUNNING)
    WorkerHeartbeat.objects.create(hostname="celery@box-1")


def test_the_series_after_results_exist(scraper, history):
    found = samples(scraper.get("/metrics"))
    # Totals over every terminal result, all teams, from the rollups (folded at the scrape).
    assert value(found, "ipc_provider_calls_total", route=FAST, outcome="succeeded") == 2
    assert value(found, "ipc_provider_calls_total", route=STEADY, outcome="succeeded") == 1
    assert value(found, "ipc_provider_calls_total", route=STEADY, outcome="refused") == 1
    assert value(found, "ipc_provider_calls_total", route=STEADY, outcome="timed_out") == 1
    assert value(found, "ipc_provider_calls_total", route=STEADY, outcome="failed") == 0
    assert value(found, "ipc_provider_retries_total", route=STEADY) == 2
    assert value(found, "ipc_provider_retried_calls_total", route=STEADY) == 1
    assert value(found, "ipc_provider_cost_usd_total", route=FAST, source="estimated") == pytest.approx(0.04)
    assert value(found, "ipc_provider_cost_usd_total", route=FAST, source="reported") == 0
    assert value(found, "ipc_provider_cost_usd_total", route=STEADY, source="reported") == pytest.approx(0.07)
    assert value(found, "ipc_provider_unpriced_calls_total", route=FAST) == 1
    # The state at the scrape.
    assert value(found, "ipc_results", route=FAST, state="queued") == 1
    assert value(found, "ipc_results", route=STEADY, state="running") == 1
    assert value(found, "ipc_oldest_queued_result_age_seconds") >= 60
    assert value(found, "ipc_workers_alive") == 1
    # The window: the timed-out call of three hours ago is not in it.
    assert value(found, "ipc_metrics_window_seconds") == 3600
    latency = "ipc_provider_latency_seconds_window"
    assert value(found, f"{latency}_bucket", route=FAST, le="0.5") == 0
    assert value(found, f"{latency}_bucket", route=FAST, le="1.0") == 1
    assert value(found, f"{latency}_bucket", route=FAST, le="2.0") == 2
    assert value(found, f"{latency}_bucket", route=FAST, le="+Inf") == 2
    assert value(found, f"{latency}_gcount", route=FAST) == 2
    assert value(found, f"{latency}_gsum", route=FAST) == pytest.approx(2.3)
    assert value(found, f"{latency}_bucket", route=STEADY, le="+Inf") == 1  # succeeded calls only
    wait = "ipc_queue_wait_seconds_window"
    assert value(found, f"{wait}_bucket", route=STEADY, le="0.01") == 1  # the refused call's 10 ms
    assert value(found, f"{wait}_bucket", route=STEADY, le="0.25") == 1
    assert value(found, f"{wait}_bucket", route=STEADY, le="0.5") == 2
    assert value(found, f"{wait}_gcount", route=STEADY) == 2  # the old timed-out result is outside
    # No team is named anywhere, and no prompt.
    text = scraper.get("/metrics").content.decode()
    assert "other team" not in text and "a fox" not in text and "team" not in text.replace("all teams", "")


def test_a_second_scrape_counts_new_results_once(scraper, history, alice):
    samples(scraper.get("/metrics"))
    comparison = Comparison.objects.create(prompt="a stag", team=Team.personal_for(alice), params={})
    result(comparison, FAST, Status.SUCCEEDED, latency=100, queue=1)
    found = samples(scraper.get("/metrics"))
    assert value(found, "ipc_provider_calls_total", route=FAST, outcome="succeeded") == 3
    found = samples(scraper.get("/metrics"))
    assert value(found, "ipc_provider_calls_total", route=FAST, outcome="succeeded") == 3


def test_a_scrape_runs_a_fixed_number_of_queries_whatever_the_history(scraper, history, alice):
    samples(scraper.get("/metrics"))
    with CaptureQueriesContext(connection) as few:
        samples(scraper.get("/metrics"))
    team = Team.personal_for(alice)
    for n in range(30):
        comparison = Comparison.objects.create(prompt=f"more {n}", team=team, params={"quality": "high"})
        result(comparison, FAST, Status.SUCCEEDED, latency=100 + n, queue=1, cost="0.01", source="estimated")
        result(comparison, STEADY, Status.FAILED, latency=50, queue=2)
    samples(scraper.get("/metrics"))  # folds the new ones
    with CaptureQueriesContext(connection) as many:
        samples(scraper.get("/metrics"))
    assert len(many) == len(few)


def test_without_the_token_401(client, settings, history):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"
    assert b"ipc_" not in response.content
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_the_token_is_asked_even_of_a_logged_in_user(client, settings, django_user_model):
    settings.METRICS_TOKEN = TOKEN
    client.force_login(django_user_model.objects.create_user("root", is_staff=True))
    assert client.get("/metrics").status_code == 401


def test_without_a_token_configured_only_staff_sessions(client, settings, alice, django_user_model):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 401
    client.force_login(alice)
    assert client.get("/metrics").status_code == 401
    client.force_login(django_user_model.objects.create_user("root", is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_scraped_by_address_with_the_token(scraper):
    """Prometheus reaches a process by its address: the token is the check, not the Host."""
    assert scraper.get("/metrics", HTTP_HOST="10.0.0.7:8000").status_code == 200
