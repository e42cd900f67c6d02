"""Continuous benchmarks (issue 15): validating a benchmark, its 5-field cron schedule (UTC),
starting a run as an ordinary budget-checked batch (a refused run is kept with its reason),
finishing runs, the per-route series over 24 h / 7 d / 30 d, and the drift alerts
(compare/drift.py's rule). The beat's tick (compare/benchmark_tasks.py) calls tick()."""

import logging
import statistics
from dataclasses import dataclass
from datetime import timedelta
from datetime import timezone as dt_timezone

from celery.schedules import ParseException, crontab_parser
from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import batches, drift, imagediff, notifications, teams
from . import routes as route_catalog
from .forms import API_PARAMS
from .leaderboard import percentile
from .images import ImageRejected
from .models import TERMINAL, Benchmark, BenchmarkAlert, BenchmarkRun, Result, ResultImage, RunStatus, Status, Team

log = logging.getLogger(__name__)

MAX_PROMPTS = 50
MAX_REPEATS = 20
WINDOWS = {"24h": (timedelta(hours=24), timedelta(hours=1)), "7d": (timedelta(days=7), timedelta(hours=6)),
           "30d": (timedelta(days=30), timedelta(days=1))}  # window: (length, one chart point)
BASELINE = timedelta(days=7)  # the trailing baseline a route's latest runs are judged against


