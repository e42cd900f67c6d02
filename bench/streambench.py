"""Results pushed (issue 14): what an open results page costs and how soon it shows a result,
against the real stack and bench/fake.py, on both setups: embedded (`manage.py serve`: uvicorn +
its workers, SQLite, the filesystem broker; the stream follows the event table) and PostgreSQL +
Redis (web + 2 worker processes; Redis pub/sub announces each event).

    python -m bench.streambench [--setup embedded|services|both] [--reps 3] [--n 20] [--no-warm]

The page is played by this process as htmx plays it: one event stream
(/comparisons/ID/events); on `result-N` it fetches that card, on `change` the summary and the
race. Measured on one clock (this process's, also the fake's, which runs on this machine too):
- last byte -> visible: from the fake's last byte of a route's answer to the moment the page
  holds that card in its terminal state;
- requests per second while 20 cards run and none changes (the page's steady cost), and the
  requests each change costs;
- the first submit after the web process starts, against the submits after it (warm start).
Prints a Markdown section for BENCHMARKS.md (`make bench` runs it too) and writes
var/bench/stream-<time>.json.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fake import BenchFake, RemoteFake  # noqa: E402
from bench.enginebench import Setup  # noqa: E402
from bench.harness import routes  # noqa: E402
from bench.figures import pct  # noqa: E402
from bench.report import write_kept  # noqa: E402
from bench.stackbench import CardPoller  # noqa: E402
from providers.testing.stack import parse_time, reachable  # noqa: E402


class StreamPage:
    """A results page following its stream as htmx in a browser does: each element fetches its
    partial when the stream names it, up to 6 requests at once (a browser's connections to one
    host), one at a time per element, a trigger during its request fetching once more after it.
    Records when each card was fetched terminal, every request with its time, and when the
    last `running` event arrived."""

    def __init__(self, stack, comparison_id, after):
        self.stack, self.id, self.after = stack, comparison_id, after
        self.cookies = stack.session().cookies
        self.visible = {}  # result id -> time its terminal card arrived
        self.requests = []  # (time, kind)
        self.last_running_event = None
        self.event_at = {}  # result id -> when its terminal event arrived
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.busy, self.again = set(), set()
        self.pool = ThreadPoolExecutor(6)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _trigger(self, client, key, url, rid=None):
        with self.lock:
            if key in self.busy:
                self.again.add(key)
                return
            self.busy.add(key)
        self.pool.submit(self._fetch, client, key, url, rid)

    def _fetch(self, client, key, url, rid):
        while True:
            with self.lock:
                self.requests.append((time.time(), key.split("-")[0]))
            response = client.get(url, headers={"HX-Request": "true"})
            if rid is not None and response.status_code == 286:
                with self.lock:
                    self.visible.setdefault(rid, time.time())
            with self.lock:
                if key not in self.again:
                    self.busy.discard(key)
                    return
                self.again.discard(key)

    def _run(self):
        with httpx.Client(base_url=self.stack.url, cookies=self.cookies, timeout=60,
                          limits=httpx.Limits(max_connections=7)) as client:
            self.requests.append((time.time(), "stream"))
            with client.stream("GET", f"/comparisons/{self.id}/events?after={self.after}") as response:
                event = {}
                for line in response.iter_lines():
                    if line.startswith(("event: ", "data: ", "id: ")):
                        key, value = line.split(": ", 1)
                        event[key] = value
                        continue
                    if line or not event:
                        continue
                    name = event.get("event", "")
                    if name == "done":
                        break
                    if name == "change":
                        self._trigger(client, "summary", f"/comparisons/{self.id}/summary")
                        self._trigger(client, "race", f"/comparisons/{self.id}/?part=race")
                    elif name.startswith("result-"):
                        data = json.loads(event["data"])
                        if data["status"] == "running":
                            self.last_running_event = time.time()
                        else:
                            self.event_at.setdefault(data["result"], time.time())
                        self._trigger(client, name, f"/results/{data['result']}/card", data["result"])
                    event = {}
            self.pool.shutdown(wait=True)
        self.done.set()


def visibility(stack, fake, n, reps, low, high):
    """Each rep twice, under the same load: the page following its stream, then the page polling
    each card every 0.5 s as before (bench/stackbench.py's CardPoller), for a like-for-like base."""
    samples, polled, idle_rates, per_change, runs = [], [], [], [], []
    for rep in range(reps):
        for mode in ("stream", "poll"):
            prompt = f"bench stream N={n} rep={rep} {mode} {uuid.uuid4().hex[:8]}"
            delays = [low + (high - low) * i / max(n - 1, 1) for i in range(n)]
            fake.set_plan(prompt, {BenchFake.model(i): d for i, d in enumerate(delays)})
            client = stack.session()
            created, submitted, _ = stack.submit_timed(prompt, routes(n))
            html = client.get(f"/comparisons/{created['id']}/").text
            loaded = time.time()
            if mode == "stream":
                after = int(html.split("/events?after=", 1)[1].split('"', 1)[0])
                page = StreamPage(stack, created["id"], after).start()
                page.done.wait(high + 60)
            else:
                page = CardPoller(stack, [r["id"] for r in created["results"]], 0.5, deadline_s=high + 30).start(loaded)
                page.join(timeout=high + 40)
            body, _ = stack.wait_done_timed(created["id"], timeout=30)
            records = {r["model"]: r for r in fake.records_for(prompt)}
            last_bytes, rep_samples, event_lag, db_lag = [], [], [], []
            for result in body["results"]:
                record = records.get(BenchFake.model(int(result["route"].rsplit("b", 1)[1])))
                seen = page.visible if mode == "stream" else page.seen
                if record is None or result["id"] not in seen:
                    continue
                last_bytes.append(record["done_wall"])
                rep_samples.append(seen[result["id"]] - record["done_wall"])
                db_lag.append(parse_time(result["finished_at"]) - record["done_wall"])
                if mode == "stream":
                    event_lag.append(page.event_at[result["id"]] - record["done_wall"])
            load = os.getloadavg()[0]
            if mode == "poll":
                polled += rep_samples
                runs.append({"rep": rep, "mode": mode, "load": load, "seen": len(rep_samples),
                             "stored_p50_s": pct(db_lag, 50), "stored_p95_s": pct(db_lag, 95), "p50_s": pct(rep_samples, 50),
                             "p95_s": pct(rep_samples, 95), "requests": page.requests})
                print(f"rep {rep} poll: stored p50 {pct(db_lag, 50):.3f} s; visible p50 {pct(rep_samples, 50):.3f} s "
                      f"p95 {pct(rep_samples, 95):.3f} s; {page.requests} card requests; load {load:.1f}", flush=True)
                continue
            samples += rep_samples
            # The steady cost: requests made while every card ran and none had ended (from 1.5 s after
            # the last `running` event, when its fetches have been answered, to the first last byte).
            window = ((page.last_running_event or submitted) + 1.5, min(last_bytes))
            quiet = [t for t, kind in page.requests if window[0] <= t < window[1] and kind != "stream"]
            idle_rates.append(len(quiet) / (window[1] - window[0]))
            fetches = [kind for _, kind in page.requests if kind != "stream"]
            kinds = {kind: sum(k == kind for k in fetches) for kind in ("result", "summary", "race")}
            changes = 2 * n  # each result: running, then its end
            per_change.append(len(fetches) / changes)
            runs.append({"rep": rep, "mode": mode, "load": load, "seen": len(rep_samples),
                         "stored_p50_s": pct(db_lag, 50), "stored_p95_s": pct(db_lag, 95), "event_p50_s": pct(event_lag, 50),
                         "event_p95_s": pct(event_lag, 95), "p50_s": pct(rep_samples, 50),
                         "p95_s": pct(rep_samples, 95),
                         "idle_window_s": window[1] - window[0], "idle_requests": len(quiet), "fetches": len(fetches),
                         "fetch_kinds": kinds, "streams": sum(kind == "stream" for _, kind in page.requests)})
            print(f"rep {rep} stream: stored p50 {pct(db_lag, 50):.3f} s; event p50 {pct(event_lag, 50):.3f} s "
                  f"p95 {pct(event_lag, 95):.3f} s; visible p50 {pct(rep_samples, 50):.3f} s "
                  f"p95 {pct(rep_samples, 95):.3f} s; "
                  f"{len(quiet)} requests in {window[1] - window[0]:.1f} s while all ran; {len(fetches)} fetches for "
                  f"{changes} changes {kinds}; load {load:.1f}", flush=True)
    return {"samples_s": samples, "polled_s": polled, "runs": runs, "idle_requests_per_s": idle_rates,
            "fetches_per_change": per_change}


def warm_start(setup, submits=6):
    """A fresh stack of the setup (web process just started), then submits one after another."""
    stack = setup.get(SETTINGS)
    try:
        times = []
        for i in range(submits):
            prompt = f"bench warm {i} {uuid.uuid4().hex[:8]}"
            setup.fake.set_plan(prompt, {BenchFake.model(0): 0.1})
            _, submitted, answered = stack.submit_timed(prompt, routes(2))
            times.append(answered - submitted)
            time.sleep(0.5)
        return times
    finally:
        setup.close()


SETTINGS = {"threads": None, "env": {}}  # the code's defaults, as `make run` and the README's recipe have them


def run(setups=("embedded", "services"), n=20, reps=3, warm=True, command="python -m bench.streambench"):
    """The section's numbers: {command, made_at, n, reps, setups: {setup: {"visibility": ...,
    "submits_s": [...]}, or {"skipped"/"error": why}}}."""
    made_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out = {}
    fake = RemoteFake().start()
    try:
        for name in setups:
            missing = [x for x, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not reachable("127.0.0.1", port)]
            if name == "services" and missing:
                out[name] = {"skipped": f"{' and '.join(missing)} not reachable on 127.0.0.1"}
                continue
            setup = Setup(name, fake, prefix="stream")
            try:
                submits = [warm_start(setup) for _ in range(2)] if warm else []
                stack = setup.get(SETTINGS)
                out[name] = {"visibility": visibility(stack, fake, n, reps, low=5.0, high=8.0), "submits_s": submits}
            except Exception as exc:  # noqa: BLE001 - recorded and reported, the bench goes on
                print(f"stream {name} failed: {exc!r}", flush=True)
                out[name] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
            finally:
                setup.close()
    finally:
        fake.stop()
    return {"command": command, "made_at": made_at, "n": n, "reps": reps, "setups": out}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", choices=("embedded", "services", "both"), default="both")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--no-warm", action="store_true", help="skip the warm-start measure")
    args = parser.parse_args(argv)
    setups = ("embedded", "services") if args.setup == "both" else (args.setup,)
    command = "python -m bench.streambench " + " ".join(sys.argv[1:] if argv is None else argv)
    keep(run(setups, args.n, args.reps, warm=not args.no_warm, command=command.strip()))


