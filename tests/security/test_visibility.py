"""Who sees what (compare/review/visibility.py), as a table: every surface x every viewer, asserting what
each may and may not see of a blind comparison ("fox": route names, latency, costs, sizes,
images, the team's verdict, outside votes) and that the images of a held comparison ("held":
hold images until all finish, one route still queued) appear nowhere. Then the named attacks of
issue 11 item 6.

Studio: alice (owner) has judged the fox, carol (member) has not, vic is a viewer; bob is of
another team. Every figure of the fox is a marker no other text can contain."""

import csv
import io
import json
import re
import zipfile
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from compare.batches.models import Batch, BatchItem
from compare.engine import execution
from compare.models import ResultImage
from compare.review.models import Verdict
from compare.sharing import preview as share_preview
from compare.sharing.models import ExternalVote, ShareLink

from tests.compare.factories import finished, results_of
from tests.helpers import HTMX, client_of, user

pytestmark = pytest.mark.django_db

ROUTES = ("sandbox:fast", "sandbox:steady")
ALL = frozenset({"route_names", "latency", "costs", "sizes", "images", "team_verdict", "outside_votes"})

# --- what each category looks like in pages, JSON, CSV, ZIP listings and preview tiles ---------

MARKERS = {
    "route_names": r"sandbox:fast|sandbox:steady|Sandbox fast|Sandbox steady",
    "latency": r"4,322 ms|4321\.5|6,790 ms|6789\.5",  # latency_ms 4321.5 and 6789.5
    "costs": r"\$0\.9877|0\.987654|\$0\.8765|0\.876543",  # reported 0.987654, estimated 0.876543
    "sizes": r"777×555|777x555|\"width\": 777|120\.6\xa0KB|123457",  # each image: 777x555, 123457 bytes
    "images": r"/thumbnail|src=\"/images/\d+|\"thumbnail_url\"|IMAGE-FILE|IMAGE-TILE",
    "team_verdict": r"Team verdict|<strong>alice</strong>|\"user\": \"alice\"",
    "outside_votes": r"class=\"outside-votes\">(?:(?!</p>).)*Sandbox",
}


def seen_in(text):
    return {name for name, pattern in MARKERS.items() if re.search(pattern, text, re.S)}


def run(team, held=False, blind=False):
    comparison = finished(team, routes=ROUTES, run=False, blind=blind, hold_images_until_done=held)
    results = results_of(comparison)
    for result in results[:1] if held else results:  # held: the second route is still queued
        execution.execute_result(result.pk)
    for result, latency in zip(results, (4321.5, 6789.5)):
        type(result).objects.filter(pk=result.pk, status="succeeded").update(
            latency_ms=latency, cost_usd=Decimal("0.987654"), estimated_cost_usd=Decimal("0.876543"),
            cost_source="billed")
    ResultImage.objects.filter(result__comparison=comparison).update(width=777, height=555, bytes=123457)
    return comparison


@pytest.fixture
def studio(studio, django_user_model):
    """The Studio cast (tests/conftest.py), and bob, of no team of theirs."""
    django_user_model.objects.create_user("bob")
    return studio


@pytest.fixture
def fox(studio, alice):
    """Blind, done; alice's verdict gives it to steady; one outside vote for steady too."""
    comparison = run(studio, blind=True)
    steady = comparison.results.get(route_key="sandbox:steady")
    Verdict.objects.create(comparison=comparison, user=alice, kind="winner", winner=steady)
    link = ShareLink.objects.create(team=studio, comparison=comparison, blind=True, kind="vote")
    ExternalVote.objects.create(link=link, comparison=comparison, kind="winner", winner=steady, visitor_hash="x" * 64)
    return comparison


@pytest.fixture
def held(studio):
    """Holds its images until all finish: fast has finished, steady is still queued."""
    return run(studio, held=True)


@pytest.fixture
def batch(studio, fox, held):
    made = Batch.objects.create(team=studio, name="Both", source="typography", source_name="Typography",
                                route_keys=list(ROUTES), params={"size": "1024x1024"}, blind=True)
    for position, comparison in enumerate((fox, held)):
        BatchItem.objects.create(batch=made, position=position, title=f"Row {position}", comparison=comparison)
    return made


