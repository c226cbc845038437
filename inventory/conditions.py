"""Process conditions: readings on events, judged against their products' limits.

A reading (temperature, time, pH, pressure, humidity) is recorded on a trace event, by hand or
from an EPCIS document's sensorElementList. It is judged against every active limit of the
products the event names that applies to the event's type and site; the limits are copied
onto the reading with their verdicts, so changing a limit later does not rewrite history.

A reading outside a limit is an excursion: it raises one deviation (kind "excursion", linked
to the reading) on every lot and serial unit the event names, in any role, whose product's
limit it breaks: a cold-chain failure on a shipment flags every lot in it; inputs of a
transformation too, since what is left of them stood in the same conditions. A serial unit
is flagged itself, not its production lot: the lot's other units were elsewhere. The open
deviation blocks release until a manager decides it; the lots' quality status is left as it
is unless the limit says "hold on excursion", which puts released lots and units in stock on
hold. Everything is written in bulk, in the reading's transaction: a shipment of hundreds of
lots costs a constant number of queries.

Readings in another unit of the same kind (°F, K; min, h; bar, Pa, mbar) are converted to the
limit's unit to be judged, and kept as read; a unit of another kind is refused.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    MEASUREMENT_UNITS,
    ConditionLimit,
    Deviation,
    EventLine,
    Item,
    Lot,
    Measurement,
    MeasurementType,
    MeasurementUnit,
    SerialUnit,
    TraceEvent,
    limit_band,
)
from .services import (
    DEVIATION_DOCUMENT,
    document_numbers_next,
    items_change_status_many,
    records_create_many,
    service,
)

CONDITIONS_PLACES = Decimal("0.0001")  # readings and limits are kept to the ten-thousandth
CONDITIONS_MAX = Decimal("1e10")  # DecimalField(max_digits=14, decimal_places=4)
CONDITIONS_CLOCK_SKEW = timedelta(minutes=5)

CONDITIONS_NO_READINGS = _("Record at least one reading.")
CONDITIONS_UNKNOWN_TYPE = _(
    "Reading %(number)s: “%(type)s” is not a condition we measure (temperature, time, pH, "
    "pressure, relative or absolute humidity)."
)
CONDITIONS_UNKNOWN_UNIT = _("Reading %(number)s: “%(unit)s” is not a unit we record (%(units)s).")
CONDITIONS_UNIT_MISMATCH = _(
    "Reading %(number)s: %(type)s is measured in %(units)s, not in %(unit)s."
)
CONDITIONS_NO_VALUE = _("Reading %(number)s: give a value (or a minimum, maximum or mean).")
CONDITIONS_NOT_NUMBER = _("Reading %(number)s: %(field)s “%(value)s” is not a number.")
CONDITIONS_OUT_OF_RANGE = _(
    "Reading %(number)s: %(field)s %(value)s is out of range (below 10,000,000,000)."
)
CONDITIONS_MIN_ABOVE_MAX = _("Reading %(number)s: the minimum is above the maximum.")
CONDITIONS_FUTURE = _("Reading %(number)s: it cannot be measured later than now.")
CONDITIONS_EXCURSION = _(
    "%(type)s %(reading)s measured %(when)s on the %(event)s event%(where)s is outside %(limits)s."
)
CONDITIONS_HOLD_REASON = _("Process condition outside its limits (%(references)s).")

# GS1 CBV 2.0 measurement types (EPCIS sensorReport type); the CBV has none for pH.
CONDITIONS_EPCIS_TYPES = {
    MeasurementType.TEMPERATURE: "Temperature",
    MeasurementType.TIME: "Time",
    MeasurementType.PH: "urn:tracewell:mt:pH",
    MeasurementType.PRESSURE: "Pressure",
    MeasurementType.RELATIVE_HUMIDITY: "RelativeHumidity",
    MeasurementType.ABSOLUTE_HUMIDITY: "AbsoluteHumidity",
}
CONDITIONS_TYPES_BY_EPCIS = {name: kind for kind, name in CONDITIONS_EPCIS_TYPES.items()}
CONDITIONS_TYPE_PREFIXES = ("gs1:MT-", "gs1:", "https://gs1.org/voc/MT-", "https://gs1.org/voc/")

CONDITIONS_DEVICE_FIELD = "tracewell:device"  # a device named other than by a URI


def measurement_type_of(epcis_type) -> str | None:
    """Our measurement type of an EPCIS sensorReport type ("Temperature", "gs1:MT-Temperature",
    "https://gs1.org/voc/MT-Temperature"); None for one we do not judge."""
    if not isinstance(epcis_type, str):
        return None
    for prefix in CONDITIONS_TYPE_PREFIXES:
        if epcis_type.startswith(prefix):
            epcis_type = epcis_type[len(prefix) :]
            break
    return CONDITIONS_TYPES_BY_EPCIS.get(epcis_type)


VALUE_FIELDS = ("value", "min_value", "max_value", "mean_value")
VALUE_LABELS = {
    "value": "value",
    "min_value": "minimum",
    "max_value": "maximum",
    "mean_value": "mean",
}

# A unit's value in its kind's base unit is value * scale + offset (°C, s, Pa).
_TO_BASE = {
    "CEL": (Decimal(1), Decimal(0)),
    "FAH": (Decimal(5) / Decimal(9), Decimal(-160) / Decimal(9)),
    "KEL": (Decimal(1), Decimal("-273.15")),
    "SEC": (Decimal(1), Decimal(0)),
    "MIN": (Decimal(60), Decimal(0)),
    "HUR": (Decimal(3600), Decimal(0)),
    "PAL": (Decimal(1), Decimal(0)),
    "KPA": (Decimal(1000), Decimal(0)),
    "BAR": (Decimal(100000), Decimal(0)),
    "MBR": (Decimal(100), Decimal(0)),
}


def convert(value: Decimal, unit: str, to_unit: str) -> Decimal:
    """A reading in another unit of the same kind, to the ten-thousandth (46.4 °F → 8 °C)."""
    if unit == to_unit:
        return value
    if unit == "FAH" and to_unit == "CEL":
        converted = (value - 32) * 5 / 9  # exact where it can be: 46.4 °F is 8 °C, not 7.9999
    elif unit == "CEL" and to_unit == "FAH":
        converted = value * 9 / 5 + 32
    else:
        scale, offset = _TO_BASE[unit]
        to_scale, to_offset = _TO_BASE[to_unit]
        converted = (value * scale + offset - to_offset) / to_scale
    return converted.quantize(CONDITIONS_PLACES, rounding=ROUND_HALF_EVEN)


@dataclass
class Reading:
    """One reading to record: a value, or the minimum/maximum/mean of a sensor's report."""

    measurement_type: str
    unit: str
    value: Decimal | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    mean_value: Decimal | None = None
    measured_at: datetime | None = None
    device_id: str = ""

    def numbers(self) -> list[Decimal]:
        return [n for n in (getattr(self, name) for name in VALUE_FIELDS) if n is not None]


