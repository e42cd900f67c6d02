from decimal import Decimal

import pytest
from django.test import Client

from compare.models import Result
from compare.teams.models import Team

from tests.compare import factories

pytestmark = pytest.mark.django_db


def submit(client, routes):
    return client.post("/", {"prompt": "x", "routes": routes, "size": "square", "quality": "high",
                             "output_format": "png", "n": "1"})


def test_spending_counts_reported_costs_then_estimates(alice):
    team = Team.personal_for(alice)
    first, second = factories.comparison(alice).results.all()
    Result.objects.filter(pk=first.pk).update(cost_usd=Decimal("0.30"), estimated_cost_usd=Decimal("0.20"))
    Result.objects.filter(pk=second.pk).update(cost_usd=None, estimated_cost_usd=Decimal("0.05"))
    assert team.spent_this_month() == Decimal("0.35")


def test_a_comparison_over_what_is_left_is_refused_with_the_numbers(alice, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    team = Team.personal_for(alice)
    team.monthly_budget_usd = Decimal("0.50")
    team.save()
    spent = factories.comparison(alice).results.first()
    Result.objects.filter(pk=spent.pk).update(cost_usd=Decimal("0.40"))
    client = Client()
    client.force_login(alice)
    response = submit(client, ["openai:gpt-image-2"])  # high 1024x1024: $0.211 estimated
    html = response.content.decode()
    assert response.status_code == 400
    assert "Over budget: this comparison is estimated at $0.2110" in html
    assert "spent $0.4000 of its $0.50 this month, $0.1000 left" in html
    assert submit(client, ["sandbox:fast"]).status_code == 302  # free routes still run


def test_owners_set_the_budget_and_everyone_sees_spending(alice, bob):
    team = Team.personal_for(alice)
    owner = Client()
    owner.force_login(alice)
    owner.post(f"/teams/{team.pk}/budget", {"monthly_budget_usd": "25"})
    team.refresh_from_db()
    assert team.monthly_budget_usd == Decimal("25.00")
    assert "Budget $25.00, left" in owner.get(f"/teams/{team.pk}/").content.decode()
    assert "A budget is an amount" in owner.post(f"/teams/{team.pk}/budget", {"monthly_budget_usd": "-3"},
                                                 follow=True).content.decode()
    other = Client()
    other.force_login(bob)
    assert other.post(f"/teams/{team.pk}/budget", {"monthly_budget_usd": "9999"}).status_code == 404
