"""The product page: key data, lots or units, stock by site, expiry profile, links to trace."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from pytest_django.asserts import assertContains, assertNotContains

from inventory.models import Lot, SerialUnit, TraceEvent, Unit
from inventory.services import Line, event_record, lot_create, shipment_create

from .factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
)
from .test_views import Page, text

pytestmark = pytest.mark.django_db

# Session, user, roles and permissions (5), then the product, our sites, its lots and their
# lines' sums; a page of lots is sorted and cut in Python; its process condition limits.
LOT_PRODUCT_QUERIES = 5 + 4 + 1
# + the product, our sites, the units' count and page, their stock by site, production dates,
# its process condition limits
SERIAL_PRODUCT_QUERIES = 5 + 6 + 1


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
def product():
    return ProductFactory(
        sku="FG-QUICHE",
        name="Quiche Lorraine",
        unit=Unit.EACH,
        shelf_life_days=21,
        gtin="09521001001012",
    )


def _lot(product, code, site, user, *, quantity="100", expires_in=None):
    today = timezone.localdate()
    return lot_create(
        product=product,
        code=code,
        quantity=Decimal(quantity),
        produced_on=today - timedelta(days=1),
        expires_on=today + timedelta(days=expires_in) if expires_in is not None else None,
        site=site,
        acting_user=user,
    )


def _move(lot, quantity, source, destination, user):
    event_record(
        event_type=TraceEvent.Type.TRANSFER,
        subjects=[Line(lot, Decimal(quantity))],
        site=source,
        source_site=source,
        destination_site=destination,
        acting_user=user,
    )


def _get(client, user, product, **params):
    client.force_login(user)
    return client.get(reverse("product_detail", args=[product.pk]), params)


def test_the_page_shows_the_products_key_data(client, manager, product):
    response = _get(client, manager, product)

    page = Page(response)
    assert page.facts["SKU"] == "FG-QUICHE"
    assert page.facts["GTIN"] == "09521001001012"
    assert page.facts["Tracked"] == "by lot, in each"
    assert page.facts["Shelf life"] == "21 days"
    assert page.facts["Warranty"] == "—"


def test_each_lot_shows_its_status_expiry_and_stock_at_each_site(
    client, manager, product, plant, store
):
    lot = _lot(product, "QL-1", plant, manager, expires_in=10)
    _move(lot, "40", plant, store, manager)
    shipment_create(
        lots=[Line(lot, Decimal("25"))],
        from_site=store,
        to_party=PartyFactory(),
        acting_user=manager,
    )

    page = Page(_get(client, manager, product))

    assert page.tables["Lots"] == [
        [
            "QL-1",
            "released",
            str(timezone.localdate() - timedelta(days=1)),
            str(timezone.localdate() + timedelta(days=10)),
            "100 each",
            "15 each at Cold store 60 each at Modesto plant",
        ]
    ]


def test_stock_by_site_adds_up_every_lot_per_unit(client, manager, product, plant, store):
    first = _lot(product, "QL-1", plant, manager, expires_in=10)
    _lot(product, "QL-2", plant, manager, quantity="50", expires_in=20)
    _move(first, "30", plant, store, manager)

    page = Page(_get(client, manager, product))

    assert page.tables["Stock by site"] == [
        ["Cold store STORE", "30 each"],
        ["Modesto plant PLANT", "120 each"],
    ]


def test_the_expiry_profile_puts_stock_on_hand_in_bands(client, manager, product, plant):
    undated = _lot(product, "OLD", plant, manager, quantity="5")
    Lot.objects.filter(pk=undated.pk).update(expires_on=None)
    _lot(product, "SOON", plant, manager, quantity="10", expires_in=7)
    _lot(product, "LATER", plant, manager, quantity="20", expires_in=45)
    _lot(product, "FAR", plant, manager, quantity="40", expires_in=200)
    expired = _lot(product, "GONE", plant, manager, quantity="8", expires_in=3)
    Lot.objects.filter(pk=expired.pk).update(
        expires_on=timezone.localdate() - timedelta(days=2),
        produced_on=timezone.localdate() - timedelta(days=30),
    )

    response = _get(client, manager, product)

    # A row per band (its label is the row's heading), a column per unit.
    assert Page(response).tables["Expiry profile"] == [["8"], ["10"], ["20"], ["0"], ["40"], ["5"]]
    assert (
        text(response).count(
            "Expires On hand, each Expired 8 Within 30 days 10 Within 60 days 20 Within 90 days 0 "
            "Later 40 No expiry date 5"
        )
        == 1
    )


def test_lots_sort_by_stock_on_hand(client, manager, product, plant):
    for code, quantity in (("A", "30"), ("B", "90"), ("C", "60")):
        _lot(product, code, plant, manager, quantity=quantity, expires_in=10)

    page = Page(_get(client, manager, product, sort="-on_hand"))

    assert [row[0] for row in page.tables["Lots"]] == ["B", "C", "A"]


def test_the_page_links_to_the_trace_of_every_lot_it_made(client, manager, product, plant):
    _lot(product, "QL-1", plant, manager, expires_in=10)
    day = timezone.localdate() - timedelta(days=1)

    response = _get(client, manager, product)

    assertContains(
        response,
        f"/trace/?product=FG-QUICHE&amp;produced_from={day}&amp;produced_to={day}"
        "&amp;direction=forward",
    )


def test_a_lot_products_page_runs_the_same_queries_however_many_lots(
    client, manager, product, plant, store, django_assert_max_num_queries
):
    for n in range(30):
        lot = _lot(product, f"QL-{n}", plant, manager, expires_in=n)
        _move(lot, "10", plant, store, manager)

    client.force_login(manager)
    with django_assert_max_num_queries(LOT_PRODUCT_QUERIES):
        response = client.get(reverse("product_detail", args=[product.pk]))

    assert response.status_code == 200
    assertContains(response, "Lots <span")


def test_a_serial_products_page_lists_its_units_and_where_they_are(client, manager, plant):
    product = SerialProductFactory(sku="DEV-HX2", name="Handheld")
    SerialUnitFactory(product=product, serial="HX-1", holder_site=plant)
    SerialUnitFactory(
        product=product, serial="HX-2", holder_site=plant, status=SerialUnit.Status.IN_REPAIR
    )
    SerialUnitFactory(
        product=product, serial="HX-3", holder_site=None, holder_party=PartyFactory(name="Acme")
    )

    page = Page(_get(client, manager, product))

    assert page.tables["Stock by site"] == [["Modesto plant PLANT", "2", "1 in stock, 1 in repair"]]
    assert [row[0] for row in page.tables["Serial units"]] == ["HX-1", "HX-2", "HX-3"]
    assert page.tables["Serial units"][2][4] == "with Acme"


def test_a_serial_products_page_runs_the_same_queries_however_many_units(
    client, manager, plant, django_assert_max_num_queries
):
    product = SerialProductFactory()
    SerialUnitFactory.create_batch(30, product=product, holder_site=plant)

    client.force_login(manager)
    with django_assert_max_num_queries(SERIAL_PRODUCT_QUERIES):
        response = client.get(reverse("product_detail", args=[product.pk]))

    assert response.status_code == 200


def test_an_unknown_product_is_not_found(client, manager):
    client.force_login(manager)

    assert client.get(reverse("product_detail", args=[999999])).status_code == 404


def test_quality_staff_may_see_the_page_but_not_pick_from_it(client, staff, product):
    response = _get(client, staff, product)

    assert response.status_code == 200
    assertNotContains(response, reverse("shipment_new"))


def test_a_manager_can_pick_the_product_for_a_shipment_from_its_page(client, manager, product):
    response = _get(client, manager, product)

    assertContains(response, f"{reverse('shipment_new')}?product={product.pk}")


def test_the_lot_page_shows_what_is_on_hand_at_each_site(client, manager, product, plant, store):
    lot = _lot(product, "QL-1", plant, manager, expires_in=10)
    _move(lot, "40", plant, store, manager)
    client.force_login(manager)

    page = Page(client.get(reverse("lot_detail", args=[lot.pk])))

    assert page.tables["On hand by site"] == [
        ["Cold store STORE", "40 each"],
        ["Modesto plant PLANT", "60 each"],
    ]


def test_the_lot_page_says_when_nothing_is_on_hand(client, manager, product, plant):
    lot = _lot(product, "QL-1", plant, manager, expires_in=10)
    shipment_create(
        lots=[Line(lot, Decimal("100"))],
        from_site=plant,
        to_party=PartyFactory(),
        acting_user=manager,
    )
    client.force_login(manager)

    response = client.get(reverse("lot_detail", args=[lot.pk]))

    assert "Nothing on hand at our sites." in strip_tags(response.content.decode())
