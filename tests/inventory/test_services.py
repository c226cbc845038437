from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import services
from inventory.models import (
    EventLine,
    Genealogy,
    Item,
    Lot,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    StatusChange,
    TraceEvent,
)
from inventory.services import Line

from .factories import (
    LotFactory,
    PartyFactory,
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
def supplier():
    return PartyFactory(name="Green Valley Farms", is_supplier=True, is_customer=False)


@pytest.fixture
def customer():
    return PartyFactory(name="Corner Store")


@pytest.fixture
def plant():
    return SiteFactory(code="plant", name="Main plant")


def _lines(event):
    return sorted((line.role, line.item_id, line.quantity, line.unit) for line in event.lines.all())


def _counts():
    models = (Lot, Item, TraceEvent, EventLine, Genealogy, Lot.history.model)
    return {model: model.objects.count() for model in models}


# --- lot_create -------------------------------------------------------------------------------


def test_a_lot_received_from_a_supplier_records_a_receive_event(user, supplier, plant):
    product = ProductFactory(unit="KGM")

    lot = services.lot_create(
        product=product,
        code="GV-0412",
        quantity=Decimal("250"),
        supplier=supplier,
        supplier_lot_code="FARM-88",
        site=plant,
        produced_on=date(2026, 3, 2),
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number="DA-1001",
        acting_user=user,
    )

    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.RECEIVE
    assert (event.biz_step, event.disposition) == ("receiving", "in_progress")
    assert event.source_party == supplier
    assert event.destination_site == plant
    assert event.site == plant
    assert event.recorded_by == user
    assert event.occurred_at.date() == date(2026, 3, 2)
    assert event.document_number == "DA-1001"
    assert _lines(event) == [("subject", lot.pk, Decimal("250.000"), "KGM")]
    assert lot.supplier_lot_code == "FARM-88"


def test_a_lot_made_from_nothing_records_a_produce_event(user, plant):
    lot = services.lot_create(
        product=ProductFactory(unit="KGM"),
        code="P-1",
        quantity=Decimal("40"),
        site=plant,
        acting_user=user,
    )

    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.PRODUCE
    assert event.source_party is None
    assert event.site == plant
    assert _lines(event) == [("subject", lot.pk, Decimal("40.000"), "KGM")]
    assert not Genealogy.objects.exists()


def test_a_lot_made_from_inputs_records_a_transform_event_with_genealogy(user, plant):
    flour = LotFactory(product__unit="KGM")
    eggs = LotFactory(product__unit="EA")

    bread = services.lot_create(
        product=ProductFactory(unit="EA"),
        code="BREAD-1",
        quantity=Decimal("120"),
        inputs=[Line(flour, Decimal("30")), Line(eggs, Decimal("48"))],
        site=plant,
        acting_user=user,
    )

    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.TRANSFORM
    assert _lines(event) == sorted(
        [
            ("input", flour.pk, Decimal("30.000"), "KGM"),
            ("input", eggs.pk, Decimal("48.000"), "EA"),
            ("output", bread.pk, Decimal("120.000"), "EA"),
        ]
    )
    links = {
        (link.parent_id, link.child_id, link.kind, link.quantity, link.unit, link.event_id)
        for link in Genealogy.objects.all()
    }
    assert links == {
        (flour.pk, bread.pk, "transformation", Decimal("30.000"), "KGM", event.pk),
        (eggs.pk, bread.pk, "transformation", Decimal("48.000"), "EA", event.pk),
    }


def test_a_new_lot_expires_after_the_product_shelf_life(user):
    lot = services.lot_create(
        product=ProductFactory(shelf_life_days=10),
        code="P-1",
        quantity=Decimal("1"),
        produced_on=date(2026, 3, 25),
        acting_user=user,
    )

    assert lot.expires_on == date(2026, 4, 4)


def test_lot_create_refuses_a_code_the_product_already_has(user):
    existing = LotFactory(code="L-2041")

    with pytest.raises(ValidationError) as exc_info:
        services.lot_create(
            product=existing.product, code="L-2041", quantity=Decimal("1"), acting_user=user
        )

    assert exc_info.value.messages == ["This product already has a lot with this code."]


def test_a_failing_lot_create_writes_nothing(user):
    flour = LotFactory()
    counts = _counts()

    with pytest.raises(ValidationError) as exc_info:
        services.lot_create(
            product=ProductFactory(),
            code="BREAD-1",
            quantity=Decimal("120"),
            inputs=[Line(flour, Decimal("0"))],
            acting_user=user,
        )

    assert exc_info.value.messages == [services.QUANTITY_POSITIVE]
    assert _counts() == counts


# --- serial_unit_create -----------------------------------------------------------------------


def test_a_serial_unit_is_commissioned_with_a_produce_event(user, plant):
    unit = services.serial_unit_create(
        product=SerialProductFactory(), serial="SN-1", site=plant, acting_user=user
    )

    assert unit.holder_site == plant
    assert unit.status == SerialUnit.Status.IN_STOCK
    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.PRODUCE
    assert _lines(event) == [("subject", unit.pk, None, "")]


def test_a_serial_unit_built_from_lots_has_them_in_its_genealogy(user):
    cells = LotFactory(product__unit="EA")

    unit = services.serial_unit_create(
        product=SerialProductFactory(),
        serial="SN-1",
        inputs=[Line(cells, Decimal("4"))],
        acting_user=user,
    )

    link = Genealogy.objects.get()
    assert (link.parent_id, link.child_id, link.quantity) == (cells.pk, unit.pk, Decimal("4"))
    assert link.event.event_type == TraceEvent.Type.TRANSFORM


def test_serial_unit_create_refuses_a_product_tracked_by_lot(user):
    product = ProductFactory(sku="FLOUR", name="Flour")

    with pytest.raises(ValidationError) as exc_info:
        services.serial_unit_create(product=product, serial="SN-1", acting_user=user)

    assert exc_info.value.messages == [services.WRONG_TRACKING_SERIAL % {"product": product}]
    assert exc_info.value.messages == ["FLOUR · Flour is tracked by lot; it has no serial units."]
    assert not SerialUnit.objects.exists()


def test_serial_unit_create_refuses_a_lot_of_another_product(user):
    lot = LotFactory(code="L-7", product=SerialProductFactory(sku="CHARGER"))
    product = SerialProductFactory(sku="SCOOTER")

    with pytest.raises(ValidationError) as exc_info:
        services.serial_unit_create(product=product, serial="SN-1", lot=lot, acting_user=user)

    expected = services.LOT_OF_OTHER_PRODUCT % {
        "lot": "L-7",
        "lot_product": "CHARGER",
        "product": "SCOOTER",
    }
    assert exc_info.value.messages == [expected]
    assert expected == "Lot L-7 belongs to CHARGER, not to SCOOTER."


# --- item_change_status -----------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_status_change_needs_a_reason(user, reason):
    lot = LotFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.item_change_status(
            item=lot, status=Lot.Status.ON_HOLD, reason=reason, acting_user=user
        )

    assert exc_info.value.message_dict == {"reason": [services.REASON_REQUIRED]}
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED


def test_a_status_change_to_the_same_status_is_refused(user):
    lot = LotFactory(status=Lot.Status.ON_HOLD)

    with pytest.raises(ValidationError) as exc_info:
        services.lot_hold(lot=lot, reason="Supplier notice SN-88", acting_user=user)

    assert exc_info.value.messages == [services.SAME_STATUS % {"item": lot, "status": "on hold"}]
    assert not StatusChange.objects.exists()


def test_a_status_change_records_who_when_and_why(user, plant):
    lot = LotFactory(site=plant)
    moment = timezone.now().replace(microsecond=0) - timedelta(hours=2)

    services.item_change_status(
        item=lot,
        status=Lot.Status.QUARANTINED,
        reason="Supplier notice SN-88: Listeria",
        occurred_at=moment,
        acting_user=user,
    )

    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED
    change = StatusChange.objects.get()
    assert change.item_id == lot.pk
    assert (change.from_status, change.to_status) == ("released", "quarantined")
    assert change.reason == "Supplier notice SN-88: Listeria"
    assert change.changed_by == user
    assert change.changed_at == moment


def test_a_status_change_records_a_status_change_event(user, plant):
    lot = LotFactory(site=plant)

    services.lot_quarantine(lot=lot, reason="Supplier notice SN-88", acting_user=user)

    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.STATUS_CHANGE
    assert event.disposition == "non_sellable_other"
    assert event.notes == "Supplier notice SN-88"
    assert event.site == plant
    assert event.recorded_by == user
    assert _lines(event) == [("subject", lot.pk, None, "")]
    assert StatusChange.objects.get().event == event


def test_a_serial_unit_status_change_is_recorded_too(user):
    unit = SerialUnitFactory()

    services.item_change_status(
        item=unit, status=SerialUnit.Status.ON_HOLD, reason="Battery swelling", acting_user=user
    )

    unit.refresh_from_db()
    assert unit.status == SerialUnit.Status.ON_HOLD
    assert StatusChange.objects.get().item_id == unit.pk


# --- items_change_status_many -----------------------------------------------------------------


def test_many_statuses_change_at_once_each_with_its_event_and_status_change(user, plant):
    lots = [LotFactory(site=plant) for _ in range(3)]
    unit = SerialUnitFactory(holder_site=plant)

    changed = services.items_change_status_many(
        status=Lot.Status.RECALLED,
        reason="Recall RC-2026-0001",
        lots=Lot.objects.all(),
        serial_units=SerialUnit.objects.all(),
        acting_user=user,
    )

    assert {item.pk for item in changed} == {*(lot.pk for lot in lots), unit.pk}
    assert set(Lot.objects.values_list("status", flat=True)) == {"recalled"}
    assert SerialUnit.objects.get().status == "recalled"
    changes = StatusChange.objects.select_related("event")
    assert len(changes) == 4
    for change in changes:
        assert (change.to_status, change.reason, change.changed_by) == (
            "recalled",
            "Recall RC-2026-0001",
            user,
        )
        assert change.event.event_type == TraceEvent.Type.STATUS_CHANGE
        assert change.event.site == plant
        assert change.event.disposition == "recalled"
        assert [line.item_id for line in change.event.lines.all()] == [change.item_id]
    history = Lot.history.filter(history_type="~")
    assert {(h.item_id, h.status, h.history_user) for h in history} == {
        (lot.pk, "recalled", user) for lot in lots
    }


def test_items_already_in_the_status_are_left_alone(user):
    LotFactory(status=Lot.Status.RECALLED)
    released = LotFactory()

    changed = services.items_change_status_many(
        status=Lot.Status.RECALLED, reason="Recall", lots=Lot.objects.all(), acting_user=user
    )

    assert [item.pk for item in changed] == [released.pk]
    assert StatusChange.objects.get().item_id == released.pk


def test_many_status_changes_need_a_reason(user):
    LotFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.items_change_status_many(
            status=Lot.Status.ON_HOLD, reason=" ", lots=Lot.objects.all(), acting_user=user
        )

    assert exc_info.value.message_dict == {"reason": [services.REASON_REQUIRED]}


def test_a_status_the_model_does_not_have_is_refused(user):
    SerialUnitFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.items_change_status_many(
            status=Lot.Status.REJECTED,
            reason="Bad",
            serial_units=SerialUnit.objects.all(),
            acting_user=user,
        )

    assert exc_info.value.messages == ["Serial units have no status “rejected”."]
    assert SerialUnit.objects.get().status == SerialUnit.Status.IN_STOCK


@pytest.mark.parametrize("size", [2, 20])
def test_many_status_changes_take_a_constant_number_of_queries(
    user, size, django_assert_max_num_queries
):
    for _ in range(size):
        LotFactory()
        SerialUnitFactory()

    with django_assert_max_num_queries(16):
        services.items_change_status_many(
            status=Lot.Status.ON_HOLD,
            reason="Hold",
            lots=Lot.objects.all(),
            serial_units=SerialUnit.objects.all(),
            acting_user=user,
        )

    assert StatusChange.objects.count() == 2 * size


# --- shipment_create --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (Lot.Status.ON_HOLD, "on hold"),
        (Lot.Status.QUARANTINED, "quarantined"),
        (Lot.Status.REJECTED, "rejected"),
        (Lot.Status.RECALLED, "recalled"),
    ],
)
def test_a_blocked_lot_cannot_be_shipped(user, customer, status, label):
    lot = LotFactory(code="L-2041", product__sku="SALAD", status=status)

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(
            lots=[Line(lot, Decimal("10"))], to_party=customer, acting_user=user
        )

    assert exc_info.value.messages == [f"SALAD lot L-2041 is {label} and cannot be shipped."]
    assert exc_info.value.messages == [services.SHIP_BLOCKED % {"item": lot, "status": label}]
    assert not TraceEvent.objects.exists()


