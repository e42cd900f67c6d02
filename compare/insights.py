"""Insight pages: the leaderboard (with its charts), what changed between runs, and exports.

Everything goes through Comparison.objects.visible_to(user): another team's comparison is 404.
What may be shown is asked of compare/visibility.py: a blind comparison the user has not judged
yet is not exported and has no changes page (both name the routes), and its history CSV rows name
no route; held images stay out of the ZIP until every route has finished. The leaderboard counts
it, as it counts every comparison of the team: it shows aggregates only.
CSV cells that a spreadsheet would run as a formula are defused (see safe_cell)."""

import csv
import io
import json
import tempfile
import zipfile
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify

from providers.base import QUALITIES, SIZE_PRESETS

from . import imagediff, leaderboard, params, teams
from .api import presenters
from .images import ImageRejected
from .models import Comparison, Result, Status
from .visibility import Visibility

PERIODS = [("7 days", 7), ("30 days", 30), ("90 days", 90), ("1 year", 365)]
CHAIN_LIMIT = 50


def parse_filters(data):
    """(Filters, [problems]) from GET parameters; a bad value is ignored and reported (the page
    answers 400 with the problems shown; an export refuses)."""
    problems = []

    def day(name):
        text = (data.get(name) or "").strip()
        if not text:
            return None
        try:
            return params.day(text, name)
        except params.BadParameter as exc:
            problems.append(f"{name}: {exc}: ignored.")
            return None

    quality = data.get("quality", "")
    size = data.get("size", "")
    size = "x".join(map(str, SIZE_PRESETS[size])) if size in SIZE_PRESETS else size
    if quality and quality not in QUALITIES:
        problems.append("Unknown quality: ignored.")
        quality = ""
    if size and not _looks_like_size(size):
        problems.append("Unknown size: ignored.")
        size = ""
    return leaderboard.Filters(date_from=day("from"), date_to=day("to"), quality=quality, size=size), problems


def _looks_like_size(text):
    width, _, height = text.partition("x")
    return width.isdigit() and height.isdigit()


def _team_comparisons(request):
    team = teams.current_team(request)
    return team, Comparison.objects.visible_to(request.user).filter(team=team)


def _without(filters, *names):
    return {key: value for key, value in filters.as_query().items() if key not in names}


def show_leaderboard(request):
    team, _ = _team_comparisons(request)
    filters, problems = parse_filters(request.GET)
    rows = leaderboard.build_for_team(team, filters)  # from the rollups, folded up to now
    today = timezone.localdate()
    sizes = leaderboard.sizes(team)
    preset_names = {f"{w}x{h}": name for name, (w, h) in SIZE_PRESETS.items()}
    context = {
        "team": team, "rows": rows, "filters": filters, "problems": problems,
        "query": urlencode(filters.as_query()), "qualities": QUALITIES,
        "sizes": [(s, f"{preset_names[s]} ({s})" if s in preset_names else s) for s in sizes],
        "periods": [(label, urlencode({**_without(filters, "to"),
                                                 "from": (today - timedelta(days=days)).isoformat()}), filters.date_from == today - timedelta(days=days)
                     and not filters.date_to) for label, days in PERIODS],
        "all_time": urlencode(_without(filters, "from", "to")),
        "min_votes": leaderboard.MIN_VOTES,
        "samples": max((row.score.samples for row in rows), default=0) or leaderboard.BOOTSTRAP_SAMPLES,
    }
    template = "compare/leaderboard.html#leaderboard-results" if request.htmx else "compare/leaderboard.html"
    response = render(request, template, context, status=400 if problems else 200)
    response["Vary"] = "HX-Request"
    return response


