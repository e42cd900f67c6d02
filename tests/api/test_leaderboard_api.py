"""The leaderboard as JSON: the page's rows (compare/insights/leaderboard.py), the page's filters, a bad
filter a 400 naming it, and another team's numbers out of reach."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from compare.insights import leaderboard
from compare.models import Comparison, Result
from compare.review.models import Verdict
from compare.teams.models import Team

pytestmark = pytest.mark.django_db


def make(team, routes, quality="low", days_ago=0):
    comparison = Comparison.objects.create(
        prompt="a fox", team=team, params={"size": "1024x1024", "quality": quality, "n": 1, "output_format": "png"},
        created_at=timezone.now() - timedelta(days=days_ago))
    made = {}
    for position, (route, latency, cost, source) in enumerate(routes):
        made[route] = Result.objects.create(
            comparison=comparison, position=position, route_key=route, route_label=route.title(),
            status="succeeded", latency_ms=latency, cost_usd=None if cost is None else Decimal(cost),
            cost_source=source)
    return comparison, made


@pytest.fixture
def board(alice):
    team = Team.personal_for(alice)
    for days_ago, quality in ((0, "low"), (0, "low"), (40, "high")):
        comparison, made = make(team, [("sandbox:fast", 1000, "0.04", "estimated"),
                                       ("sandbox:steady", 2000, None, "unknown")], quality=quality, days_ago=days_ago)
        Verdict.objects.create(comparison=comparison, user=alice, kind="winner", winner=made["sandbox:fast"])
    return team


def get(client, token, **query):
    return client.get("/api/leaderboard", query, headers={"Authorization": f"Bearer {token}"})


def test_the_rows_are_the_pages_rows(client, alice_token, board):
    response = get(client, alice_token)
    assert response.status_code == 200
    body = response.json()
    assert body["team"] == {"id": board.pk, "name": board.name} and body["filters"] == {}
    page_rows = leaderboard.build(board)
    assert [r["route"] for r in body["routes"]] == [r.route_key for r in page_rows] == ["sandbox:fast", "sandbox:steady"]
    fast, steady = body["routes"]
    assert fast["rank"] == 1 and fast["entered"] == 3 and fast["succeeded"] == 3 and fast["success_rate"] == 1.0
    assert fast["wins"] == 3 and fast["judged_votes"] == 3 and fast["win_rate"] == 1.0 and fast["preliminary"]
    assert fast["median_latency_ms"] == 1000.0 and fast["estimated_or_team_price_cost_per_image_usd"] == "0.04"
    assert fast["billed_or_usage_cost_per_image_usd"] is None and fast["unknown_cost_calls"] == 0
    assert steady["unknown_cost_calls"] == 3 and steady["estimated_or_team_price_cost_per_image_usd"] is None  # never $0
    assert fast["checked"] == 0 and fast["text_accuracy_mean"] is None  # no checks ran on these rows
    assert fast["score"] == round(page_rows[0].score.score, 1) and fast["score_low"] <= fast["score"] <= fast["score_high"]


def test_the_filters_are_the_pages(client, alice_token, board):
    since = (timezone.localdate() - timedelta(days=30)).isoformat()
    recent = get(client, alice_token, **{"from": since}).json()
    assert recent["filters"] == {"from": since} and recent["routes"][0]["entered"] == 2
    assert get(client, alice_token, quality="high").json()["routes"][0]["entered"] == 1
    assert get(client, alice_token, to=since).json()["routes"][0]["entered"] == 1
    square = get(client, alice_token, size="square").json()
    assert square["filters"] == {"size": "1024x1024"} and square["routes"][0]["entered"] == 3
    assert get(client, alice_token, size="1536x1024").json()["routes"] == []


def test_a_bad_filter_is_a_400_naming_each(client, alice_token, board):
    response = get(client, alice_token, **{"from": "yesterday", "quality": "=cmd", "size": "huge"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"from", "quality", "size"}


def test_another_teams_leaderboard_is_a_404_and_bobs_own_is_empty(client, board, bob):
    from compare.teams.models import ApiToken

    token = ApiToken.issue(bob)[1]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/leaderboard", {"team": board.pk}, headers=headers).status_code == 404
    own = client.get("/api/leaderboard", headers=headers)
    assert own.status_code == 200 and own.json()["routes"] == []
    assert client.get("/api/leaderboard").status_code == 401
