"""GS1 identifiers (GTIN, GLN) and date arithmetic, on top of biip."""

import calendar
from datetime import date

from biip import ParseError
from biip.gln import Gln
from biip.gtin import Gtin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def normalize_gtin(value: str) -> str:
    """Return a GTIN-8/12/13/14 as 14 digits, or raise ValidationError naming what is wrong."""
    text = (value or "").strip()
    if not text.isdigit():
        raise ValidationError(
            _("GTIN %(value)s must contain only digits.") % {"value": text}, code="gtin_digits"
        )
    try:
        return Gtin.parse(text).as_gtin_14()
    except ParseError as exc:
        raise ValidationError(_gs1_message("GTIN", text, exc), code="gtin_invalid") from exc


def validate_gtin(value: str) -> None:
    normalize_gtin(value)


def normalize_gln(value: str) -> str:
    """Return a 13-digit GLN with a valid check digit, or raise ValidationError."""
    text = (value or "").strip()
    if not (text.isdigit() and len(text) == 13):
        raise ValidationError(
            _("GLN %(value)s must be 13 digits.") % {"value": text}, code="gln_length"
        )
    try:
        return Gln.parse(text).value
    except ParseError as exc:
        raise ValidationError(_gs1_message("GLN", text, exc), code="gln_invalid") from exc


def validate_gln(value: str) -> None:
    normalize_gln(value)


def _gs1_message(kind: str, text: str, exc: ParseError) -> str:
    reason = str(exc)
    if "check digit" in reason:
        # biip says "Invalid GTIN check digit for 'X': Expected 7, got 8."
        expected = reason.rsplit("Expected", 1)[-1].split(",")[0].strip()
        return _("%(kind)s %(value)s has a wrong check digit (expected %(expected)s).") % {
            "kind": kind,
            "value": text,
            "expected": expected,
        }
    return _("%(value)s is not a valid %(kind)s.") % {"kind": kind, "value": text}


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