# --- the team's surfaces: what a signed-in client gets for one comparison ---------------------

def _text(response):
    return response.content.decode() if response.status_code in (200, 286) else ""  # 286: htmx, stop polling


def _row(html, pattern):
    found = re.search(pattern, html, re.S)
    return found.group(0) if found else ""


def page(client, comparison, batch):
    return _text(client.get(comparison.get_absolute_url()))


def card(client, comparison, batch):
    return "".join(_text(client.get(f"/results/{r.pk}/card", headers=HTMX)) for r in comparison.results.all())


def review(client, comparison, batch):
    return _text(client.get(f"/comparisons/{comparison.pk}/review", headers=HTMX))


def api(client, comparison, batch):
    return _text(client.get(f"/api/comparisons/{comparison.pk}"))


def api_list(client, comparison, batch):
    response = client.get("/api/comparisons", {"team": comparison.team_id})
    rows = response.json()["comparisons"] if response.status_code == 200 else []
    return json.dumps([row for row in rows if row["id"] == comparison.pk], ensure_ascii=False)


def history(client, comparison, batch):
    client.post("/team/switch", {"team": comparison.team_id})
    return _row(_text(client.get("/comparisons/")), rf'<tr>\s*<td><a href="/comparisons/{comparison.pk}/">.*?</tr>')


def history_csv(client, comparison, batch):
    client.post("/team/switch", {"team": comparison.team_id})
    response = client.get("/comparisons.csv")
    if response.status_code != 200:
        return ""
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    return "\n".join(",".join(line) for line in lines[1:] if line[0] == str(comparison.pk))


def zip_export(client, comparison, batch):
    response = client.get(f"/comparisons/{comparison.pk}/export.zip")
    if response.status_code != 200:
        return ""
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    parts = ["IMAGE-FILE" if name.startswith("images/") else name for name in archive.namelist()]
    return "\n".join(parts + [archive.read(name).decode() for name in archive.namelist() if name.endswith((".csv", ".json"))])


def side_by_side(client, comparison, batch):
    return _text(client.get(f"/comparisons/{comparison.pk}/side-by-side", follow=True))


def batch_page(client, comparison, batch):
    position = comparison.batch_item.position + 1
    return _row(_text(client.get(batch.get_absolute_url())), rf'<tr id="row-{position}">.*?</tr>')


def batch_api(client, comparison, batch):
    response = client.get(f"/api/batches/{batch.pk}")
    if response.status_code != 200:
        return ""
    rows = [row for row in response.json()["rows"] if row["comparison"]["id"] == comparison.pk]
    return json.dumps(rows, ensure_ascii=False)


TEAM_SURFACES = {  # surface: what it shows at all, to someone who may see everything
    "page": ALL,
    "card": {"route_names", "latency", "costs", "sizes", "images", "team_verdict"},  # the "winner" badge
    "review": {"route_names", "team_verdict"},
    "api": {"route_names", "latency", "costs", "sizes", "images", "team_verdict"},
    "api_list": {"route_names"},
    "history": {"route_names", "latency", "costs", "images"},  # the strip: thumbnails, latency and cost per route
    "history_csv": {"route_names", "latency", "costs"},
    "zip": {"route_names", "latency", "costs", "sizes", "images", "team_verdict"},
    "side_by_side": {"route_names", "latency", "costs", "sizes", "images"},
    "batch": {"route_names", "latency", "costs", "sizes", "images"},
    "batch_api": {"route_names", "latency", "costs", "sizes", "images"},
}
FETCH = {"page": page, "card": card, "review": review, "api": api, "api_list": api_list, "history": history,
         "history_csv": history_csv, "zip": zip_export, "side_by_side": side_by_side, "batch": batch_page,
         "batch_api": batch_api}
BLIND_BEFORE_VERDICT = {"sizes", "images"}  # of a blind comparison, before one's own verdict
TEAM_VIEWERS = {  # viewer: what they may see of the fox
    "member_after_verdict": ALL,  # alice
    "member_before_verdict": BLIND_BEFORE_VERDICT,  # carol
    "viewer_role": BLIND_BEFORE_VERDICT,  # vic: a viewer gives no verdict, so stays blind
    "other_team": set(),  # bob: 404 everywhere
    "anonymous": set(),  # the login page
}
WHO = {"member_after_verdict": "alice", "member_before_verdict": "carol", "viewer_role": "vic",
       "other_team": "bob", "anonymous": "anonymous"}
