"""Issue 14's engine targets on the real stack, each beside the asyncio.gather floor (bench/floor.py)
measured in the same run against the same fake with the same delays.

    python -m bench.enginebench [--setup embedded|services|both] [--quick] [--celery-threads N] [--photo]
                                [--only burst|fanout|in_flight|scaling ...] [--calls N ...]

Also `make bench` (part "engine": `python -m bench.run --only engine`), rendered into BENCHMARKS.md
by bench/report_engine.py. The measures:

1. burst: 20 comparisons x 3 routes submitted back to back through the API, 3 s each at the fake:
   the worst over comparisons of (its last call's arrival at the fake - its submit), and (the
   last result's finished_at - the last submit) / 3 s;
2. fan-out: one comparison of 50 routes (1 s each): last call's arrival after submit, per rep;
3. in flight: 200 and 1,000 calls at once (20 comparisons x 10 or 50 routes, delays spread over
   10-30 s so that they overlap; the peak in flight counted at the fake): succeeded, late
   (finished_at - submit - delay) max and p95, the worker processes' peak RSS, and on
   PostgreSQL the peak number of the database's connections;
4. our latency_ms minus the fake's server time (bench/harness.py's truth_samples) at 200 in flight;
5. scaling: the burst again on 1 and 2 worker processes (the store rate decides its ratio).

The burst and in-flight measures also count the CPU the stack's processes spent (bench/harness.py
CpuMeter: web, workers, image processes, and on PostgreSQL + Redis the database's backends and
redis-server), per stored result. The bench asks the API for results only once the providers'
time has passed (finished_at is the server's clock), so its own polling takes no CPU from the
stores it measures. Each burst, in-flight run and fan-out rep starts on an idle stack (harness.settle:
its processes, and PostgreSQL and Redis, under 0.2 cores for 0.5 s; 20 s at most, the wait is
recorded as ``settled_s``): the previous measure's automatic checks, which run after its results
are stored, are not measured with the next.

The floor of each: the same bodies (same delays, prompts of its own) sent at once by bench/floor.py
in a process of its own; its last call's arrival at the fake after its start, its wall / slowest
delay, and its own latency minus server time and lateness.

The stack's worker settings are chosen per measure and recorded beside each number (``settings``):
code whose settings know WORKER_CALLS (provider calls on a per-process pool of call threads) runs
every measure with its own defaults (CELERY_WORKER_CONCURRENCY as the settings say, WORKER_CALLS
= 1000); code without it holds one Celery thread per call, so the in-flight measures get enough
Celery threads for their calls (the burst and the fan-out keep `make run`'s defaults, the setup the
issue's "today" column was measured on). ``--celery-threads N`` forces N threads per worker process.
"""

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fake import BenchFake, RemoteFake  # noqa: E402
from bench.figures import pct  # noqa: E402
from bench.harness import (  # noqa: E402
    code_defaults,
    LOG_EVENTS, PARAMS, CpuMeter, RssSampler, log, routes, rss_mb, settle, start_stack, stop_stack, truth_samples,
    worker_pids,
)
from bench.load import LoadMonitor  # noqa: E402
from bench.stackbench import InFlight, run_floor  # noqa: E402
from providers.testing.stack import parse_time, reachable  # noqa: E402

WORKER_CALLS = 1000  # the target's calls in flight in one worker process (the setting's default)
FULL = {"burst": {"comparisons": 20, "routes": 3, "delay_s": 3.0},
        "fanout": {"routes": 50, "delay_s": 1.0, "reps": 3},
        "in_flight": {"counts": (200, 1000), "comparisons": 20, "low_s": 10.0, "high_s": 30.0}}
QUICK = {"burst": FULL["burst"], "fanout": {**FULL["fanout"], "reps": 1},
         "in_flight": {**FULL["in_flight"], "counts": (200,)}}