def test_an_expired_lot_cannot_be_shipped(user, customer):
    lot = LotFactory(
        code="L-2041",
        product__sku="SALAD",
        produced_on=date(2026, 3, 1),
        expires_on=date(2026, 3, 8),
    )

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(
            lots=[Line(lot, Decimal("10"))],
            to_party=customer,
            shipped_at=date(2026, 3, 9),
            acting_user=user,
        )

    assert exc_info.value.messages == [services.SHIP_EXPIRED % {"item": lot, "date": "2026-03-08"}]
    assert exc_info.value.messages == [
        "SALAD lot L-2041 expired on 2026-03-08 and cannot be shipped."
    ]
    assert not TraceEvent.objects.exists()


def test_a_lot_can_be_shipped_on_its_expiry_date(user, customer):
    lot = LotFactory(produced_on=date(2026, 3, 1), expires_on=date(2026, 3, 8))

    event = services.shipment_create(
        lots=[Line(lot, Decimal("10"))],
        to_party=customer,
        shipped_at=date(2026, 3, 8),
        acting_user=user,
    )

    assert event.event_type == TraceEvent.Type.SHIP


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (SerialUnit.Status.ON_HOLD, "on hold"),
        (SerialUnit.Status.QUARANTINED, "quarantined"),
        (SerialUnit.Status.RECALLED, "recalled"),
        (SerialUnit.Status.SCRAPPED, "scrapped"),
    ],
)
def test_a_blocked_unit_cannot_be_shipped(user, customer, status, label):
    unit = SerialUnitFactory(serial="SN-1", product__sku="SCOOTER", status=status)

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(serial_units=[unit], to_party=customer, acting_user=user)

    assert exc_info.value.messages == [f"SCOOTER serial SN-1 is {label} and cannot be shipped."]
    assert not TraceEvent.objects.filter(event_type=TraceEvent.Type.SHIP).exists()


