import os
import secrets
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.test import Client

from compare.teams.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_failed_logins_are_limited_per_username_and_address(alice, bob, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        assert login(client, "alice", "wrong").status_code == 200
    refused = login(client, "alice", "alice-password")  # even the right password, for now
    assert refused.status_code == 200 and "Too many failed attempts" in refused.content.decode()
    assert login(Client(), "bob", "bob-password").status_code == 302  # others are not locked out


def test_a_user_creates_and_revokes_api_tokens(alice, bob):
    client = Client()
    client.force_login(alice)
    html = client.post("/tokens/new").content.decode()
    token = html.split("copy it now):</strong> <code>")[1].split("</code>")[0]
    assert client.get("/api/routes", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    row = ApiToken.objects.get(user=alice)
    assert token not in client.get("/tokens/").content.decode()  # shown once only
    other = Client()
    other.force_login(bob)
    assert other.post(f"/tokens/{row.pk}/revoke").status_code == 404
    client.post(f"/tokens/{row.pk}/revoke")
    assert Client().get("/api/routes", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_token_has_a_name_saying_what_it_is_for(alice, capsys):
    from django.core.management import call_command

    client = Client()
    client.force_login(alice)
    client.post("/tokens/new", {"name": "  CI   <judge>  ", "expires_in_days": ""})
    assert ApiToken.objects.get(user=alice).name == "CI <judge>"
    page = client.get("/tokens/").content.decode()
    assert "CI &lt;judge&gt;" in page and "<judge>" not in page  # escaped, one line
    call_command("api_token", "alice", "--name", "nightly benchmark")
    assert set(ApiToken.objects.filter(user=alice).values_list("name", flat=True)) == {"CI <judge>", "nightly benchmark"}


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "VAR_DIR")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), "DEBUG": "false",
                "SECRET_KEY": secrets.token_urlsafe(60), "SECURE": "true", "ALLOWED_HOSTS": "compare.example.com",
                "EMAIL_URL": "smtp+tls://mail.example.com:587"})  # notifications need a real mail server
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
