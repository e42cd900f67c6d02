"""The teams app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "compare.teams"
    label = "teams"
    verbose_name = "Teams"

    def ready(self):
        from compare.teams import signals  # noqa: F401  (receivers connect on import)
