"""The batches app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "compare.batches"
    label = "batches"
    verbose_name = "Batches"
