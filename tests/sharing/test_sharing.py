"""Share links: alice shares a comparison of the Studio team; a logged-out visitor opens it, sees
exactly what the link shows, votes once on a vote link; bob of another team can do nothing."""

import io
import re
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from PIL import Image

from compare.review.models import Verdict
from compare.sharing.models import ExternalVote, ShareLink
from compare.teams.models import Membership, Role, Team

from tests.compare.factories import finished

pytestmark = pytest.mark.django_db
ROUTES = ("sandbox:fast", "sandbox:steady")


@pytest.fixture
def studio(alice, django_user_model):
    """Alice owns the Studio team; charlie is a viewer there."""
    team = Team.objects.create(name="Studio")
    Membership.objects.create(team=team, user=alice, role=Role.OWNER)
    charlie = django_user_model.objects.create_user("charlie", password="charlie-password")
    Membership.objects.create(team=team, user=charlie, role=Role.VIEWER)
    return team


@pytest.fixture
def fox(alice, studio):
    comparison = finished(studio, routes=ROUTES)
    comparison.results.update(request_sent={"secret_marker": "REQUEST-SENT-MARKER"},
                              response_headers={"x-marker": "HEADER-MARKER"}, provider_request_id="REQID-MARKER")
    return comparison


def share(client, comparison, **fields):
    data = {"labels": "names", "show_costs": "1", "kind": "view", **fields}
    client.post(f"/comparisons/{comparison.pk}/share", data)
    return ShareLink.objects.filter(comparison=comparison).first()


def image_urls(html):
    return re.findall(r'(?:src|href)="(/s/[^"]+/images/\d+(?:/thumbnail)?)"', html)


