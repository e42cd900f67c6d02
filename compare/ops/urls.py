"""URLs for running the app as a service: health and metrics (docs/operations.md)."""

from django.urls import path

from compare.ops import health, metrics

app_name = "ops"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
]
