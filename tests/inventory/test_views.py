"""The trace page and the lot and serial unit pages: what a quality manager sees and may change."""

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from itertools import pairwise

import openpyxl
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from pytest_django.asserts import assertContains, assertNotContains

from inventory.forms import (
    STATUS_NOT_OFFERED,
    STATUS_REQUIRED,
    TRACE_DATES_NEED_PRODUCT,
    TRACE_DATES_ORDER,
    TRACE_NEEDS_DATES,
    TRACE_NEEDS_INPUT,
    TRACE_ONE_WAY,
    UNKNOWN_PRODUCT,
)
from inventory.models import (
    EventLine,
    Genealogy,
    Lot,
    SerialUnit,
    ServiceRecord,
    StatusChange,
    TraceEvent,
    Unit,
)
from inventory.services import (
    REASON_REQUIRED,
    Line,
    item_change_status,
    lot_create,
    serial_unit_create,
    serial_unit_install,
    service_record_create,
    shipment_create,
)
from traceability.roles import NO_ROLE_MESSAGE

from .factories import (
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    TraceEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NO_MATCH = "No lot or serial unit matches {}."
WRONG_CHECK_DIGIT = "GTIN {} has a wrong check digit (expected {})."
CSV_HEADER = ["Role", "Depth", "Kind", "SKU", "GTIN", "Lot", "Serial", "Reached through"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# What a page may run whatever the size of what it shows: session, user, roles and permissions
# (5), the page's reads, and each trace (one statement; PostgreSQL first sets the planner up).
# Counted on the pages, then fixed here, so that one query per row fails the tests.
# On PostgreSQL: planner settings, the trace, and the settings put back inside a transaction.
_PER_TRACE = 3 if connection.vendor == "postgresql" else 1
# + the identifier's lots, the parties' contacts
TRACE_PAGE_QUERIES = 5 + 2 + _PER_TRACE
# + the lot, its status changes, its events, the parties of each trace, its recall lines,
# our sites and its stock on hand, and its quality card: the specification in force, its tests,
# results, serial units (tested per unit), deviations and release decisions; the readings of its
# events, and its process conditions card (readings and excursions); the non-conformances
# naming it
LOT_PAGE_QUERIES = 5 + 8 + 6 + 2 * _PER_TRACE + 3 + 1
# + the unit, status changes, components, service records and their parts, events, parties,
# recall lines, owners, warranty claims, returns, public checks (with their count), counterfeit
# flags, test results (tested per unit); the readings of its events, and its process conditions
# card (readings and excursions); the non-conformances naming it
SERIAL_PAGE_QUERIES = 5 + 15 + 2 * _PER_TRACE + 3 + 1


# --- Reading pages ----------------------------------------------------------------------------


@dataclass
class TreeRow:
    level: int
    text: str
    href: str


class Page(HTMLParser):
    """A page's tables (under their card's heading), trees (by label) and facts, as plain text."""

    def __init__(self, response):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.trees: dict[str, list[TreeRow]] = {}
        self.facts: dict[str, str] = {}
        self.messages: list[str] = []
        self._heading = ""
        self._h2 = self._h2_span = False
        self._buffers: list[list[str]] = []
        self._table = self._tree = None
        self._row = self._cell = self._li = self._link = self._dt = self._dd = None
        self._message = None
        self._term = ""
        self.feed(response.content.decode())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self._h2, self._heading = True, ""
        elif tag == "span" and self._h2:
            self._h2_span = True
        elif tag == "table":
            self._table = self.tables.setdefault(self._heading, [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = self._open()
        elif tag == "ol" and "aria-label" in attrs:
            self._tree = self.trees.setdefault(attrs["aria-label"], [])
        elif tag == "li" and self._tree is not None:
            level = next(c for c in attrs["class"].split() if c.startswith("lvl-"))
            self._li = TreeRow(int(level.removeprefix("lvl-")), "", "")
        elif tag == "li" and "message" in attrs.get("class", ""):
            self._message = self._open()
        elif tag == "a" and self._li is not None and not self._li.href:
            self._li.href = attrs["href"]
            self._link = self._open()
        elif tag == "dt":
            self._dt = self._open()
        elif tag == "dd":
            self._dd = self._open()
        elif tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._h2 = False
        elif tag == "span" and self._h2_span:
            self._h2_span = False
        elif tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self._table.append(self._row)
            self._row = None
        elif tag == "td" and self._cell is not None:
            self._row.append(self._close(self._cell))
            self._cell = None
        elif tag == "ol":
            self._tree = None
        elif tag == "li" and self._li is not None:
            self._tree.append(self._li)
            self._li = None
        elif tag == "li" and self._message is not None:
            self.messages.append(self._close(self._message))
            self._message = None
        elif tag == "a" and self._link is not None:
            self._li.text = self._close(self._link)
            self._link = None
        elif tag == "dt" and self._dt is not None:
            self._term = self._close(self._dt)
            self._dt = None
        elif tag == "dd" and self._dd is not None:
            self.facts[self._term] = self._close(self._dd)
            self._dd = None

    def handle_data(self, data):
        if self._h2 and not self._h2_span:
            self._heading = (self._heading + data).strip()
        for buffer in self._buffers:
            buffer.append(data)

    def _open(self):
        buffer = []
        self._buffers.append(buffer)
        return buffer

    def _close(self, buffer):
        self._buffers.remove(buffer)
        return " ".join("".join(buffer).split())


def text(response):
    """The page as a person reads it: no tags, single spaces."""
    return " ".join(strip_tags(response.content.decode()).split())


def tree(page, label):
    return [(row.level, row.text, row.href) for row in page.trees[label]]


def lot_url(lot):
    return reverse("lot_detail", args=[lot.pk])


def serial_url(unit):
    return reverse("serial_detail", args=[unit.pk])


def field_error(message):
    return f'<p class="field-error" role="alert">{message}</p>'


def status_changes_written():
    return (
        StatusChange.objects.count(),
        TraceEvent.objects.filter(event_type=TraceEvent.Type.STATUS_CHANGE).count(),
    )


# --- Data -------------------------------------------------------------------------------------


@pytest.fixture
def clerk(db):
    return UserFactory(username="clerk")


@pytest.fixture
def plant(db):
    return SiteFactory(code="plant", name="Riverside Plant")


@pytest.fixture
def mills(db):
    return PartyFactory(
        name="Mills Ltd",
        is_supplier=True,
        is_customer=False,
        contact_name="Morgan Miller",
        email="quality@mills.example",
        phone="+44 20 7946 0000",
        street="2 Mill Lane",
        postal_code="AB1 2CD",
        city="Millbrook",
        country="GB",
    )


@pytest.fixture
def deli(db):
    return PartyFactory(
        name="Corner Deli",
        contact_name="Dana Deli",
        email="recalls@deli.example",
        phone="+1 555 0199",
        street="1 Main St",
        postal_code="12345",
        city="Springfield",
        country="US",
    )


@dataclass
class Chain:
    resin: Lot
    housing: Lot
    build: Lot
    drill: SerialUnit


@pytest.fixture
def chain(clerk, plant, mills, deli):
    """Resin from Mills went into housings, one of which is in drill D-0001, sold to the deli."""
    resin = lot_create(
        product=ProductFactory(sku="RESIN", name="ABS resin"),
        code="R-77",
        quantity=Decimal("25.5"),
        supplier=mills,
        supplier_lot_code="SUP-9001",
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=clerk,
    )
    housing = lot_create(
        product=ProductFactory(sku="HOUSING", name="Drill housing", unit=Unit.EACH),
        code="H-12",
        quantity=Decimal("50"),
        inputs=[Line(resin, Decimal("5"))],
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=clerk,
    )
    drill_product = SerialProductFactory(sku="DRILL", name="Cordless drill")
    build = lot_create(
        product=drill_product,
        code="PL-0303",
        quantity=Decimal("10"),
        site=plant,
        produced_on=date(2026, 3, 3),
        acting_user=clerk,
    )
    drill = serial_unit_create(
        product=drill_product,
        serial="D-0001",
        lot=build,
        inputs=[Line(housing, Decimal("1"))],
        site=plant,
        produced_on=date(2026, 3, 3),
        acting_user=clerk,
    )
    shipment_create(
        serial_units=[drill],
        from_site=plant,
        to_party=deli,
        shipped_at=date(2026, 3, 10),
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number="DA-5501",
        acting_user=clerk,
    )
    drill.refresh_from_db()
    return Chain(resin=resin, housing=housing, build=build, drill=drill)


@pytest.fixture
def graph(plant):
    """A root lot and 200 items in 10 levels below it, from 5 suppliers, sold to 20 customers."""
    product = ProductFactory(sku="BULK")
    suppliers = PartyFactory.create_batch(5, is_supplier=True, is_customer=False)
    levels = [[LotFactory(product=product, code="ROOT", site=plant, supplier=suppliers[0])]]
    for depth in range(1, 10):
        levels.append(
            [
                LotFactory(
                    product=product, code=f"D{depth}-{n}", site=plant, supplier=suppliers[n % 5]
                )
                for n in range(20)
            ]
        )
    units = SerialProductFactory(sku="BULK-UNIT")
    levels.append(
        [SerialUnitFactory(product=units, serial=f"U-{n}", holder_site=plant) for n in range(20)]
    )
    event = TraceEventFactory(event_type=TraceEvent.Type.TRANSFORM)
    Genealogy.objects.bulk_create(
        Genealogy(parent_id=parent.pk, child_id=child.pk, event=event)
        for above, below in pairwise(levels)
        for n, child in enumerate(below)
        for parent in {above[n % len(above)], above[(n + 1) % len(above)]}
    )
    for n, customer in enumerate(PartyFactory.create_batch(20)):
        shipment = TraceEventFactory(event_type=TraceEvent.Type.SHIP, destination_party=customer)
        EventLine.objects.bulk_create(
            EventLine(event=shipment, event_type=shipment.event_type, item_id=item.pk)
            for item in (levels[9][n], levels[10][n])
        )
    return levels


@pytest.fixture
def busy_lot(clerk, plant, mills):
    """A lot with many status changes, shipments, and lots made from it."""
    lot = lot_create(
        product=ProductFactory(sku="BUSY"),
        code="B-1",
        quantity=Decimal("1000"),
        supplier=mills,
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=clerk,
    )
    for n in range(10):
        status = Lot.Status.ON_HOLD if n % 2 == 0 else Lot.Status.RELEASED
        item_change_status(item=lot, status=status, reason=f"Check {n}", acting_user=clerk)
    for customer in PartyFactory.create_batch(10):
        shipment_create(
            lots=[Line(lot, Decimal("1"))],
            from_site=plant,
            to_party=customer,
            shipped_at=date(2026, 3, 5),
            acting_user=clerk,
        )
    for n in range(10):
        child = lot_create(
            product=ProductFactory(),
            code=f"C-{n}",
            quantity=Decimal("10"),
            inputs=[Line(lot, Decimal("5"))],
            site=plant,
            produced_on=date(2026, 3, 6),
            acting_user=clerk,
        )
        shipment_create(
            lots=[Line(child, Decimal("1"))],
            from_site=plant,
            to_party=PartyFactory(),
            shipped_at=date(2026, 3, 7),
            acting_user=clerk,
        )
    return lot


@pytest.fixture
def busy_unit(clerk, plant):
    """A unit built in a lot from supplied parts, sold, with parts swapped in ten services."""
    product = SerialProductFactory(sku="PUMP")
    suppliers = PartyFactory.create_batch(5, is_supplier=True, is_customer=False)
    build = lot_create(
        product=product,
        code="PL-1",
        quantity=Decimal("1"),
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=clerk,
    )
    unit = serial_unit_create(
        product=product,
        serial="P-1",
        lot=build,
        inputs=[
            Line(LotFactory(site=plant, supplier=supplier), Decimal("1")) for supplier in suppliers
        ],
        site=plant,
        acting_user=clerk,
    )
    seal = SerialProductFactory(sku="SEAL")
    parts = [
        serial_unit_create(product=seal, serial=f"S-{n}", site=plant, acting_user=clerk)
        for n in range(20)
    ]
    for part in parts[:10]:
        serial_unit_install(
            component=part, assembly=unit, occurred_at=date(2026, 3, 2), acting_user=clerk
        )
    shipment_create(
        serial_units=[unit],
        from_site=plant,
        to_party=PartyFactory(),
        shipped_at=date(2026, 3, 20),
        acting_user=clerk,
    )
    for n in range(10):
        service_record_create(
            serial_unit=unit,
            kind=ServiceRecord.Kind.COMPONENT_REPLACEMENT,
            performed_on=date(2026, 4, 1) + timedelta(days=n),
            description=f"Seal {n} worn",
            parts_removed=[SerialUnit.objects.get(pk=parts[n].pk)],
            parts_fitted=[parts[10 + n]],
            acting_user=clerk,
        )
    for status in (SerialUnit.Status.ON_HOLD, SerialUnit.Status.IN_STOCK):
        item_change_status(item=unit, status=status, reason="Leak test", acting_user=clerk)
    return unit


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


# --- Trace page: the form ---------------------------------------------------------------------


def test_the_trace_page_opens_with_an_empty_form_and_no_results(manager_client):
    response = manager_client.get(reverse("trace"))

    assert response.status_code == 200
    assert not response.context["form"].is_bound
    assert "result" not in response.context
    assertContains(response, 'name="q"')
    assertNotContains(response, "<h2>Tree</h2>")
    assertNotContains(response, 'role="alert"')


def test_submitting_the_form_empty_asks_for_an_identifier(manager_client):
    response = manager_client.get(reverse("trace"), {"q": "", "direction": "forward"})

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, f"<p>{TRACE_NEEDS_INPUT}</p>")


# --- Trace page: results ----------------------------------------------------------------------


def test_a_forward_trace_shows_every_item_in_a_tree_linked_to_its_page(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "direction": "forward"})

    assert response.status_code == 200
    assert tree(Page(response), "Trace tree") == [
        (0, "RESIN lot R-77", lot_url(chain.resin)),
        (1, "HOUSING lot H-12", lot_url(chain.housing)),
        (2, "DRILL serial D-0001", serial_url(chain.drill)),
    ]


def test_a_forward_trace_sums_up_items_consignees_and_suppliers(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "direction": "forward"})

    assert "Forward trace from RESIN lot R-77: 2 items reached, 1 consignee, 1 supplier." in text(
        response
    )


def test_a_forward_trace_lists_roots_and_reached_items_in_the_items_table(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "direction": "forward"})

    assert Page(response).tables["Items"] == [
        [
            "starting item",
            "RESIN lot R-77",
            "0",
            "lot",
            "RESIN",
            chain.resin.product.gtin,
            "R-77",
            "",
            "—",
        ],
        [
            "reached",
            "HOUSING lot H-12",
            "1",
            "lot",
            "HOUSING",
            chain.housing.product.gtin,
            "H-12",
            "",
            "RESIN lot R-77",
        ],
        [
            "reached",
            "DRILL serial D-0001",
            "2",
            "serial",
            "DRILL",
            chain.drill.product.gtin,
            "PL-0303",
            "D-0001",
            "RESIN lot R-77 → HOUSING lot H-12",
        ],
    ]


