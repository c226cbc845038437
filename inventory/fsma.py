"""FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)): for traceability lots,
one row per critical tracking event (CTE) with its key data elements (KDEs), as FDA asks for
within 24 hours.

Which events are CTEs
    An event's `fsma_cte` says so when it was recorded with one (services.event_record and
    lot_create take `fsma_cte`). Left empty, it follows from the event type:

    ====================  ==========================================================
    event type            CTE
    ====================  ==========================================================
    ship                  Shipping
    receive, return       Receiving (a return is food received after transport, too)
    transform             Transformation (inputs become outputs)
    transfer              Shipping when it goes to another site: FDA's "shipping"
                          includes moving food between a firm's own locations
    anything else         none: produce, consume, adjust, inspect, status change, ...
    ====================  ==========================================================

    Harvesting, Cooling, Initial Packing and First Land-Based Receiving are rows only when an
    event was recorded as such (fsma_cte), never inferred. GS1 US's "EPCIS Recommendations for
    FSMA 204 Critical Tracking Events" expresses those CTEs with CBV business steps that
    steps which are not CTEs use as well (commissioning, packing, storing, receiving), so a
    business step alone cannot tell them apart: a pallet being packed, or finished goods
    moved into a cold store ("storing"), are not Initial Packing or Cooling. The EPCIS
    importer records the event types above, so imported shipping, receiving and
    transformation events are Shipping, Receiving and Transformation. Record
    fsma_cte="none" for an event of those types that is not a CTE (e.g. a transfer between
    two sites at one street address).

Which rows
    One row per event per lot: for each lot the event names (its subjects), or for each lot a
    transformation made (its outputs), with the input lots' codes in "Input Traceability Lot
    Codes". A lot that went into a transformation shows there as an input of the output's
    row. Serial units are not traceability lots and give no rows; a trace passes through
    them (a unit built in a lot reaches that lot), and an identifier that names only a unit
    is refused with its production lot's name.

    The named lots (an identifier, as the trace accepts it) give all their CTEs. A product
    and a date range name that product's lots, and give their CTEs on those dates (each
    event's date where it happened, in its own time zone offset). Optionally a forward or
    backward trace adds every lot reached from them whose product is on the Food
    Traceability List, with all its CTEs.

The key data elements
    Traceability Lot Code: a received lot keeps the code its supplier assigned (its
    supplier's lot code): receivers do not assign new ones. A lot we made or packed has our
    lot code. A received lot without the supplier's code has none we can show.
    Traceability Lot Code Source: where the code was assigned: the site a lot of ours was
    made at, or the supplier (name, address, phone, GLN) a received lot came from.
    Product Description: product name, with its GTIN. Quantity and Unit of Measure: of the
    lot on that event. Location Description: the event's site (owner, site, address, phone,
    GLN). Immediate Previous Source (Receiving, First Land-Based Receiving, Initial Packing):
    the site or party it came from. Immediate Subsequent Recipient (Shipping, Harvesting,
    Cooling): the site or party it went to. Event Date: the date where the event happened.
    Reference Document Type and Number: as recorded.

    A KDE that applies to the event but was not recorded reads "(missing)"; so does a missing
    part of a location ("address (missing)"). An empty cell means the KDE does not apply to
    that event type (e.g. a previous source on a shipment). Nothing is filled in from other
    data.

Rows are sorted by event date, then traceability lot code, then time. Reads take a constant
number of queries whatever the row count.
"""

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from django.db.models import Case, F, Prefetch, Q, QuerySet, Value, When
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from . import formulas
from .identifiers import IdentifierError
from .models import EventLine, FsmaCte, Item, Lot, Party, Product, Site, TraceEvent, Unit
from .selectors import resolve_identifiers
from .trace import Direction, trace
from .xlsx import keep_text

COLUMNS = (
    "Event Type",
    "Traceability Lot Code",
    "Product Description",
    "Quantity",
    "Unit of Measure",
    "Location Description",
    "Immediate Previous Source",
    "Immediate Subsequent Recipient",
    "Event Date",
    "Traceability Lot Code Source",
    "Reference Document Type",
    "Reference Document Number",
    "Input Traceability Lot Codes",
)
MISSING = "(missing)"
NOT_APPLICABLE = ""

SERIAL_NOT_A_LOT = _(
    "%(unit)s is a serial unit; FSMA 204 records are kept by traceability lot. "
    "Use its production lot, %(lot)s."
)
SERIAL_WITHOUT_LOT = _(
    "%(unit)s is a serial unit; FSMA 204 records are kept by traceability lot, and no "
    "production lot is recorded for it."
)

