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
