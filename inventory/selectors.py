"""Reads for inventory pages: querysets with their joins applied, so pages run constant queries."""

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .identifiers import (
    IdentifierError,
    ItemReference,
    add_months,
    normalize_gtin,
    parse_identifier,
)
from .models import (
    ConditionLimit,
    CounterfeitFlag,
    Deviation,
    EventLine,
    Genealogy,
    Job,
    Lot,
    Measurement,
    Party,
    Product,
    ReturnPhoto,
    SerialRun,
    SerialUnit,
    ServicePart,
    Site,
    StatusChange,
    TraceEvent,
    Unit,
    UnitOwnership,
    UnitReturn,
    VerificationCheck,
    WarrantyClaim,
)
from .trace import trace

# The dashboard's look-ahead for expiring stock, in days.
EXPIRY_WINDOWS = (30, 60, 90)


def dashboard_counts() -> dict:
    """Headline figures for the dashboard, in two queries."""
    today = timezone.localdate()
    lots = Lot.objects.aggregate(
        on_hold=Count("pk", filter=Q(status=Lot.Status.ON_HOLD)),
        quarantined=Count("pk", filter=Q(status=Lot.Status.QUARANTINED)),
        recalled=Count("pk", filter=Q(status=Lot.Status.RECALLED)),
        **{
            f"expiring_{days}": Count(
                "pk",
                filter=Q(expires_on__gte=today, expires_on__lte=today + timedelta(days=days))
                & ~Q(status__in=[Lot.Status.CONSUMED, Lot.Status.DESTROYED]),
            )
            for days in EXPIRY_WINDOWS
        },
        expired=Count(
            "pk",
            filter=Q(expires_on__lt=today)
            & ~Q(status__in=[Lot.Status.CONSUMED, Lot.Status.DESTROYED]),
        ),
    )
    units = SerialUnit.objects.aggregate(
        returned=Count("pk", filter=Q(status=SerialUnit.Status.RETURNED)),
        in_repair=Count("pk", filter=Q(status=SerialUnit.Status.IN_REPAIR)),
    )
    return {**lots, **units}


def lots_needing_attention(limit: int = 10):
    """Lots on hold, quarantined, rejected or recalled, most recently produced first."""
    return (
        Lot.objects.filter(status__in=Lot.BLOCKED_STATUSES)
        .select_related("product", "supplier", "site")
        .order_by("-produced_on", "-pk")[:limit]
    )


def recent_events(limit: int = 10):
    """The latest events, each with its number of lines: counted for those rows alone (a
    join and GROUP BY counted the lines of every event first, 5 s on a million events)."""
    lines = (
        EventLine.objects.filter(event=OuterRef("pk"))
        .order_by()
        .values("event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        TraceEvent.objects.select_related(
            "site", "source_party", "destination_party", "recorded_by"
        )
        .annotate(line_count=Coalesce(Subquery(lines, output_field=IntegerField()), 0))
        .order_by("-occurred_at", "-pk")[:limit]
    )


def open_warranty_claims(limit: int = 10):
    """Claims not yet closed, newest first: awaiting a decision, or approved and waiting for
    the repair or the replacement, or resolved and waiting to be closed."""
    return (
        WarrantyClaim.objects.exclude(status=WarrantyClaim.Status.CLOSED)
        .select_related("serial_unit__product")
        .order_by("-opened_at", "-pk")[:limit]
    )


def _reference_filters(ref: ItemReference) -> tuple[Q | None, Q | None]:
    """What a reference can match among lots and among serial units."""
    product = Q()
    if ref.gtin and ref.sku:
        product = Q(product__gtin=ref.gtin) | Q(product__sku=ref.sku)
    elif ref.gtin:
        product = Q(product__gtin=ref.gtin)
    elif ref.sku:
        product = Q(product__sku=ref.sku)
    if ref.serial:
        return None, product & Q(serial=ref.serial)
    if ref.lot:
        return product & Q(code=ref.lot), None
    lots = product & Q(code=ref.code)
    if not (ref.gtin or ref.sku):
        lots |= Q(supplier_lot_code=ref.code)
    elif " " in ref.text.strip():
        lots |= Q(supplier_lot_code=ref.text.strip())  # a supplier's code may hold spaces
    return lots, product & Q(serial=ref.code)


def _matches(obj: Lot | SerialUnit, ref: ItemReference) -> bool:
    """Whether a lot or unit is the one the reference names (not via a supplier's lot code)."""
    if (ref.gtin or ref.sku) and obj.product.gtin != ref.gtin and obj.product.sku != ref.sku:
        return False
    if isinstance(obj, SerialUnit):
        return obj.serial == (ref.serial or ref.code)
    return not ref.serial and obj.code == (ref.lot or ref.code)


def _is_supplier_lot(lot: Lot, ref: ItemReference) -> bool:
    if not ref.code:
        return False
    if ref.gtin or ref.sku:
        return lot.supplier_lot_code == ref.text.strip()
    return lot.supplier_lot_code == ref.code


