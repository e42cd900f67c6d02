from django.urls import path

from . import views as api

app_name = "api"

urlpatterns = [
    path("routes", api.routes, name="routes"),
    path("teams", api.teams, name="teams"),
    path("teams/<int:pk>/credentials", api.team_credentials, name="team-credentials"),
    path("teams/<int:pk>/budget", api.team_budget, name="team-budget"),
    path("teams/<int:pk>/webhooks", api.team_webhooks, name="team-webhooks"),
    path("teams/<int:pk>/webhooks/<int:hook>", api.team_webhook, name="team-webhook"),
    path("comparisons", api.comparisons, name="comparisons"),
    path("comparisons/<int:pk>", api.comparison, name="comparison"),
    path("comparisons/<int:pk>/cancel", api.cancel, name="cancel"),
    path("comparisons/<int:pk>/rerun", api.rerun, name="rerun"),
    path("prompt-sets", api.prompt_sets, name="prompt-sets"),
    path("prompt-sets/<int:pk>", api.prompt_set, name="prompt-set"),
    path("prompts", api.prompts, name="prompts"),
    path("prompts/<int:pk>", api.prompt, name="prompt"),
    path("batches", api.batch_list, name="batches"),
    path("batches/<int:pk>", api.batch, name="batch"),
    path("batches/<int:pk>/cancel", api.batch_cancel, name="batch-cancel"),
    path("results/<int:pk>/rating", api.rate_result, name="rate"),
    path("comparisons/<int:pk>/review", api.review, name="review"),
    path("comparisons/<int:pk>/verdict", api.verdict, name="verdict"),
    path("comparisons/<int:pk>/comments", api.comments, name="comments"),
    path("comparisons/<int:pk>/review-mode", api.review_mode, name="review-mode"),
    path("leaderboard", api.leaderboard_rows, name="leaderboard"),
    path("openapi.json", api.openapi_document, name="openapi"),
    path("docs", api.docs, name="docs"),
    path("benchmarks", api.benchmark_list, name="benchmarks"),
    path("benchmarks/<int:pk>", api.benchmark, name="benchmark"),
    path("benchmarks/<int:pk>/run", api.benchmark_run, name="benchmark-run"),
]
