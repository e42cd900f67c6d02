"""The checks app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class ChecksConfig(AppConfig):
    name = "compare.checks"
    label = "checks"
    verbose_name = "Checks"
