"""The BENCHMARKS.md section of issue 14's engine targets (bench/enginebench.py's numbers): each
measure beside the asyncio.gather floor of the same run, with its verdict, the stack's worker
settings and the command that made it."""

from bench.figures import f, failed, ok

SETUP_NAMES = {"embedded": "embedded (`make run`: SQLite, filesystem broker, `serve`'s worker)",
               "services": "PostgreSQL + Redis, web + 2 worker processes"}


def _ms(value):
    return f(value, 1, " ms")


def _s(value):
    return f(value, 3, " s")


def rows(section):
    """(setup, measure, ours, floor, target, verdict, settings) for each measure of each setup."""
    out = []
    latency_at = section.get("latency_at", 200)
    for setup, measures in (section.get("setups") or {}).items():
        name = SETUP_NAMES.get(setup, setup)
        if failed(measures):
            out.append((name, "(the setup)", measures.get("skipped") or measures.get("error"), "", "",
                        "not measured", ""))
            continue
        where = "one worker process" if setup == "embedded" else f"{measures.get('workers')} worker processes"
        b = measures.get("burst") or {}
        if failed(b):
            out.append((name, "burst", b.get("error"), "", "", "**not measured**", ""))
        elif b:
            fl = b["floor"]
            what = (f"{b['comparisons']} comparisons x {b['routes']} routes submitted back to back "
                    f"({b['delay_s']:g} s each)")
            out.append((name, f"{what}: last call after its comparison's submit, worst of {b['comparisons']} "
                        f"(median {_s(b['last_after_submit_median_s'])}; {b['arrived']}/{b['calls']} calls arrived)",
                        _s(b["last_after_submit_max_s"]), f"{_s(fl['last_arrival_s'])} after its start", "<= 0.2 s",
                        ok(b["last_after_submit_max_s"] is not None and b["last_after_submit_max_s"] <= 0.2
                           and b["arrived"] == b["calls"]), b["settings"]))
            out.append((name, f"same: last result's finished_at - the last submit, / {b['delay_s']:g} s "
                        f"({_s(b['done_after_last_submit_s'])}; the {b['comparisons']} submits took "
                        f"{_s(b['submit_span_s'])}; finished_at after the fake's last byte: median "
                        f"{_s(b.get('store_lag_median_s'))}, max {_s(b.get('store_lag_max_s'))}; the stack's CPU per "
                        f"result {_ms(b.get('cpu_ms_per_result_total'))} ({_cpu(b)}); statuses "
                        f"{_counts(b['statuses'])})",
                        f(b["ratio"], 3), f"{f(fl['ratio'], 3)} (wall / {b['delay_s']:g} s)", "<= 1.05",
                        ok(b["ratio"] is not None and b["ratio"] <= 1.05), b["settings"]))
        sc = measures.get("scaling") or {}
        if failed(sc):
            out.append((name, "burst on 1 and 2 worker processes", sc.get("error"), "", "", "**not measured**", ""))
        for workers, x in sorted((sc.get("workers") or {}).items()):
            out.append((name, f"the burst on {workers} worker process{'es' if workers != '1' else ''}: all done / "
                        f"{x['delay_s']:g} s; finished_at after the fake's last byte, median / max; the stack's CPU "
                        f"per result ({_cpu(x)})",
                        f"{f(x['ratio'], 3)}; {_s(x.get('store_lag_median_s'))} / {_s(x.get('store_lag_max_s'))}; "
                        f"{_ms(x.get('cpu_ms_per_result_total'))}",
                        f"{f(x['floor']['ratio'], 3)}", "(how the store rate scales)", "measured", x["settings"]))
        fo = measures.get("fanout") or {}
        if failed(fo):
            out.append((name, "fan-out", fo.get("error"), "", "", "**not measured**", ""))
        elif fo:
            fl = fo["floor"]
            out.append((name, f"one comparison of {fo['routes']} routes ({fo['delay_s']:g} s each): last call after "
                        f"submit, worst of {len(fo['reps'])} (median {_s(fo['last_median_s'])})",
                        _s(fo["last_max_s"]),
                        f"{_s(fl['last_arrival_max_s'])} (median {_s(fl['last_arrival_median_s'])})",
                        "<= 0.2 s", ok(fo["last_max_s"] is not None and fo["last_max_s"] <= 0.2 and fo["all_arrived"]),
                        fo["settings"]))
        for key in sorted((k for k in measures if k.startswith("in_flight_")), key=lambda k: int(k.rsplit("_", 1)[1])):
            x = measures[key]
            calls = int(key.rsplit("_", 1)[1])
            if failed(x):
                out.append((name, f"{calls} calls in flight", x.get("error"), "", "", "**not measured**", ""))
                continue
            fl = x["floor"]
            rss = max(x["worker_peak_rss_mb"] or [0])
            pg = (f", PostgreSQL connections peak {x['pg_peak_connections']}"
                  + (f" ('too many clients' {x['too_many_clients']}x in the logs)" if x["too_many_clients"] else "")
                  if x.get("pg_peak_connections") is not None else "")
            out.append((name, f"{calls} calls in flight in {where} ({x['comparisons']} comparisons x {x['routes']} "
                        f"routes, delays {x['delays_s'][0]:g}-{x['delays_s'][1]:g} s"
                        f"{', photo-like PNGs' if x['photo'] else ''}): "
                        f"succeeded; peak in flight at the fake; late (finished - submit - delay) max / p95; worker "
                        f"peak RSS (statuses {_counts(x['statuses'])}; last call {_s(x['arrival_max_s'])} after its "
                        f"submit; submits took {_s(x['submit_span_s'])}; finished_at after the fake's last byte: "
                        f"p95 {_s(x.get('store_lag_p95_s'))}, max {_s(x.get('store_lag_max_s'))}{pg})",
                        f"{x['succeeded']}/{calls}; {x['peak_in_flight']}; {_s(x['late_max_s'])} / "
                        f"{_s(x['late_p95_s'])}; "
                        + ", ".join(f(v, 0, " MB") for v in x["worker_peak_rss_mb"]),
                        f"late {_s(fl['late_max_s'])} / {_s(fl['late_p95_s'])}, last call {_s(fl['last_arrival_s'])} "
                        "after its start",
                        "all in flight at once, none late > 0.5 s, RSS <= 1 GB",
                        ok(x["succeeded"] == calls and x["peak_in_flight"] >= calls and x["late_max_s"] is not None
                           and x["late_max_s"] <= 0.5 and rss <= 1024), x["settings"]))
            if calls == latency_at:
                out.append((name, f"our latency_ms - the fake's server time, {calls} in flight: p95; min "
                            f"(n={x['truth_n']}, {x['truth_negative']} negative)",
                            f"{_ms(x['truth_p95_ms'])}; {_ms(x['truth_min_ms'])}",
                            f"{_ms(fl.get('truth_sent_p95_ms'))}; {_ms(fl.get('truth_sent_min_ms'))} timed from the "
                            f"request's first byte ({_ms(fl['truth_p95_ms'])}; {_ms(fl['truth_min_ms'])} from the "
                            "gather's start, its wait for a connection included)", "<= 10 ms, never negative",
                            ok(x["truth_p95_ms"] is not None and x["truth_p95_ms"] <= 10 and x["truth_negative"] == 0),
                            x["settings"]))
    return out


