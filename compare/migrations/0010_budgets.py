from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("compare", "0009_merge_0008_credentials_0008_sharing"),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="monthly_budget_usd",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True),
        ),
    ]
