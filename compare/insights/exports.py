"""The exports (CSV and ZIP) of the team's numbers: the leaderboard as the page shows it, the
history one row per result, and one comparison whole (images, inputs, results.csv, comparison.json).

A blind comparison the user has not judged yet is not exported, and its history rows name no
route; held images stay out of the ZIP until every route has finished (compare/review/visibility.py).
CSV cells that a spreadsheet would run as a formula are defused (see safe_cell)."""

import csv
import io
import json
import tempfile
import zipfile

from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify

from compare.api import presenters
from compare.insights import leaderboard
from compare.insights.views import parse_filters, refuse_masked, team_comparisons
from compare.models import Comparison, Result, Status
from compare.review.visibility import Visibility


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
    team, _ = team_comparisons(request)
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
    team, comparisons = team_comparisons(request)
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
        return refuse_masked(request, comparison, "its export")
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