def test_a_forward_trace_lists_consignees_with_what_a_recall_notice_needs(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "direction": "forward"})

    assert Page(response).tables["Consignees"] == [
        [
            "Corner Deli",
            "Dana Deli recalls@deli.example +1 555 0199",
            "1 Main St, 12345 Springfield, US",
            "DRILL serial D-0001",
        ]
    ]
    assertContains(response, '<a href="mailto:recalls@deli.example">recalls@deli.example</a>')


def test_a_forward_trace_lists_the_suppliers_of_the_traced_items(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "direction": "forward"})

    assert Page(response).tables["Suppliers"] == [
        [
            "Mills Ltd",
            "Morgan Miller quality@mills.example +44 20 7946 0000",
            "2 Mill Lane, AB1 2CD Millbrook, GB",
            "RESIN lot R-77",
        ]
    ]


def test_the_direction_is_forward_when_the_query_leaves_it_out(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77"})

    assert response.context["result"].direction == "forward"
    assertContains(response, "<strong>Forward trace</strong>")
    assertContains(response, 'value="forward" id="id_direction_0" checked')
    assert [row[:2] for row in tree(Page(response), "Trace tree")] == [
        (0, "RESIN lot R-77"),
        (1, "HOUSING lot H-12"),
        (2, "DRILL serial D-0001"),
    ]


def test_a_backward_trace_shows_what_went_into_a_unit(manager_client, chain):
    response = manager_client.get(
        reverse("trace"), {"q": "DRILL serial D-0001", "direction": "backward"}
    )

    page = Page(response)
    assertContains(response, "<strong>Backward trace</strong>")
    assert [row[:2] for row in tree(page, "Trace tree")] == [
        (0, "DRILL serial D-0001"),
        (1, "DRILL lot PL-0303"),
        (1, "HOUSING lot H-12"),
        (2, "RESIN lot R-77"),
    ]
    assert [row[0] for row in page.tables["Suppliers"]] == ["Mills Ltd"]


@pytest.mark.parametrize(
    "query",
    [
        "RESIN lot R-77",
        "(01){gtin}(10)R-77",
        "https://id.gs1.org/01/{gtin}/10/R-77",
        "{gtin} R-77",
        "SUP-9001",
    ],
    ids=["SKU lot CODE", "GS1 element string", "Digital Link", "GTIN and code", "supplier's lot"],
)
def test_every_way_of_naming_a_lot_traces_it(manager_client, chain, query):
    q = query.format(gtin=chain.resin.product.gtin)

    response = manager_client.get(reverse("trace"), {"q": q})

    assert response.status_code == 200
    assert [root.label for root in response.context["result"].roots] == ["RESIN lot R-77"]
    assert len(tree(Page(response), "Trace tree")) == 3


def test_an_unknown_identifier_is_reported_under_the_field_with_no_results(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "NO-SUCH-LOT"})

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, field_error(NO_MATCH.format("NO-SUCH-LOT")), html=True)
    assertNotContains(response, "<h2>Tree</h2>")


