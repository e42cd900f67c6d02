"""URLs of the insight pages: the leaderboard, what changed between runs, and the exports."""

from django.urls import path

from . import insights

urlpatterns = [
    path("leaderboard", insights.show_leaderboard, name="leaderboard"),
    path("leaderboard.csv", insights.export_leaderboard, name="leaderboard-csv"),
    path("comparisons.csv", insights.export_history, name="history-csv"),
    path("comparisons/<int:pk>/export.zip", insights.export_comparison, name="export"),
    path("comparisons/<int:pk>/changes", insights.show_changes, name="changes"),
]
