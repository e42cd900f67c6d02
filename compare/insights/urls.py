"""URLs of the insight pages: the leaderboard, what changed between runs, and the exports."""

from django.urls import path

from compare.insights import changes, exports, views as insights

app_name = "insights"

urlpatterns = [
    path("leaderboard", insights.show_leaderboard, name="leaderboard"),
    path("leaderboard.csv", exports.export_leaderboard, name="leaderboard-csv"),
    path("comparisons.csv", exports.export_history, name="history-csv"),
    path("comparisons/<int:pk>/export.zip", exports.export_comparison, name="export"),
    path("comparisons/<int:pk>/changes", changes.show_changes, name="changes"),
]
