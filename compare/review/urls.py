"""URLs of the review: thumbs, verdicts, comments, blind mode (compare/review/views.py)."""

from django.urls import path

from compare.review import sidebyside, views as reviews

app_name = "review"

urlpatterns = [
    path("review", reviews.queue, name="review-queue"),
    path("results/<int:pk>/rating", reviews.rate_result, name="rate"),
    path("comparisons/<int:pk>/verdict", reviews.post_verdict, name="verdict"),
    path("comparisons/<int:pk>/comments", reviews.post_comment, name="comment"),
    path("comparisons/<int:pk>/review-mode", reviews.post_review_mode, name="review-mode"),
    path("comparisons/<int:pk>/review", reviews.review_panel, name="review"),
    path("comparisons/<int:pk>/side-by-side", sidebyside.side_by_side, name="side-by-side"),
    path("comparisons/<int:pk>/side-by-side/diff.png", sidebyside.difference_png, name="side-by-side-diff"),
]
