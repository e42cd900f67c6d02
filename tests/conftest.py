import os

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: starts the real stack (web server + Celery worker processes)")
    config.addinivalue_line("markers", "services: needs PostgreSQL and Redis on 127.0.0.1 (skipped, with the reason, where absent)")
    config.addinivalue_line("markers", "browser: needs Debian's Chromium at /usr/bin/chromium")


def skip_or_fail(reason, require_env):
    """Skip with a visible reason; in CI (where the variable is set) a missing service is a failure."""
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{reason} (and {require_env}=1 says it must be there)")
    pytest.skip(reason)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def alice_token(alice):
    from compare.models import ApiToken

    return ApiToken.issue(alice)[1]
