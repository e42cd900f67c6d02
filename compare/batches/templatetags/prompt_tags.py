"""The prompt sets a page offers (the compare page's picker and its "run a set" choice)."""

from django import template

from compare.batches.prompt_sets import all_sets

register = template.Library()


@register.simple_tag
def prompt_sets(team):
    return all_sets(team) if team is not None else []