def _cpu(x, without=()):
    """The stack's CPU per result by process, e.g. "web 3.1 ms, worker 9.8 ms, image 12.0 ms"."""
    roles = x.get("cpu_ms_per_result") or {}
    order = [role for role in ("web", "worker", "image", "database", "broker") if role not in without]
    return ", ".join(f"{role} {_ms(roles[role])}" for role in order if role in roles) or "not measured"


def _counts(counts):
    return ", ".join(f"{k} {v}" for k, v in sorted((counts or {}).items())) or "none"


def markdown(section):
    """The section as Markdown lines (empty when the engine part did not run)."""
    if not isinstance(section, dict) or not section.get("setups"):
        return []
    defaults = section.get("defaults") or {}
    command = section.get("command") or "?"
    calls = defaults.get("worker_calls")
    lines = ["## Engine targets (issue 14)", "",
             f"Made by `{command}` on {section.get('started_at', '?')} (UTC). The sections above that `make bench` "
             "wrote measured the code of the date in this file's first line.", "",
             "`bench/enginebench.py` (alone: `.venv/bin/python -m bench.enginebench [--setup embedded|services|both] "
             "[--quick]`) against bench/fake.py's loopback OpenAI-protocol fake in a process of its own. Each measure "
             "stands beside its floor: the same calls (same delays at the same fake, prompts of their own) sent at "
             "once by a plain `asyncio.gather` over httpx (bench/floor.py, a process of its own), measured in the "
             "same run. Arrivals are the fake's; submit and done times are the bench's clock and the results' "
             "`finished_at` on the same machine.", "",
             f"The code's worker defaults: `CELERY_WORKER_CONCURRENCY={defaults.get('celery_threads')}`, "
             + (f"`WORKER_CALLS={calls}` (provider calls on a pool of call threads in each worker process)."
                if calls is not None else
                "no `WORKER_CALLS` setting (one Celery thread per provider call: the in-flight measures get "
                "enough threads for their calls, as the settings column says)."), ""]
    if section.get("quick"):
        lines += ["**A `--quick` run**: 200 calls in flight instead of 1,000, one fan-out rep.", ""]
    lines += ["| setup | measure | ours | floor (asyncio.gather) | target | | stack settings | command |",
              "|---|---|---|---|---|---|---|---|"]
    for setup, measure, ours, fl, target, verdict, settings in rows(section):
        lines.append(f"| {setup} | {measure} | {ours} | {fl} | {target} | {verdict} | {settings} | `{command}` |")
    lines.append("")
    loads = [(SETUP_NAMES.get(name, name), x["load"]) for name, x in section["setups"].items()
             if isinstance(x, dict) and x.get("load")]
    if loads:
        lines += ["Other work on this machine while each setup ran (CPU of processes outside the bench's tree, from "
                  "/proc; PostgreSQL and Redis apart): " + "; ".join(
                      f"{name}: {f(x['others_mean_cores'], 2)} cores on average, {f(x['others_max_cores'], 2)} at most "
                      f"({', '.join(f'{c} {v:g}' for c, v in x['top_others']) or '-'}), load average up to "
                      f"{f(x['loadavg_max'], 1)}" for name, x in loads) + ". On 2 cores, work beside the bench "
                  "delays the stack and the floor alike; compare each number with the floor beside it.", ""]
    lines += ["The fake (uvicorn, one asyncio event loop in a process of its own) dates a call's arrival when it "
              "has read the request's headers. A burst of connections first waits in its accept queue, which a "
              "client counts in its latency and the fake not in its server time. The floor sends all its calls at "
              "once, so its last arrival and its latency - server time carry that queue (hence the floor's "
              "latency also timed from its request's first byte); the stack's calls, spread over the submits, "
              "carry less of it. Each burst, in-flight run and fan-out rep starts once the stack is idle (its "
              "processes, and PostgreSQL and Redis, under 0.2 cores for 0.5 s): the previous measure's automatic "
              "checks, which run after its results are stored, are not timed with the next.", ""]
    events = section.get("log_events") or []
    if events:
        lines += ["Alarming lines in the stacks' logs:", ""] + [f"- `{e}`" for e in events[:10]] + [""]
    lines += why_missed(section)
    return lines