# --- The schedule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cron:
    """A 5-field cron expression (minute hour day-of-month month day-of-week, UTC)."""

    text: str
    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text):
        """Raises ValueError naming the bad field."""
        if not isinstance(text, str):
            raise ValueError("schedule must be a 5-field cron string (UTC) or null.")
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"“{text}” is not a 5-field cron expression (minute hour day month weekday, UTC).")
        names = ("minute", "hour", "day of month", "month", "day of week")
        bounds = ((60, 0), (24, 0), (31, 1), (12, 1), (7, 0))
        sets = []
        for name, field, (size, low) in zip(names, fields, bounds):
            try:
                values = crontab_parser(size, low).parse(field)
            except (ParseException, ValueError, IndexError) as exc:
                raise ValueError(f"The cron {name} field “{field}” is not valid: {exc}") from None
            if not values or any(v < low or v >= size + low for v in values):
                raise ValueError(f"The cron {name} field “{field}” is out of range.")
            sets.append(frozenset(values))
        weekdays = frozenset(0 if d == 7 else d for d in sets[4])
        return cls(" ".join(fields), sets[0], sets[1], sets[2], sets[3], weekdays,
                   fields[2] == "*", fields[4] == "*")

    def _day_matches(self, day):
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:  # cron's rule: both restricted means either matches
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment):
        """The first matching minute strictly after `moment` (UTC); None if none within 5 years."""
        moment = moment.astimezone(dt_timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = moment.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= moment:
                            return candidate
            day += timedelta(days=1)
        return None


def next_run(schedule, after=None):
    return Cron.parse(schedule).next_after(after or timezone.now()) if schedule else None


# --- Validation --------------------------------------------------------------------------------

FIELDS = {"name", "routes", "prompts", "prompt_set", "params", "repeats", "schedule", "team"}


def clean(payload, team, user, partial=False, instance=None):
    """(values, errors) from an API body; errors name each field. Checks routes and parameters
    the way a batch does (plan_batch, without the budget) so a benchmark that could never run is
    refused at once."""
    errors, values = {}, {}
    if not isinstance(payload, dict):
        return None, {"__all__": ["The body must be a JSON object."]}
    unknown = set(payload) - FIELDS
    if unknown:
        errors["__all__"] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
    if "name" in payload or not partial:
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            errors["name"] = ["name must be a non-empty string of at most 200 characters."]
        else:
            values["name"] = " ".join(name.split())
    if "routes" in payload or not partial:
        routes = payload.get("routes")
        if not isinstance(routes, list) or not routes or not all(isinstance(r, str) for r in routes):
            errors["routes"] = ["routes must be a non-empty list of route keys (GET /api/routes lists them)."]
        else:
            values["routes"] = list(dict.fromkeys(routes))
    if "prompts" in payload and "prompt_set" in payload:
        errors["prompts"] = ["Send either prompts (a list of texts) or prompt_set (an id), not both."]
    elif "prompts" in payload:
        prompts = payload["prompts"]
        if (not isinstance(prompts, list) or not prompts or len(prompts) > MAX_PROMPTS
                or not all(isinstance(p, str) and p.strip() for p in prompts)):
            errors["prompts"] = [f"prompts must be a list of 1 to {MAX_PROMPTS} non-empty texts."]
        else:
            values["prompts"], values["prompt_set"] = [p.strip() for p in prompts], ""
    elif "prompt_set" in payload:
        if batches.find_set(payload["prompt_set"], team) is None:
            errors["prompt_set"] = ["No prompt set of yours has that id (GET /api/prompt-sets lists them)."]
        else:
            values["prompt_set"], values["prompts"] = payload["prompt_set"], []
    elif not partial:
        errors["prompts"] = ["Send prompts (a list of texts) or prompt_set (GET /api/prompt-sets lists them)."]
    if "params" in payload or not partial:
        params = payload.get("params") or {}
        if not isinstance(params, dict) or set(params) - API_PARAMS:
            errors["params"] = [f"params must be an object of {', '.join(sorted(API_PARAMS))}."]
        else:
            values["params"] = params
    if "repeats" in payload or not partial:
        repeats = payload.get("repeats", 1)
        if type(repeats) is not int or not 1 <= repeats <= MAX_REPEATS:
            errors["repeats"] = [f"repeats must be a whole number from 1 to {MAX_REPEATS}."]
        else:
            values["repeats"] = repeats
    if "schedule" in payload or not partial:
        schedule = payload.get("schedule")
        try:
            values["schedule"] = "" if schedule is None else Cron.parse(schedule).text
        except ValueError as exc:
            errors["schedule"] = [str(exc)]
    if errors:
        return None, errors
    merged = Benchmark(team=team, **{**({} if instance is None else _fields(instance)), **values})
    problems = check_runnable(merged, user)
    if problems:
        return None, problems
    return values, None


def _fields(benchmark):
    return {name: getattr(benchmark, name) for name in ("name", "routes", "prompts", "prompt_set", "params",
                                                        "repeats", "schedule")}


def check_runnable(benchmark, user=None):
    """The errors plan_batch would give one run of it (budget aside), by field; {} if none."""
    try:
        plan(benchmark, user, check_budget=False)
    except batches.BatchRefused as refused:
        return refused.errors
    return {}


# --- Running -----------------------------------------------------------------------------------


def prompt_set_of(benchmark):
    """Its prompts as a set a batch runs, each repeated `repeats` times; None if its set is gone."""
    if benchmark.prompt_set:
        found = batches.find_set(benchmark.prompt_set, benchmark.team)
        if found is None:
            return None
        prompts = found.prompts
    else:
        prompts = tuple(batches.PromptView(ref=f"benchmark-{benchmark.pk}-{n}", title=batches._title_of(text),
                                           text=text) for n, text in enumerate(benchmark.prompts, 1))
    return batches.PromptSetView(ref=benchmark.prompt_set or f"benchmark-{benchmark.pk or 0}",
                                 name=f"Benchmark {benchmark.name}", description="", builtin=False,
                                 prompts=prompts * benchmark.repeats)


def _data(benchmark):
    data = QueryDict(mutable=True)
    base = {"prompt": "", "size": "1024x1024", "quality": "auto", "output_format": "png", "n": 1}
    base.update({k: v for k, v in benchmark.params.items() if v is not None})
    for key, value in base.items():
        data[key] = str(value)
    data.setlist("routes", list(benchmark.routes))
    return data


def plan(benchmark, user, check_budget=True):
    prompt_set = prompt_set_of(benchmark)
    if prompt_set is None:
        raise batches.BatchRefused([f"Its prompt set “{benchmark.prompt_set}” no longer exists."],
                                   {"prompt_set": [f"Its prompt set “{benchmark.prompt_set}” no longer exists."]})
    if check_budget:
        return prompt_set, batches.plan_batch(team=benchmark.team, user=user, prompt_set=prompt_set,
                                              data=_data(benchmark), use_prompt_sizes=False)
    data = _data(benchmark)  # every prompt shares routes and parameters: the first one's form says it
    data["prompt"] = prompt_set.prompts[0].text if prompt_set.prompts else ""
    form = batches.BatchItemForm(data, team=benchmark.team, user=user)
    if not form.is_valid():
        raise batches.BatchRefused([m for ms in form.errors.values() for m in ms],
                                   {k: list(v) for k, v in form.errors.items()})
    return prompt_set, [form]


def start_run(benchmark, trigger="manual", user=None):
    """One run: a batch of every prompt × route × repeat, checked against the team's budget and
    call cap as any batch is. A refused run is stored as refused with the reason."""
    user = user or benchmark.created_by
    run = BenchmarkRun(benchmark=benchmark, trigger=trigger)
    if user is None or not benchmark.team.can_run(user):
        run.status, run.reason = RunStatus.REFUSED, "Nobody who may run this team's comparisons started it " \
                                                    "(its creator left the team or is a viewer now)."
    else:
        try:
            prompt_set, planned = plan(benchmark, user)
            run.batch = batches.create_batch(user=user, team=benchmark.team, prompt_set=prompt_set, planned=planned,
                                             name=f"{benchmark.name} · {timezone.now():%Y-%m-%d %H:%M} UTC",
                                             use_prompt_sizes=False)
        except batches.BatchRefused as refused:
            run.status, run.reason = RunStatus.REFUSED, "; ".join(refused.problems)
    if run.status == RunStatus.REFUSED:
        run.finished_at = timezone.now()
        log.warning("benchmark %s run refused: %s", benchmark.pk, run.reason)
    run.save()
    if run.status == RunStatus.REFUSED:
        notify_run(run)
    return run


def run_due(now=None):
    """Start every scheduled benchmark whose time has come. Each is claimed by moving its
    next_run_at on with a conditional UPDATE, so two beats (or ticks) never start it twice."""
    now = now or timezone.now()
    started = []
    for benchmark in Benchmark.objects.exclude(schedule="").filter(next_run_at__lte=now).select_related("team",
                                                                                                      "created_by"):
        following = next_run(benchmark.schedule, now)
        claimed = Benchmark.objects.filter(pk=benchmark.pk, next_run_at=benchmark.next_run_at).update(
            next_run_at=following)
        if claimed:
            started.append(start_run(benchmark, trigger="schedule"))
    return started


def finish_runs():
    """Mark started runs whose every call ended as done and judge their routes for drift.
    Returns the alerts opened."""
    opened = []
    for run in BenchmarkRun.objects.filter(status=RunStatus.STARTED).select_related("benchmark", "batch"):
        opened += finish_run(run)
    return opened


def finish_run(run):
    """Done once every call of its batch ended and its images' automatic checks are stored (or
    BENCHMARK_CHECKS_WAIT_SECONDS passed since the call ended: judged without them). Claimed with a
    conditional UPDATE so one tick judges it; returns the alerts its judgement opened."""
    if run.batch_id is not None:
        results = Result.objects.filter(comparison__batch_item__batch=run.batch_id)
        if results.exclude(status__in=TERMINAL).exists():
            return []
        waited = timezone.now() - timedelta(seconds=settings.BENCHMARK_CHECKS_WAIT_SECONDS)
        if results.filter(status=Status.SUCCEEDED, image_checks__isnull=True, images__isnull=False,
                          finished_at__gt=waited).exists():
            return []
    if not BenchmarkRun.objects.filter(pk=run.pk, status=RunStatus.STARTED).update(status=RunStatus.DONE,
                                                                                   finished_at=timezone.now()):
        return []
    run.refresh_from_db()
    opened = evaluate(run.benchmark, run)
    notify_run(run)
    for alert in opened:
        notifications.emit(run.benchmark.team, "benchmark.regressed", f"benchmark.regressed:{alert.pk}",
                           {**_about(run.benchmark), "alert": _jsonable(alert_dict(alert)), "run": run.pk})
    return opened


def _about(benchmark):
    return {"benchmark": {"id": benchmark.pk, "name": benchmark.name,
                          "url": notifications.permalink(benchmark.get_absolute_url())},
            "team": {"id": benchmark.team_id, "name": benchmark.team.name}}


def _jsonable(data):
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in data.items()}