def test_a_unit_held_by_a_party_cannot_be_shipped(user, customer):
    unit = SerialUnitFactory(
        serial="SN-1", product__sku="SCOOTER", holder_site=None, holder_party=PartyFactory()
    )

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(serial_units=[unit], to_party=customer, acting_user=user)

    assert exc_info.value.messages == [services.SHIP_NOT_HERE % {"item": unit}]
    assert exc_info.value.messages == [
        "SCOOTER serial SN-1 is not at one of our sites and cannot be shipped from here."
    ]


def test_every_unshippable_item_is_named(user, customer):
    held = LotFactory(status=Lot.Status.ON_HOLD)
    recalled = LotFactory(status=Lot.Status.RECALLED)

    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(
            lots=[Line(held, Decimal("1")), Line(recalled, Decimal("1"))],
            to_party=customer,
            acting_user=user,
        )

    assert exc_info.value.messages == [
        services.SHIP_BLOCKED % {"item": held, "status": "on hold"},
        services.SHIP_BLOCKED % {"item": recalled, "status": "recalled"},
    ]


def test_a_shipment_needs_something_to_ship(user, customer):
    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(to_party=customer, acting_user=user)

    assert exc_info.value.messages == [services.SHIP_NOTHING]


def test_a_shipment_needs_a_destination(user):
    with pytest.raises(ValidationError) as exc_info:
        services.shipment_create(lots=[Line(LotFactory(), Decimal("1"))], acting_user=user)

    assert exc_info.value.messages == [services.SHIP_NOWHERE]


