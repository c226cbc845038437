"""The FSMA 204 sortable spreadsheet: which events are rows, each key data element, the files,
the command and the page."""

import csv
import io
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest
from biip.checksums import gs1_standard_check_digit
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from inventory.forms import (
    FSMA_BAD_DATE,
    FSMA_DATE_RANGE,
    FSMA_DATES_NEED_PRODUCT,
    FSMA_DATES_ORDER,
    FSMA_LOT_WITHOUT_DATES,
    FSMA_NEEDS_DATES,
    FSMA_NEEDS_INPUT,
    FSMA_ONE_WAY,
    UNKNOWN_PRODUCT,
)
from inventory.fsma import MISSING, csv_bytes, fsma204_rows, xlsx_bytes
from inventory.models import Lot, Party, Site, TraceEvent, Unit
from inventory.services import (
    Line,
    event_record,
    item_change_status,
    lot_create,
    serial_unit_create,
    shipment_create,
)
from traceability.roles import NO_ROLE_MESSAGE

from ..conftest import fresh_sqlite_env
from .factories import (
    InternalPartyFactory,
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# The contract: exactly these columns, in this order.
HEADER = [
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
]
NO_MATCH = "No lot or serial unit matches {}."
SERIAL_NOT_A_LOT = (
    "{unit} is a serial unit; FSMA 204 records are kept by traceability lot. "
    "Use its production lot, {lot}."
)
UNKNOWN_CTE = "Value 'grilling' is not a valid choice."
WROTE = "Wrote {count} rows to {path}."
CANNOT_WRITE = "Cannot write {path}: no such directory."
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPINACH_GTIN = "09521104001027"

PLANT = (
    "Greenfield Foods; Greenfield plant; 1 Field Road, 93901 Salinas, CA, US; "
    "+1 831 555 0100; GLN {gln}"
)
COLD_STORE = (
    "Greenfield Foods; Greenfield cold store; 9 Frost Lane, 93901 Salinas, CA, US; "
    "+1 831 555 0101; GLN {gln}"
)
FARM = "Leafy Acres Farm; 40 River Road, 93925 Chualar, CA, US; +1 831 555 0199; GLN {gln}"
METRO_DC = (
    "Metro Grocers; Metro Grocers DC; 5 Depot Way, 95824 Sacramento, CA, US; "
    "+1 916 555 0164; GLN {gln}"
)

# Session, user, roles and permissions (5); the identifier's lots and units (2); the events
# and their lines (2); a trace is one more statement (PostgreSQL first sets the planner up).
# Counted on the page, then fixed here, so that one query per row fails the tests.
# On PostgreSQL: planner settings, the trace, and the settings put back inside a transaction.
_PER_TRACE = 3 if connection.vendor == "postgresql" else 1
PAGE_QUERIES = 5 + 2 + 2
TRACED_PAGE_QUERIES = PAGE_QUERIES + _PER_TRACE
# Rows whatever their number: the lots named, the events in range, their lines (3).
ROWS_QUERIES = 3


def gln(n: int) -> str:
    body = f"061414100{n:03d}"
    return body + str(gs1_standard_check_digit(body))


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


class Food:
    """Spinach from a farm → washed with a dressing into salad kits → cold store → a grocer."""

    def __init__(self):
        self.user = UserFactory(username="qa")
        ours = InternalPartyFactory(name="Greenfield Foods")
        address = {"city": "Salinas", "postal_code": "93901", "region": "CA", "country": "US"}
        self.plant = Site.objects.create(
            code="gf-plant",
            name="Greenfield plant",
            party=ours,
            street="1 Field Road",
            phone="+1 831 555 0100",
            gln=gln(1),
            **address,
        )
        self.cold_store = Site.objects.create(
            code="gf-cold",
            name="Greenfield cold store",
            party=ours,
            street="9 Frost Lane",
            phone="+1 831 555 0101",
            gln=gln(2),
            **address,
        )
        self.farm = Party.objects.create(
            name="Leafy Acres Farm",
            is_supplier=True,
            street="40 River Road",
            postal_code="93925",
            city="Chualar",
            region="CA",
            country="US",
            phone="+1 831 555 0199",
            gln=gln(3),
        )
        self.metro = PartyFactory(name="Metro Grocers", gln=gln(4))
        self.metro_dc = Site.objects.create(
            code="metro-dc",
            name="Metro Grocers DC",
            party=self.metro,
            street="5 Depot Way",
            postal_code="95824",
            city="Sacramento",
            region="CA",
            country="US",
            phone="+1 916 555 0164",
            gln=gln(5),
        )
        self.spinach_product = ProductFactory(
            sku="SPINACH",
            name="Baby spinach, 2 kg case",
            gtin=SPINACH_GTIN,
            unit=Unit.KILOGRAM,
            on_food_traceability_list=True,
        )
        self.dressing_product = ProductFactory(
            sku="DRESSING", name="Lemon dressing", gtin=None, unit=Unit.LITRE
        )
        self.kit_product = ProductFactory(
            sku="KIT",
            name="Spinach salad kit, 300 g",
            unit=Unit.EACH,
            on_food_traceability_list=True,
        )
        self.spinach = lot_create(
            product=self.spinach_product,
            code="S-1",
            quantity=Decimal("80"),
            supplier=self.farm,
            supplier_lot_code="LF-0311",
            site=self.plant,
            occurred_at=at(2, 6),
            document_type=TraceEvent.DocumentType.PURCHASE_ORDER,
            document_number="PO-1001",
            acting_user=self.user,
        )
        self.dressing = lot_create(
            product=self.dressing_product,
            code="D-1",
            quantity=Decimal("20"),
            site=self.plant,
            occurred_at=at(2, 7),
            acting_user=self.user,
        )
        self.kit = lot_create(
            product=self.kit_product,
            code="K-1",
            quantity=Decimal("400"),
            inputs=[Line(self.spinach, Decimal("40")), Line(self.dressing, Decimal("5"))],
            site=self.plant,
            occurred_at=at(3, 10),
            document_type=TraceEvent.DocumentType.PRODUCTION_ORDER,
            document_number="PRD-7",
            acting_user=self.user,
        )
        event_record(
            event_type=TraceEvent.Type.TRANSFER,
            subjects=[Line(self.kit, Decimal("400"))],
            site=self.plant,
            source_site=self.plant,
            destination_site=self.cold_store,
            occurred_at=at(3, 15),
            acting_user=self.user,
        )
        shipment_create(
            lots=[Line(self.kit, Decimal("120"))],
            from_site=self.cold_store,
            to_site=self.metro_dc,
            shipped_at=at(4, 14),
            document_type=TraceEvent.DocumentType.BILL_OF_LADING,
            document_number="BOL-55",
            acting_user=self.user,
        )

    def record(self, event_type=TraceEvent.Type.PRODUCE, lot=None, **fields):
        """An event naming one lot (the spinach by default), on 10 March."""
        lot = lot or self.spinach
        return event_record(
            event_type=event_type,
            subjects=[Line(lot, Decimal("10"))],
            occurred_at=fields.pop("occurred_at", at(10)),
            acting_user=self.user,
            **fields,
        )


@pytest.fixture
def food(db):
    return Food()


def rows_of(lot, **kwargs):
    return fsma204_rows(lots=Lot.objects.filter(pk=lot.pk), **kwargs)


def one(rows, event_type):
    found = [row for row in rows if row.event_type == event_type]
    assert len(found) == 1, [row.event_type for row in rows]
    return found[0]


def at_time(rows, moment):
    (row,) = [row for row in rows if row.occurred_at == moment]
    return row


def cells(row) -> dict:
    return dict(zip(HEADER, row.values(), strict=True))


# --- Which events are critical tracking events --------------------------------------------


def test_a_receipt_from_a_supplier_is_receiving(food):
    assert one(rows_of(food.spinach), "Receiving").occurred_at == at(2, 6)


def test_a_shipment_is_shipping(food):
    shipping = [row for row in rows_of(food.kit) if row.event_type == "Shipping"]

    assert [row.occurred_at for row in shipping] == [at(3, 15), at(4, 14)]


def test_a_transformation_is_transformation_on_the_output_lot(food):
    row = one(rows_of(food.kit), "Transformation")

    assert (row.traceability_lot_code, row.quantity) == ("K-1", Decimal("400"))


def test_a_transfer_to_another_of_our_sites_is_shipping(food):
    row = one([row for row in rows_of(food.kit) if row.occurred_at == at(3, 15)], "Shipping")

    assert row.immediate_subsequent_recipient == COLD_STORE.format(gln=gln(2))


def test_a_transfer_within_one_site_is_no_row(food):
    food.record(TraceEvent.Type.TRANSFER, site=food.plant, destination_site=food.plant)

    assert [row.occurred_at for row in rows_of(food.spinach)] == [at(2, 6), at(3, 10)]


def test_a_return_is_receiving(food):
    food.record(TraceEvent.Type.RETURN, lot=food.kit, site=food.plant, source_party=food.metro)

    assert one(rows_of(food.kit), "Receiving").occurred_at == at(10)


@pytest.mark.parametrize(
    "event_type",
    [
        TraceEvent.Type.PRODUCE,
        TraceEvent.Type.CONSUME,
        TraceEvent.Type.ADJUST,
        TraceEvent.Type.INSPECT,
        TraceEvent.Type.SCRAP,
    ],
)
def test_events_that_are_not_ctes_are_no_rows(food, event_type):
    food.record(event_type)

    assert len(rows_of(food.spinach)) == 2


def test_a_status_change_is_no_row(food):
    item_change_status(
        item=food.spinach, status=Lot.Status.ON_HOLD, reason="Swab test", acting_user=food.user
    )

    assert len(rows_of(food.spinach)) == 2


@pytest.mark.parametrize(
    ("cte", "label"),
    [
        ("harvesting", "Harvesting"),
        ("cooling", "Cooling"),
        ("initial_packing", "Initial Packing"),
        ("first_land_based_receiving", "First Land-Based Receiving"),
    ],
)
def test_harvesting_cooling_packing_and_landing_are_rows_when_recorded_as_such(food, cte, label):
    food.record(fsma_cte=cte)

    assert one(rows_of(food.spinach), label).occurred_at == at(10)


@pytest.mark.parametrize("biz_step", ["commissioning", "storing", "packing"])
def test_a_business_step_alone_never_makes_a_cte(food, biz_step):
    food.record(biz_step=biz_step)

    assert len(rows_of(food.spinach)) == 2


def test_an_event_recorded_as_no_cte_is_no_row_whatever_its_type(food):
    food.record(TraceEvent.Type.RECEIVE, site=food.plant, fsma_cte="none")

    assert len(rows_of(food.spinach)) == 2


def test_an_unknown_cte_is_refused(food):
    with pytest.raises(ValidationError) as error:
        food.record(fsma_cte="grilling")

    assert error.value.message_dict["fsma_cte"] == [UNKNOWN_CTE]


def test_lot_create_records_the_cte_it_is_given(food):
    packed = lot_create(
        product=food.spinach_product,
        code="S-2",
        quantity=Decimal("60"),
        site=food.plant,
        fsma_cte="initial_packing",
        occurred_at=at(11),
        acting_user=food.user,
    )

    assert [row.event_type for row in rows_of(packed)] == ["Initial Packing"]


# --- Key data elements --------------------------------------------------------------------


def test_every_column_of_a_receipt(food):
    row = one(rows_of(food.spinach), "Receiving")

    assert cells(row) == {
        "Event Type": "Receiving",
        "Traceability Lot Code": "LF-0311",
        "Product Description": f"Baby spinach, 2 kg case (GTIN {SPINACH_GTIN})",
        "Quantity": Decimal("80"),
        "Unit of Measure": "kg",
        "Location Description": PLANT.format(gln=gln(1)),
        "Immediate Previous Source": FARM.format(gln=gln(3)),
        "Immediate Subsequent Recipient": "",
        "Event Date": date(2026, 3, 2),
        "Traceability Lot Code Source": FARM.format(gln=gln(3)),
        "Reference Document Type": "Purchase order",
        "Reference Document Number": "PO-1001",
        "Input Traceability Lot Codes": "",
    }


def test_every_column_of_a_shipment(food):
    row = one([row for row in rows_of(food.kit) if row.occurred_at == at(4, 14)], "Shipping")

    assert cells(row) == {
        "Event Type": "Shipping",
        "Traceability Lot Code": "K-1",
        "Product Description": f"Spinach salad kit, 300 g (GTIN {food.kit_product.gtin})",
        "Quantity": Decimal("120"),
        "Unit of Measure": "each",
        "Location Description": COLD_STORE.format(gln=gln(2)),
        "Immediate Previous Source": "",
        "Immediate Subsequent Recipient": METRO_DC.format(gln=gln(5)),
        "Event Date": date(2026, 3, 4),
        "Traceability Lot Code Source": PLANT.format(gln=gln(1)),
        "Reference Document Type": "Bill of lading",
        "Reference Document Number": "BOL-55",
        "Input Traceability Lot Codes": "",
    }


def test_a_transformation_lists_its_inputs_traceability_lot_codes(food):
    row = one(rows_of(food.kit), "Transformation")

    assert row.input_traceability_lot_codes == "LF-0311; D-1"


def test_a_transformation_without_recorded_inputs_says_they_are_missing(food):
    food.record(fsma_cte="transformation")

    assert at_time(rows_of(food.spinach), at(10)).input_traceability_lot_codes == MISSING


def test_a_received_lot_without_its_suppliers_code_has_a_missing_traceability_lot_code(food):
    lot = lot_create(
        product=food.spinach_product,
        code="S-9",
        quantity=Decimal("5"),
        supplier=food.farm,
        site=food.plant,
        acting_user=food.user,
    )

    row = rows_of(lot)[0]

    assert (row.traceability_lot_code, row.traceability_lot_code_source) == (
        MISSING,
        FARM.format(gln=gln(3)),
    )


def test_a_lot_we_made_without_a_site_has_a_missing_traceability_lot_code_source(food):
    lot = LotFactory(product=food.kit_product, code="K-9", site=None)
    food.record(TraceEvent.Type.SHIP, lot=lot, destination_party=food.metro)

    assert rows_of(lot)[0].traceability_lot_code_source == MISSING


def test_a_product_without_a_gtin_is_described_by_its_name(food):
    food.record(TraceEvent.Type.SHIP, lot=food.dressing, destination_party=food.metro)

    assert at_time(rows_of(food.dressing), at(10)).product_description == "Lemon dressing"


def test_quantities_read_as_recorded_without_trailing_zeros(food):
    food.record(TraceEvent.Type.SHIP, destination_party=food.metro)

    assert [str(row.quantity) for row in rows_of(food.spinach)] == ["80", "400", "10"]


def test_an_event_without_a_quantity_has_missing_quantity_and_unit(food):
    event_record(
        event_type=TraceEvent.Type.SHIP,
        subjects=[Line(food.spinach)],
        destination_party=food.metro,
        occurred_at=at(10),
        acting_user=food.user,
    )

    row = one(rows_of(food.spinach), "Shipping")

    assert (row.quantity, row.unit_of_measure) == (MISSING, MISSING)


def test_missing_key_data_elements_read_missing_and_are_never_taken_from_other_records(food):
    # The lot's own site, the supplier and the purchase order are known, but not for this
    # receipt: none of them fills in for it.
    food.record(TraceEvent.Type.RECEIVE)

    row = at_time(rows_of(food.spinach), at(10))

    assert [
        row.location_description,
        row.immediate_previous_source,
        row.reference_document_type,
        row.reference_document_number,
    ] == [MISSING] * 4


def test_a_place_without_address_or_phone_says_which_is_missing(food):
    food.record(TraceEvent.Type.SHIP, destination_party=PartyFactory(name="Corner Deli", phone=""))

    row = one(rows_of(food.spinach), "Shipping")

    assert row.immediate_subsequent_recipient == ("Corner Deli; Springfield, US; phone (missing)")


def test_a_shipment_to_a_party_without_a_site_names_the_party(food):
    food.record(TraceEvent.Type.SHIP, destination_party=food.farm)

    assert one(rows_of(food.spinach), "Shipping").immediate_subsequent_recipient == FARM.format(
        gln=gln(3)
    )


def test_a_receipt_without_a_site_is_located_at_its_receiving_site(food):
    food.record(TraceEvent.Type.RECEIVE, destination_site=food.cold_store)

    row = at_time(rows_of(food.spinach), at(10))

    assert row.location_description == COLD_STORE.format(gln=gln(2))


def test_the_event_date_is_the_date_where_it_happened(food):
    # 03:00 UTC on 11 March is still 10 March in California.
    food.record(TraceEvent.Type.SHIP, occurred_at=at(11, 3), time_zone_offset="-08:00")

    assert one(rows_of(food.spinach), "Shipping").event_date == date(2026, 3, 10)


# --- Which rows ---------------------------------------------------------------------------


def test_a_named_lot_gives_its_own_events_and_the_transformations_it_went_into(food):
    rows = rows_of(food.spinach)

    assert [(row.event_type, row.traceability_lot_code) for row in rows] == [
        ("Receiving", "LF-0311"),
        ("Transformation", "K-1"),
    ]


def test_forward_adds_the_events_of_listed_foods_made_from_the_lot(food):
    rows = rows_of(food.spinach, direction="forward")

    assert [(row.event_type, row.traceability_lot_code) for row in rows] == [
        ("Receiving", "LF-0311"),
        ("Transformation", "K-1"),
        ("Shipping", "K-1"),
        ("Shipping", "K-1"),
    ]


def test_backward_adds_the_events_of_listed_foods_the_lot_was_made_from(food):
    rows = rows_of(food.kit, direction="backward")

    assert [row.traceability_lot_code for row in rows] == ["LF-0311", "K-1", "K-1", "K-1"]


def test_a_trace_leaves_out_the_events_of_foods_not_on_the_list(food):
    food.record(TraceEvent.Type.SHIP, lot=food.dressing, destination_party=food.metro)

    rows = rows_of(food.kit, direction="backward")

    assert "D-1" not in [row.traceability_lot_code for row in rows]


def test_rows_are_sorted_by_event_date_then_lot_code(food):
    food.record(
        TraceEvent.Type.SHIP, lot=food.kit, occurred_at=at(2, 5), destination_party=food.metro
    )

    rows = rows_of(food.spinach, direction="forward")

    assert [(row.event_date.day, row.traceability_lot_code) for row in rows] == [
        (2, "K-1"),
        (2, "LF-0311"),
        (3, "K-1"),
        (3, "K-1"),
        (4, "K-1"),
    ]


def test_a_product_and_dates_give_that_products_events_on_those_dates(food):
    other = LotFactory(product=food.kit_product, code="K-2", site=food.plant)
    food.record(TraceEvent.Type.SHIP, lot=other, occurred_at=at(20), destination_party=food.metro)

    rows = fsma204_rows(
        lots=Lot.objects.filter(product=food.kit_product),
        start=date(2026, 3, 4),
        end=date(2026, 3, 20),
    )

    assert [(row.traceability_lot_code, row.event_date.day) for row in rows] == [
        ("K-1", 4),
        ("K-2", 20),
    ]


def test_a_date_range_reads_each_event_date_where_it_happened(food):
    food.record(TraceEvent.Type.SHIP, occurred_at=at(11, 3), time_zone_offset="-08:00")

    rows = fsma204_rows(
        lots=Lot.objects.filter(product=food.spinach_product),
        start=date(2026, 3, 5),
        end=date(2026, 3, 10),
    )

    assert [row.occurred_at for row in rows] == [at(11, 3)]


def test_a_date_range_with_a_trace_adds_all_events_of_the_lots_reached(food):
    rows = fsma204_rows(
        lots=Lot.objects.filter(product=food.spinach_product),
        start=date(2026, 3, 1),
        end=date(2026, 3, 2),
        direction="forward",
    )

    assert [row.event_date.day for row in rows] == [2, 3, 3, 4]


def test_rows_take_the_same_queries_for_one_event_or_fifty(food, django_assert_max_num_queries):
    for day in range(1, 26):
        food.record(
            TraceEvent.Type.SHIP, lot=food.kit, occurred_at=at(day), destination_party=food.metro
        )
        food.record(
            TraceEvent.Type.RECEIVE, lot=food.kit, occurred_at=at(day), source_party=food.metro
        )

    with django_assert_max_num_queries(ROWS_QUERIES):
        rows = fsma204_rows(
            lots=Lot.objects.filter(product=food.kit_product),
            start=date(2026, 3, 1),
            end=date(2026, 3, 31),
        )

    assert len(rows) == 3 + 50


# --- Files --------------------------------------------------------------------------------


def test_the_csv_has_the_contracts_header_then_one_row_per_event(food):
    table = list(csv.reader(io.StringIO(csv_bytes(rows_of(food.spinach)).decode())))

    assert table[0] == HEADER
    assert table[1] == [
        "Receiving",
        "LF-0311",
        f"Baby spinach, 2 kg case (GTIN {SPINACH_GTIN})",
        "80",
        "kg",
        PLANT.format(gln=gln(1)),
        FARM.format(gln=gln(3)),
        "",
        "2026-03-02",
        FARM.format(gln=gln(3)),
        "Purchase order",
        "PO-1001",
        "",
    ]
    assert len(table) == 3


def test_the_xlsx_reads_back_with_typed_dates_and_quantities(food):
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(rows_of(food.spinach)))).active

    assert [cell.value for cell in sheet[1]] == HEADER
    assert (sheet["I2"].value, sheet["I2"].is_date) == (datetime(2026, 3, 2), True)
    assert sheet["D2"].value == 80
    assert sheet.max_row == 3