def notify_run(run):
    """``benchmark.run_finished`` (docs/notifications.md): a done run with its per-route figures,
    or a refused one with the reason."""
    data = {**_about(run.benchmark), "run": _jsonable(run_dict(run)),
            "routes": [{"route": route, **summary} for route, summary in run_summary(run).items()]
            if run.status == RunStatus.DONE else []}
    notifications.emit(run.benchmark.team, "benchmark.run_finished", f"benchmark.run_finished:{run.pk}", data)


def run_summary(run):
    """{route: summary} over the calls of this one run."""
    by_route = _results(run.benchmark, runs=[run.pk]).get(run.pk, {})
    return {route: summarise(samples(by_route.get(route, [])), 1) for route in run.benchmark.routes}


def tick():
    """What the beat asks for every BENCHMARK_TICK_SECONDS."""
    finish_runs()
    return run_due()


# --- Series ------------------------------------------------------------------------------------


def _results(benchmark, since=None, runs=None):
    """{run id: {route: [Result]}} of its runs' batches (runs that started, not refused)."""
    queryset = Result.objects.filter(comparison__batch_item__batch__in=BenchmarkRun.objects.filter(
        benchmark=benchmark, **({"started_at__gte": since} if since else {}),
        **({"pk__in": runs} if runs is not None else {})).values("batch"))
    run_of = dict(BenchmarkRun.objects.filter(benchmark=benchmark, batch__isnull=False).values_list("batch", "pk"))
    found = {}
    for result in queryset.values("route_key", "status", "latency_ms", "cost_usd", "cost_source",
                                  "comparison__batch_item__batch", "comparison__params", *CHECK_FIELDS):
        run = run_of.get(result["comparison__batch_item__batch"])
        found.setdefault(run, {}).setdefault(result["route_key"], []).append(result)
    return found


