"""Prompt sets: the built-in sets (read-only data), picking a prompt on the compare page, and a
team's own saved prompts (saved, listed, deleted; another team's -> 404)."""

import re

import pytest
from django.test import Client

from providers.base import parse_size

from compare.batches.models import Prompt, PromptSet
from compare.batches.prompt_sets import builtin_sets, find_set
from compare.teams.models import Membership, Role, Team

from tests.helpers import HTMX

pytestmark = pytest.mark.django_db


def save(client, prompt, **fields):
    return client.post("/prompts/save", {"prompt": prompt, "routes": ["sandbox:fast"], "size": "square", **fields})


@pytest.fixture
def bob_client(bob):
    client = Client()
    client.force_login(bob)
    return client


# --- The built-in sets ---------------------------------------------------------------------------


def test_the_built_in_sets_cover_what_buyers_test_with_four_to_six_prompts_each():
    sets = {s.ref: s for s in builtin_sets()}
    assert set(sets) == {"typography", "multilingual", "photorealism", "multi-object", "product", "formats"}
    refs = [p.ref for s in sets.values() for p in s.prompts]
    assert len(refs) == len(set(refs)), "prompt ids are unique across every set"
    for found in sets.values():
        assert 4 <= len(found.prompts) <= 6, found.ref
        assert found.builtin and found.name and found.description
        for prompt in found.prompts:
            assert prompt.title and len(prompt.text) > 80, prompt.ref


def test_the_multilingual_set_has_real_text_in_each_script():
    text = " ".join(p.text for p in find_set("multilingual", None).prompts)
    scripts = {"Japanese kana": r"[\u3040-\u30ff]", "CJK ideographs": r"[\u4e00-\u9fff]",
               "Devanagari": r"[\u0900-\u097f]", "Bengali": r"[\u0980-\u09ff]", "Latin accents": r"[âüøèûñ]"}
    for name, pattern in scripts.items():
        assert re.search(pattern, text), name


def test_the_formats_set_suggests_portrait_and_landscape_sizes():
    sizes = {parse_size(p.size) for p in find_set("formats", None).prompts}
    assert sizes == {(1024, 1536), (1536, 1024)}
    assert all(not p.size for p in find_set("typography", None).prompts)


def test_built_in_sets_are_read_only_data_not_rows(alice):
    assert PromptSet.objects.count() == 0
    assert isinstance(builtin_sets(), tuple) and isinstance(builtin_sets()[0].prompts, tuple)


# --- Picking a prompt ----------------------------------------------------------------------------


def test_the_compare_page_lists_the_sets_with_links_that_prefill(alice_client):
    html = alice_client.get("/").content.decode()
    assert 'id="prompt-picker"' in html and "Dense text and typography" in html
    assert 'href="/?prompt_from=typo-cafe-menu"' in html
    assert 'hx-get="/prompts/typo-cafe-menu/fill"' in html
    assert '<option value="typography"' in html  # the batch's set choice


def test_prompt_from_prefills_the_prompt_and_its_suggested_size(alice_client):
    html = alice_client.get("/?prompt_from=typo-cafe-menu").content.decode()
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S).group(1)
    assert "THE COPPER KETTLE" in textarea and "&quot;" in textarea  # escaped
    html = alice_client.get("/?prompt_from=format-phone-wallpaper").content.decode()
    assert '<option value="portrait" selected>' in html
    html = alice_client.get("/?prompt_from=format-panorama-coast").content.decode()
    assert '<option value="landscape" selected>' in html


