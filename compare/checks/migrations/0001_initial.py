"""The models of this app, moved from the compare app: their tables exist already (state only)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('compare', '0035_move_models_to_feature_apps'),
        ('teams', '0001_initial'),
    ]

    state_operations = [
        migrations.CreateModel(
            name='ResultCheck',
            fields=[
                ('result', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='image_checks', serialize=False, to='compare.result')),
                ('status', models.CharField(choices=[('done', 'done'), ('failed', 'failed')], default='done', max_length=8)),
                ('error', models.TextField(blank=True)),
                ('text_status', models.CharField(blank=True, choices=[('no_quotes', 'No Quotes'), ('scored', 'Scored'), ('partial', 'Partial'), ('unavailable', 'Unavailable')], max_length=12)),
                ('text_accuracy', models.FloatField(blank=True, null=True)),
                ('text_expected', models.JSONField(blank=True, default=list)),
                ('text_read', models.TextField(blank=True)),
                ('text_notes', models.JSONField(blank=True, default=list)),
                ('size_matches', models.BooleanField(null=True)),
                ('size_matches_sent', models.BooleanField(null=True)),
                ('aspect_matches', models.BooleanField(null=True)),
                ('format_matches', models.BooleanField(null=True)),
                ('blank', models.BooleanField(null=True)),
                ('has_alpha', models.BooleanField(null=True)),
                ('images', models.JSONField(blank=True, default=list)),
                ('duration_ms', models.FloatField(blank=True, null=True)),
                ('checked_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('route_key', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField()),
                ('quality', models.CharField(blank=True, max_length=40)),
                ('size', models.CharField(blank=True, max_length=40)),
                ('team', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='teams.team')),
            ],
            options={
                'db_table': 'compare_resultcheck',
                'indexes': [models.Index(fields=['team', 'created_at', 'route_key', 'status', 'quality', 'size', 'text_accuracy', 'blank', 'size_matches'], name='check_board')],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
