"""Continuous benchmarks (issue 15): validating a benchmark, starting a run as an ordinary
budget-checked batch (a refused run is kept with its reason), finishing runs and judging them, and
the JSON shapes the API and notifications send. The beat's tick (compare/benchmarks/tasks.py)
calls tick(). Beside it: its schedule (compare/benchmarks/schedule.py), its figures
(compare/benchmarks/series.py), its drift alerts (compare/benchmarks/alerts.py), its pages
(compare/benchmarks/views.py)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone

from compare.batches.planning import BatchItemForm, BatchRefused, create_batch, plan_batch
from compare.batches.prompt_sets import PromptSetView, PromptView, find_set, title_of
from compare.benchmarks.alerts import evaluate
from compare.benchmarks.models import Benchmark, BenchmarkRun, RunStatus
from compare.benchmarks.schedule import Cron, next_run
from compare.benchmarks.series import results_by_run, samples, series, summarise
from compare.forms import API_PARAMS
from compare.models import TERMINAL, Result, Status
from compare.notifications import notifications

log = logging.getLogger(__name__)

MAX_PROMPTS = 50
MAX_REPEATS = 20


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
        if find_set(payload["prompt_set"], team) is None:
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
    except BatchRefused as refused:
        return refused.errors
    return {}


# --- Running -----------------------------------------------------------------------------------


def prompt_set_of(benchmark):
    """Its prompts as a set a batch runs, each repeated `repeats` times; None if its set is gone."""
    if benchmark.prompt_set:
        found = find_set(benchmark.prompt_set, benchmark.team)
        if found is None:
            return None
        prompts = found.prompts
    else:
        prompts = tuple(PromptView(ref=f"benchmark-{benchmark.pk}-{n}", title=title_of(text),
                                           text=text) for n, text in enumerate(benchmark.prompts, 1))
    return PromptSetView(ref=benchmark.prompt_set or f"benchmark-{benchmark.pk or 0}",
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
        raise BatchRefused([f"Its prompt set “{benchmark.prompt_set}” no longer exists."],
                                   {"prompt_set": [f"Its prompt set “{benchmark.prompt_set}” no longer exists."]})
    if check_budget:
        return prompt_set, plan_batch(team=benchmark.team, user=user, prompt_set=prompt_set,
                                              data=_data(benchmark), use_prompt_sizes=False)
    data = _data(benchmark)  # every prompt shares routes and parameters: the first one's form says it
    data["prompt"] = prompt_set.prompts[0].text if prompt_set.prompts else ""
    form = BatchItemForm(data, team=benchmark.team, user=user)
    if not form.is_valid():
        raise BatchRefused([m for ms in form.errors.values() for m in ms],
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
            run.batch = create_batch(user=user, team=benchmark.team, prompt_set=prompt_set, planned=planned,
                                             name=f"{benchmark.name} · {timezone.now():%Y-%m-%d %H:%M} UTC",
                                             use_prompt_sizes=False)
        except BatchRefused as refused:
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
    by_route = results_by_run(run.benchmark, runs=[run.pk]).get(run.pk, {})
    return {route: summarise(samples(by_route.get(route, [])), 1) for route in run.benchmark.routes}


def tick():
    """What the beat asks for every BENCHMARK_TICK_SECONDS."""
    finish_runs()
    return run_due()


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