def keep(section):
    """Save the raw numbers and write the section into BENCHMARKS.md as its kept block."""
    out = ROOT / "var" / "bench" / f"stream-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(section, indent=1))
    text = report(section, out)
    print("\n" + text)
    write_kept(ROOT / "BENCHMARKS.md", "stream", text)


SETUP_NAMES = {"embedded": "embedded", "services": "PostgreSQL + Redis"}


def report(section, out):
    """The BENCHMARKS.md section (kept there when `make bench` rewrites the rest)."""
    n = section["n"]
    lines = [
        "## Results pushed (issue 14)",
        "",
        f"Made by `{section['command']}` on {section['made_at']}, on each setup with the code's defaults, against "
        f"bench/fake.py: one comparison of {n} routes with delays 5 to 8 s per run. The page is played as htmx "
        "plays it in a browser (one event stream; on `result-N` that card is fetched, on `change` the summary and "
        "race; 6 connections, one request per element at a time); each run is repeated with the page polling "
        "every card every 0.5 s (the fallback when the stream is not available), on the same stack, for a base "
        "under the same load. Setups: **embedded** is `make run`'s (uvicorn + its worker processes, SQLite, the "
        "filesystem broker; the stream follows the event table); **PostgreSQL + Redis** is the README's scale-out "
        "recipe (web + 2 worker processes; Redis pub/sub announces each event to the streams).",
        "",
        "| setup | measure | value | target | |",
        "|---|---|---|---|---|",
    ]
    notes = []
    for name, x in section["setups"].items():
        label = SETUP_NAMES.get(name, name)
        if "visibility" not in x:
            lines.append(f"| {label} | not measured: {x.get('skipped') or x.get('error')} | | | **not measured** |")
            continue
        lines += setup_rows(label, n, x["visibility"], x["submits_s"])
        load = [r["load"] for r in x["visibility"]["runs"]]
        notes.append(f"{name} {min(load):.1f} to {max(load):.1f}")
    lines += [
        "",
        f"Load average (1 min) during the runs: {'; '.join(notes) or 'n/a'} on {os.cpu_count()} cores (the bench's "
        "own stack and fake included).",
        "",
        "Where the time goes: the worker stores the result (images checked and thumbnailed, row committed) after "
        "the last byte; the web process reads the new event row (every EVENTS_POLL_SECONDS = 0.05 s, or at once "
        "when Redis announces it) and sends it; the page then fetches the card. On a loaded machine the store and "
        "the card fetch dominate; the stream's own part is the difference of the \"stored\" and \"event "
        "received\" rows.",
        "",
        f"Raw numbers: `{out.relative_to(ROOT)}`.",
    ]
    return "\n".join(lines) + "\n"