def test_a_shipment_records_a_ship_event_to_the_customer(user, customer, plant):
    lot = LotFactory(product__unit="KGM", site=plant)
    unit = SerialUnitFactory(holder_site=plant)

    event = services.shipment_create(
        lots=[Line(lot, Decimal("12.5"))],
        serial_units=[unit],
        from_site=plant,
        to_party=customer,
        shipped_at=date(2026, 3, 10),
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number="DA-2001",
        acting_user=user,
    )

    assert event.event_type == TraceEvent.Type.SHIP
    assert (event.biz_step, event.disposition) == ("shipping", "in_transit")
    assert event.destination_party == customer
    assert event.source_site == plant
    assert event.source_party == plant.party
    assert event.document_number == "DA-2001"
    assert event.recorded_by == user
    assert _lines(event) == sorted(
        [("subject", lot.pk, Decimal("12.500"), "KGM"), ("subject", unit.pk, None, "")]
    )


def test_a_shipped_unit_is_held_by_the_customer_under_warranty(user, customer, plant):
    unit = SerialUnitFactory(holder_site=plant, product__warranty_months=24)

    services.shipment_create(
        serial_units=[unit],
        from_site=plant,
        to_party=customer,
        shipped_at=date(2026, 4, 15),
        acting_user=user,
    )

    unit.refresh_from_db()
    assert unit.status == SerialUnit.Status.SHIPPED
    assert unit.holder_party == customer
    assert unit.holder_site is None
    assert unit.shipped_on == date(2026, 4, 15)
    assert unit.warranty_ends_on == date(2028, 4, 15)


