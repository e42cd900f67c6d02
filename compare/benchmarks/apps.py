"""The benchmarks app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    name = "compare.benchmarks"
    label = "benchmarks"
    verbose_name = "Benchmarks"
