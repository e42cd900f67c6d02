"""URLs of the review: thumbs, verdicts, comments, blind mode (compare/reviews.py)."""

from django.urls import path

from . import reviews

urlpatterns = [
    path("review", reviews.queue, name="review-queue"),
    path("results/<int:pk>/rating", reviews.rate_result, name="rate"),
    path("comparisons/<int:pk>/verdict", reviews.post_verdict, name="verdict"),
    path("comparisons/<int:pk>/comments", reviews.post_comment, name="comment"),
    path("comparisons/<int:pk>/review-mode", reviews.post_review_mode, name="review-mode"),
    path("comparisons/<int:pk>/review", reviews.review_panel, name="review"),
]
