"""EPCIS 2.0: identifiers, import (atomic, idempotent), export (schema-valid), round trip."""

import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from biip.checksums import gs1_standard_check_digit
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from inventory.epcis import importer
from inventory.epcis.exporter import epcis_export
from inventory.epcis.importer import epcis_import
from inventory.epcis.parse import (
    EpcError,
    Kind,
    location_epc,
    lot_epc,
    parse_epc,
    party_epc,
    private_lot_epc,
    private_party_epc,
    private_serial_epc,
    private_site_epc,
    serial_epc,
)
from inventory.models import (
    EventLine,
    Genealogy,
    Lot,
    Party,
    Product,
    SerialUnit,
    Site,
    TraceEvent,
)
from inventory.services import (
    Line,
    lot_create,
    serial_unit_create,
    serial_unit_install,
    shipment_create,
)
from inventory.trace import Direction, trace

from .factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SiteFactory,
    UserFactory,
)

EPCIS_DIR = Path("/work/shared/epcis")
EXAMPLES = sorted((EPCIS_DIR / "examples").glob("*.jsonld"))
SCHEMA = json.loads((EPCIS_DIR / "EPCIS-JSON-Schema.json").read_text())
IMPORTED_TYPES = {"ObjectEvent", "AggregationEvent", "TransformationEvent"}
UNSUPPORTED = (
    "event {index}, type: {type} is not supported (we import ObjectEvent, AggregationEvent and "
    "TransformationEvent)"
)
NOT_VALID = "event {index}, {field}: {text} is not a valid {what}"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _check(body: str) -> str:
    return body + str(gs1_standard_check_digit(body))


# Company prefix 0614141 is in biip's GS1 prefix data; 200… (restricted circulation) is not.
KNOWN_GTIN = _check("1061414107346")  # urn:epc:id:sgtin:0614141.107346.…
UNKNOWN_GTIN = _check("0200000000001")
MILL_GLN = _check("061414100001")
SHOP_GLN = _check("401234500001")
PLANT_GLN = _check("541234500001")


def _events(path: Path) -> list[dict]:
    document = json.loads(path.read_text())
    body = document["epcisBody"]
    if document["type"] == "EPCISQueryDocument":
        body = body["queryResults"]["resultsBody"]
    return body["eventList"]


def _document(*events, header=None) -> dict:
    document = {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }
    if header:
        document["epcisHeader"] = header
    return document


def _object_event(event_id="urn:uuid:00000000-0000-4000-8000-000000000001", **fields) -> dict:
    event = {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": "2026-03-01T08:00:00.000-06:00",
        "eventTimeZoneOffset": "-06:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
    }
    event.update(fields)
    return event


def _validate(document: dict) -> None:
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())


# --- Identifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "gtin", "gln", "code"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", Kind.SERIAL, KNOWN_GTIN, None, "2017"),
        ("urn:epc:id:sgtin:0614141.107346.A%2FB", Kind.SERIAL, KNOWN_GTIN, None, "A/B"),
        ("urn:epc:class:lgtin:0614141.107346.L-1", Kind.LOT, KNOWN_GTIN, None, "L-1"),
        ("urn:epc:id:sgln:0614141.00001.0", Kind.LOCATION, None, MILL_GLN, None),
        ("urn:epc:id:pgln:0614141.00001", Kind.PARTY, None, MILL_GLN, None),
        (f"https://id.gs1.org/01/{KNOWN_GTIN}/21/2017", Kind.SERIAL, KNOWN_GTIN, None, "2017"),
        (f"https://example.com/p/01/{KNOWN_GTIN}/10/L%2F1", Kind.LOT, KNOWN_GTIN, None, "L/1"),
        (f"https://id.gs1.org/414/{MILL_GLN}", Kind.LOCATION, None, MILL_GLN, None),
        (f"https://id.gs1.org/417/{MILL_GLN}", Kind.PARTY, None, MILL_GLN, None),
        ("urn:epc:id:sscc:0614141.1234567890", Kind.OTHER, None, None, None),
        ("urn:epc:id:grai:0614141.12345.400", Kind.OTHER, None, None, None),
        ("urn:epc:idpat:sgtin:4012345.098765.*", Kind.OTHER, None, None, None),
        ("https://id.gs1.org/00/106141412345678908", Kind.OTHER, None, None, None),
    ],
)
def test_parse_epc_converts_to_gtin_and_gln_with_check_digit(text, kind, gtin, gln, code):
    epc = parse_epc(text)
    assert (epc.kind, epc.gtin, epc.gln, epc.code) == (kind, gtin, gln, code)


def test_parse_epc_keeps_an_sgln_extension():
    assert parse_epc("urn:epc:id:sgln:0614141.00001.400").extension == "400"
    assert parse_epc("urn:epc:id:sgln:0614141.00001.0").extension is None


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("urn:epc:id:sgtin:0614141.10734.2017", "SGTIN"),
        ("urn:epc:id:sgtin:0614141.107346", "SGTIN"),
        ("urn:epc:class:lgtin:0614141.107346.THIS-LOT-CODE-IS-TOO-LONG", "LGTIN"),
        ("urn:epc:id:sgln:0614141.0001.0", "SGLN"),
        (f"https://id.gs1.org/01/{KNOWN_GTIN[:-1]}0/21/1", "SGTIN"),
        ("https://id.gs1.org/414/0614141000010", "SGLN"),
    ],
)
def test_parse_epc_names_a_malformed_identifier(text, what):
    with pytest.raises(EpcError) as excinfo:
        parse_epc(text)
    assert str(excinfo.value) == f"{text} is not a valid {what}"


def test_formatting_uses_urns_when_the_company_prefix_is_known():
    assert serial_epc(KNOWN_GTIN, "A/1") == "urn:epc:id:sgtin:0614141.107346.A%2F1"
    assert lot_epc(KNOWN_GTIN, "L1") == "urn:epc:class:lgtin:0614141.107346.L1"
    assert location_epc(MILL_GLN) == "urn:epc:id:sgln:0614141.00001.0"
    assert party_epc(MILL_GLN) == "urn:epc:id:pgln:0614141.00001"


