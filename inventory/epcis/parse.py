"""EPC identifiers in EPCIS documents (URNs and GS1 Digital Link URIs) to GTINs and GLNs, and back.

Lots (LGTIN) and serial units (SGTIN) become GTIN-14 + lot or serial; locations (SGLN) and
parties (PGLN) become GLN-13, each with its computed check digit. Identifiers we do not model
(SSCC, GRAI, GIAI, class patterns, …) are recognised and kept as they are.

Products without a GTIN, and sites and parties without a GLN, have no GS1 identifier; we name
them with private URNs, which EPCIS 2.0 allows for identifiers outside GS1's schemes, so an
export holds every event and imports again whole:

    urn:tracewell:lot:SKU:CODE        a lot of a product without a GTIN
    urn:tracewell:serial:SKU:SERIAL   a serial unit of such a product
    urn:tracewell:product:SKU         the product itself (master data)
    urn:tracewell:site:CODE           a site without a GLN
    urn:tracewell:party:NAME          a party without a GLN

Each part is percent-encoded, so a ":" inside a SKU or code cannot split it.
"""

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote, urlsplit

from biip.checksums import gs1_standard_check_digit
from biip.gs1_prefixes import GS1CompanyPrefix
from django.core.exceptions import ValidationError

from ..identifiers import normalize_gln, normalize_gtin

