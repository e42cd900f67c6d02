"""The URLs of the JSON API, mounted at /api/ under the namespace "api" (config/urls.py)."""

from django.urls import path

from compare.api import batches, benchmarks, comparisons, docs, leaderboard, review, share_links, teams

app_name = "api"

urlpatterns = [
    path("routes", comparisons.routes, name="routes"),
    path("teams", teams.teams, name="teams"),
    path("teams/<int:pk>/credentials", teams.team_credentials, name="team-credentials"),
    path("teams/<int:pk>/budget", teams.team_budget, name="team-budget"),
    path("teams/<int:pk>/webhooks", teams.team_webhooks, name="team-webhooks"),
    path("teams/<int:pk>/webhooks/<int:hook>", teams.team_webhook, name="team-webhook"),
    path("comparisons", comparisons.comparisons, name="comparisons"),
    path("comparisons/<int:pk>", comparisons.comparison, name="comparison"),
    path("comparisons/<int:pk>/cancel", comparisons.cancel, name="cancel"),
    path("comparisons/<int:pk>/rerun", comparisons.rerun, name="rerun"),
    path("comparisons/<int:pk>/share", share_links.share, name="share"),
    path("share-links/<int:pk>", share_links.share_link, name="share-link"),
    path("prompt-sets", batches.prompt_sets, name="prompt-sets"),
    path("prompt-sets/<int:pk>", batches.prompt_set, name="prompt-set"),
    path("prompts", batches.prompts, name="prompts"),
    path("prompts/<int:pk>", batches.prompt, name="prompt"),
    path("batches", batches.batch_list, name="batches"),
    path("batches/<int:pk>", batches.batch, name="batch"),
    path("batches/<int:pk>/cancel", batches.batch_cancel, name="batch-cancel"),
    path("results/<int:pk>/rating", review.rate_result, name="rate"),
    path("comparisons/<int:pk>/review", review.review, name="review"),
    path("comparisons/<int:pk>/verdict", review.verdict, name="verdict"),
    path("comparisons/<int:pk>/comments", review.comments, name="comments"),
    path("comparisons/<int:pk>/review-mode", review.review_mode, name="review-mode"),
    path("leaderboard", leaderboard.leaderboard_rows, name="leaderboard"),
    path("openapi.json", docs.openapi_document, name="openapi"),
    path("docs", docs.docs, name="docs"),
    path("benchmarks", benchmarks.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>", benchmarks.benchmark, name="benchmark"),
    path("benchmarks/<int:pk>/run", benchmarks.benchmark_run, name="benchmark-run"),
]
