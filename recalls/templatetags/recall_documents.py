"""Filters for the print documents: quantities and units as people write them."""

from decimal import Decimal, InvalidOperation

from django import template

from ..formatting import unit_label

register = template.Library()


@register.filter
def qty(value) -> str:
    """1250.500 → '1,250.5'; empty for no value."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if number == number.to_integral_value():
        return f"{number.quantize(Decimal(1)):,f}"
    return f"{number.normalize():,f}"


@register.filter
def unit(code) -> str:
    """KGM → 'kg'."""
    return unit_label(code or "")


@register.filter
def qty_unit(value, code) -> str:
    """5.000 with KGM → '5 kg'; empty for no value."""
    if value is None or value == "":
        return ""
    return f"{qty(value)} {unit(code)}".strip()
