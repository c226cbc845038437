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
extensions, …) is kept in the event's `extra`, verbatim, and exported again. Sensor readings
of the conditions we judge (temperature, time, pH, pressure, humidity) are also stored as
measurements (conditions.py): a reading outside its limits raises deviations on the lots.
"""

import functools
import gc
import hashlib
import json
import math
import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection

from .. import bulk, conditions, locks
from ..models import (
    MEASUREMENT_UNITS,
    FsmaCte,
    Item,
    Lot,
    Party,
    Product,
    SerialUnit,
    Site,
    TraceEvent,
    Unit,
    lot_starting_status,
)
from ..services import (
    Line,
    events_record_many,
    production_lots_link,
    record_update,
    records_create_many,
    records_update_many,
    serial_units_install,
    serial_units_remove,
    service,
)
from . import masterdata
from .parse import GS1_CHARACTERS, Epc, EpcError, Kind, parse_epc

SUPPORTED_TYPES = ("ObjectEvent", "AggregationEvent", "TransformationEvent")
UNSUPPORTED_TYPE = (
    "{type} is not supported (we import ObjectEvent, AggregationEvent and TransformationEvent)"
)
UNKNOWN_OWNER = "Unknown owner (EPCIS import)"
OUR_BIZ_STEP_PREFIX = "urn:tracewell:bizstep:"
OUR_DISPOSITION_PREFIX = "urn:tracewell:disp:"
# An extension field: the FSMA 204 critical tracking event an event was recorded as.
CTE_FIELD = "tracewell:fsmaCte"
EVENT_TYPE_FIELD = "tracewell:eventType"  # ours, which EPCIS types and bizSteps cannot tell
NOTES_FIELD = "tracewell:notes"
OUR_CONTEXT = {"tracewell": "urn:tracewell:epcis:"}
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
OFFSET = re.compile(r"^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$")  # UTC-14:00 to UTC+14:00
EXPIRY_KEYS = ("itemExpirationDate", "bestBeforeDate")
LOT_NUMBER_KEY = "lotNumber"  # cbvmda:lotNumber: the lot commissioned serials were built in

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
    CTE_FIELD,
    EVENT_TYPE_FIELD,
    NOTES_FIELD,
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
UNITS = frozenset(Unit.values)
THOUSANDTH = Decimal("0.001")
# Sets and plain names, not the enums: an enum's `values` builds a list each time, and naming
# a member costs a lookup; both add up over a document's hundreds of thousands of events.
EVENT_TYPES = frozenset(TraceEvent.Type.values)
FSMA_CTES = frozenset(FsmaCte.values)
LOT_STATUSES = frozenset(Lot.Status.values)
UNIT_STATUSES = frozenset(SerialUnit.Status.values)
SERIAL, LOT, LOCATION, PARTY = Kind.SERIAL, Kind.LOT, Kind.LOCATION, Kind.PARTY
# A sensorReport's figures, as Reading fields.
SENSOR_FIGURES = (
    ("value", "value"),
    ("min_value", "minValue"),
    ("max_value", "maxValue"),
    ("mean_value", "meanValue"),
)


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    created: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("products", "lots", "serial_units", "parties", "sites"), 0
        )
    )


class _Ref:
    """An item an event names, with the quantity of a quantity element."""

    __slots__ = ("epc", "field", "key", "quantity", "unit")  # a document makes 100,000s

    def __init__(self, epc: Epc, field: str, quantity: Decimal | None = None, unit: str = ""):
        self.epc = epc
        self.field = field
        self.quantity = quantity
        self.unit = unit
        self.key = (epc.kind, epc.product_key, epc.code)


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
    extra_json: str
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
    fsma_cte: str = ""
    notes: str = ""
    expires_on: date | None = None
    produced_on: date | None = None
    production_lots: list[_Ref] = field(default_factory=list)
    readings: list = field(default_factory=list)  # conditions.Reading of sensorElementList


def _short(value) -> str:
    """A CBV value as its short name ("urn:epcglobal:cbv:bizstep:shipping" → "shipping")."""
    text = str(value or "").strip()
    if ":" not in text:
        return text  # already a short name
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
        results = body.get("queryResults")
        body = results.get("resultsBody") if isinstance(results, dict) else None
    elif kind != "EPCISDocument":
        raise ValidationError(
            [f"document: type {kind!r} is not EPCISDocument or EPCISQueryDocument"], code="epcis"
        )
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise ValidationError(["document: epcisBody has no eventList"], code="epcis")
    return events


@functools.lru_cache(maxsize=1 << 12)
def _quantity(value: int | float) -> Decimal:
    """A quantity to the thousandth (quantities repeat; a Decimal costs)."""
    return Decimal(str(value)).quantize(THOUSANDTH)


def _json_text(value) -> str:
    """JSON text of kept fields; ValueError if they hold NaN or Infinity, which JSON has not.

    orjson encodes ten times faster than json, but writes NaN and Infinity as null and refuses
    integers beyond 64 bits: text with a null in it, and what orjson refuses, is left to json
    (Python's json reads NaN and Infinity, so a document may hold them).
    """
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:
        text = b"null"
    if b"null" in text:
        return json.dumps(value, allow_nan=False)
    return text.decode()


def _content_id(event: dict) -> str:
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"ni:///sha-256;{hashlib.sha256(canonical.encode()).hexdigest()}"


class _Reader:
    """Validates one event, collecting its errors, and builds what the writer needs."""

    def __init__(self, index: int, raw: dict, context: list, epcs: dict | None = None):
        self.index = index
        self.raw = raw
        self.errors: list[str] = []
        self.kept: dict[str, list] = {}
        self.context = context
        self.epcs = {} if epcs is None else epcs  # identifiers read so far: they repeat

    def error(self, where: str, message: str):
        self.errors.append(f"event {self.index}, {where}: {message}")

    def epc(self, where: str, value) -> Epc | None:
        epc = self.epcs.get(value) if isinstance(value, str) else None
        if epc is not None:
            return epc
        try:
            epc = parse_epc(value)
        except EpcError as exc:
            self.error(where, str(exc))
            return None
        self.epcs[value] = epc
        return epc

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
            if epc.kind in (SERIAL, LOT):
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
            if epc.kind != LOT:
                self.kept.setdefault(name, []).append(element)
                continue
            quantity, unit = None, ""
            if element.get("quantity") is not None:
                value = element["quantity"]
                # Python's json reads NaN and Infinity, which JSON has not.
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or not math.isfinite(value)
                ):
                    self.error(f"{where}.quantity", f"{value!r} is not a number")
                    continue
                if not 0 < value < 1e11:
                    self.error(f"{where}.quantity", "must be greater than zero and below 10^11")
                    continue
                quantity = _quantity(value)
                if quantity <= 0:  # below a thousandth
                    self.error(f"{where}.quantity", "must be greater than zero and below 10^11")
                    continue
                unit = element.get("uom") or Unit.EACH
                if not isinstance(unit, str) or unit not in UNITS:
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
        if epc is None or epc.kind != LOCATION:
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
        if moment is not None:
            try:
                moment.astimezone(UTC)
            except OverflowError:
                self.error("eventTime", f"{text} is out of range")
                return None, ""
        offset = self.raw.get("eventTimeZoneOffset")
        if offset is None and moment is not None:
            minutes = int(moment.utcoffset().total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        if offset is None and moment is None:
            return None, ""  # the eventTime error says it all
        if not OFFSET.match(str(offset)):
            self.error("eventTimeZoneOffset", f"{offset!r} is not ±HH:MM")
        return moment, str(offset)

    def sources(self, name: str, key: str) -> tuple[Epc | None, Epc | None]:
        party = site = None
        elements = self.raw.get(name) or []
        if not isinstance(elements, list):
            self.error(name, "must be a list")
            return None, None
        for position, element in enumerate(elements):
            if not isinstance(element, dict):
                self.error(f"{name}[{position}]", "must be an object")
                continue
            kind = _short(element.get("type"))
            if kind not in ("owning_party", "location"):
                continue
            epc = self.epc(f"{name}[{position}].{key}", element.get(key))
            if epc is None:
                continue
            if kind == "owning_party" and not party and epc.kind == PARTY:
                party = epc
            elif kind == "owning_party" and not party and epc.kind == LOCATION and epc.gln:
                party = Epc(epc.text, PARTY, gln=epc.gln)  # a party named by its SGLN
            elif kind == "location" and epc.kind == LOCATION and not site:
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
        products = dict.fromkeys(
            (ref.epc.gtin, ref.epc.sku) for ref in subjects if ref.epc.kind == SERIAL
        )
        return [
            _Ref(
                Epc(f"{gtin or sku} lot {code}", LOT, gtin=gtin, sku=sku, code=code),
                f"ilmd.{key}",
            )
            for gtin, sku in products
        ]

    def sensor_readings(self, moment: datetime | None) -> list:
        """The readings of sensorElementList we keep as measurements (temperature, time, pH,
        pressure, humidity; others stay in `extra` only); bad figures or units are errors."""
        elements = self.raw.get("sensorElementList")
        if elements is None:
            return []
        if not isinstance(elements, list):
            self.error("sensorElementList", "must be a list")
            return []
        readings = []
        for position, element in enumerate(elements):
            where = f"sensorElementList[{position}]"
            if not isinstance(element, dict) or not isinstance(element.get("sensorReport"), list):
                self.error(where, "must be an object with a sensorReport list")
                continue
            metadata = element.get("sensorMetadata") or {}
            if not isinstance(metadata, dict):
                self.error(f"{where}.sensorMetadata", "must be an object")
                continue
            for number, report in enumerate(element["sensorReport"]):
                reading = self.sensor_reading(f"{where}.sensorReport[{number}]", report, metadata)
                if reading is not None:
                    readings.append(reading)
        for reading in readings:
            reading.measured_at = reading.measured_at or moment
        return readings

    def sensor_reading(self, where: str, report, metadata: dict):
        if not isinstance(report, dict):
            self.error(where, "must be an object")
            return None
        figures, bad = {}, False
        for name, key in SENSOR_FIGURES:
            value = report.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.error(f"{where}.{key}", f"{value!r} is not a number")
                bad = True
            elif not math.isfinite(value) or abs(value) >= 1e10:
                self.error(f"{where}.{key}", f"{value!r} is out of range")
                bad = True
            else:
                figures[name] = Decimal(str(value))
        kind = conditions.measurement_type_of(report.get("type"))
        if bad or kind is None or not figures:
            return None  # a kind we do not judge, or a string or boolean reading: in extra
        unit = report.get("uom")
        allowed = MEASUREMENT_UNITS[kind]
        if not isinstance(unit, str) or unit not in allowed:
            self.error(
                f"{where}.uom",
                f"{unit!r} is not a unit of {report.get('type')} we record ({', '.join(allowed)})",
            )
            return None
        when = report.get("time") or metadata.get("time") or metadata.get("endTime")
        measured_at = None
        if when is not None:
            try:
                measured_at = datetime.fromisoformat(str(when))
            except ValueError:
                measured_at = None
            if measured_at is None or measured_at.tzinfo is None:
                self.error(f"{where}.time", f"{when!r} is not a date and time with its offset")
                return None
        reading = conditions.Reading(
            measurement_type=kind,
            unit=unit,
            measured_at=measured_at,
            device_id=str(
                report.get("deviceID")
                or metadata.get("deviceID")
                or report.get(conditions.CONDITIONS_DEVICE_FIELD)
                or ""
            ),
            **figures,
        )
        problems = conditions.reading_problems(reading, 1)
        if problems:  # the minimum above the maximum
            self.error(where, problems[0].split(": ", 1)[-1])
            return None
        return reading

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
        for name in ("bizStep", "disposition"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                self.error(name, "must be a string (a CBV value or a URI)")
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
                if parent is not None and parent.kind != SERIAL:
                    parent = None  # an SSCC, GRAI, …: kept verbatim in extra
            units_only = all(ref.epc.kind == SERIAL for ref in roles["children"])
            install = action == "ADD" and parent is not None and units_only
            remove = action == "DELETE" and parent is not None and units_only
            if install:
                event_type = TraceEvent.Type.INSTALL
            elif remove:
                event_type = TraceEvent.Type.REMOVE
            else:
                event_type = BIZ_STEP_TYPES.get(biz_step, TraceEvent.Type.INSPECT)

        ours = raw.get(EVENT_TYPE_FIELD)
        structural = (TraceEvent.Type.INSTALL, TraceEvent.Type.REMOVE)
        if ours is not None and (not isinstance(ours, str) or ours not in EVENT_TYPES):
            self.error(EVENT_TYPE_FIELD, f"{ours!r} is not an event type we record")
        elif ours is not None and event_type not in structural and ours not in structural:
            event_type = ours  # a transfer, a status change: as it was recorded
        notes = raw.get(NOTES_FIELD) or ""
        if not isinstance(notes, str):
            self.error(NOTES_FIELD, "must be a string")
            notes = ""

        location = self.location("bizLocation") or self.location("readPoint")
        source_party, source_site = self.sources("sourceList", "source")
        destination_party, destination_site = self.sources("destinationList", "destination")
        document_type = document_number = ""
        transactions = raw.get("bizTransactionList") or []
        if not isinstance(transactions, list):
            self.error("bizTransactionList", "must be a list")
            transactions = []
        for position, element in enumerate(transactions):
            if not isinstance(element, dict):
                self.error(f"bizTransactionList[{position}]", "must be an object")
                continue
            number = element.get("bizTransaction") or ""
            if not isinstance(number, str):
                self.error(f"bizTransactionList[{position}].bizTransaction", "must be a string")
            elif not number:
                self.error(f"bizTransactionList[{position}]", "has no bizTransaction")
            elif not document_number and len(number) <= 100:
                short = _short(element.get("type"))
                document_type = short if short in DOCUMENT_TYPES else TraceEvent.DocumentType.OTHER
                document_number = number
        expires_on = self.expiry()
        fsma_cte = raw.get(CTE_FIELD) or ""
        if fsma_cte and (not isinstance(fsma_cte, str) or fsma_cte not in FSMA_CTES):
            self.error(CTE_FIELD, f"{fsma_cte!r} is not one of {', '.join(FsmaCte.values)}")
            fsma_cte = ""
        production_lots = []
        if kind == "ObjectEvent" and action == "ADD":
            production_lots = self.production_lots(roles["subjects"])
        elif kind == "TransformationEvent":
            production_lots = self.production_lots(roles["outputs"])  # units built of inputs

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
        try:
            # Encoded once, here: no NaN or Infinity anywhere (Python's json reads them; JSON
            # and PostgreSQL have not), and the row takes the text as it is.
            extra_json = bulk.Json(_json_text(extra))
        except ValueError:
            self.error("kept fields", "hold NaN or Infinity, which JSON has not")
        readings = self.sensor_readings(moment)
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
            extra_json=extra_json,
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
            fsma_cte=fsma_cte,
            notes=notes,
            expires_on=expires_on,
            produced_on=moment.date() if action == "ADD" or kind == "TransformationEvent" else None,
            production_lots=production_lots,
            readings=readings,
        )


IMPORT_REASON = "EPCIS import"
LOOKUP_CHUNK = 500  # identifiers per IN (...) lookup; SQLite limits a statement's parameters
WRITE_CHUNK = 5_000  # events planned and written at a time
HEADER = "epcisHeader, {identifier}"


def _chunks(values) -> list[list]:
    values = list(values)
    return [values[start : start + LOOKUP_CHUNK] for start in range(0, len(values), LOOKUP_CHUNK)]


class _Objects:
    """The products, lots, units, parties and sites a document names.

    Those we have are found in a few queries per kind; the others are built from their
    identifiers and the header's master data (see masterdata.py), checked, and saved in bulk
    with their audit trail before any event is written.
    """

    def __init__(self, events: list[_Event], master: masterdata.MasterData, acting_user):
        self.master = master
        self.acting_user = acting_user
        self.errors: list[str] = []
        self.pending = {kind: [] for kind in CREATED_KINDS}
        refs = [
            *(ref for event in events for refs in event.roles.values() for ref in refs),
            *(_Ref(event.parent, "parentID") for event in events if event.parent),
            *(ref for event in events for ref in event.production_lots),
        ]
        # Each item once (a document names most of them again and again), with the first
        # quantity named for it.
        unique, self._first_quantity = {}, {}
        for ref in refs:
            if ref.key not in unique:
                unique[ref.key] = ref
            if ref.quantity is not None and ref.key not in self._first_quantity:
                self._first_quantity[ref.key] = (ref.quantity, ref.unit)
        refs = list(unique.values())
        self.serial_products = {ref.epc.product_key for ref in refs if ref.epc.kind == SERIAL}
        self._find_products({ref.epc.product_key for ref in refs})
        self._find_items(refs)
        references = [
            *(d.references.get("owner") for d in master.sites.values()),
            *(
                d.references.get(name)
                for d in master.lots.values()
                for name in ("supplier", "site")
            ),
            *(
                d.references.get(name)
                for d in master.units.values()
                for name in ("holder_site", "holder_party")
            ),
        ]
        places = [
            *(
                epc
                for event in events
                for epc in (
                    event.location,
                    event.source_party,
                    event.source_site,
                    event.destination_party,
                    event.destination_site,
                )
                if epc is not None
            ),
            *(epc for text in references if text and (epc := self._parse_quietly(text))),
        ]
        self._find_places(places)
        # At most this many records of each are created (keys are drawn ahead for them).
        place_keys = {epc.place_key for epc in places}
        self.key_bounds = {
            Product: len({ref.epc.product_key for ref in refs} - self.products.keys()),
            Party: len(place_keys - self.parties.keys()) + 1,  # + the unknown owner
            Site: len(place_keys - self.sites.keys()),
            Item: len(
                {
                    ref.key
                    for ref in refs
                    if (ref.epc.product_key, ref.epc.code)
                    not in (self.lots if ref.epc.kind == LOT else self.units)
                }
            ),
        }
        self._owner = None
        self.new_units = set()  # created here, so their production lot is ours to link
        # A restored database takes its own company from the document; a partner's document
        # does not make the partner "internal" in a database that already knows its own.
        self.trust_internal = not Party.objects.filter(is_internal=True).exists()

    # --- Lookups ----------------------------------------------------------------------------

    def _find_products(self, keys: set[tuple]):
        gtins = [value for kind, value in keys if kind == "gtin"]
        skus = {value for kind, value in keys if kind == "sku"}
        wanted = skus | {
            d.values["sku"] for key, d in self.master.products.items() if d.values.get("sku")
        }
        self.products, self.taken_skus = {}, set()
        for chunk in _chunks(gtins):
            for product in Product.objects.filter(gtin__in=chunk):
                self.products[("gtin", product.gtin)] = product
                self.taken_skus.add(product.sku)
        for chunk in _chunks(wanted):
            for product in Product.objects.filter(sku__in=chunk):
                self.taken_skus.add(product.sku)
                if product.sku in skus:
                    self.products[("sku", product.sku)] = product

    def _find_items(self, refs: list[_Ref]):
        keys_of = defaultdict(set)  # product pk → the keys documents name it by
        for key, product in self.products.items():
            keys_of[product.pk].add(key)
        self.lots, self.units = {}, {}
        for model, kind, found, code_field in (
            (Lot, LOT, self.lots, "code"),
            (SerialUnit, SERIAL, self.units, "serial"),
        ):
            codes = {
                ref.epc.code
                for ref in refs
                if ref.epc.kind == kind and ref.epc.product_key in self.products
            }
            for chunk in _chunks(codes):
                records = model.objects.filter(
                    product_id__in=list(keys_of), **{f"{code_field}__in": chunk}
                ).order_by()
                for record in records:
                    for key in keys_of[record.product_id]:
                        record.product = self.products[key]
                        found[(key, getattr(record, code_field))] = record

    def _find_places(self, places: list[Epc]):
        glns = {epc.gln for epc in places if epc.gln}
        party_names = {epc.name for epc in places if epc.kind == PARTY and epc.name}
        site_codes = {epc.name for epc in places if epc.kind == LOCATION and epc.name}
        wanted_codes = site_codes | {
            d.values["code"] for d in self.master.sites.values() if d.values.get("code")
        }
        self.parties, self.sites, self.taken_codes = {}, {}, set()
        for chunk in _chunks(glns):
            for party in Party.objects.filter(gln__in=chunk):
                self.parties[("gln", party.gln)] = party
            for site in Site.objects.filter(gln__in=chunk):
                self.sites[("gln", site.gln)] = site
        for chunk in _chunks(party_names):
            for party in Party.objects.filter(gln__isnull=True, name__in=chunk).order_by("-pk"):
                self.parties[("private", party.name)] = party  # the oldest of namesakes
        for chunk in _chunks(wanted_codes):
            for site in Site.objects.filter(code__in=chunk):
                self.taken_codes.add(site.code)
                if site.code in site_codes:
                    self.sites[("private", site.code)] = site

    @staticmethod
    def _parse_quietly(text: str) -> Epc | None:
        try:
            return parse_epc(text)
        except EpcError:
            return None

    # --- Tracking ---------------------------------------------------------------------------

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
                key = ref.epc.product_key
                product = self.products.get(key)
                if (
                    ref.epc.kind != SERIAL
                    or product is None
                    or product.tracking == Product.Tracking.SERIAL
                ):
                    continue
                if product.needs_review:
                    updated = record_update(
                        instance=product,
                        tracking=Product.Tracking.SERIAL,
                        acting_user=self.acting_user,
                        reason="EPCIS import names serial units of it",
                    )
                    for other, known in self.products.items():
                        if known.pk == updated.pk:
                            self.products[other] = updated
                else:
                    errors.append(
                        f"event {event.index}, {ref.field}: {ref.epc.text} names a serial unit "
                        f"of {product.sku}, which is tracked by lot"
                    )
        return errors

    # --- Building what is missing -----------------------------------------------------------

    def _check(self, record, identifier: str, exclude=()):
        """Check a record built from a document; its errors name the identifier and field."""
        try:
            record.full_clean(
                exclude=list(exclude), validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                where = HEADER.format(identifier=identifier)
                if name != NON_FIELD_ERRORS:
                    where = f"{where}, {name}"
                self.errors.extend(f"{where}: {message}" for message in messages)

    def _pending(self, kind: str, record):
        self.pending[kind].append(record)
        return record

    def _number(self, described, name: str) -> int | None:
        value = described.values.get(name) if described else None
        if not value:
            return None
        try:
            number = int(value)
        except ValueError:
            number = -1
        if number < 0:
            self.errors.append(
                f"{HEADER.format(identifier=described.identifier)}, {name}: "
                f"{value!r} is not a whole number of zero or more"
            )
            return None
        return number

    def _date(self, described, name: str) -> date | None:
        value = described.values.get(name) if described else None
        if not value:
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            self.errors.append(
                f"{HEADER.format(identifier=described.identifier)}, {name}: "
                f"{value!r} is not a date (YYYY-MM-DD)"
            )
            return None

    def product(self, key: tuple, unit: str = "") -> Product:
        if key in self.products:
            return self.products[key]
        kind, value = key
        described = self.master.products.get(key)
        values = described.values if described else {}
        sku = value
        if kind == "gtin":
            wanted = values.get("sku")
            sku = wanted if wanted and wanted not in self.taken_skus else value
        self.taken_skus.add(sku)
        tracking = values.get("tracking")
        if key in self.serial_products:
            tracking = Product.Tracking.SERIAL
        elif tracking not in Product.Tracking.values:
            tracking = Product.Tracking.LOT
        if values.get("unit") in UNITS:
            unit = values["unit"]
        product = Product(
            sku=sku,
            gtin=value if kind == "gtin" else None,
            name=values.get("name", "")[:200] or (f"GTIN {value}" if kind == "gtin" else value),
            tracking=tracking,
            unit=unit or Unit.EACH,
            shelf_life_days=self._number(described, "shelf_life_days"),
            warranty_months=self._number(described, "warranty_months"),
            on_food_traceability_list=values.get("on_food_traceability_list") == "true",
            needs_review=True,
        )
        identifier = described.identifier if described else f"product {value}"
        self._check(product, identifier)
        self.products[key] = self._pending("products", product)
        return product

    def item(self, ref: _Ref, event: _Event) -> Lot | SerialUnit:
        epc = ref.epc
        key = (epc.product_key, epc.code)
        if epc.kind == SERIAL:
            if key not in self.units:
                lot = next(
                    (
                        self.item(lot, event)
                        for lot in event.production_lots
                        if lot.epc.product_key == epc.product_key
                    ),
                    None,
                )
                self.units[key] = self._pending("serial_units", self._unit(ref, event, lot))
                self.new_units.add(id(self.units[key]))
            return self.units[key]
        if key not in self.lots:
            self.lots[key] = self._pending("lots", self._lot(ref, event))
        return self.lots[key]

    def _unit(self, ref: _Ref, event: _Event, lot: Lot | None) -> SerialUnit:
        epc = ref.epc
        described = self.master.units.get((epc.product_key, epc.code))
        references = described.references if described else {}
        values = described.values if described else {}
        holder_site = self.site(self._reference(references.get("holder_site"), described, LOCATION))
        holder_party = self.party(self._reference(references.get("holder_party"), described, PARTY))
        if holder_site is not None and holder_party is not None:
            self.errors.append(
                f"{HEADER.format(identifier=described.identifier)}: a unit is held at a site "
                "or by a party, not both"
            )
        unit = _new(
            SerialUnit,
            product=self.product(epc.product_key),
            serial=epc.code,
            lot=lot,
            produced_on=self._date(described, "produced_on") or event.produced_on,
            holder_site=holder_site,
            holder_party=holder_party,
            shipped_on=self._date(described, "shipped_on"),
            warranty_ends_on=self._date(described, "warranty_ends_on"),
            warranty_overridden=values.get("warranty_overridden") == "true",
        )
        if values.get("status") in UNIT_STATUSES:
            unit.status = values["status"]  # as the exporting database had it
        return unit

    def _lot(self, ref: _Ref, event: _Event) -> Lot:
        epc = ref.epc
        described = self.master.lots.get((epc.product_key, epc.code))
        references = described.references if described else {}
        quantity, unit = self._first_quantity.get(ref.key, (Decimal(0), ""))
        product = self.product(epc.product_key, unit)
        produced_on = self._date(described, "produced_on") or event.produced_on
        expires_on = (
            self._date(described, "expires_on")
            or event.expires_on
            or product.expiry_for(produced_on)
        )
        where = f"event {event.index}, {ref.field}"
        if expires_on and produced_on and expires_on < produced_on:
            self.errors.append(
                f"{where}: lot {epc.code} would expire on {expires_on}, before it was "
                f"produced on {produced_on}"
            )
        site = self.site(self._reference(references.get("site"), described, LOCATION))
        supplier = self.party(self._reference(references.get("supplier"), described, PARTY))
        if site is None:
            site = self.site(event.location)
        if supplier is None and event.event_type == TraceEvent.Type.RECEIVE:
            supplier = self.party(
                event.source_party
            )  # a lot first seen arriving came from the sender
        supplier_lot_code = (described.values.get("supplier_lot_code") if described else "") or ""
        if supplier is not None and not supplier_lot_code and not references.get("supplier"):
            # Received from a partner under the partner's code: that is their lot code (the
            # traceability lot code FSMA 204 asks for). Our own exports say it in master data.
            supplier_lot_code = epc.code
        if len(supplier_lot_code) > 64:
            self.errors.append(
                f"{HEADER.format(identifier=described.identifier)}, supplier_lot_code: "
                "is longer than 64 characters"
            )
        lot = _new(
            Lot,
            product=product,
            code=epc.code,
            quantity=quantity,
            unit=unit or product.unit,
            produced_on=produced_on,
            expires_on=expires_on,
            site=site,
            supplier=supplier,
            supplier_lot_code=supplier_lot_code,
        )
        status = described.values.get("status") if described else None
        if status in LOT_STATUSES:
            lot.status = status  # as the exporting database had it (on hold stays on hold)
        lot.status = lot_starting_status(product, lot.status)
        return lot

    def _reference(self, text: str | None, described, kind: Kind) -> Epc | None:
        """A site or party the header names by identifier (a site's owner, a lot's supplier)."""
        if not text:
            return None
        epc = self._parse_quietly(text)
        if epc is not None and epc.kind == LOCATION and kind == PARTY and epc.gln:
            epc = Epc(epc.text, PARTY, gln=epc.gln)
        if epc is None or epc.kind != kind:
            what = "party" if kind == PARTY else "location"
            self.errors.append(
                f"{HEADER.format(identifier=described.identifier)}: {text!r} is not a {what} "
                "identifier"
            )
            return None
        return epc

    def party(self, epc: Epc | None) -> Party | None:
        if epc is None:
            return None
        key = epc.place_key
        if key in self.parties:
            return self.parties[key]
        described = self.master.party(key)
        values = described.values if described else {}
        party = Party(
            # A party without a GLN is known by its name, so the name cannot differ from it.
            name=epc.name or values.get("name", "")[:200] or f"GLN {epc.gln}",
            gln=epc.gln,
            needs_review=True,
            **{name: values[name][:200] for name in PARTY_DETAILS if values.get(name)},
        )
        for role in values.get("roles", "").split():
            if role in masterdata.ROLE_FIELDS and (role != "internal" or self.trust_internal):
                setattr(party, masterdata.ROLE_FIELDS[role], True)
        self._check(party, described.identifier if described else epc.text)
        self.parties[key] = self._pending("parties", party)
        return party

    def owner(self) -> Party:
        if self._owner is None:
            self._owner = Party.objects.filter(
                name=UNKNOWN_OWNER, gln__isnull=True, needs_review=True
            ).first() or self._pending("parties", Party(name=UNKNOWN_OWNER, needs_review=True))
        return self._owner

    def site(self, epc: Epc | None) -> Site | None:
        if epc is None:
            return None
        key = epc.place_key
        if key in self.sites:
            return self.sites[key]
        described = self.master.site(key)
        values = described.values if described else {}
        owner = None
        if described and described.references.get("owner"):
            owner = self.party(self._reference(described.references["owner"], described, PARTY))
        if epc.gln:
            wanted = values.get("code")
            code = wanted if wanted and wanted not in self.taken_codes else f"gln-{epc.gln}"
        else:
            code = epc.name
        self.taken_codes.add(code)
        site = Site(
            code=code,
            name=values.get("name", "")[:200] or (f"GLN {epc.gln}" if epc.gln else epc.name),
            kind=values["kind"] if values.get("kind") in Site.Kind.values else Site.Kind.OTHER,
            gln=epc.gln,
            # The owner of a site known only by its GLN is for a person to fill in.
            party=owner or self.parties.get(("gln", epc.gln)) or self.owner(),
            **{name: values[name][:200] for name in SITE_DETAILS if values.get(name)},
        )
        self._check(site, described.identifier if described else epc.text, exclude=["party"])
        self.sites[key] = self._pending("sites", site)
        return site

    def restore_states(self):
        """Give created units the state the header describes, where the events changed it.

        Master data tells how things stood when the document was written; an installation or
        removal replayed from the document sets a unit's status on its way (installed, then
        in stock), which a later status change, recorded as an event we only keep, had
        changed again. Only those units are updated, each with an audit trail entry."""
        wanted = {}
        for key, unit in self.units.items():
            described = self.master.units.get(key) if id(unit) in self.new_units else None
            if described and described.values.get("status") in UNIT_STATUSES:
                wanted[unit.pk] = (
                    described.values["status"],
                    unit.holder_site_id,
                    unit.holder_party_id,
                )
        if not wanted:
            return
        fields = ("status", "holder_site_id", "holder_party_id")
        changed = [
            unit
            for unit in SerialUnit.objects.filter(pk__in=list(wanted)).order_by("pk")
            if tuple(getattr(unit, name) for name in fields) != wanted[unit.pk]
        ]
        for unit in changed:
            unit.status, unit.holder_site_id, unit.holder_party_id = wanted[unit.pk]
        records_update_many(
            instances=changed,
            fields=["status", "holder_site", "holder_party"],
            acting_user=self.acting_user,
            reason=f"{IMPORT_REASON}: state as exported",
        )

    def save(self) -> dict[str, int]:
        """Save what was built since the last save, in the order their references need; the
        counts per kind."""
        for kind in CREATED_KINDS:
            records_create_many(
                instances=self.pending[kind], acting_user=self.acting_user, reason=IMPORT_REASON
            )
        saved = {kind: len(records) for kind, records in self.pending.items()}
        self.pending = {kind: [] for kind in CREATED_KINDS}
        return saved


def _new(model, **values):
    """model(**values), for the lots and units a document creates (tens of thousands).

    Built as Django builds the records it reads, from positional values, which skips the
    related-object descriptors that cost most of a keyword build; the related records are
    cached on it all the same, so bulk.insert takes the keys of those saved since.
    """
    args, related = [], []
    for model_field in model._meta.concrete_fields:
        if model_field.is_relation and model_field.name in values:
            record = values.pop(model_field.name)
            args.append(None if record is None else record.pk)
            if record is not None:
                related.append((model_field, record))
        else:
            args.append(
                values.pop(model_field.attname)
                if model_field.attname in values
                else model_field.get_default()
            )
    if values:
        raise TypeError(f"{model.__name__} has no fields {', '.join(values)}")
    instance = model(*args)
    for model_field, record in related:
        model_field.set_cached_value(instance, record)
    return instance


PARTY_DETAILS = (
    "contact_name",
    "email",
    "phone",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
)
SITE_DETAILS = ("phone", "street", "city", "region", "postal_code", "country")
CREATED_KINDS = ("parties", "sites", "products", "lots", "serial_units")  # in saving order


def _unique_refs(event: _Event) -> dict[str, list[_Ref]]:
    """EPCIS lists may repeat an item; an event names each item once per role."""
    unique = {}
    for role, refs in event.roles.items():
        if len(refs) < 2:
            unique[role] = refs
            continue
        seen, unique[role] = set(), []
        for ref in refs:
            if ref.key not in seen:
                seen.add(ref.key)
                unique[role].append(ref)
    return unique


def _plan(event: _Event, objects: _Objects) -> dict:
    """What to record for an event: the services' arguments, with unsaved records in them."""
    lines = {
        role: [Line(objects.item(ref, event), ref.quantity, ref.unit) for ref in refs]
        for role, refs in _unique_refs(event).items()
    }
    fields = {
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
        "time_zone_offset": event.offset,
        "biz_step": event.biz_step,
        "disposition": event.disposition,
        "document_type": event.document_type,
        "document_number": event.document_number,
        "fsma_cte": event.fsma_cte,
        "notes": event.notes,
        "extra": event.extra,
        "source_party": objects.party(event.source_party),
        "source_site": objects.site(event.source_site),
        "destination_party": objects.party(event.destination_party),
        "destination_site": objects.site(event.destination_site),
    }
    site = objects.site(event.location)
    parent = objects.item(_Ref(event.parent, "parentID"), event) if event.parent else None
    if event.install or event.remove:
        if site is not None:
            fields["site"] = site  # the document says where; else the assembly's site
        return {"assembly": parent, "children": lines["children"], "fields": fields}
    return {
        "fields": {
            "event_type": event.event_type,
            "parent": parent,
            "site": site,
            **lines,
            **fields,
            "extra": event.extra_json,
        },
        "production_units": [
            line.item
            for line in (*lines["subjects"], *lines["outputs"])
            if event.production_lots and id(line.item) in objects.new_units
        ],
    }