def test_formatting_falls_back_to_digital_link_without_a_known_prefix():
    assert serial_epc(UNKNOWN_GTIN, "S 1") == f"https://id.gs1.org/01/{UNKNOWN_GTIN}/21/S%201"
    assert lot_epc(UNKNOWN_GTIN, "L1") == f"https://id.gs1.org/01/{UNKNOWN_GTIN}/10/L1"
    gln = _check("200000000001")
    assert location_epc(gln) == f"https://id.gs1.org/414/{gln}"
    assert party_epc(gln) == f"https://id.gs1.org/417/{gln}"


@pytest.mark.parametrize("gtin", [KNOWN_GTIN, UNKNOWN_GTIN])
def test_formatted_identifiers_parse_back(gtin):
    assert parse_epc(serial_epc(gtin, "S/1")).gtin == gtin
    assert parse_epc(serial_epc(gtin, "S/1")).code == "S/1"
    assert parse_epc(lot_epc(gtin, "L%1")).code == "L%1"


# --- Import: GS1's examples -------------------------------------------------------------------


def _example_id(path: Path) -> str:
    return path.stem


IMPORTABLE = [p for p in EXAMPLES if {e["type"] for e in _events(p)} & IMPORTED_TYPES]
NOT_IMPORTABLE = [p for p in EXAMPLES if p not in IMPORTABLE]


@pytest.mark.django_db
@pytest.mark.parametrize("path", IMPORTABLE, ids=_example_id)
def test_every_gs1_example_with_object_aggregation_or_transformation_events_imports(path):
    result = epcis_import(document=json.loads(path.read_text()), acting_user=None)

    assert result.imported == len(_events(path))
    assert result.duplicates == 0
    assert TraceEvent.objects.count() == result.imported


@pytest.mark.django_db
@pytest.mark.parametrize("path", NOT_IMPORTABLE, ids=_example_id)
def test_gs1_examples_of_association_and_transaction_events_are_refused_clearly(path):
    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=json.loads(path.read_text()), acting_user=None)

    assert excinfo.value.messages == [
        UNSUPPORTED.format(index=index, type=event["type"])
        for index, event in enumerate(_events(path))
    ]
    assert not TraceEvent.objects.exists()


def test_the_examples_cover_every_event_type_we_import():
    types = {event["type"] for path in IMPORTABLE for event in _events(path)}
    assert types >= IMPORTED_TYPES
    assert len(IMPORTABLE) >= 15


@pytest.mark.django_db
def test_gs1_transformation_example_becomes_genealogy_from_every_input_to_every_output():
    path = EPCIS_DIR / "examples" / "Example_9.6.4-TransformationEvent.jsonld"
    epcis_import(document=json.loads(path.read_text()), acting_user=None)

    # Inputs: 2 SGTINs + 2 LGTINs (the sgtin pattern is kept, not modelled); outputs: 4 SGTINs.
    assert Genealogy.objects.filter(kind=Genealogy.Kind.TRANSFORMATION).count() == 4 * 4
    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.TRANSFORM
    assert event.extra["epcis"]["kept"] == {
        "inputQuantityList": [{"epcClass": "urn:epc:idpat:sgtin:4012345.066666.*", "quantity": 220}]
    }
    flour = Lot.objects.get(code="4444")
    link = Genealogy.objects.filter(parent=flour.item).first()
    assert (link.quantity, link.unit) == (Decimal("10.000"), "KGM")


@pytest.mark.django_db
def test_gs1_aggregation_example_keeps_the_sscc_parent():
    path = EPCIS_DIR / "examples" / "Example_9.6.3-AggregationEvent.jsonld"
    epcis_import(document=json.loads(path.read_text()), acting_user=None)

    event = TraceEvent.objects.get()
    assert event.extra["parentID"] == "urn:epc:id:sscc:0614141.1234567890"
    assert event.lines.filter(role=EventLine.Role.CHILD).count() == 3  # 2 SGTINs + 1 LGTIN


# --- Import: what is stored -------------------------------------------------------------------


@pytest.mark.django_db
def test_an_integer_beyond_64_bits_in_a_kept_field_is_kept_exactly():
    epcis_import(
        document=_document(_object_event(**{"example:count": 2**70 + 1})), acting_user=None
    )

    assert TraceEvent.objects.get().extra["example:count"] == 2**70 + 1


@pytest.mark.django_db
def test_a_null_in_a_kept_field_is_kept():
    epcis_import(
        document=_document(_object_event(**{"example:seal": None, "example:note": "null"})),
        acting_user=None,
    )

    extra = TraceEvent.objects.get().extra
    assert (extra["example:seal"], extra["example:note"]) == (None, "null")


MASTER_DATA = {
    "epcisMasterData": {
        "vocabularyList": [
            {
                "type": "urn:epcglobal:epcis:vtype:EPCClass",
                "vocabularyElementList": [
                    {
                        "id": "urn:epc:idpat:sgtin:0614141.107346.*",
                        "attributes": [
                            {"id": "urn:epcglobal:cbv:mda#descriptionShort", "attribute": "Flour"}
                        ],
                    }
                ],
            },
            {
                "type": "urn:epcglobal:epcis:vtype:Location",
                "vocabularyElementList": [
                    {
                        "id": "urn:epc:id:sgln:0614141.00001.0",
                        "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Mill"}],
                    }
                ],
            },
        ]
    }
}


