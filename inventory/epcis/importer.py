"""Import an EPCIS 2.0 JSON(-LD) document: ObjectEvents, AggregationEvents, TransformationEvents.

The document is read in two passes. The first validates every event and collects the
identifiers it names, without writing; any error refuses the whole document, with messages
that name the event's index (from 0) and the field. The second, in one transaction, looks up
the products, lots, units, parties and sites of the whole document in a few queries, creates
the missing ones (marked for review) and records each event through the services.

An event whose eventID is already stored is a duplicate and skipped; an event without an
eventID gets "ni:///sha-256;<hash of its JSON>" as its ID, so importing the same file twice
stores it once. (The hash is of the event's canonical JSON, not GS1's event hash algorithm.)

What we do not model (SSCCs, GRAIs, class patterns, possessing parties, sensor data,
extensions, …) is kept in the event's `extra`, verbatim, and exported again.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Lot, Party, Product, SerialUnit, Site, TraceEvent, Unit
from ..services import (
    Line,
    event_record,
    production_lot_link,
    record_create,
    record_update,
    serial_units_install,
    serial_units_remove,
)
from .parse import GS1_CHARACTERS, Epc, EpcError, Kind, gtin_of_class, parse_epc

SUPPORTED_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent")
UNSUPPORTED_TYPE = (
    "{type} is not supported (we import ObjectEvent, AggregationEvent and TransformationEvent)"
)
UNKNOWN_OWNER = "Unknown owner (EPCIS import)"
OUR_BIZ_STEP_PREFIX = "urn:tracewell:bizstep:"
OUR_DISPOSITION_PREFIX = "urn:tracewell:disp:"
CBV_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "urn:epcglobal:cbv:btt:",
    "urn:epcglobal:cbv:sdt:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "https://ref.gs1.org/cbv/BTT-",
    "https://ref.gs1.org/cbv/SDT-",
    "https://ns.gs1.org/cbv/BizStep-",
    "https://ns.gs1.org/cbv/Disp-",
    "https://ns.gs1.org/cbv/BTT-",
    "https://ns.gs1.org/cbv/SDT-",
    OUR_BIZ_STEP_PREFIX,
    OUR_DISPOSITION_PREFIX,
)
OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
EXPIRY_KEYS = ("itemExpirationDate", "bestBeforeDate")
LOT_NUMBER_KEY = "lotNumber"  # cbvmda:lotNumber: the lot commissioned serials were built in
NAME_ATTRIBUTES = ("name", "descriptionShort", "tradeItemDescription", "regulatedProductName")

# Fields an event's columns and lines hold; everything else is kept in `extra` verbatim
# (readPoint, bizLocation, source and destination lists, bizTransactionList and ilmd too:
# the columns hold their GLNs, first document and expiry, `extra` the details, such as an
# SGLN's extension or a possessing party).
MODELLED_FIELDS = {
    "type",
    "eventTime",
    "eventTimeZoneOffset",
    "eventID",
    "action",
    "bizStep",
    "disposition",
    "epcList",
    "quantityList",
    "inputEPCList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "parentID",
    "childEPCs",
    "childQuantityList",
}

# The event type an ObjectEvent's bizStep (short CBV name) records.
BIZ_STEP_TYPES = {
    "commissioning": TraceEvent.Type.PRODUCE,
    "receiving": TraceEvent.Type.RECEIVE,
    "accepting": TraceEvent.Type.RECEIVE,
    "arriving": TraceEvent.Type.RECEIVE,
    "shipping": TraceEvent.Type.SHIP,
    "departing": TraceEvent.Type.TRANSFER,
    "transporting": TraceEvent.Type.TRANSFER,
    "inspecting": TraceEvent.Type.INSPECT,
    "sampling": TraceEvent.Type.INSPECT,
    "repairing": TraceEvent.Type.REPAIR,
    "destroying": TraceEvent.Type.SCRAP,
    "decommissioning": TraceEvent.Type.SCRAP,
    "consuming": TraceEvent.Type.CONSUME,
    "cycle_counting": TraceEvent.Type.ADJUST,
    "stock_taking": TraceEvent.Type.ADJUST,
}
DOCUMENT_TYPES = set(TraceEvent.DocumentType.values)


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    events: list[TraceEvent] = field(default_factory=list)
    created: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("products", "lots", "serial_units", "parties", "sites"), 0
        )
    )


@dataclass
class _Ref:
    """An item an event names, with the quantity of a quantity element."""

    epc: Epc
    field: str
    quantity: Decimal | None = None
    unit: str = ""

    @property
    def key(self):
        return (self.epc.kind, self.epc.gtin, self.epc.code)


@dataclass
class _Event:
    index: int
    event_id: str
    event_type: str
    occurred_at: datetime
    offset: str
    biz_step: str
    disposition: str
    extra: dict
    roles: dict[str, list[_Ref]]
    parent: Epc | None = None
    install: bool = False
    remove: bool = False
    location: Epc | None = None
    source_party: Epc | None = None
    source_site: Epc | None = None
    destination_party: Epc | None = None
    destination_site: Epc | None = None
    document_type: str = ""
    document_number: str = ""
    expires_on: date | None = None
    produced_on: date | None = None
    production_lots: list[_Ref] = field(default_factory=list)


def _short(value) -> str:
    """A CBV value as its short name ("urn:epcglobal:cbv:bizstep:shipping" → "shipping")."""
    text = str(value or "").strip()
    for prefix in CBV_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _event_list(document) -> list:
    if not isinstance(document, dict):
        raise ValidationError(["document: is not a JSON object"], code="epcis")
    body = document.get("epcisBody")
    kind = document.get("type")
    if kind == "EPCISQueryDocument" and isinstance(body, dict):
        body = (body.get("queryResults") or {}).get("resultsBody")
    elif kind != "EPCISDocument":
        raise ValidationError(
            [f"document: type {kind!r} is not EPCISDocument or EPCISQueryDocument"], code="epcis"
        )
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise ValidationError(["document: epcisBody has no eventList"], code="epcis")
    return events


def _master_data_names(document) -> dict[tuple[str, str], str]:
    """Names from the header's master data, by ("gtin", GTIN) or ("gln", GLN)."""
    names = {}
    header = document.get("epcisHeader") or {}
    vocabularies = (header.get("epcisMasterData") or {}).get("vocabularyList") or []
    for vocabulary in vocabularies:
        for element in (vocabulary or {}).get("vocabularyElementList") or []:
            identifier = str((element or {}).get("id") or "")
            name = next(
                (
                    str(attribute.get("attribute")).strip()
                    for attribute in element.get("attributes") or []
                    if isinstance(attribute, dict)
                    and re.split(r"[#/:]", str(attribute.get("id") or ""))[-1] in NAME_ATTRIBUTES
                    and attribute.get("attribute")
                ),
                None,
            )
            if not name:
                continue
            gtin = gtin_of_class(identifier)
            if gtin:
                names[("gtin", gtin)] = name[:200]
                continue
            try:
                epc = parse_epc(identifier)
            except EpcError:
                continue
            if epc.gln:
                names[("gln", epc.gln)] = name[:200]
    return names


