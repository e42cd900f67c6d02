"""budget.threshold: once at 80 % and once at 100 % of a team's monthly budget, each at most once
a month, counted as the budget is (spent and reserved)."""

from decimal import Decimal

import pytest

from compare.engine import execution
from compare.notifications import notifications
from compare.notifications.models import EmailSubscription, NotificationEvent
from compare.teams.models import Team, TeamPrice

from tests.compare import factories

pytestmark = pytest.mark.django_db


def thresholds():
    return list(NotificationEvent.objects.filter(kind="budget.threshold").order_by("id")
                .values_list("data__threshold_percent", flat=True))


@pytest.fixture
def listening(alice):
    """Alice gets budget.threshold by e-mail (an event nobody listens to is not recorded)."""
    alice.email = "alice@example.org"
    alice.save()
    team = Team.personal_for(alice)
    EmailSubscription.objects.create(team=team, user=alice, event="budget.threshold")
    return team


def test_80_and_100_percent_fire_once_each(alice, listening, mailoutbox, tasks_inline,
                                           django_capture_on_commit_callbacks):
    team = listening
    team.monthly_budget_usd = Decimal("1.00")
    team.save()
    TeamPrice.objects.create(team=team, route_key="sandbox:fast", usd_per_image=Decimal("0.20"), entered_by=alice)
    made = []
    for expected in ([], [], [], [80], [80, 100]):  # $0.20 reserved by each submit
        with django_capture_on_commit_callbacks(execute=True):
            made.append(factories.comparison(alice, routes=("sandbox:fast",)))
        assert thresholds() == expected
    first = NotificationEvent.objects.get(kind="budget.threshold", data__threshold_percent=80).data
    assert first["monthly_usd"] == "1.0000" and first["counted_usd"] == "0.8000" and first["team"]["id"] == team.pk
    assert first["month"] == notifications.timezone.now().strftime("%Y-%m")

    # Results ending (their reservation becoming their cost) and further checks fire nothing again.
    with django_capture_on_commit_callbacks(execute=True):
        for comparison in made:
            for result in comparison.results.all():
                execution.execute_result(result.pk)
    notifications.check_budget(team)
    assert thresholds() == [80, 100]
    assert [m.subject for m in mailoutbox] == [
        f"[{team.name}] {team.name} reached {p} % of its monthly budget: ${c} of $1.00 spent or reserved in "
        f"{first['month']}" for p, c in ((80, "0.80"), (100, "1.00"))]


def test_no_budget_no_event(alice, listening, django_capture_on_commit_callbacks):
    team = listening
    TeamPrice.objects.create(team=team, route_key="sandbox:fast", usd_per_image=Decimal("5"), entered_by=alice)
    with django_capture_on_commit_callbacks(execute=True):
        factories.comparison(alice, routes=("sandbox:fast",))
    assert thresholds() == []


def test_an_event_nobody_listens_to_is_not_recorded(alice, django_capture_on_commit_callbacks):
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.10")
    team.save()
    TeamPrice.objects.create(team=team, route_key="sandbox:fast", usd_per_image=Decimal("0.10"), entered_by=alice)
    with django_capture_on_commit_callbacks(execute=True):
        comparison = factories.comparison(alice, routes=("sandbox:fast",))
        execution.execute_result(comparison.results.get().pk)
    assert not NotificationEvent.objects.exists()


def test_the_threshold_is_delivered_to_a_webhook_that_wants_it(alice, receiver, private_allowed, tasks_inline,
                                                              django_capture_on_commit_callbacks):
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.10")
    team.save()
    TeamPrice.objects.create(team=team, route_key="sandbox:fast", usd_per_image=Decimal("0.10"), entered_by=alice)
    notifications.create_webhook(team, alice, url=receiver.url, events=["budget.threshold"])
    with django_capture_on_commit_callbacks(execute=True):
        factories.comparison(alice, routes=("sandbox:fast",))
    assert sorted(r.headers["X-Event"] for r in receiver.requests) == ["budget.threshold"] * 2
    assert thresholds() == [80, 100]
