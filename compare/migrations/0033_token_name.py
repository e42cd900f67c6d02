"""API tokens have a name saying what they are for."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compare', '0032_merge_numbers_stream'),
    ]

    operations = [
        migrations.AddField(
            model_name='apitoken',
            name='name',
            field=models.CharField(blank=True, max_length=80),
        ),
    ]
