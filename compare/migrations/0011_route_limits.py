import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("compare", "0010_budgets"),
    ]

    operations = [
        migrations.CreateModel(
            name="RouteMinute",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("route_key", models.CharField(max_length=200)),
                ("minute", models.BigIntegerField()),
                ("calls", models.PositiveIntegerField(default=0)),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("route_key", "minute"), name="one_counter_per_minute")]},
        ),
        migrations.CreateModel(
            name="RouteSlot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("route_key", models.CharField(max_length=200)),
                ("index", models.PositiveSmallIntegerField()),
                ("result", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                related_name="slot", to="compare.result")),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("route_key", "index"), name="one_slot_per_index")]},
        ),
    ]
