"""The review through the JSON API (thumbs, verdicts, comments, review mode), blind as the pages:
a blind comparison names no route to a member until their own verdict, and hides the team's
votes and comments until then. alice (owner) and carol (member) of "Studio"; vic is its viewer."""

import json

import pytest

from compare.review.models import Comment, Rating, Verdict
from compare.teams.models import ApiToken, Team

from tests.compare.factories import THREE_ROUTES, finished
from tests.helpers import user

pytestmark = pytest.mark.django_db


class Api:
    """A token client of one user."""

    def __init__(self, client, username):
        self.client = client
        self.token = ApiToken.issue(user(username))[1]

    def call(self, method, url, body=None, raw=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return getattr(self.client, method)(url, data=data, content_type="application/json",
                                            headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture
def api(client, studio):
    return lambda name: Api(client, name)


def test_a_member_thumbs_a_result_changes_it_and_takes_it_back(api, studio):
    fox = finished(studio)
    fast = fox.results.get(route_key="sandbox:fast")
    carol = api("carol")
    response = carol.call("post", f"/api/results/{fast.pk}/rating", {"thumb": "up"})
    assert response.status_code == 200
    assert response.json()["my_rating"] == "up" and response.json()["ratings"] == [{"user": "carol", "value": "up"}]
    assert carol.call("post", f"/api/results/{fast.pk}/rating", {"thumb": "up"}).json()["my_rating"] == "up"  # sets, no toggle
    assert carol.call("post", f"/api/results/{fast.pk}/rating", {"thumb": "down"}).json()["my_rating"] == "down"
    assert list(Rating.objects.values_list("value", flat=True)) == [-1]
    assert carol.call("post", f"/api/results/{fast.pk}/rating", {"thumb": None}).json()["my_rating"] is None
    assert not Rating.objects.exists()


@pytest.mark.parametrize("body", [{"thumb": "sideways"}, {"thumb": 1}, {"thumb": ["up"]}, {}, {"value": "up"}, []])
def test_a_bad_thumb_is_a_400_naming_thumb(api, studio, body):
    fast = finished(studio).results.first()
    response = api("carol").call("post", f"/api/results/{fast.pk}/rating", body)
    assert response.status_code == 400 and "thumb" in response.json()["errors"]
    assert not Rating.objects.exists()


def test_a_running_result_cannot_be_rated(api, studio):
    running = finished(studio, run=False).results.first()
    response = api("alice").call("post", f"/api/results/{running.pk}/rating", {"thumb": "up"})
    assert response.status_code == 400 and response.json()["errors"]["thumb"] == ["Rate a result once it has finished."]


@pytest.mark.parametrize("choice,kind", [("tie", "tie"), ("all_bad", "all_bad"), ("winner", "winner")])
def test_a_member_gives_each_kind_of_verdict_and_again_replaces_it(api, studio, alice, choice, kind):
    fox = finished(studio)
    steady = fox.results.get(route_key="sandbox:steady")
    alice_api = api("alice")
    response = alice_api.call("post", f"/api/comparisons/{fox.pk}/verdict",
                              {"winner": steady.pk if choice == "winner" else choice})
    assert response.status_code == 200 and response.json()["id"] == fox.pk
    found = Verdict.objects.get(user=alice)
    assert found.kind == kind and found.winner_id == (steady.pk if kind == "winner" else None)
    alice_api.call("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": "tie"})
    assert Verdict.objects.get().kind == "tie"


@pytest.mark.parametrize("winner", ["0", True, None, "nobody", 10**9, {"id": 1}])
def test_a_bad_winner_is_a_400_naming_winner(api, studio, winner):
    fox = finished(studio)
    response = api("alice").call("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": winner})
    assert response.status_code == 400 and "winner" in response.json()["errors"]
    assert not Verdict.objects.exists()


def test_a_failed_or_other_comparisons_result_cannot_win(api, studio):
    fox, other = finished(studio), finished(studio)
    response = api("alice").call("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": other.results.first().pk})
    assert response.status_code == 400
    assert response.json()["errors"]["winner"] == ["The winner must be one of this comparison's succeeded results."]


