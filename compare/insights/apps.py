"""The insights app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "compare.insights"
    label = "insights"
    verbose_name = "Insights"