def test_a_code_that_names_several_items_asks_for_the_sku(manager_client, chain):
    LotFactory(product=ProductFactory(sku="GLUE"), code="H-12")

    response = manager_client.get(reverse("trace"), {"q": "H-12"})

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, "H-12 matches 2 items (")
    assertContains(response, "add the SKU.")


@pytest.mark.parametrize("form", ["(01){gtin}(10)R-77", "{gtin} R-77"], ids=["GS1", "GTIN code"])
def test_a_wrong_gtin_check_digit_is_reported_with_the_expected_digit(manager_client, chain, form):
    gtin = chain.resin.product.gtin
    wrong = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)

    response = manager_client.get(reverse("trace"), {"q": form.format(gtin=wrong)})

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, field_error(WRONG_CHECK_DIGIT.format(wrong, gtin[-1])), html=True)


@pytest.mark.parametrize(
    "query",
    [
        "(",
        "(01)",
        "(17)991399(10)X",
        "]d20109501100000002",
        "https://id.gs1.org/",
        "urn:epc:id:sgtin:1.2.3",
        "urn:epc:id:sgtin:abc.def.1",
        "urn:epc:id:grai:1.2.3",
        "one two three four",
        "x" * 501,
        "\x00",
    ],
)
def test_a_malformed_identifier_is_reported_under_the_field_never_a_server_error(
    manager_client, query
):
    response = manager_client.get(reverse("trace"), {"q": query})

    assert response.status_code == 200
    assert "result" not in response.context
    assert len(response.context["form"].errors["q"]) == 1
    assertContains(response, '<p class="field-error" role="alert">')


