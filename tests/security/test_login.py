"""Logins, sessions and API tokens under attack: every spelling of a name, every login page, one
password over many names and a forged X-Forwarded-For all meet the same limits; idle sessions and
expired tokens open nothing."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from compare.teams.models import ApiToken

pytestmark = pytest.mark.django_db

REFUSED = "Too many failed attempts"


@pytest.fixture(autouse=True)
def limits(settings):
    cache.clear()
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    settings.TRUSTED_PROXY_COUNT = 0
    yield
    cache.clear()


def login(client, username, password, path="/login/", **headers):
    return client.post(path, {"username": username, "password": password}, headers=headers)


def logged_in(response):
    return response.status_code == 302 and "/login/" not in response["Location"]


def test_unicode_spelling_of_a_username_shares_its_lockout(alice):
    client = Client()
    fullwidth = "ａｌｉｃｅ"  # NFKC makes it "alice": the login form signs it in as alice
    for name in ("alice", fullwidth, " alice "):
        assert not logged_in(login(client, name, "wrong"))
    refused = login(client, fullwidth, "alice-password")
    assert not logged_in(refused) and REFUSED in refused.content.decode()
    assert not logged_in(login(client, "alice", "alice-password"))


def test_admin_login_is_limited(alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client = Client()
    for _ in range(3):
        assert not logged_in(login(client, "alice", "wrong", path="/admin/login/?next=/admin/"))
    refused = login(client, "alice", "alice-password", path="/admin/login/?next=/admin/")
    assert not logged_in(refused) and REFUSED in refused.content.decode()
    assert client.get("/admin/").status_code == 302  # not in
    assert REFUSED in login(client, "alice", "alice-password").content.decode()  # one count for both pages


def test_one_password_sprayed_over_many_names_is_slowed(alice, bob):
    client = Client()
    for n in range(6):
        assert not logged_in(login(client, f"user{n}", "Summer2026!"))  # one try per name: under the name limit
    refused = login(client, "bob", "bob-password")
    assert not logged_in(refused) and REFUSED in refused.content.decode()
    assert logged_in(login(Client(REMOTE_ADDR="198.51.100.7"), "bob", "bob-password"))  # other visitors are not


def test_forwarded_for_is_ignored_without_trusted_proxies(alice, bob):
    client = Client()  # every request from 127.0.0.1, each claiming another address
    for n in range(6):
        assert not logged_in(login(client, f"user{n}", "Summer2026!", X_Forwarded_For=f"203.0.113.{n}"))
    refused = login(client, "bob", "bob-password", X_Forwarded_For="203.0.113.99")
    assert not logged_in(refused) and REFUSED in refused.content.decode()


def test_client_address_is_taken_from_the_trusted_proxy(alice, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="10.0.0.2")  # every visitor comes through this proxy
    for n in range(3):  # what the attacker puts left of the proxy's entry is theirs: it changes nothing
        assert not logged_in(login(proxy, "alice", "wrong", X_Forwarded_For=f"198.51.100.{n}, 203.0.113.5"))
    refused = login(proxy, "alice", "alice-password", X_Forwarded_For="198.51.100.77, 203.0.113.5")
    assert not logged_in(refused) and REFUSED in refused.content.decode()
    # alice herself, from another address behind the same proxy, is not locked out by the attacker
    assert logged_in(login(proxy, "alice", "alice-password", X_Forwarded_For="192.0.2.44"))


def test_expired_token_is_refused(alice, monkeypatch):
    client = Client()
    client.force_login(alice)
    html = client.post("/tokens/new", {"expires_in_days": "7"}).content.decode()
    token = html.split("copy it now):</strong> <code>")[1].split("</code>")[0]
    bearer = {"Authorization": f"Bearer {token}"}
    assert Client().get("/api/routes", headers=bearer).status_code == 200
    later = timezone.now() + timedelta(days=8)
    monkeypatch.setattr(timezone, "now", lambda: later)
    response = Client().get("/api/routes", headers=bearer)
    assert response.status_code == 401 and "expired" in response.json()["error"]
    assert Client().get(f"/images/{1}", headers=bearer).status_code == 401


def test_a_token_lifetime_not_offered_is_a_form_error(alice):
    client = Client()
    client.force_login(alice)
    response = client.post("/tokens/new", {"expires_in_days": "100000"})
    assert response.status_code == 200 and "choose one of the offered lifetimes" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_api_token_command_sets_an_expiry(alice, capsys):
    from django.core.management import call_command

    call_command("api_token", "alice", "--expires-in-days", "30")
    row = ApiToken.objects.get(user=alice)
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    assert ApiToken.objects.user_for(capsys.readouterr().out.strip()) == alice


def test_idle_session_expires(alice, settings, monkeypatch):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 3600
    client = Client()
    assert logged_in(login(client, "alice", "alice-password"))
    assert client.get("/comparisons/").status_code == 200
    start = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(minutes=50))
    assert client.get("/comparisons/").status_code == 200  # in use: the session lives on
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(minutes=100))
    assert client.get("/comparisons/").status_code == 200  # 50 minutes after the last use: still fine
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(minutes=100 + 61))
    response = client.get("/comparisons/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_user_changes_their_password(alice):
    client, elsewhere = Client(), Client()
    client.force_login(alice)
    elsewhere.force_login(alice)
    assert b"Change your password" in client.get("/password/").content
    response = client.post("/password/", {"old_password": "alice-password", "new_password1": "a-new-long-secret-9",
                                          "new_password2": "a-new-long-secret-9"})
    assert response.status_code == 302 and response["Location"] == "/password/done"
    assert client.get("/comparisons/").status_code == 200  # this session stays
    assert elsewhere.get("/comparisons/").status_code == 302  # the others end
    assert logged_in(login(Client(), "alice", "a-new-long-secret-9"))
    assert not logged_in(login(Client(), "alice", "alice-password"))


def test_the_password_change_form_is_no_way_around_the_limits(alice):
    client = Client()
    client.force_login(alice)
    for n in range(3):
        client.post("/password/", {"old_password": f"guess{n}", "new_password1": "a-new-long-secret-9",
                                   "new_password2": "a-new-long-secret-9"})
    response = client.post("/password/", {"old_password": "alice-password", "new_password1": "a-new-long-secret-9",
                                          "new_password2": "a-new-long-secret-9"})
    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert not logged_in(login(Client(), "alice", "alice-password"))  # the guesses counted for logins too
    alice.refresh_from_db()
    assert alice.check_password("alice-password")


LIMITS_SCRIPT = """
import sys
import django
django.setup()
from django.test import RequestFactory
from compare.teams.accounts import LoginLimits
request = RequestFactory().post("/login/", REMOTE_ADDR=sys.argv[1])
for _ in range(3):
    LoginLimits(request, sys.argv[2]).failed()
