"""Results pushed (issue 14): what an open results page costs and how soon it shows a result,
against the real stack (`manage.py serve`: uvicorn + its worker, embedded SQLite) and bench/fake.py.

    python -m bench.streambench [--reps 3] [--n 20]

The page is played by this process as htmx plays it: one event stream
(/comparisons/ID/events); on `result-N` it fetches that card, on `change` the summary and the
race. Measured on one clock (this process's, also the fake's, which runs here too):
- last byte -> visible: from the fake's last byte of a route's answer to the moment the page
  holds that card in its terminal state;
- requests per second while 20 cards run and none changes (the page's steady cost), and the
  requests each change costs;
- the first submit after the web process starts, against the submits after it (warm start).
Prints a Markdown section for BENCHMARKS.md and writes var/bench/stream-<time>.json.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fake import BenchFake, RemoteFake  # noqa: E402
from bench.stackbench import PARAMS, pct, routes, start_stack, stop_stack  # noqa: E402


class StreamPage:
    """A results page following its stream: records when each card was fetched terminal and
    every request it made, with its time."""

    def __init__(self, stack, comparison_id, after):
        self.stack, self.id, self.after = stack, comparison_id, after
        self.cookies = stack.session().cookies
        self.visible = {}  # result id -> time its terminal card arrived
        self.requests = []  # (time, kind)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        with httpx.Client(base_url=self.stack.url, cookies=self.cookies, timeout=60) as client:
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
                        for kind, url in (("summary", f"/comparisons/{self.id}/summary"),
                                          ("race", f"/comparisons/{self.id}/?part=race")):
                            self.requests.append((time.time(), kind))
                            client.get(url, headers={"HX-Request": "true"})
                    elif name.startswith("result-"):
                        rid = json.loads(event["data"])["result"]
                        self.requests.append((time.time(), "card"))
                        card = client.get(f"/results/{rid}/card", headers={"HX-Request": "true"})
                        if card.status_code == 286 and rid not in self.visible:
                            self.visible[rid] = time.time()
                    event = {}
        self.done.set()


def visibility(stack, fake, n, reps, low, high):
    samples, idle_rates, per_change, runs = [], [], [], []
    for rep in range(reps):
        prompt = f"bench stream N={n} rep={rep} {uuid.uuid4().hex[:8]}"
        delays = [low + (high - low) * i / max(n - 1, 1) for i in range(n)]
        fake.set_plan(prompt, {BenchFake.model(i): d for i, d in enumerate(delays)})
        client = stack.session()
        created, submitted, _ = stack.submit_timed(prompt, routes(n))
        html = client.get(f"/comparisons/{created['id']}/").text
        after = int(html.split("/events?after=", 1)[1].split('"', 1)[0])
        page = StreamPage(stack, created["id"], after).start()
        page.done.wait(high + 60)
        body, _ = stack.wait_done_timed(created["id"], timeout=30)
        records = {r["model"]: r for r in fake.records_for(prompt)}
        last_bytes, rep_samples = [], []
        for result in body["results"]:
            record = records.get(BenchFake.model(int(result["route"].rsplit("b", 1)[1])))
            if record is None or result["id"] not in page.visible:
                continue
            last_bytes.append(record["done_wall"])
            rep_samples.append(page.visible[result["id"]] - record["done_wall"])
        samples += rep_samples
        # The steady cost: requests made while every card ran and none had ended (from 1 s after
        # the page opened to the first last byte).
        window = (submitted + 1.0, min(last_bytes))
        quiet = [t for t, kind in page.requests if window[0] <= t < window[1] and kind != "stream"]
        idle_rates.append(len(quiet) / (window[1] - window[0]))
        fetches = [kind for _, kind in page.requests if kind != "stream"]
        changes = 2 * n  # each result: running, then its end
        per_change.append(len(fetches) / changes)
        runs.append({"rep": rep, "seen": len(rep_samples), "p50_s": pct(rep_samples, 50), "p95_s": pct(rep_samples, 95),
                     "idle_window_s": window[1] - window[0], "idle_requests": len(quiet),
                     "fetches": len(fetches), "streams": sum(kind == "stream" for _, kind in page.requests)})
        print(f"rep {rep}: {len(rep_samples)}/{n} seen, last byte -> visible p50 {pct(rep_samples, 50):.3f} s "
              f"p95 {pct(rep_samples, 95):.3f} s; {len(quiet)} requests in {window[1] - window[0]:.1f} s "
              f"while all ran; {len(fetches)} fetches for {changes} changes", flush=True)
    return {"samples_s": samples, "runs": runs, "idle_requests_per_s": idle_rates, "fetches_per_change": per_change}


def warm_start(fake, submits=6):
    """A fresh stack (web process just started), then submits one after another."""
    stack = start_stack("stream-warm", fake)
    try:
        times = []
        for i in range(submits):
            prompt = f"bench warm {i} {uuid.uuid4().hex[:8]}"
            fake.set_plan(prompt, {BenchFake.model(0): 0.1})
            _, submitted, answered = stack.submit_timed(prompt, routes(2))
            times.append(answered - submitted)
            time.sleep(0.5)
        return times
    finally:
        stop_stack(stack)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args(argv)
    fake = RemoteFake().start()
    try:
        first_submits = [warm_start(fake) for _ in range(2)]
        stack = start_stack("stream", fake)
        try:
            seen = visibility(stack, fake, args.n, args.reps, low=3.0, high=6.0)
        finally:
            stop_stack(stack)
    finally:
        fake.stop()
    out = ROOT / "var" / "bench" / f"stream-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"visibility": seen, "submits_s": first_submits}, indent=1))
    s = seen["samples_s"]
    print(f"\n| measure | value | target |\n|---|---|---|")
    print(f"| last byte -> card visible over the stream, p50 / p95 (n={len(s)}) | "
          f"{pct(s, 50):.3f} s / {pct(s, 95):.3f} s | p95 <= 0.25 s |")
    print(f"| requests/s of an open page while {args.n} cards run (besides its one stream), per run | "
          f"{', '.join(f'{r:.2f}' for r in seen['idle_requests_per_s'])} | <= 1 |")
    print(f"| fetches per change (card, or summary + race), per run | "
          f"{', '.join(f'{r:.2f}' for r in seen['fetches_per_change'])} | - |")
    for i, times in enumerate(first_submits):
        rest = times[1:]
        print(f"| fresh web process {i + 1}: first submit / median of the next {len(rest)} | "
              f"{times[0] * 1000:.0f} ms / {statistics.median(rest) * 1000:.0f} ms | like any other |")
    print(f"\nRaw numbers: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
