"""Blind mode: cards shuffled per reviewer and named A, B, C, nothing that names a route on the
page, the card partial or the API until that reviewer's verdict; images held until all finish."""

import re

import pytest
from django.test import Client

from compare.engine import execution
from compare.models import Comparison, Result
from compare.review.models import Review, blind_label
from compare.teams.models import Membership, Role

from tests.compare.factories import finished, results_of
from tests.helpers import HTMX, client_of, leaks, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def blind_fox(studio):
    comparison = finished(studio, blind=True)
    comparison.results.update(request_sent={"marker": "REQUEST-MARKER"}, provider_request_id="REQID-MARKER",
                              response_headers={"x-marker": "HEADER-MARKER"}, notes=["the fal one NOTE-MARKER"])
    return comparison


def order_seen_by(name, comparison):
    html = client_of(name).get(comparison.get_absolute_url()).content.decode()
    return [int(pk) for pk in re.findall(r'<article id="result-(\d+)"', html)]


def test_blind_order_differs_between_reviewers_and_is_stable_for_one(blind_fox, studio, django_user_model):
    for n in range(5):
        member = django_user_model.objects.create_user(f"reviewer{n}")
        Membership.objects.create(team=studio, user=member, role=Role.MEMBER)
    names = ["alice", "carol"] + [f"reviewer{n}" for n in range(5)]
    orders = {name: order_seen_by(name, blind_fox) for name in names}
    assert order_seen_by("carol", blind_fox) == orders["carol"] == order_seen_by("carol", blind_fox)
    assert all(sorted(order) == sorted(r.pk for r in blind_fox.results.all()) for order in orders.values())
    assert len({tuple(order) for order in orders.values()}) > 1  # reviewers see different orders
    review = Review(blind_fox, user("carol"))
    assert [r.pk for r in review.results] == orders["carol"]
    assert [r.blind_label for r in review.results] == ["A", "B", "C"]


def test_labels_go_past_z():
    assert [blind_label(n) for n in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]


def test_nothing_names_a_route_before_the_reviewers_verdict(blind_fox):
    carol = client_of("carol")
    page = carol.get(blind_fox.get_absolute_url()).content.decode()
    assert leaks(page) == [] and "Result A" in page and "Result C" in page
    assert "alt=\"Image 1 from result A\"" in page
    for result in blind_fox.results.all():
        card = carol.get(f"/results/{result.pk}/card", headers=HTMX)
        assert card.status_code == 286 and leaks(card.content.decode()) == []
        rated = carol.post(f"/results/{result.pk}/rating", {"value": "up"}, headers=HTMX)
        assert leaks(rated.content.decode()) == []
    api = carol.get(f"/api/comparisons/{blind_fox.pk}").content.decode()
    assert leaks(api) == [] and '"cost_usd": null' in api and '"blind_label": "A"' in api
    listing = carol.get("/api/comparisons", {"team": blind_fox.team_id}).json()["comparisons"]
    assert listing[0]["routes"] is None
    image = blind_fox.results.first().images.get()
    response = carol.get(image.get_thumbnail_url())
    assert response.status_code == 200 and "sandbox" not in response.get("Content-Disposition", "")


def test_the_verdict_reveals_everything_to_that_reviewer_only(blind_fox):
    carol = client_of("carol")
    page = carol.get(blind_fox.get_absolute_url()).content.decode()
    letter_b = re.findall(r'<article id="result-(\d+)"', page)[1]
    response = carol.post(f"/comparisons/{blind_fox.pk}/verdict", {"verdict": letter_b}, follow=True)
    revealed = response.content.decode()
    assert "routes revealed" in revealed
    assert all(marker in revealed for marker in ("REQUEST-MARKER", "REQID-MARKER", "NOTE-MARKER", "sandbox:fast"))
    assert re.findall(r'<article id="result-(\d+)"', revealed)[1] == letter_b  # the cards do not jump
    winner = Result.objects.get(pk=letter_b)
    assert f'title="Your blind label for this result">B</span> {winner.route_label}' in revealed
    card = carol.get(f"/results/{letter_b}/card").content.decode()
    assert winner.route_key in card and "REQID-MARKER" in card
    api = carol.get(f"/api/comparisons/{blind_fox.pk}").json()
    assert {r["route"] for r in api["results"]} == {"sandbox:fast", "sandbox:steady", "sandbox:slow"}
    assert api["review"]["masked"] is False
    assert leaks(client_of("alice").get(blind_fox.get_absolute_url()).content.decode()) == []  # alice: still blind


def test_a_blind_reviewer_sees_the_teams_votes_only_after_giving_theirs(blind_fox):
    fast = results_of(blind_fox)[0]
    alice = client_of("alice")
    alice.post(f"/comparisons/{blind_fox.pk}/verdict", {"verdict": fast.pk})
    alice.post(f"/results/{fast.pk}/rating", {"value": "up"})
    alice.post(f"/comparisons/{blind_fox.pk}/comments", {"text": "the fast one, clearly"})
    carol = client_of("carol")
    page = carol.get(blind_fox.get_absolute_url()).content.decode()
    assert "clearly" not in page and "👍 alice" not in page and "<strong>alice</strong>" not in page
    assert "1 verdict and the team's thumbs are shown once you have given yours" in page
    assert "1 comment from the team shown once you have given your verdict" in page
    api = carol.get(f"/api/comparisons/{blind_fox.pk}").json()["review"]
    assert api["verdicts"] == [] and api["comments"] == [] and api["hidden_verdicts"] == 1
    carol.post(f"/comparisons/{blind_fox.pk}/verdict", {"verdict": "tie"})
    page = carol.get(blind_fox.get_absolute_url()).content.decode()
    assert "clearly" in page and "👍 alice" in page and "<strong>alice</strong>:" in page


