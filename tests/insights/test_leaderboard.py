"""The leaderboard against a fixture computed by hand: three routes, six comparisons, seven votes.

    comparison  fast            steady                    slow               verdicts
    c1          ok 1000 $.04e   ok 2000 $.05r             ok 3000 ?          alice: fast, carol: fast
    c2          ok 1200 $.04e   ok 2500 $.07r             refused            alice: fast
    c3          ok 1400 $.04e   ok 2100 $.03e             timed out          alice: steady
    c4          ok 1600 $.04e   failed, 2 retries         ok 4000 ?          alice: tie
    c5          ok 1800 $.04e   ok 2200 $.03e             ok 3500 ?          alice: all bad
    c6 (n=2)    ok 5000 $.10e   cancelled                 ok 3200 ?          -
(e = estimated, r = reported, ? = unknown cost)"""

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from compare.insights import bradley_terry, leaderboard
from compare.models import Comparison, Result
from compare.review.models import Verdict
from compare.teams.models import Membership, Role, Team

from tests.compare.recompute import cells_of, check_against_reference, judged_of

pytestmark = pytest.mark.django_db

FAST, STEADY, SLOW = "sandbox:fast", "sandbox:steady", "sandbox:slow"


def make(team, results, n=1, quality="low", size="1024x1024", days_ago=0, rerun_of=None, prompt="a fox"):
    comparison = Comparison.objects.create(
        prompt=prompt, team=team, params={"size": size, "quality": quality, "n": n, "output_format": "png"},
        created_at=timezone.now() - timedelta(days=days_ago), rerun_of=rerun_of)
    made = {}
    for position, (route, status, latency, cost, source, extra) in enumerate(results):
        made[route] = Result.objects.create(
            comparison=comparison, position=position, route_key=route, route_label=route.title(), status=status,
            latency_ms=latency, cost_usd=None if cost is None else Decimal(cost), cost_source=source, **extra)
    return comparison, made


def ok(route, latency, cost=None, source="unknown"):
    return (route, "succeeded", latency, cost, source, {})


def vote(comparison, user, kind, winner=None):
    return Verdict.objects.create(comparison=comparison, user=user, kind=kind, winner=winner)


@pytest.fixture
def carol(django_user_model, alice):
    carol = django_user_model.objects.create_user("carol")
    Membership.objects.create(team=Team.personal_for(alice), user=carol, role=Role.MEMBER)
    return carol


@pytest.fixture
def board(alice, carol):
    team = Team.personal_for(alice)
    c1, r1 = make(team, [ok(FAST, 1000, "0.04", "estimated"), ok(STEADY, 2000, "0.05", "billed"), ok(SLOW, 3000)])
    c2, r2 = make(team, [ok(FAST, 1200, "0.04", "estimated"), ok(STEADY, 2500, "0.07", "billed"),
                         (SLOW, "failed", None, None, "unknown", {"error_code": "content_policy"})])
    c3, r3 = make(team, [ok(FAST, 1400, "0.04", "estimated"), ok(STEADY, 2100, "0.03", "estimated"),
                         (SLOW, "timed_out", None, None, "unknown", {"error_code": "timeout"})])
    c4, _ = make(team, [ok(FAST, 1600, "0.04", "estimated"),
                        (STEADY, "failed", 900, None, "unknown", {"error_code": "unavailable",
                                                                  "attempts": [{"attempt": 1}, {"attempt": 2}]}),
                        ok(SLOW, 4000)])
    c5, _ = make(team, [ok(FAST, 1800, "0.04", "estimated"), ok(STEADY, 2200, "0.03", "estimated"), ok(SLOW, 3500)])
    make(team, [ok(FAST, 5000, "0.10", "estimated"), (STEADY, "cancelled", None, None, "unknown", {}),
                ok(SLOW, 3200)], n=2)
    vote(c1, alice, "winner", r1[FAST])
    vote(c1, carol, "winner", r1[FAST])
    vote(c2, alice, "winner", r2[FAST])
    vote(c3, alice, "winner", r3[STEADY])
    vote(c4, alice, "tie")
    vote(c5, alice, "all_bad")
    return team


def rows_of(team, **filters):
    return {row.route_key: row for row in leaderboard.build(team, leaderboard.Filters(**filters))}


