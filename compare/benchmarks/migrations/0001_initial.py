"""The models of this app, moved from the compare app: their tables exist already (state only)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('compare', '0034_merge_benchmarks_token_name'),
        ('batches', '0001_initial'),
        ('teams', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name='Benchmark',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('routes', models.JSONField(default=list)),
                ('prompts', models.JSONField(blank=True, default=list)),
                ('prompt_set', models.CharField(blank=True, max_length=100)),
                ('params', models.JSONField(blank=True, default=dict)),
                ('repeats', models.PositiveSmallIntegerField(default=1)),
                ('schedule', models.CharField(blank=True, max_length=100)),
                ('next_run_at', models.DateTimeField(blank=True, db_index=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='benchmarks', to='teams.team')),
            ],
            options={
                'db_table': 'compare_benchmark',
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='BenchmarkRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('trigger', models.CharField(default='manual', max_length=16)),
                ('status', models.CharField(choices=[('started', 'started'), ('refused', 'refused'), ('done', 'done')], default='started', max_length=16)),
                ('reason', models.TextField(blank=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('batch', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='batches.batch')),
                ('benchmark', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='benchmarks.benchmark')),
            ],
            options={
                'db_table': 'compare_benchmarkrun',
                'ordering': ['-started_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='BenchmarkAlert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('route_key', models.CharField(max_length=200)),
                ('metric', models.CharField(max_length=40)),
                ('opened_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('closed_at', models.DateTimeField(blank=True, null=True)),
                ('baseline', models.FloatField()),
                ('current', models.FloatField()),
                ('p_value', models.FloatField(null=True)),
                ('message', models.TextField()),
                ('benchmark', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='benchmarks.benchmark')),
                ('opened_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='benchmarks.benchmarkrun')),
            ],
            options={
                'db_table': 'compare_benchmarkalert',
                'ordering': ['-opened_at', '-id'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('closed_at__isnull', True)), fields=('benchmark', 'route_key', 'metric'), name='one_open_alert_per_metric')],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