def test_the_xlsx_header_is_frozen_and_filterable(food):
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(rows_of(food.spinach)))).active

    assert (sheet.freeze_panes, sheet.auto_filter.ref) == ("A2", "A1:M3")


def test_text_that_looks_like_a_formula_stays_text_in_the_xlsx(food):
    lot = lot_create(
        product=food.spinach_product,
        code="S-3",
        quantity=Decimal("5"),
        supplier=food.farm,
        supplier_lot_code="=1+2",
        site=food.plant,
        acting_user=food.user,
    )

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(rows_of(lot)))).active

    assert (sheet["B2"].value, sheet["B2"].data_type) == ("=1+2", "s")


def test_text_that_looks_like_a_formula_is_neutralised_in_the_csv(food):
    lot = lot_create(
        product=food.spinach_product,
        code="S-3",
        quantity=Decimal("5"),
        supplier=food.farm,
        supplier_lot_code="=1+2",
        site=food.plant,
        acting_user=food.user,
    )

    rows = list(csv.DictReader(io.StringIO(csv_bytes(rows_of(lot)).decode())))

    assert rows[0]["Traceability Lot Code"] == "'=1+2"


# --- Identifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    [
        "LF-0311",
        "S-1",
        "SPINACH lot S-1",
        f"{SPINACH_GTIN} S-1",
        f"(01){SPINACH_GTIN}(10)S-1",
        f"https://id.gs1.org/01/{SPINACH_GTIN}/10/S-1",
    ],
)
def test_every_identifier_form_the_trace_takes_names_the_lot(food, manager_client, identifier):
    response = manager_client.get(reverse("fsma204"), {"q": identifier})

    assert [row.traceability_lot_code for row in response.context["rows"]] == ["LF-0311", "K-1"]


