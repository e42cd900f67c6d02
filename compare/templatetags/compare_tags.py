"""Template filters every page uses: dollars, milliseconds, pretty JSON, an item of a mapping."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def usd(value):
    """$1.23, $0.2111, $0.053, $0.10: cents always, up to four decimals below a dollar."""
    if value is None or value == "":
        return "unknown"
    value = Decimal(value)
    if value == 0:
        return "$0.00"
    if value >= 1:
        return f"${value:,.2f}"
    text = f"{value:.4f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


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


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
