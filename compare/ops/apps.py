"""The ops app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "compare.ops"
    label = "ops"
    verbose_name = "Operations"
