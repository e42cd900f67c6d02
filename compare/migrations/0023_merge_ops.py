"""Joins the operations migration (made side by side) to the rest; changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0020_ops"), ("compare", "0022_merge_money_accounts")]
    operations = []