def _content_id(event: dict) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"ni:///sha-256;{hashlib.sha256(canonical.encode()).hexdigest()}"


class _Reader:
    """Validates one event, collecting its errors, and builds what the writer needs."""

    def __init__(self, index: int, raw: dict, context: list):
        self.index = index
        self.raw = raw
        self.errors: list[str] = []
        self.kept: dict[str, list] = {}
        self.context = context

    def error(self, where: str, message: str):
        self.errors.append(f"event {self.index}, {where}: {message}")

    def epc(self, where: str, value) -> Epc | None:
        try:
            return parse_epc(value)
        except EpcError as exc:
            self.error(where, str(exc))
            return None

    def epc_list(self, name: str) -> list[_Ref]:
        values = self.raw.get(name) or []
        if not isinstance(values, list):
            self.error(name, "must be a list")
            return []
        refs = []
        for position, value in enumerate(values):
            where = f"{name}[{position}]"
            epc = self.epc(where, value)
            if epc is None:
                continue
            if epc.kind in (Kind.SERIAL, Kind.LOT):
                refs.append(_Ref(epc, where))
            else:
                self.kept.setdefault(name, []).append(value)
        return refs

    def quantity_list(self, name: str) -> list[_Ref]:
        values = self.raw.get(name) or []
        if not isinstance(values, list):
            self.error(name, "must be a list")
            return []
        refs = []
        for position, element in enumerate(values):
            where = f"{name}[{position}]"
            if not isinstance(element, dict) or "epcClass" not in element:
                self.error(where, "a quantity element needs an epcClass")
                continue
            epc = self.epc(f"{where}.epcClass", element["epcClass"])
            if epc is None:
                continue
            if epc.kind != Kind.LOT:
                self.kept.setdefault(name, []).append(element)
                continue
            quantity, unit = None, ""
            if element.get("quantity") is not None:
                try:
                    quantity = Decimal(str(element["quantity"])).quantize(Decimal("0.001"))
                except InvalidOperation:
                    self.error(f"{where}.quantity", f"{element['quantity']!r} is not a number")
                    continue
                if quantity <= 0 or quantity >= Decimal("1e11"):
                    self.error(f"{where}.quantity", "must be greater than zero and below 10^11")
                    continue
                unit = element.get("uom") or Unit.EACH
                if unit not in Unit.values:
                    self.error(
                        f"{where}.uom",
                        f"{unit} is not a unit we record ({', '.join(Unit.values)})",
                    )
                    continue
            refs.append(_Ref(epc, where, quantity, unit))
        return refs

    def location(self, name: str) -> Epc | None:
        value = self.raw.get(name)
        if value is None:
            return None
        identifier = value.get("id") if isinstance(value, dict) else None
        epc = self.epc(f"{name}.id", identifier)
        if epc is None or epc.kind != Kind.LOCATION:
            return None
        return epc

    def time(self) -> tuple[datetime | None, str]:
        text = self.raw.get("eventTime")
        moment = None
        if text is None:
            self.error("eventTime", "is missing")
            return None, ""
        try:
            moment = datetime.fromisoformat(str(text))
        except ValueError:
            self.error("eventTime", f"{text!r} is not an ISO 8601 date and time")
        if moment is not None and moment.tzinfo is None:
            self.error("eventTime", f"{text} has no time zone offset")
            moment = None
        offset = self.raw.get("eventTimeZoneOffset")
        if offset is None and moment is not None:
            minutes = int(moment.utcoffset().total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        if not OFFSET.match(str(offset)):
            self.error("eventTimeZoneOffset", f"{offset!r} is not ±HH:MM")
        return moment, str(offset)

    def sources(self, name: str, key: str) -> tuple[Epc | None, Epc | None]:
        party = site = None
        for position, element in enumerate(self.raw.get(name) or []):
            if not isinstance(element, dict):
                self.error(f"{name}[{position}]", "must be an object")
                continue
            kind = _short(element.get("type"))
            if kind not in ("owning_party", "location"):
                continue
            epc = self.epc(f"{name}[{position}].{key}", element.get(key))
            if epc is None:
                continue
            if kind == "owning_party" and epc.kind in (Kind.PARTY, Kind.LOCATION) and not party:
                party = epc
            elif kind == "location" and epc.kind == Kind.LOCATION and not site:
                site = epc
        return party, site

    def expiry(self) -> date | None:
        ilmd = self.raw.get("ilmd")
        if not isinstance(ilmd, dict):
            return None
        for key, value in ilmd.items():
            if re.split(r"[#/:]", key)[-1] in EXPIRY_KEYS:
                try:
                    return date.fromisoformat(str(value)[:10])
                except ValueError:
                    self.error(f"ilmd.{key}", f"{value!r} is not a date")
        return None

    def production_lots(self, subjects: list[_Ref]) -> list[_Ref]:
        """The lot (ilmd lotNumber) commissioned serial units were built in, per GTIN."""
        ilmd = self.raw.get("ilmd")
        if not isinstance(ilmd, dict):
            return []
        key = next((k for k in ilmd if re.split(r"[#/:]", k)[-1] == LOT_NUMBER_KEY), None)
        if key is None:
            return []
        code = str(ilmd[key])
        if not GS1_CHARACTERS.match(code):
            self.error(f"ilmd.{key}", f"{code!r} is not a lot code (GS1 AI 10)")
            return []
        gtins = dict.fromkeys(ref.epc.gtin for ref in subjects if ref.epc.kind == Kind.SERIAL)
        return [
            _Ref(Epc(f"{gtin} lot {code}", Kind.LOT, gtin=gtin, code=code), f"ilmd.{key}")
            for gtin in gtins
        ]

    def read(self) -> _Event | None:
        raw = self.raw
        if not isinstance(raw, dict):
            self.errors.append(f"event {self.index}: is not a JSON object")
            return None
        kind = raw.get("type")
        if kind not in SUPPORTED_TYPES:
            self.error("type", UNSUPPORTED_TYPE.format(type=kind))
            return None
        moment, offset = self.time()
        action = raw.get("action")
        if kind != "TransformationEvent" and action not in ("ADD", "OBSERVE", "DELETE"):
            self.error("action", f"{action!r} is not ADD, OBSERVE or DELETE")
        event_id = raw.get("eventID") or _content_id(raw)
        if not isinstance(event_id, str) or len(event_id) > 255:
            self.error("eventID", "must be a URI of at most 255 characters")
        biz_step, disposition = _short(raw.get("bizStep")), _short(raw.get("disposition"))
        for name, value in (("bizStep", biz_step), ("disposition", disposition)):
            if len(value) > 100:
                self.error(name, "is longer than 100 characters")

        roles = {"subjects": [], "inputs": [], "outputs": [], "children": []}
        parent, install, remove = None, False, False
        if kind == "ObjectEvent":
            roles["subjects"] = self.epc_list("epcList") + self.quantity_list("quantityList")
            event_type = BIZ_STEP_TYPES.get(biz_step)
            if event_type is None:
                event_type = {"ADD": TraceEvent.Type.PRODUCE, "DELETE": TraceEvent.Type.SCRAP}.get(
                    action, TraceEvent.Type.INSPECT
                )
            if event_type == TraceEvent.Type.RECEIVE and disposition == "returned":
                event_type = TraceEvent.Type.RETURN
        elif kind == "TransformationEvent":
            roles["inputs"] = self.epc_list("inputEPCList") + self.quantity_list(
                "inputQuantityList"
            )
            roles["outputs"] = self.epc_list("outputEPCList") + self.quantity_list(
                "outputQuantityList"
            )
            event_type = TraceEvent.Type.TRANSFORM
        else:
            roles["children"] = self.epc_list("childEPCs") + self.quantity_list("childQuantityList")
            if raw.get("parentID") is not None:
                parent = self.epc("parentID", raw["parentID"])
                if parent is not None and parent.kind != Kind.SERIAL:
                    parent = None  # an SSCC, GRAI, …: kept verbatim in extra
            units_only = all(ref.epc.kind == Kind.SERIAL for ref in roles["children"])
            install = action == "ADD" and parent is not None and units_only
            remove = action == "DELETE" and parent is not None and units_only
            if install:
                event_type = TraceEvent.Type.INSTALL
            elif remove:
                event_type = TraceEvent.Type.REMOVE
            else:
                event_type = BIZ_STEP_TYPES.get(biz_step, TraceEvent.Type.INSPECT)

        location = self.location("bizLocation") or self.location("readPoint")
        source_party, source_site = self.sources("sourceList", "source")
        destination_party, destination_site = self.sources("destinationList", "destination")
        document_type = document_number = ""
        for position, element in enumerate(raw.get("bizTransactionList") or []):
            number = str((element or {}).get("bizTransaction") or "")
            if not number:
                self.error(f"bizTransactionList[{position}]", "has no bizTransaction")
            elif not document_number and len(number) <= 100:
                short = _short(element.get("type"))
                document_type = short if short in DOCUMENT_TYPES else TraceEvent.DocumentType.OTHER
                document_number = number
        expires_on = self.expiry()
        production_lots = (
            self.production_lots(roles["subjects"])
            if kind == "ObjectEvent" and action == "ADD"
            else []
        )

        extra = {key: value for key, value in raw.items() if key not in MODELLED_FIELDS}
        if kind == "AggregationEvent" and raw.get("parentID") is not None and parent is None:
            extra["parentID"] = raw["parentID"]
        epcis = {"type": kind}
        if action:
            epcis["action"] = action
        if self.kept:
            epcis["kept"] = self.kept
        if self.context:
            # The prefixes of extension fields (kept in extra) are defined there.
            epcis["context"] = self.context
        extra["epcis"] = epcis
        if self.errors or moment is None:
            return None
        return _Event(
            index=self.index,
            event_id=event_id,
            event_type=event_type,
            occurred_at=moment,
            offset=offset,
            biz_step=biz_step,
            disposition=disposition,
            extra=extra,
            roles=roles,
            parent=parent,
            install=install,
            remove=remove,
            location=location,
            source_party=source_party,
            source_site=source_site,
            destination_party=destination_party,
            destination_site=destination_site,
            document_type=document_type,
            document_number=document_number,
            expires_on=expires_on,
            produced_on=moment.date() if action == "ADD" or kind == "TransformationEvent" else None,
            production_lots=production_lots,
        )


class _Objects:
    """The products, lots, units, parties and sites a document names, looked up in batches."""

    def __init__(self, events: list[_Event], names: dict, acting_user):
        self.names = names
        self.acting_user = acting_user
        self.created = dict.fromkeys(("products", "lots", "serial_units", "parties", "sites"), 0)
        refs = [
            *(ref for event in events for refs in event.roles.values() for ref in refs),
            *(_Ref(event.parent, "parentID") for event in events if event.parent),
            *(ref for event in events for ref in event.production_lots),
        ]
        gtins = {ref.epc.gtin for ref in refs}
        self.products = {p.gtin: p for p in Product.objects.filter(gtin__in=gtins)}
        self.serial_gtins = {ref.epc.gtin for ref in refs if ref.epc.kind == Kind.SERIAL}
        lot_codes = {ref.epc.code for ref in refs if ref.epc.kind == Kind.LOT}
        serials = {ref.epc.code for ref in refs if ref.epc.kind == Kind.SERIAL}
        self.lots = {
            (lot.product.gtin, lot.code): lot
            for lot in Lot.objects.filter(product__gtin__in=gtins, code__in=lot_codes)
            .select_related("product")
            .order_by()
        }
        self.units = {
            (unit.product.gtin, unit.serial): unit
            for unit in SerialUnit.objects.filter(product__gtin__in=gtins, serial__in=serials)
            .select_related("product")
            .order_by()
        }
        glns = {
            epc.gln
            for event in events
            for epc in (
                event.location,
                event.source_party,
                event.source_site,
                event.destination_party,
                event.destination_site,
            )
            if epc is not None
        }
        self.parties = {p.gln: p for p in Party.objects.filter(gln__in=glns)}
        self.sites = {s.gln: s for s in Site.objects.filter(gln__in=glns)}
        self._owner = None
        self.new_units = set()  # created here, so their production lot is ours to link
        self._first_quantity = {}
        for ref in refs:
            if ref.quantity is not None:
                self._first_quantity.setdefault(ref.key, (ref.quantity, ref.unit))

    def check_tracking(self, events: list[_Event]) -> list[str]:
        """Serials of products tracked by lot cannot be imported.

        A product an earlier import created (still awaiting review) that now shows serials
        becomes tracked by serial number: its lots stay valid as production lots.
        """
        errors = []
        for event in events:
            refs = [ref for refs in event.roles.values() for ref in refs]
            if event.parent:
                refs.append(_Ref(event.parent, "parentID"))
            for ref in refs:
                product = self.products.get(ref.epc.gtin)
                if (
                    ref.epc.kind != Kind.SERIAL
                    or product is None
                    or product.tracking == Product.Tracking.SERIAL
                ):
                    continue
                if product.needs_review:
                    self.products[product.gtin] = record_update(
                        instance=product,
                        tracking=Product.Tracking.SERIAL,
                        acting_user=self.acting_user,
                        reason="EPCIS import names serial units of it",
                    )
                else:
                    errors.append(
                        f"event {event.index}, {ref.field}: {ref.epc.text} names a serial unit "
                        f"of {product.sku}, which is tracked by lot"
                    )
        return errors

    def _create(self, instance, kind):
        record_create(instance=instance, acting_user=self.acting_user)
        self.created[kind] += 1
        return instance

    def product(self, gtin: str, unit: str = "") -> Product:
        if gtin not in self.products:
            tracking = (
                Product.Tracking.SERIAL if gtin in self.serial_gtins else Product.Tracking.LOT
            )
            self.products[gtin] = self._create(
                Product(
                    sku=gtin,
                    gtin=gtin,
                    name=self.names.get(("gtin", gtin), f"GTIN {gtin}"),
                    tracking=tracking,
                    unit=unit or Unit.EACH,
                    needs_review=True,
                ),
                "products",
            )
        return self.products[gtin]

    def item(self, ref: _Ref, event: _Event) -> Lot | SerialUnit:
        epc = ref.epc
        if epc.kind == Kind.SERIAL:
            key = (epc.gtin, epc.code)
            if key not in self.units:
                lot = next(
                    (
                        self.item(lot, event)
                        for lot in event.production_lots
                        if lot.epc.gtin == epc.gtin
                    ),
                    None,
                )
                self.units[key] = self._create(
                    SerialUnit(
                        product=self.product(epc.gtin),
                        serial=epc.code,
                        lot=lot,
                        produced_on=event.produced_on,
                    ),
                    "serial_units",
                )
                self.new_units.add(key)
            return self.units[key]
        key = (epc.gtin, epc.code)
        if key not in self.lots:
            quantity, unit = self._first_quantity.get(ref.key, (Decimal(0), ""))
            product = self.product(epc.gtin, unit)
            lot = Lot(
                product=product,
                code=epc.code,
                quantity=quantity,
                unit=unit or product.unit,
                produced_on=event.produced_on,
                expires_on=event.expires_on,
                site=self.site(event.location),
                # A lot first seen arriving came from the sender.
                supplier=(
                    self.party(event.source_party)
                    if event.event_type == TraceEvent.Type.RECEIVE
                    else None
                ),
            )
            self.lots[key] = self._create(lot, "lots")
        return self.lots[key]

    def party(self, epc: Epc | None) -> Party | None:
        if epc is None:
            return None
        if epc.gln not in self.parties:
            self.parties[epc.gln] = self._create(
                Party(
                    name=self.names.get(("gln", epc.gln), f"GLN {epc.gln}"),
                    gln=epc.gln,
                    needs_review=True,
                ),
                "parties",
            )
        return self.parties[epc.gln]

    def owner(self) -> Party:
        if self._owner is None:
            self._owner = Party.objects.filter(
                name=UNKNOWN_OWNER, gln__isnull=True, needs_review=True
            ).first() or self._create(Party(name=UNKNOWN_OWNER, needs_review=True), "parties")
        return self._owner

    def site(self, epc: Epc | None) -> Site | None:
        if epc is None:
            return None
        if epc.gln not in self.sites:
            self.sites[epc.gln] = self._create(
                Site(
                    code=f"gln-{epc.gln}",
                    name=self.names.get(("gln", epc.gln), f"GLN {epc.gln}"),
                    kind=Site.Kind.OTHER,
                    gln=epc.gln,
                    # The owner of a site known only by its GLN is for a person to fill in.
                    party=self.parties.get(epc.gln) or self.owner(),
                ),
                "sites",
            )
        return self.sites[epc.gln]


def _write(event: _Event, objects: _Objects, acting_user) -> TraceEvent:
    lines = {
        role: [
            Line(objects.item(ref, event), ref.quantity, ref.unit)
            for ref in refs
            # EPCIS lists may repeat an item; an event names each item once per role.
            if ref is next(r for r in refs if r.key == ref.key)
        ]
        for role, refs in event.roles.items()
    }
    fields = {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "time_zone_offset": event.offset,
        "biz_step": event.biz_step,
        "disposition": event.disposition,
        "document_type": event.document_type,
        "document_number": event.document_number,
        "extra": event.extra,
        "source_party": objects.party(event.source_party),
        "source_site": objects.site(event.source_site),
        "destination_party": objects.party(event.destination_party),
        "destination_site": objects.site(event.destination_site),
    }
    site = objects.site(event.location)
    if event.install or event.remove:
        assembly = objects.item(_Ref(event.parent, "parentID"), event)
        components = [line.item for line in lines["children"]]
        if event.remove and not components:
            components = list(assembly.components.all())
        service = serial_units_install if event.install else serial_units_remove
        if site is not None:
            fields["site"] = site  # the document says where; else the assembly's site
        return service(
            components=components,
            assembly=assembly,
            acting_user=acting_user,
            occurred_at=fields.pop("occurred_at"),
            event_fields=fields,
        )
    parent = objects.item(_Ref(event.parent, "parentID"), event) if event.parent else None
    recorded = event_record(
        event_type=event.event_type,
        acting_user=acting_user,
        parent=parent,
        site=site,
        **lines,
        **fields,
    )
    if event.production_lots:
        production_lot_link(
            units=[
                line.item
                for line in lines["subjects"]
                if (line.item.product.gtin, getattr(line.item, "serial", None)) in objects.new_units
            ],
            event=recorded,
        )
    return recorded


def epcis_import(*, document: dict, acting_user) -> ImportResult:
    """Import every event of an EPCIS document, or none: raise ValidationError listing why."""
    raw_events = _event_list(document)
    context = [entry for entry in _as_list(document.get("@context")) if isinstance(entry, dict)]
    errors, events, seen = [], [], set()
    for index, raw in enumerate(raw_events):
        reader = _Reader(index, raw, context)
        event = reader.read()
        errors.extend(reader.errors)
        if event is not None:
            events.append(event)
    if errors:
        raise ValidationError(errors, code="epcis")

    stored = set(
        TraceEvent.objects.filter(event_id__in=[e.event_id for e in events]).values_list(
            "event_id", flat=True
        )
    )
    result = ImportResult()
    new_events = []
    for event in events:
        if event.event_id in stored or event.event_id in seen:
            result.duplicates += 1
        else:
            seen.add(event.event_id)
            new_events.append(event)

    names = _master_data_names(document)
    with transaction.atomic():
        objects = _Objects(new_events, names, acting_user)
        tracking_errors = objects.check_tracking(new_events)
        if tracking_errors:
            raise ValidationError(tracking_errors, code="epcis")
        for event in new_events:
            try:
                result.events.append(_write(event, objects, acting_user))
            except ValidationError as exc:
                raise ValidationError(
                    [f"event {event.index}: {message}" for message in exc.messages],
                    code="epcis",
                ) from exc
    result.imported = len(result.events)
    result.created = objects.created
    return result


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