def why_missed(section):
    """Where the time of each missed target goes, read from this run's own numbers."""
    out = []
    for name, setup in (section.get("setups") or {}).items():
        if not isinstance(setup, dict):
            continue
        burst, fan = setup.get("burst") or {}, setup.get("fanout") or {}
        scaled = (setup.get("scaling") or {}).get("workers") or {}
        if burst.get("ratio") and burst["ratio"] > 1.05:
            span = burst.get("submit_span_s") or 0
            rate = burst["calls"] / span if span else None
            roles = burst.get("cpu_ms_per_result") or {}
            store = sum(v for role, v in roles.items() if role != "web") or None
            cores = rate * store / 1000 if rate and store else None
            line = (f"- {name}, burst: every call started on time (worst {_s(burst.get('last_after_submit_max_s'))} "
                    f"after its submit, target met); what is late is storing. The {burst['calls']} answers came "
                    f"back as they had been submitted, within {_s(span)} ({f(rate, 0)} a second). Past the web's "
                    f"part (the submits, before any answer), each result cost {_ms(store)} of CPU "
                    f"({_cpu(burst, without=('web',))}): "
                    "its image decoded, checked and thumbnailed, its rows and files written, the next turn sent, "
                    "then its automatic checks (at a lower priority). At that rate the answers bring "
                    f"{f(cores, 1)} cores' worth of work a second to a machine of 2 cores, which also runs the "
                    "fake and the bench; so the last ones wait (finished_at a median "
                    f"{_s(burst.get('store_lag_median_s'))} after the fake's last byte, max "
                    f"{_s(burst.get('store_lag_max_s'))}). The floor stores nothing.")
            if len(scaled) > 1:
                line += (" Measured again on each number of worker processes: " + "; ".join(
                    f"{w} worker process{'es' if w != '1' else ''}: ratio {f(x['ratio'], 3)}, store lag max "
                    f"{_s(x.get('store_lag_max_s'))}, CPU per result {_ms(x.get('cpu_ms_per_result_total'))}"
                    for w, x in sorted(scaled.items()))
                    + ". A second worker process does not store this burst faster here: both cores are already "
                    "busy, and it adds its own image processes and database connections. Each worker process "
                    "stores under its own interpreter lock with its own image processes, so on a machine with "
                    "more cores (or more worker machines) the store rate grows with worker processes; this "
                    "machine has 2, so that is not measured here.")
            out.append(line)
        reps = fan.get("reps") or []
        if fan.get("last_max_s") and fan["last_max_s"] > 0.2 and reps:
            claims = [r.get("last_claim_s") for r in reps if r.get("last_claim_s") is not None]
            answered = [r.get("submit_answered_s") for r in reps if r.get("submit_answered_s") is not None]
            out.append(f"- {name}, 50 routes: last call {_s(fan.get('last_median_s'))} after submit in the median rep, "
                       f"{_s(fan['last_max_s'])} in the worst (the floor's own last arrival "
                       f"{_s((fan.get('floor') or {}).get('last_arrival_max_s'))}). The API answered the submit after "
                       f"{_s(max(answered) if answered else None)} at worst and the last result was claimed "
                       f"{_s(max(claims) if claims else None)} after submit; the rest is starting 50 HTTP calls from "
                       "Python threads (the request built, a connection opened, the body sent) while the fake "
                       "accepts 50 connections on the same 2 cores.")
        for key in sorted(k for k in setup if k.startswith("in_flight_")):
            big = setup[key]
            if not isinstance(big, dict) or not big.get("late_max_s") or big["late_max_s"] <= 0.5:
                continue
            fl = big.get("floor") or {}
            out.append(f"- {name}, {big['calls']} in flight: every call was at the provider at once (peak "
                       f"{big.get('peak_in_flight')} at the fake). Late max {_s(big['late_max_s'])} is the call's "
                       f"start plus its store: the last call reached the fake {_s(big.get('arrival_max_s'))} after "
                       f"its comparison's submit (the last claim was {_s(big.get('claim_max_s'))} after it: in the "
                       f"{_s(big.get('submit_span_s'))} the {big['comparisons']} submits took, the web answered them, "
                       f"the {'worker' if name == 'embedded' else 'workers'} claimed and started {big['calls']} "
                       "calls and the fake accepted as many "
                       f"connections, all on 2 cores), and results were stored a p95 {_s(big.get('store_lag_p95_s'))} "
                       f"(max {_s(big.get('store_lag_max_s'))}) after the fake's last byte. The floor, which only "
                       f"sends, is itself late {_s(fl.get('late_max_s'))} (its last call reached the fake "
                       f"{_s(fl.get('last_arrival_s'))} after its start; its one event loop wrote its last request "
                       f"{_s(fl.get('send_max_s'))} after the start, opening {big['calls']} connections one after "
                       "another while the fake's event loop accepted them on the same 2 cores), so on this machine "
                       f"even the floor cannot have {big['calls']} calls at the fake within 0.5 s. Over the whole run each call cost the "
                       f"stack {_ms(big.get('cpu_ms_per_result_total'))} of CPU ({_cpu(big)}).")
    if out:
        return ["**Missed targets, and where the time goes** (from this run's numbers):", ""] + out + [""]
    return []
