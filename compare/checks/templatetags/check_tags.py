"""Template tags that show a result's checks as the API shows them."""

from django import template

from compare.api.presenters import checks_dict
from compare.checks.models import checks_status

register = template.Library()


@register.simple_tag
def result_checks(result, seen=None):
    """{"status": pending/done/failed/missing/None, "checks": the API's checks or None}: the card
    and the batch matrix show what the API shows (compare/api/presenters.py checks_dict, the one place),
    as the viewer's Visibility ``seen`` allows."""
    return {"status": checks_status(result), "checks": checks_dict(result, seen)}
