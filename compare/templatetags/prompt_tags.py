"""The prompt sets a page offers (the compare page's picker and its "run a set" choice)."""

from django import template

register = template.Library()


@register.simple_tag
def prompt_sets(team):
    from compare.batches import all_sets

    return all_sets(team) if team is not None else []