def independent_scores():
    """Plain gradient ascent on the Bradley-Terry log-likelihood with the same anchor prior, from
    the outcomes worked out by hand: fast beat steady 3.5 times (c1 twice, c2, half of c5), steady
    beat fast 1.5, fast beat slow 3 (c1 twice, half of c4 and c5), slow beat fast 1, steady and
    slow half a win each way (c5)."""
    games = {("f", "s"): 3.5, ("s", "f"): 1.5, ("f", "w"): 3.0, ("w", "f"): 1.0, ("s", "w"): 0.5, ("w", "s"): 0.5}
    theta = {"f": 0.0, "s": 0.0, "w": 0.0}
    for _ in range(20000):
        grad = {k: 1 / (1 + math.exp(-(0 - theta[k]))) - 1 / (1 + math.exp(-(theta[k] - 0))) for k in theta}
        for (a, b), n in games.items():
            p = 1 / (1 + math.exp(-(theta[a] - theta[b])))
            grad[a] += n * (1 - p)
            grad[b] -= n * (1 - p)
        theta = {k: v + 0.05 * grad[k] for k, v in theta.items()}
    return {key: 1000 + 400 * theta[k] / math.log(10) for key, k in ((FAST, "f"), (STEADY, "s"), (SLOW, "w"))}


def test_reliability_rates_are_shares_of_settled_calls(board):
    rows = rows_of(board)
    assert (rows[FAST].entered, rows[STEADY].entered, rows[SLOW].entered) == (6, 6, 6)
    assert rows[FAST].success_rate == 1
    assert (rows[STEADY].settled, rows[STEADY].success_rate, rows[STEADY].failure_rate) == (5, 0.8, 0.2)
    assert rows[STEADY].cancelled == 1
    assert rows[SLOW].success_rate == pytest.approx(4 / 6)
    assert rows[SLOW].refusal_rate == pytest.approx(1 / 6) and rows[SLOW].timeout_rate == pytest.approx(1 / 6)
    assert rows[SLOW].failure_rate == 0
    assert (rows[STEADY].retries, rows[STEADY].retried_calls, rows[FAST].retries) == (2, 1, 0)


def test_median_and_p95_latency_of_succeeded_calls(board):
    rows = rows_of(board)
    assert rows[FAST].median_ms == 1500  # (1400 + 1600) / 2
    assert rows[FAST].p95_ms == pytest.approx(4200)  # rank 4.75: 1800 + 0.75 * 3200
    assert rows[STEADY].median_ms == 2150  # the failed call's 900 ms is not a success
    assert rows[STEADY].p95_ms == pytest.approx(2455)


def test_cost_per_image_keeps_estimated_and_reported_apart(board):
    rows = rows_of(board)
    assert rows[FAST].estimated_per_image == Decimal("0.042857")  # $0.30 for 7 images (c6 asked for 2)
    assert rows[FAST].reported_per_image is None
    assert (rows[STEADY].reported_per_image, rows[STEADY].estimated_per_image) == (Decimal("0.06"), Decimal("0.03"))
    assert rows[SLOW].estimated_per_image is None and rows[SLOW].reported_per_image is None
    assert rows[SLOW].unknown_cost_calls == 4


def test_win_rate_counts_votes_where_the_route_made_images(board):
    rows = rows_of(board)
    assert (rows[FAST].wins, rows[FAST].judged_votes) == (3, 6)
    assert (rows[STEADY].wins, rows[STEADY].judged_votes) == (1, 5)
    assert (rows[SLOW].wins, rows[SLOW].judged_votes, rows[SLOW].win_rate) == (0, 4, 0)


def test_bradley_terry_matches_an_independent_fit_and_marks_thin_routes(board):
    rows = rows_of(board)
    expected = independent_scores()
    for key in (FAST, STEADY, SLOW):
        assert rows[key].score.score == pytest.approx(expected[key], abs=0.5)
        assert rows[key].score.low <= rows[key].score.score <= rows[key].score.high
    assert expected[FAST] > expected[STEADY] > expected[SLOW]
    assert (rows[FAST].score.votes, rows[STEADY].score.votes, rows[SLOW].score.votes) == (6, 5, 4)
    assert [rows[k].preliminary for k in (FAST, STEADY, SLOW)] == [False, False, True]


