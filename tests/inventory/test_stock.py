"""Stock on hand by site, worked out from the event lines (there is no stock table)."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from inventory import selectors
from inventory.models import Lot, Product, SerialUnit, Site, TraceEvent, Unit
from inventory.services import Line, event_record, lot_create, shipment_create

from .factories import (
    InternalPartyFactory,
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialUnitFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(username="stock")


@pytest.fixture
def company():
    return InternalPartyFactory(name="Greenvale")


@pytest.fixture
def plant(company):
    return SiteFactory(code="plant", name="A plant", party=company)


@pytest.fixture
def store(company):
    return SiteFactory(code="store", name="B cold store", party=company)


@pytest.fixture
def customer():
    return PartyFactory(name="Corner Store")


@pytest.fixture
def customer_site(customer):
    return SiteFactory(code="corner", name="Corner Store DC", party=customer)


def _stock(lot) -> list[tuple[str, str, Decimal]]:
    return [
        (entry.site.code, entry.unit, entry.quantity)
        for entry in selectors.lots_on_hand([lot.pk]).get(lot.pk, [])
    ]


def _produce(user, site, quantity="100", **kwargs):
    return lot_create(
        product=kwargs.pop("product", None) or ProductFactory(unit=Unit.KILOGRAM),
        code=kwargs.pop("code", "L-1"),
        quantity=Decimal(quantity),
        produced_on=timezone.localdate(),
        site=site,
        acting_user=user,
        **kwargs,
    )


def test_a_produced_lot_is_on_hand_where_it_was_made(user, plant):
    lot = _produce(user, plant)

    assert _stock(lot) == [("plant", "KGM", Decimal("100"))]


def test_a_lot_received_from_a_supplier_is_on_hand_at_the_receiving_site(user, plant):
    lot = _produce(user, plant, supplier=PartyFactory(is_supplier=True))

    assert _stock(lot) == [("plant", "KGM", Decimal("100"))]


def test_a_shipment_to_a_customer_leaves_the_rest_on_hand(user, plant, customer):
    lot = _produce(user, plant)

    shipment_create(
        lots=[Line(lot, Decimal("30"))], from_site=plant, to_party=customer, acting_user=user
    )

    assert _stock(lot) == [("plant", "KGM", Decimal("70"))]


def test_stock_shipped_to_our_other_site_is_in_transit_until_received(user, plant, store):
    lot = _produce(user, plant)
    shipment_create(
        lots=[Line(lot, Decimal("40"))], from_site=plant, to_site=store, acting_user=user
    )

    assert _stock(lot) == [("plant", "KGM", Decimal("60"))]

    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(lot, Decimal("40"))],
        site=store,
        source_site=plant,
        destination_site=store,
        acting_user=user,
    )

    assert _stock(lot) == [("plant", "KGM", Decimal("60")), ("store", "KGM", Decimal("40"))]


def test_a_transfer_between_our_sites_moves_the_stock_at_once(user, plant, store):
    lot = _produce(user, plant)

    event_record(
        event_type=TraceEvent.Type.TRANSFER,
        subjects=[Line(lot, Decimal("100"))],
        site=plant,
        source_site=plant,
        destination_site=store,
        acting_user=user,
    )

    assert _stock(lot) == [("store", "KGM", Decimal("100"))]


def test_produce_ship_receive_transform_and_destroy(user, plant, store, customer):
    """The whole life of a lot: what is left at each site after each step."""
    lot = _produce(user, plant, quantity="500")
    shipment_create(
        lots=[Line(lot, Decimal("120"))], from_site=plant, to_party=customer, acting_user=user
    )
    shipment_create(
        lots=[Line(lot, Decimal("200"))], from_site=plant, to_site=store, acting_user=user
    )
    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(lot, Decimal("200"))],
        site=store,
        destination_site=store,
        acting_user=user,
    )
    assert _stock(lot) == [("plant", "KGM", Decimal("180")), ("store", "KGM", Decimal("200"))]

    product = ProductFactory(unit=Unit.EACH)
    made = lot_create(
        product=product,
        code="OUT-1",
        quantity=Decimal("300"),
        site=store,
        inputs=[Line(lot, Decimal("150"))],
        acting_user=user,
    )
    assert _stock(lot) == [("plant", "KGM", Decimal("180")), ("store", "KGM", Decimal("50"))]
    assert _stock(made) == [("store", "EA", Decimal("300"))]

    event_record(
        event_type=TraceEvent.Type.SCRAP,
        subjects=[Line(lot, Decimal("180"))],
        site=plant,
        acting_user=user,
    )
    event_record(
        event_type=TraceEvent.Type.SCRAP,
        subjects=[Line(lot, Decimal("50"))],
        site=store,
        acting_user=user,
    )

    assert _stock(lot) == []
    assert _stock(made) == [("store", "EA", Decimal("300"))]


def test_consumption_at_a_site_takes_stock_from_it(user, plant):
    lot = _produce(user, plant)

    event_record(
        event_type=TraceEvent.Type.CONSUME,
        subjects=[Line(lot, Decimal("25.5"))],
        site=plant,
        acting_user=user,
    )

    assert _stock(lot) == [("plant", "KGM", Decimal("74.5"))]


def test_quantities_in_different_units_are_never_added_together(user, plant, customer):
    lot = _produce(user, plant)

    shipment_create(
        lots=[Line(lot, Decimal("2"), Unit.CASE)],
        from_site=plant,
        to_party=customer,
        acting_user=user,
    )

    assert _stock(lot) == [("plant", "CS", Decimal("-2")), ("plant", "KGM", Decimal("100"))]


def test_a_partners_sites_hold_none_of_our_stock(user, plant, customer, customer_site):
    lot = _produce(user, plant)
    shipment_create(
        lots=[Line(lot, Decimal("100"))],
        from_site=plant,
        to_site=customer_site,
        acting_user=user,
    )
    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(lot, Decimal("100"))],
        site=customer_site,
        destination_site=customer_site,
        acting_user=user,
    )

    assert _stock(lot) == []


def test_status_changes_and_inspections_move_nothing(user, plant):
    lot = _produce(user, plant)

    event_record(
        event_type=TraceEvent.Type.INSPECT,
        subjects=[Line(lot, Decimal("5"))],
        site=plant,
        acting_user=user,
    )
    event_record(
        event_type=TraceEvent.Type.ADJUST,
        subjects=[Line(lot, Decimal("97"))],
        site=plant,
        acting_user=user,
    )

    assert _stock(lot) == [("plant", "KGM", Decimal("100"))]


def test_stock_of_many_lots_takes_one_aggregate_query(
    user, plant, customer, django_assert_num_queries
):
    product = ProductFactory()
    lots = [_produce(user, plant, product=product, code=f"L-{n}") for n in range(5)]
    for lot in lots:
        shipment_create(
            lots=[Line(lot, Decimal("1"))], from_site=plant, to_party=customer, acting_user=user
        )
    sites = selectors.our_sites()

    with django_assert_num_queries(1):
        stock = selectors.lots_on_hand(Lot.objects.filter(product=product), sites=sites)

    assert {lot.code: stock[lot.pk][0].quantity for lot in lots} == dict.fromkeys(
        [f"L-{n}" for n in range(5)], Decimal("99")
    )


def test_serial_units_count_where_they_are_held(plant, store, customer):
    product = ProductFactory(tracking=Product.Tracking.SERIAL, unit=Unit.EACH)
    SerialUnitFactory.create_batch(2, product=product, holder_site=plant)
    SerialUnitFactory(product=product, holder_site=store, status=SerialUnit.Status.IN_REPAIR)
    SerialUnitFactory(product=product, holder_site=None, holder_party=customer)
    SerialUnitFactory(product=product, holder_site=plant, status=SerialUnit.Status.SCRAPPED)

    stock = selectors.units_on_hand(SerialUnit.objects.filter(product=product))

    assert [(site.code, status, count) for site, status, count in stock] == [
        ("plant", SerialUnit.Status.IN_STOCK, 2),
        ("store", SerialUnit.Status.IN_REPAIR, 1),
    ]


def test_a_production_lot_of_serial_units_counts_its_units_in_stock(plant, customer):
    product = ProductFactory(tracking=Product.Tracking.SERIAL, unit=Unit.EACH)
    lot = LotFactory(product=product, site=plant, quantity=Decimal("3"))
    SerialUnitFactory.create_batch(2, product=product, lot=lot, holder_site=plant)
    SerialUnitFactory(product=product, lot=lot, holder_site=None, holder_party=customer)

    stock = selectors.lot_on_hand(Lot.objects.select_related("product").get(pk=lot.pk))

    assert [(entry.site.code, entry.quantity) for entry in stock] == [("plant", Decimal("2"))]


# --- The demo data set ------------------------------------------------------------------------


@pytest.fixture(scope="class")
def demo(django_db_setup, django_db_blocker):
    """Load the demo once for the class below (a load takes seconds), then roll it back."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", verbosity=0)
        yield
        transaction.set_rollback(True)