@pytest.mark.django_db
def test_commissioning_creates_a_lot_with_quantity_expiry_and_a_product_to_review():
    event = _object_event(
        action="ADD",
        bizStep="urn:epcglobal:cbv:bizstep:commissioning",
        disposition="https://ref.gs1.org/cbv/Disp-active",
        epcList=["urn:epc:id:sscc:0614141.1234567890"],
        quantityList=[
            {"epcClass": "urn:epc:class:lgtin:0614141.107346.F-1", "quantity": 500, "uom": "KGM"}
        ],
        bizLocation={"id": "urn:epc:id:sgln:0614141.00001.0"},
        ilmd={"cbvmda:itemExpirationDate": "2026-09-01"},
    )
    epcis_import(document=_document(event, header=MASTER_DATA), acting_user=None)

    lot = Lot.objects.select_related("product", "site").get()
    assert (lot.code, lot.quantity, lot.unit) == ("F-1", Decimal("500.000"), "KGM")
    assert (lot.produced_on, lot.expires_on) == (date(2026, 3, 1), date(2026, 9, 1))
    assert (lot.product.sku, lot.product.gtin, lot.product.name) == (
        KNOWN_GTIN,
        KNOWN_GTIN,
        "Flour",
    )
    assert lot.product.needs_review
    assert (lot.site.gln, lot.site.name) == (MILL_GLN, "Mill")
    recorded = TraceEvent.objects.get()
    assert (recorded.event_type, recorded.biz_step, recorded.disposition) == (
        TraceEvent.Type.PRODUCE,
        "commissioning",
        "active",
    )
    assert recorded.extra["epcis"]["kept"] == {"epcList": ["urn:epc:id:sscc:0614141.1234567890"]}


@pytest.mark.django_db
def test_shipping_event_records_time_parties_sites_and_document():
    event = _object_event(
        bizTransactionList=[{"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:1:42"}],
        readPoint={"id": "urn:epc:id:sgln:0614141.00001.7"},
        sourceList=[
            {"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"},
            {"type": "location", "source": "urn:epc:id:sgln:0614141.00001.0"},
        ],
        destinationList=[
            {
                "type": "urn:epcglobal:cbv:sdt:owning_party",
                "destination": f"https://id.gs1.org/417/{SHOP_GLN}",
            },
            {"type": "possessing_party", "destination": "urn:epc:id:pgln:0614141.00002"},
        ],
    )
    epcis_import(document=_document(event), acting_user=None)

    recorded = TraceEvent.objects.select_related("site", "source_party", "destination_party").get()
    assert recorded.event_id == "urn:uuid:00000000-0000-4000-8000-000000000001"
    assert recorded.event_type == TraceEvent.Type.SHIP
    assert recorded.occurred_at == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert recorded.time_zone_offset == "-06:00"
    assert (recorded.document_type, recorded.document_number) == (
        "desadv",
        "urn:epcglobal:cbv:bt:1:42",
    )
    assert recorded.site.gln == MILL_GLN  # from the readPoint, without a bizLocation
    assert recorded.source_party.gln == MILL_GLN
    assert recorded.source_site.gln == MILL_GLN
    assert recorded.destination_party.gln == SHOP_GLN
    assert recorded.destination_party.needs_review
    assert recorded.extra["readPoint"] == {"id": "urn:epc:id:sgln:0614141.00001.7"}
    unit = SerialUnit.objects.select_related("product").get()
    assert (unit.product.gtin, unit.serial, unit.product.tracking) == (
        KNOWN_GTIN,
        "2017",
        Product.Tracking.SERIAL,
    )
    assert recorded.lines.get().item_id == unit.pk


@pytest.mark.django_db
def test_aggregation_add_installs_children_and_delete_removes_them():
    parent, child = "urn:epc:id:sgtin:0614141.107346.P1", "urn:epc:id:sgtin:0614141.107346.C1"
    add = {
        "type": "AggregationEvent",
        "eventID": "urn:uuid:00000000-0000-4000-8000-0000000000a1",
        "eventTime": "2026-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "ADD",
        "bizStep": "installing",
        "parentID": parent,
        "childEPCs": [child],
    }
    epcis_import(document=_document(add), acting_user=None)
    component = SerialUnit.objects.get(serial="C1")
    assembly = SerialUnit.objects.get(serial="P1")
    assert component.installed_in == assembly
    assert Genealogy.objects.filter(
        parent=component.item, child=assembly.item, kind=Genealogy.Kind.INSTALLATION
    ).exists()

    remove = {**add, "eventID": "urn:uuid:00000000-0000-4000-8000-0000000000a2"}
    remove.update(action="DELETE", bizStep="removing", eventTime="2026-03-02T08:00:00Z")
    epcis_import(document=_document(remove), acting_user=None)
    component.refresh_from_db()
    assert component.installed_in is None
    assert TraceEvent.objects.get(event_id=remove["eventID"]).event_type == TraceEvent.Type.REMOVE


@pytest.mark.django_db
def test_aggregation_delete_of_a_child_not_installed_is_refused():
    delete = {
        "type": "AggregationEvent",
        "eventID": "urn:uuid:00000000-0000-4000-8000-0000000000b1",
        "eventTime": "2026-03-01T08:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "DELETE",
        "parentID": "urn:epc:id:sgtin:0614141.107346.P1",
        "childEPCs": ["urn:epc:id:sgtin:0614141.107346.C1"],
    }
    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=_document(delete), acting_user=None)

    assert excinfo.value.messages == [
        f"event 0: {KNOWN_GTIN} serial C1 is not installed in {KNOWN_GTIN} serial P1."
    ]
    assert not SerialUnit.objects.exists()


@pytest.mark.django_db
def test_commissioned_units_are_linked_to_the_lot_named_in_ilmd():
    event = _object_event(
        action="ADD",
        bizStep="commissioning",
        epcList=["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"],
        ilmd={"cbvmda:lotNumber": "PL-9"},
    )
    epcis_import(document=_document(event), acting_user=None)

    lot = Lot.objects.get(code="PL-9")
    assert lot.product.gtin == KNOWN_GTIN
    assert set(lot.serial_units.values_list("serial", flat=True)) == {"2017", "2018"}
    assert (
        Genealogy.objects.filter(parent=lot.item, kind=Genealogy.Kind.PRODUCTION_LOT).count() == 2
    )
    forward = trace(direction=Direction.FORWARD, lots=Lot.objects.filter(pk=lot.pk))
    assert sorted(item.serial for item in forward.items) == ["2017", "2018"]


# --- Import: atomic and idempotent ------------------------------------------------------------


