"""The compare app: comparisons, their results and the engine that runs them."""

from django.apps import AppConfig


class CompareConfig(AppConfig):
    name = "compare"
    verbose_name = "Image Provider Compare"
