import pytest

from compare.teams.models import Membership, Role, Team

from tests.compare.factories import finished
from tests.every_url import one_of_everything


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: starts the real stack (web server + Celery worker processes)")
    config.addinivalue_line("markers", "services: needs PostgreSQL and Redis on 127.0.0.1 (skipped, with the reason, where absent)")
    config.addinivalue_line("markers", "browser: needs Debian's Chromium at /usr/bin/chromium")


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
    from compare.teams.models import ApiToken

    return ApiToken.issue(alice)[1]


@pytest.fixture
def studio(alice, django_user_model):
    """The Studio team: alice owns it, carol is a member, vic a viewer."""
    team = Team.objects.create(name="Studio")
    Membership.objects.create(team=team, user=alice, role=Role.OWNER)
    for name, role in (("carol", Role.MEMBER), ("vic", Role.VIEWER)):
        Membership.objects.create(team=team, user=django_user_model.objects.create_user(name), role=role)
    return team


@pytest.fixture
def alices(alice):
    """Alice's team with one of everything (tests/every_url.py)."""
    return one_of_everything(alice)


@pytest.fixture
def fox(studio):
    """A comparison of Studio's on three sandbox routes, every one run to the end."""
    return finished(studio)
