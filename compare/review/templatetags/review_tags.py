"""Template tags of the review: a comparison's team verdicts, blind or named."""

from django import template

from compare.review.models import team_summary

register = template.Library()


@register.simple_tag
def team_verdicts(comparison, blind=False, reviewer=None, labels=None):
    """{% team_verdicts comparison blind=blind as summary %}: wins, ties, all bad and thumbs.
    Blind: results named A, B, C in blind_order(comparison, results, reviewer); without a
    reviewer (a public page), the order everyone sees; or labels ({result id: label}) when the
    page has its own (a share link's shuffle)."""
    return team_summary(comparison, blind=bool(blind), reviewer=reviewer,
                        labels=labels if isinstance(labels, dict) else None)
