"""Server-side SVG charts for the leaderboard and the changes page: geometry here, markup in
templates/compare/_chart_*.html. No JavaScript; every chart has a <title> and <desc>, and the
same numbers are in the table next to it."""

import math
from datetime import datetime
from django import template

from compare.templatetags.compare_tags import usd

register = template.Library()

WIDTH = 760
LEFT = 230  # room for route names
RIGHT = 24
TOP = 12
ROW = 30
AXIS = 36  # room under the plot for tick labels and the axis title
MAX_DOTS = 60  # dots per route in the strip plot


def nice_step(span, count=5):
    raw = span / count if span > 0 else 1
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _ticks(low, high, fmt):
    step = nice_step(high - low)
    start = math.floor(low / step) * step
    values, value = [], start
    while value <= high + step * 1e-9:
        values.append(value)
        value += step
    return values, fmt


class Scale:
    def __init__(self, low, high, fmt=lambda v: f"{v:g}"):
        self.ticks, self.fmt = _ticks(low, high, fmt)
        self.low, self.high = self.ticks[0], max(self.ticks[-1], high)
        if self.high == self.low:
            self.high = self.low + 1

    def x(self, value):
        return round(LEFT + (float(value) - self.low) / (self.high - self.low) * (WIDTH - LEFT - RIGHT), 1)

    def tick_marks(self):
        return [{"x": self.x(v), "label": self.fmt(v)} for v in self.ticks]