def reading_problems(reading: Reading, number: int) -> list[str]:
    """What is wrong with a reading, in sentences naming it by its number (from 1); the
    reading's figures are made Decimals to the ten-thousandth on the way."""
    problems = []
    context = {"number": number}
    if reading.measurement_type not in MeasurementType.values:
        return [CONDITIONS_UNKNOWN_TYPE % {**context, "type": reading.measurement_type}]
    allowed = MEASUREMENT_UNITS[MeasurementType(reading.measurement_type)]
    labels = dict(MeasurementUnit.choices)
    if reading.unit not in MeasurementUnit.values:
        problems.append(
            CONDITIONS_UNKNOWN_UNIT
            % {**context, "unit": reading.unit, "units": ", ".join(MeasurementUnit.values)}
        )
    elif reading.unit not in allowed:
        problems.append(
            CONDITIONS_UNIT_MISMATCH
            % {
                **context,
                "type": MeasurementType(reading.measurement_type).label,
                "units": ", ".join(str(labels[unit]) for unit in allowed),
                "unit": labels[reading.unit],
            }
        )
    for name in VALUE_FIELDS:
        raw = getattr(reading, name)
        if raw is None or raw == "":
            setattr(reading, name, None)
            continue
        try:
            if isinstance(raw, bool):
                raise InvalidOperation
            number = Decimal(str(raw))
            if not number.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(
                CONDITIONS_NOT_NUMBER % {**context, "field": VALUE_LABELS[name], "value": raw}
            )
            setattr(reading, name, None)
            continue
        if abs(number) >= CONDITIONS_MAX:
            problems.append(
                CONDITIONS_OUT_OF_RANGE % {**context, "field": VALUE_LABELS[name], "value": raw}
            )
            continue
        setattr(reading, name, number.quantize(CONDITIONS_PLACES, rounding=ROUND_HALF_EVEN))
    if not problems and not reading.numbers():
        problems.append(CONDITIONS_NO_VALUE % context)
    if (
        not problems
        and reading.min_value is not None
        and reading.max_value is not None
        and reading.min_value > reading.max_value
    ):
        problems.append(CONDITIONS_MIN_ABOVE_MAX % context)
    return problems


