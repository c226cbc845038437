"""What a campaign is opened for: its scope, kept as JSON on the campaign and resolved to lots
and serial units when the campaign opens or is re-scoped.

A scope is a list of entries, each one of:

- a string: an identifier as the trace takes it (GS1 element string or Digital Link, EPC URN,
  "SKU lot CODE", "SKU serial NUMBER", a bare code);
- `{"serials": {"sku": SKU, "first": SERIAL, "last": SERIAL}}`: the product's units whose serial
  lies in the range (when both ends have the same length, only serials of that length, so
  "A0009".."A0120" does not catch "A01");
- `{"supplier_lot": CODE}`: every lot received under a supplier's lot code;
- `{"produced": {"sku": SKU, "first": DATE, "last": DATE}}`: the product's lots and units made
  (or received) between the two dates, both included.
"""

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.db.models.functions import Length
from django.utils.translation import gettext_lazy as _

from inventory.identifiers import IdentifierError
from inventory.models import Lot, Product, SerialUnit
from inventory.selectors import resolve_identifiers

UNKNOWN_SKU = _("No product has the SKU %(sku)s.")
RANGE_BACKWARDS = _("The range %(first)s to %(last)s ends before it starts.")
RANGE_EMPTY = _("No %(sku)s unit has a serial from %(first)s to %(last)s.")
SUPPLIER_LOT_UNKNOWN = _("No lot was received under the supplier's lot code %(code)s.")
PRODUCED_EMPTY = _("No %(sku)s lot or unit was produced from %(first)s to %(last)s.")
BAD_ENTRY = _("A scope entry is an identifier, a serial range, a supplier's lot code or dates.")


@dataclass(frozen=True)
class ResolvedScope:
    lots: list[Lot]
    serial_units: list[SerialUnit]
    named: frozenset  # (kind, pk) of what identifiers named, to keep the scope as given


def serial_range(sku: str, first: str, last: str) -> dict:
    return {"serials": {"sku": sku.strip(), "first": first.strip(), "last": last.strip()}}


def supplier_lot(code: str) -> dict:
    return {"supplier_lot": code.strip()}


def produced(sku: str, first: date, last: date) -> dict:
    return {"produced": {"sku": sku.strip(), "first": first.isoformat(), "last": last.isoformat()}}


def describe(entry) -> str:
    """One line for a person: what the entry names."""
    if isinstance(entry, str):
        return entry
    if "serials" in entry:
        spec = entry["serials"]
        return f"{spec['sku']} serials {spec['first']} to {spec['last']}"
    if "supplier_lot" in entry:
        return f"supplier's lot code {entry['supplier_lot']}"
    if "produced" in entry:
        spec = entry["produced"]
        return f"{spec['sku']} produced {spec['first']} to {spec['last']}"
    return str(entry)


def _product(sku: str) -> Product:
    try:
        return Product.objects.get(sku=sku)
    except Product.DoesNotExist:
        raise ValidationError(UNKNOWN_SKU % {"sku": sku}, code="scope_unknown_sku") from None


def _serials(spec: dict) -> list[SerialUnit]:
    first, last = spec["first"], spec["last"]
    if (len(first) == len(last) and first > last) or len(first) > len(last):
        raise ValidationError(RANGE_BACKWARDS % spec, code="scope_range")
    units = SerialUnit.objects.filter(
        product=_product(spec["sku"]), serial__gte=first, serial__lte=last
    )
    if len(first) == len(last):
        units = units.annotate(serial_length=Length("serial")).filter(serial_length=len(first))
    found = list(units)
    if not found:
        raise ValidationError(RANGE_EMPTY % spec, code="scope_empty")
    return found


def _dates(spec: dict) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(spec["first"]), date.fromisoformat(spec["last"])
    except (TypeError, ValueError):
        raise ValidationError(BAD_ENTRY, code="scope_entry") from None
    if first > last:
        raise ValidationError(RANGE_BACKWARDS % spec, code="scope_range")
    return first, last


def resolve(entries: list) -> ResolvedScope:
    """The lots and units the entries name; a ValidationError names an entry that names none."""
    identifiers = [entry for entry in entries if isinstance(entry, str)]
    lots, units, named = {}, {}, set()
    if identifiers:
        try:
            found_lots, found_units = resolve_identifiers(identifiers)
        except IdentifierError as exc:
            raise ValidationError(str(exc), code="identifier") from exc
        lots.update((lot.pk, lot) for lot in found_lots)
        units.update((unit.pk, unit) for unit in found_units)
        named = {("lot", pk) for pk in lots} | {("serial", pk) for pk in units}
    for entry in entries:
        if isinstance(entry, str):
            continue
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValidationError(BAD_ENTRY, code="scope_entry")
        try:
            if "serials" in entry:
                units.update((unit.pk, unit) for unit in _serials(entry["serials"]))
            elif "supplier_lot" in entry:
                code = entry["supplier_lot"]
                found = list(Lot.objects.filter(supplier_lot_code=code))
                if not code or not found:
                    raise ValidationError(SUPPLIER_LOT_UNKNOWN % {"code": code}, code="scope_empty")
                lots.update((lot.pk, lot) for lot in found)
            elif "produced" in entry:
                spec = entry["produced"]
                first, last = _dates(spec)
                product = _product(spec["sku"])
                between = Q(product=product, produced_on__range=(first, last))
                found_lots = list(Lot.objects.filter(between))
                found_units = list(SerialUnit.objects.filter(between))
                if not found_lots and not found_units:
                    raise ValidationError(PRODUCED_EMPTY % spec, code="scope_empty")
                lots.update((lot.pk, lot) for lot in found_lots)
                units.update((unit.pk, unit) for unit in found_units)
            else:
                raise ValidationError(BAD_ENTRY, code="scope_entry")
        except (KeyError, TypeError, AttributeError):
            raise ValidationError(BAD_ENTRY, code="scope_entry") from None
    return ResolvedScope(list(lots.values()), list(units.values()), frozenset(named))
