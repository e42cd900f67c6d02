"""The notifications app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "compare.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from compare.notifications import signals  # noqa: F401  (receivers connect on import)