def _write(events: list[_Event], plans: list[dict], acting_user) -> int:
    """Record the planned events in document order: runs of plain events in bulk, each
    installation or removal through its service (it checks the assembly's state then).
    Return how many were recorded."""
    recorded, batch = 0, []

    def flush():
        nonlocal recorded
        if not batch:
            return
        keys = events_record_many(
            events=[plan["fields"] for _, plan in batch], acting_user=acting_user
        )
        production_lots_link(
            links=[
                (unit, key)
                for (_, plan), key in zip(batch, keys, strict=True)
                for unit in plan["production_units"]
            ]
        )
        recorded += len(keys)
        batch.clear()

    for event, plan in zip(events, plans, strict=True):
        if not (event.install or event.remove):
            batch.append((event, plan))
            continue
        flush()
        assembly, fields = plan["assembly"], plan["fields"]
        components = [line.item for line in plan["children"]]
        if event.remove and not components:
            components = list(assembly.components.all())
        service = serial_units_install if event.install else serial_units_remove
        try:
            service(
                components=components,
                assembly=assembly,
                acting_user=acting_user,
                occurred_at=fields.pop("occurred_at"),
                notes=fields.pop("notes"),
                event_fields=fields,
            )
        except ValidationError as exc:
            raise ValidationError(
                [f"event {event.index}: {message}" for message in exc.messages], code="epcis"
            ) from exc
        recorded += 1
    flush()
    return recorded


