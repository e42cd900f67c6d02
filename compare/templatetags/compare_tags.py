from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def usd(value):
    """$0.053 for money; small amounts keep their significant digits."""
    if value is None or value == "":
        return "unknown"
    value = Decimal(value)
    if value == 0:
        return "$0.00"
    places = 2 if value >= 1 else 3 if value >= Decimal("0.001") else 5
    return f"${value:,.{places}f}"


@register.filter
def ms(value):
    if value is None or value == "":
        return "–"
    value = float(value)
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


@register.filter
def pretty_json(value):
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