@pytest.mark.django_db
def test_a_document_with_one_bad_event_writes_nothing_and_names_index_and_field():
    bad = "urn:epc:id:sgtin:0614141.10734.2019"
    events = [
        _object_event(f"urn:uuid:00000000-0000-4000-8000-00000000000{n}") for n in range(1, 4)
    ]
    events[2]["epcList"] = ["urn:epc:id:sgtin:0614141.107346.2018", bad]
    events.append(_object_event("urn:uuid:00000000-0000-4000-8000-000000000009", eventTime="soon"))

    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=_document(*events), acting_user=None)

    assert excinfo.value.messages == [
        NOT_VALID.format(index=2, field="epcList[1]", text=bad, what="SGTIN"),
        "event 3, eventTime: 'soon' is not an ISO 8601 date and time",
    ]
    assert not TraceEvent.objects.exists()
    assert not Product.objects.exists()
    assert not SerialUnit.objects.exists()


@pytest.mark.django_db
def test_a_unit_unknown_to_our_units_of_measure_is_refused():
    event = _object_event(
        epcList=[],
        quantityList=[
            {"epcClass": "urn:epc:class:lgtin:0614141.107346.F1", "quantity": 2, "uom": "CEL"}
        ],
    )
    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=_document(event), acting_user=None)

    assert excinfo.value.messages == [
        "event 0, quantityList[0].uom: CEL is not a unit we record "
        "(EA, KGM, GRM, TNE, LTR, MLT, CS, PX)"
    ]


@pytest.mark.django_db
def test_serials_of_a_product_tracked_by_lot_are_refused():
    ProductFactory(sku="FLOUR", gtin=KNOWN_GTIN)
    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=_document(_object_event()), acting_user=None)

    assert excinfo.value.messages == [
        "event 0, epcList[0]: urn:epc:id:sgtin:0614141.107346.2017 names a serial unit of "
        "FLOUR, which is tracked by lot"
    ]


@pytest.mark.django_db
def test_importing_twice_stores_once():
    document = json.loads((EPCIS_DIR / "examples" / "Example_9.6.1-ObjectEvent.jsonld").read_text())
    first = epcis_import(document=document, acting_user=None)
    counts = (TraceEvent.objects.count(), SerialUnit.objects.count(), Site.objects.count())

    second = epcis_import(document=document, acting_user=None)

    assert (first.imported, first.duplicates) == (2, 0)
    assert (second.imported, second.duplicates) == (0, 2)
    assert (TraceEvent.objects.count(), SerialUnit.objects.count(), Site.objects.count()) == counts


@pytest.mark.django_db
def test_events_without_an_event_id_are_recognised_by_their_content_hash():
    event = _object_event()
    del event["eventID"]
    epcis_import(document=_document(event), acting_user=None)
    again = epcis_import(document=_document(event, dict(event)), acting_user=None)

    assert (again.imported, again.duplicates) == (0, 2)
    assert TraceEvent.objects.get().event_id.startswith("ni:///sha-256;")


# --- Export -----------------------------------------------------------------------------------