# --- Trace page: a product's production dates -------------------------------------------------


@pytest.fixture
def housings(chain, plant):
    """H-12 (2 March, in the chain), H-13 (5 March) and H-20 (1 April) of the same product."""
    product = chain.housing.product
    return [
        chain.housing,
        LotFactory(product=product, code="H-13", produced_on=date(2026, 3, 5), site=plant),
        LotFactory(product=product, code="H-20", produced_on=date(2026, 4, 1), site=plant),
    ]


@pytest.mark.parametrize("by", ["sku", "gtin"])
def test_a_product_and_dates_trace_every_lot_produced_in_the_range(manager_client, housings, by):
    product = housings[0].product

    response = manager_client.get(
        reverse("trace"),
        {
            "product": getattr(product, by),
            "produced_from": "2026-03-01",
            "produced_to": "2026-03-31",
        },
    )

    assert response.status_code == 200
    assert [root.label for root in response.context["result"].roots] == [
        "HOUSING lot H-12",
        "HOUSING lot H-13",
    ]
    assert [row[:2] for row in tree(Page(response), "Trace tree")] == [
        (0, "HOUSING lot H-12"),
        (1, "DRILL serial D-0001"),
        (0, "HOUSING lot H-13"),
    ]
    assertNotContains(response, "H-20")


def test_a_date_range_without_production_says_so(manager_client, housings):
    response = manager_client.get(
        reverse("trace"),
        {"product": "HOUSING", "produced_from": "2025-01-01", "produced_to": "2025-12-31"},
    )

    assert response.status_code == 200
    assert response.context["result"].roots == []
    assertContains(response, "No lot or unit was produced in that date range.")
    assertContains(response, "Nothing was reached from here.")


@pytest.mark.parametrize(
    "dates",
    [{"produced_from": "2026-03-01"}, {"produced_to": "2026-03-31"}, {}],
    ids=["no last date", "no first date", "no dates"],
)
def test_a_product_without_both_dates_asks_for_them(manager_client, housings, dates):
    response = manager_client.get(reverse("trace"), {"product": "HOUSING", **dates})

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, f"<p>{TRACE_NEEDS_DATES}</p>")


def test_reversed_dates_are_refused(manager_client, housings):
    response = manager_client.get(
        reverse("trace"),
        {"product": "HOUSING", "produced_from": "2026-03-31", "produced_to": "2026-03-01"},
    )

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, f"<p>{TRACE_DATES_ORDER}</p>")


def test_an_unknown_product_is_reported_under_the_product_field(manager_client, housings):
    response = manager_client.get(
        reverse("trace"),
        {"product": "NOPE", "produced_from": "2026-03-01", "produced_to": "2026-03-31"},
    )

    assert response.status_code == 200
    assert "result" not in response.context
    assertContains(response, field_error(UNKNOWN_PRODUCT % {"value": "NOPE"}), html=True)
    assertContains(response, '<details class="range" open>')


# --- Trace page: exports and sorting ----------------------------------------------------------


def test_the_csv_export_has_a_header_and_one_row_per_item_roots_included(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "_export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="trace-forward.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        CSV_HEADER,
        ["root", "0", "lot", "RESIN", chain.resin.product.gtin, "R-77", "", ""],
        [
            "reached",
            "1",
            "lot",
            "HOUSING",
            chain.housing.product.gtin,
            "H-12",
            "",
            "RESIN lot R-77",
        ],
        [
            "reached",
            "2",
            "serial",
            "DRILL",
            chain.drill.product.gtin,
            "PL-0303",
            "D-0001",
            "RESIN lot R-77 → HOUSING lot H-12",
        ],
    ]


