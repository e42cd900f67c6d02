"""The results page's viewing aids: card badges, sorting, the race timeline and the cost chart.

Geometry and rules here, markup in templates/compare/detail.html. Nothing here is shown to a
blind reviewer before their verdict (review.masked): like the card's metrics and the API, badges,
timings, costs and sorting can all name a route."""

from django import template
from django.utils import timezone

from compare.models import Status
from compare.templatetags.charts import nice_step
from compare.templatetags.compare_tags import ms, usd

register = template.Library()

# ?sort= values: key, link text. "" keeps the page's own order (submitted, or the reviewer's shuffle).
SORTS = (("", "default"), ("route", "route"), ("latency", "latency"), ("cost", "cost"), ("rating", "rating"))

WIDTH, LEFT, RIGHT, TOP, ROW, AXIS = 640, 170, 72, 6, 26, 34  # RIGHT: room for the end label
COST_WIDTH, COST_LEFT, COST_RIGHT = 430, 150, 150  # RIGHT: room for the values
BAR = 14  # bar height inside a row
SEGMENTS = {  # kind: what the legend and the bar's tooltip call it
    "ours": "ours: enqueue, checks and storing",
    "queue": "our queue wait",
    "provider-queue": "provider's queue (provider's figure)",
    "generation": "generation (provider's figure)",
    "retry": "refused attempts, retried (provider call, measured by us)",
    "backoff": "waiting before a retry (backoff)",
    "call": "provider call (measured by us)",
    "download": "download (measured by us)",
    "drawing": "ours: drawing the sandbox image",
}


def _succeeded(results):
    return [r for r in results if r.status == Status.SUCCEEDED]


# Cost bar kinds: what the legend calls them (the same words as the cards and the API).
COST_KINDS = {
    "billed": "billed (the provider's figure)",
    "usage": "from usage (its usage x our price)",
    "team_price": "team price",
    "estimated": "est. (catalog)",
    "rough": "rough (unresolved catalog price)",
}
_KIND_OF_WORD = {"billed": "billed", "from usage": "usage", "team price": "team_price", "est.": "estimated",
                 "rough": "rough"}


def _known_cost(result):
    return result.cost_is_known


def _leaders(candidates, value):
    """The candidates with the lowest value; none unless there are two or more and they differ."""
    values = [value(r) for r in candidates]
    if len(values) < 2 or min(values) == max(values):
        return set()
    return {r.pk for r, v in zip(candidates, values) if v == min(values)}


def wins_by_result(verdicts):
    wins = {}
    for verdict in verdicts:
        if verdict.kind == "winner":
            wins[verdict.winner_id] = wins.get(verdict.winner_id, 0) + 1
    return wins


def badges(results, verdicts):
    """{result id: [badge, ...]} for the succeeded results: fastest (lowest measured latency),
    cheapest (lowest known cost; unknown costs take no part) and winner (most winner votes)."""
    done = _succeeded(results)
    fastest = _leaders([r for r in done if r.latency_ms is not None], lambda r: r.latency_ms)
    cheapest = _leaders([r for r in done if _known_cost(r)], lambda r: r.cost_usd)
    wins = wins_by_result(verdicts)
    top = max(wins.values(), default=0)
    found = {r.pk: [] for r in results}
    for r in done:
        if r.pk in fastest:
            found[r.pk].append({"key": "fastest", "text": "fastest", "title": f"Lowest measured latency: {ms(r.latency_ms)}"})
        if r.pk in cheapest:
            found[r.pk].append({"key": "cheapest", "text": "cheapest",
                                "title": f"Lowest known cost: {usd(r.cost_usd)} ({r.cost_word}); unknown costs take no part"})
        if top and wins.get(r.pk) == top:
            found[r.pk].append({"key": "winner", "text": "winner",
                                "title": f"Team verdict: {top} winner vote{'s' if top > 1 else ''}"})
    return found


@register.simple_tag
def card_badges(review, result):
    """{% card_badges review result as badges %}: none while the reviewer is blind."""
    if review is None or review.masked:
        return []
    return badges(review.results, review.verdicts).get(result.pk, [])


