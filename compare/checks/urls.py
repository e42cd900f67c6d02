"""URLs of the automatic image checks (compare/checks/checks.py)."""

from django.urls import path

from compare.checks import checks

app_name = "checks"

urlpatterns = [
    path("results/<int:pk>/checks", checks.result_checks, name="result-checks"),
]
