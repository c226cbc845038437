"""Export trace events as an EPCIS 2.0 JSON-LD document.

Serial units become SGTINs and lots LGTINs (quantity elements) when biip knows the GTIN's
company prefix length, else GS1 Digital Link URIs (https://id.gs1.org/01/…/21/… or /10/…),
which EPCIS 2.0 accepts as EPC identifiers. Sites and parties with a GLN become SGLNs and
PGLNs (or /414/ and /417/ links). Products without a GTIN and sites and parties without a GLN
get private URNs (urn:tracewell:lot:SKU:CODE, … see parse.py), so every event is exported
whole; the header's master data describes every product, lot, site and party named (see
masterdata.py), so the document imports into an empty database with the same traces.
Our own bizStep and disposition words that GS1's
CBV lacks ("transforming", "consuming") are written as urn:tracewell:bizstep:… URNs, which
the importer reads back as the bare word.
What an import kept in `extra` (readPoint, bizTransactionList, possessing parties, sensor
data, extensions, identifiers we do not model) is written back as it was; readings entered by
hand are added to the event's sensorElementList (imported ones are already in it).
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

from django.db.models import Prefetch
from django.utils import timezone as django_timezone

from ..conditions import CONDITIONS_DEVICE_FIELD, CONDITIONS_EPCIS_TYPES
from ..models import EventLine, Item, Lot, Measurement, SerialUnit, TraceEvent
from . import masterdata
from .importer import (
    CTE_FIELD,
    EVENT_TYPE_FIELD,
    NOTES_FIELD,
    OUR_BIZ_STEP_PREFIX,
    OUR_CONTEXT,
    OUR_DISPOSITION_PREFIX,
    SENSOR_FIGURES,
)
from .masterdata import (
    INSTANCE_VOCABULARY,
    LOCATION_VOCABULARY,
    LOT,
    PARTY,
    PARTY_VOCABULARY,
    PRODUCT,
    PRODUCT_VOCABULARY,
    SITE,
)
from .parse import (
    DIGITAL_LINK_BASE,
    location_epc,
    lot_epc,
    party_epc,
    private_lot_epc,
    private_party_epc,
    private_product_class,
    private_serial_epc,
    private_site_epc,
    serial_epc,
)

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# The bizStep and disposition values of GS1's CBV 2.0 that may be written as bare words.
CBV_BIZ_STEPS = {
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
    "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
    "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
    "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
    "repackaging", "repairing", "replacing", "reserving", "retail_selling", "shipping",
    "staging_outbound", "stock_taking", "stocking", "storing", "transporting", "unloading",
    "unpacking", "void_shipping", "sensor_reporting", "sampling",
}  # fmt: skip
CBV_DISPOSITIONS = {
    "active", "available", "completeness_verified", "completeness_inferred", "conformant",
    "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
    "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
    "mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
    "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
    "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
    "unavailable", "unknown",
}  # fmt: skip
ADD_TYPES = {TraceEvent.Type.PRODUCE}
DELETE_TYPES = {TraceEvent.Type.SCRAP, TraceEvent.Type.CONSUME}
ROLE_LISTS = {
    EventLine.Role.SUBJECT: ("epcList", "quantityList"),
    EventLine.Role.INPUT: ("inputEPCList", "inputQuantityList"),
    EventLine.Role.OUTPUT: ("outputEPCList", "outputQuantityList"),
    EventLine.Role.CHILD: ("childEPCs", "childQuantityList"),
}


def _vocabulary(value: str, known: set[str], prefix: str) -> str:
    """A bare CBV word as it is; our own words as URNs, which EPCIS requires of other values."""
    if not value or value in known or ":" in value:
        return value
    return prefix + value


def _time(moment: datetime, offset: str) -> str:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return moment.astimezone(zone).isoformat(timespec="milliseconds")


class _MasterData:
    """The header: what the document says of the products, lots, sites and parties it names."""

    def __init__(self):
        self.vocabularies = defaultdict(dict)

    def _add(self, vocabulary: str, identifier: str, build) -> str:
        elements = self.vocabularies[vocabulary]
        if identifier not in elements:
            elements[identifier] = None  # described below; a reference back ends here
            elements[identifier] = build()
        return identifier

    def product(self, product) -> str:
        if product.gtin:
            identifier = f"{DIGITAL_LINK_BASE}/01/{product.gtin}"
        else:
            identifier = private_product_class(product.sku)
        return self._add(
            PRODUCT_VOCABULARY, identifier, lambda: masterdata.attributes(PRODUCT, product)
        )

    def lot(self, lot, identifier: str) -> str:
        def build():
            attributes = masterdata.attributes(LOT, lot)
            if lot.supplier_id:
                supplier = self.party(lot.supplier)
                attributes.append({"id": masterdata.LOT_SUPPLIER, "attribute": supplier})
            if lot.site_id:
                site = self.site(lot.site)
                attributes.append({"id": masterdata.LOT_SITE, "attribute": site})
            return attributes

        return self._add(PRODUCT_VOCABULARY, identifier, build)

    def unit(self, unit, identifier: str) -> str:
        def build():
            attributes = masterdata.attributes(masterdata.UNIT, unit)
            if unit.holder_site_id:
                site = self.site(unit.holder_site)
                attributes.append({"id": masterdata.UNIT_HOLDER_SITE, "attribute": site})
            if unit.holder_party_id:
                party = self.party(unit.holder_party)
                attributes.append({"id": masterdata.UNIT_HOLDER_PARTY, "attribute": party})
            return attributes

        return self._add(INSTANCE_VOCABULARY, identifier, build)

    def site(self, site) -> str:
        identifier = location_epc(site.gln) if site.gln else private_site_epc(site.code)

        def build():
            attributes = masterdata.attributes(SITE, site)
            owner = self.party(site.party)
            return [*attributes, {"id": masterdata.SITE_OWNER, "attribute": owner}]

        return self._add(LOCATION_VOCABULARY, identifier, build)

    def party(self, party) -> str:
        identifier = party_epc(party.gln) if party.gln else private_party_epc(party.name)
        return self._add(
            PARTY_VOCABULARY,
            identifier,
            lambda: [*masterdata.attributes(PARTY, party), *masterdata.party_roles(party)],
        )

    def as_list(self) -> list[dict]:
        return [
            {
                "type": kind,
                "vocabularyElementList": [
                    {"id": identifier, "attributes": attributes}
                    for identifier, attributes in sorted(elements.items())
                    if attributes
                ],
            }
            for kind, elements in sorted(self.vocabularies.items())
        ]


def _item_epc(item, master: _MasterData) -> tuple[str, bool]:
    """The EPC of a lot or unit, and whether it is a serial unit."""
    tracked = item.tracked
    product = tracked.product
    master.product(product)
    if isinstance(tracked, SerialUnit):
        if product.gtin:
            identifier = serial_epc(product.gtin, tracked.serial)
        else:
            identifier = private_serial_epc(product.sku, tracked.serial)
        return master.unit(tracked, identifier), True
    identifier = (
        lot_epc(product.gtin, tracked.code)
        if product.gtin
        else private_lot_epc(product.sku, tracked.code)
    )
    return master.lot(tracked, identifier), False


def _place(site, master: _MasterData) -> str | None:
    return None if site is None else master.site(site)


def _party(party, master: _MasterData) -> str | None:
    return None if party is None else master.party(party)


def _event_type(event: TraceEvent, lines: list[EventLine]) -> str:
    epcis = event.extra.get("epcis") or {}
    if epcis.get("type"):
        return epcis["type"]
    if any(line.role == EventLine.Role.PARENT for line in lines):
        return "AggregationEvent"
    if event.event_type == TraceEvent.Type.TRANSFORM:
        return "TransformationEvent"
    return "ObjectEvent"


def _action(event: TraceEvent) -> str:
    epcis = event.extra.get("epcis") or {}
    if epcis.get("action"):
        return epcis["action"]
    if event.event_type in (*ADD_TYPES, TraceEvent.Type.INSTALL):
        return "ADD"
    if event.event_type in (*DELETE_TYPES, TraceEvent.Type.REMOVE):
        return "DELETE"
    return "OBSERVE"


def _event(event: TraceEvent, names: _MasterData, contexts: list) -> dict:
    lines = list(event.lines.all())
    kind = _event_type(event, lines)
    out = {
        "type": kind,
        "eventTime": _time(event.occurred_at, event.time_zone_offset),
        "recordTime": event.recorded_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": event.time_zone_offset,
        "eventID": event.event_id,
    }
    if kind != "TransformationEvent":
        out["action"] = _action(event)
    lists = defaultdict(list)
    for line in lines:
        epc, serial = _item_epc(line.item, names)
        if line.role == EventLine.Role.PARENT:
            out["parentID"] = epc
            continue
        epc_list, quantity_list = ROLE_LISTS[line.role]
        if serial:
            lists[epc_list].append(epc)
        else:
            element = {"epcClass": epc}
            if line.quantity is not None:
                element["quantity"] = float(line.quantity)
                element["uom"] = line.unit
            lists[quantity_list].append(element)
    if kind == "ObjectEvent":
        lists.setdefault("epcList", [])
    out.update(lists)
    if event.biz_step:
        out["bizStep"] = _vocabulary(event.biz_step, CBV_BIZ_STEPS, OUR_BIZ_STEP_PREFIX)
    if event.disposition:
        out["disposition"] = _vocabulary(
            event.disposition, CBV_DISPOSITIONS, OUR_DISPOSITION_PREFIX
        )
    location = _place(event.site, names)
    if location:
        out["bizLocation"] = {"id": location}
    if event.document_number:
        out["bizTransactionList"] = [
            {"type": event.document_type, "bizTransaction": event.document_number}
            if event.document_type != TraceEvent.DocumentType.OTHER
            else {"bizTransaction": event.document_number}
        ]
    for name, key, party, site in (
        ("sourceList", "source", event.source_party, event.source_site),
        ("destinationList", "destination", event.destination_party, event.destination_site),
    ):
        entries = []
        if identifier := _party(party, names):
            entries.append({"type": "owning_party", key: identifier})
        if identifier := _place(site, names):
            entries.append({"type": "location", key: identifier})
        if entries:
            out[name] = entries
    if kind in ("ObjectEvent", "TransformationEvent") and out.get("action", "ADD") == "ADD":
        ilmd = {}
        made = [
            line for line in lines if line.role in (EventLine.Role.SUBJECT, EventLine.Role.OUTPUT)
        ]
        expiry = {line.item.lot.expires_on for line in made if line.item.kind == Item.Kind.LOT}
        if len(expiry) == 1 and None not in expiry:
            ilmd["cbvmda:itemExpirationDate"] = expiry.pop().isoformat()
        built_in = {
            line.item.serialunit.lot.code if line.item.serialunit.lot_id else None
            for line in made
            if line.item.kind == Item.Kind.SERIAL
        }
        if len(built_in) == 1 and None not in built_in:
            # The lot commissioned units were built in (their production-lot genealogy).
            ilmd["cbvmda:lotNumber"] = built_in.pop()
        if ilmd:
            out["ilmd"] = ilmd

    # What EPCIS has no field for, as extension fields: our event type (a transfer or a
    # status change is not told by its bizStep alone), the notes, an explicit FSMA 204 CTE.
    out[EVENT_TYPE_FIELD] = event.event_type
    if event.notes:
        out[NOTES_FIELD] = event.notes
    if event.fsma_cte:
        out[CTE_FIELD] = event.fsma_cte
    if OUR_CONTEXT not in contexts:
        contexts.append(OUR_CONTEXT)

    # What an import kept, as it was: it replaces what our columns could only approximate.
    epcis = event.extra.get("epcis") or {}
    for key, value in event.extra.items():
        if key != "epcis":
            out[key] = value
    for name, values in (epcis.get("kept") or {}).items():
        out.setdefault(name, []).extend(values)
    for entry in epcis.get("context") or []:
        if entry not in contexts:
            contexts.append(entry)
    # Readings entered by hand; those of an import are in its sensorElementList above.
    sensed = [_sensor_element(m, event.time_zone_offset) for m in event.manual_measurements]
    if sensed:
        out["sensorElementList"] = [*out.get("sensorElementList", []), *sensed]
    return out


def _sensor_element(measurement: Measurement, offset: str) -> dict:
    """A reading entered by hand as an EPCIS sensorElement."""
    metadata = {"time": _time(measurement.measured_at, offset)}
    report = {"type": CONDITIONS_EPCIS_TYPES[measurement.measurement_type]}
    for name, key in SENSOR_FIGURES:
        value = getattr(measurement, name)
        if value is not None:
            report[key] = float(value)
    report["uom"] = measurement.unit
    device = measurement.device_id
    if device and ":" in device and " " not in device:
        metadata["deviceID"] = device  # a URI
    elif device:
        report[CONDITIONS_DEVICE_FIELD] = device
    return {"sensorMetadata": metadata, "sensorReport": [report]}


def _events(lots, serial_units, since):
    events = TraceEvent.objects.all()
    if lots is not None or serial_units is not None:
        keys = [obj.pk for obj in (*(lots or ()), *(serial_units or ()))]
        events = events.filter(pk__in=EventLine.objects.filter(item_id__in=keys).values("event"))
    if since is not None:
        if not isinstance(since, datetime):
            since = datetime.combine(since, datetime.min.time())
        if django_timezone.is_naive(since):
            since = django_timezone.make_aware(since)
        events = events.filter(occurred_at__gte=since)
    lines = EventLine.objects.select_related(
        "item__lot__product",
        "item__lot__supplier",
        "item__lot__site__party",
        "item__serialunit__product",
        "item__serialunit__lot",
        "item__serialunit__holder_site__party",
        "item__serialunit__holder_party",
    ).order_by("role", "pk")
    return (
        events.select_related(
            "site__party",
            "source_party",
            "source_site__party",
            "destination_party",
            "destination_site__party",
        )
        .prefetch_related(
            Prefetch("lines", queryset=lines),
            Prefetch(
                "measurements",
                queryset=Measurement.objects.filter(source=Measurement.Source.MANUAL).order_by(
                    "measured_at", "pk"
                ),
                to_attr="manual_measurements",
            ),
        )
        .order_by("occurred_at", "pk")
    )


def epcis_export(
    *,
    lots: list[Lot] | None = None,
    serial_units: list[SerialUnit] | None = None,
    since: datetime | None = None,
) -> dict:
    """An EPCIS 2.0 document of the events naming the given lots and units (all without them)."""
    names, contexts = _MasterData(), []
    event_list = [_event(event, names, contexts) for event in _events(lots, serial_units, since)]
    document = {
        "@context": [CONTEXT, *contexts],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": django_timezone.now().astimezone(UTC).isoformat(timespec="milliseconds"),
        "epcisBody": {"eventList": event_list},
    }
    vocabularies = names.as_list()
    if vocabularies:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    return document