def test_blind_the_review_names_no_route_until_the_users_own_verdict(api, studio):
    fox = finished(studio, blind=True)
    carol, alice_api = api("carol"), api("alice")
    steady = fox.results.get(route_key="sandbox:steady")
    alice_api.call("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": steady.pk})
    alice_api.call("post", f"/api/comparisons/{fox.pk}/comments", {"text": "steady wins, obviously"})
    alice_api.call("post", f"/api/results/{steady.pk}/rating", {"thumb": "up"})

    before = carol.call("get", f"/api/comparisons/{fox.pk}/review")
    assert before.status_code == 200
    state = before.json()
    text = before.content.decode()
    assert "sandbox:" not in text and "Steady" not in text and "steady wins" not in text
    assert state["masked"] and state["verdicts"] == [] and state["hidden_verdicts"] == 1
    assert state["comments"] == [] and state["hidden_comments"] == 1
    assert [r["blind_label"] for r in state["results"]] == ["A", "B", "C"]
    assert all(r["route"] is None and r["ratings"] == [] for r in state["results"])
    # A thumb answer stays blind too.
    thumbed = carol.call("post", f"/api/results/{steady.pk}/rating", {"thumb": "down"})
    assert thumbed.json()["route"] is None and thumbed.json()["ratings"] == [{"user": "carol", "value": "down"}]
    assert "sandbox:" not in thumbed.content.decode()

    revealed = carol.call("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": "tie"})
    assert {r["route"] for r in revealed.json()["results"]} == set(THREE_ROUTES)
    after = carol.call("get", f"/api/comparisons/{fox.pk}/review").json()
    assert not after["masked"] and {v["user"] for v in after["verdicts"]} == {"alice", "carol"}
    assert [c["text"] for c in after["comments"]] == ["steady wins, obviously"]
    assert after["my_verdict"] == {"kind": "tie", "winner": None}


def test_held_images_take_no_verdict_until_every_route_has_finished(api, studio):
    fox = finished(studio, run=False, hold_images_until_done=True)
    response = api("alice").call("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": "tie"})
    assert response.status_code == 400 and "held" in response.json()["errors"]["winner"][0]


def test_comments_are_kept_as_plain_text_and_bad_ones_are_a_400(api, studio):
    fox = finished(studio)
    carol = api("carol")
    response = carol.call("post", f"/api/comparisons/{fox.pk}/comments", {"text": "  <b>nice</b>  "})
    assert response.status_code == 201 and response.json()["text"] == "<b>nice</b>"
    assert response.json()["user"] == "carol"
    for body in ({"text": "   "}, {"text": "x" * 4001}, {"text": 5}, {}, {"text": "a", "extra": 1}):
        bad = carol.call("post", f"/api/comparisons/{fox.pk}/comments", body)
        assert bad.status_code == 400 and "text" in bad.json()["errors"], body
    assert list(Comment.objects.values_list("text", flat=True)) == ["<b>nice</b>"]
    malformed = carol.call("post", f"/api/comparisons/{fox.pk}/comments", raw="{nope")
    assert malformed.status_code == 400


def test_a_member_switches_the_review_mode(api, studio):
    fox = finished(studio)
    response = api("carol").call("put", f"/api/comparisons/{fox.pk}/review-mode",
                                 {"blind": True, "hold_images_until_done": False})
    assert response.status_code == 200 and response.json()["blind"] and response.json()["masked"]
    fox.refresh_from_db()
    assert fox.blind and not fox.hold_images_until_done
    bad = api("carol").call("put", f"/api/comparisons/{fox.pk}/review-mode", {"blind": "on", "hold_images_until_done": 0})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"blind", "hold_images_until_done"}


def test_a_viewer_sees_the_review_but_cannot_change_it(api, studio):
    fox = finished(studio)
    vic = api("vic")
    result = fox.results.first()
    assert vic.call("get", f"/api/comparisons/{fox.pk}/review").json()["can_review"] is False
    for method, url, body in (("post", f"/api/results/{result.pk}/rating", {"thumb": "up"}),
                              ("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": "tie"}),
                              ("post", f"/api/comparisons/{fox.pk}/comments", {"text": "hi"}),
                              ("put", f"/api/comparisons/{fox.pk}/review-mode",
                               {"blind": True, "hold_images_until_done": True})):
        assert vic.call(method, url, body).status_code == 403, url
    assert not Rating.objects.exists() and not Verdict.objects.exists() and not Comment.objects.exists()
    fox.refresh_from_db()
    assert not fox.blind