PREVIOUS_SOURCE_CTES = {
    FsmaCte.RECEIVING,
    FsmaCte.FIRST_LAND_BASED_RECEIVING,
    FsmaCte.INITIAL_PACKING,
}
SUBSEQUENT_RECIPIENT_CTES = {FsmaCte.SHIPPING, FsmaCte.HARVESTING, FsmaCte.COOLING}
LOT_ROLES = (EventLine.Role.SUBJECT, EventLine.Role.INPUT, EventLine.Role.OUTPUT)
# An event's date where it happened may differ from its UTC date by up to 14 hours.
OFFSET_MARGIN = timedelta(hours=14)


def event_cte(prefix: str = "") -> Case:
    """The CTE of an event as a database expression: recorded, else from its type.

    `prefix` is the path to the event, e.g. "event__" from an event line.
    """

    def field(name):
        return f"{prefix}{name}"

    transfer_elsewhere = Q(
        **{field("event_type"): TraceEvent.Type.TRANSFER, field("destination_site__isnull"): False}
    ) & (Q(**{field("site__isnull"): True}) | ~Q(**{field("destination_site"): F(field("site"))}))
    return Case(
        When(~Q(**{field("fsma_cte"): ""}), then=F(field("fsma_cte"))),
        When(Q(**{field("event_type"): TraceEvent.Type.SHIP}), then=Value(FsmaCte.SHIPPING)),
        When(
            Q(**{field("event_type__in"): [TraceEvent.Type.RECEIVE, TraceEvent.Type.RETURN]}),
            then=Value(FsmaCte.RECEIVING),
        ),
        When(
            Q(**{field("event_type"): TraceEvent.Type.TRANSFORM}),
            then=Value(FsmaCte.TRANSFORMATION),
        ),
        When(transfer_elsewhere, then=Value(FsmaCte.SHIPPING)),
        default=Value(FsmaCte.NONE),
    )


@dataclass(frozen=True, slots=True)
class Fsma204Row:
    """One CTE of one lot; the first thirteen fields are the spreadsheet's columns."""

    event_type: str
    traceability_lot_code: str
    product_description: str
    quantity: Decimal | str
    unit_of_measure: str
    location_description: str
    immediate_previous_source: str
    immediate_subsequent_recipient: str
    event_date: date
    traceability_lot_code_source: str
    reference_document_type: str
    reference_document_number: str
    input_traceability_lot_codes: str
    lot_pk: int
    event_pk: int
    occurred_at: datetime

    def values(self) -> list:
        """The cells in COLUMNS order: quantities as numbers and dates as dates where known."""
        return [
            self.event_type,
            self.traceability_lot_code,
            self.product_description,
            self.quantity,
            self.unit_of_measure,
            self.location_description,
            self.immediate_previous_source,
            self.immediate_subsequent_recipient,
            self.event_date,
            self.traceability_lot_code_source,
            self.reference_document_type,
            self.reference_document_number,
            self.input_traceability_lot_codes,
        ]

    @property
    def quantity_key(self) -> tuple:
        """Sorts missing quantities first, then by amount (a table cannot compare text and
        numbers)."""
        if isinstance(self.quantity, Decimal):
            return (1, self.quantity)
        return (0, Decimal(0))


# --- What a request names -----------------------------------------------------------------


def lots_named_by(text: str) -> list[Lot]:
    """The lots an identifier names; IdentifierError (one line) if it names none.

    A serial unit is not a traceability lot: naming one only is refused, with its lot's name.
    """
    lots, units = resolve_identifiers([text])
    if lots:
        return lots
    unit = units[0]
    if unit.lot is None:
        raise IdentifierError(SERIAL_WITHOUT_LOT % {"unit": unit})
    raise IdentifierError(SERIAL_NOT_A_LOT % {"unit": unit, "lot": unit.lot})


def product_by_code(value: str) -> Product | None:
    """The product with this SKU, or this GTIN (any length)."""
    value = value.strip()
    product = Product.objects.filter(sku=value).first()
    if product is None and value.isdigit() and len(value) <= 14:
        product = Product.objects.filter(gtin=value.zfill(14)).first()
    return product


# --- The rows -----------------------------------------------------------------------------