def test_a_link_opens_logged_out_with_its_images_and_records_when(alice_client, fox):
    link = share(alice_client, fox)
    response = Client().get(link.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200 and "a red fox in snow" in html
    assert "1024x1024" in html and "quality low" in html and "Latency" in html and "$0.00" in html
    urls = image_urls(html)
    assert len(urls) == 4  # a thumbnail and its original per route
    for url in urls:
        image = Client().get(url)
        assert image.status_code == 200 and image["Content-Type"].startswith("image/")
        assert Image.open(io.BytesIO(b"".join(image.streaming_content))).size[0] > 0
    link.refresh_from_db()
    assert link.last_opened_at is not None and link.created_by.username == "alice"


def test_the_token_is_unguessable(alice_client, fox):
    tokens = {share(alice_client, fox).token} | {
        ShareLink.objects.create(team=fox.team, comparison=fox).token for _ in range(20)}
    assert len(tokens) == 21
    assert all(len(token) >= 22 and re.fullmatch(r"[A-Za-z0-9_-]+", token) for token in tokens)
    assert min(len(token) for token in tokens) * 6 >= 128  # base64url: 6 bits a character


def test_an_expired_link_answers_404_for_page_images_and_preview(alice_client, fox):
    link = share(alice_client, fox, expires_in_hours="2")
    assert timedelta(hours=1.9) < link.expires_at - timezone.now() <= timedelta(hours=2)
    urls = [link.get_absolute_url(), f"{link.get_absolute_url()}/preview.png"] + image_urls(
        Client().get(link.get_absolute_url()).content.decode())
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for url in urls:
        assert Client().get(url).status_code == 404, url


def test_a_revoked_link_answers_404_at_once_images_included(alice_client, fox):
    link = share(alice_client, fox)
    urls = [link.get_absolute_url()] + image_urls(Client().get(link.get_absolute_url()).content.decode())
    response = alice_client.post(f"/team/links/{link.pk}/revoke", {"next": fox.get_absolute_url()})
    assert response.status_code == 302 and response["Location"] == fox.get_absolute_url()
    for url in urls:
        assert Client().get(url).status_code == 404, url
    assert "revoked" in alice_client.get(fox.get_absolute_url()).content.decode()


def test_the_public_page_shows_nothing_but_the_comparison(alice_client, fox, alice, studio):
    finished(studio, "an owl at night, not shared", ROUTES)
    html = Client().get(share(alice_client, fox).get_absolute_url()).content.decode()
    for absent in ("REQUEST-SENT-MARKER", "HEADER-MARKER", "REQID-MARKER", "Reproduce", "charlie", "alice",
                   "Studio", "an owl at night", "Run again", "Cancel", "Edit &amp; run", "/comparisons/",
                   '"/images/', "Log out", "/team", "csrf_token_missing"):
        assert absent not in html, absent
    assert 'name="csrfmiddlewaretoken"' not in html  # a view link has no form at all


def test_a_blind_link_hides_route_names_and_costs_when_asked(alice_client, fox):
    link = share(alice_client, fox, labels="blind", show_costs="")
    html = Client().get(link.get_absolute_url()).content.decode()
    for absent in ("sandbox", "Sandbox", "fast", "steady", "Cost", "est.", "$0"):
        assert absent not in html, absent
    assert re.search(r"<h2>A</h2>", html) and re.search(r"<h2>B</h2>", html)
    assert link.blind and not link.show_costs


def test_blind_labels_are_shuffled_per_link_and_stable_within_one(alice, studio):
    comparison = finished(studio, routes=("sandbox:fast", "sandbox:steady", "sandbox:slow", "sandbox:flaky"))
    orders = set()
    for _ in range(8):
        link = ShareLink.objects.create(team=studio, comparison=comparison, blind=True)
        order = tuple(result.pk for _, result in link.labelled(comparison.results.all()))
        assert order == tuple(result.pk for _, result in link.labelled(comparison.results.all()))
        orders.add(order)
    assert len(orders) > 1


def test_a_vote_link_takes_one_blind_verdict_per_visitor_kept_apart(alice_client, fox):
    link = share(alice_client, fox, kind="vote", labels="names")
    assert link.blind  # a vote is always blind
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get(link.get_absolute_url())
    assert "steady" not in page.content.decode() and 'name="verdict"' in page.content.decode()
    csrf = visitor.cookies["csrftoken"].value
    winner = fox.results.get(route_key="sandbox:steady")
    vote_url = f"/s/{link.token}/c/{fox.pk}/vote"
    assert page["Referrer-Policy"] == "same-origin"  # no-referrer would make browsers send Origin: null
    assert visitor.post(vote_url, {"verdict": winner.pk, "csrfmiddlewaretoken": csrf},
                        headers={"Origin": "http://testserver"}).status_code == 302
    assert visitor.post(vote_url, {"verdict": "all_bad", "csrfmiddlewaretoken": csrf}).status_code == 302
    vote = ExternalVote.objects.get()
    assert vote.winner == winner and vote.kind == "winner" and len(vote.visitor_hash) == 64
    assert vote.visitor_hash != visitor.cookies["ipc_ballot"].value  # only the hash is kept
    assert "Thank you: you voted" in visitor.get(link.get_absolute_url()).content.decode()
    other = Client(REMOTE_ADDR="192.0.2.7")  # another visitor: another address (one vote per address)
    other.get(link.get_absolute_url())
    other.post(vote_url, {"verdict": "tie"})
    assert ExternalVote.objects.count() == 2 and Verdict.objects.count() == 0
    html = alice_client.get(fox.get_absolute_url()).content.decode()
    assert "Outside votes:" in html and winner.route_label in html and "tie 1" in html


def test_a_vote_without_the_csrf_token_is_refused(alice_client, fox):
    link = share(alice_client, fox, kind="vote")
    visitor = Client(enforce_csrf_checks=True)
    visitor.get(link.get_absolute_url())
    assert visitor.post(f"/s/{link.token}/c/{fox.pk}/vote", {"verdict": "tie"}).status_code == 403
    assert not ExternalVote.objects.exists()


def test_a_view_link_takes_no_votes(alice_client, fox):
    link = share(alice_client, fox)
    assert 'name="verdict"' not in Client().get(link.get_absolute_url()).content.decode()
    assert Client().post(f"/s/{link.token}/c/{fox.pk}/vote", {"verdict": "tie"}).status_code == 404


def test_it_unfurls_with_open_graph_tags_and_a_cached_1200x630_preview(alice_client, fox, monkeypatch):
    link = share(alice_client, fox)
    html = Client().get(link.get_absolute_url()).content.decode()
    preview_url = f"http://testserver/s/{link.token}/preview.png"
    assert f'<meta property="og:image" content="{preview_url}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert '<meta property="og:title" content="a red fox in snow">' in html
    first = Client().get(preview_url)
    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(first.content))
    assert image.format == "PNG" and image.size == (1200, 630)
    assert default_storage.exists(link.preview_path(fox))
    monkeypatch.setattr("compare.sharing.preview.contact_sheet", lambda *a: pytest.fail("drawn again"))
    assert Client().get(preview_url).content == first.content


