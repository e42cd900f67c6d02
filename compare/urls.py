"""URLs of the compare pages: the form, a comparison and its results, images, history."""

from django.urls import include, path

from compare import streams, views

app_name = "compare"

urlpatterns = [
    path("", views.new_comparison, name="new"),
    path("comparisons/", views.history, name="history"),
    path("routes/", views.route_list, name="routes"),
    path("comparisons/<int:pk>/", views.comparison_detail, name="detail"),
    path("comparisons/<int:pk>/summary", views.comparison_summary, name="summary"),
    path("comparisons/<int:pk>/events", streams.comparison_events, name="events"),
    path("comparisons/<int:pk>/rerun", views.rerun_comparison, name="rerun"),
    path("comparisons/<int:pk>/cancel", views.cancel_comparison, name="cancel"),
    path("results/<int:pk>/card", views.result_card, name="result-card"),
    path("images/<int:pk>", views.image_original, name="image"),
    path("references/<int:pk>", views.reference_image, name="reference"),
    path("inputs/<str:token>", views.reference_public, name="reference-public"),
    path("images/<int:pk>/thumbnail", views.image_thumbnail, name="thumbnail"),
]