def sort_results(results, sort, verdicts=()):
    """The cards in ?sort= order (stable: ties keep the page's order). Succeeded results with a
    measured latency / known cost come first for latency / cost; rating = net thumbs, then wins."""
    results = list(results)
    if sort == "route":
        return sorted(results, key=lambda r: (r.route_label.lower(), r.route_key))
    if sort == "latency":
        return sorted(results, key=lambda r: (r.status != Status.SUCCEEDED or r.latency_ms is None, r.latency_ms or 0))
    if sort == "cost":
        return sorted(results, key=lambda r: (r.status != Status.SUCCEEDED or not _known_cost(r), r.cost_usd or 0))
    if sort == "rating":
        wins = wins_by_result(verdicts)
        return sorted(results, key=lambda r: (-(len(getattr(r, "thumbs_up", [])) - len(getattr(r, "thumbs_down", []))),
                                              -wins.get(r.pk, 0)))
    return results


def sort_choice(value, review):
    """The ?sort= value to apply: "" for an unknown one, and always "" for a blind reviewer."""
    return value if value in dict(SORTS) and not review.masked else ""


@register.simple_tag
def progress_title(comparison, results, finished):
    """The tab title: "3/5 done · #12 · prompt" while running, "done · #12 · prompt" after."""
    total = len(results)
    state = "done" if total and finished == total else f"{finished or 0}/{total} done"
    prompt = comparison.prompt if len(comparison.prompt) <= 60 else comparison.prompt[:59] + "…"
    return f"{state} · #{comparison.pk} · {prompt}"


def _ms_between(later, earlier):
    return (later - earlier).total_seconds() * 1000


def _name(result, limit=24):
    """The row's name: the reviewer's blind letter first when the comparison is blind."""
    name = route if len(route := result.route_key) <= limit else route[:limit - 1] + "…"
    return f"{result.blind_label} · {name}" if getattr(result, "blind_label", "") else name


def segments(result, origin, now):
    """[(kind, start ms, length ms)] from submit (origin) to finished (or now, while running):
    our overhead and queue, each refused attempt and its backoff wait, the provider call that
    counts (the provider's own figures inside it), then ours again."""
    end = _ms_between(result.finished_at or now, origin)
    if result.started_at is None:  # never started: waited in our queue until cancelled (or still waits)
        enqueued = _ms_between(result.enqueued_at, origin) if result.enqueued_at else 0
        return [("ours", 0, enqueued), ("queue", enqueued, max(end - enqueued, 0))]
    start = _ms_between(result.started_at, origin)
    queue = result.queue_ms if result.queue_ms is not None else 0
    parts = [("ours", 0, max(start - queue, 0)), ("queue", max(start - queue, 0), min(queue, start))]
    if result.latency_ms is None:
        kind = "call" if result.status == Status.RUNNING else "ours"
        return parts + [(kind, start, max(end - start, 0))]
    # Refused attempts and the waits between them came first; the latency is the last attempt's.
    room = max(end - start - result.latency_ms, 0)
    at = start
    for attempt in getattr(result, "attempts", None) or []:
        for kind, length in (("retry", attempt.get("ms") or 0), ("backoff", attempt.get("waited_ms") or 0)):
            length = min(length, room)
            room -= length
            parts.append((kind, at, length))
            at += length
    # The provider's own figures fit inside our measured latency; download is ours and comes last.
    timings = result.provider_timings or {}
    left = result.latency_ms
    download = min(timings.get("download_ms") or 0, left)
    left -= download
    pieces = []
    for kind, key in (("provider-queue", "provider_queue_ms"), ("generation", "provider_generation_ms")):
        value = min(timings.get(key) or 0, left)
        left -= value
        pieces.append((kind, value))
    pieces += [("call", left), ("download", download)]
    if timings.get("ours_ms"):  # the sandbox's drawing: after its simulated call, and ours
        pieces.append(("drawing", min(timings["ours_ms"], room)))
    for kind, length in pieces:
        parts.append((kind, at, length))
        at += length
    return parts + [("ours", at, max(end - at, 0))]


def _ticks(top_ms, step, x):
    count = round(top_ms / 1000 / step)
    return [{"x": x(n * step * 1000), "label": f"{round(n * step, 3):g} s"} for n in range(count + 1)]