def resolve_identifiers(texts: list[str]) -> tuple[list[Lot], list[SerialUnit]]:
    """The lots and units that typed or scanned identifiers name, in two queries.

    Raises IdentifierError (one line) for a malformed, unknown or ambiguous identifier. A bare
    code may be a lot code, a serial or a supplier's lot code; a supplier's lot code names every
    lot received under it.
    """
    refs = [parse_identifier(text) for text in texts]
    lot_q, unit_q = Q(pk__in=[]), Q(pk__in=[])
    for ref in refs:
        lots, units = _reference_filters(ref)
        if lots is not None:
            lot_q |= lots
        if units is not None:
            unit_q |= units
    lots = list(Lot.objects.filter(lot_q).select_related("product"))
    units = list(SerialUnit.objects.filter(unit_q).select_related("product", "lot"))

    found_lots, found_units = {}, {}
    for ref in refs:
        own = [obj for obj in (*lots, *units) if _matches(obj, ref)]
        if len(own) > 1 and not (ref.gtin or ref.sku):
            names = ", ".join(str(obj) for obj in own[:3])
            raise IdentifierError(f"{ref.text} matches {len(own)} items ({names}); add the SKU.")
        if not own:
            own = [lot for lot in lots if _is_supplier_lot(lot, ref)]
        if not own:
            raise IdentifierError(ref.gtin_error or f"No lot or serial unit matches {ref.text}.")
        for obj in own:
            (found_units if isinstance(obj, SerialUnit) else found_lots)[obj.pk] = obj
    return list(found_lots.values()), list(found_units.values())


# --- Stock on hand ----------------------------------------------------------------------------
# There is no stock table: what is on hand is worked out from the event lines, at our own sites
# (those of an internal party). A lot's quantity comes into a site when it is produced there
# (produce, or the output of a transformation), received there (receive, return) or transferred
# to it, and leaves when it is shipped or transferred from there, goes into a transformation as
# an input, or is consumed or destroyed (consume, scrap) there. A shipment to another of our
# sites is in transit until its receipt is recorded. A stock count (adjust) records what was
# counted, not a movement, and lines without a quantity move nothing. Quantities in different
# units are never added together.

_Type, _Role = TraceEvent.Type, EventLine.Role
STOCK_MOVES = (
    _Type.PRODUCE,
    _Type.RECEIVE,
    _Type.RETURN,
    _Type.TRANSFORM,
    _Type.TRANSFER,
    _Type.SHIP,
    _Type.CONSUME,
    _Type.SCRAP,
)
_SOURCE_SITE = Coalesce(F("event__source_site"), F("event__site"))
_SITE_IN = Case(
    When(event_type=_Type.PRODUCE, role=_Role.SUBJECT, then=F("event__site")),
    When(
        event_type__in=[_Type.RECEIVE, _Type.RETURN],
        role=_Role.SUBJECT,
        then=Coalesce(F("event__destination_site"), F("event__site")),
    ),
    When(event_type=_Type.TRANSFORM, role=_Role.OUTPUT, then=F("event__site")),
    When(event_type=_Type.TRANSFER, role=_Role.SUBJECT, then=F("event__destination_site")),
    output_field=IntegerField(),
)
_SITE_OUT = Case(
    When(event_type__in=[_Type.SHIP, _Type.TRANSFER], role=_Role.SUBJECT, then=_SOURCE_SITE),
    When(event_type=_Type.TRANSFORM, role=_Role.INPUT, then=F("event__site")),
    When(event_type__in=[_Type.CONSUME, _Type.SCRAP], role=_Role.SUBJECT, then=F("event__site")),
    output_field=IntegerField(),
)
# Lots whose stock is used up or gone, whatever their lines say.
GONE_STATUSES = (Lot.Status.CONSUMED, Lot.Status.DESTROYED)
# Serial units at one of our sites that are no longer stock.
_UNITS_NOT_STOCK = (SerialUnit.Status.SCRAPPED, SerialUnit.Status.INSTALLED)


@dataclass(frozen=True)
class OnHand:
    """A quantity of a lot (or a count of serial units) at one of our sites."""

    site: Site
    unit: str
    quantity: Decimal

    @property
    def unit_label(self) -> str:
        return unit_label(self.unit)

    @property
    def text(self) -> str:
        return quantity_text(self.quantity, self.unit)


_UNIT_LABELS = dict(Unit.choices)


def unit_label(code: str) -> str:
    """'kg' for KGM: a UN/CEFACT unit code as people write it."""
    return str(_UNIT_LABELS.get(code, code))


def quantity_text(quantity: Decimal, unit: str) -> str:
    """'12.5 kg', '60 each': a quantity without trailing zeros, and its unit."""
    return f"{quantity.normalize():f} {unit_label(unit)}".strip()


