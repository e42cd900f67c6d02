"""URLs of the side-by-side view of two results (issue 7)."""

from django.urls import path

from . import sidebyside

urlpatterns = [
    path("comparisons/<int:pk>/side-by-side", sidebyside.side_by_side, name="side-by-side"),
    path("comparisons/<int:pk>/side-by-side/diff.png", sidebyside.difference_png, name="side-by-side-diff"),
]
