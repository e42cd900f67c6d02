"""GET /metrics: Prometheus text, computed from the database at each scrape.

The workers run on other machines and in other processes; what they did is in the database (the
Result rows and the leaderboard's per-day rollups), which every web process shares. So a custom
collector reads it there, instead of each process counting its own calls (prometheus-client's
multiprocess mode only adds up processes of one machine, and the web process makes no provider
call). Every series is for the whole installation (all teams); no series names a team.

- Totals (``*_total``) come from the rollups (compare/insights/models.py): folded at scrape time
  like the leaderboard does, then one grouped sum over the rollup cells, whatever the number of
  comparisons. They cover every terminal result still in the database; deleting comparisons
  lowers them (Prometheus reads that as a counter reset).
- Latency and queue-wait histograms are over a window: the results that finished in the last
  METRICS_WINDOW_SECONDS, bucket counts computed by SQL (one filtered COUNT per bucket, through
  the finished_at index). They are gauge histograms: read them with histogram_quantile() on the
  buckets themselves, not on rate().
- Gauges (queued and running results, alive workers) are the state at the scrape."""

import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Min, Q, Sum
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.utils import floatToGoString

from compare.insights import models as rollups
from compare.insights.models import RouteDay
from compare.models import Result, Status
from compare.ops.health import alive_workers

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)  # seconds
QUEUE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
OUTCOMES = ("succeeded", "failed", "refused", "timed_out", "cancelled")  # RouteDay's counters
TOTALS = "from the leaderboard rollups: every terminal result in the database, all teams"


class DatabaseCollector:
    """The series of one scrape, read from the database."""

    def __init__(self, window_seconds, using="default"):
        self.window = window_seconds
        self.using = using

    def collect(self):
        rollups.fold_pending(using=self.using)
        yield from self.totals()
        yield from self.state()
        yield from self.windowed()

    def totals(self):
        sums = ["results", *OUTCOMES, "retries", "retried_calls", "reported_micros", "estimated_micros",
                "unknown_cost_calls"]
        rows = (RouteDay.objects.using(self.using).values("route_key")
                .annotate(**{name: Sum(name) for name in sums}).order_by("route_key"))
        calls = CounterMetricFamily(
            "ipc_provider_calls", f"Provider calls that ended, by route and outcome ({TOTALS}). refused: "
            "the provider refused the content; retries of one call are not counted here.", labels=["route", "outcome"])
        retries = CounterMetricFamily(
            "ipc_provider_retries", f"Attempts a provider refused (429, 5xx) and we retried, by route ({TOTALS}).",
            labels=["route"])
        retried = CounterMetricFamily(
            "ipc_provider_retried_calls", f"Calls that needed at least one retry, by route ({TOTALS}).",
            labels=["route"])
        cost = CounterMetricFamily(
            "ipc_provider_cost_usd", f"Cost of the succeeded calls in US dollars, by route and where the figure "
            f"comes from: source=\"reported\" is the provider's answer (billed, or its usage times our price), "
            f"source=\"estimated\" our price for the request (the catalog, or a price entered for the route) ({TOTALS}).",
            labels=["route", "source"])
        unpriced = CounterMetricFamily(
            "ipc_provider_unpriced_calls", f"Succeeded calls with no cost known (neither from the provider nor priced by us: "
            f"not in the cost figures), by route ({TOTALS}).", labels=["route"])
        for row in rows:
            route = row["route_key"]
            for outcome in OUTCOMES:
                calls.add_metric([route, outcome], row[outcome] or 0)
            retries.add_metric([route], row["retries"] or 0)
            retried.add_metric([route], row["retried_calls"] or 0)
            cost.add_metric([route, "reported"], (row["reported_micros"] or 0) / 1_000_000)
            cost.add_metric([route, "estimated"], (row["estimated_micros"] or 0) / 1_000_000)
            unpriced.add_metric([route], row["unknown_cost_calls"] or 0)
        yield from (calls, retries, retried, cost, unpriced)

    def state(self):
        results = Result.objects.using(self.using)
        waiting = GaugeMetricFamily(
            "ipc_results", "Results not finished yet, by route and state (queued: waiting for a worker; running: "
            "its provider call is under way), at the scrape.", labels=["route", "state"])
        for row in (results.filter(status__in=[Status.QUEUED, Status.RUNNING]).values("route_key", "status")
                    .annotate(n=Count("pk")).order_by("route_key", "status")):
            waiting.add_metric([row["route_key"], row["status"]], row["n"])
        oldest = results.filter(status=Status.QUEUED, enqueued_at__isnull=False).aggregate(at=Min("enqueued_at"))["at"]
        age = GaugeMetricFamily(
            "ipc_oldest_queued_result_age_seconds", "Seconds the longest-waiting queued result has been in the "
            "queue, at the scrape (0 when none is queued).")
        age.add_metric([], max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0)
        workers = GaugeMetricFamily(
            "ipc_workers_alive", "Celery workers whose heartbeat is recent (3 x WORKER_HEARTBEAT_SECONDS), at the scrape.")
        workers.add_metric([], alive_workers().using(self.using).count())
        yield from (waiting, age, workers)

    def windowed(self):
        since = timezone.now() - timedelta(seconds=self.window)
        results = Result.objects.using(self.using)
        # Through the finished_at index, by id: given the window's rows as a filter of their own,
        # SQLite's planner would rather walk the status or route index over every result.
        finished = results.filter(pk__in=results.filter(finished_at__gte=since).values("pk"))
        window = GaugeMetricFamily(
            "ipc_metrics_window_seconds", "The window the ipc_*_window histograms cover, in seconds.")
        window.add_metric([], self.window)
        yield window
        yield histogram(
            "ipc_provider_latency_seconds_window",
            f"Our measured latency of the succeeded provider calls that finished in the last {self.window:g} s, "
            "by route (a gauge histogram over that window, not cumulative).",
            finished.filter(status=Status.SUCCEEDED, latency_ms__isnull=False), "latency_ms", LATENCY_BUCKETS)
        yield histogram(
            "ipc_queue_wait_seconds_window",
            f"Our queue wait (enqueued to picked up by a worker) of the results that finished in the last "
            f"{self.window:g} s, by route (a gauge histogram over that window, not cumulative).",
            finished.filter(queue_ms__isnull=False), "queue_ms", QUEUE_BUCKETS)


def histogram(name, documentation, queryset, field, buckets):
    """A gauge histogram by route of a millisecond field, in seconds: one grouped query with a
    filtered COUNT per bucket (no row is loaded)."""
    counts = {f"le_{i}": Count("pk", filter=Q(**{f"{field}__lte": bound * 1000})) for i, bound in enumerate(buckets)}
    rows = (queryset.values("route_key").annotate(n=Count("pk"), total=Sum(field), **counts).order_by("route_key"))
    family = GaugeHistogramMetricFamily(name, documentation, labels=["route"])
    for row in rows:
        pairs = [(floatToGoString(bound), row[f"le_{i}"]) for i, bound in enumerate(buckets)] + [("+Inf", row["n"])]
        family.add_metric([row["route_key"]], pairs, (row["total"] or 0) / 1000)
    return family


def authorized(request):
    """With METRICS_TOKEN set: that Bearer token (compared in constant time). Unset: a logged-in
    staff user (route names and volumes are not for every visitor of a shared server)."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    return request.user.is_authenticated and request.user.is_staff


@never_cache
@require_safe
@login_not_required
def metrics(request):
    if not authorized(request):
        response = HttpResponse("Unauthorized: send Authorization: Bearer METRICS_TOKEN.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = "Bearer"
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(settings.METRICS_WINDOW_SECONDS))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