def fsma204_rows(
    *,
    lots: QuerySet | Iterable[Lot],
    start: date | None = None,
    end: date | None = None,
    direction: Direction | str | None = None,
) -> list[Fsma204Row]:
    """The spreadsheet's rows for the named lots, sorted.

    With `start` and `end`, only the named lots' CTEs on those dates (a product's range);
    with a `direction`, also every CTE of the Food Traceability List lots a trace reaches.
    """
    period = (start, end) if start is not None and end is not None else None
    period_events = None
    if period is not None:
        named, period_events = _named_in_period(lots, period)
    elif isinstance(lots, QuerySet):
        named = set(lots.values_list("pk", flat=True))
    else:
        named = {lot.pk for lot in lots}

    reached = set()
    if direction and named:
        result = trace(direction=direction, lots=Lot.objects.filter(pk__in=named))
        reached = {item.pk for item in result.items if item.kind == Item.Kind.LOT} - named

    scope = Q(pk__in=list(period_events)) if period_events is not None else _events_naming(named)
    if reached:
        scope |= _events_naming(reached, listed_foods_only=True)
    events = (
        TraceEvent.objects.annotate(cte=event_cte())
        .exclude(cte=FsmaCte.NONE)
        .filter(scope)
        .select_related(
            "site__party",
            "source_party",
            "source_site__party",
            "destination_party",
            "destination_site__party",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=EventLine.objects.filter(role__in=LOT_ROLES, item__kind=Item.Kind.LOT)
                .select_related(
                    "item__lot__product", "item__lot__supplier", "item__lot__site__party"
                )
                .order_by("pk"),
                to_attr="lot_lines",
            )
        )
    )

    def in_scope(lot: Lot, event: TraceEvent) -> bool:
        if lot.pk in named:
            return period_events is None or event.pk in period_events
        return lot.pk in reached and lot.product.on_food_traceability_list

    rows = []
    for event in events:
        rows.extend(_event_rows(event, in_scope))
    rows.sort(
        key=lambda row: (
            row.event_date,
            row.traceability_lot_code,
            row.occurred_at,
            row.event_pk,
            row.lot_pk,
        )
    )
    return rows


def _named_in_period(lots, period) -> tuple[set[int], set[int]]:
    """The lots with a CTE on those dates (where each happened), and those events."""
    start, end = period
    lot_keys = lots.values("pk") if isinstance(lots, QuerySet) else [lot.pk for lot in lots]
    candidates = (
        EventLine.objects.filter(
            item_id__in=lot_keys,
            role__in=LOT_ROLES,
            event__occurred_at__gte=datetime.combine(start, time.min, UTC) - OFFSET_MARGIN,
            event__occurred_at__lt=datetime.combine(end + timedelta(days=1), time.min, UTC)
            + OFFSET_MARGIN,
        )
        .annotate(cte=event_cte("event__"))
        .exclude(cte=FsmaCte.NONE)
        .values_list("item_id", "event_id", "event__occurred_at", "event__time_zone_offset")
    )
    named, events = set(), set()
    for lot_pk, event_pk, occurred_at, offset in candidates:
        if start <= local_date(occurred_at, offset) <= end:
            named.add(lot_pk)
            events.add(event_pk)
    return named, events


def _events_naming(lot_keys, *, listed_foods_only=False) -> Q:
    lines = EventLine.objects.filter(item_id__in=list(lot_keys), role__in=LOT_ROLES)
    if listed_foods_only:
        lines = lines.filter(item__lot__product__on_food_traceability_list=True)
    return Q(pk__in=lines.values("event_id"))


def _event_rows(event: TraceEvent, in_scope) -> list[Fsma204Row]:
    cte = FsmaCte(event.cte)
    lines = [(line, line.item.lot) for line in event.lot_lines]
    inputs = [lot for line, lot in lines if line.role == EventLine.Role.INPUT]
    outputs = [(line, lot) for line, lot in lines if line.role == EventLine.Role.OUTPUT]
    if outputs:
        an_input_in_scope = any(in_scope(lot, event) for lot in inputs)
        chosen = [(line, lot) for line, lot in outputs if an_input_in_scope or in_scope(lot, event)]
    else:
        chosen = [
            (line, lot)
            for line, lot in lines
            if line.role == EventLine.Role.SUBJECT and in_scope(lot, event)
        ]
    if not chosen:
        return []

    if inputs:
        input_codes = "; ".join(dict.fromkeys(traceability_lot_code(lot) for lot in inputs))
    elif cte == FsmaCte.TRANSFORMATION:
        input_codes = MISSING
    else:
        input_codes = NOT_APPLICABLE
    shared = {
        "event_type": str(cte.label),
        "location_description": _event_location(event, cte),
        "immediate_previous_source": (
            _place(event.source_site, event.source_party)
            if cte in PREVIOUS_SOURCE_CTES
            else NOT_APPLICABLE
        ),
        "immediate_subsequent_recipient": (
            _place(event.destination_site, event.destination_party)
            if cte in SUBSEQUENT_RECIPIENT_CTES
            else NOT_APPLICABLE
        ),
        "event_date": local_date(event.occurred_at, event.time_zone_offset),
        "reference_document_type": (
            capfirst(event.get_document_type_display()) if event.document_type else MISSING
        ),
        "reference_document_number": event.document_number or MISSING,
        "input_traceability_lot_codes": input_codes,
        "event_pk": event.pk,
        "occurred_at": event.occurred_at,
    }
    return [
        Fsma204Row(
            traceability_lot_code=traceability_lot_code(lot),
            product_description=_product_description(lot.product),
            quantity=_quantity(line.quantity),
            unit_of_measure=_unit(line) if line.quantity is not None else MISSING,
            traceability_lot_code_source=traceability_lot_code_source(lot),
            lot_pk=lot.pk,
            **shared,
        )
        for line, lot in chosen
    ]