@dataclass
class _EventScope:
    """An event as readings need it: what it names, where and when."""

    pk: int
    event_type: str
    site_id: int | None
    site_name: str
    occurred_at: datetime
    label: str
    items: list[tuple[int, str, int]] = field(default_factory=list)  # (item, kind, product)


def _scopes(event_keys: list[int]) -> dict[int, _EventScope]:
    """The events with their site and the items they name, in two queries."""
    scopes = {
        event.pk: _EventScope(
            pk=event.pk,
            event_type=event.event_type,
            site_id=event.site_id,
            site_name=event.site.name if event.site_id else "",
            occurred_at=event.occurred_at,
            label=str(event.get_event_type_display()),
        )
        for event in TraceEvent.objects.filter(pk__in=event_keys).select_related("site")
    }
    lines = (
        EventLine.objects.filter(event_id__in=event_keys)
        .values_list(
            "event_id",
            "item_id",
            "item__kind",
            "item__lot__product_id",
            "item__serialunit__product_id",
        )
        .order_by("event_id", "pk")
    )
    seen = set()
    for event_id, item_id, kind, lot_product, unit_product in lines:
        if (event_id, item_id) in seen:
            continue  # an item in two roles (carried through a transformation) is flagged once
        seen.add((event_id, item_id))
        product = lot_product if kind == Item.Kind.LOT else unit_product
        scopes[event_id].items.append((item_id, kind, product))
    return scopes


def _judge(reading: Reading, limit: ConditionLimit) -> bool:
    """Inside a limit: every figure of the reading, in the limit's unit, within its edges."""
    for number in reading.numbers():
        value = convert(number, reading.unit, limit.unit)
        if limit.lower is not None and value < limit.lower:
            return False
        if limit.upper is not None and value > limit.upper:
            return False
    return True


def _limit_copy(limit: ConditionLimit, within: bool) -> dict:
    return {
        "id": limit.pk,
        "product": limit.product_id,
        "sku": limit.product.sku,
        "name": limit.name,
        "lower": None if limit.lower is None else str(limit.lower),
        "upper": None if limit.upper is None else str(limit.upper),
        "unit": limit.unit,
        "within": within,
    }


def limits_words(limits: list[dict]) -> str:
    """Copied limits in words: "cold storage 2 to 8 °C; …"."""
    return "; ".join(f"{limit['name']} {limit_copy_band(limit)}" for limit in limits)


def limit_copy_band(limit: dict) -> str:
    """A copied limit's band: "2 to 8 °C"."""
    unit = dict(MeasurementUnit.choices).get(limit["unit"], limit["unit"])
    return limit_band(_decimal(limit["lower"]), _decimal(limit["upper"]), unit)


def _decimal(text):
    return None if text is None else Decimal(text)


def deviations_raise_many(*, deviations: list[Deviation], acting_user) -> list[Deviation]:
    """Save many unsaved deviations at once (numbered, with their audit rows), as
    deviation_raise does for one; run it inside the caller's transaction."""
    if not deviations:
        return []
    references = document_numbers_next(DEVIATION_DOCUMENT, len(deviations))
    for deviation, reference in zip(deviations, references, strict=True):
        deviation.reference = reference
    return records_create_many(
        instances=deviations, acting_user=acting_user, reason=str(Deviation.Status.OPEN.label)
    )