def test_images_are_held_back_from_everyone_until_every_route_has_finished(studio, alice_client):
    comparison = finished(studio, run=False, hold_images_until_done=True)
    first, second, third = results_of(comparison)
    execution.execute_result(first.pk)
    image = first.images.get()
    for name in ("alice", "carol", "vic"):
        page = client_of(name).get(comparison.get_absolute_url()).content.decode()
        assert image.get_thumbnail_url() not in page and "Images are held back" in page
        assert client_of(name).get(image.get_thumbnail_url()).status_code == 404
        assert client_of(name).get(image.get_absolute_url()).status_code == 404
    card = alice_client.get(f"/results/{first.pk}/card", headers=HTMX)
    assert card.status_code == 200 and "hx-trigger" in card.content.decode()  # keeps polling
    assert image.get_thumbnail_url() not in card.content.decode()
    api = alice_client.get(f"/api/comparisons/{comparison.pk}").json()["results"][0]
    assert api["images"] == [] and api["images_held"] is True
    refused = alice_client.post(f"/comparisons/{comparison.pk}/verdict", {"verdict": "tie"}, follow=True)
    assert "held until every route has finished" in refused.content.decode() and not comparison.verdicts.exists()
    for result in (second, third):
        execution.execute_result(result.pk)
    card = alice_client.get(f"/results/{first.pk}/card", headers=HTMX)
    assert card.status_code == 286 and image.get_thumbnail_url() in card.content.decode()
    assert alice_client.get(image.get_thumbnail_url()).status_code == 200
    review = alice_client.get(f"/comparisons/{comparison.pk}/review", headers=HTMX)
    assert review.status_code == 286 and 'name="verdict"' in review.content.decode()


def test_history_hides_the_routes_of_a_blind_comparison_until_my_verdict(blind_fox, studio):
    carol = client_of("carol")
    carol.post("/team/switch", {"team": studio.pk})
    client_of("alice").post(f"/comparisons/{blind_fox.pk}/verdict", {"verdict": results_of(blind_fox)[0].pk})
    html = carol.get("/comparisons/").content.decode()
    row = html[html.index(f"#{blind_fox.pk}</a>"):]
    assert "red fox" in html and "sandbox:fast</span>" not in row and "blind</span>" in row
    assert "red fox" not in carol.get("/comparisons/", {"winner": "sandbox:fast"}).content.decode()
    carol.post(f"/comparisons/{blind_fox.pk}/verdict", {"verdict": "tie"})
    assert "sandbox:fast</span>" in carol.get("/comparisons/").content.decode()
    assert "red fox" in carol.get("/comparisons/", {"winner": "sandbox:fast"}).content.decode()


def test_the_compare_form_starts_a_blind_comparison(alice_client):
    page = alice_client.get("/").content.decode()
    assert 'name="blind"' in page and 'name="hold_images_until_done"' in page
    alice_client.post("/", {"prompt": "a blind owl", "routes": ["sandbox:fast", "sandbox:steady"], "size": "square",
                            "quality": "low", "output_format": "png", "n": "1", "blind": "on",
                            "hold_images_until_done": "on"})
    comparison = Comparison.objects.get()
    assert comparison.blind and comparison.hold_images_until_done
    alice_client.post("/", {"prompt": "a plain owl", "routes": ["sandbox:fast"], "size": "square",
                            "quality": "low", "output_format": "png", "n": "1"})
    assert not Comparison.objects.get(prompt="a plain owl").blind


def test_a_member_switches_blind_mode_on_and_off_from_the_results_page(studio):
    comparison = finished(studio)
    carol = client_of("carol")
    assert "sandbox:fast" in carol.get(comparison.get_absolute_url()).content.decode()
    carol.post(f"/comparisons/{comparison.pk}/review-mode", {"blind": "on"})
    comparison.refresh_from_db()
    assert comparison.blind and not comparison.hold_images_until_done
    assert leaks(carol.get(comparison.get_absolute_url()).content.decode()) == []
    carol.post(f"/comparisons/{comparison.pk}/review-mode", {})
    comparison.refresh_from_db()
    assert not comparison.blind
    assert Client().post(f"/comparisons/{comparison.pk}/review-mode", {"blind": "on"}).status_code == 302


def test_run_again_and_the_api_keep_blind_review(alice, alice_client, alice_token):
    import json

    from compare.models import Comparison

    body = {"prompt": "blind by api", "routes": ["sandbox:fast", "sandbox:slow"], "blind": True,
            "hold_images_until_done": True}
    response = alice_client.post("/api/comparisons", json.dumps(body), content_type="application/json",
                                 headers={"Authorization": f"Bearer {alice_token}"})
    original = Comparison.objects.get(pk=response.json()["id"])
    assert original.blind and original.hold_images_until_done
    alice_client.post(f"/comparisons/{original.pk}/rerun")
    again = Comparison.objects.exclude(pk=original.pk).get()
    assert again.blind and again.hold_images_until_done


def test_result_ids_do_not_tell_the_route_order(studio):
    """Rows are inserted in a random order: a blind reviewer cannot read route order from ids."""
    from tests.compare import factories

    routes = ("sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:flaky")
    orders = set()
    for _ in range(6):
        made = factories.comparison(user=user("alice"), routes=routes)
        by_id = [r.route_key for r in made.results.order_by("pk")]
        assert sorted(by_id) == sorted(routes)
        assert [r.route_key for r in made.results.all()] == list(routes)  # the chosen order is kept
        orders.add(tuple(by_id))
    assert len(orders) > 1  # 6 draws of 24 orders: all alike has odds of 1 in 24**5