def _demo_stock(sku: str) -> dict[str, Decimal]:
    lots = Lot.objects.filter(product__sku=sku)
    stock = selectors.lots_on_hand(lots)
    codes = dict(lots.values_list("pk", "code"))
    return {
        f"{codes[pk]}@{entry.site.code}": entry.quantity
        for pk, entries in stock.items()
        for entry in entries
    }


class TestTheDemo:
    def test_the_demo_quiche_left_in_the_cold_store_is_on_hand_there(self, demo):
        stock = _demo_stock("FG-QUICHE-LOR")

        # 360 made, 300 shipped: "60 of these are still in the cold store, past their date".
        oldest = Lot.objects.filter(product__sku="FG-QUICHE-LOR").order_by("produced_on").first()
        assert stock[f"{oldest.code}@GVF-COLD-STORE"] == Decimal("60")
        assert all(quantity > 0 for quantity in stock.values())
        assert not any(key.endswith("@GVF-PLANT") for key in stock)

    def test_the_demo_has_no_negative_stock_and_used_up_lots_have_none(self, demo):
        stock = selectors.lots_on_hand(Lot.objects.all())

        assert all(entry.quantity > 0 for entries in stock.values() for entry in entries)
        used_up = Lot.objects.filter(status=Lot.Status.CONSUMED).values_list("pk", flat=True)
        assert used_up
        assert not set(used_up) & set(stock)
        assert {entry.site.code for entries in stock.values() for entry in entries} <= set(
            Site.objects.filter(party__is_internal=True).values_list("code", flat=True)
        )

    def test_the_demo_held_quiche_never_left_the_plant(self, demo):
        held = Lot.objects.get(status=Lot.Status.ON_HOLD)

        assert [(e.site.code, e.quantity) for e in selectors.lot_on_hand(held)] == [
            ("GVF-PLANT", held.quantity)
        ]


def test_figures_come_without_trailing_zeros_on_every_database(user, plant, customer):
    lot = _produce(user, plant, quantity="100")
    shipment_create(
        lots=[Line(lot, Decimal("12.5"))], from_site=plant, to_party=customer, acting_user=user
    )
    other = _produce(user, plant, quantity="40", code="L-2")

    stock = selectors.lots_on_hand([lot.pk, other.pk])

    # PostgreSQL sums numeric(14, 3) as 87.500 and 40.000; a form shows what it is given.
    assert [str(stock[pk][0].quantity) for pk in (lot.pk, other.pk)] == ["87.5", "40"]