CHECK_FIELDS = ("image_checks__status", "image_checks__text_accuracy", "image_checks__blank",
                "image_checks__size_matches", "image_checks__aspect_matches", "image_checks__format_matches")


def check_failed(result):
    """A checked image that is blank or near-uniform, or not the size, aspect ratio or format
    asked for (compare/checks.py); None when its checks did not run (pending, missing, failed)."""
    if result["image_checks__status"] != "done":
        return None
    return bool(result["image_checks__blank"] is True or False in (
        result["image_checks__size_matches"], result["image_checks__aspect_matches"],
        result["image_checks__format_matches"]))


def _images(result):
    return max(int((result["comparison__params"] or {}).get("n") or 1), 1)


def samples(results):
    """Per-call values of one route in one run, by metric."""
    ended = [r for r in results if r["status"] in TERMINAL and r["status"] != Status.CANCELLED]
    priced = [r for r in ended if r["status"] == Status.SUCCEEDED and r["cost_usd"] is not None]
    return {
        "latency_ms": [r["latency_ms"] for r in ended if r["status"] == Status.SUCCEEDED
                       and r["latency_ms"] is not None],
        "success_rate": [1.0 if r["status"] == Status.SUCCEEDED else 0.0 for r in ended],
        "cost_per_image": [float(r["cost_usd"]) / _images(r) for r in priced],
        "cost_sources": {r["cost_source"] for r in priced},
        # The automatic checks (docs/checks.md): only calls whose checks ran; text only where the
        # prompt quoted text to draw.
        "text_accuracy": [r["image_checks__text_accuracy"] for r in ended
                          if r["image_checks__status"] == "done" and r["image_checks__text_accuracy"] is not None],
        "check_failures": [1.0 if failed else 0.0 for failed in map(check_failed, ended) if failed is not None],
    }