def _build_graph() -> dict:
    """Flour received from a mill → bread (transformation) shipped to a shop; a pack of cells
    with a controller installed in it. GTINs and GLNs throughout, so EPCIS can name it all."""
    user = UserFactory(username="exporter")
    plant = SiteFactory(party=InternalPartyFactory(name="Bakery"), code="plant", gln=PLANT_GLN)
    mill = PartyFactory(name="Mill Co", gln=MILL_GLN, is_supplier=True, is_customer=False)
    shop = PartyFactory(name="Shop Ltd", gln=SHOP_GLN)
    flour = lot_create(
        product=ProductFactory(sku="FLOUR", gtin=_check("0061414100011")),
        code="F-1",
        quantity=Decimal("500"),
        supplier=mill,
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    bread = lot_create(
        product=ProductFactory(sku="BREAD", gtin=UNKNOWN_GTIN),
        code="B/1",
        quantity=Decimal("200"),
        inputs=[Line(flour, Decimal("100"))],
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=user,
    )
    shipment_create(
        lots=[Line(bread, Decimal("100"))],
        from_site=plant,
        to_party=shop,
        shipped_at=date(2026, 3, 4),
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number="DA-7",
        acting_user=user,
    )
    cells = lot_create(
        product=ProductFactory(sku="CELL", gtin=_check("0061414100028")),
        code="C-7",
        quantity=Decimal("400"),
        supplier=mill,
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    pack_product = SerialProductFactory(sku="PACK", gtin=_check("0061414100035"))
    pack = serial_unit_create(
        product=pack_product,
        serial="P1",
        inputs=[Line(cells, Decimal("4"))],
        site=plant,
        produced_on=date(2026, 3, 5),
        acting_user=user,
    )
    controller = serial_unit_create(
        product=SerialProductFactory(sku="CTRL", gtin=_check("0200000000025")),
        serial="K/9",
        site=plant,
        produced_on=date(2026, 3, 5),
        acting_user=user,
    )
    serial_unit_install(component=controller, assembly=pack, acting_user=user)
    batch = lot_create(
        product=pack_product,
        code="PL-1",
        quantity=Decimal("2"),
        site=plant,
        produced_on=date(2026, 3, 6),
        acting_user=user,
    )
    serial_unit_create(
        product=pack_product,
        serial="P2",
        lot=batch,
        site=plant,
        produced_on=date(2026, 3, 6),
        acting_user=user,
    )
    return {"flour": flour, "bread": bread, "cells": cells, "pack": pack, "controller": controller}


@pytest.fixture
def graph(db):
    return _build_graph()


def test_export_validates_against_the_epcis_schema(graph):
    document = epcis_export()

    _validate(document)
    assert document["@context"] == [CONTEXT, {"tracewell": "urn:tracewell:epcis:"}]
    assert document["type"] == "EPCISDocument"
    types = [event["type"] for event in document["epcisBody"]["eventList"]]
    assert types.count("TransformationEvent") == 2
    assert types.count("AggregationEvent") == 1
    assert len(types) == TraceEvent.objects.count()


def test_export_names_lots_and_units_with_urns_or_digital_links(graph):
    events = epcis_export()["epcisBody"]["eventList"]
    shipment = next(event for event in events if event.get("bizStep") == "shipping")
    install = next(event for event in events if event["type"] == "AggregationEvent")

    assert shipment["quantityList"] == [
        {
            "epcClass": f"https://id.gs1.org/01/{UNKNOWN_GTIN}/10/B%2F1",
            "quantity": 100.0,
            "uom": "KGM",
        }
    ]
    assert shipment["destinationList"] == [
        {"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00001"}
    ]
    assert shipment["bizTransactionList"] == [{"type": "desadv", "bizTransaction": "DA-7"}]
    assert install["parentID"].startswith("urn:epc:id:sgtin:0614141.")
    assert install["childEPCs"] == [f"https://id.gs1.org/01/{_check('0200000000025')}/21/K%2F9"]


def test_export_of_items_keeps_only_the_events_naming_them(graph):
    document = epcis_export(lots=[graph["flour"]])

    _validate(document)
    steps = [event.get("bizStep") for event in document["epcisBody"]["eventList"]]
    assert steps == ["receiving", "urn:tracewell:bizstep:transforming"]


@pytest.mark.django_db
def test_imported_gs1_examples_export_valid_documents():
    for path in IMPORTABLE:
        epcis_import(document=json.loads(path.read_text()), acting_user=None)

    document = epcis_export()

    _validate(document)
    assert len(document["epcisBody"]["eventList"]) == TraceEvent.objects.count()


@pytest.mark.django_db
def test_export_since_a_date_leaves_out_earlier_events(graph):
    document = epcis_export(since=date(2026, 3, 4))

    times = [event["eventTime"][:10] for event in document["epcisBody"]["eventList"]]
    assert times and min(times) >= "2026-03-04"


# --- Private identifiers and master data ------------------------------------------------------


def test_private_identifiers_name_what_has_no_gtin_or_gln_and_parse_back():
    lot = parse_epc(private_lot_epc("DOUGH:01", "D/7"))
    unit = parse_epc(private_serial_epc("KIT 2", "S-1"))
    site = parse_epc(private_site_epc("back yard"))
    party = parse_epc(private_party_epc("Müller & Söhne"))

    assert private_lot_epc("DOUGH:01", "D/7") == "urn:tracewell:lot:DOUGH%3A01:D%2F7"
    assert (lot.kind, lot.sku, lot.code, lot.gtin) == (Kind.LOT, "DOUGH:01", "D/7", None)
    assert (unit.kind, unit.sku, unit.code) == (Kind.SERIAL, "KIT 2", "S-1")
    assert (site.kind, site.name, site.place_key) == (
        Kind.LOCATION,
        "back yard",
        ("private", "back yard"),
    )
    assert (party.kind, party.name) == (Kind.PARTY, "Müller & Söhne")


@pytest.mark.parametrize(
    "text",
    ["urn:tracewell:lot:DOUGH", "urn:tracewell:lot::D1", "urn:tracewell:serial:KIT:" + "9" * 21],
)
def test_a_malformed_private_identifier_is_named(text):
    with pytest.raises(EpcError, match="is not a valid private"):
        parse_epc(text)


def _private_graph():
    """Flour (with a GTIN) into dough (no GTIN) at a site and to a party without GLNs."""
    user = UserFactory(username="exporter")
    owner = InternalPartyFactory(name="Bakery", gln=None)
    kitchen = SiteFactory(party=owner, code="kitchen-1", gln=None, name="Kitchen", country="IE")
    flour = lot_create(
        product=ProductFactory(sku="FLOUR", gtin=_check("0061414100011")),
        code="F-1",
        quantity=Decimal("50"),
        supplier=PartyFactory(name="Corner Mill", gln=None, is_supplier=True),
        supplier_lot_code="MILL 0042",
        site=kitchen,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    dough = lot_create(
        product=ProductFactory(sku="DOUGH", gtin=None, name="Dough", shelf_life_days=3),
        code="D/1",
        quantity=Decimal("40"),
        inputs=[Line(flour, Decimal("40"))],
        site=kitchen,
        produced_on=date(2026, 3, 2),
        acting_user=user,
    )
    shipment_create(
        lots=[Line(dough, Decimal("10"))],
        from_site=kitchen,
        to_party=PartyFactory(name="Café Rue", gln=None, email="qa@cafe.example"),
        shipped_at=date(2026, 3, 3),
        acting_user=user,
    )


@pytest.mark.django_db
def test_products_sites_and_parties_without_gs1_identifiers_round_trip():
    lots = [("FLOUR", "F-1")]
    before, document = _export_from_a_rolled_back_database(_private_graph, lots, [])
    _validate(document)
    shipment = next(e for e in document["epcisBody"]["eventList"] if e.get("bizStep") == "shipping")
    assert shipment["quantityList"][0]["epcClass"] == "urn:tracewell:lot:DOUGH:D%2F1"
    assert shipment["destinationList"] == [
        {"type": "owning_party", "destination": "urn:tracewell:party:Caf%C3%A9%20Rue"}
    ]

    epcis_import(document=document, acting_user=None)

    assert _answers(lots, []) == before
    assert [p["name"] for p in before[Direction.FORWARD]["consignees"]] == ["Café Rue"]
    assert [p["name"] for p in before[Direction.BACKWARD]["suppliers"]] == ["Corner Mill"]
    dough = Lot.objects.select_related("product", "site__party").get(code="D/1")
    assert (dough.product.sku, dough.product.name, dough.product.shelf_life_days) == (
        "DOUGH",
        "Dough",
        3,
    )
    assert (dough.site.code, dough.site.name, dough.site.country) == ("kitchen-1", "Kitchen", "IE")
    assert (dough.site.party.name, dough.site.party.is_internal) == ("Bakery", True)
    assert Lot.objects.get(code="F-1").supplier_lot_code == "MILL 0042"
    assert Party.objects.get(name="Café Rue").email == "qa@cafe.example"


@pytest.mark.django_db
def test_a_partners_document_does_not_make_its_company_internal_here():
    InternalPartyFactory(name="Us")
    header = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:Party",
                    "vocabularyElementList": [
                        {
                            "id": "urn:epc:id:pgln:0614141.00001",
                            "attributes": [
                                {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Mill Co"},
                                {"id": "urn:tracewell:mda#roles", "attribute": "internal supplier"},
                            ],
                        }
                    ],
                }
            ]
        }
    }
    event = _object_event(
        bizStep="receiving",
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
    )

    epcis_import(document=_document(event, header=header), acting_user=None)

    mill = Party.objects.get(gln=MILL_GLN)
    assert (mill.name, mill.is_supplier, mill.is_internal) == ("Mill Co", True, False)


