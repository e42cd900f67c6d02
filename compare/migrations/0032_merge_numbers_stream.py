"""Joins the cost-words and stream migrations (made side by side); changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0030_merge_numbers"), ("compare", "0031_merge_stream")]
    operations = []