# --- Key data elements --------------------------------------------------------------------


def traceability_lot_code(lot: Lot) -> str:
    """The supplier's code for a received lot (receivers keep it), ours for a lot we made."""
    if lot.supplier_lot_code:
        return lot.supplier_lot_code
    if lot.supplier_id is not None:
        return MISSING
    return lot.code


def traceability_lot_code_source(lot: Lot) -> str:
    """Where the code was assigned: the supplier of a received lot, our site for ours."""
    if lot.supplier_id is not None:
        return _party_place(lot.supplier)
    if lot.supplier_lot_code:
        return MISSING
    return _site_place(lot.site) if lot.site_id is not None else MISSING


def local_date(moment: datetime, offset: str) -> date:
    """The date where an event happened, from its time zone offset (±HH:MM)."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return moment.astimezone(zone).date()


def _event_location(event: TraceEvent, cte: FsmaCte) -> str:
    site = event.site
    # The ship-from site of a shipment and the receiving site of a receipt are the same
    # fact recorded in another field, not a guess.
    if site is None and cte == FsmaCte.SHIPPING:
        site = event.source_site
    if site is None and cte in (FsmaCte.RECEIVING, FsmaCte.FIRST_LAND_BASED_RECEIVING):
        site = event.destination_site
    return _site_place(site) if site is not None else MISSING


def _place(site: Site | None, party: Party | None) -> str:
    if site is not None:
        return _site_place(site)
    if party is not None:
        return _party_place(party)
    return MISSING


def _site_place(site: Site) -> str:
    """Business name, location, address, phone and GLN; what is not recorded says so."""
    return _described(site.party.name, site.name, site.address, site.phone, site.gln)


def _party_place(party: Party) -> str:
    return _described(party.name, None, party.address, party.phone, party.gln)


def _described(business, location, address, phone, gln) -> str:
    parts = [business]
    if location and location != business:
        parts.append(location)
    parts.append(address or f"address {MISSING}")
    parts.append(phone or f"phone {MISSING}")
    if gln:
        parts.append(f"GLN {gln}")
    return "; ".join(parts)


def _product_description(product: Product) -> str:
    if product.gtin:
        return f"{product.name} (GTIN {product.gtin})"
    return product.name


def _quantity(quantity: Decimal | None) -> Decimal | str:
    if quantity is None:
        return MISSING
    # 100.000 reads as 100, and never as 1E+2.
    return Decimal(format(quantity.normalize(), "f"))


def _unit(line: EventLine) -> str:
    try:
        return str(Unit(line.unit).label)
    except ValueError:
        return line.unit


# --- Files --------------------------------------------------------------------------------


def file_stem(*parts) -> str:
    """fsma204-<lot's traceability lot code or our code>-… with only file-system-safe
    characters, e.g. fsma204-CVG-F12-B0311-2026-11-25."""
    words = []
    for part in parts:
        if isinstance(part, Lot):
            code = traceability_lot_code(part)
            part = part.code if code == MISSING else code
        words.append(str(part))
    return "fsma204-" + re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(words))


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# Column widths in the XLSX, in characters, so that it opens readable.
XLSX_WIDTHS = (16, 22, 40, 10, 10, 60, 60, 60, 12, 60, 20, 22, 30)


def csv_bytes(rows: list[Fsma204Row]) -> bytes:
    """The spreadsheet as UTF-8 CSV: one header row, then one row per CTE, dates YYYY-MM-DD.

    Text a spreadsheet would run as a formula gets an apostrophe in front (inventory/formulas.py);
    the XLSX keeps such text as text cells instead.
    """
    out = io.StringIO()
    writer = formulas.csv_writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            value.isoformat() if isinstance(value, date) else value for value in row.values()
        )
    return out.getvalue().encode()


def xlsx_bytes(rows: list[Fsma204Row]) -> bytes:
    """The spreadsheet as XLSX: a frozen, filterable header; dates and quantities typed."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "FSMA 204"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row.values())
        keep_text(sheet[sheet.max_row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    for index, width in enumerate(XLSX_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# Each file format's writer and content type.
FILE_FORMATS = {"csv": (csv_bytes, CSV_CONTENT_TYPE), "xlsx": (xlsx_bytes, XLSX_CONTENT_TYPE)}
