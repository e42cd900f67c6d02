"""Items 1-5 and the page-weight half of 7, measured on the real stack (bench/harness.py: `manage.py
serve` with its Celery worker, or web + N `celery worker` processes) against bench/fake.py.

All times that are compared with each other come from one clock in one process: the submit time
(this process, just before the POST), the fake's arrival and last-byte times (this process's
server threads) and the moment this process's htmx-like poller saw a card turn terminal.
Durations compared with our latency_ms are perf_counter differences on each side.
"""

import json
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid

import httpx

from providers.testing.stack import parse_time, reachable

from bench.fake import API_KEY, BenchFake, RemoteFake
from bench.figures import pct
from bench.harness import (
    LOG_EVENTS, PARAMS, ROOT, RssSampler, code_defaults, log, routes, rss_mb, start_stack, stop_stack,
    truth_samples, worker_pids,
)


# --- 1. fan-out skew -------------------------------------------------------------------------


def fanout(stack, fake, counts=(1, 5, 10, 20, 50), reps=3, delay=1.0, label="embedded"):
    rows = []
    truth = []
    for n in counts:
        for rep in range(reps if n <= 20 else max(1, reps - 1)):
            prompt = f"bench fanout {label} N={n} rep={rep} {uuid.uuid4().hex[:8]}"
            fake.set_plan(prompt, {BenchFake.model(i): delay for i in range(n)})
            created, submitted, answered = stack.submit_timed(prompt, routes(n))
            body, done_at = stack.wait_done_timed(created["id"], timeout=30 + n * delay)
            offsets = sorted(r["arrived_wall"] - submitted for r in fake.records_for(prompt))
            ok = sum(r["status"] == "succeeded" for r in body["results"])
            rows.append({"n": n, "rep": rep, "arrived": len(offsets), "succeeded": ok,
                         "first_s": offsets[0] if offsets else None, "last_s": offsets[-1] if offsets else None,
                         "submit_http_s": answered - submitted,
                         "queue_ms_max": max((r["queue_ms"] or 0) for r in body["results"]),
                         "wall_s": (done_at - submitted) if done_at else None})
            truth += truth_samples(fake, prompt, body)
            log(f"fanout {label} N={n} rep={rep}: last call arrived {rows[-1]['last_s']:.3f} s after submit "
                f"({len(offsets)} calls, {ok} ok)")
            time.sleep(0.3)
    summary = {}
    for n in counts:
        mine = [r for r in rows if r["n"] == n]
        lasts = [r["last_s"] for r in mine if r["last_s"] is not None]
        summary[str(n)] = {"reps": len(mine), "last_max_s": max(lasts) if lasts else None,
                      "last_median_s": statistics.median(lasts) if lasts else None,
                      "first_median_s": statistics.median([r["first_s"] for r in mine if r["first_s"] is not None] or [0]),
                      "submit_http_median_s": statistics.median([r["submit_http_s"] for r in mine]),
                      "all_arrived": all(r["arrived"] == n for r in mine),
                      "all_succeeded": all(r["succeeded"] == n for r in mine)}
    return {"rows": rows, "summary": summary, "truth_ms": truth, "delay_s": delay}


# --- 2 + 3. overhead vs the slowest delay, time to visible, and the floor ----------------------