def test_htmx_fills_the_textarea_in_place(alice_client):
    response = alice_client.get("/prompts/lang-tokyo-shopfront/fill", headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith("<textarea") and 'id="id_prompt"' in html
    assert "ラーメン" in html and "data-suggested-size" not in html
    assert 'data-suggested-size="portrait"' in alice_client.get("/prompts/format-event-poster/fill").content.decode()


def test_unknown_prompt_is_404(alice_client):
    assert alice_client.get("/?prompt_from=nope").status_code == 404
    assert alice_client.get("/prompts/saved-999/fill").status_code == 404


# --- Team prompts --------------------------------------------------------------------------------


def test_save_this_prompt_into_a_named_set_and_pick_it_again(alice, alice_client):
    response = save(alice_client, "A tea label reading ORIGIN", save_title="Tea label", save_set="Packaging")
    saved = Prompt.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/?prompt_from=saved-{saved.pk}"
    assert saved.team == Team.personal_for(alice) and saved.prompt_set.name == "Packaging"
    assert saved.created_by == alice and saved.title == "Tea label"
    html = alice_client.get(response["Location"]).content.decode()
    assert "A tea label reading ORIGIN</textarea>" in html
    assert "Packaging" in html and f"prompt_from=saved-{saved.pk}" in html  # in the picker, and runnable
    assert f'<option value="set-{saved.prompt_set.pk}"' in html
    save(alice_client, "Another one")  # no set named: the default set
    assert PromptSet.objects.filter(name="Saved prompts").exists()
    save(alice_client, "Third", save_set="Packaging")
    assert PromptSet.objects.get(name="Packaging").prompts.count() == 2


def test_saving_with_htmx_answers_a_status_and_the_refreshed_picker(alice_client):
    response = alice_client.post("/prompts/save", {"prompt": "neon <b>OPEN</b>", "save_set": "Signs"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "Saved" in html and "Signs" in html
    assert 'id="prompt-picker"' in html and 'hx-swap-oob="outerHTML"' in html
    assert "<b>OPEN</b>" not in html and "&lt;b&gt;" in html
    refused = alice_client.post("/prompts/save", {"prompt": "  "}, headers=HTMX)
    assert "nothing to save" in refused.content.decode() and Prompt.objects.count() == 1


def test_user_text_is_escaped_everywhere_it_shows(alice_client):
    save(alice_client, "<script>alert(1)</script> fox", save_title="<img src=x onerror=alert(1)>",
         save_set="<i>set</i>")
    for url in ("/", "/prompts/"):
        html = alice_client.get(url).content.decode()
        assert "<script>alert(1)" not in html and "<img src=x" not in html and "<i>set</i>" not in html, url


def test_saving_and_deleting_need_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert save(client, "x").status_code == 403
    assert Prompt.objects.count() == 0


def test_a_team_deletes_its_prompts_and_sets(alice_client):
    save(alice_client, "one", save_set="Mine")
    save(alice_client, "two", save_set="Mine")
    first, second = Prompt.objects.all()
    library = alice_client.get("/prompts/").content.decode()
    assert "Mine" in library and f"/prompts/{first.pk}/delete" in library and "Café menu board" in library
    assert alice_client.post(f"/prompts/{first.pk}/delete").status_code == 302
    assert list(Prompt.objects.all()) == [second]
    alice_client.post(f"/prompt-sets/{second.prompt_set.pk}/delete")
    assert not PromptSet.objects.exists() and not Prompt.objects.exists()


def test_another_teams_prompts_and_sets_are_404_and_invisible(alice_client, bob_client, bob):
    save(alice_client, "alice's secret prompt", save_set="Alice only")
    saved = Prompt.objects.get()
    for url in (f"/?prompt_from=saved-{saved.pk}", f"/prompts/saved-{saved.pk}/fill"):
        assert bob_client.get(url).status_code == 404, url
    for url in (f"/prompts/{saved.pk}/delete", f"/prompt-sets/{saved.prompt_set.pk}/delete"):
        assert bob_client.post(url).status_code == 404, url
    assert Prompt.objects.filter(pk=saved.pk).exists()
    for url in ("/", "/prompts/"):
        html = bob_client.get(url).content.decode()
        assert "secret prompt" not in html and "Alice only" not in html
    from compare.teams.models import ApiToken

    token = ApiToken.issue(bob)[1]
    body = bob_client.get("/api/prompt-sets", headers={"Authorization": f"Bearer {token}"}).json()
    assert "Alice only" not in str(body) and {s["id"] for s in body["prompt_sets"]} >= {"typography", "formats"}


def test_a_viewer_cannot_save_or_delete(alice, alice_client, bob, bob_client):
    save(alice_client, "kept", save_set="Shared")
    team = Team.personal_for(alice)
    Membership.objects.create(team=team, user=bob, role=Role.VIEWER)
    bob_client.post("/team/switch", {"team": team.pk})
    assert "kept" in bob_client.get("/prompts/").content.decode()  # viewers see
    response = save(bob_client, "bob's", save_set="Shared")
    assert response.status_code == 302 and Prompt.objects.count() == 1
    bob_client.post(f"/prompts/{Prompt.objects.get().pk}/delete")
    assert Prompt.objects.count() == 1


def test_the_api_lists_built_in_and_team_sets(alice_client, alice_token):
    save(alice_client, "saved via page", save_set="API set")
    body = alice_client.get("/api/prompt-sets", headers={"Authorization": f"Bearer {alice_token}"}).json()
    by_id = {s["id"]: s for s in body["prompt_sets"]}
    assert by_id["typography"]["builtin"] and len(by_id["typography"]["prompts"]) == 6
    own = next(s for s in body["prompt_sets"] if s["name"] == "API set")
    assert not own["builtin"] and own["prompts"][0]["text"] == "saved via page"
    assert {p["size"] for p in by_id["formats"]["prompts"]} == {"1024x1536", "1536x1024"}