@pytest.mark.django_db
def test_bad_master_data_for_a_record_to_create_is_named_and_nothing_is_written():
    site = "urn:tracewell:site:yard"
    header = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [
                        {
                            "id": site,
                            "attributes": [
                                {"id": "urn:epcglobal:cbv:mda#countryCode", "attribute": "ie"}
                            ],
                        }
                    ],
                }
            ]
        }
    }
    event = _object_event(bizLocation={"id": site})

    with pytest.raises(ValidationError) as raised:
        epcis_import(document=_document(event, header=header), acting_user=None)

    assert raised.value.messages == [
        f"epcisHeader, {site}, country: Use the two-letter ISO country code, e.g. US."
    ]
    assert not Site.objects.exists() and not TraceEvent.objects.exists()
    assert not Product.objects.exists() and not Party.objects.exists()


@pytest.mark.django_db
def test_an_error_found_after_a_chunk_was_written_still_writes_nothing(monkeypatch):
    monkeypatch.setattr(importer, "WRITE_CHUNK", 1)  # the first event is written alone
    commissioning = {"action": "ADD", "bizStep": "commissioning", "epcList": []}
    good = _object_event(
        quantityList=[{"epcClass": "urn:epc:class:lgtin:0614141.107346.L1", "quantity": 5}],
        **commissioning,
    )
    bad = _object_event(
        event_id="urn:uuid:00000000-0000-4000-8000-000000000002",
        quantityList=[{"epcClass": "urn:epc:class:lgtin:0614141.107346.L2", "quantity": 5}],
        ilmd={"cbvmda:itemExpirationDate": "2026-01-01"},
        **commissioning,
    )

    with pytest.raises(ValidationError) as raised:
        epcis_import(document=_document(good, bad), acting_user=None)

    assert raised.value.messages == [
        "event 1, quantityList[0]: lot L2 would expire on 2026-01-01, before it was produced "
        "on 2026-03-01"
    ]
    assert not TraceEvent.objects.exists() and not Lot.objects.exists()
    assert not Product.objects.exists()


def _shipments(count: int) -> dict:
    return _document(
        *(
            _object_event(
                event_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
                epcList=[f"urn:epc:id:sgtin:0614141.107346.{n}"],
                quantityList=[
                    {"epcClass": f"urn:epc:class:lgtin:0614141.107346.L{n}", "quantity": 1}
                ],
                bizLocation={"id": "urn:epc:id:sgln:0614141.00001.0"},
                destinationList=[
                    {"type": "owning_party", "destination": f"urn:tracewell:party:Shop%20{n}"}
                ],
            )
            for n in range(count)
        )
    )


@pytest.mark.django_db
def test_an_import_runs_no_query_per_event_only_per_batch_of_rows(
    django_assert_max_num_queries,
):
    with CaptureQueriesContext(connection) as small, transaction.atomic():
        epcis_import(document=_shipments(5), acting_user=None)
        transaction.set_rollback(True)

    # SQLite takes at most 999 parameters per statement, so 60 rows may be 2 inserts.
    with django_assert_max_num_queries(len(small.captured_queries) + 4):
        result = epcis_import(document=_shipments(60), acting_user=None)

    assert result.imported == 60
    assert SerialUnit.objects.count() == 60
    assert Party.objects.count() == 61  # the shops and the unknown owner of the site


# --- Round trip -------------------------------------------------------------------------------


def _answers(lots, units) -> dict:
    """What forward and backward traces from the given lots and units say, whole."""
    answers = {}
    for direction in Direction:
        query = Q()
        for sku, code in lots:
            query |= Q(product__sku=sku, code=code)
        unit_query = Q()
        for sku, serial in units:
            unit_query |= Q(product__sku=sku, serial=serial)
        result = trace(
            direction=direction,
            lots=Lot.objects.filter(query) if lots else None,
            serial_units=SerialUnit.objects.filter(unit_query) if units else None,
        )
        answers[direction] = result.as_dict()
    return answers


def _export_from_a_rolled_back_database(build, lots, units):
    """Build, trace and export inside a savepoint that is then rolled back, which leaves the
    test database as empty as a fresh one."""
    with transaction.atomic():
        build()
        before = _answers(lots, units)
        document = json.loads(json.dumps(epcis_export()))
        transaction.set_rollback(True)
    assert not Lot.objects.exists() and not TraceEvent.objects.exists()
    assert not Party.objects.exists() and not Product.objects.exists()
    return before, document


@pytest.mark.django_db
def test_round_trip_export_then_import_into_an_empty_database_gives_the_same_traces():
    lots, units = [("FLOUR", "F-1"), ("PACK", "PL-1")], [("PACK", "P1")]
    before, document = _export_from_a_rolled_back_database(_build_graph, lots, units)

    result = epcis_import(document=document, acting_user=None)

    assert result.imported == len(document["epcisBody"]["eventList"])
    assert _answers(lots, units) == before
    forward = [item["path"][-1] for item in before[Direction.FORWARD]["items"]]
    assert {"PACK serial P2", "BREAD lot B/1"} <= set(forward)  # production lot, no GTIN
    backward = [item["path"][-1] for item in before[Direction.BACKWARD]["items"]]
    assert "CTRL serial K/9" in backward  # installed
    assert [p["gln"] for p in before[Direction.FORWARD]["consignees"]] == [SHOP_GLN]
    assert [p["gln"] for p in before[Direction.BACKWARD]["suppliers"]] == [MILL_GLN]