def summarise(values_by_metric, runs):
    latencies = sorted(values_by_metric["latency_ms"])
    outcomes, costs = values_by_metric["success_rate"], values_by_metric["cost_per_image"]
    sources = set(values_by_metric["cost_sources"])
    texts, checked = values_by_metric["text_accuracy"], values_by_metric["check_failures"]
    return {
        "runs": runs, "calls": len(outcomes),
        "median_ms": None if not latencies else round(statistics.median(latencies), 1),
        "p95_ms": None if not latencies else round(percentile(latencies, 95), 1),
        "success_rate": None if not outcomes else round(statistics.fmean(outcomes), 4),
        "cost_per_image_usd": None if not costs else round(statistics.fmean(costs), 6),
        # the results' cost_source (CostSource: "billed", "usage", "team_price", "estimated") or "mixed"
        "cost_source": None if not sources else (sources.pop() if len(sources) == 1 else "mixed"),
        "text_accuracy": None if not texts else round(statistics.fmean(texts), 4),
        "text_scored": len(texts),  # calls whose quoted text was read back
        "check_failure_rate": None if not checked else round(statistics.fmean(checked), 4),
        "checked": len(checked),  # calls whose image checks ran
    }


def _merge(parts):
    keys = ("latency_ms", "success_rate", "cost_per_image", "text_accuracy", "check_failures")
    merged = {**{key: [] for key in keys}, "cost_sources": set()}
    for part in parts:
        for key in keys:
            merged[key] += part[key]
        merged["cost_sources"] |= part["cost_sources"]
    return merged