# --- The command --------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command("fsma204_export", *args, stdout=out)
    return out.getvalue().strip()


def command_error(*args) -> CommandError:
    with pytest.raises(CommandError) as error:
        call_command("fsma204_export", *args, stdout=io.StringIO())
    return error.value


def test_the_command_writes_the_csv_and_says_how_many_rows(food, tmp_path):
    path = tmp_path / "spinach.csv"

    said = run("LF-0311", "--format", "csv", "--output", str(path))

    assert said == WROTE.format(count=2, path=path)
    assert path.read_bytes() == csv_bytes(rows_of(food.spinach))


def test_the_command_writes_the_xlsx(food, tmp_path):
    path = tmp_path / "spinach.xlsx"

    run("SPINACH lot S-1", "--format", "xlsx", "--output", str(path))

    assert openpyxl.load_workbook(path).active.max_row == 3


def test_the_command_takes_a_product_and_dates(food, tmp_path):
    path = tmp_path / "kits.csv"

    said = run(
        "--product", "KIT", "--from", "2026-03-04", "--to", "2026-03-31",
        "--format", "csv", "--output", str(path),
    )  # fmt: skip

    assert said == f"Wrote 1 row to {path}."


def test_the_command_adds_a_trace_in_the_direction_given(food, tmp_path):
    path = tmp_path / "forward.csv"

    said = run("LF-0311", "--direction", "forward", "--format", "csv", "--output", str(path))

    assert said == WROTE.format(count=4, path=path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NOPE-1"], NO_MATCH.format("NOPE-1")),
        (["LF-0311", "--product", "KIT"], FSMA_ONE_WAY),
        (["--product", "KIT"], FSMA_NEEDS_DATES),
        (["--product", "NOPE"], UNKNOWN_PRODUCT % {"value": "NOPE"}),
        (["--product", "KIT", "--from", "2026-03-04", "--to", "2026-03-01"], FSMA_DATES_ORDER),
        (
            ["--product", "KIT", "--from", "4 March", "--to", "2026-03-31"],
            f"--from: {FSMA_BAD_DATE}",
        ),
        (["--from", "2026-03-04"], FSMA_DATES_NEED_PRODUCT),
        (["LF-0311", "--from", "2026-03-01", "--to", "2026-03-31"], FSMA_LOT_WITHOUT_DATES),
        (["LF-0311", "--to", "2026-03-31"], FSMA_LOT_WITHOUT_DATES),
        (
            ["--product", "KIT", "--from", "2026-01-01", "--to", "9999-12-31"],
            f"--to: {FSMA_DATE_RANGE}",
        ),
        (
            ["--product", "KIT", "--from", "0001-01-01", "--to", "2026-01-01"],
            f"--from: {FSMA_DATE_RANGE}",
        ),
        ([], FSMA_NEEDS_INPUT),
    ],
)
def test_bad_arguments_fail_with_status_2_and_write_nothing(food, tmp_path, args, message):
    path = tmp_path / "out.csv"

    error = command_error(*args, "--format", "csv", "--output", str(path))

    assert (error.returncode, str(error)) == (2, message)
    assert not path.exists()


