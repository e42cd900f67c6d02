"""URLs of the automatic image checks (compare/checks.py)."""

from django.urls import path

from . import checks

urlpatterns = [
    path("results/<int:pk>/checks", checks.result_checks, name="result-checks"),
]
