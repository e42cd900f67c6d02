"""The models of the feature apps leave the compare app: in the state only. Their tables keep
their names (each model sets db_table), so no row moves; content types follow their models."""

import django.db.models.deletion
from django.db import migrations, models


MOVED = {
    "ApiToken": "teams",
    "Batch": "batches",
    "BatchItem": "batches",
    "Benchmark": "benchmarks",
    "BenchmarkAlert": "benchmarks",
    "BenchmarkRun": "benchmarks",
    "Comment": "review",
    "Delivery": "notifications",
    "DeliveryAttempt": "notifications",
    "EmailSubscription": "notifications",
    "ExternalVote": "sharing",
    "IdempotencyKey": "ops",
    "Invite": "teams",
    "JudgedComparison": "insights",
    "Membership": "teams",
    "NotificationEvent": "notifications",
    "Prompt": "batches",
    "PromptSet": "batches",
    "Rating": "review",
    "ResultCheck": "checks",
    "RouteDay": "insights",
    "ShareLink": "sharing",
    "Team": "teams",
    "TeamCredential": "teams",
    "TeamPrice": "teams",
    "Verdict": "review",
    "Webhook": "notifications",
    "WorkerHeartbeat": "ops",
}


def content_types_follow(apps, schema_editor):
    """Permissions and admin history keep pointing at the moved models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, label in MOVED.items():
        if not ContentType.objects.filter(app_label=label, model=model.lower()).exists():
            ContentType.objects.filter(app_label="compare", model=model.lower()).update(app_label=label)


def content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, label in MOVED.items():
        if not ContentType.objects.filter(app_label="compare", model=model.lower()).exists():
            ContentType.objects.filter(app_label=label, model=model.lower()).update(app_label="compare")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('compare', '0034_merge_benchmarks_token_name'),
        ('teams', '0001_initial'),
    ]

    state_operations = [
        migrations.RemoveField(
            model_name='apitoken',
            name='user',
        ),
        migrations.RemoveField(
            model_name='batch',
            name='created_by',
        ),
        migrations.RemoveField(
            model_name='batch',
            name='team',
        ),
        migrations.RemoveField(
            model_name='benchmarkrun',
            name='batch',
        ),
        migrations.RemoveConstraint(
            model_name='batchitem',
            name='one_item_per_batch_position',
        ),
        migrations.RemoveField(
            model_name='benchmark',
            name='created_by',
        ),
        migrations.RemoveField(
            model_name='benchmark',
            name='team',
        ),
        migrations.RemoveField(
            model_name='benchmarkrun',
            name='benchmark',
        ),
        migrations.RemoveConstraint(
            model_name='benchmarkalert',
            name='one_open_alert_per_metric',
        ),
        migrations.RemoveField(
            model_name='comment',
            name='comparison',
        ),
        migrations.RemoveField(
            model_name='comment',
            name='user',
        ),
        migrations.RemoveIndex(
            model_name='delivery',
            name='delivery_due',
        ),
        migrations.RemoveConstraint(
            model_name='delivery',
            name='one_delivery_per_webhook_event',
        ),
        migrations.RemoveConstraint(
            model_name='deliveryattempt',
            name='one_attempt_per_number',
        ),
        migrations.RemoveConstraint(
            model_name='emailsubscription',
            name='one_email_per_member_event',
        ),
        migrations.RemoveIndex(
            model_name='externalvote',
            name='external_vote_address',
        ),
        migrations.RemoveConstraint(
            model_name='externalvote',
            name='one_external_vote_per_visitor',
        ),
        migrations.RemoveConstraint(
            model_name='externalvote',
            name='an_external_winner_names_the_winner',
        ),
        migrations.RemoveConstraint(
            model_name='idempotencykey',
            name='one_idempotency_key_per_user',
        ),
        migrations.RemoveField(
            model_name='invite',
            name='created_by',
        ),
        migrations.RemoveField(
            model_name='invite',
            name='invitee',
        ),
        migrations.RemoveField(
            model_name='invite',
            name='team',
        ),
        migrations.RemoveField(
            model_name='invite',
            name='used_by',
        ),
        migrations.RemoveIndex(
            model_name='judgedcomparison',
            name='judged_team_created',
        ),
        migrations.RemoveConstraint(
            model_name='membership',
            name='one_membership_per_team',
        ),
        migrations.RemoveField(
            model_name='notificationevent',
            name='team',
        ),
        migrations.RemoveField(
            model_name='prompt',
            name='created_by',
        ),
        migrations.RemoveField(
            model_name='prompt',
            name='prompt_set',
        ),
        migrations.RemoveField(
            model_name='prompt',
            name='team',
        ),
        migrations.RemoveConstraint(
            model_name='promptset',
            name='one_prompt_set_name_per_team',
        ),
        migrations.RemoveConstraint(
            model_name='rating',
            name='one_rating_per_member',
        ),
        migrations.RemoveIndex(
            model_name='resultcheck',
            name='check_board',
        ),
        migrations.RemoveIndex(
            model_name='routeday',
            name='route_day_team_day',
        ),
        migrations.RemoveConstraint(
            model_name='routeday',
            name='route_day_cell',
        ),
        migrations.RemoveField(
            model_name='sharelink',
            name='comparison',
        ),
        migrations.RemoveField(
            model_name='sharelink',
            name='created_by',
        ),
        migrations.RemoveField(
            model_name='sharelink',
            name='team',
        ),
        migrations.AlterField(
            model_name='comparison',
            name='team',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comparisons', to='teams.team'),
        ),
        migrations.AlterField(
            model_name='teamslot',
            name='team',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='slots', to='teams.team'),
        ),
        migrations.RemoveField(
            model_name='webhook',
            name='team',
        ),
        migrations.RemoveConstraint(
            model_name='teamcredential',
            name='one_value_per_team_and_name',
        ),
        migrations.RemoveConstraint(
            model_name='teamprice',
            name='one_price_per_team_route',
        ),
        migrations.RemoveConstraint(
            model_name='verdict',
            name='one_verdict_per_member',
        ),
        migrations.RemoveConstraint(
            model_name='verdict',
            name='a_winner_verdict_names_the_winner',
        ),
        migrations.RemoveField(
            model_name='webhook',
            name='created_by',
        ),
        migrations.DeleteModel(
            name='WorkerHeartbeat',
        ),
        migrations.DeleteModel(
            name='ApiToken',
        ),
        migrations.RemoveField(
            model_name='batchitem',
            name='batch',
        ),
        migrations.RemoveField(
            model_name='batchitem',
            name='comparison',
        ),
        migrations.RemoveField(
            model_name='benchmarkalert',
            name='benchmark',
        ),
        migrations.RemoveField(
            model_name='benchmarkalert',
            name='opened_by',
        ),
        migrations.DeleteModel(
            name='Comment',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='event',
        ),
        migrations.RemoveField(
            model_name='delivery',
            name='webhook',
        ),
        migrations.RemoveField(
            model_name='deliveryattempt',
            name='delivery',
        ),
        migrations.RemoveField(
            model_name='emailsubscription',
            name='team',
        ),
        migrations.RemoveField(
            model_name='emailsubscription',
            name='user',
        ),
        migrations.RemoveField(
            model_name='externalvote',
            name='comparison',
        ),
        migrations.RemoveField(
            model_name='externalvote',
            name='link',
        ),
        migrations.RemoveField(
            model_name='externalvote',
            name='winner',
        ),
        migrations.RemoveField(
            model_name='idempotencykey',
            name='user',
        ),
        migrations.DeleteModel(
            name='Invite',
        ),
        migrations.RemoveField(
            model_name='judgedcomparison',
            name='comparison',
        ),
        migrations.RemoveField(
            model_name='judgedcomparison',
            name='team',
        ),
        migrations.RemoveField(
            model_name='membership',
            name='team',
        ),
        migrations.RemoveField(
            model_name='membership',
            name='user',
        ),
        migrations.DeleteModel(
            name='Prompt',
        ),
        migrations.RemoveField(
            model_name='promptset',
            name='created_by',
        ),
        migrations.RemoveField(
            model_name='promptset',
            name='team',
        ),
        migrations.RemoveField(
            model_name='rating',
            name='result',
        ),
        migrations.RemoveField(
            model_name='rating',
            name='user',
        ),
        migrations.RemoveField(
            model_name='resultcheck',
            name='result',
        ),
        migrations.RemoveField(
            model_name='resultcheck',
            name='team',
        ),
        migrations.RemoveField(
            model_name='routeday',
            name='team',
        ),
        migrations.RemoveField(
            model_name='teamcredential',
            name='team',
        ),
        migrations.RemoveField(
            model_name='teamcredential',
            name='updated_by',
        ),
        migrations.RemoveField(
            model_name='teamprice',
            name='entered_by',
        ),
        migrations.RemoveField(
            model_name='teamprice',
            name='team',
        ),
        migrations.RemoveField(
            model_name='verdict',
            name='comparison',
        ),
        migrations.RemoveField(
            model_name='verdict',
            name='user',
        ),
        migrations.RemoveField(
            model_name='verdict',
            name='winner',
        ),
        migrations.DeleteModel(
            name='Batch',
        ),
        migrations.DeleteModel(
            name='BatchItem',
        ),
        migrations.DeleteModel(
            name='Benchmark',
        ),
        migrations.DeleteModel(
            name='BenchmarkAlert',
        ),
        migrations.DeleteModel(
            name='BenchmarkRun',
        ),
        migrations.DeleteModel(
            name='NotificationEvent',
        ),
        migrations.DeleteModel(
            name='Webhook',
        ),
        migrations.DeleteModel(
            name='Delivery',
        ),
        migrations.DeleteModel(
            name='DeliveryAttempt',
        ),
        migrations.DeleteModel(
            name='EmailSubscription',
        ),
        migrations.DeleteModel(
            name='ShareLink',
        ),
        migrations.DeleteModel(
            name='ExternalVote',
        ),
        migrations.DeleteModel(
            name='IdempotencyKey',
        ),
        migrations.DeleteModel(
            name='JudgedComparison',
        ),
        migrations.DeleteModel(
            name='Membership',
        ),
        migrations.DeleteModel(
            name='PromptSet',
        ),
        migrations.DeleteModel(
            name='Rating',
        ),
        migrations.DeleteModel(
            name='ResultCheck',
        ),
        migrations.DeleteModel(
            name='RouteDay',
        ),
        migrations.DeleteModel(
            name='TeamCredential',
        ),
        migrations.DeleteModel(
            name='Team',
        ),
        migrations.DeleteModel(
            name='TeamPrice',
        ),
        migrations.DeleteModel(
            name='Verdict',
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
        migrations.RunPython(content_types_follow, content_types_back),
    ]