def test_routes_are_ranked_by_the_lower_end_of_the_band(board):
    ranked = leaderboard.build(board)
    assert ranked[0].route_key == FAST and [r.rank for r in ranked] == [1, 2, 3]
    lows = [r.score.low for r in ranked]
    assert lows == sorted(lows, reverse=True)


def test_the_band_is_deterministic(board):
    first, second = rows_of(board), rows_of(board)
    assert (first[FAST].score.low, first[FAST].score.high) == (second[FAST].score.low, second[FAST].score.high)


def test_a_route_without_votes_has_no_score_and_ranks_last(alice, board):
    make(board, [ok("sandbox:flaky", 700)])
    ranked = leaderboard.build(board)
    assert ranked[-1].route_key == "sandbox:flaky"
    assert ranked[-1].score.score is None and ranked[-1].preliminary


def test_filters_by_period_quality_and_size(alice, board):
    make(board, [ok(FAST, 100)], quality="high")
    make(board, [ok(FAST, 100)], days_ago=40)
    make(board, [ok(FAST, 100)], size="1536x1024")
    assert rows_of(board)[FAST].entered == 9
    assert rows_of(board, quality="low")[FAST].entered == 8
    assert rows_of(board, size="1024x1024")[FAST].entered == 8
    since = timezone.localdate() - timedelta(days=30)
    assert rows_of(board, date_from=since)[FAST].entered == 8
    assert rows_of(board, date_to=since)[FAST].entered == 1
    assert rows_of(board, date_from=since, quality="low", size="1024x1024")[FAST].entered == 6


def test_the_page_shows_the_numbers_and_the_filters_work_without_js(alice_client, board):
    page = alice_client.get("/leaderboard").content.decode()
    assert "1,500 ms" in page and "4,200 ms" in page and "$0.0429" in page and "$0.06" in page
    assert "preliminary" in page
    assert page.count("<svg") >= 3
    filtered = alice_client.get("/leaderboard", {"quality": "high"}).content.decode()
    assert "No comparison in this period" in filtered
    assert 'aria-current="true">all time' in page