LATENCY_AT = 200  # measure 4 is read from the in-flight run of this many calls
SETUPS = {"embedded": 0, "services": 2}  # setup -> separate worker processes (0: `serve`'s own)


# --- the stack's settings ------------------------------------------------------------------------


def settings_for(calls, workers, defaults, forced=None):
    """The worker settings of a measure that puts ``calls`` calls in flight at once: {threads (per
    worker process), env, why}. The env always names WORKER_CALLS (harmless to code without it)."""
    env = {"WORKER_CALLS": str(WORKER_CALLS)}
    if forced:
        return {"threads": forced, "env": env, "why": "--celery-threads"}
    if defaults["worker_calls"] is not None:
        return {"threads": defaults["celery_threads"], "env": env,
                "why": "the code's defaults (calls on the worker's call threads)"}
    needed = math.ceil(calls / max(workers, 1)) + 20
    if needed <= defaults["celery_threads"] or calls < 100:
        return {"threads": defaults["celery_threads"], "env": env,
                "why": "the code's defaults, as `make run` starts them"}
    return {"threads": needed, "env": env,
            "why": f"one Celery thread per call in this code: {needed} per worker process for {calls} calls"}


def describe(settings, workers):
    env = " ".join(f"{k}={v}" for k, v in sorted(settings["env"].items()))
    procs = f"{workers} worker processes" if workers else "`serve`'s workers (SERVE_WORKERS unless given)"
    return f"{procs}, CELERY_WORKER_CONCURRENCY={settings['threads']}, {env} ({settings['why']})"


class Setup:
    """The stacks of one setup, one per distinct worker settings (started when a measure needs
    it, stopped when the next needs other settings). services: each stack on a PostgreSQL
    database and a Redis queue of its own, dropped when it stops."""

    def __init__(self, name, fake, prefix="engine"):
        self.name, self.fake, self.workers, self.prefix = name, fake, SETUPS[name], prefix
        self.stack, self.key, self.database = None, None, None

    def get(self, settings, workers=None):
        """The stack for these settings; ``workers``: separate worker processes instead of the
        setup's own (services; embedded ones take SERVE_WORKERS in the env)."""
        workers = self.workers if workers is None else workers
        key = (settings["threads"], tuple(sorted(settings["env"].items())), workers)
        if key != self.key:
            self.close()
            env = dict(settings["env"])
            if self.name == "services":
                self.database = create_database()
                env.update({"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.database}",
                            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "CELERY_QUEUE": self.database})
            self.stack = start_stack(f"{self.prefix}-{self.name}", self.fake, workers=workers,
                                     concurrency=settings["threads"], env=env)
            self.key = key
        return self.stack

    def close(self):
        if self.stack is not None:
            stop_stack(self.stack)
        self.stack, self.key = None, None
        if self.database:
            drop_database(self.database)
            self.database = None


def create_database():
    import psycopg

    database = f"ipc_engine_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    return database


def drop_database(database):
    """The database and our Redis queue's keys (only ours: their names carry the database's)."""
    import psycopg
    import redis

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    try:
        client = redis.Redis(host="127.0.0.1", port=6379, db=0)
        keys = {k for pattern in (database, f"*{database}*") for k in client.keys(pattern)}
        if keys:
            client.delete(*keys)
        client.close()
    except Exception:  # noqa: BLE001 - cleaning up our own queue keys is best effort
        pass


@contextmanager
def pg_connections(database):
    """{"peak": ...}: the most connections to ``database`` seen (every 0.25 s) while the block ran."""
    out = {"peak": None}
    if not database:
        yield out
        return
    import psycopg

    stop = threading.Event()
    out["peak"] = 0

    def watch():
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as c:
            while not stop.wait(0.25):
                count = c.execute("select count(*) from pg_stat_activity where datname = %s", (database,)).fetchone()[0]
                out["peak"] = max(out["peak"], count)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join(timeout=2)


# --- the floor ----------------------------------------------------------------------------------


