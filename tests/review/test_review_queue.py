"""The review queue (/review): the current team's finished comparisons waiting for my verdict,
one at a time; blind ones shown under letters only; other teams' and viewers' never.

alice (owner) and carol (member) review in "Studio"; vic is its viewer; bob has his own team."""

import pytest
from django.test import Client

from compare.review.models import Verdict, review_queue
from compare.teams.models import Team

from tests.compare.factories import finished
from tests.helpers import user

pytestmark = pytest.mark.django_db


def client_in(name, team):
    client = Client()
    client.force_login(user(name))
    session = client.session
    session["team_id"] = team.pk
    session.save()
    return client


def test_the_queue_holds_finished_comparisons_of_two_routes_or_more_without_my_verdict(studio):
    waiting = finished(studio, "waiting")
    judged = finished(studio, "judged by carol")
    finished(studio, "one route only", routes=("sandbox:fast",))
    finished(studio, "still running", run=False)
    Verdict.objects.create(comparison=judged, user=user("carol"), kind="tie")
    carol = list(review_queue(studio, user("carol")))
    assert carol == [waiting]
    # carol's verdict is hers: alice still has both to judge, newest first.
    assert list(review_queue(studio, user("alice"))) == [judged, waiting]


def test_the_queue_is_the_current_teams_and_empty_for_a_viewer(studio, bob):
    finished(studio)
    theirs = Team.personal_for(bob)
    assert list(review_queue(theirs, bob)) == []  # bob sees nothing of Studio's
    assert list(review_queue(studio, bob)) == []  # not even when asked for that team
    assert list(review_queue(studio, user("vic"))) == []  # a viewer cannot vote


def test_the_page_shows_the_newest_waiting_comparison_with_the_count_left(studio):
    older, newer = finished(studio, "an old lighthouse"), finished(studio, "a new bicycle")
    html = client_in("carol", studio).get("/review").content.decode()
    assert "a new bicycle" in html and "an old lighthouse" not in html
    assert "<strong>2</strong> comparisons" in html and "this is 1 of 2" in html
    assert f'href="?at={older.pk}"' in html  # the next one, by link and by N
    assert html.count('data-pick="') == 3


def test_a_blind_comparison_stays_blind_in_the_queue(studio):
    blind = finished(studio, "a blind test", blind=True)
    html = client_in("carol", studio).get("/review").content.decode()
    assert f'data-comparison="{blind.pk}"' in html
    assert "sandbox" not in html.lower()  # no route key, label or error text
    for letter in "ABC":
        assert f'<span class="blind-label">{letter}</span>' in html
    assert "A wins" in html


def test_a_verdict_from_the_queue_moves_on_to_the_next_one(studio):
    older, newer = finished(studio, "an old lighthouse"), finished(studio, "a new bicycle")
    client = client_in("carol", studio)
    winner = newer.results.first()
    response = client.post(f"/comparisons/{newer.pk}/verdict", {"verdict": winner.pk, "next": "queue"})
    assert response.status_code == 302 and response["Location"] == f"/review?after={newer.pk}"
    assert Verdict.objects.get(comparison=newer, user=user("carol")).winner == winner
    html = client.get(response["Location"]).content.decode()
    assert "an old lighthouse" in html and "this is 1 of 1" in html


def test_a_thumb_and_a_comment_from_the_queue_come_back_to_the_same_comparison(studio):
    fox = finished(studio)
    client = client_in("carol", studio)
    result = fox.results.first()
    response = client.post(f"/results/{result.pk}/rating", {"value": "up", "next": "queue"})
    assert response["Location"] == f"/review?at={fox.pk}#result-{result.pk}"
    response = client.post(f"/comparisons/{fox.pk}/comments", {"text": "crisp", "next": "queue"})
    assert response["Location"] == f"/review?at={fox.pk}#comments"
    # Any other value of next is ignored: the comparison's own page, never an address from the request.
    response = client.post(f"/comparisons/{fox.pk}/comments", {"text": "x", "next": "https://evil.example/"})
    assert response["Location"] == f"/comparisons/{fox.pk}/#comments"


def test_at_another_teams_comparison_shows_my_own_queue_instead(studio, bob):
    foreign = finished(studio, "Studio's secret")
    client = Client()
    client.force_login(bob)
    html = client.get(f"/review?at={foreign.pk}").content.decode()
    assert "Studio&#x27;s secret" not in html and "Studio's secret" not in html
    assert "Nothing waits for your verdict" in html


def test_the_queue_page_reads_a_fixed_number_of_queries(studio, django_assert_max_num_queries):
    for n in range(6):
        finished(studio, f"prompt {n}")
    client = client_in("carol", studio)
    with django_assert_max_num_queries(30):
        assert client.get("/review").status_code == 200


# --- The visual history (compare/views.py history) ------------------------------------------


def history_queries(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/comparisons/").status_code == 200
    return len(queries)


def test_history_rows_with_thumbnails_cost_no_query_per_row(studio):
    client = client_in("carol", studio)
    for n in range(2):
        finished(studio, f"first {n}")
    history_queries(client)  # the first visit also saves the session
    few = history_queries(client)
    for n in range(8):
        finished(studio, f"more {n}", blind=n % 2 == 0)
    assert history_queries(client) == few


def test_history_shows_thumbnails_and_outcomes_and_masks_blind_rows(studio):
    plain, blind = finished(studio, "a plain one"), finished(studio, "a blind one", blind=True)
    html = client_in("carol", studio).get("/comparisons/").content.decode()
    plain_row = html[html.index(f"#{plain.pk}</a>"):]
    blind_row = html[html.index(f"#{blind.pk}</a>"):html.index(f"#{plain.pk}</a>")]
    assert plain_row.count('loading="lazy"') >= 3 and "sandbox:fast</span>" in plain_row
    assert " ms</span>" in plain_row and "$0.00" in plain_row  # sandbox routes are free
    assert blind_row.count('loading="lazy"') == 3  # the images, under letters
    assert "sandbox" not in blind_row and " ms</span>" not in blind_row and "$" not in blind_row


def test_history_marks_a_batchs_comparisons(studio):
    from compare.batches.models import Batch, BatchItem

    fox = finished(studio)
    batch = Batch.objects.create(team=studio, name="Typography run", source="typography", source_name="Typography")
    BatchItem.objects.create(batch=batch, position=0, comparison=fox)
    html = client_in("carol", studio).get("/comparisons/").content.decode()
    assert f"batch #{batch.pk}</a>" in html and batch.get_absolute_url() in html


def test_the_status_filter_offers_each_status_once(studio):
    html = client_in("carol", studio).get("/comparisons/").content.decode()
    assert html.count('<option value="running"') == 1
