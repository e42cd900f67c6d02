"""Joins the checks and webhooks migrations (made side by side); changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0025_merge_checks"), ("compare", "0028_webhooks")]
    operations = []