def test_a_batch_is_cancelled_through_the_api_by_members_only(api, studio, alice):
    from compare.batches.planning import create_batch, plan_batch
    from compare.batches.prompt_sets import find_set
    from compare.forms import form_from_json

    form, errors = form_from_json({"prompt": "(each)", "routes": ["sandbox:fast", "sandbox:steady"], "team": studio.pk,
                                   "params": {"size": "1024x1024", "quality": "low"}}, alice)
    assert not errors and form.is_valid(), form.errors
    prompt_set = find_set("typography", studio)
    planned = plan_batch(team=studio, user=alice, prompt_set=prompt_set, data=form.data, use_prompt_sizes=False)
    batch = create_batch(user=alice, team=studio, prompt_set=prompt_set, planned=planned, name="",
                                 use_prompt_sizes=False)
    cells = len(prompt_set.prompts) * 2
    assert api("vic").call("post", f"/api/batches/{batch.pk}/cancel").status_code == 403
    response = api("carol").call("post", f"/api/batches/{batch.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["cancel"] == {"cancelled": cells, "stopping": 0} and response.json()["status"] == "done"
    again = api("carol").call("post", f"/api/batches/{batch.pk}/cancel")
    assert again.json()["cancel"] == {"cancelled": 0, "stopping": 0}
    listed = api("carol").call("get", f"/api/batches?team={studio.pk}").json()["batches"]
    assert [(b["id"], b["prompts"], b["cells"], b["running"], b["status"]) for b in listed] == \
        [(batch.pk, len(prompt_set.prompts), cells, 0, "done")]


def test_the_batch_list_counts_cells_still_running(api, studio, alice):
    from compare.batches.planning import create_batch, plan_batch
    from compare.batches.prompt_sets import find_set
    from compare.forms import form_from_json

    form, _ = form_from_json({"prompt": "(each)", "routes": ["sandbox:fast"], "team": studio.pk,
                              "params": {"quality": "low"}}, alice)
    assert form.is_valid(), form.errors
    prompt_set = find_set("typography", studio)
    planned = plan_batch(team=studio, user=alice, prompt_set=prompt_set, data=form.data,
                                 use_prompt_sizes=False)
    create_batch(user=alice, team=studio, prompt_set=prompt_set, planned=planned, use_prompt_sizes=False)
    listed = api("alice").call("get", f"/api/batches?team={studio.pk}").json()["batches"]
    assert len(listed) == 1 and listed[0]["status"] == "running"
    assert listed[0]["running"] == listed[0]["cells"] == listed[0]["prompts"] == len(prompt_set.prompts)


def test_another_teams_member_gets_404_with_each_method_and_changes_nothing(client, studio, bob):
    fox = finished(studio)
    result = fox.results.first()
    token = ApiToken.issue(bob)[1]
    for method, url, body in (("get", f"/api/comparisons/{fox.pk}/review", None),
                              ("post", f"/api/results/{result.pk}/rating", {"thumb": "up"}),
                              ("post", f"/api/comparisons/{fox.pk}/verdict", {"winner": "tie"}),
                              ("post", f"/api/comparisons/{fox.pk}/comments", {"text": "hi"}),
                              ("put", f"/api/comparisons/{fox.pk}/review-mode",
                               {"blind": True, "hold_images_until_done": True})):
        response = getattr(client, method)(url, data=None if body is None else json.dumps(body),
                                           content_type="application/json", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 404 and b"fox" not in response.content, url
        assert getattr(client, method)(url).status_code == 401, url  # logged out
    assert not Rating.objects.exists() and not Verdict.objects.exists() and not Comment.objects.exists()
    fox.refresh_from_db()
    assert not fox.blind


def test_another_teams_id_in_team_is_a_json_404(client, alice_token, bob):
    others = Team.personal_for(bob).pk
    for url in ("/api/routes", "/api/prompt-sets", "/api/batches", "/api/leaderboard"):
        response = client.get(url, {"team": others}, headers={"Authorization": f"Bearer {alice_token}"})
        assert response.status_code == 404 and response.json() == {"error": "Not found."}, url


def test_an_id_too_large_for_a_row_is_a_json_404(client, alice_token):
    response = client.get(f"/api/comparisons/{2**70}", headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 404 and response.json() == {"error": "Not found."}
    created = client.post("/api/comparisons", json.dumps({"prompt": "a fox", "routes": ["sandbox:fast"],
                                                          "team": 2**70}),
                          content_type="application/json", headers={"Authorization": f"Bearer {alice_token}"})
    assert created.status_code == 400 and "team" in created.json()["errors"]


def test_prompts_are_saved_into_a_set_and_deleted_by_members_of_the_team_only(api, studio, bob, client):
    from compare.batches.models import Prompt, PromptSet

    carol = api("carol")
    saved = carol.call("post", f"/api/prompts?team={studio.pk}", {"text": "  a neon sign  ", "set": "Signs"})
    assert saved.status_code == 201
    body = saved.json()
    assert body["prompt"]["text"] == "a neon sign" and body["prompt_set"]["name"] == "Signs"
    assert [p["text"] for p in body["prompt_set"]["prompts"]] == ["a neon sign"]
    default = carol.call("post", f"/api/prompts?team={studio.pk}", {"text": "a fox"}).json()
    assert default["prompt_set"]["name"] != "Signs"
    for bad in ({"text": ""}, {"text": 3}, {"text": "x", "set": 5}, {"text": "x", "colour": "red"}, ["x"]):
        response = carol.call("post", f"/api/prompts?team={studio.pk}", bad)
        assert response.status_code == 400, bad
    assert Prompt.objects.count() == 2
    assert api("vic").call("post", f"/api/prompts?team={studio.pk}", {"text": "x"}).status_code == 403
    prompt_id, set_id = body["prompt"]["id"], int(body["prompt_set"]["id"].removeprefix("set-"))
    for url in (f"/api/prompts/{prompt_id}", f"/api/prompt-sets/{set_id}"):
        assert api("vic").call("delete", url).status_code == 403
        bobs = client.delete(url, headers={"Authorization": f"Bearer {ApiToken.issue(bob)[1]}"})
        assert bobs.status_code == 404 and b"neon" not in bobs.content
        assert client.delete(url).status_code == 401
    assert carol.call("delete", f"/api/prompts/{prompt_id}").status_code == 204
    assert carol.call("delete", f"/api/prompt-sets/{set_id}").status_code == 204
    assert not PromptSet.objects.filter(name="Signs").exists()
    assert carol.call("delete", f"/api/prompt-sets/{set_id}").status_code == 404


def test_the_history_list_masks_each_blind_comparison_by_the_readers_own_verdict(api, studio, alice):
    """GET /api/comparisons: a blind comparison's routes for whoever has given it a verdict, none
    for the others (a viewer included), whatever else is on the page; in a number of queries that
    does not grow with the page (it read two per comparison before)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compare.review.models import give_verdict

    judged, unjudged, open_one = (finished(studio, prompt=p, blind=b) for p, b in
                                  (("judged", True), ("unjudged", True), ("open", False)))
    give_verdict(judged, user("carol"), "tie")
    carol, vic = api("carol"), api("vic")

    def routes_by_prompt(reader):
        with CaptureQueriesContext(connection) as queries:
            body = reader.call("get", "/api/comparisons").json()
        return {c["prompt"]: c["routes"] for c in body["comparisons"]}, len(queries)

    seen, small = routes_by_prompt(carol)
    assert seen == {"judged": list(THREE_ROUTES), "unjudged": None, "open": list(THREE_ROUTES)}
    seen, _ = routes_by_prompt(vic)
    assert seen == {"judged": None, "unjudged": None, "open": list(THREE_ROUTES)}
    # A second team of carol's on the same page, and more comparisons of each kind.
    other = Team.objects.create(name="Other")
    other.memberships.create(user=user("carol"), role="owner")
    for n in range(3):
        finished(other, prompt=f"other {n}", blind=n == 0)
        finished(studio, prompt=f"more {n}", blind=n == 1)
    seen, large = routes_by_prompt(carol)
    assert seen["other 0"] is None and seen["other 1"] == list(THREE_ROUTES) and seen["more 1"] is None
    assert seen["judged"] == list(THREE_ROUTES) and seen["unjudged"] is None
    assert large <= small + 1, (small, large)  # one more at most: the second team's role
