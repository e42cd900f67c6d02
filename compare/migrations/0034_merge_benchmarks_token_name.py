"""Joins the benchmarks and token-name migrations (made side by side); changes nothing."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("compare", "0033_merge_benchmarks"), ("compare", "0033_token_name")]
    operations = []
