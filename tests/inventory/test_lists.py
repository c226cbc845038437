"""The list pages of products, lots, serial units, events and parties: who sees them, what each
filter keeps, sorting, CSV and XLSX exports, bad input and query counts."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from inventory.filters import DATES_REVERSED
from inventory.models import Lot, SerialUnit, TraceEvent
from traceability.roles import NO_ROLE_MESSAGE

from .factories import (
    EventLineFactory,
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    TraceEventFactory,
)

pytestmark = pytest.mark.django_db

LISTS = ["product_list", "lot_list", "serial_list", "event_list", "party_list"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INVALID_DATE = "Enter a valid date."
INVALID_CHOICE = "Select a valid choice."
NOTHING_LISTED = "Nothing is listed until the filters above are corrected."

# Session, user, roles, the user's and the roles' permissions (5), then the rows and their
# count; the lot and unit lists also fill their product drop-down.
PAGE_QUERIES = {
    "product_list": 5 + 2,
    "lot_list": 5 + 3,
    "serial_list": 5 + 3,
    "event_list": 5 + 2,
    "party_list": 5 + 2,
}

FILE_NAMES = {
    "product_list": "products",
    "lot_list": "lots",
    "serial_list": "serial-units",
    "event_list": "events",
    "party_list": "parties",
}

HEADERS = {
    "product_list": [
        "SKU",
        "Name",
        "GTIN",
        "Tracked",
        "Unit",
        "Shelf life (days)",
        "Warranty (months)",
        "Lots",
        "Serial units",
        "FDA Food Traceability List",
        "Active",
    ],
    "lot_list": [
        "Lot",
        "Product",
        "Product name",
        "Status",
        "Quantity",
        "Unit",
        "Produced",
        "Expires",
        "Supplier",
        "Supplier's lot code",
        "Site",
    ],
    "serial_list": [
        "Serial",
        "Product",
        "Product name",
        "Production lot",
        "Status",
        "Held at or by",
        "Shipped",
        "Warranty until",
        "Warranty",
    ],
    "event_list": [
        "When",
        "Type",
        "Site",
        "From",
        "To",
        "Document",
        "Document type",
        "Items",
        "Event ID",
    ],
    "party_list": [
        "Name",
        "Role",
        "GLN",
        "City",
        "Country",
        "Contact",
        "E-mail",
        "Phone",
        "Sites",
        "Active",
    ],
}


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _get(client, name, **params):
    return client.get(reverse(name), params)


def _shown(response) -> list:
    """The records on the page, in the order shown."""
    return [row.record for row in response.context["table"].paginated_rows]


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def _xlsx(response) -> list[list]:
    assert response["Content-Type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return [
        ["" if cell is None else cell for cell in row] for row in sheet.iter_rows(values_only=True)
    ]


# --- rows for each list -----------------------------------------------------------------------


def _product_row(n):
    product = ProductFactory(sku=f"P-{n:03d}", name=f"Product {n:03d}")
    LotFactory(product=product)
    return product


def _lot_row(n):
    supplier = PartyFactory(name=f"Supplier {n:03d}", is_supplier=True)
    return LotFactory(code=f"L-{n:03d}", supplier=supplier, supplier_lot_code=f"S-{n:03d}")


def _serial_row(n):
    lot = LotFactory(code=f"LOT-{n:03d}")
    if n % 2:
        return SerialUnitFactory(
            serial=f"SN-{n:03d}",
            lot=lot,
            holder_site=None,
            holder_party=PartyFactory(),
            status=SerialUnit.Status.SHIPPED,
            shipped_on=date(2026, 1, 1),
            warranty_ends_on=date(2028, 1, 1),
        )
    return SerialUnitFactory(serial=f"SN-{n:03d}", lot=lot)


def _event_row(n):
    event = TraceEventFactory(
        event_type=TraceEvent.Type.SHIP,
        site=SiteFactory(),
        source_party=PartyFactory(),
        destination_party=PartyFactory(),
        destination_site=SiteFactory(),
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number=f"DA-{n:03d}",
    )
    EventLineFactory(event=event)
    return event


def _party_row(n):
    party = PartyFactory(name=f"Party {n:03d}", is_supplier=True, gln=None)
    SiteFactory(party=party)
    return party


ROWS = {
    "product_list": _product_row,
    "lot_list": _lot_row,
    "serial_list": _serial_row,
    "event_list": _event_row,
    "party_list": _party_row,
}


# --- who sees the lists -----------------------------------------------------------------------


@pytest.mark.parametrize("name", LISTS)
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = _get(client, name)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", LISTS)
def test_a_user_without_a_role_sees_nothing(client, no_role_user, name):
    ROWS[name](1)
    client.force_login(no_role_user)

    response = _get(client, name)

    assert response.status_code == 403
    assertContains(response, NO_ROLE_MESSAGE, status_code=403)
    assert _get(client, name, _export="csv").status_code == 403


@pytest.mark.parametrize("role", ["manager", "staff"])
@pytest.mark.parametrize("name", LISTS)
def test_quality_managers_and_staff_see_every_list_and_it_is_in_the_nav(
    client, request, role, name
):
    ROWS[name](1)
    client.force_login(request.getfixturevalue(role))

    response = _get(client, name)

    assert response.status_code == 200
    assert len(_shown(response)) == 1
    assertContains(response, f'href="{reverse(name)}" aria-current="page"')


# --- products ---------------------------------------------------------------------------------


@pytest.fixture
def products():
    food = ProductFactory(sku="QUICHE", name="Spinach quiche", on_food_traceability_list=True)
    drill = SerialProductFactory(sku="DRILL", name="Cordless drill")
    old = ProductFactory(sku="OLD-PIE", name="Old pie", active=False, needs_review=True)
    return food, drill, old


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "quiche"}, ["QUICHE"]),
        ({"q": " cordless "}, ["DRILL"]),
        ({"tracking": "serial"}, ["DRILL"]),
        ({"on_food_traceability_list": "true"}, ["QUICHE"]),
        ({"on_food_traceability_list": "false"}, ["DRILL", "OLD-PIE"]),
        ({"active": "false"}, ["OLD-PIE"]),
        ({"needs_review": "true"}, ["OLD-PIE"]),
        ({}, ["DRILL", "OLD-PIE", "QUICHE"]),
    ],
)
def test_product_filters_keep_the_matching_products(staff_client, products, params, expected):
    response = _get(staff_client, "product_list", **params)

    assert [product.sku for product in _shown(response)] == expected


def test_the_gtin_search_finds_a_product_by_its_digits(staff_client, products):
    food = products[0]

    response = _get(staff_client, "product_list", q=food.gtin[-6:])

    assert _shown(response) == [food]


def test_products_show_how_many_lots_and_units_they_have(staff_client, products):
    food, drill, _old = products
    LotFactory.create_batch(2, product=food)
    SerialUnitFactory.create_batch(3, product=drill)

    rows = {product.sku: product for product in _shown(_get(staff_client, "product_list"))}

    assert (rows["QUICHE"].lot_count, rows["QUICHE"].unit_count) == (2, 0)
    assert (rows["DRILL"].lot_count, rows["DRILL"].unit_count) == (0, 3)


def test_products_sort_by_their_number_of_lots(staff_client, products):
    food, drill, old = products
    LotFactory.create_batch(2, product=food)
    LotFactory(product=old)

    response = _get(staff_client, "product_list", sort="-lot_count")

    assert _shown(response) == [food, old, drill]


# --- lots -------------------------------------------------------------------------------------


@pytest.fixture
def lots():
    today = timezone.localdate()
    acme = PartyFactory(name="Acme Flour", is_supplier=True)
    mill = PartyFactory(name="Northern Mill", is_supplier=True)
    flour = ProductFactory(sku="FLOUR", shelf_life_days=None)
    eggs = ProductFactory(sku="EGGS", shelf_life_days=None)
    return {
        "expired": LotFactory(
            code="F-OLD",
            product=flour,
            supplier=acme,
            supplier_lot_code="AC-2041",
            produced_on=today - timedelta(days=100),
            expires_on=today - timedelta(days=1),
        ),
        "soon": LotFactory(
            code="F-SOON",
            product=flour,
            supplier=mill,
            supplier_lot_code="NM-7",
            produced_on=today - timedelta(days=20),
            expires_on=today + timedelta(days=5),
            status=Lot.Status.ON_HOLD,
        ),
        "later": LotFactory(
            code="E-LATER",
            product=eggs,
            produced_on=today - timedelta(days=2),
            expires_on=today + timedelta(days=60),
        ),
        "forever": LotFactory(
            code="E-NONE", product=eggs, produced_on=today - timedelta(days=10), expires_on=None
        ),
    }


def _days(n):
    return (timezone.localdate() + timedelta(days=n)).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"code": "f-"}, {"expired", "soon"}),
        ({"code": "LATER"}, {"later"}),
        ({"status": "on_hold"}, {"soon"}),
        ({"supplier": "acme"}, {"expired"}),
        ({"supplier_lot_code": "nm-7"}, {"soon"}),
        ({"expiry": "expired"}, {"expired"}),
        ({"expiry": "7"}, {"soon"}),
        ({"expiry": "90"}, {"soon", "later"}),
        ({"expiry": "none"}, {"forever"}),
        ({"expires_from": _days(0), "expires_to": _days(30)}, {"soon"}),
        ({"expires_from": _days(6)}, {"later"}),
        ({"produced_from": _days(-20), "produced_to": _days(-10)}, {"soon", "forever"}),
        ({"produced_to": _days(-21)}, {"expired"}),
        ({"status": "released", "code": "E-"}, {"later", "forever"}),
    ],
)
def test_lot_filters_keep_the_matching_lots(staff_client, lots, params, expected):
    response = _get(staff_client, "lot_list", **params)

    assert {lot.code for lot in _shown(response)} == {lots[key].code for key in expected}


def test_the_lot_product_filter_keeps_that_products_lots(staff_client, lots):
    response = _get(staff_client, "lot_list", product=lots["later"].product_id)

    assert {lot.code for lot in _shown(response)} == {"E-LATER", "E-NONE"}


def test_lots_open_newest_first_and_sort_by_any_column(staff_client, lots):
    newest_first = [lot.code for lot in _shown(_get(staff_client, "lot_list"))]
    by_code = [lot.code for lot in _shown(_get(staff_client, "lot_list", sort="code"))]
    by_expiry = [lot.code for lot in _shown(_get(staff_client, "lot_list", sort="-expires_on"))]

    assert newest_first == ["E-LATER", "E-NONE", "F-SOON", "F-OLD"]
    assert by_code == ["E-LATER", "E-NONE", "F-OLD", "F-SOON"]
    assert by_expiry == ["E-LATER", "F-SOON", "F-OLD", "E-NONE"]  # no expiry date comes last


def test_a_sorted_column_says_so_to_screen_readers(staff_client, lots):
    response = _get(staff_client, "lot_list", sort="-expires_on")

    assertContains(response, 'aria-sort="descending"', count=1)


def test_an_expired_lot_is_marked_expired(staff_client, lots):
    response = _get(staff_client, "lot_list", code="F-OLD")

    assertContains(response, '<span class="badge status-rejected">expired</span>', html=True)


def test_lots_are_paginated_fifty_to_a_page_with_the_total_counted_once(staff_client):
    product = ProductFactory()
    LotFactory.create_batch(51, product=product, site=None)

    with CaptureQueriesContext(connection) as queries:
        first = _get(staff_client, "lot_list")
    # Read now: the next request clears the connection's log of queries.
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    second = _get(staff_client, "lot_list", page=2)

    assert len(_shown(first)) == 50 and len(_shown(second)) == 1
    assertContains(first, "51 lots · page 1 of 2")
    assert len(counts) == 1


def test_a_page_never_holds_more_than_fifty_rows(staff_client):
    LotFactory.create_batch(51, product=ProductFactory(), site=None)

    response = _get(staff_client, "lot_list", per_page=1000)

    assert len(_shown(response)) == 50


def test_a_page_number_past_the_end_shows_the_last_page(staff_client, lots):
    response = _get(staff_client, "lot_list", page=7)

    assert response.status_code == 200
    assert len(_shown(response)) == 4


# --- serial units -----------------------------------------------------------------------------


@pytest.fixture
def units():
    today = timezone.localdate()
    drill = SerialProductFactory(sku="DRILL")
    saw = SerialProductFactory(sku="SAW")
    depot = SiteFactory(name="Main depot", code="depot")
    customer = PartyFactory(name="Builders Ltd")
    lot = LotFactory(code="B-77", product=drill)
    return {
        "stock": SerialUnitFactory(serial="D-1", product=drill, lot=lot, holder_site=depot),
        "covered": SerialUnitFactory(
            serial="D-2",
            product=drill,
            lot=lot,
            holder_site=None,
            holder_party=customer,
            status=SerialUnit.Status.SHIPPED,
            shipped_on=today - timedelta(days=30),
            warranty_ends_on=today + timedelta(days=700),
        ),
        "lapsed": SerialUnitFactory(
            serial="S-1",
            product=saw,
            holder_site=None,
            holder_party=customer,
            status=SerialUnit.Status.IN_SERVICE,
            shipped_on=today - timedelta(days=800),
            warranty_ends_on=today - timedelta(days=70),
        ),
        "held": SerialUnitFactory(serial="S-2", product=saw, status=SerialUnit.Status.ON_HOLD),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"serial": "d-"}, {"stock", "covered"}),
        ({"lot": "b-7"}, {"stock", "covered"}),
        ({"status": "on_hold"}, {"held"}),
        ({"holder": "depot"}, {"stock"}),
        ({"holder": "builders"}, {"covered", "lapsed"}),
        ({"warranty": "in"}, {"covered"}),
        ({"warranty": "out"}, {"lapsed"}),
        ({"warranty": "none"}, {"stock", "held"}),
    ],
)
def test_serial_unit_filters_keep_the_matching_units(staff_client, units, params, expected):
    response = _get(staff_client, "serial_list", **params)

    assert {unit.serial for unit in _shown(response)} == {units[key].serial for key in expected}


def test_the_unit_product_filter_offers_serialised_products_only(staff_client, units, lots):
    response = _get(staff_client, "serial_list", product=units["held"].product_id)

    assert {unit.serial for unit in _shown(response)} == {"S-1", "S-2"}
    offered = [
        str(choice[1]) for choice in response.context["filter"].form["product"].field.choices
    ]
    assert not any("FLOUR" in label for label in offered)


def test_units_sort_by_warranty_end(staff_client, units):
    ascending = _shown(_get(staff_client, "serial_list", sort="warranty_ends_on"))
    descending = _shown(_get(staff_client, "serial_list", sort="-warranty_ends_on"))

    # Units without a warranty end come last either way, on SQLite as on PostgreSQL.
    assert [unit.serial for unit in ascending] == ["S-1", "D-2", "D-1", "S-2"]
    assert [unit.serial for unit in descending] == ["D-2", "S-1", "S-2", "D-1"]


def test_a_unit_row_says_whether_it_is_under_warranty(staff_client, units):
    response = _get(staff_client, "serial_list", product=units["held"].product_id)

    assertContains(response, "ended</span>")
    assertNotContains(response, "under warranty</span>")


# --- events -----------------------------------------------------------------------------------


@pytest.fixture
def events():
    plant = SiteFactory(name="Greenvale plant", code="gv-plant")
    store = SiteFactory(name="Corner store", code="corner")
    grocer = PartyFactory(name="Fresh Grocer")
    shipped = TraceEventFactory(
        event_type=TraceEvent.Type.SHIP,
        occurred_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        site=plant,
        destination_party=grocer,
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number="DA-4471",
    )
    EventLineFactory.create_batch(2, event=shipped)
    received = TraceEventFactory(
        event_type=TraceEvent.Type.RECEIVE,
        occurred_at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
        site=store,
        source_party=grocer,
        document_type=TraceEvent.DocumentType.RECEIVING_ADVICE,
        document_number="RA-9",
    )
    made = TraceEventFactory(
        event_type=TraceEvent.Type.PRODUCE,
        occurred_at=datetime(2026, 2, 27, 8, 0, tzinfo=UTC),
        site=plant,
    )
    return {"shipped": shipped, "received": received, "made": made}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"event_type": "ship"}, {"shipped"}),
        ({"site": "GV-PLANT"}, {"shipped", "made"}),
        ({"site": "corner"}, {"received"}),
        ({"party": "fresh"}, {"shipped", "received"}),
        ({"document_number": "da-44"}, {"shipped"}),
        ({"occurred_from": "2026-03-01"}, {"shipped", "received"}),
        ({"occurred_to": "2026-03-02"}, {"shipped", "made"}),
        ({"occurred_from": "2026-03-03", "occurred_to": "2026-03-03"}, {"received"}),
    ],
)
def test_event_filters_keep_the_matching_events(staff_client, events, params, expected):
    response = _get(staff_client, "event_list", **params)

    assert {event.pk for event in _shown(response)} == {events[key].pk for key in expected}


def test_event_dates_are_the_users_local_days(staff_client, events, settings):
    settings.TIME_ZONE = "America/New_York"  # 03:00 UTC on 2 March is 22:00 on 1 March there

    on_the_first = _get(
        staff_client, "event_list", occurred_from="2026-03-01", occurred_to="2026-03-01"
    )

    assert _shown(on_the_first) == [events["shipped"]]
    assertContains(on_the_first, "2026-03-01 22:00")


def test_events_open_latest_first_and_count_their_items(staff_client, events):
    response = _get(staff_client, "event_list")

    shown = _shown(response)
    assert [event.pk for event in shown] == [events[k].pk for k in ("received", "shipped", "made")]
    assert [event.item_count for event in shown] == [0, 2, 0]


# --- parties ----------------------------------------------------------------------------------


@pytest.fixture
def parties():
    return {
        "mill": PartyFactory(
            name="Northern Mill", is_supplier=True, is_customer=False, gln="5412345000013"
        ),
        "grocer": PartyFactory(name="Fresh Grocer", city="Lyon", country="FR"),
        "truck": PartyFactory(name="Fast Trucks", is_carrier=True, is_customer=False, active=False),
        "new": PartyFactory(name="Imported Co", needs_review=True),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "mill"}, {"mill"}),
        ({"q": "5412345"}, {"mill"}),
        ({"q": "lyon"}, {"grocer"}),
        ({"role": "supplier"}, {"mill"}),
        ({"role": "carrier"}, {"truck"}),
        ({"role": "customer"}, {"grocer", "new"}),
        ({"country": " fr "}, {"grocer"}),
        ({"active": "false"}, {"truck"}),
        ({"needs_review": "true"}, {"new"}),
    ],
)
def test_party_filters_keep_the_matching_parties(staff_client, parties, params, expected):
    response = _get(staff_client, "party_list", **params)

    assert {party.name for party in _shown(response)} == {parties[k].name for k in expected}


def test_parties_sort_by_name_either_way(staff_client, parties):
    names = [party.name for party in _shown(_get(staff_client, "party_list", sort="-name"))]

    assert names == ["Northern Mill", "Imported Co", "Fresh Grocer", "Fast Trucks"]


def test_party_names_link_to_the_admin_only_for_staff_accounts(
    client, staff, administrator, parties
):
    client.force_login(staff)
    change = parties["mill"].get_absolute_url()
    assertNotContains(_get(client, "party_list"), f'href="{change}"')

    client.force_login(administrator)
    assertContains(_get(client, "party_list"), f'href="{change}"')


# --- exports ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_each_list_exports_a_header_and_every_row(staff_client, name, export):
    made = [ROWS[name](n) for n in range(3)]

    response = _get(staff_client, name, _export=export)

    assert response.status_code == 200
    today = timezone.localdate().isoformat()
    assert f'filename="{FILE_NAMES[name]}-{today}.{export}"' in response["Content-Disposition"]
    rows = _csv(response) if export == "csv" else _xlsx(response)
    assert rows[0] == HEADERS[name]
    assert len(rows) == 1 + len(made)


def test_the_lot_export_carries_plain_values_of_the_filtered_lots(staff_client, lots):
    response = _get(staff_client, "lot_list", _export="csv", status="on_hold")

    rows = _csv(response)
    assert rows[1:] == [
        [
            "F-SOON",
            "FLOUR",
            lots["soon"].product.name,
            "on hold",
            "100",
            "kg",
            _days(-20),
            _days(5),
            "Northern Mill",
            "NM-7",
            lots["soon"].site.name,
        ]
    ]


def test_the_unit_export_names_the_holder_and_the_warranty(staff_client, units):
    rows = _xlsx(_get(staff_client, "serial_list", _export="xlsx", serial="D-2"))

    assert rows[1][:5] == ["D-2", "DRILL", units["covered"].product.name, "B-77", "shipped"]
    assert rows[1][5:] == [
        "Builders Ltd",
        units["covered"].shipped_on.isoformat(),
        units["covered"].warranty_ends_on.isoformat(),
        "under warranty",
    ]


def test_the_event_export_gives_local_times_with_their_offset(staff_client, events, settings):
    settings.TIME_ZONE = "Europe/Paris"

    rows = _csv(_get(staff_client, "event_list", _export="csv", event_type="ship"))

    assert rows[1][:8] == [
        "2026-03-02 04:00:00 +0100",
        "ship",
        "Greenvale plant",
        "",
        "Fresh Grocer",
        "DA-4471",
        "despatch advice",
        "2",
    ]


def test_a_lot_code_that_looks_like_a_formula_stays_text_in_xlsx(staff_client):
    LotFactory(code="=1+1")

    rows = _xlsx(_get(staff_client, "lot_list", _export="xlsx"))

    assert rows[1][0] == "=1+1"


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("lot_list", {"produced_from": "2026-02-30"}, INVALID_DATE),
        ("lot_list", {"expires_to": "tomorrow"}, INVALID_DATE),
        ("lot_list", {"status": "lost"}, INVALID_CHOICE),
        ("lot_list", {"product": "999999"}, INVALID_CHOICE),
        ("lot_list", {"expiry": "45"}, INVALID_CHOICE),
        ("serial_list", {"warranty": "maybe"}, INVALID_CHOICE),
        ("event_list", {"occurred_from": "03/01/2026x"}, INVALID_DATE),
        ("product_list", {"tracking": "by weight"}, INVALID_CHOICE),
        ("party_list", {"role": "friend"}, INVALID_CHOICE),
    ],
)
def test_bad_filter_input_shows_its_message_and_lists_nothing(staff_client, name, params, message):
    ROWS[name](1)

    response = _get(staff_client, name, **params)

    assert response.status_code == 200
    assertContains(response, message)
    assertContains(response, NOTHING_LISTED)
    assert "Download CSV" not in response.content.decode()


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_bad_filter_input_exports_nothing_and_shows_the_page(staff_client, lots, export):
    response = _get(staff_client, "lot_list", _export=export, produced_from="2026-13-01")

    assert response["Content-Type"].startswith("text/html")
    assertContains(response, INVALID_DATE)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("lot_list", "produced_from", "produced_to"),
        ("lot_list", "expires_from", "expires_to"),
        ("event_list", "occurred_from", "occurred_to"),
    ],
)
def test_dates_the_wrong_way_round_are_refused(staff_client, name, start, end):
    response = _get(staff_client, name, **{start: "2026-05-01", end: "2026-04-01"})

    message = DATES_REVERSED % {"start": "2026-05-01"}
    assert response.context["filter"].form.errors == {end: [message]}
    assertContains(response, NOTHING_LISTED)


def test_a_clear_link_returns_to_the_whole_list(staff_client, lots):
    response = _get(staff_client, "lot_list", status="on_hold")

    assertContains(response, f'<a class="button" href="{reverse("lot_list")}">Clear</a>', html=True)


# --- query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", LISTS)
def test_each_list_runs_the_same_queries_for_3_rows_or_30(
    staff_client, name, django_assert_max_num_queries
):
    for n in range(3):
        ROWS[name](n)
    with CaptureQueriesContext(connection) as few:
        assert len(_shown(_get(staff_client, name))) == 3
    # Read now: the next request clears the connection's log of queries.
    assert len(few.captured_queries) == PAGE_QUERIES[name]
    for n in range(3, 30):
        ROWS[name](n)

    with django_assert_max_num_queries(PAGE_QUERIES[name]):
        assert len(_shown(_get(staff_client, name))) == 30


@pytest.mark.parametrize("name", LISTS)
def test_each_export_runs_the_same_queries_for_3_rows_or_30(
    staff_client, name, django_assert_max_num_queries
):
    for n in range(3):
        ROWS[name](n)
    with CaptureQueriesContext(connection) as few:
        assert len(_csv(_get(staff_client, name, _export="csv"))) == 4
    queries = len(few.captured_queries)  # before the next request clears the log
    assert queries <= PAGE_QUERIES[name]
    for n in range(3, 30):
        ROWS[name](n)

    with django_assert_max_num_queries(queries):
        assert len(_csv(_get(staff_client, name, _export="csv"))) == 31


def test_products_in_every_list_link_to_their_product_page(staff_client, lots, products):
    url = reverse("product_detail", args=[lots["soon"].product_id])

    assertContains(_get(staff_client, "lot_list"), f'href="{url}"')
    assertContains(_get(staff_client, "product_list"), f'href="{url}"')


def test_the_lot_lists_first_order_has_an_index_in_that_order():
    """Newest first is read off an index, not sorted from every lot (see migration 0008)."""
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, "inventory_lot")

    assert indexes["lot_produced_desc_idx"]["columns"] == ["produced_on", "item_id"]
