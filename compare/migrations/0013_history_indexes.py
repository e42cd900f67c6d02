# Indexes for the history and the leaderboard at scale (issue 6 item 6): a team's history in
# page order, and covering indexes the leaderboard reads instead of the wide result rows.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("compare", "0012_prompt_sets_batches"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="comparison",
            index=models.Index(fields=["team", "-created_at", "-id"], name="comparison_team_recent"),
        ),
        migrations.AddIndex(
            model_name="result",
            index=models.Index(fields=["route_key", "comparison", "status", "cost_source", "error_code", "cost_usd",
                                       "latency_ms"], name="result_board"),
        ),
        migrations.AddIndex(
            model_name="result",
            index=models.Index(fields=["status", "route_key", "latency_ms", "comparison"], name="result_latency"),
        ),
        migrations.AddIndex(
            model_name="result",
            index=models.Index(condition=~models.Q(attempts=[]), fields=["route_key", "comparison"],
                               name="result_retried"),
        ),
        migrations.AddIndex(
            model_name="result",
            index=models.Index(fields=["comparison", "status", "route_key", "id"], name="result_comparison_status"),
        ),
    ]