def _write(
    entries: list[tuple[int, Reading]], *, source: str, acting_user
) -> tuple[list[Measurement], list[Deviation]]:
    """Record checked readings, each on its event's key; judge them, raise the deviations and
    holds their excursions call for. A constant number of queries, however many."""
    scopes = _scopes(sorted({key for key, _reading in entries}))
    products = {product for scope in scopes.values() for _i, _k, product in scope.items}
    limits_of = defaultdict(list)
    for limit in (
        ConditionLimit.objects.filter(product_id__in=products, active=True)
        .select_related("product")
        .order_by("pk")
    ):
        limits_of[(limit.product_id, limit.measurement_type)].append(limit)

    now = timezone.now()
    measurements, broken_by_measurement = [], []
    for key, reading in entries:
        scope = scopes[key]
        applying = [
            limit
            for product in dict.fromkeys(product for _i, _k, product in scope.items)
            for limit in limits_of[(product, reading.measurement_type)]
            if limit.applies_to(scope.event_type, scope.site_id)
        ]
        verdicts = [(limit, _judge(reading, limit)) for limit in applying]
        measurements.append(
            Measurement(
                event_id=key,
                measurement_type=reading.measurement_type,
                value=reading.value,
                min_value=reading.min_value,
                max_value=reading.max_value,
                mean_value=reading.mean_value,
                unit=reading.unit,
                measured_at=reading.measured_at or scope.occurred_at,
                device_id=(reading.device_id or "")[:255],
                source=source,
                limits=[_limit_copy(limit, within) for limit, within in verdicts],
                within_limits=None if not verdicts else all(within for _l, within in verdicts),
                recorded_at=now,
                recorded_by=acting_user,
            )
        )
        broken_by_measurement.append([limit for limit, within in verdicts if not within])
    Measurement.objects.bulk_create(measurements)

    deviations, holds = [], {"lots": set(), "units": set()}
    for measurement, broken in zip(measurements, broken_by_measurement, strict=True):
        if not broken:
            continue
        scope = scopes[measurement.event_id]
        broken_of = defaultdict(list)
        for limit in broken:
            broken_of[limit.product_id].append(limit)
        for item_id, kind, product in scope.items:
            if product not in broken_of:
                continue
            deviations.append(
                Deviation(
                    item_id=item_id,
                    kind=Deviation.Kind.EXCURSION,
                    description=_excursion_text(measurement, scope, broken_of[product]),
                    raised_at=now,
                    raised_by=None,
                    measurement=measurement,
                )
            )
            if any(limit.hold_on_excursion for limit in broken_of[product]):
                holds["lots" if kind == Item.Kind.LOT else "units"].add(item_id)
    deviations_raise_many(deviations=deviations, acting_user=acting_user)
    if holds["lots"] or holds["units"]:
        held = holds["lots"] | holds["units"]
        references = ", ".join(d.reference for d in deviations if d.item_id in held)
        items_change_status_many(
            status=Lot.Status.ON_HOLD,
            reason=CONDITIONS_HOLD_REASON % {"references": _shortened(references)},
            acting_user=acting_user,
            lots=Lot.objects.filter(pk__in=holds["lots"], status=Lot.Status.RELEASED),
            serial_units=SerialUnit.objects.filter(
                pk__in=holds["units"], status=SerialUnit.Status.IN_STOCK
            ),
        )
    return measurements, deviations


def _shortened(references: str, limit: int = 200) -> str:
    return references if len(references) <= limit else f"{references[: limit - 1]}…"


def _excursion_text(measurement: Measurement, scope: _EventScope, broken: list) -> str:
    where = scope.site_name
    return str(
        CONDITIONS_EXCURSION
        % {
            "type": measurement.get_measurement_type_display().capitalize(),
            "reading": measurement.reading,
            "event": scope.label,
            "when": timezone.localtime(measurement.measured_at).strftime("%Y-%m-%d %H:%M"),
            "where": f" at {where}" if where else "",
            "limits": limits_words([_limit_copy(limit, False) for limit in broken]),
        }
    )


@service
def measurements_record(
    *, event: TraceEvent, readings: list[Reading], acting_user
) -> list[Measurement]:
    """Record readings taken on an event (by hand); an excursion raises its deviations.

    Every reading is checked first; any problem refuses them all, with a sentence per problem
    naming the reading by its number (from 1).
    """
    readings = list(readings)
    if not readings:
        raise ValidationError(CONDITIONS_NO_READINGS, code="no_readings")
    problems = []
    latest = timezone.now() + CONDITIONS_CLOCK_SKEW
    for number, reading in enumerate(readings, start=1):
        problems += reading_problems(reading, number)
        if reading.measured_at is not None and reading.measured_at > latest:
            problems.append(CONDITIONS_FUTURE % {"number": number})
    if problems:
        raise ValidationError(problems, code="reading")
    measurements, _deviations = _write(
        [(event.pk, reading) for reading in readings],
        source=Measurement.Source.MANUAL,
        acting_user=acting_user,
    )
    return measurements


def measurements_import(
    *, readings: dict[str, list[Reading]], acting_user
) -> tuple[list[Measurement], list[Deviation]]:
    """Record checked readings of imported events, given by their eventIDs (in the import's
    transaction); return the measurements and the deviations their excursions raised."""
    if not readings:
        return [], []
    keys = {}
    event_ids = list(readings)
    for start in range(0, len(event_ids), 500):
        keys.update(
            TraceEvent.objects.filter(event_id__in=event_ids[start : start + 500]).values_list(
                "event_id", "pk"
            )
        )
    entries = [
        (keys[event_id], reading)
        for event_id, event_readings in readings.items()
        for reading in event_readings
    ]
    return _write(entries, source=Measurement.Source.EPCIS, acting_user=acting_user)
