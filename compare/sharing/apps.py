"""The sharing app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "compare.sharing"
    label = "sharing"
    verbose_name = "Sharing"