def test_an_htmx_request_gets_only_the_results_partial(alice_client, board):
    response = alice_client.get("/leaderboard", {"size": "square"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="leaderboard-results">') and "<html" not in body
    assert "1,500 ms" in body  # "square" is 1024x1024


def test_a_bad_filter_is_ignored_and_said(alice_client, board):
    body = alice_client.get("/leaderboard", {"from": "yesterday", "quality": "=cmd"}).content.decode()
    assert "is not a date" in body and "Unknown quality" in body and "1,500 ms" in body


def test_bob_of_another_team_sees_none_of_alices_numbers(board, bob):
    client = Client()
    client.force_login(bob)
    page = client.get("/leaderboard").content.decode()
    assert "sandbox:fast" not in page and "No comparison" in page
    csv_text = client.get("/leaderboard.csv").getvalue().decode()
    assert csv_text.strip().count("\n") == 0  # the header only


def test_anonymous_visitors_are_sent_to_log_in(board):
    for url in ("/leaderboard", "/leaderboard.csv", "/comparisons.csv"):
        response = Client().get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_charts_are_valid_svg_with_title_and_desc(alice_client, board):
    import re
    from xml.etree import ElementTree

    page = alice_client.get("/leaderboard").content.decode()
    svgs = re.findall(r"<svg class=\"chart\".*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs:
        root = ElementTree.fromstring(svg)
        assert root.find(f"{ns}title").text and root.find(f"{ns}desc").text
        assert root.get("role") == "img"
    assert "sandbox:fast" in svgs[1] and "median 1.50 s" in svgs[1]


# --- At scale: the order statistics from SQL, the cache (the fit itself: test_bradley_terry.py) ---------


def test_preliminary_below_min_votes(alice, board):
    rows = rows_of(board)
    assert rows[SLOW].score.votes == 4 < leaderboard.MIN_VOTES and rows[SLOW].preliminary
    c, made = make(board, [ok(FAST, 1000), ok(SLOW, 2000)])
    vote(c, alice, "winner", made[SLOW])
    rows = rows_of(board)
    assert rows[SLOW].score.votes == 5 and not rows[SLOW].preliminary


@pytest.mark.parametrize("count", [1, 2, 3, 7, 20, 59, 60, 61, 101, 997])
def test_latency_order_statistics_from_sql_are_exact(alice, count):
    import random
    import statistics

    team = Team.personal_for(alice)
    rng = random.Random(count)
    latencies = [round(rng.uniform(100, 9000), 3) for _ in range(count)]
    for value in latencies:
        make(team, [ok(FAST, value), ("sandbox:other", "failed", 10.0, None, "unknown", {})])
    row = rows_of(team)[FAST]
    ordered = sorted(latencies)
    assert row.latency_count == count
    for pct in leaderboard.LATENCY_PERCENTILES:
        assert row.latency_percentile(pct) == pytest.approx(bradley_terry.percentile(ordered, pct))
    if count >= 2:  # statistics.quantiles' "inclusive" method is the same interpolation
        quartiles = statistics.quantiles(ordered, n=4, method="inclusive")
        assert [row.latency_percentile(p) for p in (25, 50, 75)] == pytest.approx(quartiles)
        assert row.p95_ms == pytest.approx(statistics.quantiles(ordered, n=20, method="inclusive")[-1])
    assert row.median_ms == pytest.approx(statistics.median(ordered))
    assert row.latency_max == max(latencies)
    dots = row.latency_dots
    assert dots == sorted(dots) and dots[0] == ordered[0] and dots[-1] == ordered[-1]
    assert len(dots) == min(count, leaderboard.LATENCY_DOTS)


def test_cost_per_image_counts_images_asked_beyond_one(alice):
    team = Team.personal_for(alice)
    make(team, [ok(FAST, 1000, "0.30", "estimated")], n=3)
    make(team, [ok(FAST, 1000, "0.10", "estimated")])
    assert rows_of(team)[FAST].estimated_per_image == Decimal("0.1")  # $0.40 for 4 images


@pytest.fixture
def cached_board(board, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "leaderboard-tests"}}
    from django.core.cache import cache

    cache.clear()
    yield board
    cache.clear()


def team_rows(team):
    return {row.route_key: row for row in leaderboard.build_for_team(Team.objects.get(pk=team.pk))}


def refuse_refits(monkeypatch):
    monkeypatch.setattr(leaderboard, "bradley_terry_with_band", lambda *a, **k: pytest.fail("refitted"))


def test_the_same_votes_reuse_the_fit(cached_board, monkeypatch):
    first = team_rows(cached_board)
    refuse_refits(monkeypatch)
    second = team_rows(cached_board)
    assert {k: (r.score.score, r.median_ms, r.entered) for k, r in first.items()} == \
        {k: (r.score.score, r.median_ms, r.entered) for k, r in second.items()}


def test_a_new_verdict_shows_at_once(cached_board, alice, carol):
    before = team_rows(cached_board)
    c, made = make(cached_board, [ok(FAST, 1000), ok(SLOW, 1100)])
    assert team_rows(cached_board)[FAST].entered == before[FAST].entered + 1
    vote(c, alice, "winner", made[SLOW])
    after = team_rows(cached_board)
    assert after[SLOW].wins == before[SLOW].wins + 1 and after[SLOW].score.votes == before[SLOW].score.votes + 1


def test_a_changed_or_withdrawn_verdict_shows_at_once(cached_board, alice):
    from compare.review import models as reviews

    c1 = Comparison.objects.filter(team=cached_board).order_by("created_at", "id").first()
    r1 = {r.route_key: r for r in c1.results.all()}
    before = team_rows(cached_board)
    reviews.give_verdict(c1, alice, "winner", r1[SLOW].pk)  # alice's fast -> slow (an UPDATE)
    changed = team_rows(cached_board)
    assert changed[SLOW].wins == before[SLOW].wins + 1 and changed[FAST].wins == before[FAST].wins - 1
    reviews.give_verdict(c1, alice, "tie")
    tied = team_rows(cached_board)
    assert tied[SLOW].wins == before[SLOW].wins and tied[FAST].wins == before[FAST].wins - 1
    Verdict.objects.filter(comparison=c1, user=alice).delete()
    assert team_rows(cached_board)[FAST].judged_votes == before[FAST].judged_votes - 1


def test_a_finished_result_shows_at_once_and_keeps_the_scores(cached_board, monkeypatch):
    from compare.models import Status

    c, made = make(cached_board, [(FAST, "running", None, None, "unknown", {})])
    running = team_rows(cached_board)[FAST]
    assert running.entered == 7 and running.succeeded == 6  # entered, not settled yet
    refuse_refits(monkeypatch)  # an unjudged comparison: the scores stand
    made[FAST].finish(Status.SUCCEEDED, latency_ms=99999.0)  # an UPDATE, as the worker does it
    done = team_rows(cached_board)[FAST]
    assert done.succeeded == running.succeeded + 1 and done.latency_max == 99999.0 and done.entered == 7
    assert done.score == running.score
    assert Result.objects.get(pk=made[FAST].pk).rolled_up  # folded by that read, once


def test_a_result_succeeding_in_a_judged_comparison_changes_the_scores(cached_board, alice):
    from compare.models import Status

    c, made = make(cached_board, [ok(FAST, 1000), (SLOW, "running", None, None, "unknown", {})])
    vote(c, alice, "tie")  # one route with images: no pairwise outcome yet
    before = team_rows(cached_board)
    made[SLOW].finish(Status.SUCCEEDED, latency_ms=1200.0)
    after = team_rows(cached_board)
    assert after[SLOW].score.votes == before[SLOW].score.votes + 1
    assert after[SLOW].judged_votes == before[SLOW].judged_votes + 1


def test_a_deleted_comparison_shows_at_once(cached_board):
    before = team_rows(cached_board)
    Comparison.objects.filter(team=cached_board).order_by("-created_at", "-id").first().delete()
    after = team_rows(cached_board)
    assert after[FAST].entered == before[FAST].entered - 1 and after[FAST].latency_max == 1800
    assert after[FAST].estimated_per_image == Decimal("0.04")


def test_the_csv_has_the_pages_numbers(cached_board, alice_client):
    assert alice_client.get("/leaderboard").status_code == 200
    body = alice_client.get("/leaderboard.csv").getvalue().decode()
    assert "sandbox:fast" in body and "1500.0" in body and "4200.0" in body


def test_the_fit_is_keyed_by_the_votes_per_team_and_filters(cached_board, bob, monkeypatch):
    calls = []
    real = leaderboard.bradley_terry_with_band
    monkeypatch.setattr(leaderboard, "bradley_terry_with_band", lambda *a, **k: calls.append(1) or real(*a, **k))
    team_rows(cached_board)
    team_rows(cached_board)
    leaderboard.build(cached_board, leaderboard.Filters(quality="high"))  # no votes there: another fit
    assert len(calls) == 2


# --- Rollups: what the fold keeps equals a recomputation from scratch --------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_equal_a_recomputation_after_random_changes(alice, carol, seed):
    import random

    from compare.models import Status
    from compare.review import models as reviews
    from compare.insights import models as rollups

    rng = random.Random(seed)
    team = Team.personal_for(alice)
    routes = [FAST, STEADY, SLOW, "sandbox:other"]
    statuses = ["succeeded", "succeeded", "succeeded", "failed", "timed_out", "cancelled"]
    for step in range(60):
        action = rng.random()
        comparisons = list(Comparison.objects.filter(team=team))
        if action < 0.35 or not comparisons:
            present = rng.sample(routes, rng.randint(1, 4))
            make(team, [(key, "running", None, None, "unknown", {}) for key in present], n=rng.choice([1, 1, 2]),
                 quality=rng.choice(["low", "high"]), size=rng.choice(["1024x1024", "1536x1024"]),
                 days_ago=rng.randint(0, 5))
        elif action < 0.6:
            running = list(Result.objects.filter(comparison__team=team, status="running"))
            if running:
                result = rng.choice(running)
                status = rng.choice(statuses)
                fields = {"latency_ms": round(rng.uniform(100, 5000), 3) if status != "cancelled" else None}
                if status == "succeeded":
                    fields.update(cost_usd=Decimal(rng.choice(["0.04", "0.011"])),
                                  cost_source=rng.choice(["estimated", "billed", "usage", "team_price", "unknown"]))
                else:
                    fields["error_code"] = rng.choice(["content_policy", "server_error"])
                if rng.random() < 0.3:
                    fields["attempts"] = [{"attempt": 1, "status": 429}]
                result.finish(status, **fields)
        elif action < 0.85:
            comparison = rng.choice(comparisons)
            user = rng.choice([alice, carol])
            ok_results = [r for r in comparison.results.all() if r.status == Status.SUCCEEDED]
            kind = rng.choice(["winner", "tie", "all_bad", "withdraw"])
            if kind == "withdraw":
                Verdict.objects.filter(comparison=comparison, user=user).delete()
            elif kind == "winner" and ok_results:
                reviews.give_verdict(comparison, user, "winner", rng.choice(ok_results).pk)
            elif kind != "winner":
                reviews.give_verdict(comparison, user, kind)
        elif action < 0.95:
            rng.choice(comparisons).delete()
        else:
            results = list(Result.objects.filter(comparison__team=team).order_by("pk"))
            if results:
                rng.choice(results).delete()  # e.g. a deleted route's result (its winner verdicts go too)
        if step % 7 == 0:
            rollups.fold_pending()  # a read in between: some changes fold early, some late
    rollups.fold_pending()
    stored, fresh = cells_of(team)
    assert stored == fresh
    stored, fresh = judged_of(team)
    assert stored == fresh
    if Result.objects.filter(comparison__team=team).exists():
        check_against_reference(team)


def test_a_deleted_team_takes_its_rollups(alice, board):
    from compare.insights.models import JudgedComparison, RouteDay

    team_rows(board)
    assert RouteDay.objects.filter(team=board).exists() and JudgedComparison.objects.filter(team=board).exists()
    Team.objects.filter(pk=board.pk).delete()
    assert not RouteDay.objects.exists() and not JudgedComparison.objects.exists()


def test_results_are_folded_once(alice, board):
    from compare.insights.models import RouteDay
    from compare.insights import models as rollups

    assert rollups.fold_pending() == 18
    assert rollups.fold_pending() == 0
    assert sum(RouteDay.objects.values_list("results", flat=True)) == 18
    Result.objects.filter(comparison__team=board).update(rolled_up=None)  # as if never folded ...
    rollups.rebuild(board)  # ... a rebuild starts from nothing
    stored, fresh = cells_of(board)
    assert stored == fresh and sum(v["results"] for v, _ in stored.values()) == 18


def test_the_period_split_keeps_local_days_exact(settings):
    from datetime import date

    settings.TIME_ZONE = "Asia/Kolkata"  # +05:30
    days, edges = leaderboard.split_period(leaderboard.Filters(date_from=date(2026, 3, 10), date_to=date(2026, 3, 12)))
    assert days == (date(2026, 3, 10), date(2026, 3, 12))
    assert [(a.isoformat(), b.isoformat()) for a, b in edges] == [
        ("2026-03-10T00:00:00+05:30", "2026-03-10T00:00:00+00:00"),
        ("2026-03-12T00:00:00+00:00", "2026-03-13T00:00:00+05:30")]
    settings.TIME_ZONE = "UTC"
    days, edges = leaderboard.split_period(leaderboard.Filters(date_from=date(2026, 3, 10)))
    assert days == (date(2026, 3, 10), None) and edges == []


def test_day_filters_are_whole_days_in_the_current_time_zone(alice, settings):
    from datetime import date, datetime

    settings.TIME_ZONE = "Europe/Paris"
    team = Team.personal_for(alice)
    paris = timezone.get_default_timezone()
    for moment in (datetime(2026, 3, 9, 23, 59, 59), datetime(2026, 3, 10, 0, 0), datetime(2026, 3, 10, 23, 59, 59),
                   datetime(2026, 3, 11, 0, 0)):
        c, _ = make(team, [ok(FAST, 100)])
        Comparison.objects.filter(pk=c.pk).update(created_at=timezone.make_aware(moment, paris))
    assert rows_of(team, date_from=date(2026, 3, 10), date_to=date(2026, 3, 10))[FAST].entered == 2
    assert rows_of(team, date_from=date(2026, 3, 10))[FAST].entered == 3
    assert rows_of(team, date_to=date(2026, 3, 9))[FAST].entered == 1