class CardPoller:
    """What htmx does for each card on the results page: `hx-trigger="every Xs"` on a card that
    is not terminal; the answer replaces the card (outerHTML), and the new card starts its own
    timer, so the next poll comes `interval` after the previous answer. HTTP 286 = terminal,
    htmx stops. Records when each card was first seen terminal."""

    def __init__(self, stack, result_ids, interval, deadline_s):
        self.stack, self.ids, self.interval, self.deadline_s = stack, result_ids, interval, deadline_s
        self.seen = {}
        self.requests = 0
        self.errors = 0
        self.lock = threading.Lock()
        self.cookies = stack.session().cookies
        self.threads = [threading.Thread(target=self._poll, args=(rid,), daemon=True) for rid in result_ids]

    def start(self, page_loaded_at):
        self.page_loaded_at = page_loaded_at
        for thread in self.threads:
            thread.start()
        return self

    def _poll(self, rid):
        deadline = time.time() + self.deadline_s
        next_at = self.page_loaded_at + self.interval
        with httpx.Client(base_url=self.stack.url, cookies=self.cookies, timeout=30) as client:
            while time.time() < deadline:
                time.sleep(max(0.0, next_at - time.time()))
                try:
                    response = client.get(f"/results/{rid}/card",
                                          headers={"HX-Request": "true", "HX-Trigger": f"result-{rid}",
                                                   "HX-Target": f"result-{rid}"})
                except httpx.HTTPError:
                    with self.lock:
                        self.errors += 1
                    next_at = time.time() + self.interval
                    continue
                now = time.time()
                with self.lock:
                    self.requests += 1
                if response.status_code == 286:
                    self.seen[rid] = now
                    return
                next_at = now + self.interval

    def join(self, timeout):
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.0, end - time.monotonic()))


def run_floor(fake, bodies):
    spec = json.dumps({"url": fake.url, "key": API_KEY, "bodies": bodies})
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "floor.py")], input=spec, capture_output=True,
                         text=True, timeout=120, cwd=ROOT, check=True)
    return json.loads(out.stdout)


# The card's polling (its fallback since the results stream, bench/streambench.py): "every 500ms, sse:...".
CARD_TRIGGER = re.compile(r'hx-get="/results/\d+/card"[^>]*?hx-trigger="every ([\d.]+)(ms|s)[",]')
TEMPLATE_TRIGGER = re.compile(r"compare:result-card[^>]*?hx-trigger=\"every ([\d.]+)(ms|s)[\",]")


def card_interval(html):
    """The card poll interval (s) that the rendered results page gives its non-terminal cards
    (`hx-trigger="every 500ms"` on each `/results/ID/card` element), else the template's; None if
    neither says."""
    found = {float(v) / (1000 if unit == "ms" else 1) for v, unit in CARD_TRIGGER.findall(html)}
    if len(found) == 1:
        return found.pop(), "rendered page"
    if found:
        return max(found), f"rendered page (several: {sorted(found)})"
    template = (ROOT / "templates" / "compare" / "detail.html").read_text()
    found = {float(v) / (1000 if unit == "ms" else 1) for v, unit in TEMPLATE_TRIGGER.findall(template)}
    if found:
        return max(found), "templates/compare/detail.html"
    return None, "not found"


