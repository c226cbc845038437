"""GS1 identifiers (GTIN, GLN, element strings, Digital Link, EPC URNs), on top of biip."""

import calendar
import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gln import Gln
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString, GS1ElementStrings
from biip.gs1_messages import GS1Message
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


class IdentifierError(ValueError):
    """An identifier a person typed or scanned is malformed; the message is one line."""

    def __init__(self, message):
        # Messages echo the input, which may hold a scanner's GS separator or a pasted line
        # break: show the GS as the <GS> people type, and keep the message on one line.
        super().__init__(" ".join(str(message).replace(GROUP_SEPARATOR, "<GS>").split()))


@dataclass(frozen=True)
class ItemReference:
    """What an identifier names: a product (GTIN or SKU) with a lot and/or serial, or a code."""

    text: str
    gtin: str | None = None
    sku: str | None = None
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    code: str | None = None  # a bare code: a lot code, a serial or a supplier's lot code
    # An all-digit first word may be a GTIN or an SKU; when it is not a valid GTIN this says
    # why, and is the answer if no product has it as its SKU either.
    gtin_error: str | None = None


EPC_SGTIN = "urn:epc:id:sgtin:"
EPC_LGTIN = "urn:epc:class:lgtin:"
GROUP_SEPARATOR = "\x1d"
# Scanners announce GS1 data with a symbology identifier: ]C1 (GS1-128), ]d2 (DataMatrix),
# ]Q3 (QR), ]e0 (DataBar), ]J1 (DotCode).
SYMBOLOGY_PREFIXES = ("]C1", "]d2", "]Q3", "]e0", "]J1")


def gtin_from_epc(company_prefix: str, indicator_item: str) -> str:
    """GTIN-14 from the two numeric parts of an SGTIN/LGTIN URN, with its computed check digit."""
    if not (company_prefix.isdigit() and indicator_item.isdigit()):
        raise IdentifierError("EPC company prefix and item reference must be digits.")
    if len(company_prefix) + len(indicator_item) != 13:
        raise IdentifierError("EPC company prefix and item reference must have 13 digits together.")
    body = indicator_item[0] + company_prefix + indicator_item[1:]
    return body + str(gs1_standard_check_digit(body))


def _parse_epc(text: str) -> ItemReference:
    scheme, rest = (
        (EPC_SGTIN, text[len(EPC_SGTIN) :])
        if text.lower().startswith(EPC_SGTIN)
        else (EPC_LGTIN, text[len(EPC_LGTIN) :])
    )
    parts = rest.split(".", 2)
    if len(parts) != 3 or not parts[2]:
        last = "serial" if scheme == EPC_SGTIN else "lot"
        raise IdentifierError(f"{text} is not a valid EPC URN (expected prefix.item.{last}).")
    gtin = gtin_from_epc(parts[0], parts[1])
    value = unquote(parts[2])
    if scheme == EPC_SGTIN:
        return ItemReference(text=text, gtin=gtin, serial=value)
    return ItemReference(text=text, gtin=gtin, lot=value)


def _from_element_strings(text: str, element_strings) -> ItemReference:
    values = {}
    for element in element_strings:
        if element.ai.ai == "01":
            if element.gtin_error:
                raise IdentifierError(_gtin_error_line(element.value, element.gtin_error))
            values["gtin"] = element.gtin.as_gtin_14()
        elif element.ai.ai == "10":
            values["lot"] = element.value
        elif element.ai.ai == "21":
            values["serial"] = element.value
        elif element.ai.ai == "17":
            values["expiry"] = element.date
    if "gtin" not in values:
        raise IdentifierError(f"{text} has no GTIN (AI 01).")
    if "lot" not in values and "serial" not in values:
        raise IdentifierError(f"{text} names a product but no lot (AI 10) or serial (AI 21).")
    return ItemReference(text=text, **values)


def _gtin_error_line(value: str, error: str) -> str:
    if "check digit" in error:
        expected = error.rsplit("Expected", 1)[-1].split(",")[0].strip()
        return f"GTIN {value} has a wrong check digit (expected {expected})."
    return f"{value} is not a valid GTIN."


def _gs1_parse_error(text: str, exc: ParseError) -> str:
    """biip's reason in a person's words: which element is wrong, without regex patterns."""
    reason = str(exc)
    match = re.search(r"GS1 AI \((\d+)\)", reason)
    if match:
        ai = match.group(1)
        what = GS1_ELEMENTS.get(ai, f"element ({ai})")
        return f"{text} is not a valid GS1 code: its {what} ({ai}) is malformed."
    return f"{text} is not a valid GS1 code: it cannot be split into GS1 elements."


