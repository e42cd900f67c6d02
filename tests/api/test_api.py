import json

import pytest

from compare.models import Comparison

from tests.compare import factories

pytestmark = pytest.mark.django_db


def post(client, body, token=None, raw=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/comparisons", data=raw if raw is not None else json.dumps(body),
                       content_type="application/json", headers=headers)


GOOD = {"prompt": "a red fox", "routes": ["sandbox:fast", "sandbox:slow"],
        "params": {"size": "1024x1024", "quality": "low", "n": 1, "output_format": "png"}}


def test_routes_lists_each_route_with_capabilities_and_price(client, alice_token):
    response = client.get("/api/routes", headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 200
    fast = {r["key"]: r for r in response.json()["routes"]}["sandbox:fast"]
    assert set(fast) >= {"key", "provider", "label", "model", "configured", "sandbox", "capabilities", "price"}
    assert fast["configured"] and fast["sandbox"] and fast["provider"] == "sandbox"
    assert fast["capabilities"]["prompt_limit"] == 32000 and fast["price"]["source"]


def test_a_good_comparison_is_created_with_a_url(client, alice, alice_token):
    response = post(client, GOOD, alice_token)
    assert response.status_code == 201
    body = response.json()
    assert body["url"].endswith(f"/comparisons/{body['id']}/") and body["status"] == "running"
    assert [r["route"] for r in body["results"]] == ["sandbox:fast", "sandbox:slow"]
    assert Comparison.objects.get(pk=body["id"]).created_by == alice


@pytest.mark.parametrize("body,field", [
    ({**GOOD, "prompt": "  "}, "prompt"),
    ({**GOOD, "prompt": "x" * 32_001}, "prompt"),
    ({**GOOD, "routes": []}, "routes"),
    ({**GOOD, "routes": ["nowhere:x"]}, "routes"),
    ({**GOOD, "routes": ["sandbox:steady"], "params": {"size": "1280x720"}}, "routes"),
    ({**GOOD, "params": {"n": 5}}, "n"),
    ({**GOOD, "params": {"quality": "ultra"}}, "quality"),
    ({**GOOD, "params": {"colour": "red"}}, "params"),
])
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_created(client, alice_token, body, field,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, body, alice_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Comparison.objects.exists() and callbacks == []


def test_malformed_json_is_a_400(client, alice_token):
    response = post(client, None, alice_token, raw="{not json")
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["errors"]["__all__"][0]


def test_a_comparison_reads_back_with_every_result_field(client, alice, alice_token):
    from compare.engine import execution

    c = factories.comparison(alice, routes=["sandbox:fast"])
    execution.execute_result(c.results.get().pk)
    body = client.get(f"/api/comparisons/{c.pk}", headers={"Authorization": f"Bearer {alice_token}"}).json()
    assert body["status"] == "done" and body["prompt"] == "a red fox in snow"
    result = body["results"][0]
    assert set(result) >= {"route", "status", "queue_ms", "latency_ms", "cost_usd", "cost_source", "error", "images"}
    assert result["status"] == "succeeded" and result["cost_source"] == "billed"
    image = result["images"][0]
    assert (image["width"], image["height"], image["format"]) == (1024, 1024, "png")
    assert image["url"].startswith("http://testserver/images/")


def test_image_urls_answer_to_the_token_and_the_session_and_to_nobody_else(client, alice, alice_token):
    from compare.engine import execution

    c = factories.comparison(alice, routes=["sandbox:fast"])
    execution.execute_result(c.results.get().pk)
    image = c.results.get().images.get()
    assert client.get(image.get_absolute_url()).status_code == 401
    assert client.get(image.get_absolute_url(), headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = client.get(image.get_thumbnail_url(), headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    client.force_login(alice)
    response = client.get(image.get_absolute_url())
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_no_token_is_a_401_that_says_how_to_get_one(client):
    response = client.get("/api/routes")
    assert response.status_code == 401 and "api_token" in response.json()["error"]
    assert client.get("/api/routes", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_session_write_needs_the_csrf_token(alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert post(browser, GOOD).status_code == 403
    assert browser.get("/api/routes").status_code == 200


def test_wrong_methods_are_405(client, alice_token):
    response = client.delete("/api/routes", headers={"Authorization": f"Bearer {alice_token}"})
    assert response.status_code == 405 and response["Allow"] == "GET"


def test_history_lists_newest_first(client, alice, alice_token):
    first = factories.comparison(alice, prompt="first")
    second = factories.comparison(alice, prompt="second")
    body = client.get("/api/comparisons?q=", headers={"Authorization": f"Bearer {alice_token}"}).json()
    assert [c["id"] for c in body["comparisons"]] == [second.pk, first.pk]
