"""Joins the checks migration (made side by side) to the rest; changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0021_checks"), ("compare", "0024_merge_visibility")]
    operations = []