def test_a_unit_moved_to_our_own_site_stays_in_stock_there(user, plant):
    warehouse = SiteFactory(party=plant.party)
    unit = SerialUnitFactory(holder_site=plant)

    services.shipment_create(
        serial_units=[unit], from_site=plant, to_site=warehouse, acting_user=user
    )

    unit.refresh_from_db()
    assert unit.status == SerialUnit.Status.IN_STOCK
    assert unit.holder_site == warehouse
    assert unit.holder_party is None
    assert unit.shipped_on is None


# --- Installation -----------------------------------------------------------------------------


def test_installing_a_component_links_it_to_the_assembly(user, plant):
    scooter = SerialUnitFactory(holder_site=plant)
    battery = SerialUnitFactory(holder_site=plant)

    services.serial_unit_install(component=battery, assembly=scooter, acting_user=user)

    battery.refresh_from_db()
    assert battery.installed_in == scooter
    assert battery.status == SerialUnit.Status.INSTALLED
    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.INSTALL
    assert event.site == plant
    assert _lines(event) == sorted(
        [("child", battery.pk, None, ""), ("parent", scooter.pk, None, "")]
    )
    link = Genealogy.objects.get()
    assert (link.parent_id, link.child_id, link.kind) == (battery.pk, scooter.pk, "installation")
    assert link.event == event