# Surfaces that show nothing of the fox to a viewer blind to its routes: the ZIP is refused, and a
# batch row collapses to "blind" (its cells stand in route columns, so even images would tell).
REFUSED_WHEN_MASKED = {"zip", "batch", "batch_api"}
REFUSED_WHILE_HELD = {"side_by_side"}  # nothing to compare before the images are shown


def team_expected(surface, viewer):
    may = TEAM_VIEWERS[viewer]
    if surface in REFUSED_WHEN_MASKED and "route_names" not in may:
        return set()
    return set(may) & set(TEAM_SURFACES[surface])


@pytest.mark.parametrize("viewer", list(TEAM_VIEWERS))
@pytest.mark.parametrize("surface", list(TEAM_SURFACES))
def test_team_surfaces_show_each_viewer_what_the_policy_allows(surface, viewer, fox, held, batch):
    client = Client() if viewer == "anonymous" else client_of(WHO[viewer])
    shown = seen_in(FETCH[surface](client, fox, batch))
    expected = team_expected(surface, viewer)
    assert shown == expected, f"{surface} for {viewer}: shows {sorted(shown)}, should show {sorted(expected)}"
    # Held: no image of the held comparison, on any surface, for anyone.
    text = FETCH[surface](client, held, batch)
    assert "images" not in seen_in(text), f"{surface} shows held images to {viewer}"
    if "route_names" in team_expected(surface, viewer) and surface not in REFUSED_WHILE_HELD:
        assert "route_names" in seen_in(text), f"{surface} hides the held comparison from {viewer}"


# --- the public surfaces: share and vote links ----------------------------------------------------

LINK_VIEWERS = {  # viewer: (link fields, votes before looking, what they may see)
    "view_link_named": ({"blind": False, "show_costs": True}, False, ALL - {"outside_votes"}),
    "view_link_blind_no_costs": ({"blind": True, "show_costs": False}, False,
                                 {"latency", "sizes", "images", "team_verdict"}),
    "vote_link_before_voting": ({"blind": True, "show_costs": True, "kind": "vote"}, False, {"images"}),
    "vote_link_after_voting": ({"blind": True, "show_costs": True, "kind": "vote"}, True,
                               ALL - {"outside_votes"}),
}


def visit(viewer, comparison):
    """(visitor client, link) after the visitor opened the link (and voted, where the row says)."""
    fields, votes, _ = LINK_VIEWERS[viewer]
    link = ShareLink.objects.create(team=comparison.team, comparison=comparison, **fields)
    visitor = Client(REMOTE_ADDR=f"198.51.100.{ShareLink.objects.count()}")
    visitor.get(link.get_absolute_url())
    if votes:
        assert visitor.post(f"/s/{link.token}/c/{comparison.pk}/vote", {"verdict": "tie"}).status_code == 302
    return visitor, link


def share_page(visitor, link, comparison, monkeypatch):
    return _text(visitor.get(link.get_absolute_url()))


def share_original(visitor, link, comparison, monkeypatch):
    """The original file: it tells the image's size and format, so it counts as sizes."""
    image = ResultImage.objects.filter(result__comparison=comparison).first()
    response = visitor.get(f"/s/{link.token}/images/{image.pk}")
    return "123457" if response.status_code == 200 else ""


def share_thumbnail(visitor, link, comparison, monkeypatch):
    image = ResultImage.objects.filter(result__comparison=comparison).first()
    return "IMAGE-FILE" if visitor.get(f"/s/{link.token}/images/{image.pk}/thumbnail").status_code == 200 else ""


