"""A benchmark's drift alerts: after each run, every route's latest runs judged against the runs of
the trailing BASELINE before them (compare/benchmarks/drift.py's rule), per metric, and the image signature
of seeded routes; alerts opened and closed accordingly (one open alert per route and metric)."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from compare import catalog, imagediff
from compare.benchmarks import drift
from compare.benchmarks.models import BenchmarkAlert, BenchmarkRun, RunStatus
from compare.benchmarks.series import results_by_run, samples
from compare.images import ImageRejected
from compare.models import ResultImage

BASELINE = timedelta(days=7)  # the trailing baseline a route's latest runs are judged against


def evaluate(benchmark, run):
    """Judge each route's latest RECENT_RUNS finished runs against the runs of the BASELINE
    before them (compare/benchmarks/drift.py); open or close alerts. Returns the alerts opened."""
    done = list(BenchmarkRun.objects.filter(benchmark=benchmark, status=RunStatus.DONE, batch__isnull=False,
                                            started_at__lte=run.started_at).order_by("-started_at", "-id")
                .values_list("pk", "started_at")[:200])
    recent = done[:drift.RECENT_RUNS]
    if not recent:
        return []
    oldest_recent = recent[-1][1]
    baseline = [pk for pk, at in done[drift.RECENT_RUNS:] if at >= oldest_recent - BASELINE]
    by_run = results_by_run(benchmark, runs=[pk for pk, _ in recent] + baseline)
    opened = []
    for route in benchmark.routes:
        values = {pk: samples(by_run.get(pk, {}).get(route, [])) for pk in by_run}
        for metric, rule in drift.RULES.items():
            open_alert = BenchmarkAlert.objects.filter(benchmark=benchmark, route_key=route, metric=metric,
                                                       closed_at__isnull=True).first()
            verdict = drift.judge(metric, [values.get(pk, {}).get(metric, []) for pk in baseline],
                                  [values.get(pk, {}).get(metric, []) for pk, _ in recent], open_alert is not None)
            if not verdict.enough:
                continue
            if open_alert is not None and not verdict.firing:
                open_alert.closed_at = timezone.now()
                open_alert.save(update_fields=["closed_at"])
            elif open_alert is None and verdict.firing:
                alert = _open(benchmark, run, route, rule, verdict)
                if alert is not None:
                    opened.append(alert)
        if _seeded(benchmark, route) and len(done) >= 3:
            alert = _judge_signature(benchmark, run, route, [pk for pk, _ in done[:3]])
            if alert is not None:
                opened.append(alert)
    return opened


def _seeded(benchmark, route):
    """A seed is sent to this route: the benchmark asks for one and the route passes it on."""
    if benchmark.params.get("seed") is None:
        return False
    try:
        return catalog.get_route(route, benchmark.team).capabilities.seed
    except Exception:  # a route gone from the catalogue: nothing to judge
        return False


def signatures(run_pk, route):
    """{prompt position: pHash of its first image} of one run's calls to this route."""
    found = {}
    batch = BenchmarkRun.objects.filter(pk=run_pk).values_list("batch", flat=True).first()
    for image in ResultImage.objects.filter(result__comparison__batch_item__batch=batch,
                                            result__route_key=route, index=0).select_related(
            "result__comparison__batch_item"):
        try:
            with image.original.open("rb") as handle:
                picture = imagediff.open_image(handle.read(), fit=256)
        except (OSError, ImageRejected):
            continue
        found[image.result.comparison.batch_item.position] = imagediff.phash(picture)
    return found


def _judge_signature(benchmark, run, route, latest_three):
    current, last, before_last = (signatures(pk, route) for pk in latest_three)
    open_alert = BenchmarkAlert.objects.filter(benchmark=benchmark, route_key=route, metric="image_signature",
                                               closed_at__isnull=True).first()
    verdict = drift.signature_change(before_last, last, current, open_alert is not None)
    if not verdict.enough:
        return None
    if open_alert is not None and not verdict.firing:
        open_alert.closed_at = timezone.now()
        open_alert.save(update_fields=["closed_at"])
    elif open_alert is None and verdict.firing:
        message = (f"{route}: the image signature changed: with the same seed, {verdict.current:.0%} of the prompts "
                   f"drew a different picture (pHash over {drift.SIGNATURE_BITS} of 64 bits apart) than in the two "
                   f"runs before, which agreed. The model or its settings probably changed.")
        try:
            with transaction.atomic():
                return BenchmarkAlert.objects.create(benchmark=benchmark, route_key=route, metric="image_signature",
                                                     opened_by=run, baseline=0.0, current=verdict.current,
                                                     p_value=None, message=message)
        except IntegrityError:
            return None
    return None


def _open(benchmark, run, route, rule, verdict):
    change = f"{verdict.change:+.0%}" if rule.relative else f"{verdict.change * 100:+.1f} points"
    message = (f"{route}: {rule.what} {_fmt(rule.metric, verdict.baseline)} → {_fmt(rule.metric, verdict.current)} "
               f"({change}) over its last {drift.RECENT_RUNS} runs against the trailing 7 days "
               f"(Mann-Whitney p = {verdict.p_value:.2g}).")
    try:
        with transaction.atomic():
            return BenchmarkAlert.objects.create(benchmark=benchmark, route_key=route, metric=rule.metric,
                                                 opened_by=run, baseline=verdict.baseline, current=verdict.current,
                                                 p_value=verdict.p_value, message=message)
    except IntegrityError:  # another tick opened it first
        return None


def _fmt(metric, value):
    if metric == "latency_ms":
        return f"{value / 1000:.2f} s"
    if metric in ("success_rate", "text_accuracy", "check_failures"):
        return f"{value:.0%}"
    return f"${value:.4f}"
