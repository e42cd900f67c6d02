"""What keeps a worker's own work out of the latency it records (BENCHMARKS.md item 4, F2):
images are checked after the call was timed, in processes of their own, and routes are built once
per environment, not for every task."""

import os
import signal
import time

import pytest

from providers import registry
from providers.base import Capabilities, GeneratedImage, ImageResult, Provider, Route

from compare import catalog, images
from compare.engine import execution
from compare.models import Result, Status
from compare.teams import crypto
from compare.teams.models import Team, TeamCredential

from tests.compare import factories
from tests.helpers import image_bytes


class Instant(Provider):
    slug = "instant"
    name = "Instant"

    def generate(self, request):
        return ImageResult(images=(GeneratedImage(data=image_bytes(1024, 1024)),))


@pytest.mark.django_db
def test_checking_and_storing_images_is_not_part_of_the_latency(alice, monkeypatch, settings):
    settings.IMAGE_PROCESSES = 0  # in this thread, so that the slow check below applies
    route = Route("sandbox:fast", Instant, "m", "Instant", Capabilities(), {})
    monkeypatch.setattr(catalog, "get_route", lambda key, team=None, **_: route)
    real = images._inspect

    def slow_inspect(*args):
        time.sleep(0.5)
        return real(*args)

    monkeypatch.setattr(images, "_inspect", slow_inspect)
    result = factories.comparison(alice, routes=["sandbox:fast"]).results.get()
    execution.execute_result(result.pk, worker="w1")
    result = Result.objects.get(pk=result.pk)
    assert result.status == Status.SUCCEEDED and result.images.get().width == 1024
    assert result.latency_ms < 500


@pytest.fixture
def image_processes(settings):
    settings.IMAGE_PROCESSES = 1
    images.start_image_processes()
    yield images._executor(1)


def test_images_are_checked_in_the_image_processes_with_the_same_answer(image_processes):
    data = image_bytes(1200, 600, "JPEG")
    [checked] = images.check_images([data])
    inline = images.check_image(data)
    assert (checked.width, checked.height, checked.format, checked.sha256) == (1200, 600, "jpeg", inline.sha256)
    assert checked.data is data and checked.thumbnail == inline.thumbnail
    assert {p.pid for p in image_processes._processes.values()} and os.getpid() not in image_processes._processes


def test_a_bad_image_is_refused_through_the_image_processes(image_processes):
    with pytest.raises(images.ImageRejected, match="not an image"):
        images.check_images([image_bytes(), b"<html>rate limited</html>"])


def test_a_killed_image_process_is_replaced(image_processes):
    for pid in list(image_processes._processes):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    [checked] = images.check_images([image_bytes(300, 200)])
    assert checked.width == 300
    assert images._executor(1) is not image_processes


def test_no_image_processes_means_checking_in_the_calling_thread(settings, monkeypatch):
    settings.IMAGE_PROCESSES = 0
    monkeypatch.setattr(images, "_executor", lambda processes, kind="store": pytest.fail("no pool expected"))
    assert images.check_images([image_bytes(10, 20)])[0].height == 20


@pytest.mark.django_db
def test_routes_are_built_once_per_environment_and_again_when_a_team_changes_them(alice, monkeypatch):
    catalog._routes_cache.clear()
    built = []
    real = registry.all_routes
    monkeypatch.setattr(registry, "all_routes", lambda env: built.append(1) or real(env))
    team = Team.personal_for(alice)

    first = catalog.available_routes(team)
    catalog.get_route("sandbox:fast", team)
    catalog.route_choices(team=team)
    assert len(built) == 1 and "compatible:mine" not in first

    config = '[{"name": "mine", "base_url": "http://127.0.0.1:9/v1", "model": "m"}]'
    TeamCredential.objects.create(team=team, name="COMPATIBLE_ROUTES", ciphertext=crypto.encrypt(config),
                                  last4=config[-4:])
    assert "compatible:mine" in catalog.available_routes(team)
    assert catalog.get_route("compatible:mine", team).model == "m"
    assert len(built) == 2
    assert "compatible:mine" not in catalog.available_routes(None)  # other teams: unchanged

    TeamCredential.objects.filter(team=team).delete()
    with pytest.raises(registry.UnknownRoute):
        catalog.get_route("compatible:mine", team)


def test_the_cached_routes_cannot_be_changed_through_an_answer():
    routes = catalog.routes_for({})
    routes.pop("sandbox:fast")
    assert "sandbox:fast" in catalog.routes_for({})


def test_images_are_checked_in_the_thread_when_no_process_can_be_started(settings, monkeypatch):
    settings.IMAGE_PROCESSES = 1

    def cannot_start(processes, kind="store"):
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(images, "_executor", cannot_start)
    assert images.check_images([image_bytes(30, 40)])[0].width == 30