def preview(visitor, link, comparison, monkeypatch):
    """The tiles the preview PNG is drawn from: their labels, and IMAGE-TILE for each image drawn."""
    default_storage.delete(link.preview_path(comparison))  # kept in storage, which outlives a test's rows
    drawn = []
    real = share_preview.contact_sheet
    monkeypatch.setattr(share_preview, "contact_sheet", lambda tiles, title: drawn.append(tiles) or real(tiles, title))
    response = visitor.get(f"/s/{link.token}/preview.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    return " ".join(f"{label} {'IMAGE-TILE' if image else status}" for tiles in drawn for label, image, status in tiles)


LINK_SURFACES = {"share_page": ALL, "share_original": {"sizes"}, "share_thumbnail": {"images"},
                 "preview": {"route_names", "images"}}
LINK_FETCH = {"share_page": share_page, "share_original": share_original, "share_thumbnail": share_thumbnail,
              "preview": preview}


def link_expected(surface, viewer):
    fields, _, may = LINK_VIEWERS[viewer]
    if surface == "preview":  # one picture for everyone the link is pasted to: the link decides, not a vote
        may = {"images"} | ({"route_names"} if not fields.get("blind") else set())
    return set(may) & set(LINK_SURFACES[surface])


@pytest.mark.parametrize("viewer", list(LINK_VIEWERS))
@pytest.mark.parametrize("surface", list(LINK_SURFACES))
def test_link_surfaces_show_each_visitor_what_the_policy_allows(surface, viewer, fox, held, monkeypatch):
    visitor, link = visit(viewer, fox)
    shown = seen_in(LINK_FETCH[surface](visitor, link, fox, monkeypatch))
    expected = link_expected(surface, viewer)
    assert shown == expected, f"{surface} for {viewer}: shows {sorted(shown)}, should show {sorted(expected)}"
    visitor, link = visit(viewer.replace("after", "before"), held)  # nobody votes before all finish
    assert "images" not in seen_in(LINK_FETCH[surface](visitor, link, held, monkeypatch))


# --- the attacks of issue 11 item 6 ------------------------------------------------------------------

def test_vote_link_shows_no_figures_before_voting(fox):
    link = ShareLink.objects.create(team=fox.team, comparison=fox, blind=True, kind="vote")
    html = Client().get(link.get_absolute_url()).content.decode()
    assert 'name="verdict"' in html and "/thumbnail" in html  # the images and the vote form
    for absent in ("Latency", "4,322 ms", "6,790 ms", "$0.9877", "777×555", "120.6", "Team verdict", "Wins",
                   "sandbox", "Sandbox"):
        assert absent not in html, absent
    image = ResultImage.objects.filter(result__comparison=fox).first()
    assert Client().get(f"/s/{link.token}/images/{image.pk}").status_code == 404  # the original tells its size


def test_vote_link_reveals_routes_after_voting(fox):
    link = ShareLink.objects.create(team=fox.team, comparison=fox, blind=True, kind="vote")
    visitor = Client()
    visitor.get(link.get_absolute_url())
    fast = fox.results.get(route_key="sandbox:fast")
    assert visitor.post(f"/s/{link.token}/c/{fox.pk}/vote", {"verdict": fast.pk}).status_code == 302
    html = visitor.get(link.get_absolute_url()).content.decode()
    assert "Thank you: you voted" in html
    for present in ("sandbox:fast", "sandbox:steady", "Latency", "4,322 ms", "$0.9877", "777×555", "Team verdict"):
        assert present in html, present
    assert "sandbox:fast" not in Client().get(link.get_absolute_url()).content.decode()  # only to that voter


def test_outside_tally_hides_routes_from_member_without_verdict(fox):
    html = client_of("carol").get(fox.get_absolute_url()).content.decode()
    tally = _row(html, r'<p class="outside-votes[^"]*">.*?</p>')
    assert "Outside votes:" in tally and "1" in tally  # the count is fine
    assert "Sandbox" not in tally and "sandbox" not in tally
    tally = _row(client_of("alice").get(fox.get_absolute_url()).content.decode(), r'<p class="outside-votes[^"]*">.*?</p>')
    assert re.search(r"Sandbox steady [^<]* 1", tally)


def test_member_without_verdict_cannot_make_a_named_share_link(fox, studio):
    carol = client_of("carol")
    for fields in ({"labels": "names", "kind": "view"}, {"labels": "blind", "kind": "vote"}):
        response = carol.post(f"/comparisons/{fox.pk}/share", {"show_costs": "1", **fields}, follow=True)
        assert "in blind review" in response.content.decode()
    response = carol.post(f"/api/comparisons/{fox.pk}/share", {"blind": False}, content_type="application/json")
    assert response.status_code == 403 and "blind" in response.json()["errors"]
    carol.post("/team/switch", {"team": studio.pk})
    carol.post("/team/links", {"labels": "names", "kind": "view", "comparison": [fox.pk]})
    assert not ShareLink.objects.filter(created_by=user("carol")).exclude(blind=True, kind="view").exists()
    carol.post(f"/comparisons/{fox.pk}/share", {"labels": "blind", "kind": "view"})  # a blind view link is fine
    assert ShareLink.objects.filter(created_by=user("carol"), blind=True, kind="view").count() == 1
    # Nor does carol get the address of a named link alice made.
    named = ShareLink.objects.create(team=studio, comparison=fox, blind=False, created_by=user("alice"))
    assert named.token not in carol.get(fox.get_absolute_url()).content.decode()
    assert named.token not in carol.get("/team/links").content.decode()
    assert named.token in client_of("alice").get(fox.get_absolute_url()).content.decode()


def test_held_images_are_held_in_zip_and_preview(held, monkeypatch):
    archive = zipfile.ZipFile(io.BytesIO(b"".join(
        client_of("alice").get(f"/comparisons/{held.pk}/export.zip").streaming_content)))
    assert not [name for name in archive.namelist() if name.startswith("images/")]
    assert all(result["images"] == [] for result in json.loads(archive.read("comparison.json"))["results"])
    link = ShareLink.objects.create(team=held.team, comparison=held)
    assert "IMAGE-TILE" not in preview(Client(), link, held, monkeypatch)
    held.results.filter(status="queued").update(status="failed")  # every route finished: shown now
    assert "IMAGE-TILE" in preview(Client(), link, held, monkeypatch)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(
        client_of("alice").get(f"/comparisons/{held.pk}/export.zip").streaming_content)))
    assert [name for name in archive.namelist() if name.startswith("images/")]