def test_a_set_link_shares_the_filtered_comparisons_frozen_at_creation(alice_client, alice, bob, studio):
    alice_client.post("/team/switch", {"team": studio.pk})
    fox, owl = finished(studio, routes=ROUTES), finished(studio, "an owl at night", ROUTES)
    bobs = finished(Team.personal_for(bob), "bob's red fox", ROUTES)
    response = alice_client.post("/team/links", {"q": "fox", "labels": "names", "show_costs": "1", "kind": "view"})
    assert response.status_code == 302
    link = ShareLink.objects.get()
    assert link.is_set and link.comparison_ids == [fox.pk] and link.filter == {"q": "fox"}
    later = finished(studio, "a later fox", ROUTES)
    html = Client().get(link.get_absolute_url()).content.decode()
    assert "a red fox in snow" in html and f"/s/{link.token}/c/{fox.pk}" in html
    for absent in ("an owl", "bob's red fox", "a later fox"):
        assert absent not in html
    assert '<meta property="og:title" content="1 image comparisons">' in html
    description = "Prompts sent to several image routes, compared side by side."
    assert f'<meta property="og:description" content="{description}">' in html
    assert f'<meta name="twitter:description" content="{description}">' in html
    assert Client().get(f"/s/{link.token}/c/{fox.pk}").status_code == 200
    for other in (owl, bobs, later):
        assert Client().get(f"/s/{link.token}/c/{other.pk}").status_code == 404
        image = other.results.first().images.get()
        assert Client().get(f"/s/{link.token}/images/{image.pk}").status_code == 404
    assert Image.open(io.BytesIO(Client().get(f"/s/{link.token}/preview.png").content)).size == (1200, 630)


def test_the_team_links_page_lists_live_links_with_revoke(alice_client, fox, studio):
    alice_client.post("/team/switch", {"team": studio.pk})
    live, ended = share(alice_client, fox), ShareLink.objects.create(team=studio, comparison=fox)
    ended.revoke()
    html = alice_client.get("/team/links").content.decode()
    assert live.token in html and ended.token not in html and f"/team/links/{live.pk}/revoke" in html


def test_the_api_shares_and_revokes(client, alice, alice_token, fox):
    auth = {"Authorization": f"Bearer {alice_token}"}
    response = client.post(f"/api/comparisons/{fox.pk}/share", {"expires_in_hours": 24, "show_costs": False},
                           content_type="application/json", headers=auth)
    assert response.status_code == 201
    body = response.json()
    assert body["url"].startswith("http://testserver/s/") and body["api_url"].startswith("http://testserver/api/")
    assert body["expires_at"] and not body["show_costs"]
    assert Client().get(body["url"]).status_code == 200
    assert client.delete(body["api_url"], headers=auth).status_code == 204
    assert Client().get(body["url"]).status_code == 404
    assert client.post(f"/api/comparisons/{fox.pk}/share", content_type="application/json",
                       headers=auth).status_code == 201  # no body: the defaults


def test_the_api_refuses_bad_options(client, alice_token, fox):
    auth = {"Authorization": f"Bearer {alice_token}"}
    for body in ({"expires_in_hours": -1}, {"expires_in_hours": "soon"}, {"blind": "yes"}, [1]):
        response = client.post(f"/api/comparisons/{fox.pk}/share", body, content_type="application/json",
                               headers=auth)
        assert response.status_code == 400, body
    assert not ShareLink.objects.exists()


def test_bob_of_another_team_gets_404_for_everything_of_alices_links(alice_client, bob, fox):
    from compare.teams.models import ApiToken

    link = share(alice_client, fox)
    auth = {"Authorization": f"Bearer {ApiToken.issue(bob)[1]}"}
    client = Client()
    assert client.post(f"/api/comparisons/{fox.pk}/share", headers=auth).status_code == 404
    assert client.delete(f"/api/share-links/{link.pk}", headers=auth).status_code == 404
    client.force_login(bob)
    assert client.post(f"/comparisons/{fox.pk}/share", {"kind": "view"}).status_code == 404
    assert client.post(f"/team/links/{link.pk}/revoke").status_code == 404
    assert link.token not in client.get("/team/links").content.decode()
    assert ShareLink.objects.count() == 1 and ShareLink.objects.get().is_live


def test_a_viewer_cannot_make_or_revoke_links(alice_client, fox, django_user_model):
    from compare.teams.models import ApiToken

    link = share(alice_client, fox)
    charlie = django_user_model.objects.get(username="charlie")
    viewer = Client()
    viewer.force_login(charlie)
    viewer.post(f"/comparisons/{fox.pk}/share", {"kind": "view"})
    viewer.post(f"/team/links/{link.pk}/revoke")
    auth = {"Authorization": f"Bearer {ApiToken.issue(charlie)[1]}"}
    assert viewer.post(f"/api/comparisons/{fox.pk}/share", headers=auth).status_code == 403
    assert ShareLink.objects.count() == 1 and ShareLink.objects.get().is_live
    assert "Make a public link" not in viewer.get(fox.get_absolute_url()).content.decode()


def test_the_team_links_page_lists_the_newest_link_first(alice_client, fox, studio):
    """(Meta.ordering does not apply to a query with an aggregate: the page orders itself.)"""
    alice_client.post("/team/switch", {"team": studio.pk})
    first, second = share(alice_client, fox), share(alice_client, fox)
    html = alice_client.get("/team/links").content.decode()
    table = html[html.index("Active links"):]  # (the messages above it name both, oldest first)
    assert table.index(second.token) < table.index(first.token)
