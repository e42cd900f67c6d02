"""URLs of the continuous benchmarks' pages (issue 15)."""

from django.urls import path

from . import benchmarks

urlpatterns = [
    path("benchmarks/", benchmarks.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>/", benchmarks.benchmark_detail, name="benchmark"),
    path("benchmarks/<int:pk>/run", benchmarks.benchmark_run_now, name="benchmark-run"),
]