def test_a_missing_directory_fails_with_status_2(food, tmp_path):
    path = tmp_path / "nowhere" / "out.csv"

    error = command_error("LF-0311", "--format", "csv", "--output", str(path))

    assert (error.returncode, str(error)) == (2, CANNOT_WRITE.format(path=path))


def test_a_serial_unit_is_refused_naming_its_production_lot(food, tmp_path):
    product = SerialProductFactory(sku="SCALE")
    unit = serial_unit_create(
        product=product,
        serial="SC-1",
        lot=LotFactory(product=product, code="SC-LOT"),
        acting_user=food.user,
    )

    error = command_error("SCALE serial SC-1", "--format", "csv", "--output", str(tmp_path / "x"))

    assert str(error) == SERIAL_NOT_A_LOT.format(unit=unit, lot="SCALE lot SC-LOT")


@pytest.fixture(scope="module")
def fresh_database(migrated_sqlite_file, tmp_path_factory):
    """The environment of a command line run against a new, migrated SQLite file."""
    return fresh_sqlite_env(migrated_sqlite_file, tmp_path_factory.mktemp("fsma-cli"))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["NOPE-1", "--format", "csv"], f"CommandError: {NO_MATCH.format('NOPE-1')}"),
        (["NOPE-1"], "CommandError: the following arguments are required: --format"),
        (
            ["NOPE-1", "--format", "pdf"],
            "CommandError: argument --format: invalid choice: 'pdf' (choose from 'csv', 'xlsx')",
        ),
        (
            ["--product", "KIT", "--from", "2026-01-01", "--to", "9999-12-31", "--format", "csv"],
            f"CommandError: --to: {FSMA_DATE_RANGE}",
        ),
    ],
)
def test_the_command_line_fails_with_status_2_and_one_line_on_stderr(
    fresh_database, tmp_path, args, line
):
    path = tmp_path / "out.csv"
    result = subprocess.run(
        [sys.executable, "manage.py", "fsma204_export", *args, "--output", str(path)],
        cwd=settings.BASE_DIR,
        env=fresh_database,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (2, [line], "")
    assert not path.exists()


# --- The page -----------------------------------------------------------------------------


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_the_navigation_links_the_page(manager_client):
    response = manager_client.get(reverse("home"))

    assertContains(response, f'href="{reverse("fsma204")}"')


def test_the_page_shows_the_rows_of_a_lot(food, manager_client):
    response = manager_client.get(reverse("fsma204"), {"q": "LF-0311"})

    assert [column.header for column in response.context["table"].columns] == HEADER
    assertContains(response, "PO-1001")
    assertContains(response, f'href="{reverse("lot_detail", args=[food.kit.pk])}"')


def test_the_page_opens_with_an_empty_form(manager_client):
    response = manager_client.get(reverse("fsma204"))

    assert not response.context["form"].is_bound
    assertNotContains(response, 'role="alert"')


def test_quality_staff_may_read_the_records(food, client, staff):
    client.force_login(staff)

    assert client.get(reverse("fsma204"), {"q": "LF-0311"}).status_code == 200


def test_a_user_without_a_role_is_refused(food, client, no_role_user):
    client.force_login(no_role_user)

    response = client.get(reverse("fsma204"), {"q": "LF-0311"})

    assert response.status_code == 403
    assertContains(response, NO_ROLE_MESSAGE, status_code=403)


def test_a_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("fsma204"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"q": "NOPE-1"}, NO_MATCH.format("NOPE-1")),
        ({"q": "LF-0311", "product": "KIT"}, FSMA_ONE_WAY),
        ({"product": "KIT", "date_from": "2026-03-04"}, FSMA_NEEDS_DATES),
        (
            {"product": "KIT", "date_from": "2026-03-04", "date_to": "2026-03-01"},
            FSMA_DATES_ORDER,
        ),
        ({"product": "KIT", "date_from": "yesterday", "date_to": "2026-03-01"}, FSMA_BAD_DATE),
        ({"product": "NOPE"}, UNKNOWN_PRODUCT % {"value": "NOPE"}),
        ({"date_to": "2026-03-01"}, FSMA_DATES_NEED_PRODUCT),
        ({"q": "LF-0311", "date_from": "2026-03-01"}, FSMA_LOT_WITHOUT_DATES),
        ({"product": "KIT", "date_from": "2026-01-01", "date_to": "9999-12-31"}, FSMA_DATE_RANGE),
        ({"product": "KIT", "date_from": "0001-01-01", "date_to": "2026-01-01"}, FSMA_DATE_RANGE),
        ({"q": "  ", "product": ""}, FSMA_NEEDS_INPUT),
    ],
)
def test_bad_input_shows_what_is_wrong_on_the_form(food, manager_client, data, message):
    response = manager_client.get(reverse("fsma204"), data)

    assert "table" not in response.context
    assertContains(response, message)


