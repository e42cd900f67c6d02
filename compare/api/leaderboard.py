"""The leaderboard endpoint (compare/insights/leaderboard.py): the leaderboard page's rows as JSON, same filters."""

from django.http import JsonResponse

from compare.api.auth import api_view, team_asked
from compare.api.presenters import leaderboard_row_dict
from compare.insights import leaderboard, views as insights

LEADERBOARD_FILTERS = ("from", "to", "quality", "size")


@api_view(["GET"])
def leaderboard_rows(request):
    """GET ?team=&from=&to=&quality=&size=: the leaderboard page's rows, same filters; a filter
    the page would ignore is a 400 naming it here."""
    team = team_asked(request)
    errors = {}
    for name in LEADERBOARD_FILTERS:
        if request.GET.get(name):
            _, problems = insights.parse_filters({name: request.GET[name]})
            if problems:
                errors[name] = problems
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    filters, _ = insights.parse_filters(request.GET)
    rows = leaderboard.build_for_team(team, filters)
    return JsonResponse({"team": {"id": team.pk, "name": team.name}, "filters": filters.as_query(),
                         "min_votes": leaderboard.MIN_VOTES, "routes": [leaderboard_row_dict(row) for row in rows]})
