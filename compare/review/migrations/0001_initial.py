"""The models of this app, moved from the compare app: their tables exist already (state only)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('compare', '0035_move_models_to_feature_apps'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name='Comment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('text', models.TextField(max_length=4000)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('comparison', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to='compare.comparison')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='comments', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'compare_comment',
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Rating',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.SmallIntegerField(choices=[(1, '👍'), (-1, '👎')])),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('result', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ratings', to='compare.result')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='ratings', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'compare_rating',
                'constraints': [models.UniqueConstraint(fields=('result', 'user'), name='one_rating_per_member')],
            },
        ),
        migrations.CreateModel(
            name='Verdict',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('winner', 'winner'), ('tie', 'tie'), ('all_bad', 'all bad')], max_length=8)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('comparison', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='verdicts', to='compare.comparison')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='verdicts', to=settings.AUTH_USER_MODEL)),
                ('winner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='wins', to='compare.result')),
            ],
            options={
                'db_table': 'compare_verdict',
                'constraints': [models.UniqueConstraint(fields=('comparison', 'user'), name='one_verdict_per_member'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'winner'), ('winner__isnull', False)), models.Q(models.Q(('kind', 'winner'), _negated=True), ('winner__isnull', True)), _connector='OR'), name='a_winner_verdict_names_the_winner')],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