def _trimmed(value: Decimal) -> Decimal:
    """40 for 40.000: PostgreSQL's sums keep the column's three decimals, SQLite's do not, and
    a figure proposed in a form should read as a person would type it."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def our_sites() -> dict[int, Site]:
    """Our own sites (an internal party's), by key, in one query."""
    return {
        site.pk: site
        for site in Site.objects.filter(party__is_internal=True).order_by("name", "pk")
    }


def lots_on_hand(lots, *, sites: dict[int, Site] | None = None) -> dict[int, list[OnHand]]:
    """What each lot has on hand at each of our sites, per unit, from its event lines.

    `lots` is a queryset (or a list of keys): one aggregate query over their lines, however
    many there are, and one for our sites unless given. Lots with nothing on hand are left out;
    a negative figure (more recorded out than in) is kept, so the gap shows.
    """
    sites = our_sites() if sites is None else sites
    keys = lots.values("pk") if hasattr(lots, "values") else list(lots)
    rows = (
        EventLine.objects.filter(item_id__in=keys, event_type__in=STOCK_MOVES)
        .exclude(quantity=None)
        .annotate(site_in=_SITE_IN, site_out=_SITE_OUT)
        .values_list("item_id", "unit", "site_in", "site_out")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    totals = defaultdict(Decimal)
    for item, unit, site_in, site_out, total in rows:
        if site_in in sites:
            totals[item, site_in, unit] += total
        if site_out in sites:
            totals[item, site_out, unit] -= total
    found = defaultdict(list)
    for (item, site, unit), quantity in totals.items():
        if quantity:
            found[item].append(OnHand(sites[site], unit, _trimmed(quantity)))
    for stock in found.values():
        stock.sort(key=lambda entry: (entry.site.name, entry.site.pk, entry.unit))
    return dict(found)


def units_on_hand(units, *, sites: dict[int, Site] | None = None) -> list[tuple[Site, str, int]]:
    """How many of these serial units each of our sites holds, by status, in one query (and
    one for our sites unless given). Units installed in an assembly travel with it."""
    sites = our_sites() if sites is None else sites
    rows = (
        units.filter(holder_site__in=list(sites), installed_in=None)
        .exclude(status__in=_UNITS_NOT_STOCK)
        .values_list("holder_site", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    found = [(sites[site], status, count) for site, status, count in rows]
    in_stock = SerialUnit.Status.IN_STOCK
    return sorted(found, key=lambda row: (row[0].name, row[0].pk, row[1] != in_stock, row[1]))


def lot_on_hand(lot: Lot) -> list[OnHand]:
    """A lot's stock by site; a production lot of serial units counts its units in stock."""
    if lot.product.tracking == Product.Tracking.SERIAL:
        sites = our_sites()
        per_site = defaultdict(int)
        for site, _status, count in units_on_hand(lot.serial_units.all(), sites=sites):
            per_site[site] += count
        return [OnHand(site, Unit.EACH, Decimal(count)) for site, count in per_site.items()]
    return lots_on_hand([lot.pk]).get(lot.pk, [])


def stock_totals(lots: list[Lot], stock: dict[int, list[OnHand]]) -> list[OnHand]:
    """The lots' stock added up per site and unit (positive figures only)."""
    totals = defaultdict(Decimal)
    for lot in lots:
        for entry in stock.get(lot.pk, ()):
            if entry.quantity > 0:
                totals[entry.site, entry.unit] += entry.quantity
    found = [OnHand(site, unit, quantity) for (site, unit), quantity in totals.items()]
    return sorted(found, key=lambda entry: (entry.site.name, entry.site.pk, entry.unit))


def expiry_band(expires_on: date | None, today: date) -> str:
    """'expired', 'within 30' (60, 90) days, 'later' or 'none' (no expiry date)."""
    if expires_on is None:
        return "none"
    if expires_on < today:
        return "expired"
    for days in EXPIRY_WINDOWS:
        if expires_on <= today + timedelta(days=days):
            return f"within {days}"
    return "later"


EXPIRY_BANDS = ("expired", *(f"within {days}" for days in EXPIRY_WINDOWS), "later", "none")


def expiry_profile(lots: list[Lot], stock: dict[int, list[OnHand]], today: date) -> dict:
    """How much stock on hand is expired, expires within 30, 60 or 90 days, later, or has no
    expiry date, per unit: {"units": [unit codes], "bands": {band: [quantity per unit]}}. Bands
    do not overlap: 'within 60' is from day 31 to day 60."""
    totals = defaultdict(Decimal)
    for lot in lots:
        band = expiry_band(lot.expires_on, today)
        for entry in stock.get(lot.pk, ()):
            if entry.quantity > 0:
                totals[band, entry.unit] += entry.quantity
    units = sorted({unit for _band, unit in totals})
    return {
        "units": units,
        "bands": {band: [totals[band, unit] for unit in units] for band in EXPIRY_BANDS},
    }


def product_for_page(pk: int) -> Product:
    return Product.objects.get(pk=pk)


def product_lots(product: Product):
    return Lot.objects.filter(product=product)


def product_units(product: Product):
    return SerialUnit.objects.filter(product=product).select_related(
        "lot", "holder_site", "holder_party"
    )


def production_dates(units) -> tuple[date, date] | None:
    """The first and last production dates of these serial units, in one query."""
    dates = units.aggregate(first=Min("produced_on"), last=Max("produced_on"))
    return (dates["first"], dates["last"]) if dates["first"] else None


def expiring_stock(
    *, until: date, product: Product | None = None, site: Site | None = None
) -> list[dict]:
    """Stock on hand at our sites of lots that expired or expire by `until`, a row per lot, site
    and unit, soonest first. Three queries: the lots, their lines' sums, our sites."""
    lots = (
        Lot.objects.filter(product__tracking=Product.Tracking.LOT, expires_on__lte=until)
        .exclude(status__in=GONE_STATUSES)
        .select_related("product")
    )
    if product is not None:
        lots = lots.filter(product=product)
    sites = our_sites()
    if site is not None:
        sites = {site.pk: sites[site.pk]} if site.pk in sites else {}
    lots = lots.order_by("expires_on", "product__sku", "code")
    # The lots go into the sums' query as a subquery: a long report is no long list of keys.
    stock = lots_on_hand(lots, sites=sites) if sites else {}
    return [
        {"lot": lot, "product": lot.product, "site": entry.site, "on_hand": entry}
        for lot in lots
        for entry in stock.get(lot.pk, ())
        if entry.quantity > 0
    ]


@dataclass
class PickCandidate:
    """A lot with stock at the picking site, and why it may not be shipped (if it may not)."""

    lot: Lot
    on_hand: Decimal  # in the lot's own unit
    status_reason: str = ""
    problem: str | None = None  # the sentence that refuses it, if it may not be shipped


def fefo_candidates(product: Product, site: Site) -> list[PickCandidate]:
    """The product's lots with stock at one of our sites, first expiry first out (lots without
    an expiry date last), with the reason of each held lot's latest status change. Four
    queries, whatever the number of lots."""
    lots = (
        Lot.objects.filter(product=product)
        .exclude(status__in=GONE_STATUSES)
        .select_related("product")
        .order_by(F("expires_on").asc(nulls_last=True), "produced_on", "code")
    )
    sites = {site.pk: site} if site.party.is_internal else {}
    stock = lots_on_hand(lots, sites=sites) if sites else {}
    candidates = []
    for lot in lots:
        quantity = sum(
            (entry.quantity for entry in stock.get(lot.pk, ()) if entry.unit == lot.unit),
            Decimal(0),
        )
        if quantity > 0:
            candidates.append(PickCandidate(lot, quantity))
    held = [c.lot.pk for c in candidates if c.lot.is_blocked]
    if held:
        reasons = dict(
            StatusChange.objects.filter(item_id__in=held)
            .order_by("item_id", "changed_at", "pk")
            .values_list("item_id", "reason")
        )
        for candidate in candidates:
            candidate.status_reason = reasons.get(candidate.lot.pk, "")
    return candidates


def lot_for_page(pk: int) -> Lot:
    return Lot.objects.select_related("product", "supplier", "site").get(pk=pk)


def serial_unit_for_page(pk: int) -> SerialUnit:
    return SerialUnit.objects.select_related(
        "product",
        "lot",
        "holder_site",
        "holder_party",
        "installed_in__product",
        "replaces__product",
        "replaced_by__product",
        "run",
    ).get(pk=pk)


def item_timeline(item_pk: int):
    """The events that name an item, oldest first, with where, who and the other parties."""
    return (
        EventLine.objects.filter(item_id=item_pk)
        .select_related(
            "event__site",
            "event__source_party",
            "event__source_site",
            "event__destination_party",
            "event__destination_site",
            "event__recorded_by",
        )
        # The readings of each event show under it (process conditions).
        .prefetch_related(
            Prefetch(
                "event__measurements", queryset=Measurement.objects.order_by("measured_at", "pk")
            )
        )
        .order_by("event__occurred_at", "event__pk", "pk")
    )


def status_history(item_pk: int):
    return (
        StatusChange.objects.filter(item_id=item_pk)
        .select_related("changed_by")
        .order_by("changed_at", "pk")
    )


def installed_components(unit: SerialUnit):
    return unit.components.select_related("product", "lot").order_by("product__sku", "serial")


def service_records(unit: SerialUnit):
    return (
        unit.service_records.select_related("recorded_by")
        .prefetch_related(
            Prefetch("parts", queryset=ServicePart.objects.select_related("part__product"))
        )
        .order_by("-performed_on", "-pk")
    )


def parties_by_pk(pks) -> dict[int, Party]:
    """Contact details for the parties a trace found, in one query."""
    return Party.objects.in_bulk(list(pks))


def genealogy_links(item_pk: int, *, upstream: bool):
    """One level of genealogy: what went into the item, or what it went into."""
    if upstream:
        links = Genealogy.objects.filter(child_id=item_pk)
        other = "parent"
    else:
        links = Genealogy.objects.filter(parent_id=item_pk)
        other = "child"
    return links.select_related(
        "event", f"{other}__lot__product", f"{other}__serialunit__product"
    ).order_by("pk")


SEARCH_LIMIT = 50


def product_named(text: str) -> Product | None:
    """The product a search names exactly, by its SKU or its GTIN (8 to 14 digits), if any."""
    text = text.strip()
    if not text or len(text) > 64:
        return None
    query = Q(sku__iexact=text)
    if text.isdigit() and 8 <= len(text) <= 14:
        with contextlib.suppress(ValidationError):  # not a valid GTIN: the SKU may still match
            query |= Q(gtin=normalize_gtin(text))
    return Product.objects.filter(query).first()


def search_items(text: str) -> tuple[list[Lot], list[SerialUnit]]:
    """What a header search finds: the exact item(s) an identifier names, else partial matches
    of lot codes, supplier lot codes, serials, SKUs, GTINs and product names (50 of each)."""
    try:
        return resolve_identifiers([text])
    except IdentifierError:
        pass
    words = text.split()
    if not words or len(text) > 200:
        return [], []
    lot_q, unit_q = Q(), Q()
    for word in words:
        product = (
            Q(product__sku__icontains=word)
            | Q(product__name__icontains=word)
            | Q(product__gtin__contains=word)
        )
        lot_q &= product | Q(code__icontains=word) | Q(supplier_lot_code__icontains=word)
        unit_q &= product | Q(serial__icontains=word)
    lots = (
        Lot.objects.filter(lot_q)
        .select_related("product", "supplier")
        .order_by("product__sku", "code")[:SEARCH_LIMIT]
    )
    units = (
        SerialUnit.objects.filter(unit_q)
        .select_related("product", "lot")
        .order_by("product__sku", "serial")[:SEARCH_LIMIT]
    )
    return list(lots), list(units)


def awaiting_review(limit: int = 10) -> dict:
    """Products and parties created automatically (e.g. by an EPCIS import), newest first."""
    products = Product.objects.filter(needs_review=True).order_by("-pk")
    parties = Party.objects.filter(needs_review=True).order_by("-pk")
    return {
        "products": list(products[:limit]),
        "products_total": products.count(),
        "parties": list(parties[:limit]),
        "parties_total": parties.count(),
    }


def job_for_user(pk, user, *, with_output: bool = False) -> Job | None:
    """A background job, if this person started it (a superuser sees every one); its input
    is never read, its file only when asked for."""
    jobs = Job.objects.select_related("created_by").defer(
        "payload", *(() if with_output else ("output",))
    )
    if not user.is_superuser:
        jobs = jobs.filter(created_by=user)
    return jobs.filter(pk=pk).first()


# --- list pages -------------------------------------------------------------------------------
# Each returns every row with what its table shows joined or annotated, so a page of 50 rows
# (and an export of all of them) is one query however many rows there are. Counts of related
# rows are correlated subqueries, not joins with GROUP BY: the database works them out for the
# rows of the page only, instead of grouping the whole table before it can sort and cut it.


def _count(queryset, field: str):
    """How many rows of `queryset` point at the outer row through `field`, as an expression."""
    counted = (
        queryset.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("*"))  # not a column: an index on `field` answers it alone
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def product_list():
    return Product.objects.annotate(
        lot_count=_count(Lot.objects.all(), "product"),
        unit_count=_count(SerialUnit.objects.all(), "product"),
    )


def lot_list():
    return Lot.objects.select_related("product", "supplier", "site")


def serial_unit_list():
    return SerialUnit.objects.select_related("product", "lot", "holder_site", "holder_party")


def event_list():
    return TraceEvent.objects.select_related(
        "site", "source_party", "source_site", "destination_party", "destination_site"
    ).annotate(item_count=_count(EventLine.objects.all(), "event"))


def party_list():
    return Party.objects.annotate(site_count=_count(Site.objects.all(), "party"))


# --- a unit's holders ---------------------------------------------------------------------------

# Events that hand a unit to someone, and those after which nobody holds it.
HANDOVER_EVENTS = (
    TraceEvent.Type.PRODUCE,
    TraceEvent.Type.TRANSFORM,
    TraceEvent.Type.SHIP,
    TraceEvent.Type.RECEIVE,
    TraceEvent.Type.RETURN,
    TraceEvent.Type.TRANSFER,
)
ENDING_EVENTS = (TraceEvent.Type.SCRAP, TraceEvent.Type.CONSUME)


@dataclass
class Holding:
    """Who held a unit (a party, a site, or a party at a site), from when until when."""

    party: Party | None
    site: Site | None
    since: datetime
    event: TraceEvent  # the event that handed it over
    until: datetime | None = None  # None: holds it still

    def is_held_by(self, party: Party | None, site: Site | None) -> bool:
        if site is not None and self.site is not None:
            return site.pk == self.site.pk
        return party is not None and self.party is not None and party.pk == self.party.pk


def _receiver(event: TraceEvent) -> tuple[Party | None, Site | None]:
    """Who an event hands its subject to: where it was made, or where it went."""
    if event.event_type in (TraceEvent.Type.PRODUCE, TraceEvent.Type.TRANSFORM):
        return None, event.site
    if event.event_type == TraceEvent.Type.SHIP:
        # A shipment's own site is where it left from.
        return event.destination_party, event.destination_site
    return event.destination_party, event.destination_site or event.site


def holder_periods(timeline) -> list[Holding]:
    """Who held a unit from when to when, from the events of its timeline (oldest first).

    A receipt that completes a shipment to the same holder does not start a new period; it
    only says at which of their sites the unit arrived. No queries: the timeline has its
    events' sites and parties joined.
    """
    periods: list[Holding] = []
    for line in timeline:
        event = line.event
        current = periods[-1] if periods and periods[-1].until is None else None
        if event.event_type in ENDING_EVENTS:
            if current is not None:
                current.until = event.occurred_at
            continue
        if event.event_type not in HANDOVER_EVENTS or line.role not in (
            EventLine.Role.SUBJECT,
            EventLine.Role.OUTPUT,
        ):
            continue
        party, site = _receiver(event)
        if party is None and site is None:
            continue
        if current is not None and current.is_held_by(party, site):
            current.site = current.site or site
            current.party = current.party or party
            continue
        if current is not None:
            current.until = event.occurred_at
        periods.append(Holding(party=party, site=site, since=event.occurred_at, event=event))
    return periods


# --- Owners ---


def unit_ownerships(unit_pk: int) -> list:
    """A unit's owners, the current one first."""
    return list(
        UnitOwnership.objects.filter(serial_unit_id=unit_pk)
        .select_related("registered_by")
        .order_by(F("ended_on").desc(nulls_first=True), "-started_on", "-pk")
    )


def ownership_for_unit(unit_pk: int, ownership_pk: int) -> UnitOwnership | None:
    return UnitOwnership.objects.filter(serial_unit_id=unit_pk, pk=ownership_pk).first()


# --- Installations ---


@dataclass
class Installation:
    """An assembly a unit was installed in, from when until when (None: it is there still)."""

    assembly: SerialUnit
    since: datetime
    event: TraceEvent
    until: datetime | None = None
    removal: TraceEvent | None = None


def installation_periods(timeline) -> list[Installation]:
    """Every assembly a part was ever installed in, from its timeline (oldest first).

    The timeline's events are already read; one query finds the assemblies they name.
    """
    moves = [
        line.event
        for line in timeline
        if line.role == EventLine.Role.CHILD
        and line.event.event_type in (TraceEvent.Type.INSTALL, TraceEvent.Type.REMOVE)
    ]
    if not moves:
        return []
    assemblies = {
        line.event_id: line.item.serialunit
        for line in EventLine.objects.filter(
            event_id__in=[event.pk for event in moves], role=EventLine.Role.PARENT
        ).select_related("item__serialunit__product")
        if hasattr(line.item, "serialunit")
    }
    # The k-th removal from an assembly ends the k-th installation in it, even when a service
    # dated by day sorts before the installation it undid.
    periods: list[Installation] = []
    removals: dict[int, list[TraceEvent]] = defaultdict(list)
    for event in moves:
        assembly = assemblies.get(event.pk)
        if assembly is None:
            continue
        if event.event_type == TraceEvent.Type.INSTALL:
            periods.append(Installation(assembly=assembly, since=event.occurred_at, event=event))
        else:
            removals[assembly.pk].append(event)
    for period in periods:
        if removals[period.assembly.pk]:
            period.removal = removals[period.assembly.pk].pop(0)
            period.until = period.removal.occurred_at
    return periods


# --- Warranty claims --------------------------------------------------------------------------

# Why the warranty does not cover a claim; the decision form and the refusal both say it.
NOT_COVERED_NOT_SHIPPED = _(
    "Not covered: %(unit)s had not been shipped when the claim was opened, so its warranty "
    "had not started."
)
NOT_COVERED_NO_WARRANTY = _("Not covered: %(product)s carries no warranty.")
NOT_COVERED_ENDED = _("Not covered: the fault was reported after the warranty ended on %(end)s.")


def claim_not_covered(claim: WarrantyClaim) -> str:
    """Why the warranty does not cover a claim, in a sentence; empty when it does."""
    end = claim.warranty_ends_on
    if end is not None:
        return "" if claim.reported_on <= end else NOT_COVERED_ENDED % {"end": end.isoformat()}
    unit = claim.serial_unit
    if unit.product.warranty_months is None:
        return NOT_COVERED_NO_WARRANTY % {"product": unit.product.name}
    return NOT_COVERED_NOT_SHIPPED % {"unit": unit}


def _time_between(earlier: date, later: date) -> str:
    """ "34 days", "3 months": days up to two months, whole months beyond."""
    days = (later - earlier).days
    if days < 60:
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if add_months(earlier, months) > later:
        months -= 1
    return ngettext("%(n)d month", "%(n)d months", months) % {"n": months}


def claim_coverage_text(claim: WarrantyClaim, *, today: date | None = None) -> str:
    """The fault date against the warranty end, in plain words."""
    end, reported = claim.warranty_ends_on, claim.reported_on
    if end is None:
        return claim_not_covered(claim)
    today = today or timezone.localdate()
    ends = _("ends") if end >= today else _("ended")
    if reported == end:
        return _("Reported %(reported)s, the last day of the warranty.") % {
            "reported": reported.isoformat()
        }
    if reported < end:
        return _("Reported %(reported)s, %(time)s before the warranty %(ends)s on %(end)s.") % {
            "reported": reported.isoformat(),
            "time": _time_between(reported, end),
            "ends": ends,
            "end": end.isoformat(),
        }
    return _("Reported %(reported)s, %(time)s after the warranty ended on %(end)s.") % {
        "reported": reported.isoformat(),
        "time": _time_between(end, reported),
        "end": end.isoformat(),
    }


def claim_decision(claim: WarrantyClaim) -> str:
    """What was decided, still readable once the claim is closed."""
    if claim.decided_at is None:
        return ""
    if claim.status == WarrantyClaim.Status.REJECTED or (
        claim.status == WarrantyClaim.Status.CLOSED
        and claim.service_record_id is None
        and claim.replacement_id is None
    ):
        return _("Rejected")
    return _("Approved outside warranty") if claim.overridden else _("Approved")


def claim_list():
    return WarrantyClaim.objects.select_related(
        "serial_unit__product", "claimant", "replacement", "decided_by"
    )


def claim_for_page(pk: int) -> WarrantyClaim:
    return WarrantyClaim.objects.select_related(
        "serial_unit__product",
        "serial_unit__holder_party",
        "serial_unit__holder_site",
        "unit_return",
        "claimant",
        "opened_by",
        "decided_by",
        "replacement__product",
        "service_record__recorded_by",
    ).get(pk=pk)


def claim_steps(claim: WarrantyClaim):
    """Each saved step of a claim, oldest first, with who took it."""
    return (
        claim.history.select_related("history_user")
        .order_by("history_date", "history_id")
        .only("history_date", "history_change_reason", "history_user", "status")
    )


def unit_open_return(unit: SerialUnit) -> UnitReturn | None:
    """The return (RMA) that has the unit back with us now, if any."""
    return (
        UnitReturn.objects.filter(serial_unit=unit)
        .exclude(status=UnitReturn.Status.CLOSED)
        .select_related("customer")
        .first()
    )


def unit_claims(unit: SerialUnit):
    return unit.warranty_claims.select_related("replacement__product").order_by("-opened_at", "-pk")


# --- Returns (RMA) ----------------------------------------------------------------------------


def return_list():
    return UnitReturn.objects.select_related("serial_unit__product", "customer", "site")


def return_for_page(pk: int) -> UnitReturn:
    return UnitReturn.objects.select_related(
        "serial_unit__product",
        "serial_unit__holder_site",
        "serial_unit__holder_party",
        "customer",
        "site",
        "registered_by",
        "decided_by",
        "replacement__product",
    ).get(pk=pk)


def return_photos(unit_return: UnitReturn):
    return unit_return.photos.select_related("uploaded_by").order_by("pk")


def return_photo(pk: int) -> ReturnPhoto | None:
    return ReturnPhoto.objects.select_related("unit_return").filter(pk=pk).first()


def return_timeline(unit_return: UnitReturn):
    """The unit's events from its receipt under the return on, oldest first."""
    return item_timeline(unit_return.serial_unit_id).filter(
        event__occurred_at__gte=unit_return.received_at
    )


def unit_returns(unit: SerialUnit):
    """A unit's returns, newest first, with what its page shows of each."""
    return (
        UnitReturn.objects.filter(serial_unit=unit)
        .select_related("customer", "site", "replacement__product")
        .order_by("-received_at", "-pk")
    )


# --- Public verification ---

# Imported here rather than at the top so that this section merges apart from the others.


def verification_target(gtin: str, serial: str) -> tuple[Product | None, SerialUnit | None]:
    """The product a (14-digit) GTIN names and its unit with this serial, each None if unknown."""
    product = Product.objects.filter(gtin=gtin).first()
    if product is None or not serial:
        return product, None
    unit = (
        SerialUnit.objects.select_related("product", "lot")
        .filter(product=product, serial=serial)
        .first()
    )
    return product, unit


def verification_lot(gtin: str, code: str) -> tuple[Product | None, Lot | None]:
    """The product a (14-digit) GTIN names and its lot with this code, each None if unknown."""
    product = Product.objects.filter(gtin=gtin).first()
    if product is None:
        return None, None
    return product, Lot.objects.select_related("product").filter(product=product, code=code).first()


def item_ancestry(item: Lot | SerialUnit) -> set[int]:
    """A lot or unit, a unit's production lot and everything either was built from, as item
    keys (one recursive query): the items whose recall reaches it."""
    roots = {
        "serial_units" if isinstance(item, SerialUnit) else "lots": type(item).objects.filter(
            pk=item.pk
        )
    }
    found = trace(direction="backward", **roots)
    keys = {traced.pk for traced in found.items} | {item.pk}
    if isinstance(item, SerialUnit) and item.lot_id is not None:
        keys.add(item.lot_id)
    return keys


def distinct_checkers(gtin: str, serial: str, since: datetime) -> int:
    """How many distinct clients checked a GTIN and serial since a moment."""
    return (
        VerificationCheck.objects.filter(gtin=gtin, serial=serial, checked_at__gte=since)
        .values("client_hash")
        .distinct()
        .count()
    )


def confirmed_counterfeit(product: Product, serial: str) -> bool:
    return CounterfeitFlag.objects.filter(
        product=product, serial=serial, status=CounterfeitFlag.Status.CONFIRMED
    ).exists()


def counterfeit_flag_list():
    """Flags for the staff list, newest first, with their product, unit and reviewer."""
    return CounterfeitFlag.objects.select_related(
        "product", "serial_unit__product", "reviewed_by"
    ).order_by("-raised_at", "-pk")


def open_counterfeit_flags(limit: int = 8):
    """Open flags for the dashboard, most recently checked first."""
    return (
        CounterfeitFlag.objects.filter(status=CounterfeitFlag.Status.OPEN)
        .select_related("product", "serial_unit__product")
        .order_by("-last_checked_at", "-pk")[:limit]
    )


def open_counterfeit_flag_count() -> int:
    return CounterfeitFlag.objects.filter(status=CounterfeitFlag.Status.OPEN).count()


def unit_verification(unit_pk: int, *, recent: int = 5) -> dict:
    """A unit's flags (all, open first), its public check count and latest checks: two queries."""
    recent_checks = list(
        VerificationCheck.objects.filter(serial_unit_id=unit_pk)
        .annotate(total=Window(Count("pk")))
        .order_by("-checked_at", "-pk")[:recent]
    )
    return {
        "flags": list(
            CounterfeitFlag.objects.filter(serial_unit_id=unit_pk)
            .select_related("reviewed_by")
            .order_by(
                Case(When(status=CounterfeitFlag.Status.OPEN, then=0), default=1),
                "-raised_at",
                "-pk",
            )
        ),
        "check_count": recent_checks[0].total if recent_checks else 0,
        "recent_checks": recent_checks,
    }


def flag_checks(flag, *, limit: int = 50):
    """The latest public checks of a flag's GTIN and serial."""
    return VerificationCheck.objects.filter(gtin=flag.product.gtin, serial=flag.serial).order_by(
        "-checked_at", "-pk"
    )[:limit]


# --- Serial generation ------------------------------------------------------------------------


def serial_run_for_page(pk: int) -> SerialRun:
    return SerialRun.objects.select_related("product", "lot", "site", "event", "created_by").get(
        pk=pk
    )


def serial_run_units(run: SerialRun):
    """A run's units in the order they were made (its serials' order, for a pattern)."""
    return run.units.select_related("holder_site", "holder_party").order_by("pk")


def serial_run_list():
    return SerialRun.objects.select_related("product", "lot", "site", "created_by").order_by(
        "-created_at", "-pk"
    )


# --- Quality control: process conditions ------------------------------------------------------

CONDITIONS_DASHBOARD_DAYS = 7


def conditions_measurement_list():
    """Readings, newest first, with their event, its site and how many items it names."""
    return Measurement.objects.select_related("event__site", "recorded_by").annotate(
        item_count=Coalesce(
            Subquery(
                EventLine.objects.filter(event=OuterRef("event"))
                .order_by()
                .values("event")
                .annotate(n=Count("*"))
                .values("n"),
                output_field=IntegerField(),
            ),
            0,
        ),
        deviation_count=_count(Deviation.objects.all(), "measurement"),
    )


def conditions_product_limits(product: Product):
    return (
        ConditionLimit.objects.filter(product=product)
        .select_related("site")
        .order_by("-active", "measurement_type", "name", "pk")
    )


def conditions_event_for_readings(pk: int) -> TraceEvent:
    """An event for the readings form: where, and the items it names."""
    return (
        TraceEvent.objects.select_related("site")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=EventLine.objects.select_related(
                    "item__lot__product", "item__serialunit__product"
                ).order_by("pk"),
            ),
            "measurements",
        )
        .get(pk=pk)
    )


def conditions_for_item(item: Lot | SerialUnit) -> dict:
    """The readings on an item's events, each with its verdict for the item's product, and the
    excursion deviations raised on it: three queries."""
    readings = list(
        Measurement.objects.filter(event__lines__item_id=item.pk)
        .select_related("event__site")
        .distinct()
        .order_by("measured_at", "pk")
    )
    for reading in readings:
        mine = [limit for limit in reading.limits if limit["product"] == item.product_id]
        reading.item_limits = mine
        reading.item_verdict = None if not mine else all(limit["within"] for limit in mine)
    deviations = list(
        Deviation.objects.filter(item_id=item.pk, kind=Deviation.Kind.EXCURSION)
        .select_related("measurement")
        .order_by("raised_at", "pk")
    )
    return {"readings": readings, "deviations": deviations}


def conditions_excursions_recent(days: int = CONDITIONS_DASHBOARD_DAYS, limit: int = 5) -> dict:
    """The dashboard's excursions: counts over the last days and the latest readings outside
    their limits, in three queries."""
    since = timezone.now() - timedelta(days=days)
    outside = Measurement.objects.filter(within_limits=False, measured_at__gte=since)
    deviations = Deviation.objects.filter(kind=Deviation.Kind.EXCURSION, raised_at__gte=since)
    counts = deviations.aggregate(
        raised=Count("pk"),
        still_open=Count("pk", filter=Q(status=Deviation.Status.OPEN)),
        items=Count("item", distinct=True),
    )
    return {
        "days": days,
        "since": timezone.localtime(since).date(),
        "readings": outside.count(),
        **counts,
        "latest": list(
            outside.select_related("event__site")
            .annotate(deviation_count=_count(Deviation.objects.all(), "measurement"))
            .order_by("-measured_at", "-pk")[:limit]
        ),
    }