def test_the_page_warns_when_a_product_is_not_on_the_list(food, manager_client):
    response = manager_client.get(reverse("fsma204"), {"q": "DRESSING lot D-1"})

    assertContains(response, "DRESSING (Lemon dressing) is not on the Food Traceability List")


def test_the_csv_download_is_named_after_the_lot_and_the_day(food, manager_client):
    response = manager_client.get(reverse("fsma204"), {"q": "LF-0311", "export": "csv"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="fsma204-LF-0311-')
    assert response.content == csv_bytes(rows_of(food.spinach))


def test_the_xlsx_download_of_a_product_is_named_after_its_dates(food, manager_client):
    response = manager_client.get(
        reverse("fsma204"),
        {"product": "KIT", "date_from": "2026-03-01", "date_to": "2026-03-31", "export": "xlsx"},
    )

    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == (
        'attachment; filename="fsma204-KIT-2026-03-01-to-2026-03-31.xlsx"'
    )
    assert openpyxl.load_workbook(io.BytesIO(response.content)).active.max_row == 1 + 3


@pytest.mark.parametrize(("traced", "events"), [(False, 1), (False, 40), (True, 1), (True, 40)])
def test_the_page_runs_the_same_queries_for_few_rows_or_many(
    food, manager_client, django_assert_max_num_queries, traced, events
):
    for day in range(1, events + 1):
        food.record(
            TraceEvent.Type.SHIP,
            lot=food.kit,
            occurred_at=datetime(2026, 4, 1, tzinfo=UTC).replace(day=1 + day % 28),
            destination_party=food.metro,
        )
    data = {"q": "LF-0311", "direction": "forward" if traced else ""}

    with django_assert_max_num_queries(TRACED_PAGE_QUERIES if traced else PAGE_QUERIES):
        response = manager_client.get(reverse("fsma204"), data)

    assert len(response.context["rows"]) == (2 + 2 + events if traced else 2)


def test_a_lot_of_a_listed_food_links_its_fsma_204_records(food, manager_client):
    response = manager_client.get(reverse("lot_detail", args=[food.spinach.pk]))

    assertContains(response, f"{reverse('fsma204')}?q=SPINACH+lot+S-1")


def test_a_lot_of_a_food_not_on_the_list_has_no_fsma_204_link(food, manager_client):
    response = manager_client.get(reverse("lot_detail", args=[food.dressing.pk]))

    assertNotContains(response, "FSMA 204 records")
