"""Number helpers the benchmarks and their report share: nearest-rank percentiles, the report's
number format and verdict words, and safe lookups in a results dict."""


def pct(values, p):
    """The p-th percentile (nearest rank) of the values that are not None; None when there are none."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = max(1, min(len(values), int(round(p / 100 * len(values) + 0.4999))))
    return values[rank - 1]


def f(value, digits=2, unit=""):
    """A number as the report prints it (thousands separated, ``digits`` decimals, ``unit``); "n/a" for None."""
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def ok(flag):
    """The verdict of a row against its target."""
    return "met" if flag else "**missed**"


def get(d, *keys):
    """``d[k1][k2]...``, or None where a key (or a dict) is missing."""
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def failed(section):
    """Whether a measured section ended in an error or was skipped."""
    return isinstance(section, dict) and ("error" in section or "skipped" in section)


def setups(r):
    """What the issue-6 stacks of the run ``r`` were, in the report's words: {embedded, capacity,
    services, engine}. A run from before the call pool (no "stack_settings") had the thread
    counts it forced then; a later run has the code's defaults, which it recorded."""
    settings = r.get("stack_settings")
    if not settings:
        return {"embedded": "`make run` default: 1 worker x 32 threads, SQLite, filesystem broker",
                "capacity": "SQLite + filesystem broker, 1 worker x 220 threads",
                "services": "PostgreSQL + Redis, 2 workers x 110 threads",
                "engine": "`manage.py serve` = runserver + its Celery worker, exactly what `make run` starts: SQLite "
                          "in WAL mode, the filesystem broker, the threads pool with 32 threads"}
    threads, calls = settings["celery_threads"], settings["worker_calls"]
    pool = f"each worker process's calls on its call pool (up to {calls:,})" if calls else "one Celery thread per call"
    return {"embedded": f"`make run` default: {settings['serve_workers']} worker processes x {threads} Celery threads, "
                        "SQLite, filesystem broker",
            "capacity": f"`make run` default: {settings['serve_workers']} worker processes x {threads} Celery threads, "
                        "SQLite, filesystem broker",
            "services": f"PostgreSQL + Redis, 2 worker processes x {threads} Celery threads",
            "engine": f"`manage.py serve` = uvicorn + its {settings['serve_workers']} Celery worker processes, exactly "
                      f"what `make run` starts: SQLite in WAL mode, the filesystem broker, the threads pool with "
                      f"{threads} Celery threads that claim results, {pool}, "
                      f"{settings['store_threads']} store threads per process"}