def floor(fake, plans):
    """bench/floor.py over the calls of ``plans`` ({prompt: {model: delay}}, prompts of the floor's
    own): its last call's arrival at the fake after its start, wall / slowest delay, its lateness
    (latency - delay) and its latency minus the fake's server time."""
    bodies = [{"model": model, "prompt": prompt, **PARAMS} for prompt, delays in plans.items() for model in delays]
    for prompt, delays in plans.items():
        fake.set_plan(prompt, delays)
    out = run_floor(fake, bodies)
    records = {(r["prompt"], r["model"]): r for prompt in plans for r in fake.records_for(prompt)}
    arrivals, late, truth, truth_sent = [], [], [], []
    for body, latency, send in zip(bodies, out["latency_ms"], out["send_ms"]):
        record = records.get((body["prompt"], body["model"]))
        late.append(latency / 1000 - plans[body["prompt"]][body["model"]])
        if record:
            arrivals.append(record["arrived_wall"] - out["started_wall"])
            truth.append(latency - record["server_ms"])
            truth_sent.append(latency - send - record["server_ms"])
    slowest = max(d for delays in plans.values() for d in delays.values())
    return {"calls": len(bodies), "arrived": len(arrivals), "last_arrival_s": max(arrivals) if arrivals else None,
            "send_max_s": max(out["send_ms"]) / 1000 if out["send_ms"] else None,
            "wall_s": out["wall_s"], "ratio": out["wall_s"] / slowest,
            "late_max_s": max(late), "late_p95_s": pct(late, 95),
            # latency - server time, the call's timer started with the gather (its wait for its
            # connection included) or when its request's first byte was written
            "truth_p95_ms": pct(truth, 95), "truth_min_ms": min(truth) if truth else None,
            "truth_sent_p95_ms": pct(truth_sent, 95), "truth_sent_min_ms": min(truth_sent) if truth_sent else None}


def floor_prompt(kind, c=0):
    return f"engine floor {kind} c={c} {uuid.uuid4().hex[:8]}"


# --- the measures -------------------------------------------------------------------------------


def submit_all(stack, plans, answered=None):
    """Submit each prompt's comparison back to back: {prompt: (comparison id, submit time)};
    ``answered``, a dict, gets each prompt's time the API answered the submit."""
    submitted = {}
    for prompt, delays in plans.items():
        created, at, done = stack.submit_timed(prompt, routes(len(delays)))
        submitted[prompt] = (created["id"], at)
        if answered is not None:
            answered[prompt] = done
    return submitted


def wait_providers(submitted, delay_s, grace_s=1.0):
    """Sleep until the providers' time after the last submit, and ``grace_s`` more, has passed:
    nothing asks the server while they work and the answers are stored (an open page would be on
    its one event stream; the done time is read from finished_at, the server's clock), so the
    bench's own polling does not take the 2 cores the claims and stores need."""
    time.sleep(max(0.0, max(at for _, at in submitted.values()) + delay_s + grace_s - time.time()))


def wait_all(stack, submitted, timeout, interval):
    """Every comparison's body once done (or as it stands at the deadline)."""
    bodies, deadline = {}, time.monotonic() + timeout
    while len(bodies) < len(submitted) and time.monotonic() < deadline:
        for prompt, (cid, _) in submitted.items():
            if prompt not in bodies:
                try:
                    body = stack.http.get(f"/api/comparisons/{cid}").json()
                except (ValueError, httpx.HTTPError):
                    continue  # e.g. no database connection left for the web process: asked again later
                if body["status"] == "done":
                    bodies[prompt] = body
        time.sleep(interval)
    for prompt, (cid, _) in submitted.items():
        if prompt not in bodies:
            try:
                bodies[prompt] = stack.http.get(f"/api/comparisons/{cid}").json()
            except (ValueError, httpx.HTTPError):
                bodies[prompt] = {"status": "unknown", "results": []}
    return bodies


def finished_times(body):
    return [parse_time(r["finished_at"]) for r in body["results"] if r.get("finished_at")]