@contextmanager
def cycle_collection_paused():
    """Pause Python's cycle collector: with a large document in memory it would walk millions
    of objects again and again (a third of a 100,000-event import). Nothing an import makes
    needs it; reference counting frees the rest, and the collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def epcis_import(*, document: dict, acting_user) -> ImportResult:
    """Import every event of an EPCIS document, or none: raise ValidationError listing why."""
    with cycle_collection_paused():
        return _import(document, acting_user)


def _import(document: dict, acting_user) -> ImportResult:
    raw_events = _event_list(document)
    context = [entry for entry in _as_list(document.get("@context")) if isinstance(entry, dict)]
    errors, events, epcs = [], [], {}
    for index, raw in enumerate(raw_events):
        reader = _Reader(index, raw, context, epcs)
        event = reader.read()
        errors.extend(reader.errors)
        if event is not None:
            events.append(event)
    if errors:
        raise ValidationError(errors, code="epcis")

    # Events need not come in order; what happened first is recorded first (a unit shipped
    # before the document commissions it gets its production lot all the same).
    events.sort(key=lambda event: event.occurred_at)
    return _write_document(document, events, acting_user)


def _stored_event_ids(event_ids: list[str]) -> set[str]:
    """Those of the event IDs that are stored already."""
    if connection.vendor == "postgresql":
        # One query with the IDs as an array (an index probe each), not one per 500 IDs: a
        # 100,000-event document took 200 queries and half a second before anything was written.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT event_id FROM {connection.ops.quote_name(TraceEvent._meta.db_table)} "
                "WHERE event_id = ANY(%s)",
                [event_ids],
            )
            return {event_id for (event_id,) in cursor.fetchall()}
    stored = set()
    for chunk in _chunks(event_ids):
        stored.update(
            TraceEvent.objects.filter(event_id__in=chunk).values_list("event_id", flat=True)
        )
    return stored


@service  # one transaction; a database error becomes a ValidationError
def _write_document(document: dict, events: list[_Event], acting_user) -> ImportResult:
    # One import at a time, so two uploads of the same document (a double click, two cron
    # runs) store it once and never race to create the same product, party or site.
    locks.lock_epcis_imports()
    stored, seen = _stored_event_ids([event.event_id for event in events]), set()
    result = ImportResult()
    new_events = []
    for event in events:
        if event.event_id in stored or event.event_id in seen:
            result.duplicates += 1
        else:
            seen.add(event.event_id)
            new_events.append(event)

    objects = _Objects(new_events, masterdata.read(document), acting_user)
    tracking_errors = objects.check_tracking(new_events)
    if tracking_errors:
        raise ValidationError(tracking_errors, code="epcis")
    with bulk.streaming():
        # Keys are drawn ahead, so Python never waits for PostgreSQL to catch up for them.
        bulk.reserve_keys(TraceEvent, len(new_events))
        for model, count in objects.key_bounds.items():
            bulk.reserve_keys(model, count)
        # PostgreSQL writes one chunk while Python plans the next.
        for start in range(0, len(new_events), WRITE_CHUNK):
            chunk = new_events[start : start + WRITE_CHUNK]
            plans = [_plan(event, objects) for event in chunk]
            if objects.errors:
                continue  # plan the rest all the same, to name all their errors
            for kind, count in objects.save().items():
                result.created[kind] += count
            result.imported += _write(chunk, plans, acting_user)
        if objects.errors:
            raise ValidationError(list(dict.fromkeys(objects.errors)), code="epcis")
        objects.restore_states()
    # Sensor readings, once their events are written: judged, excursions raising deviations.
    conditions.measurements_import(
        readings={event.event_id: event.readings for event in new_events if event.readings},
        acting_user=acting_user,
    )
    return result


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