def overhead(stack, fake, n=20, low=2.0, high=10.0, reps=3, app_runs=5, photo=True, label="embedded"):
    delays = [low + (high - low) * i / (n - 1) for i in range(n)]
    runs, visible, truth, db_lag, floors = [], {}, [], [], []
    client = stack.session()
    page_interval, interval_source = None, None
    for rep in range(app_runs):
        tag = " [photo]" if photo else ""
        prompt = f"bench overhead {label} N={n} rep={rep}{tag} {uuid.uuid4().hex[:8]}"
        fake.set_plan(prompt, {BenchFake.model(i): d for i, d in enumerate(delays)})
        created, submitted, _ = stack.submit_timed(prompt, routes(n))
        # The browser follows the redirect to the permalink and its cards start polling, at the
        # interval the page itself gives them.
        html = client.get(f"/comparisons/{created['id']}/").text
        loaded = time.time()
        interval, source = card_interval(html)
        if interval is None:
            raise RuntimeError("no hx-trigger=\"every ...\" on the result cards of the page or the template")
        page_interval, interval_source = interval, source
        poller = CardPoller(stack, [r["id"] for r in created["results"]], interval, deadline_s=high + 30).start(loaded)
        body, done_at = stack.wait_done_timed(created["id"], timeout=high + 30)
        poller.join(timeout=10)
        records = {r["model"]: r for r in fake.records_for(prompt)}
        slowest_server = max(r["server_ms"] for r in records.values()) / 1000
        run = {"rep": rep, "interval": interval, "wall_s": (done_at - submitted) if done_at else None,
               "slowest_delay_s": high, "slowest_server_s": slowest_server,
               "succeeded": sum(r["status"] == "succeeded" for r in body["results"]),
               "poll_requests": poller.requests, "poll_errors": poller.errors}
        run["ratio"] = run["wall_s"] / high if run["wall_s"] else None
        samples = []
        for result in body["results"]:
            record = records.get(BenchFake.model(int(result["route"].rsplit("b", 1)[1])))
            if record is None:
                continue
            if result["id"] in poller.seen:
                samples.append(poller.seen[result["id"]] - record["done_wall"])
            if result["finished_at"]:
                db_lag.append(parse_time(result["finished_at"]) - record["done_wall"])
        visible.setdefault(interval, []).extend(samples)
        run["visible_p95_s"] = pct(samples, 95)
        run["visible_seen"] = len(samples)
        truth += truth_samples(fake, prompt, body)
        runs.append(run)
        log(f"overhead {label} rep={rep}: {run['wall_s']:.3f} s for a {high:g} s slowest delay "
            f"(ratio {run['ratio']:.3f}); card poll every {interval:g} s: visible p95 {run['visible_p95_s']:.3f} s")
        if rep < reps:
            floor_prompt = f"bench floor rep={rep}{tag} {uuid.uuid4().hex[:8]}"
            fake.set_plan(floor_prompt, {BenchFake.model(i): d for i, d in enumerate(delays)})
            bodies = []
            for i, d in enumerate(delays):
                bodies.append({"model": BenchFake.model(i), "prompt": floor_prompt, **PARAMS})
            floor = run_floor(fake, bodies)
            floor["ratio"] = floor["wall_s"] / high
            floors.append(floor)
            log(f"floor rep={rep}: asyncio.gather of {n} calls took {floor['wall_s']:.3f} s (ratio {floor['ratio']:.3f})")
        time.sleep(0.5)
    return {"n": n, "delays": [low, high], "runs": runs, "page_interval_s": page_interval,
            "interval_source": interval_source, "floors": [{"wall_s": f["wall_s"], "ratio": f["ratio"]} for f in floors],
            "visible_s": {str(k): v for k, v in visible.items()}, "db_lag_s": db_lag, "truth_ms": truth, "photo": photo}


# --- 5. capacity -----------------------------------------------------------------------------