def test_clearing_the_cookie_does_not_give_another_vote(fox):
    link = ShareLink.objects.create(team=fox.team, comparison=fox, blind=True, kind="vote")
    vote_url = f"/s/{link.token}/c/{fox.pk}/vote"
    visitor = Client()
    visitor.get(link.get_absolute_url())
    visitor.post(vote_url, {"verdict": "tie"})
    assert link.external_votes.count() == 1
    visitor.cookies.clear()  # the same person, cookie gone
    visitor.get(link.get_absolute_url())
    refused = visitor.post(vote_url, {"verdict": "all_bad"})
    assert link.external_votes.count() == 1 and refused.status_code == 429
    assert "already been counted" in refused.content.decode()
    forged = Client()  # a made-up ballot is no ballot
    forged.cookies["ipc_ballot"] = "made-up"
    forged.post(vote_url, {"verdict": "tie"}, REMOTE_ADDR="203.0.113.9")
    assert link.external_votes.count() == 1
    other = Client(REMOTE_ADDR="203.0.113.10")  # someone else, elsewhere, still votes
    other.get(link.get_absolute_url())
    other.post(vote_url, {"verdict": "tie"})
    assert link.external_votes.count() == 2 and not fox.verdicts.exclude(user__username="alice").exists()


def test_behind_a_trusted_proxy_each_client_address_votes_once(fox, settings):
    """The limit is per client address as compare/teams/addresses.py reads it: behind one trusted proxy,
    two people are two addresses; one person clearing the cookie is still one."""
    settings.TRUSTED_PROXY_COUNT = 1
    link = ShareLink.objects.create(team=fox.team, comparison=fox, blind=True, kind="vote")
    vote_url = f"/s/{link.token}/c/{fox.pk}/vote"
    for forwarded, expected in (("203.0.113.1", 1), ("203.0.113.1", 1), ("203.0.113.2", 2)):
        visitor = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)  # a fresh cookie jar each time
        visitor.get(link.get_absolute_url())
        visitor.post(vote_url, {"verdict": "tie"})
        assert link.external_votes.count() == expected
