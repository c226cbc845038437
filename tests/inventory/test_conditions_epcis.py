"""EPCIS sensor data as process-condition readings: import, excursions, bad data, export."""

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import jsonschema
import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from inventory import conditions
from inventory.conditions import Reading
from inventory.epcis.exporter import epcis_export
from inventory.epcis.importer import epcis_import
from inventory.epcis.parse import lot_epc
from inventory.models import (
    ConditionLimit,
    Deviation,
    Lot,
    Measurement,
    Product,
    TraceEvent,
)
from inventory.services import Line, event_record

from .factories import LotFactory, ProductFactory, UserFactory
from .test_epcis import CONTEXT, EPCIS_DIR, KNOWN_GTIN, SCHEMA

pytestmark = pytest.mark.django_db

FULL_OBJECT_EVENT = (
    EPCIS_DIR / "examples" / "WithFullCombinationOfFields_object_event_all_possible_fields.jsonld"
)
SENSOR_EXAMPLES = [
    EPCIS_DIR / "examples" / f"WithFullCombinationOfFields_{kind}_event_all_possible_fields.jsonld"
    for kind in ("object", "aggregation", "transformation")
]


def _shipment_document(*lot_codes, reports=None):
    report = {"type": "Temperature", "minValue": 3.5, "maxValue": 9.1, "uom": "CEL"}
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T12:00:00.000Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-03-01T10:00:00.000+00:00",
                    "eventTimeZoneOffset": "+00:00",
                    "eventID": "urn:uuid:4d1f6f3e-7e0a-4f3a-9b52-0c1d2e3f4a5b",
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "epcList": [],
                    "quantityList": [
                        {"epcClass": lot_epc(KNOWN_GTIN, code), "quantity": 5, "uom": "KGM"}
                        for code in lot_codes
                    ],
                    "sensorElementList": [
                        {
                            "sensorMetadata": {"deviceID": "urn:epc:id:giai:4000001.111"},
                            "sensorReport": reports if reports is not None else [report],
                        }
                    ],
                }
            ]
        },
    }


@pytest.fixture
def chilled():
    product = ProductFactory(sku="CREAM", gtin=KNOWN_GTIN, unit="KGM")
    ConditionLimit.objects.create(
        product=product,
        name="cold chain",
        measurement_type="temperature",
        unit="CEL",
        lower=Decimal(2),
        upper=Decimal(8),
    )
    return product


@pytest.mark.parametrize("path", SENSOR_EXAMPLES, ids=lambda p: p.stem)
def test_gs1_examples_with_sensor_data_store_their_temperature_readings(path):
    epcis_import(document=json.loads(path.read_text()), acting_user=None)

    measurement = Measurement.objects.get()
    assert measurement.measurement_type == "temperature"
    assert (measurement.value, measurement.min_value, measurement.max_value) == (
        Decimal(26),
        Decimal(26),
        Decimal("26.2"),
    )
    assert (measurement.mean_value, measurement.unit) == (Decimal("13.2"), "CEL")
    assert measurement.device_id == "urn:epc:id:giai:4000001.111"
    assert measurement.measured_at == datetime(2019, 7, 19, 13, tzinfo=UTC)
    assert measurement.source == Measurement.Source.EPCIS
    assert measurement.within_limits is None  # the example's products have no limits


def test_an_imported_excursion_raises_a_deviation_on_every_lot_of_the_event(chilled):
    result = epcis_import(document=_shipment_document("L1", "L2", "L3"), acting_user=None)

    assert result.imported == 1
    measurement = Measurement.objects.get()
    assert (measurement.min_value, measurement.max_value) == (Decimal("3.5"), Decimal("9.1"))
    assert measurement.within_limits is False
    flagged = Lot.objects.filter(item__deviations__measurement=measurement)
    assert sorted(flagged.values_list("code", flat=True)) == ["L1", "L2", "L3"]
    assert set(Deviation.objects.values_list("kind", flat=True)) == {"excursion"}


def test_an_imported_reading_within_limits_raises_nothing(chilled):
    report = {"type": "gs1:MT-Temperature", "value": 8, "uom": "CEL"}
    epcis_import(document=_shipment_document("L1", reports=[report]), acting_user=None)

    assert Measurement.objects.get().within_limits is True
    assert not Deviation.objects.exists()


def test_importing_the_same_document_twice_records_its_readings_once(chilled):
    document = _shipment_document("L1")
    epcis_import(document=document, acting_user=None)
    epcis_import(document=copy.deepcopy(document), acting_user=None)

    assert Measurement.objects.count() == 1
    assert Deviation.objects.count() == 1


