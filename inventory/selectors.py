"""Reads for inventory pages: querysets with their joins applied, so pages run constant queries."""

from datetime import timedelta

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from .identifiers import IdentifierError, ItemReference, parse_identifier
from .models import (
    EventLine,
    Genealogy,
    Lot,
    Party,
    Product,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    StatusChange,
    TraceEvent,
)


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
    return (
        TraceEvent.objects.select_related(
            "site", "source_party", "destination_party", "recorded_by"
        )
        .annotate(line_count=Count("lines"))
        .order_by("-occurred_at", "-pk")[:limit]
    )


def open_warranty_claims(limit: int = 10):
    return (
        ServiceRecord.objects.filter(
            kind=ServiceRecord.Kind.WARRANTY_CLAIM, outcome=ServiceRecord.Outcome.OPEN
        )
        .select_related("serial_unit__product")
        .order_by("-performed_on", "-pk")[:limit]
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


def lot_for_page(pk: int) -> Lot:
    return Lot.objects.select_related("product", "supplier", "site").get(pk=pk)


def serial_unit_for_page(pk: int) -> SerialUnit:
    return SerialUnit.objects.select_related(
        "product",
        "lot",
        "holder_site",
        "holder_party",
        "installed_in__product",
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
