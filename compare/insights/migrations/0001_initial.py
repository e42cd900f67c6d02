"""The models of this app, moved from the compare app: their tables exist already (state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('compare', '0035_move_models_to_feature_apps'),
        ('teams', '0001_initial'),
    ]

    state_operations = [
        migrations.CreateModel(
            name='JudgedComparison',
            fields=[
                ('comparison', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='compare.comparison')),
                ('created_at', models.DateTimeField()),
                ('quality', models.CharField(blank=True, max_length=40)),
                ('size', models.CharField(blank=True, max_length=40)),
                ('pattern', models.TextField()),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='teams.team')),
            ],
            options={
                'db_table': 'compare_judgedcomparison',
                'indexes': [models.Index(fields=['team', 'created_at'], name='judged_team_created')],
            },
        ),
        migrations.CreateModel(
            name='RouteDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('route_key', models.CharField(max_length=200)),
                ('day', models.DateField()),
                ('quality', models.CharField(blank=True, max_length=40)),
                ('size', models.CharField(blank=True, max_length=40)),
                ('label', models.CharField(blank=True, max_length=200)),
                ('results', models.IntegerField(default=0)),
                ('succeeded', models.IntegerField(default=0)),
                ('failed', models.IntegerField(default=0)),
                ('refused', models.IntegerField(default=0)),
                ('timed_out', models.IntegerField(default=0)),
                ('cancelled', models.IntegerField(default=0)),
                ('retries', models.IntegerField(default=0)),
                ('retried_calls', models.IntegerField(default=0)),
                ('reported_micros', models.BigIntegerField(default=0)),
                ('reported_priced', models.IntegerField(default=0)),
                ('reported_images', models.IntegerField(default=0)),
                ('estimated_micros', models.BigIntegerField(default=0)),
                ('estimated_priced', models.IntegerField(default=0)),
                ('estimated_images', models.IntegerField(default=0)),
                ('unknown_cost_calls', models.IntegerField(default=0)),
                ('latency_count', models.IntegerField(default=0)),
                ('latencies', models.BinaryField(default=b'')),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='teams.team')),
            ],
            options={
                'db_table': 'compare_routeday',
                'indexes': [models.Index(fields=['team', 'day'], name='route_day_team_day')],
                'constraints': [models.UniqueConstraint(fields=('team', 'route_key', 'day', 'quality', 'size'), name='route_day_cell')],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