@pytest.mark.django_db
def test_round_trip_keeps_master_data_the_traces_and_recall_contacts_need():
    lots, units = [("FLOUR", "F-1")], []
    _, document = _export_from_a_rolled_back_database(_build_graph, lots, units)

    epcis_import(document=document, acting_user=None)

    bread = Lot.objects.get(code="B/1")
    assert bread.product.sku == "BREAD" and bread.product.gtin == UNKNOWN_GTIN
    assert bread.product.needs_review  # created by an import: a person confirms it
    flour = Lot.objects.get(code="F-1")
    assert flour.supplier.gln == MILL_GLN
    assert (flour.produced_on, flour.site.code) == (date(2026, 3, 1), "plant")
    assert Party.objects.get(gln=SHOP_GLN).name == "Shop Ltd"
    assert SerialUnit.objects.get(serial="P2").lot.code == "PL-1"  # ilmd cbvmda:lotNumber


@pytest.mark.django_db
def test_round_trip_of_the_demo_gives_the_same_trace_from_every_lot_and_unit():
    """The demo has products without a GTIN (intermediates) and a diamond, installations,
    production lots, returns and distributors: every trace survives export and import."""
    from inventory.demo import demo_load

    def every_item():
        return (
            list(Lot.objects.values_list("product__sku", "code")),
            list(SerialUnit.objects.values_list("product__sku", "serial")),
        )

    def states():
        """What a restore must keep besides the traces: statuses, holders, event types."""
        return (
            sorted(Lot.objects.values_list("product__sku", "code", "status", "supplier_lot_code")),
            sorted(
                SerialUnit.objects.values_list(
                    "product__sku",
                    "serial",
                    "status",
                    "holder_site__code",
                    "holder_party__name",
                    "shipped_on",
                    "warranty_ends_on",
                )
            ),
            sorted(TraceEvent.objects.values_list("event_type", "fsma_cte", "notes")),
        )

    with transaction.atomic():
        demo_load()
        lots, units = every_item()
        before = {key: _answers([key], []) for key in lots}
        before.update({key: _answers([], [key]) for key in units})
        states_before = states()
        document = json.loads(json.dumps(epcis_export()))
        transaction.set_rollback(True)
    assert not Lot.objects.exists() and not Product.objects.exists()
    assert any(not product.get("gtin") for product in _traced_products(before))

    epcis_import(document=document, acting_user=None)

    assert [sorted(keys) for keys in every_item()] == [sorted(lots), sorted(units)]
    after = {key: _answers([key], []) for key in lots}
    after.update({key: _answers([], [key]) for key in units})
    assert after == before
    after_states = states()
    for index, (now, was) in enumerate(zip(after_states, states_before, strict=True)):
        assert sorted(set(now) - set(was)) == sorted(set(was) - set(now)), index
    assert after_states == states_before


def _traced_products(answers: dict) -> list[dict]:
    return [
        item
        for by_direction in answers.values()
        for result in by_direction.values()
        for item in result["items"]
    ]


# --- Commands ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_command_prints_a_line_per_file(tmp_path):
    path = EPCIS_DIR / "examples" / "Example_9.6.1-ObjectEvent.jsonld"
    out = io.StringIO()

    call_command("import_epcis", str(path), str(path), stdout=out)

    assert out.getvalue().splitlines() == [
        f"{path}: imported 2 events, 0 duplicates",
        f"{path}: imported 0 events, 2 duplicates",
    ]


@pytest.mark.django_db
def test_import_command_exits_2_with_the_errors_of_a_refused_document(tmp_path):
    path = EPCIS_DIR / "examples" / "AssociationEvent_AssociationEvent-a.jsonld"

    with pytest.raises(CommandError) as excinfo:
        call_command("import_epcis", str(path))

    assert excinfo.value.returncode == 2
    assert str(excinfo.value) == (
        f"{path}: refused, nothing imported:\n  "
        + UNSUPPORTED.format(index=0, type="AssociationEvent")
    )


def test_export_command_writes_a_valid_document(graph, tmp_path):
    output = tmp_path / "out.jsonld"
    out = io.StringIO()

    call_command("export_epcis", "--all", "--output", str(output), stdout=out)

    document = json.loads(output.read_text())
    _validate(document)
    assert out.getvalue().strip() == f"Exported {TraceEvent.objects.count()} events to {output}."


def test_export_command_with_an_identifier_exports_the_events_naming_it(graph, tmp_path):
    output = tmp_path / "out.jsonld"

    call_command("export_epcis", "PACK serial P1", "--output", str(output), stdout=io.StringIO())

    events = json.loads(output.read_text())["epcisBody"]["eventList"]
    assert [event["type"] for event in events] == ["TransformationEvent", "AggregationEvent"]


def test_export_command_needs_identifiers_or_all(db, tmp_path):
    with pytest.raises(CommandError) as excinfo:
        call_command("export_epcis", "--output", str(tmp_path / "x.jsonld"))

    assert excinfo.value.returncode == 2
    assert str(excinfo.value) == "Name lots or serial units, or give --all (not both)."


def test_time_offsets_survive_export(db):
    event = _object_event()
    epcis_import(document=_document(event), acting_user=None)

    exported = epcis_export()["epcisBody"]["eventList"][0]

    assert exported["eventTime"] == "2026-03-01T08:00:00.000-06:00"
    assert exported["eventTimeZoneOffset"] == "-06:00"
    assert datetime.fromisoformat(exported["eventTime"]).utcoffset() == timedelta(hours=-6)


@pytest.mark.django_db
def test_records_an_import_creates_have_an_audit_trail_naming_the_user():
    user = UserFactory(username="importer")

    epcis_import(document=_shipments(2), acting_user=user)

    lot = Lot.objects.order_by("code").first()
    entry = lot.history.get()
    assert (entry.history_type, entry.history_user, entry.history_change_reason) == (
        "+",
        user,
        "EPCIS import",
    )
    assert (entry.code, entry.product_id) == (lot.code, lot.product_id)
    assert TraceEvent.objects.filter(recorded_by=user).count() == 2
    assert SerialUnit.objects.get(serial="0").history.get().history_user == user