"""


@pytest.mark.services
def test_failures_in_one_process_lock_the_name_in_another(alice):
    """With CACHE_URL (Redis) the counts are shared by every web process. Only this test's keys are
    touched: the Redis database is shared, so it is never cleared."""
    import os
    import subprocess
    import sys
    import uuid

    from django.test import RequestFactory, override_settings

    from compare.teams.accounts import LoginLimits
    from tests.helpers import skip_or_fail
    from providers.testing.stack import reachable

    if not reachable("127.0.0.1", 6379):
        skip_or_fail("Redis is not reachable at 127.0.0.1:6379", "REQUIRE_SERVICES")
    url = "redis://127.0.0.1:6379/0"
    address = f"fd00::{uuid.uuid4().int % 0xffff:x}"  # an address of this test alone
    env = {**os.environ, "CACHE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                               "LOCATION": url}}):
        limits = LoginLimits(RequestFactory().post("/", REMOTE_ADDR=address), "alice")
        try:
            done = subprocess.run([sys.executable, "-c", LIMITS_SCRIPT, address, "ａｌｉｃｅ"], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            refused = login(Client(REMOTE_ADDR=address), "alice", "alice-password")
            assert not logged_in(refused) and REFUSED in refused.content.decode()
        finally:
            cache.delete_many(list(limits.limits))