def store_lag(records, body):
    """Per succeeded result: its finished_at after the fake wrote its answer's last byte."""
    records = {r["model"]: r for r in records}
    out = []
    for result in body["results"]:
        record = records.get(BenchFake.model(int(result["route"].rsplit("b", 1)[1])))
        if record and result["status"] == "succeeded" and result.get("finished_at"):
            out.append(parse_time(result["finished_at"]) - record["done_wall"])
    return out


def statuses(bodies):
    out = {}
    for body in bodies.values():
        for result in body["results"]:
            out[result["status"]] = out.get(result["status"], 0) + 1
    return out


def cpu_figures(meter, calls):
    """The stack's CPU seconds by role and, per result, in milliseconds."""
    spent = meter.by_role
    return {"cpu_s": spent, "cpu_ms_per_result": {role: round(seconds * 1000 / calls, 1) for role, seconds in spent.items()},
            "cpu_ms_per_result_total": round(sum(spent.values()) * 1000 / calls, 1)}


def burst(stack, fake, comparisons, routes, delay_s, label, database=None):
    plans = {f"engine burst {label} c={c} {uuid.uuid4().hex[:8]}": {BenchFake.model(i): delay_s for i in range(routes)}
             for c in range(comparisons)}
    for prompt, delays in plans.items():  # every plan set first: nothing but submits in the burst
        fake.set_plan(prompt, delays)
    settled = settle(stack, database)
    with CpuMeter(stack, database) as meter:
        submitted = submit_all(stack, plans)
        wait_providers(submitted, delay_s)
        bodies = wait_all(stack, submitted, timeout=delay_s + 120, interval=0.25)
    lasts, arrived, done, lag = [], 0, [], []
    for prompt, (_, at) in submitted.items():
        records = fake.records_for(prompt)
        arrived += len(records)
        if records:
            lasts.append(max(r["arrived_wall"] for r in records) - at)
        done += finished_times(bodies[prompt])
        lag += store_lag(records, bodies[prompt])
    last_submit = max(at for _, at in submitted.values())
    first_submit = min(at for _, at in submitted.values())
    done_after = (max(done) - last_submit) if done else None
    out = {"comparisons": comparisons, "routes": routes, "delay_s": delay_s, "calls": comparisons * routes,
           "settled_s": settled, "arrived": arrived, "statuses": statuses(bodies), "submit_span_s": last_submit - first_submit,
           "last_after_submit_max_s": max(lasts) if lasts else None,
           "last_after_submit_median_s": statistics.median(lasts) if lasts else None,
           "done_after_last_submit_s": done_after, "ratio": done_after / delay_s if done_after else None,
           "store_lag_median_s": pct(lag, 50), "store_lag_max_s": max(lag) if lag else None,
           **cpu_figures(meter, comparisons * routes),
           "floor": floor(fake, {floor_prompt("burst", c): delays for c, delays in enumerate(plans.values())})}
    log(f"burst {label}: {comparisons} submits in {out['submit_span_s']:.2f} s; worst last call "
        f"{out['last_after_submit_max_s']:.3f} s after its submit, all done "
        f"{done_after or float('nan'):.2f} s after the last submit (ratio {out['ratio'] or float('nan'):.3f}); floor: "
        f"last call {out['floor']['last_arrival_s']:.3f} s, ratio {out['floor']['ratio']:.3f}")
    return out