def test_the_csv_export_carries_every_item_not_one_page_of_the_table(manager_client, graph):
    response = manager_client.get(reverse("trace"), {"q": "BULK lot ROOT", "_export": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 1 + 1 + 200
    assert (
        len(Page(manager_client.get(reverse("trace"), {"q": "BULK lot ROOT"})).tables["Items"])
        == 50
    )


def test_the_xlsx_export_is_a_workbook_with_the_items(manager_client, chain):
    response = manager_client.get(
        reverse("trace"), {"q": "DRILL serial D-0001", "direction": "backward", "_export": "xlsx"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == 'attachment; filename="trace-backward.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert [cell.value for cell in sheet[1]] == CSV_HEADER
    assert [sheet["D2"].value, sheet["G2"].value] == ["DRILL", "D-0001"]
    assert sheet.max_row == 1 + 4


def test_the_xlsx_export_keeps_a_lot_code_that_looks_like_a_formula_as_text(
    manager_client, clerk, plant
):
    lot_create(
        product=ProductFactory(sku="SALT"),
        code="=1+2",
        quantity=Decimal("5"),
        site=plant,
        acting_user=clerk,
    )

    response = manager_client.get(reverse("trace"), {"q": "SALT lot =1+2", "_export": "xlsx"})

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert (sheet["F2"].value, sheet["F2"].data_type) == ("=1+2", "s")


def test_an_export_of_a_query_that_does_not_trace_shows_the_page_with_its_error(manager_client):
    response = manager_client.get(reverse("trace"), {"q": "NO-SUCH-LOT", "_export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assertContains(response, field_error(NO_MATCH.format("NO-SUCH-LOT")), html=True)


def test_the_items_table_sorts_by_a_column(manager_client, chain):
    response = manager_client.get(reverse("trace"), {"q": "RESIN lot R-77", "sort": "-depth"})

    assert response.status_code == 200
    assert [row[2] for row in Page(response).tables["Items"]] == ["2", "1", "0"]
    assertContains(response, 'href="?q=RESIN+lot+R-77&amp;sort=depth">Depth</a>')


def test_the_export_links_keep_the_query(manager_client, chain):
    response = manager_client.get(
        reverse("trace"), {"q": "DRILL serial D-0001", "direction": "backward"}
    )

    assertContains(response, 'href="?q=DRILL+serial+D-0001&amp;direction=backward&amp;_export=csv"')


# --- Constant queries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "query"), [("chain", "RESIN lot R-77"), ("graph", "BULK lot ROOT")]
)
def test_the_trace_page_runs_the_same_queries_for_3_items_or_200(
    manager_client, request, django_assert_max_num_queries, data, query
):
    request.getfixturevalue(data)

    with django_assert_max_num_queries(TRACE_PAGE_QUERIES):
        response = manager_client.get(reverse("trace"), {"q": query})

    assert response.status_code == 200
    assert len(response.context["tree"]) in (3, 201)


@pytest.mark.parametrize("data", ["few", "many"])
def test_the_lot_page_runs_the_same_queries_for_a_quiet_or_a_busy_lot(
    manager_client, request, plant, django_assert_max_num_queries, data
):
    lot = request.getfixturevalue("busy_lot") if data == "many" else LotFactory(site=plant)

    with django_assert_max_num_queries(LOT_PAGE_QUERIES):
        response = manager_client.get(lot_url(lot))

    assert response.status_code == 200
    if data == "many":
        page = Page(response)
        assert len(page.tables["Status history"]) == 10
        assert len(page.tables["Events"]) == 1 + 10 + 10 + 10
        assert len(page.tables["Consignees"]) == 20
        assert len(page.trees["Downstream"]) == 1 + 10


@pytest.mark.parametrize("data", ["few", "many"])
def test_the_serial_page_runs_the_same_queries_for_a_new_or_a_much_serviced_unit(
    manager_client, request, plant, django_assert_max_num_queries, data
):
    unit = (
        request.getfixturevalue("busy_unit")
        if data == "many"
        else SerialUnitFactory(holder_site=plant)
    )

    with django_assert_max_num_queries(SERIAL_PAGE_QUERIES):
        response = manager_client.get(serial_url(unit))

    assert response.status_code == 200
    if data == "many":
        page = Page(response)
        assert len(page.tables["Service records"]) == 10
        assert len(page.tables["Status history"]) == 2
        assert len(page.trees["Upstream"]) == 1 + 1 + 5 + 20
        assert len(page.tables["Consignees"]) == 1
        assertContains(response, "Fitted: ", count=10)


# --- Lot page ---------------------------------------------------------------------------------


def test_the_lot_page_shows_the_key_data(manager_client, chain):
    response = manager_client.get(lot_url(chain.resin))

    assert response.status_code == 200
    facts = Page(response).facts
    assert {name: facts[name] for name in facts if name != "Expiry"} == {
        "Product": "ABS resin RESIN",
        "GTIN": chain.resin.product.gtin,
        "Quantity": "25.5 kg",
        "Produced or received": "2026-03-01",
        "Site": "Riverside Plant",
        "Supplier": "Mills Ltd",
        "Supplier's lot code": "SUP-9001",
    }
    assert facts["Expiry"].startswith("2026-05-30")
    assertContains(response, '<span class="badge status-released">released</span>')


def test_the_lot_page_shows_status_changes_with_their_labels(manager_client, chain, clerk):
    item_change_status(
        item=chain.resin,
        status=Lot.Status.ON_HOLD,
        reason="Supplier notice SN-88",
        acting_user=clerk,
    )

    response = manager_client.get(lot_url(chain.resin))

    [row] = Page(response).tables["Status history"]
    assert row[1:] == ["released → on hold", "clerk", "Supplier notice SN-88"]
    assertContains(response, '<span class="badge status-on_hold">on hold</span>')


def test_a_lot_without_status_changes_says_so(manager_client, chain):
    response = manager_client.get(lot_url(chain.resin))

    assert "Status history" not in Page(response).tables
    assertContains(response, "The status has not changed since it was recorded.")


def test_the_lot_page_shows_what_it_went_into_and_what_went_into_it(manager_client, chain):
    page = Page(manager_client.get(lot_url(chain.housing)))

    assert tree(page, "Downstream") == [
        (0, "HOUSING lot H-12", lot_url(chain.housing)),
        (1, "DRILL serial D-0001", serial_url(chain.drill)),
    ]
    assert tree(page, "Upstream") == [
        (0, "HOUSING lot H-12", lot_url(chain.housing)),
        (1, "RESIN lot R-77", lot_url(chain.resin)),
    ]


def test_a_lot_that_went_into_nothing_says_so_instead_of_a_tree(manager_client, plant):
    lot = LotFactory(site=plant)

    response = manager_client.get(lot_url(lot))

    assert Page(response).trees == {}
    assertContains(response, "Nothing made from it yet.")
    assertContains(response, "Nothing recorded as going into it.")
    assertContains(response, "No trading partner has received it or anything made from it.")


def test_the_lot_page_lists_who_received_anything_made_from_it(manager_client, chain):
    page = Page(manager_client.get(lot_url(chain.resin)))

    assert page.tables["Consignees"] == [
        [
            "Corner Deli",
            "Dana Deli recalls@deli.example +1 555 0199",
            "1 Main St, 12345 Springfield, US",
            "DRILL serial D-0001",
        ]
    ]


RECORDED = "clerk Record readings"


def test_the_lot_page_shows_its_events_oldest_first(manager_client, chain):
    page = Page(manager_client.get(lot_url(chain.resin)))

    assert [row[1:] for row in page.tables["Events"]] == [
        # A manager may record readings on each event (process conditions).
        ["Receive", "25.5 kg", "Riverside Plant", "Mills Ltd", "Riverside Plant", "—", RECORDED],
        ["Transform (input)", "5 kg", "Riverside Plant", "—", "—", "—", RECORDED],
    ]
    assert [row[0] for row in page.tables["Events"]] == [
        "2026-03-01 12:00 UTC",
        "2026-03-02 12:00 UTC",
    ]


def test_the_lot_page_links_to_its_full_traces(manager_client, chain):
    response = manager_client.get(lot_url(chain.resin))

    trace = reverse("trace")
    assertContains(response, f'href="{trace}?q=RESIN+lot+R-77&direction=forward"')
    assertContains(response, f'href="{trace}?q=RESIN+lot+R-77&direction=backward"')


def test_a_long_downstream_tree_is_cut_with_a_link_to_the_full_trace(manager_client, graph):
    response = manager_client.get(lot_url(graph[0][0]))

    assert len(Page(response).trees["Downstream"]) == 150
    assertContains(response, "Showing 150 of 201 items.")
    assertContains(response, '<a href="/trace/?q=BULK+lot+ROOT&amp;direction=forward">')


def test_an_unknown_lot_is_not_found(manager_client, chain):
    assert manager_client.get(reverse("lot_detail", args=[999_999])).status_code == 404


def test_a_serial_unit_is_not_found_on_the_lot_page(manager_client, chain):
    assert manager_client.get(reverse("lot_detail", args=[chain.drill.pk])).status_code == 404


def test_a_manager_sees_the_status_form_with_the_other_statuses(manager_client, chain):
    response = manager_client.get(lot_url(chain.resin))

    form = response.context["status_form"]
    assert [value for value, _ in form.fields["status"].choices] == [
        "",
        "quarantined",
        "on_hold",
        "rejected",
        "consumed",
        "destroyed",
    ]
    assertContains(response, f'action="{reverse("lot_status", args=[chain.resin.pk])}"')


def test_quality_staff_do_not_see_the_status_form(client, staff, chain):
    client.force_login(staff)

    response = client.get(lot_url(chain.resin))

    assert response.status_code == 200
    assert response.context["status_form"] is None
    assertNotContains(response, "Change status")


# --- Status changes ---------------------------------------------------------------------------


def test_a_manager_puts_a_lot_on_hold_with_a_reason(manager_client, manager, chain):
    url = reverse("lot_status", args=[chain.resin.pk])

    response = manager_client.post(url, {"status": "on_hold", "reason": "Supplier notice SN-88"})

    assert response.status_code == 302
    assert response.url == lot_url(chain.resin)
    chain.resin.refresh_from_db()
    assert chain.resin.status == Lot.Status.ON_HOLD
    change = StatusChange.objects.get()
    assert (change.item_id, change.from_status, change.to_status) == (
        chain.resin.pk,
        "released",
        "on_hold",
    )
    assert (change.reason, change.changed_by) == ("Supplier notice SN-88", manager)
    assert change.event.event_type == TraceEvent.Type.STATUS_CHANGE
    assert list(change.event.lines.values_list("item_id", flat=True)) == [chain.resin.pk]


def test_after_a_status_change_the_page_confirms_it(manager_client, chain):
    url = reverse("lot_status", args=[chain.resin.pk])

    response = manager_client.post(url, {"status": "on_hold", "reason": "SN-88"}, follow=True)

    assert response.redirect_chain == [(lot_url(chain.resin), 302)]
    assert Page(response).messages == ["RESIN lot R-77 is now on hold."]
    assert Page(response).tables["Status history"][0][1] == "released → on hold"


def test_a_manager_changes_a_units_status(manager_client, manager, chain):
    url = reverse("serial_status", args=[chain.drill.pk])

    response = manager_client.post(url, {"status": "returned", "reason": "RMA 4411"}, follow=True)

    assert response.redirect_chain == [(serial_url(chain.drill), 302)]
    assert Page(response).messages == ["DRILL serial D-0001 is now returned."]
    chain.drill.refresh_from_db()
    assert chain.drill.status == SerialUnit.Status.RETURNED
    change = StatusChange.objects.get()
    assert (change.item_id, change.from_status, change.to_status, change.changed_by) == (
        chain.drill.pk,
        "shipped",
        "returned",
        manager,
    )
    assert change.event.event_type == TraceEvent.Type.STATUS_CHANGE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "on_hold", "reason": ""}, REASON_REQUIRED),
        ({"status": "on_hold", "reason": "   "}, REASON_REQUIRED),
        ({"status": "on_hold"}, REASON_REQUIRED),
        ({"status": "", "reason": "SN-88"}, STATUS_REQUIRED),
    ],
    ids=["empty reason", "blank reason", "no reason", "no status"],
)
def test_a_status_change_without_a_reason_or_status_is_refused(
    manager_client, chain, data, message
):
    url = reverse("lot_status", args=[chain.resin.pk])

    response = manager_client.post(url, data, follow=True)

    assert response.redirect_chain == [(lot_url(chain.resin), 302)]
    assert Page(response).messages == [str(message)]
    chain.resin.refresh_from_db()
    assert chain.resin.status == Lot.Status.RELEASED
    assert status_changes_written() == (0, 0)


def test_a_status_set_by_other_actions_cannot_be_chosen_by_hand(manager_client, chain):
    url = reverse("lot_status", args=[chain.resin.pk])

    response = manager_client.post(url, {"status": "recalled", "reason": "SN-88"}, follow=True)

    assert Page(response).messages == [str(STATUS_NOT_OFFERED % {"value": "recalled"})]
    assert status_changes_written() == (0, 0)


def test_a_code_and_a_product_range_together_are_refused(manager_client, chain):
    response = manager_client.get(
        reverse("trace"),
        {
            "q": "RESIN lot R-77",
            "product": "RESIN",
            "produced_from": "2026-03-01",
            "produced_to": "2026-03-31",
        },
    )

    assertContains(response, str(TRACE_ONE_WAY))
    assert "result" not in response.context


def test_dates_without_a_product_ask_for_the_product(manager_client, chain):
    response = manager_client.get(
        reverse("trace"), {"produced_from": "2026-03-01", "produced_to": "2026-03-31"}
    )

    assert response.context["form"].errors["product"] == [str(TRACE_DATES_NEED_PRODUCT)]


def test_a_status_change_to_the_current_status_is_refused(manager_client, chain):
    url = reverse("lot_status", args=[chain.resin.pk])

    response = manager_client.post(url, {"status": "released", "reason": "SN-88"}, follow=True)

    assert len(Page(response).messages) == 1
    assert status_changes_written() == (0, 0)


@pytest.mark.parametrize("kind", ["lot", "serial"])
def test_quality_staff_cannot_change_a_status(client, staff, chain, kind):
    client.force_login(staff)
    item = chain.resin if kind == "lot" else chain.drill
    status = "on_hold"

    response = client.post(
        reverse(f"{kind}_status", args=[item.pk]), {"status": status, "reason": "SN-88"}
    )

    assert response.status_code == 403
    item.refresh_from_db()
    assert item.status != status
    assert status_changes_written() == (0, 0)


@pytest.mark.parametrize("kind", ["lot", "serial"])
def test_the_status_url_does_not_answer_get(manager_client, chain, kind):
    item = chain.resin if kind == "lot" else chain.drill

    response = manager_client.get(reverse(f"{kind}_status", args=[item.pk]))

    assert response.status_code == 405
    assert status_changes_written() == (0, 0)


def test_a_status_change_of_an_unknown_lot_is_not_found(manager_client, chain):
    url = reverse("lot_status", args=[999_999])

    response = manager_client.post(url, {"status": "on_hold", "reason": "SN-88"})

    assert response.status_code == 404
    assert status_changes_written() == (0, 0)


# --- Serial unit page -------------------------------------------------------------------------


@dataclass
class Serviced:
    drill: SerialUnit
    removed: SerialUnit
    fitted: SerialUnit


@pytest.fixture
def serviced(chain, clerk, plant):
    """Drill D-0001 with battery B-2 fitted in place of B-1 during a service."""
    battery = SerialProductFactory(sku="BATT", name="Battery pack")
    old, new = (
        serial_unit_create(product=battery, serial=serial, site=plant, acting_user=clerk)
        for serial in ("B-1", "B-2")
    )
    serial_unit_install(
        component=old, assembly=chain.drill, occurred_at=date(2026, 3, 3), acting_user=clerk
    )
    service_record_create(
        serial_unit=chain.drill,
        kind=ServiceRecord.Kind.COMPONENT_REPLACEMENT,
        performed_on=date(2026, 6, 1),
        description="Battery would not hold a charge.",
        technician="Sam Tech",
        outcome=ServiceRecord.Outcome.REPLACED,
        parts_removed=[SerialUnit.objects.get(pk=old.pk)],
        parts_fitted=[new],
        acting_user=clerk,
    )
    chain.drill.refresh_from_db()
    return Serviced(drill=chain.drill, removed=old, fitted=new)


def test_the_serial_page_shows_the_units_key_data(manager_client, chain):
    response = manager_client.get(serial_url(chain.drill))

    assert response.status_code == 200
    facts = Page(response).facts
    assert {name: facts[name] for name in facts if name != "Warranty"} == {
        "Product": "Cordless drill DRILL",
        "GTIN": chain.drill.product.gtin,
        "Production lot": "DRILL lot PL-0303",
        "Produced": "2026-03-03",
        "Serial run": "—",
        "Held by": "Corner Deli",
        "Installed in": "—",
        "Shipped": "2026-03-10",
    }
    assertContains(response, f'<a class="code" href="{lot_url(chain.build)}">DRILL lot PL-0303</a>')


def test_a_component_page_links_to_the_unit_it_is_installed_in(manager_client, serviced):
    response = manager_client.get(serial_url(serviced.fitted))

    assert Page(response).facts["Installed in"] == "DRILL serial D-0001"
    assertContains(
        response, f'<a class="code" href="{serial_url(serviced.drill)}">DRILL serial D-0001</a>'
    )
    assertContains(response, '<span class="badge status-installed">installed</span>')


def test_the_serial_page_lists_installed_components(manager_client, serviced):
    response = manager_client.get(serial_url(serviced.drill))

    assertContains(
        response, f'<a class="code" href="{serial_url(serviced.fitted)}">BATT serial B-2</a>'
    )
    assertContains(response, "Battery pack")
    assert list(response.context["components"]) == [serviced.fitted]


def test_the_serial_page_lists_service_records_with_the_parts_swapped(manager_client, serviced):
    response = manager_client.get(serial_url(serviced.drill))

    assert Page(response).tables["Service records"] == [
        [
            "2026-06-01",
            "Component replacement",
            "replaced",
            "Battery would not hold a charge. — Sam Tech "
            "Removed: BATT serial B-1 Fitted: BATT serial B-2",
        ]
    ]
    assertContains(response, f'href="{serial_url(serviced.removed)}">BATT serial B-1</a>')
    assertContains(response, f'href="{serial_url(serviced.fitted)}">BATT serial B-2</a>')


def test_a_unit_without_components_or_service_says_so(manager_client, plant):
    response = manager_client.get(serial_url(SerialUnitFactory(holder_site=plant)))

    assertContains(response, "No components are installed in it now.")
    assertContains(response, "No service records.")


@pytest.mark.parametrize(
    ("days", "badge"),
    [
        (30, '<span class="badge status-released">in warranty</span>'),
        (0, '<span class="badge status-released">in warranty</span>'),
        (-1, '<span class="badge">expired</span>'),
    ],
    ids=["ends in a month", "ends today", "ended yesterday"],
)
def test_the_serial_page_shows_whether_the_unit_is_in_warranty(manager_client, plant, days, badge):
    ends = timezone.localdate() + timedelta(days=days)
    unit = SerialUnitFactory(holder_site=plant, warranty_ends_on=ends, warranty_overridden=True)

    response = manager_client.get(serial_url(unit))

    assert Page(response).facts["Warranty"].startswith(f"until {ends:%Y-%m-%d}")
    assertContains(response, badge)


def test_the_serial_page_shows_both_trees(manager_client, serviced):
    drill_page = Page(manager_client.get(serial_url(serviced.drill)))
    battery_page = Page(manager_client.get(serial_url(serviced.fitted)))

    assert [row[:2] for row in tree(drill_page, "Upstream")] == [
        (0, "DRILL serial D-0001"),
        (1, "BATT serial B-1"),
        (1, "BATT serial B-2"),
        (1, "DRILL lot PL-0303"),
        (1, "HOUSING lot H-12"),
        (2, "RESIN lot R-77"),
    ]
    assert "Downstream" not in drill_page.trees
    assert tree(battery_page, "Downstream") == [
        (0, "BATT serial B-2", serial_url(serviced.fitted)),
        (1, "DRILL serial D-0001", serial_url(serviced.drill)),
    ]


def test_an_unknown_serial_unit_is_not_found(manager_client, chain):
    assert manager_client.get(reverse("serial_detail", args=[999_999])).status_code == 404
    assert manager_client.get(reverse("serial_detail", args=[chain.resin.pk])).status_code == 404


def test_a_manager_sees_the_units_status_form(manager_client, chain):
    response = manager_client.get(serial_url(chain.drill))

    assert "shipped" not in dict(response.context["status_form"].fields["status"].choices)
    assertContains(response, f'action="{reverse("serial_status", args=[chain.drill.pk])}"')


# --- Who may see the pages --------------------------------------------------------------------


def _page_url(chain, page):
    return {
        "trace": f"{reverse('trace')}?q=RESIN+lot+R-77",
        "lot": lot_url(chain.resin),
        "serial": serial_url(chain.drill),
    }[page]


@pytest.mark.parametrize("page", ["trace", "lot", "serial"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client, chain, page):
    url = reverse("trace") if page == "trace" else _page_url(chain, page)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("page", ["trace", "lot", "serial"])
def test_a_user_without_a_role_is_told_so(client, no_role_user, chain, page):
    client.force_login(no_role_user)

    response = client.get(_page_url(chain, page))

    assert response.status_code == 403
    assertContains(response, "You have no role yet", status_code=403)
    assertContains(response, str(NO_ROLE_MESSAGE), status_code=403)


@pytest.mark.parametrize("page", ["trace", "lot", "serial"])
@pytest.mark.parametrize("role", ["manager", "staff", "administrator"])
def test_every_role_opens_the_pages(client, request, chain, role, page):
    client.force_login(request.getfixturevalue(role))

    response = client.get(_page_url(chain, page))

    assert response.status_code == 200


@pytest.mark.parametrize("kind", ["lot", "serialunit"])
@pytest.mark.parametrize(
    ("role", "is_staff", "shown"),
    [
        ("administrator", True, True),
        ("manager", True, True),
        ("manager", False, False),
        ("staff", True, False),
        ("staff", False, False),
    ],
    ids=[
        "administrator",
        "manager with admin access",
        "manager",
        "staff with admin access",
        "staff",
    ],
)
def test_edit_in_admin_shows_only_to_admin_users_who_may_change_the_record(
    client, request, chain, kind, role, is_staff, shown
):
    user = request.getfixturevalue(role)
    user.is_staff = is_staff
    user.save()
    client.force_login(user)
    item = chain.resin if kind == "lot" else chain.drill

    response = client.get(item.get_absolute_url())

    admin_url = reverse(f"admin:inventory_{kind}_change", args=[item.pk])
    assert (f'href="{admin_url}">Edit in admin</a>' in response.content.decode()) is shown


def test_several_codes_in_one_trace_start_from_every_one_of_them(manager_client, chain):
    response = manager_client.get(
        "/trace/", {"q": ["RESIN lot R-77", "DRILL lot PL-0303"], "direction": "forward"}
    )

    assert response.status_code == 200
    roots = {item.label for item in response.context["result"].roots}
    assert roots == {"RESIN lot R-77", "DRILL lot PL-0303"}
