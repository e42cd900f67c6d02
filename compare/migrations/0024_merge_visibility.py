"""Joins the visibility migration (made side by side) to the rest; changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0018_visibility"), ("compare", "0023_merge_ops")]
    operations = []