GS1_CHARACTERS = re.compile(r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$")
# Characters an EPC URN may carry unescaped in a serial or lot (GS1 TDS, "EPC pure identity").
URN_SAFE = "!'()*+,-.:;=_"
DIGITAL_LINK_BASE = "https://id.gs1.org"
DIGITAL_LINK = re.compile(r"/(01|414|417)/([^/?#]+)(?:/(10|21|254)/([^/?#]+))?")
PRIVATE = "urn:tracewell:"
# Characters a private URN part may carry unescaped (":" separates the parts).
PRIVATE_SAFE = "!'()*+,-._="


class Kind(StrEnum):
    SERIAL = "serial"
    LOT = "lot"
    LOCATION = "location"
    PARTY = "party"
    OTHER = "other"  # kept, not modelled


@dataclass(frozen=True)
class Epc:
    """What an EPC identifier names, as we store it."""

    text: str
    kind: Kind
    gtin: str | None = None
    gln: str | None = None
    code: str | None = None  # the serial or lot code
    extension: str | None = None  # an SGLN's extension, when not "0"
    sku: str | None = None  # a product without a GTIN (private URN)
    name: str | None = None  # a site's code or a party's name, without a GLN (private URN)

    @functools.cached_property
    def product_key(self) -> tuple[str, str]:
        """How the product of a lot or unit is looked up: by GTIN, else by SKU."""
        return ("gtin", self.gtin) if self.gtin else ("sku", self.sku)

    @functools.cached_property
    def place_key(self) -> tuple[str, str]:
        """How a site or party is looked up: by GLN, else by site code or party name."""
        return ("gln", self.gln) if self.gln else ("private", self.name)


class EpcError(ValueError):
    """An identifier of a kind we model is malformed; the message names it."""


@functools.lru_cache(maxsize=1 << 14)
def _digits_check(body: str) -> str:
    return body + str(gs1_standard_check_digit(body))


def _urn_parts(text: str, prefix: str, count: int, what: str) -> list[str]:
    # The last part (a serial, lot or extension) may itself hold dots.
    parts = text[len(prefix) :].split(".", count - 1)
    if len(parts) != count or not all(parts):
        raise EpcError(f"{text} is not a valid {what}")
    return parts


def _urn_gtin(text: str, company: str, item: str, what: str) -> str:
    if not (company.isdigit() and item.isdigit() and len(company) + len(item) == 13):
        raise EpcError(f"{text} is not a valid {what}")
    if not 6 <= len(company) <= 12:
        raise EpcError(f"{text} is not a valid {what}")
    return _digits_check(item[0] + company + item[1:])


def _urn_gln(text: str, company: str, reference: str, what: str) -> str:
    if not (company.isdigit() and reference.isdigit() and len(company) + len(reference) == 12):
        raise EpcError(f"{text} is not a valid {what}")
    return _digits_check(company + reference)


def _code(text: str, value: str, what: str) -> str:
    code = unquote(value)
    if not GS1_CHARACTERS.match(code):
        raise EpcError(f"{text} is not a valid {what}")
    return code


def _gtin(text: str, value: str, what: str) -> str:
    try:
        return normalize_gtin(value)
    except ValidationError as exc:
        raise EpcError(f"{text} is not a valid {what}") from exc


def _gln(text: str, value: str, what: str) -> str:
    try:
        return normalize_gln(value)
    except ValidationError as exc:
        raise EpcError(f"{text} is not a valid {what}") from exc


def parse_epc(text) -> Epc:
    """Read an EPC URN or Digital Link URI; raise EpcError for a malformed one we model."""
    if not isinstance(text, str) or not text.strip():
        raise EpcError(f"{text!r} is not an identifier")
    return _parse_epc(text)


# A document names the same lots, units and places again and again; check digits cost.
@functools.lru_cache(maxsize=1 << 16)
def _parse_epc(text: str) -> Epc:
    text = text.strip()
    lowered = text.lower()
    if lowered.startswith("urn:epc:id:sgtin:"):
        company, item, serial = _urn_parts(text, "urn:epc:id:sgtin:", 3, "SGTIN")
        gtin = _urn_gtin(text, company, item, "SGTIN")
        return Epc(text, Kind.SERIAL, gtin=gtin, code=_code(text, serial, "SGTIN"))
    if lowered.startswith("urn:epc:class:lgtin:"):
        company, item, lot = _urn_parts(text, "urn:epc:class:lgtin:", 3, "LGTIN")
        gtin = _urn_gtin(text, company, item, "LGTIN")
        return Epc(text, Kind.LOT, gtin=gtin, code=_code(text, lot, "LGTIN"))
    if lowered.startswith("urn:epc:id:sgln:"):
        company, reference, extension = _urn_parts(text, "urn:epc:id:sgln:", 3, "SGLN")
        gln = _urn_gln(text, company, reference, "SGLN")
        return Epc(text, Kind.LOCATION, gln=gln, extension=None if extension == "0" else extension)
    if lowered.startswith("urn:epc:id:pgln:"):
        company, reference = _urn_parts(text, "urn:epc:id:pgln:", 2, "PGLN")
        return Epc(text, Kind.PARTY, gln=_urn_gln(text, company, reference, "PGLN"))
    if lowered.startswith(PRIVATE):
        return _parse_private(text)
    if lowered.startswith(("http://", "https://")):
        return _parse_digital_link(text)
    if lowered.startswith("urn:"):
        return Epc(text, Kind.OTHER)
    raise EpcError(f"{text} is not an EPC URN or GS1 Digital Link URI")


def _parse_digital_link(text: str) -> Epc:
    match = DIGITAL_LINK.search(urlsplit(text).path)
    if match is None:
        return Epc(text, Kind.OTHER)  # SSCC (/00/), GRAI (/8003/) and the like
    key, value, qualifier, qualifier_value = match.groups()
    value = unquote(value)
    if key == "01":
        what = {"21": "SGTIN", "10": "LGTIN"}.get(qualifier)
        if what is None:
            return Epc(text, Kind.OTHER)  # a product class, not an instance or a lot
        gtin = _gtin(text, value, what)
        kind = Kind.SERIAL if qualifier == "21" else Kind.LOT
        return Epc(text, kind, gtin=gtin, code=_code(text, qualifier_value, what))
    if key == "414":
        gln = _gln(text, value, "SGLN")
        extension = unquote(qualifier_value) if qualifier == "254" else None
        return Epc(text, Kind.LOCATION, gln=gln, extension=extension)
    return Epc(text, Kind.PARTY, gln=_gln(text, value, "PGLN"))


PRIVATE_MAX = {"sku": 64, "site": 40, "party": 200}


def _private_part(text: str, value: str, what: str, limit: int) -> str:
    part = unquote(value)
    if not part.strip() or len(part) > limit:
        raise EpcError(f"{text} is not a valid {what}")
    return part


def _parse_private(text: str) -> Epc:
    kind, _, rest = text[len(PRIVATE) :].partition(":")
    parts = rest.split(":")
    what = f"private {kind} identifier"
    if kind in ("lot", "serial", "site", "party") and len(parts) != (
        2 if kind in ("lot", "serial") else 1
    ):
        raise EpcError(f"{text} is not a valid {what}")
    if kind in ("lot", "serial"):
        sku = _private_part(text, parts[0], what, PRIVATE_MAX["sku"])
        code = _code(text, parts[1], what)
        return Epc(text, Kind.LOT if kind == "lot" else Kind.SERIAL, sku=sku, code=code)
    if kind in ("site", "party"):
        name = _private_part(text, parts[0], what, PRIVATE_MAX[kind])
        return Epc(text, Kind.LOCATION if kind == "site" else Kind.PARTY, name=name)
    return Epc(text, Kind.OTHER)  # ours, but not an identifier (product classes, vocabulary)


def private_sku_of_class(text: str) -> str | None:
    """The SKU of urn:tracewell:product:SKU, for master data."""
    prefix = f"{PRIVATE}product:"
    rest = text[len(prefix) :]
    if not text.lower().startswith(prefix) or ":" in rest:
        return None
    try:
        return _private_part(text, rest, "private product identifier", PRIVATE_MAX["sku"])
    except EpcError:
        return None


def gtin_of_class(text: str) -> str | None:
    """The GTIN of a product class (idpat:sgtin …*, Digital Link /01/…), for master data names."""
    lowered = text.lower()
    if lowered.startswith("urn:epc:idpat:sgtin:"):
        parts = text[len("urn:epc:idpat:sgtin:") :].split(".")
        if len(parts) >= 2:
            try:
                return _urn_gtin(text, parts[0], parts[1], "GTIN")
            except EpcError:
                return None
    try:
        epc = parse_epc(text)
    except EpcError:
        return None
    if epc.gtin:
        return epc.gtin
    match = DIGITAL_LINK.search(urlsplit(text).path)
    if match and match.group(1) == "01":
        try:
            return normalize_gtin(unquote(match.group(2)))
        except ValidationError:
            return None
    return None


# --- Formatting -------------------------------------------------------------------------------


def _company_prefix(digits: str) -> str | None:
    """The GS1 company prefix a GTIN (without indicator) or GLN starts with, if biip knows it."""
    prefix = GS1CompanyPrefix.extract(digits)
    if prefix is None or not 6 <= len(prefix.value) <= 12:
        return None
    return prefix.value


def _urn_value(code: str) -> str:
    return quote(code, safe=URN_SAFE)


def serial_epc(gtin: str, serial: str) -> str:
    """An SGTIN URN when the company prefix is known, else a GS1 Digital Link URI."""
    company = _company_prefix(gtin[1:13])
    if company is None:
        return f"{DIGITAL_LINK_BASE}/01/{gtin}/21/{quote(serial, safe='')}"
    item = gtin[0] + gtin[1 + len(company) : 13]
    return f"urn:epc:id:sgtin:{company}.{item}.{_urn_value(serial)}"


def lot_epc(gtin: str, lot: str) -> str:
    """An LGTIN URN when the company prefix is known, else a GS1 Digital Link URI."""
    company = _company_prefix(gtin[1:13])
    if company is None:
        return f"{DIGITAL_LINK_BASE}/01/{gtin}/10/{quote(lot, safe='')}"
    item = gtin[0] + gtin[1 + len(company) : 13]
    return f"urn:epc:class:lgtin:{company}.{item}.{_urn_value(lot)}"


def location_epc(gln: str, extension: str | None = None) -> str:
    company = _company_prefix(gln[:12])
    if company is None:
        suffix = f"/254/{quote(extension, safe='')}" if extension else ""
        return f"{DIGITAL_LINK_BASE}/414/{gln}{suffix}"
    return f"urn:epc:id:sgln:{company}.{gln[len(company) : 12]}.{extension or '0'}"


def party_epc(gln: str) -> str:
    company = _company_prefix(gln[:12])
    if company is None:
        return f"{DIGITAL_LINK_BASE}/417/{gln}"
    return f"urn:epc:id:pgln:{company}.{gln[len(company) : 12]}"


def _private(value: str) -> str:
    return quote(value, safe=PRIVATE_SAFE)


def private_lot_epc(sku: str, code: str) -> str:
    return f"{PRIVATE}lot:{_private(sku)}:{_private(code)}"


def private_serial_epc(sku: str, serial: str) -> str:
    return f"{PRIVATE}serial:{_private(sku)}:{_private(serial)}"


def private_product_class(sku: str) -> str:
    return f"{PRIVATE}product:{_private(sku)}"


def private_site_epc(code: str) -> str:
    return f"{PRIVATE}site:{_private(code)}"


def private_party_epc(name: str) -> str:
    return f"{PRIVATE}party:{_private(name)}"
