"""Joins two migrations made side by side (budgets, accounts); changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0016_money"), ("compare", "0017_accounts")]
    operations = []
