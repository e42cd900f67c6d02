"""Insight pages: the leaderboard (with its charts), its filters, and what the other insight pages
share: what changed between runs (compare/insights/changes.py) and the exports (compare/insights/exports.py).

Everything goes through Comparison.objects.visible_to(user): another team's comparison is 404.
What may be shown is asked of compare/review/visibility.py: a blind comparison the user has not judged
yet is not exported and has no changes page (both name the routes: refuse_masked). The
leaderboard counts it, as it counts every comparison of the team: it shows aggregates only."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from providers.base import QUALITIES, SIZE_PRESETS

from compare import params
from compare.insights import bradley_terry, leaderboard
from compare.models import Comparison
from compare.teams import views as teams

PERIODS = [("7 days", 7), ("30 days", 30), ("90 days", 90), ("1 year", 365)]


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


def team_comparisons(request):
    team = teams.current_team(request)
    return team, Comparison.objects.visible_to(request.user).filter(team=team)


def _without(filters, *names):
    return {key: value for key, value in filters.as_query().items() if key not in names}


def show_leaderboard(request):
    team, _ = team_comparisons(request)
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
        "samples": max((row.score.samples for row in rows), default=0) or bradley_terry.BOOTSTRAP_SAMPLES,
    }
    template = "insights/leaderboard.html#leaderboard-results" if request.htmx else "insights/leaderboard.html"
    response = render(request, template, context, status=400 if problems else 200)
    response["Vary"] = "HX-Request"
    return response


def refuse_masked(request, comparison, what):
    messages.error(request, f"Comparison #{comparison.pk} is in blind review: give your verdict first, "
                            f"then {what} opens (it names the routes).")
    return redirect(comparison)