def capacity(stack, fake, comparisons=20, per=10, low=5.0, high=30.0, label="embedded", timeout_extra=60):
    total = comparisons * per
    pids = worker_pids(stack)
    web_pid = stack.processes[0].pid
    submitted = {}
    prompts = {}
    submit_errors = []
    idle_rss = {pid: rss_mb(pid) for pid in pids}
    with RssSampler(pids + [web_pid]) as sampler, InFlight(fake) as inflight:
        for c in range(comparisons):
            prompt = f"bench capacity {label} c={c} [photo] {uuid.uuid4().hex[:8]}"
            # each comparison spans the whole range of delays
            fake.set_plan(prompt, {BenchFake.model(i): low + (high - low) * (i * comparisons + c) / (total - 1)
                                   for i in range(per)})
            try:
                created, t, _ = stack.submit_timed(prompt, routes(per))
            except (RuntimeError, httpx.HTTPError) as exc:
                submit_errors.append(str(exc)[:200])
                time.sleep(0.2)
                continue
            submitted[created["id"]] = t
            prompts[created["id"]] = prompt
        submit_span = (max(submitted.values()) - min(submitted.values())) if submitted else 0.0
        log(f"capacity {label}: {comparisons} comparisons x {per} routes submitted in {submit_span:.2f} s")
        bodies = {}
        deadline = time.monotonic() + high + timeout_extra
        while len(bodies) < comparisons and time.monotonic() < deadline:
            for cid in submitted:
                if cid in bodies:
                    continue
                try:
                    body = stack.http.get(f"/api/comparisons/{cid}").json()
                except (ValueError, httpx.HTTPError):
                    continue  # the web process could not answer (e.g. no database connection left)
                if body["status"] == "done":
                    bodies[cid] = body
            time.sleep(1.0)
        for cid in submitted:  # whatever is still unfinished, as it stands
            if cid not in bodies:
                try:
                    bodies[cid] = stack.http.get(f"/api/comparisons/{cid}").json()
                except (ValueError, httpx.HTTPError):
                    bodies[cid] = {"results": [], "status": "unknown"}
    late, arrivals, lag, truth, statuses = [], [], [], [], {}
    for cid, body in bodies.items():
        records = {r["model"]: r for r in fake.records_for(prompts[cid])}
        for result in body["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
            record = records.get(BenchFake.model(int(result["route"].rsplit("b", 1)[1])))
            if record is None:
                continue
            arrivals.append(record["arrived_wall"] - submitted[cid])
            if result["finished_at"] and result["status"] == "succeeded":
                finished = parse_time(result["finished_at"])
                late.append(finished - submitted[cid] - record["delay"])
                lag.append(finished - record["done_wall"])
        truth += truth_samples(fake, prompts[cid], body)
    worker_peak = {pid: sampler.peak[pid] for pid in pids}
    out = {"label": label, "calls": total, "submitted_comparisons": len(submitted), "comparisons": comparisons,
           "submit_errors": len(submit_errors), "submit_error_sample": submit_errors[:1], "statuses": statuses, "peak_in_flight": inflight.peak,
           "submit_span_s": submit_span, "late_max_s": max(late) if late else None, "late_p95_s": pct(late, 95),
           "late_over_1s": sum(x > 1 for x in late), "arrival_max_s": max(arrivals) if arrivals else None,
           "store_lag_p95_s": pct(lag, 95), "store_lag_max_s": max(lag) if lag else None,
           "worker_idle_rss_mb": idle_rss, "worker_peak_rss_mb": worker_peak,
           "worker_hwm_mb": {pid: rss_mb(pid, "VmHWM") for pid in pids},
           "web_peak_rss_mb": sampler.peak[web_pid], "truth_ms": truth, "finished": len(late)}
    log(f"capacity {label}: {out['finished']}/{total} succeeded, peak in flight {inflight.peak}, "
        f"max late {out['late_max_s']}, worker peak RSS {worker_peak}")
    return out


class InFlight:
    """The peak number of requests the fake served at once while this block ran."""

    def __init__(self, fake):
        self.fake, self.peak = fake, 0

    def __enter__(self):
        self.fake.peak(reset=True)
        return self

    def __exit__(self, *exc):
        self.peak = self.fake.peak()["peak"]


# --- 7b. page weight -------------------------------------------------------------------------


def page_weight(stack, fake, n=10):
    prompt = f"bench page weight [photo] {uuid.uuid4().hex[:8]}"
    fake.set_plan(prompt, {BenchFake.model(i): 0.3 for i in range(n)})
    created, _, _ = stack.submit_timed(prompt, routes(n))
    body, _ = stack.wait_done_timed(created["id"], timeout=60)
    client = stack.session()
    headers = {"Accept-Encoding": "gzip, deflate, br", "Accept": "text/html"}
    page = client.get(f"/comparisons/{created['id']}/", headers=headers)
    if page.status_code != 200:
        raise RuntimeError(f"the comparison page answered HTTP {page.status_code} (see var/bench/logs/embedded-serve.log)")
    html = page.text
    parts = {"html": page.num_bytes_downloaded}
    static = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    thumbs = re.findall(r'<img src="(/images/\d+/thumbnail)"', html)
    originals = [image["url"] for r in body["results"] for image in r["images"]]
    for kind, urls in (("css+js", static), ("thumbnails", thumbs)):
        total = 0
        for url in urls:
            response = client.get(url, headers=headers)
            response.read()
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered HTTP {response.status_code}")
            total += response.num_bytes_downloaded
        parts[kind] = total
    original_bytes = sum(image["bytes"] for r in body["results"] for image in r["images"])
    out = {"routes": n, "succeeded": sum(r["status"] == "succeeded" for r in body["results"]),
           "bytes": parts, "total": sum(parts.values()), "static_files": static, "thumbnail_count": len(thumbs),
           "originals_bytes_not_loaded": original_bytes, "original_count": len(originals),
           "html_encoding": page.headers.get("content-encoding"),
           "static_encodings": sorted({client.get(u, headers=headers).headers.get("content-encoding") or "identity"
                                       for u in static})}
    log(f"page weight: {out['total']:,} bytes for a {n}-route page ({parts})")
    return out


# --- the whole stack section -------------------------------------------------------------------


def guarded(results, key, function, *args, **kwargs):
    """Run one measurement; a failure is recorded (and reported) instead of ending the bench."""
    try:
        results[key] = function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        import traceback

        log(f"{key} failed: {exc!r}")
        results[key] = {"error": f"{type(exc).__name__}: {exc}"[:1000], "traceback": traceback.format_exc()[-3000:]}
    return results[key]


def run(results, services=True):
    fake = RemoteFake().start()
    log(f"fake provider on {fake.url} (its own process)")
    results["stack_settings"] = code_defaults()  # every stack below runs with them, as `make run` does
    try:
        # A: `make run`'s setup, unchanged: serve + its workers, SQLite, filesystem broker.
        stack = start_stack("embedded", fake)
        try:
            pids = worker_pids(stack)
            results["stack_embedded"] = {"worker_pids": pids, "worker_idle_rss_mb": [rss_mb(p) for p in pids],
                                         "web_idle_rss_mb": rss_mb(stack.processes[0].pid)}
            with RssSampler(pids) as sampler:
                guarded(results, "fanout", fanout, stack, fake)
                guarded(results, "overhead", overhead, stack, fake)
                guarded(results, "page_weight", page_weight, stack, fake)
            results["stack_embedded"]["worker_peak_rss_mb"] = [sampler.peak[p] for p in pids]
        finally:
            stop_stack(stack)
        # B: the same setup, fresh, for 200 calls in flight (the worker's call pool carries them).
        stack = start_stack("capacity", fake)
        try:
            guarded(results, "capacity_embedded", capacity, stack, fake)
        finally:
            stop_stack(stack)
        # C: PostgreSQL + Redis, web + 2 worker processes.
        if services:
            guarded(results, "capacity_services", services_capacity, fake)
        else:
            results["capacity_services"] = {"skipped": "--no-services"}
    finally:
        fake.stop()
        results["log_events"] = list(LOG_EVENTS)
    return results


def services_capacity(fake):
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable("127.0.0.1", port)]
    if missing:
        return {"skipped": f"{' and '.join(missing)} not reachable on 127.0.0.1"}
    import psycopg
    import redis

    database = f"ipc_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    max_connections = int(admin.execute("show max_connections").fetchone()[0])
    stack = None
    try:
        stack = start_stack("services", fake, workers=2, env={
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "CELERY_QUEUE": database})
        peak_conn = {"value": 0}
        stop = threading.Event()

        def watch():
            with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as c:
                while not stop.wait(0.25):
                    count = c.execute("select count(*) from pg_stat_activity where datname = %s", (database,)).fetchone()[0]
                    peak_conn["value"] = max(peak_conn["value"], count)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        out = {}
        try:
            # (Before the call pool each call in flight held a connection, and a measure of 80 calls
            # within PostgreSQL's limit came first; calls now hold none.)
            guarded(out, "fanout", fanout, stack, fake, counts=(20, 50), reps=2, label="postgres+redis")
            peak_conn["value"] = 0
            guarded(out, "full", capacity, stack, fake, label="postgres+redis, 2 workers, 200 calls",
                    timeout_extra=20)
            out["full"]["pg_peak_connections"] = peak_conn["value"]
        finally:
            stop.set()
            watcher.join(timeout=2)
        out["pg_max_connections"] = max_connections
        text = stack.logs()
        out["too_many_clients_errors"] = text.count("too many clients")
        out["worker_errors"] = len(re.findall(r"ERROR/|Traceback", text))
        return out
    finally:
        if stack is not None:
            stop_stack(stack)
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        try:
            client = redis.Redis(host="127.0.0.1", port=6379, db=0)
            # the queue and kombu's bindings of it (names vary across kombu versions): only ours
            keys = [k for pattern in (database, f"*{database}*") for k in client.keys(pattern)]
            if keys:
                client.delete(*set(keys))
            client.close()
        except Exception:  # noqa: BLE001 - cleaning up our own queue keys is best effort
            pass
