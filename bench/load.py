"""How busy the machine was with work that is not the bench's: every 2 s, the CPU time used by
processes outside the bench's own process tree (PostgreSQL and Redis servers counted apart, since
the bench uses them), from /proc. Benchmarks on a shared 2-core machine are only as good as this."""

import os
import threading
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
SERVICES = ("postgres", "redis-server")


def _snapshot():
    procs = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        procs[int(entry.name)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / TICK)
    return procs


def _descendants(procs, root):
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


class LoadMonitor:
    def __init__(self, interval=2.0):
        self.interval = interval
        self.root = os.getpid()
        self.sections = {}
        self.current = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def section(self, name):
        self.current = name
        self.sections.setdefault(name, {"wall_s": 0.0, "others_cpu_s": 0.0, "services_cpu_s": 0.0,
                                        "others_max_cores": 0.0, "top_others": {}, "loadavg_max": 0.0})

    def _run(self):
        before = _snapshot()
        last = time.monotonic()
        while not self.stopped.wait(self.interval):
            now_procs = _snapshot()
            now = time.monotonic()
            ours = _descendants(now_procs, self.root)
            others = services = 0.0
            per_comm = {}
            for pid, (_, comm, cpu) in now_procs.items():
                if pid in ours or pid not in before:
                    continue
                delta = cpu - before[pid][2]
                if delta <= 0:
                    continue
                if comm.startswith(SERVICES):
                    services += delta
                else:
                    others += delta
                    per_comm[comm] = per_comm.get(comm, 0.0) + delta
            wall = now - last
            before, last = now_procs, now
            if self.current is None:
                continue
            s = self.sections[self.current]
            s["wall_s"] += wall
            s["others_cpu_s"] += others
            s["services_cpu_s"] += services
            s["others_max_cores"] = max(s["others_max_cores"], others / wall)
            for comm, cpu in per_comm.items():
                s["top_others"][comm] = s["top_others"].get(comm, 0.0) + cpu
            try:
                s["loadavg_max"] = max(s["loadavg_max"], float(Path("/proc/loadavg").read_text().split()[0]))
            except OSError:
                pass

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=5)

    def summary(self):
        out = {}
        for name, s in self.sections.items():
            wall = s["wall_s"] or 1.0
            top = sorted(s["top_others"].items(), key=lambda kv: -kv[1])[:4]
            out[name] = {"others_mean_cores": s["others_cpu_s"] / wall, "others_max_cores": s["others_max_cores"],
                         "services_mean_cores": s["services_cpu_s"] / wall, "loadavg_max": s["loadavg_max"],
                         "top_others": [[comm, round(cpu / wall, 2)] for comm, cpu in top]}
        return out
