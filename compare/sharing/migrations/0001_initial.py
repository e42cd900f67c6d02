"""The models of this app, moved from the compare app: their tables exist already (state only)."""

import compare.sharing.models
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
            name='ShareLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('comparison_ids', models.JSONField(blank=True, default=list)),
                ('filter', models.JSONField(blank=True, default=dict)),
                ('token', models.CharField(default=compare.sharing.models._share_token, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('last_opened_at', models.DateTimeField(blank=True, null=True)),
                ('blind', models.BooleanField(default=False)),
                ('show_costs', models.BooleanField(default=True)),
                ('kind', models.CharField(choices=[('view', 'view only'), ('vote', 'view and vote')], default='view', max_length=8)),
                ('comparison', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='share_links', to='compare.comparison')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='share_links', to='teams.team')),
            ],
            options={
                'db_table': 'compare_sharelink',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='ExternalVote',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('winner', 'winner'), ('tie', 'tie'), ('all_bad', 'all bad')], max_length=8)),
                ('visitor_hash', models.CharField(max_length=64)),
                ('address_hash', models.CharField(blank=True, default='', max_length=64)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('comparison', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='external_votes', to='compare.comparison')),
                ('winner', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='external_wins', to='compare.result')),
                ('link', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='external_votes', to='sharing.sharelink')),
            ],
            options={
                'db_table': 'compare_externalvote',
                'ordering': ['created_at', 'id'],
                'indexes': [models.Index(fields=['link', 'comparison', 'address_hash', 'created_at'], name='external_vote_address')],
                'constraints': [models.UniqueConstraint(fields=('comparison', 'visitor_hash'), name='one_external_vote_per_visitor'), models.CheckConstraint(condition=models.Q(models.Q(('kind', 'winner'), ('winner__isnull', False)), models.Q(models.Q(('kind', 'winner'), _negated=True), ('winner__isnull', True)), _connector='OR'), name='an_external_winner_names_the_winner')],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