def fanout(stack, fake, routes, delay_s, reps, label, database=None):
    rows = []
    delays = {BenchFake.model(i): delay_s for i in range(routes)}
    for rep in range(reps):
        prompt = f"engine fanout {label} N={routes} rep={rep} {uuid.uuid4().hex[:8]}"
        fake.set_plan(prompt, delays)
        settled = settle(stack, database)
        answered = {}
        submitted = submit_all(stack, {prompt: delays}, answered)
        wait_providers(submitted, delay_s)
        body = wait_all(stack, submitted, timeout=delay_s + 120, interval=0.1)[prompt]
        records = fake.records_for(prompt)
        at = submitted[prompt][1]
        last = max(r["arrived_wall"] for r in records) - at if records else None
        claims = [parse_time(r["started_at"]) - at for r in body["results"] if r.get("started_at")]
        rows.append({"rep": rep, "settled_s": settled, "arrived": len(records), "last_s": last,
                     "submit_answered_s": answered[prompt] - at, "last_claim_s": max(claims) if claims else None,
                     "succeeded": sum(r["status"] == "succeeded" for r in body["results"])})
        log(f"fanout {label} N={routes} rep={rep}: last call {last:.3f} s after submit ({len(records)} calls; "
            f"the API answered the submit after {rows[-1]['submit_answered_s']:.3f} s, last claim "
            f"{rows[-1]['last_claim_s']:.3f} s; {settled:.1f} s waited for an idle stack first)")
    lasts = [r["last_s"] for r in rows if r["last_s"] is not None]
    floors = [floor(fake, {floor_prompt("fanout", rep): delays}) for rep in range(reps)]
    return {"routes": routes, "delay_s": delay_s, "reps": rows, "last_max_s": max(lasts) if lasts else None,
            "last_median_s": statistics.median(lasts) if lasts else None,
            "all_arrived": all(r["arrived"] == routes for r in rows),
            "floor": {"last_arrival_max_s": max(x["last_arrival_s"] for x in floors),
                      "last_arrival_median_s": statistics.median(x["last_arrival_s"] for x in floors),
                      "runs": floors}}


def in_flight(stack, fake, calls, comparisons, low_s, high_s, label, database=None, photo=False):
    per = calls // comparisons
    tag = " [photo]" if photo else ""
    plans = {f"engine inflight {label} {calls} c={c}{tag} {uuid.uuid4().hex[:8]}":
             {BenchFake.model(i): low_s + (high_s - low_s) * (i * comparisons + c) / (calls - 1) for i in range(per)}
             for c in range(comparisons)}
    for prompt, delays in plans.items():
        fake.set_plan(prompt, delays)
    pids, web = worker_pids(stack), stack.processes[0].pid
    idle = {pid: rss_mb(pid) for pid in pids}
    settled = settle(stack, database)
    with RssSampler(pids + [web]) as sampler, InFlight(fake) as seen, pg_connections(database) as pg, \
            CpuMeter(stack, database) as meter:
        submitted = submit_all(stack, plans)
        wait_providers(submitted, high_s)  # finished_at is the server's: asking sooner only takes CPU
        bodies = wait_all(stack, submitted, timeout=180, interval=1.0)
    late, arrivals, truth, lag, claims = [], [], [], [], []
    for prompt, (_, at) in submitted.items():
        records = {r["model"]: r for r in fake.records_for(prompt)}
        lag += store_lag(records.values(), bodies[prompt])
        claims += [parse_time(r["started_at"]) - at for r in bodies[prompt]["results"] if r.get("started_at")]
        for result in bodies[prompt]["results"]:
            record = records.get(BenchFake.model(int(result["route"].rsplit("b", 1)[1])))
            if record is None:
                continue
            arrivals.append(record["arrived_wall"] - at)
            if result["status"] == "succeeded" and result.get("finished_at"):
                late.append(parse_time(result["finished_at"]) - at - record["delay"])
        truth += truth_samples(fake, prompt, bodies[prompt])
    spans = [at for _, at in submitted.values()]
    text = stack.logs()
    out = {"calls": calls, "comparisons": comparisons, "routes": per, "delays_s": [low_s, high_s], "photo": photo,
           "settled_s": settled,
           "statuses": statuses(bodies), "succeeded": len(late), "peak_in_flight": seen.peak,
           "submit_span_s": max(spans) - min(spans), "arrival_max_s": max(arrivals) if arrivals else None,
           "claim_max_s": max(claims) if claims else None,
           "late_max_s": max(late) if late else None, "late_p95_s": pct(late, 95),
           "late_over_half_s": sum(x > 0.5 for x in late),
           "store_lag_p95_s": pct(lag, 95), "store_lag_max_s": max(lag) if lag else None,
           "worker_idle_rss_mb": [idle[p] for p in pids], "worker_peak_rss_mb": [sampler.peak[p] for p in pids],
           "web_peak_rss_mb": sampler.peak[web], "pg_peak_connections": pg["peak"],
           "too_many_clients": text.count("too many clients"),
           "truth_p95_ms": pct(truth, 95), "truth_min_ms": min(truth) if truth else None,
           "truth_negative": sum(x < 0 for x in truth), "truth_n": len(truth), **cpu_figures(meter, calls),
           "floor": floor(fake, {floor_prompt(f"inflight {calls}", c): d for c, d in enumerate(plans.values())})}
    log(f"in flight {label} {calls}: {out['succeeded']}/{calls} succeeded, peak {seen.peak} at the fake, late max "
        f"{out['late_max_s']} p95 {out['late_p95_s']}, worker peak RSS {out['worker_peak_rss_mb']} MB, "
        f"PostgreSQL connections {pg['peak']}; latency - server p95 {out['truth_p95_ms']} ms")
    return out