def test_readings_of_kinds_we_do_not_judge_stay_in_the_event_only(chilled):
    reports = [
        {"type": "Illuminance", "value": 300, "uom": "LUX"},
        {"type": "Temperature", "booleanValue": True},
    ]
    epcis_import(document=_shipment_document("L1", reports=reports), acting_user=None)

    assert not Measurement.objects.exists()
    event = TraceEvent.objects.get()
    assert event.extra["sensorElementList"][0]["sensorReport"] == reports


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (
            {"type": "Temperature", "value": "warm", "uom": "CEL"},
            "event 0, sensorElementList[0].sensorReport[0].value: 'warm' is not a number",
        ),
        (
            {"type": "Temperature", "maxValue": True, "uom": "CEL"},
            "event 0, sensorElementList[0].sensorReport[0].maxValue: True is not a number",
        ),
        (
            {"type": "Temperature", "value": 4, "uom": "XYZ"},
            "event 0, sensorElementList[0].sensorReport[0].uom: 'XYZ' is not a unit of "
            "Temperature we record (CEL, FAH, KEL)",
        ),
        (
            {"type": "Temperature", "value": 4},
            "event 0, sensorElementList[0].sensorReport[0].uom: None is not a unit of "
            "Temperature we record (CEL, FAH, KEL)",
        ),
        (
            {"type": "Temperature", "minValue": 9, "maxValue": 4, "uom": "CEL"},
            "event 0, sensorElementList[0].sensorReport[0]: the minimum is above the maximum.",
        ),
        (
            {"type": "Temperature", "value": 4, "uom": "CEL", "time": "yesterday"},
            "event 0, sensorElementList[0].sensorReport[0].time: 'yesterday' is not a date and "
            "time with its offset",
        ),
    ],
)
def test_bad_sensor_data_refuses_the_whole_document_naming_event_and_field(
    chilled, report, message
):
    with pytest.raises(ValidationError) as refused:
        epcis_import(document=_shipment_document("L1", reports=[report]), acting_user=None)

    assert refused.value.messages == [message]
    assert not TraceEvent.objects.exists()
    assert not Lot.objects.exists()
    assert not Measurement.objects.exists()


def test_a_reading_entered_by_hand_exports_as_valid_sensor_data_and_imports_again():
    user = UserFactory()
    with transaction.atomic():
        product = ProductFactory(sku="CREAM", gtin=KNOWN_GTIN, unit="KGM")
        lot = LotFactory(product=product, code="L1", unit="KGM")
        event = event_record(
            event_type=TraceEvent.Type.SHIP,
            acting_user=user,
            subjects=[Line(lot, Decimal(5))],
        )
        conditions.measurements_record(
            event=event,
            readings=[
                Reading(
                    measurement_type="temperature",
                    unit="CEL",
                    value=Decimal("4.5"),
                    device_id="LOGGER-7",
                ),
                Reading(measurement_type="ph", unit="C62", value=Decimal("4.2")),
            ],
            acting_user=user,
        )
        document = json.loads(json.dumps(epcis_export()))
        transaction.set_rollback(True)
    assert not Product.objects.exists()
    jsonschema.validate(document, SCHEMA)
    (exported,) = document["epcisBody"]["eventList"]
    reports = [element["sensorReport"][0] for element in exported["sensorElementList"]]
    assert reports == [
        {"type": "Temperature", "value": 4.5, "uom": "CEL", "tracewell:device": "LOGGER-7"},
        {"type": "urn:tracewell:mt:pH", "value": 4.2, "uom": "C62"},
    ]

    epcis_import(document=document, acting_user=None)

    readings = Measurement.objects.order_by("pk")
    assert [(m.measurement_type, m.value, m.unit, m.device_id) for m in readings] == [
        ("temperature", Decimal("4.5"), "CEL", "LOGGER-7"),
        ("ph", Decimal("4.2"), "C62", ""),
    ]
    assert {m.source for m in readings} == {Measurement.Source.EPCIS}
    # Exported again, the readings come once: from the kept sensor data, not also the rows.
    again = epcis_export()["epcisBody"]["eventList"][0]
    assert len(again["sensorElementList"]) == 2
    jsonschema.validate(json.loads(json.dumps(epcis_export())), SCHEMA)


def test_an_imported_example_with_sensor_data_exports_it_once():
    epcis_import(document=json.loads(FULL_OBJECT_EVENT.read_text()), acting_user=None)

    document = json.loads(json.dumps(epcis_export()))

    jsonschema.validate(document, SCHEMA)
    original = json.loads(FULL_OBJECT_EVENT.read_text())["epcisBody"]["eventList"][0]
    (exported,) = document["epcisBody"]["eventList"]
    assert exported["sensorElementList"] == original["sensorElementList"]


def _warm_shipments(count: int) -> dict:
    """A document of shipments of two lots each, every one with a logger report above 8 °C."""
    document = _shipment_document("L0")
    (template,) = document["epcisBody"]["eventList"]
    events = []
    for number in range(count):
        event = copy.deepcopy(template)
        event["eventID"] = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"
        event["quantityList"] = [
            {"epcClass": lot_epc(KNOWN_GTIN, f"W{number}-{n}"), "quantity": 5, "uom": "KGM"}
            for n in range(2)
        ]
        events.append(event)
    document["epcisBody"]["eventList"] = events
    return document


def test_importing_many_warm_shipments_costs_the_same_queries_as_a_few(
    chilled, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few, transaction.atomic():
        epcis_import(document=_warm_shipments(3), acting_user=None)
        transaction.set_rollback(True)

    with django_assert_max_num_queries(len(few.captured_queries)):
        epcis_import(document=_warm_shipments(40), acting_user=None)

    assert Measurement.objects.count() == 40
    assert Deviation.objects.count() == 80