@register.simple_tag
def race_timeline(comparison, results, now=None):
    """{% race_timeline comparison results as race %}: one bar per route, split into segments."""
    now = now or timezone.now()
    rows = [(r, [s for s in segments(r, comparison.created_at, now) if s[2] > 0]) for r in results]
    top = max([s[1] + s[2] for _, segs in rows for s in segs] + [1000])
    step = nice_step(top / 1000)
    top = -(-top // (step * 1000)) * step * 1000  # up to the next tick
    scale = (WIDTH - LEFT - RIGHT) / top

    def x(value):
        return round(LEFT + value * scale, 2)

    lines = []
    for i, (result, segs) in enumerate(rows):
        y = TOP + ROW * i
        end = max((s[1] + s[2] for s in segs), default=0)
        bars = [{"kind": kind, "x": x(start), "width": round(length * scale, 2), "ms": round(length, 1),
                 "text": f"{SEGMENTS[kind]}: {ms(length)}"} for kind, start, length in segs]
        status = result.get_status_display().lower()
        lines.append({"label": _name(result), "status": result.status, "y": y, "bar_y": y + (ROW - BAR) / 2,
                      "text_y": y + ROW / 2 + 4, "end_x": x(end), "end_text_x": x(end) + 4, "bars": bars, "failed": result.status in (
                          Status.FAILED, Status.TIMED_OUT, Status.CANCELLED),
                      "running": not result.is_terminal,
                      "end_label": ms(end) if result.status == Status.SUCCEEDED else status,
                      "text": f"{_name(result)}: {status}, {ms(end)} after submit"
                              + "".join(f"; {b['text']}" for b in bars)})
    return {"width": WIDTH, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": TOP + ROW * len(rows),
            "height": TOP + ROW * max(len(rows), 1) + AXIS, "rows": lines, "ticks": _ticks(top, step, x),
            "running": any(not r.is_terminal for r in results), "legend": SEGMENTS}


@register.simple_tag
def cost_bars(results):
    """{% cost_bars results as costs %}: each route's cost as a bar of its kind (billed, from
    usage, team price, est., rough), the estimate under a billed or usage cost; unknown costs
    are said, not drawn."""
    values = [float(v) for r in results for v in (r.cost_usd, r.estimated_cost_usd) if v is not None]
    top = max(values + [0]) or 0.01
    scale = (COST_WIDTH - COST_LEFT - COST_RIGHT) / top
    rows = []
    for i, result in enumerate(results):
        y = TOP + ROW * i
        bars = []
        if result.cost_is_known:
            bars.append((_KIND_OF_WORD[result.cost_word], result.cost_word, result.cost_usd))
            if result.cost_source in ("billed", "usage") and result.estimated_cost_usd is not None:
                bars.append((_KIND_OF_WORD[result.estimate_word], result.estimate_word, result.estimated_cost_usd))
        height = BAR if len(bars) < 2 else BAR / 2
        drawn = [{"kind": kind, "word": word, "y": y + (ROW - BAR) / 2 + n * height, "height": height,
                  "width": max(round(float(value) * scale, 2), 1), "value": usd(value)}
                 for n, (kind, word, value) in enumerate(bars)]
        text = " · ".join(f"{b['value']} {b['word']}" for b in drawn)
        rows.append({"label": _name(result, 14), "y": y, "text_y": y + ROW / 2 + 4, "bars": drawn,
                     "value_x": COST_LEFT + max([b["width"] for b in drawn] + [0]) + 4,
                     "value": text or "unknown", "text": f"{_name(result)}: {text or 'unknown'}"})
    shown = {b["kind"] for row in rows for b in row["bars"]}
    return {"width": COST_WIDTH, "left": COST_LEFT, "top": TOP, "bottom": TOP + ROW * len(rows),
            "height": 2 * TOP + ROW * max(len(rows), 1), "rows": rows,
            "legend": {kind: text for kind, text in COST_KINDS.items() if kind in shown}}


PARAMETER_NAMES = {"size": "size", "quality": "quality", "output_format": "format", "n": "images (n)"}


@register.simple_tag
def parameter_rows(result):
    """{% parameter_rows result as rows %}: what the route did with each parameter, asked /
    sent / received ("–" where not known: the adapter sends it in another form, see the request
    sent). The seed gets its own line (result.seed_word); a row differs when sent or received
    is not what was asked."""
    found = result.parameters or {}
    rows = []
    for name, label in PARAMETER_NAMES.items():
        entry = found.get(name)
        if not entry:
            continue
        asked = entry.get("asked")
        sent = entry.get("sent", "–") if "sent" in entry else "–"
        received = entry.get("received")
        if isinstance(received, list):
            received = ", ".join(sorted(set(str(v) for v in received))) if received else "–"
        received = "–" if received is None else received
        differs = ("sent" in entry and str(entry["sent"]) != str(asked)) or (
            received != "–" and str(received) != str(asked))
        rows.append({"name": label, "asked": asked, "sent": sent, "received": received, "differs": differs})
    return rows