# --- a setup, the section --------------------------------------------------------------------------


def guarded(out, key, function, *args, **kwargs):
    """One measure; a failure is recorded (and reported) instead of ending the bench."""
    try:
        out[key] = function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        import traceback

        log(f"engine {key} failed: {exc!r}")
        out[key] = {"error": f"{type(exc).__name__}: {exc}"[:1000], "traceback": traceback.format_exc()[-3000:]}
    return out[key]


MEASURES = ("burst", "fanout", "in_flight", "scaling")
SCALING_WORKERS = (1, 2)  # worker processes the burst is repeated with (this machine has 2 cores)


def scaling(setup, fake, sizes, settings, name):
    """The burst again on 1 and 2 worker processes: how the store rate, which decides the burst's
    ratio, grows with worker processes (each has its own interpreter lock and image processes),
    and the CPU each stored result costs, by process."""
    out = {}
    for workers in SCALING_WORKERS:
        if setup.workers:  # services: separate worker processes
            used, separate = settings, workers
        else:  # embedded: `serve`'s own
            used, separate = {**settings, "env": {**settings["env"], "SERVE_WORKERS": str(workers)}}, 0
        stack = setup.get(used, workers=separate)
        out[str(workers)] = {**burst(stack, fake, label=f"{name} {workers} workers", database=setup.database,
                                     **sizes["burst"]), "settings": describe(used, separate)}
    return out


def run_setup(name, fake, sizes, defaults, forced=None, photo=False, measures=MEASURES):
    setup, out = Setup(name, fake), {"workers": SETUPS[name]}
    try:
        b, fo = sizes["burst"], sizes["fanout"]
        if "burst" in measures:
            s = settings_for(b["comparisons"] * b["routes"], setup.workers, defaults, forced)
            guarded(out, "burst", lambda: {**burst(setup.get(s), fake, label=name, database=setup.database, **b),
                                           "settings": describe(s, setup.workers)})
        if "fanout" in measures:
            s = settings_for(fo["routes"], setup.workers, defaults, forced)
            guarded(out, "fanout", lambda: {**fanout(setup.get(s), fake, fo["routes"], fo["delay_s"], fo["reps"],
                                                     name, setup.database), "settings": describe(s, setup.workers)})
        i = sizes["in_flight"]
        for calls in i["counts"] if "in_flight" in measures else ():
            s = settings_for(calls, setup.workers, defaults, forced)
            if not setup.workers:  # the target is calls in flight in one worker process
                s = {**s, "env": {**s["env"], "SERVE_WORKERS": "1"}, "why": s["why"] + "; one worker process"}
            guarded(out, f"in_flight_{calls}", lambda: {
                **in_flight(setup.get(s), fake, calls, i["comparisons"], i["low_s"], i["high_s"], name,
                            database=setup.database, photo=photo), "settings": describe(s, setup.workers)})
        if "scaling" in measures:
            s = settings_for(b["comparisons"] * b["routes"], setup.workers, defaults, forced)
            guarded(out, "scaling", lambda: {"workers": scaling(setup, fake, sizes, s, name)})
    finally:
        setup.close()
    return out