@pytest.mark.django_db
def test_import_command_names_the_user_for_the_audit_trail(tmp_path):
    user = UserFactory(username="edi")
    path = tmp_path / "events.jsonld"
    path.write_text(json.dumps(_shipments(1)))

    call_command("import_epcis", str(path), "--user", "edi", stdout=io.StringIO())

    assert Lot.objects.get().history.get().history_user == user


@pytest.mark.django_db
def test_import_command_refuses_an_unknown_user(tmp_path):
    path = tmp_path / "events.jsonld"
    path.write_text(json.dumps(_shipments(1)))

    with pytest.raises(CommandError, match=r"There is no active user nobody\."):
        call_command("import_epcis", str(path), "--user", "nobody")
    assert not TraceEvent.objects.exists()


@pytest.mark.django_db
def test_an_events_fsma_204_cte_goes_out_as_an_extension_and_comes_back():
    def build():
        lot_create(
            product=ProductFactory(sku="KALE", gtin=_check("0061414100042")),
            code="K-1",
            quantity=Decimal("40"),
            site=SiteFactory(party=InternalPartyFactory(name="Farm"), code="farm", gln=PLANT_GLN),
            produced_on=date(2026, 3, 1),
            fsma_cte=TraceEvent.Cte.HARVESTING,
            acting_user=UserFactory(username="grower"),
        )

    _, document = _export_from_a_rolled_back_database(build, [("KALE", "K-1")], [])
    _validate(document)
    (event,) = document["epcisBody"]["eventList"]
    assert event["tracewell:fsmaCte"] == "harvesting"
    assert {"tracewell": "urn:tracewell:epcis:"} in document["@context"]

    epcis_import(document=document, acting_user=None)

    recorded = TraceEvent.objects.get()
    assert recorded.fsma_cte == TraceEvent.Cte.HARVESTING
    assert "tracewell:fsmaCte" not in recorded.extra


@pytest.mark.django_db
def test_an_unknown_fsma_cte_is_refused():
    with pytest.raises(ValidationError) as raised:
        epcis_import(
            document=_document(_object_event(**{"tracewell:fsmaCte": "picking"})), acting_user=None
        )

    assert raised.value.messages == [
        "event 0, tracewell:fsmaCte: 'picking' is not one of harvesting, cooling, "
        "initial_packing, first_land_based_receiving, shipping, receiving, transformation, none"
    ]


# --- Review findings ----------------------------------------------------------------------------


def test_a_serial_or_lot_with_dots_is_read_whole():
    assert parse_epc("urn:epc:id:sgtin:0614141.107346.A.B").code == "A.B"
    assert parse_epc("urn:epc:class:lgtin:0614141.107346.L.2026.01").code == "L.2026.01"
    assert parse_epc("urn:epc:id:sgln:0614141.00001.dock.3").extension == "dock.3"


@pytest.mark.django_db
def test_a_lot_received_from_a_partner_keeps_the_partners_code_as_its_supplier_lot_code():
    event = _object_event(
        bizStep="receiving",
        epcList=[],
        quantityList=[{"epcClass": "urn:epc:class:lgtin:0614141.107346.TLC-123", "quantity": 5}],
        sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
    )

    epcis_import(document=_document(event), acting_user=None)

    lot = Lot.objects.get()
    assert (lot.supplier.gln, lot.supplier_lot_code) == (MILL_GLN, "TLC-123")


@pytest.mark.django_db
def test_an_event_time_out_of_range_is_refused_not_a_crash():
    event = _object_event(eventTime="9999-12-31T23:30:00-01:00", eventTimeZoneOffset="-01:00")

    with pytest.raises(ValidationError) as raised:
        epcis_import(document=_document(event), acting_user=None)

    assert raised.value.messages == [
        "event 0, eventTime: 9999-12-31T23:30:00-01:00 is out of range"
    ]


@pytest.mark.django_db
def test_events_out_of_order_are_recorded_as_they_happened():
    commission = _object_event(
        event_id="urn:uuid:00000000-0000-4000-8000-0000000000c1",
        action="ADD",
        bizStep="commissioning",
        eventTime="2026-03-01T08:00:00.000-06:00",
        ilmd={"cbvmda:lotNumber": "L1"},
    )
    ship = _object_event(
        event_id="urn:uuid:00000000-0000-4000-8000-0000000000c2",
        eventTime="2026-03-05T08:00:00.000-06:00",
    )

    epcis_import(document=_document(ship, commission), acting_user=None)

    unit = SerialUnit.objects.select_related("lot").get()
    assert (unit.lot.code, unit.produced_on) == ("L1", date(2026, 3, 1))
    assert Genealogy.objects.filter(kind=Genealogy.Kind.PRODUCTION_LOT).count() == 1


@pytest.mark.django_db
def test_an_import_never_reuses_the_key_of_a_deleted_record():
    gone = PartyFactory(name="Deleted Co", gln=None)
    gone_key = gone.pk
    gone.delete()

    epcis_import(document=_shipments(1), acting_user=None)

    assert gone_key not in set(Party.objects.values_list("pk", flat=True))
    for party in Party.objects.all():
        assert [entry.history_type for entry in party.history.all()] == ["+"]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the import lock is PostgreSQL's advisory lock; SQLite lets one writer in anyway",
)
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_document_at_once_store_it_once():
    import threading

    from django.db import connections

    document = _shipments(20)
    results, errors = [], []

    def run():
        try:
            results.append(
                epcis_import(document=json.loads(json.dumps(document)), acting_user=None)
            )
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(result.imported for result in results) == [0, 20]
    assert sorted(result.duplicates for result in results) == [0, 20]
    assert TraceEvent.objects.count() == 20 and Party.objects.count() == 21


@pytest.mark.django_db
def test_export_command_refuses_a_missing_folder_with_one_line(graph, tmp_path):
    path = tmp_path / "nowhere" / "events.jsonld"

    with pytest.raises(CommandError) as raised:
        call_command("export_epcis", "--all", "--output", str(path))

    assert (raised.value.returncode, str(raised.value)) == (
        2,
        f"Cannot write {path}: no such directory.",
    )
