"""The models of this app, moved from the compare app: their tables exist already (state only)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('compare', '0035_move_models_to_feature_apps'),
        ('teams', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name='Batch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('source', models.CharField(max_length=100)),
                ('source_name', models.CharField(max_length=200)),
                ('route_keys', models.JSONField(default=list)),
                ('params', models.JSONField(default=dict)),
                ('use_prompt_sizes', models.BooleanField(default=False)),
                ('blind', models.BooleanField(default=False)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='batches', to='teams.team')),
            ],
            options={
                'verbose_name_plural': 'batches',
                'db_table': 'compare_batch',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='PromptSet',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prompt_sets', to='teams.team')),
            ],
            options={
                'db_table': 'compare_promptset',
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Prompt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('title', models.CharField(blank=True, max_length=120)),
                ('text', models.TextField()),
                ('size', models.CharField(blank=True, max_length=20)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prompts', to='teams.team')),
                ('prompt_set', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prompts', to='batches.promptset')),
            ],
            options={
                'db_table': 'compare_prompt',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='BatchItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('title', models.CharField(blank=True, max_length=120)),
                ('size_from_prompt', models.BooleanField(default=False)),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='batches.batch')),
                ('comparison', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='batch_item', to='compare.comparison')),
            ],
            options={
                'db_table': 'compare_batchitem',
                'ordering': ['position', 'id'],
                'constraints': [models.UniqueConstraint(fields=('batch', 'position'), name='one_item_per_batch_position')],
            },
        ),
        migrations.AddConstraint(
            model_name='promptset',
            constraint=models.UniqueConstraint(fields=('team', 'name'), name='one_prompt_set_name_per_team'),
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