def run(results, setups=("embedded", "services"), quick=False, forced=None, photo=False, command=None,
        measures=MEASURES, calls=None):
    """The `make bench` part: results["engine"] = {setup: {measure: numbers}, ...}."""
    sizes = QUICK if quick else FULL
    if calls:
        sizes = {**sizes, "in_flight": {**sizes["in_flight"], "counts": tuple(calls)}}
    defaults = code_defaults()
    section = results.setdefault("engine", {})
    section.update(command=command or results.get("command"),
                   started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), quick=quick, sizes=sizes, defaults=defaults,
                   worker_calls=WORKER_CALLS, latency_at=LATENCY_AT, photo=photo, setups={})
    log(f"engine: the code's defaults {defaults}")
    fake = RemoteFake().start()
    monitor = LoadMonitor().start()  # other sessions' work on this machine, per setup
    try:
        for name in setups:
            monitor.section(name)
            missing = [n for n, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable("127.0.0.1", port)]
            if name == "services" and missing:
                section["setups"][name] = {"skipped": f"{' and '.join(missing)} not reachable on 127.0.0.1"}
                continue
            try:
                section["setups"][name] = run_setup(name, fake, sizes, defaults, forced, photo, measures)
            except Exception as exc:  # noqa: BLE001 - recorded and reported, the bench goes on
                log(f"engine {name} failed: {exc!r}")
                section["setups"][name] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    finally:
        fake.stop()
        monitor.stop()
        for name, load in monitor.summary().items():
            if isinstance(section["setups"].get(name), dict):
                section["setups"][name]["load"] = load
        section["log_events"] = [e for e in LOG_EVENTS if "engine-" in e]
    return section


def keep(section):
    """Write the section into BENCHMARKS.md as its kept block (bench/report.py keeps it when `make
    bench` rewrites the rest)."""
    from bench.report import write_kept
    from bench.report_engine import markdown

    write_kept(ROOT / "BENCHMARKS.md", "engine", "\n".join(markdown(section)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", choices=("embedded", "services", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="200 calls in flight (not 1,000), one fan-out rep")
    parser.add_argument("--celery-threads", type=int, help="force CELERY_WORKER_CONCURRENCY per worker process")
    parser.add_argument("--photo", action="store_true", help="photo-like 1.4 MB PNGs in the in-flight runs")
    parser.add_argument("--only", action="append", choices=MEASURES,
                        help="run only this measure (may be given again); the section is then not written to "
                             "BENCHMARKS.md")
    parser.add_argument("--calls", type=int, action="append",
                        help="the in-flight measure's calls (may be given again; default 200 and 1000)")
    args = parser.parse_args(argv)
    command = os.environ.get("BENCH_COMMAND") or " ".join(
        ["python -m bench.enginebench", shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    setups = ("embedded", "services") if args.setup == "both" else (args.setup,)
    results = {"command": command, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    section = run(results, setups, quick=args.quick, forced=args.celery_threads, photo=args.photo, command=command,
                  measures=tuple(args.only or MEASURES), calls=args.calls)
    from bench.report_engine import markdown

    print("\n".join(markdown(section)))
    if not args.only and not args.calls:  # a part of the measures is a probe, not the section
        keep(section)
    out = ROOT / "var" / "bench" / f"engine-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    (out.parent / "engine-latest.json").write_text(out.read_text())
    print(f"\nraw numbers: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