def test_an_assembly_cannot_be_installed_in_its_own_component(user):
    scooter = SerialUnitFactory()
    battery = SerialUnitFactory()
    services.serial_unit_install(component=battery, assembly=scooter, acting_user=user)

    with pytest.raises(ValidationError) as exc_info:
        services.serial_unit_install(component=scooter, assembly=battery, acting_user=user)

    assert exc_info.value.messages == [
        services.INSTALL_CYCLE % {"component": scooter, "assembly": battery}
    ]
    scooter.refresh_from_db()
    assert scooter.installed_in is None


def test_a_cycle_through_several_levels_is_refused(user):
    scooter, deck, battery = SerialUnitFactory.create_batch(3)
    services.serial_unit_install(component=deck, assembly=scooter, acting_user=user)
    services.serial_unit_install(component=battery, assembly=deck, acting_user=user)

    with pytest.raises(ValidationError) as exc_info:
        services.serial_unit_install(component=scooter, assembly=battery, acting_user=user)

    assert exc_info.value.messages == [
        services.INSTALL_CYCLE % {"component": scooter, "assembly": battery}
    ]


def test_an_installed_component_cannot_be_installed_again(user):
    scooter, other_scooter, battery = SerialUnitFactory.create_batch(3)
    services.serial_unit_install(component=battery, assembly=scooter, acting_user=user)

    with pytest.raises(ValidationError) as exc_info:
        services.serial_unit_install(component=battery, assembly=other_scooter, acting_user=user)

    assert exc_info.value.messages == [
        services.INSTALL_ALREADY % {"component": battery, "assembly": scooter}
    ]
    battery.refresh_from_db()
    assert battery.installed_in == scooter


def test_a_removed_component_keeps_its_genealogy_link(user, plant):
    scooter = SerialUnitFactory(holder_site=plant)
    battery = SerialUnitFactory(holder_site=None)
    services.serial_unit_install(component=battery, assembly=scooter, acting_user=user)

    services.serial_unit_remove(component=battery, acting_user=user)

    battery.refresh_from_db()
    assert battery.installed_in is None
    assert battery.status == SerialUnit.Status.IN_STOCK
    assert battery.holder_site == plant
    remove = TraceEvent.objects.get(event_type=TraceEvent.Type.REMOVE)
    assert _lines(remove) == sorted(
        [("child", battery.pk, None, ""), ("parent", scooter.pk, None, "")]
    )
    link = Genealogy.objects.get()
    assert (link.parent_id, link.child_id, link.kind) == (battery.pk, scooter.pk, "installation")


def test_a_component_that_is_not_installed_cannot_be_removed(user):
    battery = SerialUnitFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.serial_unit_remove(component=battery, acting_user=user)

    assert exc_info.value.messages == [services.REMOVE_NOT_INSTALLED % {"component": battery}]


# --- Service records --------------------------------------------------------------------------


def test_a_service_that_swaps_a_part_updates_the_installation(user, plant):
    scooter = SerialUnitFactory(holder_site=plant)
    old_battery = SerialUnitFactory(holder_site=plant)
    new_battery = SerialUnitFactory(holder_site=plant)
    services.serial_unit_install(component=old_battery, assembly=scooter, acting_user=user)
    old_battery.refresh_from_db()

    record = services.service_record_create(
        serial_unit=scooter,
        kind=ServiceRecord.Kind.COMPONENT_REPLACEMENT,
        performed_on=date(2026, 6, 1),
        description="Battery no longer holds a charge.",
        outcome=ServiceRecord.Outcome.REPLACED,
        parts_removed=[old_battery],
        parts_fitted=[new_battery],
        acting_user=user,
    )

    old_battery.refresh_from_db()
    new_battery.refresh_from_db()
    assert old_battery.installed_in is None
    assert new_battery.installed_in == scooter
    assert set(scooter.components.all()) == {new_battery}
    assert {(p.part_id, p.action) for p in record.parts.all()} == {
        (old_battery.pk, "removed"),
        (new_battery.pk, "fitted"),
    }
    assert record.event.event_type == TraceEvent.Type.REPAIR
    assert record.recorded_by == user
    assert Genealogy.objects.filter(child_id=scooter.pk).count() == 2