GS1_ELEMENTS = {
    "01": "GTIN",
    "10": "lot",
    "11": "production date",
    "13": "packaging date",
    "15": "best-before date",
    "17": "expiry date",
    "21": "serial",
}


def parse_identifier(raw: str) -> ItemReference:
    """Read any form a person types or scans; raise IdentifierError with a one-line reason.

    GS1 element strings ("(01)…(10)…" or raw with FNC1/GS separators and a symbology prefix),
    GS1 Digital Link URIs, EPC URNs (sgtin, lgtin), "GTIN CODE", "SKU lot CODE",
    "SKU serial CODE", "SKU CODE", or a bare lot code, serial or supplier lot code.
    """
    text = (raw or "").strip().replace("<GS>", GROUP_SEPARATOR)
    if not text:
        raise IdentifierError("Type or scan an identifier.")
    if len(text) > 500:
        raise IdentifierError("That identifier is too long to be a lot, serial or GS1 code.")
    lowered = text.lower()
    if lowered.startswith((EPC_SGTIN, EPC_LGTIN)):
        return _parse_epc(text)
    if lowered.startswith("urn:"):
        raise IdentifierError(
            f"{text} is an EPC URN of a kind we do not track (use sgtin or lgtin)."
        )
    try:
        if lowered.startswith(("http://", "https://")):
            uri = GS1DigitalLinkURI.parse(text)
            return _from_element_strings(text, uri.as_gs1_message().element_strings)
        if text.startswith("("):
            return _from_element_strings(text, GS1Message.parse_hri(text).element_strings)
        if (
            text.startswith(SYMBOLOGY_PREFIXES)
            or GROUP_SEPARATOR in text
            or (text.isdigit() and len(text) > 16 and text.startswith("01"))
        ):
            body = text[3:] if text.startswith(SYMBOLOGY_PREFIXES) else text
            return _from_element_strings(text, GS1Message.parse(body).element_strings)
    except ParseError as exc:
        raise IdentifierError(_gs1_parse_error(text, exc)) from exc

    words = text.split()
    if len(words) == 1:
        return ItemReference(text=text, code=words[0])
    if len(words) == 3 and words[1].lower() in ("lot", "serial"):
        first, kind, code = words[0], words[1].lower(), words[2]
    elif len(words) == 2:
        first, kind, code = words[0], None, words[1]
    else:
        raise IdentifierError(
            f"{text} is not an identifier: use 'SKU lot CODE', 'SKU serial CODE', a GS1 code "
            "or a Digital Link."
        )
    product = {"sku": first}
    if first.isdigit() and len(first) in (8, 12, 13, 14):
        try:
            product["gtin"] = normalize_gtin(first)
        except ValidationError as exc:
            product["gtin_error"] = exc.messages[0]
    if kind == "lot":
        return ItemReference(text=text, lot=code, **product)
    if kind == "serial":
        return ItemReference(text=text, serial=code, **product)
    return ItemReference(text=text, code=code, **product)


@dataclass(frozen=True)
class Gs1Code:
    """What a label's barcodes carry: one GS1 message, written the three ways it is read."""

    hri: str  # "(01)09506000134352(17)261231(10)ABC123", the text printed under the symbol
    bracketed: str  # "[01]09506000134352[17]261231[10]ABC123", as Zint takes GS1 data
    digital_link: str  # "https://id.gs1.org/01/09506000134352/10/ABC123?17=261231"


def gs1_code(*, gtin: str, lot: str = "", serial: str = "", expiry: date | None = None) -> Gs1Code:
    """The GS1 message naming a lot or unit: (01) GTIN, (17) expiry, (10) lot, (21) serial.

    Fixed-length elements come first, so only a lot followed by a serial needs a separator.
    Raises IdentifierError when a value cannot be carried (a code imported from elsewhere may
    hold characters outside GS1's set).
    """
    values = [("01", gtin)]
    if expiry is not None:
        values.append(("17", f"{expiry:%y%m%d}"))
    if lot:
        values.append(("10", lot))
    if serial:
        values.append(("21", serial))
    elements = []
    for ai, value in values:
        try:
            element = GS1ElementString.extract(ai + value)
        except ParseError:
            element = None
        if element is not None and element.gtin_error:
            raise IdentifierError(_gtin_error_line(value, element.gtin_error))
        if element is None or element.value != value:
            raise IdentifierError(
                f"The {GS1_ELEMENTS[ai]} {value} cannot be put in a GS1 barcode: it holds "
                "characters outside GS1's set or is too long."
            )
        elements.append(element)
    message = GS1Message.from_element_strings(GS1ElementStrings(elements))
    return Gs1Code(
        hri=message.as_hri(),
        bracketed="".join(f"[{element.ai.ai}]{element.value}" for element in elements),
        digital_link=message.as_gs1_digital_link_uri().as_uri(),
    )
