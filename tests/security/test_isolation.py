"""Every URL of the app, tried as bob (a member of another team), with bob's API token, and as an
anonymous visitor, against alice's objects: each answers 404 or the login page and shows none of
alice's data. The URL list is read from Django's resolver, so a new URL that nobody added here
fails the coverage test instead of going untested."""

import pytest
from django.test import Client

from compare.models import Comparison
from compare.sharing.models import ShareLink
from compare.teams.models import ApiToken, Invite

from tests.every_url import LISTS, NOT_OURS, OPERATIONS, SECRET, app_patterns, url_for

pytestmark = pytest.mark.django_db


def test_every_url_of_the_app_is_covered_here(alices):
    missing = [name for name, route in app_patterns()
               if name not in LISTS | NOT_OURS | OPERATIONS and url_for(name, route, alices) is None]
    assert not missing, f"URLs with no isolation check (add them to url_for or LISTS): {missing}"


def leaked(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return SECRET.encode() in body or b"secret fox" in body


def test_bob_gets_404_for_every_object_of_alices_and_sees_nothing_anywhere(alices, bob):
    client = Client()
    client.force_login(bob)
    tried = 0
    for name, route in app_patterns():
        if name in NOT_OURS:
            continue
        url = url_for(name, route, alices) or route.replace("<str:ref>", "x")
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert not leaked(response), (method, url)
            if name in OPERATIONS:
                assert response.status_code in (200, 401, 405), (method, url, response.status_code)
            elif name not in LISTS:
                assert response.status_code in (404, 405), (method, url, response.status_code)
            tried += 1
    assert tried > 100
    # Nothing changed hands: alice's link, invite, token and team are as they were.
    assert ShareLink.objects.get().revoked_at is None and Invite.objects.get().used_at is None
    assert Comparison.objects.count() == 1 and alices["team"].role_of(bob) is None
    assert type(alices["webhook"]).objects.filter(pk=alices["webhook"].pk).exists()


def test_bobs_api_token_opens_nothing_of_alices(alices, bob):
    token = ApiToken.issue(bob)[1]
    client = Client(headers={"Authorization": f"Bearer {token}"})
    for name, route in app_patterns():
        if name.startswith("api") or name in ("image", "thumbnail", "reference", "export"):
            url = url_for(name, route, alices) or route
            response = client.get(url)
            assert not leaked(response), url
            if response.status_code == 302:  # a page that takes no token: the login page, as for anyone
                assert response["Location"].startswith("/login/"), url
            elif name not in LISTS:
                assert response.status_code in (404, 405), (url, response.status_code)  # 405: POST-only, any pk


def test_anonymous_visitors_get_the_login_page_or_404_and_no_data(alices):
    client = Client()
    for name, route in app_patterns():
        if name in NOT_OURS:
            continue
        url = url_for(name, route, alices) or route.replace("<str:ref>", "x")
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert not leaked(response), (method, url)
            if name == "healthz" and method == "get":
                assert response.status_code == 200, (method, url, response.status_code)  # public by design
            elif response.status_code == 302:
                assert response["Location"].startswith("/login/"), (method, url)
            else:
                assert response.status_code in (401, 403, 404, 405), (method, url, response.status_code)