def safe_cell(value):
    """A CSV cell a spreadsheet will not run: text starting = + - @ (or tab/CR) gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_rows(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in [header, *rows]:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _csv_response(filename, header, rows):
    response = StreamingHttpResponse(_csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _num(value, digits=1):
    return "" if value is None else round(float(value), digits)


def _money(value):
    return "" if value is None else format(value.normalize(), "f")


LEADERBOARD_HEADER = [
    "rank", "route", "label", "score", "score_low", "score_high", "votes", "preliminary", "win_rate", "entered",
    "success_rate", "failure_rate", "timeout_rate", "content_refusal_rate", "retries", "retried_calls",
    "median_latency_ms", "p95_latency_ms", "billed_or_usage_cost_per_image_usd",
    "estimated_or_team_price_cost_per_image_usd", "unknown_cost_calls", "checked", "text_accuracy_mean", "text_scored",
    "blank", "size_mismatches",
]


def leaderboard_csv_row(row):
    score = row.score
    return [row.rank, row.route_key, row.label, _num(score.score), _num(score.low), _num(score.high), score.votes,
            "yes" if row.preliminary else "no", _num(row.win_rate, 4), row.entered, _num(row.success_rate, 4),
            _num(row.failure_rate, 4), _num(row.timeout_rate, 4), _num(row.refusal_rate, 4), row.retries,
            row.retried_calls, _num(row.median_ms), _num(row.p95_ms), _money(row.reported_per_image),
            _money(row.estimated_per_image), row.unknown_cost_calls, row.checked, _num(row.text_accuracy_mean, 4),
            row.text_scored, row.blank_count, row.size_mismatch_count]


def export_leaderboard(request):
    team, _ = _team_comparisons(request)
    filters, problems = parse_filters(request.GET)
    if problems:
        return HttpResponseBadRequest("\n".join(problems), content_type="text/plain; charset=utf-8")
    rows = leaderboard.build_for_team(team, filters)  # the page's rows
    name = f"leaderboard-{slugify(team.name) or team.pk}-{timezone.localdate().isoformat()}.csv"
    return _csv_response(name, LEADERBOARD_HEADER, (leaderboard_csv_row(row) for row in rows))


HISTORY_HEADER = ["comparison", "created_at", "created_by", "prompt", "size", "quality", "output_format", "n", "seed",
                  "rerun_of", "route", "status", "error_code", "latency_ms", "queue_ms", "cost_usd", "cost_source",
                  "estimate_source", "retries", "url"]


def export_history(request):
    """One row per result of the current team's history, with the history page's q/route/status."""
    team, comparisons = _team_comparisons(request)
    comparisons = (comparisons.search(request.GET.get("q", "").strip()).with_route(request.GET.get("route", ""))
                   .with_status(request.GET.get("status", "")))
    if request.GET.get("route", ""):  # as on the history page: a route search names no blind routes
        comparisons = comparisons.filter(Visibility.named_for(request.user))
    results = (Result.objects.filter(comparison__in=comparisons.values("pk"))
               .select_related("comparison", "comparison__created_by")
               .order_by("-comparison__created_at", "-comparison_id", "position", "id"))

    masked = set(comparisons.exclude(Visibility.named_for(request.user)).values_list("pk", flat=True))

    def rows():
        for r in results.iterator(chunk_size=1000):
            c, params = r.comparison, r.comparison.params
            head = [c.pk, c.created_at.isoformat(), c.created_by.get_username() if c.created_by else "", c.prompt,
                    params.get("size"), params.get("quality"), params.get("output_format"), params.get("n"),
                    params.get("seed"), c.rerun_of_id]
            if c.pk in masked:
                yield head + [BLIND, r.status, "", "", "", "", "", "", "", request.build_absolute_uri(c.get_absolute_url())]
                continue
            yield head + [r.route_key, r.status, r.error_code, _num(r.latency_ms), _num(r.queue_ms),
                          _money(r.cost_usd), r.cost_source, r.estimate_source, len(r.attempts or []),
                          request.build_absolute_uri(c.get_absolute_url())]

    name = f"history-{slugify(team.name) or team.pk}-{timezone.localdate().isoformat()}.csv"
    return _csv_response(name, HISTORY_HEADER, rows())


BLIND = "hidden (blind review: give your verdict first)"


def _refuse_masked(request, comparison, what):
    messages.error(request, f"Comparison #{comparison.pk} is in blind review: give your verdict first, "
                            f"then {what} opens (it names the routes).")
    return redirect(comparison)


RESULTS_HEADER = ["position", "route", "label", "status", "error_code", "error", "latency_ms", "queue_ms", "cost_usd",
                  "cost_source", "estimated_cost_usd", "estimate_source", "cost_per_image_usd", "images", "sizes", "seed",
                  "retries", "retry_wait_ms",
                  "provider_request_id", "files"]


def _image_name(result, image):
    return f"images/{result.position + 1:02d}-{slugify(result.route_key.replace(':', '-'))}/{image.index + 1}.{image.format}"


def export_comparison(request, pk):
    """A ZIP of the comparison: original images, reference inputs, results.csv, comparison.json."""
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user).select_related("team", "created_by"),
                                   pk=pk)
    seen = Visibility.for_export(comparison, request.user)
    if seen.masked:
        return _refuse_masked(request, comparison, "its export")
    results = list(comparison.results.prefetch_related("images"))
    n = int(comparison.params.get("n") or 1)
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(RESULTS_HEADER)
        files = {}
        for result in results:
            names = []
            for image in result.images.all() if seen.images else ():
                name = _image_name(result, image)
                with image.original.open("rb") as handle:
                    archive.writestr(name, handle.read(), compress_type=zipfile.ZIP_STORED)
                names.append(name)
            files[result.pk] = names
            per_image = result.cost_usd / n if result.cost_usd is not None and result.status == Status.SUCCEEDED else None
            row = [result.position + 1, result.route_key, result.route_label, result.status, result.error_code,
                   result.error, _num(result.latency_ms), _num(result.queue_ms), _money(result.cost_usd),
                   result.cost_source, _money(result.estimated_cost_usd), result.estimate_source, _money(per_image),
                   len(names), " ".join(f"{i.width}x{i.height}" for i in result.images.all()) if seen.images else "",
                   result.seed_word, len(result.attempts or []), _num(result.backoff_ms) if result.attempts else "",
                   result.provider_request_id, " ".join(names)]
            writer.writerow([safe_cell(cell) for cell in row])
        for ref in comparison.references.all():
            with ref.file.open("rb") as handle:
                archive.writestr(f"inputs/{ref.role}-{ref.index + 1}.{ref.format}", handle.read(),
                                 compress_type=zipfile.ZIP_STORED)
        archive.writestr("results.csv", buffer.getvalue())
        if not seen.images:
            archive.writestr("IMAGES-HELD.txt", "The images are held back until every route has finished "
                                                "(hold images until all finish): export again then.\n")
        data = presenters.comparison_dict(comparison, request)
        for entry in data["results"]:
            entry["files"] = files.get(entry["id"], [])
        data["exported_at"] = timezone.now()
        archive.writestr("comparison.json", json.dumps(data, indent=2, cls=DjangoJSONEncoder, ensure_ascii=False))
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=f"comparison-{comparison.pk}.zip",
                        content_type="application/zip")


def earlier_runs(comparison, user):
    """The chain of runs this one re-ran, oldest first, ending with it (bounded, visible only)."""
    visible = Comparison.objects.visible_to(user)
    chain, seen, current = [comparison], {comparison.pk}, comparison
    while current.rerun_of_id and current.rerun_of_id not in seen and len(chain) < CHAIN_LIMIT:
        current = visible.filter(pk=current.rerun_of_id).first()
        if current is None:
            break
        chain.append(current)
        seen.add(current.pk)
    return chain[::-1]


def _delta(then, now):
    if then is None or now is None:
        return None
    change = {"abs": now - then}
    change["pct"] = float((now - then) / then * 100) if then else None
    return change


MIN_RUNS = 3  # earlier measurements of a route before a change in its latency or cost is read as real


def _noise(change, earlier, now):
    """Whether a change from the previous run is more than noise: the current value lies outside
    the range of every earlier run's (at least MIN_RUNS of them); else one sample against one
    sample says nothing. Returns (signal, why)."""
    earlier = [value for value in earlier if value is not None]
    if change is None or now is None:
        return False, ""
    if len(earlier) < MIN_RUNS:
        return False, f"noise? {len(earlier)} earlier run{'s' if len(earlier) != 1 else ''}, {MIN_RUNS} needed"
    if min(earlier) <= now <= max(earlier):
        return False, f"within the range of {len(earlier)} earlier runs"
    return True, f"outside the range of {len(earlier)} earlier runs"


def _first_image(result):
    images = list(result.images.all()) if result is not None and result.status == Status.SUCCEEDED else []
    return images[0] if images else None


def _image_change(then, now):
    """The first images of two runs of a route, and how far apart they look: the perceptual
    hash's Hamming distance (compare/imagediff.py, of 64 bits) read in words."""
    a, b = _first_image(then), _first_image(now)
    if a is None or b is None:
        return None
    try:
        hashes = []
        for image in (a, b):
            with image.thumbnail.open("rb") as handle:
                hashes.append(imagediff.phash(imagediff.open_image(handle.read(), fit=256)))
    except (OSError, ValueError, ImageRejected):
        return {"then": a, "now": b, "distance": None, "reading": "could not be read"}
    distance = imagediff.hamming(*hashes)
    reading = ("the same picture" if distance <= 6 else "similar layout" if distance <= 16 else "a different picture")
    return {"then": a, "now": b, "distance": distance, "reading": reading, "changed": distance > 16}


