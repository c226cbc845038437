"""Process conditions: limits, readings, excursions raising deviations (issue #9)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import conditions, services
from inventory.conditions import Reading, convert
from inventory.models import (
    ConditionLimit,
    Deviation,
    ImmutableRecordError,
    Lot,
    Measurement,
    SerialUnit,
    StatusChange,
    TraceEvent,
)
from inventory.services import Line

from .factories import (
    LotFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(username="quality")


@pytest.fixture
def chilled():
    return ProductFactory(sku="CHILLED-1", name="Fresh cream")


@pytest.fixture
def storage(chilled):
    return ConditionLimit.objects.create(
        product=chilled,
        name="cold storage",
        measurement_type="temperature",
        unit="CEL",
        lower=Decimal(2),
        upper=Decimal(8),
    )


def _shipment(user, *lots, site=None, event_type=TraceEvent.Type.SHIP):
    return services.event_record(
        event_type=event_type,
        acting_user=user,
        subjects=[Line(lot, Decimal(1)) for lot in lots],
        site=site,
    )


def _celsius(value, **kwargs):
    return Reading(measurement_type="temperature", unit="CEL", value=Decimal(value), **kwargs)


def _record(event, user, *readings):
    return conditions.measurements_record(event=event, readings=list(readings), acting_user=user)


# --- Limits at their edges --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "inside"),
    [("2", True), ("8", True), ("5", True), ("8.0001", False), ("1.9999", False)],
)
def test_a_reading_on_a_limit_edge_is_inside_and_just_beyond_it_is_an_excursion(
    user, chilled, storage, value, inside
):
    lot = LotFactory(product=chilled)
    (measurement,) = _record(_shipment(user, lot), user, _celsius(value))

    assert measurement.within_limits is inside
    assert Deviation.objects.filter(item_id=lot.pk).exists() is not inside


def test_a_limit_with_only_a_lower_edge_judges_the_lower_edge(user, chilled):
    ConditionLimit.objects.create(
        product=chilled,
        name="pasteurisation",
        measurement_type="temperature",
        unit="CEL",
        lower=Decimal(72),
    )
    lot = LotFactory(product=chilled)
    event = _shipment(user, lot, event_type=TraceEvent.Type.PRODUCE)

    inside, below = _record(event, user, _celsius("72"), _celsius("71.9"))

    assert (inside.within_limits, below.within_limits) == (True, False)


def test_a_reading_without_a_limit_is_recorded_unjudged(user):
    lot = LotFactory()
    (measurement,) = _record(_shipment(user, lot), user, _celsius("30"))

    assert measurement.within_limits is None
    assert measurement.limits == []
    assert not Deviation.objects.exists()


def test_a_sensor_report_is_judged_on_its_extremes(user, chilled, storage):
    lot = LotFactory(product=chilled)
    report = Reading(
        measurement_type="temperature",
        unit="CEL",
        min_value=Decimal("3"),
        max_value=Decimal("9.5"),
        mean_value=Decimal("5"),
    )
    (measurement,) = _record(_shipment(user, lot), user, report)

    assert measurement.within_limits is False
    assert measurement.reading == "min 3, max 9.5, mean 5 °C"


# --- Excursions raise one deviation per lot ----------------------------------------------------


def test_an_excursion_on_a_shipment_raises_one_deviation_on_every_lot_in_it(user, chilled, storage):
    lots = LotFactory.create_batch(3, product=chilled)
    event = _shipment(user, *lots, site=SiteFactory(name="North DC"))
    (measurement,) = _record(event, user, _celsius("9.5"))

    deviations = Deviation.objects.filter(measurement=measurement)
    assert sorted(d.item_id for d in deviations) == sorted(lot.pk for lot in lots)
    deviation = deviations.first()
    assert deviation.kind == Deviation.Kind.EXCURSION
    assert deviation.status == Deviation.Status.OPEN
    assert deviation.raised_by is None
    assert deviation.reference.startswith(f"DEV-{timezone.localdate().year}-")
    local = timezone.localtime(measurement.measured_at)
    assert deviation.description == (
        f"Temperature 9.5 °C measured {local:%Y-%m-%d %H:%M} on the ship event at North DC is "
        "outside cold storage 2 to 8 °C."
    )
    assert deviation.history.count() == 1


def test_each_excursion_deviation_has_its_own_reference(user, chilled, storage):
    lots = LotFactory.create_batch(3, product=chilled)
    _record(_shipment(user, *lots), user, _celsius("10"), _celsius("11"))

    references = list(Deviation.objects.values_list("reference", flat=True))
    assert len(references) == 6
    assert len(set(references)) == 6


def test_recording_on_a_large_shipment_costs_the_same_queries_as_on_a_small_one(
    user, chilled, storage
):
    _record(_shipment(user, LotFactory(product=chilled)), user, _celsius("9"))  # the counter
    small = _shipment(user, *LotFactory.create_batch(2, product=chilled))
    large = _shipment(user, *LotFactory.create_batch(40, product=chilled))
    counts = []
    for event in (small, large):
        with CaptureQueriesContext(connection) as queries:
            _record(event, user, _celsius("12"), _celsius("13"))
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert Deviation.objects.count() == 1 + 2 * 2 + 2 * 40


def test_only_lots_whose_product_has_a_broken_limit_are_flagged(user, chilled, storage):
    frozen = ProductFactory()
    ConditionLimit.objects.create(
        product=frozen, name="frozen", measurement_type="temperature", unit="CEL", upper=-18
    )
    cream, ice, plain = LotFactory(product=chilled), LotFactory(product=frozen), LotFactory()
    (measurement,) = _record(_shipment(user, cream, ice, plain), user, _celsius("5"))

    assert measurement.within_limits is False
    assert [d.item_id for d in Deviation.objects.all()] == [ice.pk]
    verdicts = {limit["name"]: limit["within"] for limit in measurement.limits}
    assert verdicts == {"cold storage": True, "frozen": False}


def test_a_serial_unit_is_flagged_itself_not_its_production_lot(user):
    product = SerialProductFactory()
    ConditionLimit.objects.create(
        product=product, name="transport", measurement_type="temperature", unit="CEL", upper=40
    )
    lot = LotFactory(product=product)
    unit = SerialUnitFactory(product=product, lot=lot)
    event = services.event_record(
        event_type=TraceEvent.Type.SHIP, acting_user=user, subjects=[Line(unit)]
    )
    _record(event, user, _celsius("45"))

    assert [d.item_id for d in Deviation.objects.all()] == [unit.pk]


def test_a_limit_applies_only_to_its_event_types_and_site(user, chilled):
    plant, store = SiteFactory(), SiteFactory()
    ConditionLimit.objects.create(
        product=chilled,
        name="chill room",
        measurement_type="temperature",
        unit="CEL",
        upper=4,
        event_types=["receive"],
        site=plant,
    )
    lot = LotFactory(product=chilled)
    received_here = _shipment(user, lot, site=plant, event_type=TraceEvent.Type.RECEIVE)
    received_there = _shipment(user, lot, site=store, event_type=TraceEvent.Type.RECEIVE)
    shipped_here = _shipment(user, lot, site=plant)

    verdicts = [
        _record(event, user, _celsius("6"))[0].within_limits
        for event in (received_here, received_there, shipped_here)
    ]

    assert verdicts == [False, None, None]


def test_an_inactive_limit_judges_nothing(user, chilled, storage):
    storage.active = False
    storage.save()
    (measurement,) = _record(_shipment(user, LotFactory(product=chilled)), user, _celsius("20"))

    assert measurement.within_limits is None


# --- Status: hold only when the limit says so --------------------------------------------------


def test_an_excursion_leaves_the_lot_status_alone_by_default(user, chilled, storage):
    lot = LotFactory(product=chilled, status=Lot.Status.RELEASED)
    _record(_shipment(user, lot), user, _celsius("15"))

    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED
    assert not StatusChange.objects.exists()


def test_a_hold_on_excursion_limit_puts_released_lots_on_hold(user, chilled, storage):
    storage.hold_on_excursion = True
    storage.save()
    released = LotFactory(product=chilled, status=Lot.Status.RELEASED)
    quarantined = LotFactory(product=chilled, status=Lot.Status.QUARANTINED)
    _record(_shipment(user, released, quarantined), user, _celsius("15"))

    released.refresh_from_db()
    quarantined.refresh_from_db()
    assert released.status == Lot.Status.ON_HOLD
    assert quarantined.status == Lot.Status.QUARANTINED
    change = StatusChange.objects.get()
    references = ", ".join(Deviation.objects.order_by("pk").values_list("reference", flat=True))
    assert change.reason == f"Process condition outside its limits ({references})."
    assert change.item_id == released.pk
    assert change.changed_by == user


# --- Units: converted, or refused -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "to_unit", "expected"),
    [
        ("46.4", "FAH", "CEL", "8"),
        ("35.6", "FAH", "CEL", "2"),
        ("8", "CEL", "FAH", "46.4"),
        ("281.15", "KEL", "CEL", "8"),
        ("2", "MIN", "SEC", "120"),
        ("1", "HUR", "MIN", "60"),
        ("1", "BAR", "KPA", "100"),
        ("500", "PAL", "KPA", "0.5"),
    ],
)
def test_readings_convert_between_units_of_one_kind(value, unit, to_unit, expected):
    assert convert(Decimal(value), unit, to_unit) == Decimal(expected)


def test_a_reading_in_fahrenheit_is_judged_against_a_limit_in_celsius(user, chilled, storage):
    lot = LotFactory(product=chilled)
    edge, beyond = _record(
        _shipment(user, lot),
        user,
        Reading(measurement_type="temperature", unit="FAH", value=Decimal("46.4")),
        Reading(measurement_type="temperature", unit="FAH", value=Decimal("46.5")),
    )

    assert (edge.within_limits, beyond.within_limits) == (True, False)
    assert (edge.value, edge.unit) == (Decimal("46.4"), "FAH")  # kept as read


def test_a_holding_time_in_minutes_meets_a_limit_in_seconds(user, chilled):
    ConditionLimit.objects.create(
        product=chilled, name="holding", measurement_type="time", unit="SEC", lower=15
    )
    event = _shipment(user, LotFactory(product=chilled), event_type=TraceEvent.Type.PRODUCE)
    (measurement,) = _record(
        event, user, Reading(measurement_type="time", unit="MIN", value=Decimal("0.25"))
    )

    assert measurement.within_limits is True


def test_a_reading_in_a_unit_of_another_kind_is_refused_and_nothing_is_written(
    user, chilled, storage
):
    event = _shipment(user, LotFactory(product=chilled))
    with pytest.raises(ValidationError) as refused:
        _record(
            event,
            user,
            _celsius("4"),
            Reading(measurement_type="temperature", unit="SEC", value=Decimal("4")),
        )

    assert refused.value.messages == [
        conditions.CONDITIONS_UNIT_MISMATCH
        % {"number": 2, "type": "temperature", "units": "°C, °F, K", "unit": "s"}
    ]
    assert not Measurement.objects.exists()


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        (
            Reading(measurement_type="colour", unit="CEL", value=Decimal(1)),
            conditions.CONDITIONS_UNKNOWN_TYPE % {"number": 1, "type": "colour"},
        ),
        (
            Reading(measurement_type="temperature", unit="XYZ", value=Decimal(1)),
            conditions.CONDITIONS_UNKNOWN_UNIT
            % {
                "number": 1,
                "unit": "XYZ",
                "units": "CEL, FAH, KEL, SEC, MIN, HUR, C62, KPA, BAR, PAL, MBR, P1, A93",
            },
        ),
        (
            Reading(measurement_type="temperature", unit="CEL"),
            conditions.CONDITIONS_NO_VALUE % {"number": 1},
        ),
        (
            Reading(measurement_type="temperature", unit="CEL", value="warm"),
            conditions.CONDITIONS_NOT_NUMBER % {"number": 1, "field": "value", "value": "warm"},
        ),
        (
            Reading(measurement_type="ph", unit="C62", min_value=Decimal(5), max_value=Decimal(4)),
            conditions.CONDITIONS_MIN_ABOVE_MAX % {"number": 1},
        ),
        (
            Reading(
                measurement_type="temperature",
                unit="CEL",
                value=Decimal(4),
                measured_at=timezone.now() + timedelta(hours=1),
            ),
            conditions.CONDITIONS_FUTURE % {"number": 1},
        ),
    ],
)
def test_bad_readings_are_refused_with_a_sentence(user, reading, message):
    event = _shipment(user, LotFactory())
    with pytest.raises(ValidationError) as refused:
        _record(event, user, reading)

    assert refused.value.messages == [message]
    assert not Measurement.objects.exists()


def test_recording_nothing_is_refused(user):
    with pytest.raises(ValidationError) as refused:
        _record(_shipment(user, LotFactory()), user)

    assert refused.value.messages == [conditions.CONDITIONS_NO_READINGS]


# --- History ----------------------------------------------------------------------------------


def test_a_reading_keeps_the_limits_in_force_when_it_was_recorded(user, chilled, storage):
    lot = LotFactory(product=chilled)
    (measurement,) = _record(_shipment(user, lot), user, _celsius("9"))
    storage.upper = Decimal(10)
    storage.save()

    measurement.refresh_from_db()
    assert measurement.limits == [
        {
            "id": storage.pk,
            "product": chilled.pk,
            "sku": "CHILLED-1",
            "name": "cold storage",
            "lower": "2.0000",
            "upper": "8.0000",
            "unit": "CEL",
            "within": False,
        }
    ]
    assert measurement.within_limits is False


def test_a_reading_cannot_be_changed_or_deleted(user):
    (measurement,) = _record(_shipment(user, LotFactory()), user, _celsius("4"))
    measurement.value = Decimal(5)

    with pytest.raises(ImmutableRecordError):
        measurement.save()
    with pytest.raises(ImmutableRecordError):
        measurement.delete()


def test_a_limit_needs_an_edge_in_order_and_a_unit_of_its_kind(chilled):
    limit = ConditionLimit(
        product=chilled, name="odd", measurement_type="temperature", unit="SEC", lower=5, upper=1
    )
    with pytest.raises(ValidationError) as refused:
        limit.full_clean()

    assert set(refused.value.messages) == {
        "The lower limit cannot be above the upper limit.",
        "The unit does not measure this kind of condition.",
    }
    with pytest.raises(ValidationError) as refused:
        ConditionLimit(product=chilled, name="none", measurement_type="ph", unit="C62").full_clean()
    assert refused.value.messages == ["Give a lower limit, an upper limit or both."]


def test_a_limit_names_only_known_event_types(chilled):
    limit = ConditionLimit(
        product=chilled,
        name="x",
        measurement_type="temperature",
        unit="CEL",
        upper=8,
        event_types=["ship", "fly"],
    )
    with pytest.raises(ValidationError) as refused:
        limit.full_clean()

    assert refused.value.message_dict == {"event_types": ["Unknown event types: fly."]}


def test_a_lot_unit_on_the_shipment_and_units_in_stock_go_on_hold(user):
    product = SerialProductFactory()
    ConditionLimit.objects.create(
        product=product,
        name="transport",
        measurement_type="temperature",
        unit="CEL",
        upper=40,
        hold_on_excursion=True,
    )
    unit = SerialUnitFactory(product=product)
    event = services.event_record(
        event_type=TraceEvent.Type.TRANSFER, acting_user=user, subjects=[Line(unit)]
    )
    _record(event, user, _celsius("41"))

    unit.refresh_from_db()
    assert unit.status == SerialUnit.Status.ON_HOLD
