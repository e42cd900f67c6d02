"""Team review: thumbs on finished results, one verdict per member, comments, history filters.

alice (owner) and carol (member) review in "Studio"; vic is its viewer; bob is of another team."""

import pytest
from django.test import Client

from compare.engine import execution
from compare.review.models import Comment, Rating, Verdict, team_summary

from tests.compare import factories
from tests.compare.factories import finished, results_of
from tests.helpers import HTMX, client_of, user

pytestmark = pytest.mark.django_db


def test_a_member_thumbs_a_result_and_gets_the_card_back(fox, studio):
    fast = results_of(fox)[0]
    response = client_of("carol").post(f"/results/{fast.pk}/rating", {"value": "up"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith(f'<article id="result-{fast.pk}"')
    assert 'aria-pressed="true"' in html and "👍 carol" in html
    assert Rating.objects.get(result=fast, user=user("carol")).value == 1


def test_the_other_thumb_changes_the_vote_and_the_same_thumb_takes_it_back(fox, alice_client, alice):
    fast = results_of(fox)[0]
    url = f"/results/{fast.pk}/rating"
    alice_client.post(url, {"value": "up"}, headers=HTMX)
    alice_client.post(url, {"value": "down"}, headers=HTMX)
    assert list(Rating.objects.values_list("value", flat=True)) == [-1]
    alice_client.post(url, {"value": "down"}, headers=HTMX)
    assert not Rating.objects.exists()
    response = alice_client.post(url, {"value": "up"})  # without htmx: back to the page
    assert response.status_code == 302 and response["Location"].endswith(f"#result-{fast.pk}")
    assert Rating.objects.get(user=alice).value == 1


def test_a_result_still_running_cannot_be_rated(studio, alice_client):
    queued = finished(studio, run=False).results.first()
    response = alice_client.post(f"/results/{queued.pk}/rating", {"value": "up"}, headers=HTMX)
    assert response.status_code == 403 and "once it has finished" in response.content.decode()
    assert not Rating.objects.exists()


@pytest.mark.parametrize("choice, kind", [("winner", "winner"), ("tie", "tie"), ("all_bad", "all_bad")])
def test_a_member_gives_a_verdict_of_each_kind(fox, alice_client, alice, choice, kind):
    steady = results_of(fox)[1]
    response = alice_client.post(f"/comparisons/{fox.pk}/verdict",
                                 {"verdict": steady.pk if choice == "winner" else choice})
    assert response.status_code == 302
    verdict = Verdict.objects.get(comparison=fox, user=alice)
    assert verdict.kind == kind and verdict.winner == (steady if kind == "winner" else None)


def test_changing_a_verdict_replaces_it(fox, alice_client, alice):
    fast, steady, _ = results_of(fox)
    alice_client.post(f"/comparisons/{fox.pk}/verdict", {"verdict": fast.pk})
    alice_client.post(f"/comparisons/{fox.pk}/verdict", {"verdict": steady.pk})
    alice_client.post(f"/comparisons/{fox.pk}/verdict", {"verdict": "tie"})
    assert list(Verdict.objects.values_list("kind", "winner")) == [("tie", None)]
    alice_client.post(f"/comparisons/{fox.pk}/verdict", {"verdict": steady.pk})
    assert Verdict.objects.get().winner == steady
    html = alice_client.get(fox.get_absolute_url()).content.decode()
    assert "Change verdict" in html and f'value="{steady.pk}" required\n           checked' in html


def test_the_winner_must_be_a_succeeded_result_of_this_comparison(fox, studio, alice_client):
    other = finished(studio, prompt="an owl").results.first()
    for bad in (other.pk, "999999", "best", ""):
        response = alice_client.post(f"/comparisons/{fox.pk}/verdict", {"verdict": bad}, follow=True)
        assert response.status_code == 200
    assert not Verdict.objects.exists()
    assert "one of this comparison&#x27;s succeeded results" in response.content.decode() or \
        "Pick a winner" in response.content.decode()


def test_a_viewer_sees_the_review_but_cannot_vote_comment_or_switch_blind(fox):
    alice = client_of("alice")
    alice.post(f"/comparisons/{fox.pk}/verdict", {"verdict": "tie"})
    vic = client_of("vic")
    html = vic.get(fox.get_absolute_url()).content.decode()
    assert "<strong>alice</strong>:\n      tie" in html  # sees who said what
    assert 'name="verdict"' not in html and 'name="text"' not in html and 'name="value"' not in html
    result = fox.results.first()
    assert vic.post(f"/results/{result.pk}/rating", {"value": "up"}, headers=HTMX).status_code == 403
    refused = vic.post(f"/comparisons/{fox.pk}/verdict", {"verdict": "all_bad"}, follow=True)
    assert "Viewers of Studio" in refused.content.decode()
    vic.post(f"/comparisons/{fox.pk}/comments", {"text": "me too"})
    vic.post(f"/comparisons/{fox.pk}/review-mode", {"blind": "on"})
    assert not Rating.objects.exists() and not Comment.objects.exists()
    assert list(Verdict.objects.values_list("kind", flat=True)) == ["tie"]
    fox.refresh_from_db()
    assert not fox.blind


def test_comments_are_plain_text_escaped_with_author_and_time(fox, alice_client):
    alice_client.post(f"/comparisons/{fox.pk}/comments", {"text": "<script>alert(1)</script> B wins\nfor sure"})
    alice_client.post(f"/comparisons/{fox.pk}/comments", {"text": "   "})  # empty: refused
    comment = Comment.objects.get()
    html = client_of("carol").get(fox.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; B wins<br>for sure" in html
    assert "<strong>alice</strong>" in html and comment.created_at.strftime("%Y-%m-%d") in html


def test_everyone_in_the_team_sees_who_said_what(fox):
    fast, steady, _ = results_of(fox)
    client_of("alice").post(f"/comparisons/{fox.pk}/verdict", {"verdict": fast.pk})
    client_of("carol").post(f"/comparisons/{fox.pk}/verdict", {"verdict": "all_bad"})
    client_of("carol").post(f"/results/{steady.pk}/rating", {"value": "down"})
    client_of("alice").post(f"/results/{fast.pk}/rating", {"value": "up"})
    html = client_of("vic").get(fox.get_absolute_url()).content.decode()
    assert "<strong>alice</strong>:\n      winner <em>Sandbox fast" in html
    assert "<strong>carol</strong>:\n      all bad" in html
    assert "👍 alice" in html and "👎 carol" in html


def test_bob_of_another_team_gets_404_on_every_review_url(fox, bob):
    client = Client()
    client.force_login(bob)
    result = fox.results.first()
    posts = {f"/results/{result.pk}/rating": {"value": "up"}, f"/comparisons/{fox.pk}/verdict": {"verdict": "tie"},
             f"/comparisons/{fox.pk}/comments": {"text": "hi"}, f"/comparisons/{fox.pk}/review-mode": {"blind": "on"}}
    for url, data in posts.items():
        response = client.post(url, data)
        assert response.status_code == 404, url
        assert b"red fox" not in response.content
    assert client.get(f"/comparisons/{fox.pk}/review").status_code == 404
    assert not Rating.objects.exists() and not Verdict.objects.exists() and not Comment.objects.exists()
    anonymous = Client()
    for url, data in posts.items():
        assert anonymous.post(url, data).status_code == 302, url  # to the login page


def test_the_summary_counts_wins_ties_all_bad_and_thumbs(fox):
    fast, steady, slow = results_of(fox)
    for name, verdict in (("alice", fast.pk), ("carol", fast.pk), ("vic", None)):
        if verdict:
            client_of(name).post(f"/comparisons/{fox.pk}/verdict", {"verdict": verdict})
    Verdict.objects.create(comparison=fox, user=user("vic"), kind="tie")  # made by hand: counts the same
    client_of("alice").post(f"/results/{slow.pk}/rating", {"value": "down"})
    client_of("carol").post(f"/results/{slow.pk}/rating", {"value": "down"})
    client_of("carol").post(f"/results/{fast.pk}/rating", {"value": "up"})
    summary = team_summary(fox)
    assert (summary["verdicts"], summary["ties"], summary["all_bad"]) == (3, 1, 0)
    rows = {row["route"]: (row["wins"], row["ups"], row["downs"], row["leads"]) for row in summary["rows"]}
    assert rows == {"sandbox:fast": (2, 1, 0, True), "sandbox:steady": (0, 0, 0, False),
                    "sandbox:slow": (0, 0, 2, False)}


def test_the_summary_template_names_no_route_when_blind(fox):
    from django.template.loader import render_to_string

    client_of("alice").post(f"/comparisons/{fox.pk}/verdict", {"verdict": results_of(fox)[0].pk})
    named = render_to_string("review/_verdict_summary.html", {"comparison": fox})
    blind = render_to_string("review/_verdict_summary.html", {"comparison": fox, "blind": True})
    assert "sandbox:fast" in named and "1 verdict" in named
    assert "sandbox:" not in blind and "Sandbox" not in blind and ">A</span>" in blind and ">C</span>" in blind
    labels = {r.pk: f"#{n}" for n, r in enumerate(reversed(results_of(fox)))}  # a page's own letters
    own = render_to_string("review/_verdict_summary.html", {"comparison": fox, "blind": True, "labels": labels})
    assert own.index(">#0<") < own.index(">#2<") and "sandbox:" not in own


def test_the_api_lists_verdicts_ratings_and_comments(fox, alice_token):
    fast = results_of(fox)[0]
    client_of("carol").post(f"/results/{fast.pk}/rating", {"value": "up"})
    client_of("carol").post(f"/comparisons/{fox.pk}/verdict", {"verdict": fast.pk})
    client_of("carol").post(f"/comparisons/{fox.pk}/comments", {"text": "fast wins"})
    body = Client().get(f"/api/comparisons/{fox.pk}", headers={"Authorization": f"Bearer {alice_token}"}).json()
    assert body["review"]["verdicts"][0]["user"] == "carol"
    assert body["review"]["verdicts"][0]["winner"] == {"id": fast.pk, "route": "sandbox:fast"}
    assert body["review"]["comments"][0]["text"] == "fast wins"
    assert body["results"][0]["ratings"] == [{"user": "carol", "value": "up"}]
    assert body["results"][0]["my_rating"] is None and body["results"][0]["route"] == "sandbox:fast"


def test_history_filters_needs_my_review_winner_and_rating(studio, alice_client, alice):
    reviewed = finished(studio, prompt="reviewed owl")
    pending = finished(studio, prompt="pending hare")
    finished(studio, prompt="lonely cat", routes=["sandbox:fast"])  # one route: nothing to compare
    finished(studio, prompt="running bee", run=False)  # not finished yet
    fast = results_of(reviewed)[0]
    alice_client.post(f"/comparisons/{reviewed.pk}/verdict", {"verdict": fast.pk})
    client_of("carol").post(f"/comparisons/{pending.pk}/verdict", {"verdict": "tie"})
    client_of("carol").post(f"/results/{results_of(pending)[2].pk}/rating", {"value": "down"})
    alice_client.post("/team/switch", {"team": studio.pk})

    def listed(**query):
        html = alice_client.get("/comparisons/", query).content.decode()
        return {p for p in ("reviewed owl", "pending hare", "lonely cat", "running bee") if p in html}

    assert listed(review="mine") == {"pending hare"}
    assert listed(winner="sandbox:fast") == {"reviewed owl"}
    assert listed(winner="sandbox:slow") == set()
    assert listed(winner="tie") == {"pending hare"}
    assert listed(rating="down") == {"pending hare"} and listed(rating="up") == set()
    assert listed(q="owl", review="mine") == set() and listed(q="hare", review="mine") == {"pending hare"}
    assert listed(status="running") == {"running bee"} and listed(route="sandbox:steady") == {
        "reviewed owl", "pending hare", "running bee"}
    html = alice_client.get("/comparisons/", {"review": "mine", "rating": "down"}).content.decode()
    assert 'name="review" value="mine" checked' in html and '<option value="down" selected>' in html
    assert listed(review="mine") != listed()  # the filter does filter
    vic = client_of("vic")
    vic.post("/team/switch", {"team": studio.pk})
    assert "pending hare" not in vic.get("/comparisons/", {"review": "mine"}).content.decode()  # viewers review nothing


def test_history_pages_keep_the_review_filters(studio, alice_client, settings):
    settings.HISTORY_PAGE_SIZE = 1
    for prompt in ("first hare", "second hare"):
        finished(studio, prompt=prompt)
    alice_client.post("/team/switch", {"team": studio.pk})
    html = alice_client.get("/comparisons/", {"review": "mine", "q": "hare"}).content.decode()
    assert "Page 1 of 2" in html and "?review=mine&amp;q=hare&amp;page=2" in html


def test_the_review_panel_follows_a_running_comparison_until_it_is_done(alice_client, alice):
    comparison = factories.comparison(alice, routes=["sandbox:fast"])
    url = f"/comparisons/{comparison.pk}/review"
    running = alice_client.get(url, headers={"HX-Request": "true"})
    assert running.status_code == 200 and 'hx-trigger="every 2s, comparison-done from:body"' in running.content.decode()
    execution.execute_result(comparison.results.get().pk)
    done = alice_client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx stops polling: the panel now offers the finished result
