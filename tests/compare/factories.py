"""Comparisons for tests: made through the service as the new-comparison form would, and run."""

from compare import services
from compare.engine import execution
from compare.models import Comparison
from compare.teams.models import Role

PARAMS = {"size": "1024x1024", "quality": "low", "output_format": "png", "n": 1, "seed": None}
THREE_ROUTES = ("sandbox:fast", "sandbox:steady", "sandbox:slow")


def comparison(user=None, prompt="a red fox in snow", routes=("sandbox:fast", "sandbox:steady"), **params):
    params = {**PARAMS, **params}
    return services.create_comparison(user=user, prompt=prompt, route_keys=list(routes), params=params)


def finished(team, prompt="a red fox in snow", routes=THREE_ROUTES, run=True, **flags):
    """A comparison of ``team`` by its owner, every route run to the end (sandbox: instant in
    tests), or none with ``run=False``; ``flags`` are set on it first (``blind=True``, say)."""
    made = services.create_comparison(user=team.memberships.get(role=Role.OWNER).user, team=team, prompt=prompt,
                                      route_keys=list(routes), params=dict(PARAMS))
    if flags:
        Comparison.objects.filter(pk=made.pk).update(**flags)
        made.refresh_from_db()
    for result in made.results.all() if run else []:
        execution.execute_result(result.pk)
    return made


def results_of(comparison):
    """Its results in route order."""
    return list(comparison.results.order_by("position"))
