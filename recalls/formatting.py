"""Quantities, units and durations as people write them, for messages, pages and documents."""

from datetime import timedelta
from decimal import Decimal

from inventory.models import Unit


def unit_label(code: str) -> str:
    """'kg' for KGM: the UN/CEFACT code as people write it."""
    return str(Unit(code).label) if code in Unit.values else code


def plain(value) -> str:
    """'10' for Decimal('10.000'), '2.5' for '2.500': no trailing zeros, no exponent; text that
    is not a number comes back as it is."""
    try:
        number = Decimal(value)
    except (TypeError, ArithmeticError, ValueError):
        return value or ""
    return f"{number.normalize():f}"


def duration(delta: timedelta | None) -> str:
    """'350 ms', '4.2 s', '12 min 05 s', '3 h 07 min', '2 d 4 h 00 min'; empty for none."""
    if delta is None:
        return ""
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join([*([f"{days} d"] if days else []), f"{hours} h {minutes:02d} min"])
