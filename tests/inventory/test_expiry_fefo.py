"""The expiry report, and picking stock for a shipment first expiry first out (FEFO)."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from inventory import selectors, services
from inventory.forms import (
    EXPIRY_BAD_DATE,
    PICK_NEEDS_PRODUCT,
    PICK_NOTHING,
    PICK_SAME_SITE,
    PICK_SITE_OF_OTHER_PARTY,
)
from inventory.models import EventLine, Lot, TraceEvent, Unit
from inventory.services import Line, item_change_status, lot_create

from .factories import InternalPartyFactory, PartyFactory, ProductFactory, SiteFactory
from .test_views import Page, text

pytestmark = pytest.mark.django_db

# Session, user, roles and permissions (5); the form's product and site choices; the lots,
# their lines' sums and our sites.
EXPIRY_PAGE_QUERIES = 5 + 2 + 3
# Session, user, roles (5); the product and site picked, the choices of four selects; the lots,
# their lines' sums, the reasons of held lots.
PICK_PAGE_QUERIES = 5 + 2 + 4 + 3

HELD_REASON = "Metal detector rejects on line 2; held until X-rayed."


@pytest.fixture
def company():
    return InternalPartyFactory(name="Greenvale")


@pytest.fixture
def plant(company):
    return SiteFactory(code="PLANT", name="Modesto plant", party=company)


@pytest.fixture
def store(company):
    return SiteFactory(code="STORE", name="Cold store", party=company)


@pytest.fixture
def customer():
    return PartyFactory(name="Northstar")


@pytest.fixture
def customer_site(customer):
    return SiteFactory(code="NS-DC", name="Northstar DC", party=customer)


@pytest.fixture
def product():
    return ProductFactory(sku="FG-QUICHE", name="Quiche", unit=Unit.EACH, shelf_life_days=None)


def _lot(product, code, site, user, *, quantity="100", expires_in=None, made_ago=1):
    today = timezone.localdate()
    lot = lot_create(
        product=product,
        code=code,
        quantity=Decimal(quantity),
        produced_on=today - timedelta(days=made_ago),
        expires_on=today + timedelta(days=expires_in) if expires_in is not None else None,
        site=site,
        acting_user=user,
    )
    return lot


def _expired(lot, days_ago=2):
    today = timezone.localdate()
    Lot.objects.filter(pk=lot.pk).update(
        produced_on=today - timedelta(days=30), expires_on=today - timedelta(days=days_ago)
    )
    return Lot.objects.get(pk=lot.pk)


def _ship_events():
    return TraceEvent.objects.filter(event_type=TraceEvent.Type.SHIP)


# --- The expiry report ------------------------------------------------------------------------


def _report(client, user, **params):
    client.force_login(user)
    return client.get(reverse("expiry_report"), params)


def test_the_report_lists_expired_and_soon_expiring_stock_by_site(
    client, staff, product, plant, store
):
    soon = _lot(product, "SOON", plant, staff, expires_in=5)
    services.event_record(
        event_type=TraceEvent.Type.TRANSFER,
        subjects=[Line(soon, Decimal("30"))],
        site=plant,
        source_site=plant,
        destination_site=store,
        acting_user=staff,
    )
    _expired(_lot(product, "GONE", plant, staff, quantity="8"))
    _lot(product, "LATER", plant, staff, expires_in=45)
    _lot(product, "UNDATED", plant, staff)

    response = _report(client, staff, days=30)

    assert [row[1:] for row in Page(response).tables[""]] == [
        [
            "expired 2 d ago",
            "FG-QUICHE",
            "Quiche",
            "GONE",
            "released",
            "Modesto plant",
            "8",
            "each",
        ],
        ["5", "FG-QUICHE", "Quiche", "SOON", "released", "Cold store", "30", "each"],
        ["5", "FG-QUICHE", "Quiche", "SOON", "released", "Modesto plant", "70", "each"],
    ]
    assert "3 rows (a lot at a site), of which 1 already expired; 108 each in all." in text(
        response
    )


def test_a_longer_window_or_a_date_reaches_further(client, staff, product, plant):
    _lot(product, "SOON", plant, staff, expires_in=5)
    _lot(product, "LATER", plant, staff, expires_in=45)
    by_date = (timezone.localdate() + timedelta(days=44)).isoformat()

    assert [row[4] for row in Page(_report(client, staff, days=60)).tables[""]] == [
        "SOON",
        "LATER",
    ]
    assert [row[4] for row in Page(_report(client, staff, until=by_date)).tables[""]] == ["SOON"]


def test_stock_that_is_gone_is_not_reported(client, staff, product, plant, customer):
    lot = _lot(product, "SHIPPED", plant, staff, expires_in=5)
    services.shipment_create(
        lots=[Line(lot, Decimal("100"))], from_site=plant, to_party=customer, acting_user=staff
    )

    response = _report(client, staff)

    assert "No stock on hand expires in this window." in text(response)


def test_the_report_narrows_to_a_product_and_a_site(client, staff, product, plant, store):
    _lot(product, "A", plant, staff, expires_in=5)
    _lot(product, "B", store, staff, expires_in=5)
    _lot(ProductFactory(sku="OTHER", shelf_life_days=None), "C", store, staff, expires_in=5)

    response = _report(client, staff, product=product.pk, site=store.pk)

    assert [row[4] for row in Page(response).tables[""]] == ["B"]


def test_a_bad_date_is_explained_and_no_report_is_shown(client, staff):
    response = _report(client, staff, until="26/11/2026")

    assert response.status_code == 200
    assert f"or by the date: {EXPIRY_BAD_DATE}" in text(response)
    assert "table" not in response.context


def test_the_report_downloads_as_csv_and_xlsx(client, staff, product, plant):
    _lot(product, "=SOON", plant, staff, expires_in=5)

    response = _report(client, staff, days=30, _export="csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Expiry",
        "Days left",
        "SKU",
        "Product",
        "Lot",
        "Status",
        "Site",
        "On hand",
        "Unit",
    ]
    assert rows[1][1:] == [
        "5",
        "FG-QUICHE",
        product.name,
        "'=SOON",  # neutralised: a spreadsheet shows it as text, never runs it
        "released",
        "Modesto plant",
        "100",
        "each",
    ]

    response = _report(client, staff, days=30, _export="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet["E2"].value == "=SOON"
    assert sheet["E2"].data_type == "s"


def test_the_report_runs_the_same_queries_however_much_stock(
    client, staff, product, plant, store, django_assert_max_num_queries
):
    for n in range(25):
        lot = _lot(product, f"L-{n}", plant, staff, expires_in=n % 20)
        services.event_record(
            event_type=TraceEvent.Type.TRANSFER,
            subjects=[Line(lot, Decimal("10"))],
            site=plant,
            source_site=plant,
            destination_site=store,
            acting_user=staff,
        )
    client.force_login(staff)

    with django_assert_max_num_queries(EXPIRY_PAGE_QUERIES):
        response = client.get(reverse("expiry_report"), {"days": 30})

    assert len(Page(response).tables[""]) == 50


# --- FEFO: which lots are offered, in which order ---------------------------------------------


def test_lots_are_offered_first_expiry_first_out_undated_last(manager, product, plant):
    _lot(product, "UNDATED", plant, manager)
    _lot(product, "LATE", plant, manager, expires_in=40)
    _lot(product, "EARLY", plant, manager, expires_in=3)
    _lot(product, "ELSEWHERE", SiteFactory(party=plant.party), manager, expires_in=1)

    candidates = selectors.fefo_candidates(product, plant)

    assert [(c.lot.code, c.on_hand) for c in candidates] == [
        ("EARLY", Decimal("100")),
        ("LATE", Decimal("100")),
        ("UNDATED", Decimal("100")),
    ]


def test_a_quantity_is_proposed_from_the_lots_that_expire_first(client, manager, product, plant):
    first = _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)
    second = _lot(product, "LATE", plant, manager, quantity="100", expires_in=40)
    client.force_login(manager)

    response = client.get(
        reverse("shipment_new"), {"product": product.pk, "site": plant.pk, "quantity": "70"}
    )

    form = response.context["form"]
    assert form[f"lot_{first.pk}"].value() == Decimal("40")
    assert form[f"lot_{second.pk}"].value() == Decimal("30")
    assert [row[0] for row in Page(response).tables["2. Lots of at Modesto plant"]] == [
        "EARLY expires first",
        "LATE",
    ]


def test_asking_for_more_than_can_be_shipped_says_how_much_can(client, manager, product, plant):
    _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)
    client.force_login(manager)

    response = client.get(
        reverse("shipment_new"), {"product": product.pk, "site": plant.pk, "quantity": "70"}
    )

    assert (
        "Only 40 each of FG-QUICHE can be shipped from Modesto plant; 70 each was asked for."
        in text(response)
    )


def test_held_and_expired_lots_are_refused_with_the_reason(client, manager, product, plant):
    held = _lot(product, "L-2041", plant, manager, expires_in=10)
    item_change_status(
        item=held, status=Lot.Status.ON_HOLD, reason=HELD_REASON, acting_user=manager
    )
    _expired(_lot(product, "L-2040", plant, manager))
    _lot(product, "L-2042", plant, manager, expires_in=20)
    client.force_login(manager)

    response = client.get(reverse("shipment_new"), {"product": product.pk, "site": plant.pk})

    page_text = text(response)
    assert (
        f"L-2041 · 100 each on hand — FG-QUICHE lot L-2041 is on hold ({HELD_REASON}) and "
        "cannot be shipped." in page_text
    )
    expired_on = (timezone.localdate() - timedelta(days=2)).isoformat()
    assert (
        f"L-2040 · 100 each on hand — FG-QUICHE lot L-2040 expired on {expired_on} and cannot "
        "be shipped." in page_text
    )
    assert [row[0] for row in Page(response).tables["2. Lots of at Modesto plant"]] == [
        "L-2042 expires first"
    ]


def test_only_quality_managers_may_pick(client, staff, product, plant):
    client.force_login(staff)

    assert client.get(reverse("shipment_new")).status_code == 403


def test_the_picking_page_runs_the_same_queries_however_many_lots(
    client, manager, product, plant, django_assert_max_num_queries
):
    for n in range(20):
        lot = _lot(product, f"L-{n}", plant, manager, expires_in=n + 1)
        if n % 5 == 0:
            item_change_status(
                item=lot, status=Lot.Status.ON_HOLD, reason=HELD_REASON, acting_user=manager
            )
    client.force_login(manager)

    with django_assert_max_num_queries(PICK_PAGE_QUERIES):
        response = client.get(
            reverse("shipment_new"), {"product": product.pk, "site": plant.pk, "quantity": "250"}
        )

    assert len(response.context["form"].offered) == 16


# --- FEFO: shipping what was picked -----------------------------------------------------------


def _post(client, user, product, site, quantities, **fields):
    client.force_login(user)
    data = {"product": product.pk, "site": site.pk, "document_type": "bol", **fields}
    data.update({f"lot_{lot.pk}": quantity for lot, quantity in quantities})
    return client.post(reverse("shipment_new"), data)


def test_a_picked_shipment_is_shipped_and_the_stock_goes_down(
    client, manager, product, plant, customer, customer_site
):
    first = _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)
    second = _lot(product, "LATE", plant, manager, quantity="100", expires_in=40)

    response = _post(
        client,
        manager,
        product,
        plant,
        [(first, "40"), (second, "30")],
        to_party=customer.pk,
        to_site=customer_site.pk,
        document_number="BOL-1",
    )

    assert response.status_code == 302
    event = _ship_events().get()
    assert (event.source_site, event.destination_party, event.destination_site) == (
        plant,
        customer,
        customer_site,
    )
    assert (event.document_type, event.document_number, event.recorded_by) == (
        "bol",
        "BOL-1",
        manager,
    )
    assert sorted(EventLine.objects.filter(event=event).values_list("item_id", "quantity")) == [
        (first.pk, Decimal("40")),
        (second.pk, Decimal("30")),
    ]
    stock = selectors.lots_on_hand([first.pk, second.pk])
    assert first.pk not in stock
    assert stock[second.pk][0].quantity == Decimal("70")
    page = Page(client.get(response.url))
    assert page.messages == [
        "Shipped 40 each of FG-QUICHE lot EARLY, 30 each of FG-QUICHE lot LATE from Modesto "
        "plant to Northstar, Northstar DC (bill of lading BOL-1)."
    ]


def test_picking_more_than_is_on_hand_is_refused_and_nothing_is_written(
    client, manager, product, plant, customer
):
    lot = _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)

    response = _post(client, manager, product, plant, [(lot, "41")], to_party=customer.pk)

    assert response.status_code == 200
    assert (
        "Only 40 each of FG-QUICHE lot EARLY is on hand at Modesto plant, so 41 each cannot be "
        "shipped from there." in text(response)
    )
    assert not _ship_events().exists()


def test_a_lot_held_after_the_page_was_shown_is_refused_with_its_reason(
    client, manager, product, plant, customer
):
    lot = _lot(product, "L-2041", plant, manager, expires_in=10)
    item_change_status(item=lot, status=Lot.Status.ON_HOLD, reason=HELD_REASON, acting_user=manager)

    response = _post(client, manager, product, plant, [(lot, "10")], to_party=customer.pk)

    assert (
        f"Nothing was shipped. FG-QUICHE lot L-2041 is on hold ({HELD_REASON}) and cannot be "
        "shipped." in text(response)
    )
    assert not _ship_events().exists()


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("-1", "A quantity cannot be negative."),
        ("abc", "Give a number, e.g. 12 or 12.5."),
        ("1.0001", "Give a quantity with at most 3 decimal places, below 100 billion."),
    ],
)
def test_a_bad_quantity_is_explained_and_nothing_is_written(
    client, manager, product, plant, customer, quantity, message
):
    lot = _lot(product, "EARLY", plant, manager, expires_in=3)

    response = _post(client, manager, product, plant, [(lot, quantity)], to_party=customer.pk)

    assert response.status_code == 200
    assert message in text(response)
    assert not _ship_events().exists()


def test_a_shipment_needs_a_quantity_and_a_destination(client, manager, product, plant):
    _lot(product, "EARLY", plant, manager, expires_in=3)

    response = _post(client, manager, product, plant, [])

    assert str(PICK_NOTHING) in text(response)
    assert not _ship_events().exists()


def test_a_shipment_needs_somewhere_to_go(client, manager, product, plant):
    lot = _lot(product, "EARLY", plant, manager, expires_in=3)

    response = _post(client, manager, product, plant, [(lot, "5")])

    assert str(services.SHIP_NOWHERE) in text(response)
    assert not _ship_events().exists()


def test_a_shipment_cannot_go_to_the_site_it_leaves(client, manager, product, plant):
    lot = _lot(product, "EARLY", plant, manager, expires_in=3)

    response = _post(client, manager, product, plant, [(lot, "5")], to_site=plant.pk)

    assert PICK_SAME_SITE % {"site": plant} in text(response)
    assert not _ship_events().exists()


def test_a_delivery_site_must_belong_to_the_customer(
    client, manager, product, plant, customer, store
):
    lot = _lot(product, "EARLY", plant, manager, expires_in=3)

    response = _post(
        client, manager, product, plant, [(lot, "5")], to_party=customer.pk, to_site=store.pk
    )

    assert PICK_SITE_OF_OTHER_PARTY % {
        "site": store,
        "owner": store.party,
        "party": customer,
    } in text(response)
    assert not _ship_events().exists()


def test_a_product_not_in_the_list_is_refused(client, manager, plant, customer):
    response = _post(
        client, manager, ProductFactory.build(pk=999999), plant, [], to_party=customer.pk
    )

    assert "Product: Choose one from the list; 999999 is not one of them." not in text(response)
    assert "999999 is not one of them" in text(response)
    assert not _ship_events().exists()


def test_a_missing_product_is_asked_for(client, manager):
    client.force_login(manager)

    response = client.post(reverse("shipment_new"), {"site": ""})

    assert str(PICK_NEEDS_PRODUCT) in text(response)


# --- The service: stock is counted under the lots' locks --------------------------------------


def test_shipping_within_stock_refuses_more_than_is_on_hand(manager, product, plant, customer):
    lot = _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(
            lots=[Line(lot, Decimal("40.5"))],
            from_site=plant,
            to_party=customer,
            within_stock=True,
            acting_user=manager,
        )

    assert exc_info.value.messages == [
        services.SHIP_MORE_THAN_ON_HAND
        % {"on_hand": "40 each", "item": lot, "site": plant, "asked": "40.5 each"}
    ]
    assert not _ship_events().exists()


def test_shipping_within_stock_from_a_partners_site_finds_nothing_on_hand(
    manager, product, plant, customer, customer_site
):
    lot = _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(
            lots=[Line(lot, Decimal("1"))],
            from_site=customer_site,
            to_party=customer,
            within_stock=True,
            acting_user=manager,
        )

    assert exc_info.value.messages == [
        services.SHIP_MORE_THAN_ON_HAND
        % {"on_hand": "0 each", "item": lot, "site": customer_site, "asked": "1 each"}
    ]


def test_a_lot_whose_stock_went_since_the_page_was_shown_is_named(
    client, manager, product, plant, customer
):
    lot = _lot(product, "EARLY", plant, manager, quantity="40", expires_in=3)
    services.shipment_create(
        lots=[Line(lot, Decimal("40"))], from_site=plant, to_party=customer, acting_user=manager
    )

    response = _post(client, manager, product, plant, [(lot, "10")], to_party=customer.pk)

    assert (
        "FG-QUICHE lot EARLY has nothing on hand at Modesto plant any more, so it cannot be "
        "shipped from there; reload the page." in text(response)
    )
    assert _ship_events().count() == 1