def _frame(rows, scale, **extra):
    height = TOP + ROW * max(len(rows), 1) + AXIS
    return {"width": WIDTH, "height": height, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": TOP + ROW * len(rows), "ticks": scale.tick_marks() if scale else [], "rows": rows, **extra}


def _short(text, limit=32):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sample(values, limit=MAX_DOTS):
    """Evenly spaced order statistics: the strip keeps the distribution's shape, bounded."""
    if len(values) <= limit:
        return list(values)
    return [values[round(i * (len(values) - 1) / (limit - 1))] for i in range(limit)]


def _seconds(value):
    return f"{value:g} s"


@register.inclusion_tag("compare/_chart_latency.html")
def latency_chart(rows):
    """Box (quartiles, median line), whiskers (p5-p95) and a strip of calls, per route."""
    measured = [row for row in rows if row.latency_count]
    if not measured:
        return {"chart": None}
    top = max(row.latency_max for row in measured) / 1000
    scale = Scale(0, top, _seconds)
    lines = []
    for i, row in enumerate(measured):
        # The rows carry the order statistics these need, not every latency (compare/insights/leaderboard.py).
        q1, median, q3, p5, p95 = (row.latency_percentile(p) / 1000 for p in (25, 50, 75, 5, 95))
        y = TOP + ROW * i + ROW / 2
        dots = [{"x": scale.x(v / 1000), "y": round(y + ((k * 7) % 11 - 5) * 0.9, 1)}
                for k, v in enumerate(row.latency_dots)]
        lines.append({"label": _short(row.route_key), "full": row.route_key, "y": y, "dots": dots,
                      "count": row.latency_count, "q1": scale.x(q1), "median": scale.x(median), "q3": scale.x(q3),
                      "p5": scale.x(p5), "p95": scale.x(p95), "box_top": y - 9,
                      "text": f"median {median:.2f} s, p95 {p95:.2f} s, {row.latency_count} calls"})
    return {"chart": _frame(lines, scale, axis_title="latency of succeeded calls (seconds)")}


def _usd(value):
    return f"${value:.3f}" if value < 1 else f"${value:,.2f}"


@register.inclusion_tag("compare/_chart_cost.html")
def cost_chart(rows):
    """Mean cost per image per route: our price (est. or team price; "rough" where the catalog's
    price is unresolved) and the provider's answer (billed or from usage) as separate bars."""
    priced = [row for row in rows if row.estimated_per_image is not None or row.reported_per_image is not None]
    if not priced:
        return {"chart": None}
    values = [v for row in priced for v in (row.estimated_per_image, row.reported_per_image) if v is not None]
    scale = Scale(0, float(max(values)) * 1.15 or 0.01, _usd)  # room for the value labels
    bars = []
    for i, row in enumerate(priced):
        y = TOP + ROW * i
        pair = []
        for offset, kind, value in ((4, "estimated", row.estimated_per_image), (15, "reported", row.reported_per_image)):
            if value is not None:
                word = ("rough" if row.rough else "est. or team price") if kind == "estimated" else "billed or from usage"
                pair.append({"kind": kind, "word": word, "y": y + offset, "x": LEFT,
                             "width": max(scale.x(value) - LEFT, 1),
                             "end": scale.x(value), "value": usd(value)})  # as the table shows it
        bars.append({"label": _short(row.route_key), "full": row.route_key, "y": y + ROW / 2, "bars": pair})
    return {"chart": _frame(bars, scale, axis_title="mean cost per image (USD)")}


@register.inclusion_tag("compare/_chart_score.html")
def score_chart(rows):
    """Bradley-Terry score (dot) with its bootstrap band (whisker); hollow dot = preliminary."""
    scored = [row for row in rows if row.score.score is not None]
    if not scored:
        return {"chart": None}
    low = min(min(row.score.low, row.score.score) for row in scored)
    high = max(max(row.score.high, row.score.score) for row in scored)
    low, high = min(low, 1000) - 20, max(high, 1000) + 20
    scale = Scale(low, high, lambda v: f"{v:.0f}")
    marks = []
    for i, row in enumerate(scored):
        y = TOP + ROW * i + ROW / 2
        marks.append({"label": _short(row.route_key), "full": row.route_key, "y": y, "x": scale.x(row.score.score),
                      "low": scale.x(row.score.low), "high": scale.x(row.score.high), "preliminary": row.preliminary,
                      "text": f"{row.score.score:.0f} (95% band {row.score.low:.0f}–{row.score.high:.0f}), "
                              f"{row.score.votes} votes{', preliminary' if row.preliminary else ''}"})
    return {"chart": _frame(marks, scale, axis_title="Bradley-Terry score (Elo scale, 1000 = anchor)",
                            anchor=scale.x(1000))}


@register.inclusion_tag("compare/_chart_spark.html")
def latency_spark(latencies, route=""):
    """A small line of one route's latency over a chain of runs (gaps where it did not succeed)."""
    known = [v for v in latencies if v is not None]
    width, height, pad = 160, 36, 4
    if not known:
        return {"spark": None}
    top = max(known) or 1
    step = (width - 2 * pad) / max(len(latencies) - 1, 1)
    points = [{"x": round(pad + i * step, 1), "y": round(height - pad - v / top * (height - 2 * pad), 1),
               "ms": round(v)} for i, v in enumerate(latencies) if v is not None]
    return {"spark": {"width": width, "height": height, "route": route, "points": points,
                      "path": " ".join(f"{p['x']},{p['y']}" for p in points), "max_s": f"{top / 1000:.1f}"}}


@register.filter
def percent(value):
    """0.8333 -> 83%; None -> – (no settled call, no vote)."""
    return "–" if value is None else f"{value * 100:.0f}%"


@register.filter
def signed(value, digits=0):
    """+12 / −3 for a change; – when unknown."""
    if value is None or value == "":
        return "–"
    value = float(value)
    return f"{value:+,.{int(digits)}f}".replace("-", "−")


@register.filter
def usd_delta(value):
    """+$0.0100 / −$0.0050 / no change / –."""
    if value is None or value == "":
        return "–"
    if value == 0:
        return "no change"
    return f"{'+' if value > 0 else '−'}${abs(value):.4f}"


@register.inclusion_tag("compare/_chart_series.html")
def series_chart(points, metric, title, since, until):
    """One route's metric over a window (continuous benchmarks): a point per bucket of runs,
    placed at the bucket's start, each labelled with the number of runs behind it."""
    width, height, left, right, top, bottom = 560, 150, 64, 16, 10, 40
    known = [(p, p[metric]) for p in points if p.get(metric) is not None]
    if not known:
        return {"chart": None, "title": title}
    values = [v for _, v in known]
    low = 0.0
    high = max(values) * 1.1 or 1.0
    if metric in ("success_rate", "text_accuracy", "check_failure_rate"):
        high = 1.0
    step = nice_step(high - low, 4)
    ticks, value = [], low
    while value <= high + step * 1e-9:
        ticks.append(value)
        value += step
    high = ticks[-1]
    span = (until - since).total_seconds() or 1
    fmt = {"success_rate": lambda v: f"{v:.0%}", "cost_per_image_usd": lambda v: f"${v:.3g}",
           "text_accuracy": lambda v: f"{v:.0%}", "check_failure_rate": lambda v: f"{v:.0%}",
           "median_ms": lambda v: f"{v / 1000:.3g} s", "p95_ms": lambda v: f"{v / 1000:.3g} s"}[metric]

    def y(v):
        return round(height - bottom - (v - low) / (high - low) * (height - top - bottom), 1)

    dots = []
    for point, v in known:
        at = datetime.fromisoformat(point["at"])
        x = round(left + (at - since).total_seconds() / span * (width - left - right), 1)
        dots.append({"x": x, "y": y(v), "label": fmt(v), "runs": point["runs"], "at": at})
    return {"title": title, "chart": {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "dots": dots, "path": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "ticks": [{"y": y(t), "label": fmt(t)} for t in ticks], "since": since, "until": until}}