def stored(run):
    p95 = run.get("stored_p95_s")  # not in runs saved before it was recorded
    return f"{run['stored_p50_s']:.3f}" + (f" / {p95:.3f}" if p95 is not None else "")


def setup_rows(label, n, seen, first_submits):
    s, p = seen["samples_s"], seen["polled_s"]
    stream_runs = [r for r in seen["runs"] if r["mode"] == "stream"]
    p95 = pct(s, 95)
    idle = max(seen["idle_requests_per_s"])
    rows = [
        f"| {label} | last byte -> card visible, over the stream: p50 / p95 (n={len(s)}) | {pct(s, 50):.3f} s / "
        f"{p95:.3f} s | p95 <= 0.25 s | {'met' if p95 <= 0.25 else '**missed**'} |",
        f"| {label} | the same, p95 of each stream run | {', '.join(f'{r['p95_s']:.3f}' for r in stream_runs)} s | | |",
        f"| {label} | the same page polling every 0.5 s instead, same stack and load: p50 / p95 (n={len(p)}) | "
        f"{pct(p, 50):.3f} s / {pct(p, 95):.3f} s | | |",
        f"| {label} | of which the worker: last byte -> result stored (finished_at), p50 / p95 per stream run | "
        f"{', '.join(stored(r) for r in stream_runs)} s | | |",
        f"| {label} | of which the stream: last byte -> event received, p50 / p95 per run | "
        f"{', '.join(f'{r['event_p50_s']:.3f} / {r['event_p95_s']:.3f}' for r in stream_runs)} s | | |",
        f"| {label} | requests/s an open page of {n} running cards costs while none changes (besides its one "
        f"stream) | {', '.join(f'{r:.2f}' for r in seen['idle_requests_per_s'])} | <= 1 | "
        f"{'met' if idle <= 1 else '**missed**'} |",
        f"| {label} | requests per change (a card; or summary + race, at most twice a second) | "
        f"{', '.join(f'{r:.2f}' for r in seen['fetches_per_change'])} | | |",
        f"| {label} | the polling page: card requests per run | "
        f"{', '.join(str(r['requests']) for r in seen['runs'] if r['mode'] == 'poll')} | | |",
    ]
    for i, times in enumerate(first_submits):
        rest = times[1:]
        first, median = times[0], statistics.median(rest)
        rows.append(f"| {label} | fresh web process {i + 1}: first submit / median of the next {len(rest)} (API, "
                    f"2 routes) | {first * 1000:.0f} ms / {median * 1000:.0f} ms | like any other (at most twice the "
                    "median, or 50 ms over it) | "
                    f"{'met' if first <= max(2 * median, median + 0.05) else '**missed**'} |")
    return rows


if __name__ == "__main__":
    main()
