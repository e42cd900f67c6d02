"""The review app as Django knows it: its label (its tables kept their compare_ names)."""

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "compare.review"
    label = "review"
    verbose_name = "Review"
