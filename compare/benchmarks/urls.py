"""URLs of the continuous benchmarks' pages (issue 15)."""

from django.urls import path

from compare.benchmarks import views as benchmark_views

app_name = "benchmarks"

urlpatterns = [
    path("benchmarks/", benchmark_views.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>/", benchmark_views.benchmark_detail, name="benchmark"),
    path("benchmarks/<int:pk>/run", benchmark_views.benchmark_run_now, name="benchmark-run"),
]