def show_changes(request, pk):
    comparison = get_object_or_404(Comparison.objects.visible_to(request.user), pk=pk)
    if Visibility.for_member(comparison, request.user).masked:
        return _refuse_masked(request, comparison, "what changed")
    chain = earlier_runs(comparison, request.user)
    # Earlier blind runs not judged yet.
    masked = {run.pk for run in chain if Visibility.for_member(run, request.user).masked}
    by_run = {}
    for result in Result.objects.filter(comparison__in=[c.pk for c in chain if c.pk not in masked]).order_by(
            "position", "id").prefetch_related("images"):
        by_run.setdefault(result.comparison_id, {}).setdefault(result.route_key, result)
    routes = []
    for run in reversed(chain):  # the current run's routes first, in its order
        routes += [key for key in by_run.get(run.pk, {}) if key not in routes]
    previous = chain[-2] if len(chain) > 1 else None
    changes = []
    for key in routes:
        then = by_run.get(previous.pk, {}).get(key) if previous else None
        now = by_run.get(comparison.pk, {}).get(key)
        history = [by_run.get(run.pk, {}).get(key) for run in chain]
        before = history[:-1] if now is not None and history and history[-1] is now else history
        latency = _delta(then and then.latency_ms, now and now.latency_ms)
        cost = _delta(then and then.cost_usd, now and now.cost_usd)
        latency_signal, latency_why = _noise(latency, [r.latency_ms for r in before if r and r.status == Status.SUCCEEDED],
                                             now and now.latency_ms)
        cost_signal, cost_why = _noise(cost, [r.cost_usd for r in before if r], now and now.cost_usd)
        changes.append({
            "image": _image_change(then, now),
            "latency_signal": latency_signal, "latency_why": latency_why,
            "cost_signal": cost_signal, "cost_why": cost_why,
            "route": key, "then": then, "now": now, "history": history,
            "latency": latency, "cost": cost,
            "latencies": [r.latency_ms if r and r.status == Status.SUCCEEDED else None for r in history],
            "successes": sum(1 for r in history if r and r.status == Status.SUCCEEDED),
            "runs": sum(1 for r in history if r),
        })
    grid = [{"run": run, "masked": run.pk in masked, "cells": [by_run.get(run.pk, {}).get(key) for key in routes]}
            for run in reversed(chain)]
    context = {"comparison": comparison, "chain": chain, "previous": previous, "changes": changes, "grid": grid,
               "previous_masked": previous is not None and previous.pk in masked, "min_runs": MIN_RUNS,
               "later": Comparison.objects.visible_to(request.user).filter(rerun_of=comparison).order_by("created_at")}
    return render(request, "compare/changes.html", context)