def test_an_inspection_records_an_inspect_event(user):
    unit = SerialUnitFactory()

    record = services.service_record_create(
        serial_unit=unit,
        kind=ServiceRecord.Kind.INSPECTION,
        performed_on=date(2026, 6, 1),
        description="Annual brake check.",
        acting_user=user,
    )

    assert record.event.event_type == TraceEvent.Type.INSPECT
    assert _lines(record.event) == [("subject", unit.pk, None, "")]


def test_a_part_that_is_not_installed_cannot_be_removed_in_a_service(user):
    scooter = SerialUnitFactory()
    battery = SerialUnitFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.service_record_create(
            serial_unit=scooter,
            kind=ServiceRecord.Kind.REPAIR,
            performed_on=date(2026, 6, 1),
            description="Replaced battery.",
            parts_removed=[battery],
            acting_user=user,
        )

    assert exc_info.value.messages == [
        services.PART_NOT_INSTALLED % {"part": battery, "unit": scooter}
    ]
    assert not ServiceRecord.objects.exists()
    assert not TraceEvent.objects.exists()


def test_a_failing_service_record_writes_nothing(user):
    scooter, installed_elsewhere, battery = SerialUnitFactory.create_batch(3)
    services.serial_unit_install(component=battery, assembly=installed_elsewhere, acting_user=user)
    events = TraceEvent.objects.count()

    with pytest.raises(ValidationError) as exc_info:
        services.service_record_create(
            serial_unit=scooter,
            kind=ServiceRecord.Kind.REPAIR,
            performed_on=date(2026, 6, 1),
            description="Fitted a battery.",
            parts_fitted=[battery],
            acting_user=user,
        )

    assert exc_info.value.messages == [
        services.INSTALL_ALREADY % {"component": battery, "assembly": installed_elsewhere}
    ]
    assert not ServiceRecord.objects.exists()
    assert not ServicePart.objects.exists()
    assert TraceEvent.objects.count() == events


# --- Database errors become sentences ---------------------------------------------------------


def _integrity_error(create) -> IntegrityError:
    with pytest.raises(IntegrityError) as exc_info, transaction.atomic():
        create()
    return exc_info.value


def test_a_duplicate_insert_is_reported_with_the_constraint_message():
    lot = LotFactory(code="L-2041")
    error = _integrity_error(
        lambda: Lot.objects.create(product=lot.product, code="L-2041", quantity=1)
    )

    assert services._constraint_message(error) == "This product already has a lot with this code."


def test_a_check_violation_is_reported_with_the_constraint_message():
    error = _integrity_error(
        lambda: Lot.objects.create(product=ProductFactory(), code="L-1", quantity=-1)
    )

    assert services._constraint_message(error) == "A lot's quantity cannot be negative."


def test_values_in_the_database_error_are_not_mistaken_for_a_constraint_name():
    # The serial is spelled like the lot status constraint; PostgreSQL repeats it in DETAIL.
    unit = SerialUnitFactory(serial="lot_status_valid")
    error = _integrity_error(
        lambda: SerialUnit.objects.create(product=unit.product, serial="lot_status_valid")
    )

    assert (
        services._constraint_message(error) == "This product already has a unit with this serial."
    )


def test_a_duplicate_saved_in_a_race_surfaces_as_a_validation_error(user, monkeypatch):
    existing = LotFactory(code="L-2041")
    # As if the other transaction committed its lot after this one had checked.
    monkeypatch.setattr(Lot, "validate_constraints", lambda self, exclude=None: None)
    counts = _counts()

    with pytest.raises(ValidationError) as exc_info:
        services.lot_create(
            product=existing.product, code="L-2041", quantity=Decimal("1"), acting_user=user
        )

    assert exc_info.value.messages == ["This product already has a lot with this code."]
    assert exc_info.value.code == "integrity"
    assert _counts() == counts
