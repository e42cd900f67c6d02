"""Cost words (issue 13): "reported" becomes "billed" or "usage", a finished result priced from its
team's own price becomes "team_price", and each estimate records where it came from.

How an old "reported" row is read (the rows did not record it; the rule is in docs/architecture.md):
- billed: the answer carried the provider's own money figure: usage.raw has "cost" (OpenRouter,
  PiAPI), or the kept headers have x-litellm-response-cost, or the route is OpenRouter's (its
  usage.cost) or the sandbox's ($0, nothing billed);
- usage: everything else that was reported: Apiframe credits (creditCost) and token counts priced
  from the catalog (OpenAI, Azure, Vercel without a gateway cost). A Vercel answer that carried a
  gateway cost and tokens reads as "usage": the weaker claim, never a guess shown as a bill.
An estimate is "team_price" when the team had entered its own price for the route by the time of
the comparison, "rough" on the two catalog entries marked unresolved, else "catalog".
"""

from django.db import migrations, models

# Catalog entries marked unresolved in providers/pricing.json when this migration was written.
UNRESOLVED = ("wavespeed:openai/gpt-image-2", "apiframe:gpt-image-2")


def _basis(route_key, usage, headers):
    raw = (usage or {}).get("raw") or {}
    if "cost" in raw or "x-litellm-response-cost" in {k.lower() for k in (headers or {})}:
        return "billed"
    if route_key.startswith(("openrouter:", "sandbox:")):
        return "billed"
    return "usage"


def forwards(apps, schema_editor):
    Result = apps.get_model("compare", "Result")
    TeamPrice = apps.get_model("compare", "TeamPrice")
    found = {"billed": [], "usage": []}
    reported = Result.objects.filter(cost_source="reported").values_list("pk", "route_key", "usage", "response_headers")
    for pk, route_key, usage, headers in reported.iterator():
        found[_basis(route_key, usage, headers)].append(pk)
    for basis, pks in found.items():
        for start in range(0, len(pks), 500):
            Result.objects.filter(pk__in=pks[start:start + 500]).update(cost_source=basis)
    estimated = Result.objects.filter(estimated_cost_usd__isnull=False)
    estimated.filter(route_key__in=UNRESOLVED).update(estimate_source="rough")
    estimated.exclude(route_key__in=UNRESOLVED).update(estimate_source="catalog")
    for price in TeamPrice.objects.all():
        theirs = estimated.filter(comparison__team_id=price.team_id, route_key=price.route_key,
                                  comparison__created_at__gte=price.entered_at)
        theirs.update(estimate_source="team_price")
        theirs.filter(cost_source="estimated").update(cost_source="team_price")


def backwards(apps, schema_editor):
    Result = apps.get_model("compare", "Result")
    Result.objects.filter(cost_source__in=["billed", "usage"]).update(cost_source="reported")
    Result.objects.filter(cost_source="team_price").update(cost_source="estimated")


class Migration(migrations.Migration):

    dependencies = [
        ('compare', '0024_merge_visibility'),
    ]

    operations = [
        migrations.AddField(
            model_name='result',
            name='estimate_source',
            field=models.CharField(blank=True, choices=[('catalog', 'catalog'), ('rough', 'rough'), ('team_price', 'team price')], max_length=16),
        ),
        migrations.AlterField(
            model_name='result',
            name='cost_source',
            field=models.CharField(choices=[('billed', 'billed'), ('usage', 'from usage'), ('team_price', 'team price'), ('estimated', 'est.'), ('unknown', 'unknown')], default='unknown', max_length=16),
        ),
        migrations.AddField(
            model_name='result',
            name='parameters',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