def series(benchmark, now=None):
    """{window: {route: {"summary": {...}, "points": [{"at", **summary}]}}}: the window's figures
    over every call of its runs, and one chart point per bucket with the runs behind it."""
    now = now or timezone.now()
    longest = max(length for length, _ in WINDOWS.values())
    by_run = _results(benchmark, since=now - longest)
    started = dict(BenchmarkRun.objects.filter(benchmark=benchmark, pk__in=[r for r in by_run if r])
                   .values_list("pk", "started_at"))
    per_run = {run: {route: samples(rows) for route, rows in routes.items()} for run, routes in by_run.items()
               if run in started}
    out = {}
    for window, (length, step) in WINDOWS.items():
        since = now - length
        routes = {}
        for route in benchmark.routes:
            chosen = [(started[run], values[route]) for run, values in per_run.items()
                      if started[run] >= since and route in values]
            buckets = {}
            for at, values in chosen:
                bucket = since + ((at - since) // step) * step
                buckets.setdefault(bucket, []).append(values)
            routes[route] = {
                "summary": summarise(_merge(v for _, v in chosen), len(chosen)),
                "points": [{"at": at.isoformat(), **summarise(_merge(parts), len(parts))}
                           for at, parts in sorted(buckets.items())],
            }
        out[window] = routes
    return out


# --- Alerts ------------------------------------------------------------------------------------


def evaluate(benchmark, run):
    """Judge each route's latest RECENT_RUNS finished runs against the runs of the BASELINE
    before them (compare/drift.py); open or close alerts. Returns the alerts opened."""
    done = list(BenchmarkRun.objects.filter(benchmark=benchmark, status=RunStatus.DONE, batch__isnull=False,
                                            started_at__lte=run.started_at).order_by("-started_at", "-id")
                .values_list("pk", "started_at")[:200])
    recent = done[:drift.RECENT_RUNS]
    if not recent:
        return []
    oldest_recent = recent[-1][1]
    baseline = [pk for pk, at in done[drift.RECENT_RUNS:] if at >= oldest_recent - BASELINE]
    by_run = _results(benchmark, runs=[pk for pk, _ in recent] + baseline)
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
        return route_catalog.get_route(route, benchmark.team).capabilities.seed
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


# --- Presenting --------------------------------------------------------------------------------


def run_dict(run):
    return {"id": run.pk, "started_at": run.started_at, "finished_at": run.finished_at, "status": run.status,
            "trigger": run.trigger, "reason": run.reason or None, "batch": run.batch_id}


def alert_dict(alert):
    return {"id": alert.pk, "route": alert.route_key, "metric": alert.metric, "opened_at": alert.opened_at,
            "closed_at": alert.closed_at, "open": alert.closed_at is None, "baseline": alert.baseline,
            "current": alert.current, "p_value": alert.p_value, "message": alert.message}


def benchmark_dict(benchmark, full=False):
    data = {"id": benchmark.pk, "name": benchmark.name, "team": {"id": benchmark.team_id, "name": benchmark.team.name},
            "routes": benchmark.routes, "prompts": benchmark.prompts or None,
            "prompt_set": benchmark.prompt_set or None, "params": benchmark.params, "repeats": benchmark.repeats,
            "schedule": benchmark.schedule or None, "next_run_at": benchmark.next_run_at,
            "created_at": benchmark.created_at}
    if full:
        data["runs"] = [run_dict(r) for r in benchmark.runs.all()[:100]]
        data["series"] = series(benchmark)
        data["alerts"] = [alert_dict(a) for a in benchmark.alerts.all()[:100]]
    return data


# --- Pages -------------------------------------------------------------------------------------

CHART_METRICS = (("median_ms", "median latency"), ("p95_ms", "p95 latency"), ("success_rate", "success rate"),
                 ("cost_per_image_usd", "cost per image"), ("text_accuracy", "text accuracy (OCR)"),
                 ("check_failure_rate", "image check failures"))


def _visible(request, pk):
    team_ids = Team.objects.of(request.user).values("pk")
    return get_object_or_404(Benchmark.objects.filter(team__in=team_ids).select_related("team", "created_by"), pk=pk)


def benchmark_list(request):
    team = teams.current_team(request)
    found = Benchmark.objects.filter(team=team).annotate(
        open_alerts=Count("alerts", filter=Q(alerts__closed_at__isnull=True), distinct=True),
        run_count=Count("runs", distinct=True))
    return render(request, "compare/benchmark_list.html", {"benchmarks": found, "team": team})


def benchmark_detail(request, pk):
    benchmark = _visible(request, pk)
    window = request.GET.get("window") if request.GET.get("window") in WINDOWS else "7d"
    now = timezone.now()
    data = series(benchmark, now)[window]
    routes = [{"key": route, "summary": data[route]["summary"],
               "charts": [{"metric": metric, "title": f"{route}: {label} over the last {window}",
                           "points": data[route]["points"]} for metric, label in CHART_METRICS]}
              for route in benchmark.routes]
    return render(request, "compare/benchmark_detail.html", {
        "benchmark": benchmark, "window": window, "windows": list(WINDOWS), "routes": routes,
        "since": now - WINDOWS[window][0], "until": now, "runs": benchmark.runs.select_related("batch")[:50],
        "alerts": benchmark.alerts.all()[:50], "can_run": benchmark.team.can_run(request.user),
        "min_baseline": drift.MIN_BASELINE_RUNS, "recent_runs": drift.RECENT_RUNS})


@require_POST
def benchmark_run_now(request, pk):
    benchmark = _visible(request, pk)
    if not benchmark.team.can_run(request.user):
        messages.error(request, f"Viewers of {benchmark.team} cannot run benchmarks.")
        return redirect(benchmark)
    run = start_run(benchmark, trigger="manual", user=request.user)
    if run.status == RunStatus.REFUSED:
        messages.error(request, f"The run was refused: {run.reason}")
    else:
        messages.info(request, f"Run started as batch #{run.batch_id}.")
    return redirect(benchmark)
