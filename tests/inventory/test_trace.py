"""The trace selector: what is reached, at which depth, by which path, and who received or
supplied it, on graphs built the way the services build them (and cycles only bad data makes).
"""

from collections import deque
from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.models import (
    EventLine,
    Genealogy,
    Lot,
    Party,
    SerialUnit,
    ServiceRecord,
    TraceEvent,
)
from inventory.selectors import resolve_identifiers
from inventory.services import (
    Line,
    event_record,
    lot_create,
    serial_unit_create,
    serial_unit_install,
    serial_unit_remove,
    service_record_create,
    shipment_create,
)
from inventory.trace import Direction, trace

from .factories import (
    GenealogyFactory,
    InternalPartyFactory,
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    TraceEventFactory,
    UserFactory,
)

SHIPPED_ON = date(2026, 3, 10)
# A trace is one recursive statement; on PostgreSQL one more sets the planner up for it.
# On PostgreSQL: the planner settings, the trace, and (inside a caller's transaction, as in
# tests) the settings put back.
TRACE_QUERIES = 3 if connection.vendor == "postgresql" else 1


def reached(result):
    """Label → depth of every item reached (roots excluded), checking each is listed once."""
    labels = [item.label for item in result.items]
    assert len(labels) == len(set(labels)), f"listed more than once: {labels}"
    return {item.label: item.depth for item in result.items}


def labels(items):
    return [item.label for item in items]


def parties(traced_parties):
    return {traced.name: labels(traced.items) for traced in traced_parties}


def forward(*objects):
    return _trace(Direction.FORWARD, objects)


def backward(*objects):
    return _trace(Direction.BACKWARD, objects)


def _trace(direction, objects):
    lot_keys = [obj.pk for obj in objects if isinstance(obj, Lot)]
    unit_keys = [obj.pk for obj in objects if isinstance(obj, SerialUnit)]
    return trace(
        direction=direction,
        lots=Lot.objects.filter(pk__in=lot_keys) if lot_keys else None,
        serial_units=SerialUnit.objects.filter(pk__in=unit_keys) if unit_keys else None,
    )


def link(parent, child):
    """A genealogy edge made directly, as bad imported data could make it."""
    return GenealogyFactory(parent=parent.item, child=child.item)


def graph_edges():
    """Every (parent, child) edge the trace may walk."""
    edges = set(Genealogy.objects.values_list("parent_id", "child_id"))
    edges |= set(SerialUnit.objects.filter(lot__isnull=False).values_list("lot_id", "item_id"))
    return edges


@pytest.fixture
def user(db):
    return UserFactory(username="tracer")


@pytest.fixture
def mix(db):
    return ProductFactory(sku="MIX")


def lots(product, *codes):
    return [LotFactory(product=product, code=code) for code in codes]


# --- Shapes of the graph ----------------------------------------------------------------------


def test_diamond_lists_the_item_once_at_its_smaller_depth(mix):
    a, b, c, d, e = lots(mix, "A", "B", "C", "D", "E")
    link(a, b)
    link(a, c)
    link(c, e)
    link(b, d)
    link(e, d)

    result = forward(a)

    assert labels(result.roots) == ["MIX lot A"]
    assert reached(result) == {"MIX lot B": 1, "MIX lot C": 1, "MIX lot D": 2, "MIX lot E": 2}
    assert labels(next(i for i in result.items if i.lot == "D").path) == [
        "MIX lot A",
        "MIX lot B",
        "MIX lot D",
    ]


def test_diamond_backward_lists_the_shared_input_once_at_its_smaller_depth(mix):
    a, b, c, d, e = lots(mix, "A", "B", "C", "D", "E")
    link(a, b)
    link(a, c)
    link(c, e)
    link(b, d)
    link(e, d)

    assert reached(backward(d)) == {
        "MIX lot B": 1,
        "MIX lot E": 1,
        "MIX lot A": 2,
        "MIX lot C": 2,
    }


def test_cycle_terminates_with_every_member_reached_once(mix):
    a, b, c, d = lots(mix, "A", "B", "C", "D")
    link(a, b)
    link(b, c)
    link(c, a)
    link(c, d)

    result = forward(a)

    assert labels(result.roots) == ["MIX lot A"]
    assert reached(result) == {"MIX lot B": 1, "MIX lot C": 2, "MIX lot D": 3}
    assert reached(backward(a)) == {"MIX lot C": 1, "MIX lot B": 2}
    assert reached(backward(d)) == {"MIX lot C": 1, "MIX lot B": 2, "MIX lot A": 3}


def test_two_item_cycle_reaches_the_other_item_only(mix):
    a, b = lots(mix, "A", "B")
    link(a, b)
    link(b, a)

    assert reached(forward(a)) == {"MIX lot B": 1}
    assert reached(backward(a)) == {"MIX lot B": 1}


def test_root_reached_from_another_root_stays_a_root(mix):
    a, b, c = lots(mix, "A", "B", "C")
    link(a, b)
    link(b, c)

    result = forward(a, b)

    assert labels(result.roots) == ["MIX lot A", "MIX lot B"]
    assert [root.depth for root in result.roots] == [0, 0]
    assert reached(result) == {"MIX lot C": 1}
    assert labels(result.items[0].path) == ["MIX lot B", "MIX lot C"]


def test_item_with_no_links_is_a_root_with_nothing_reached(mix):
    (a,) = lots(mix, "A")
    result = forward(a)
    assert (labels(result.roots), result.items) == (["MIX lot A"], [])


def test_transformation_with_many_inputs_and_outputs_links_each_input_to_each_output(user):
    flour, sugar, butter = (ProductFactory(sku=sku) for sku in ("FLOUR", "SUGAR", "BUTTER"))
    biscuit, crumb = ProductFactory(sku="BISCUIT"), ProductFactory(sku="CRUMB")
    inputs = [LotFactory(product=p, code="I1") for p in (flour, sugar, butter)]
    outputs = [LotFactory(product=p, code="O1") for p in (biscuit, crumb)]
    event_record(
        event_type=TraceEvent.Type.TRANSFORM,
        acting_user=user,
        inputs=[Line(lot, Decimal("10")) for lot in inputs],
        outputs=[Line(lot, Decimal("25")) for lot in outputs],
    )

    for lot in inputs:
        assert reached(forward(lot)) == {"BISCUIT lot O1": 1, "CRUMB lot O1": 1}
    for lot in outputs:
        assert reached(backward(lot)) == {
            "FLOUR lot I1": 1,
            "SUGAR lot I1": 1,
            "BUTTER lot I1": 1,
        }
    assert reached(forward(*outputs)) == {}


def test_serial_in_serial_in_serial_is_traced_through_every_installation(user):
    chip_lot = LotFactory(product=SerialProductFactory(sku="CHIP"), code="W-12")
    chip = SerialUnitFactory(product=chip_lot.product, serial="C1", lot=chip_lot)
    board = SerialUnitFactory(product=SerialProductFactory(sku="BOARD"), serial="B1")
    device = SerialUnitFactory(product=SerialProductFactory(sku="DEVICE"), serial="D1")
    serial_unit_install(component=chip, assembly=board, acting_user=user)
    serial_unit_install(component=board, assembly=device, acting_user=user)

    assert reached(forward(chip)) == {"BOARD serial B1": 1, "DEVICE serial D1": 2}
    assert reached(forward(chip_lot)) == {
        "CHIP serial C1": 1,
        "BOARD serial B1": 2,
        "DEVICE serial D1": 3,
    }
    assert reached(backward(device)) == {
        "BOARD serial B1": 1,
        "CHIP serial C1": 2,
        "CHIP lot W-12": 3,
    }


def test_lot_reaches_the_serial_units_built_in_it_and_from_it(user):
    pack = SerialProductFactory(sku="PACK")
    cells = LotFactory(product=ProductFactory(sku="CELL"), code="C-7")
    pack_lot = LotFactory(product=pack, code="PL-1")
    first = serial_unit_create(
        product=pack,
        serial="P1",
        lot=pack_lot,
        inputs=[Line(cells, Decimal("4"))],
        acting_user=user,
    )
    serial_unit_create(product=pack, serial="P2", lot=pack_lot, acting_user=user)
    serial_unit_create(
        product=pack, serial="P3", inputs=[Line(cells, Decimal("4"))], acting_user=user
    )

    assert reached(forward(pack_lot)) == {"PACK serial P1": 1, "PACK serial P2": 1}
    assert reached(forward(cells)) == {"PACK serial P1": 1, "PACK serial P3": 1}
    assert reached(backward(first)) == {"PACK lot PL-1": 1, "CELL lot C-7": 1}


def test_serial_unit_carries_its_production_lot_code(user):
    pack = SerialProductFactory(sku="PACK", gtin="09501101020917")
    pack_lot = LotFactory(product=pack, code="PL-1")
    SerialUnitFactory(product=pack, serial="P1", lot=pack_lot)

    (unit,) = forward(pack_lot).items

    assert unit.as_dict() == {
        "kind": "serial",
        "sku": "PACK",
        "gtin": "09501101020917",
        "lot": "PL-1",
        "serial": "P1",
        "depth": 1,
        "path": ["PACK lot PL-1", "PACK serial P1"],
    }


def test_lots_and_units_can_be_traced_together(user):
    pack = SerialProductFactory(sku="PACK")
    a, b = lots(ProductFactory(sku="MIX"), "A", "B")
    unit = SerialUnitFactory(product=pack, serial="P1")
    device = SerialUnitFactory(product=SerialProductFactory(sku="DEVICE"), serial="D1")
    link(a, b)
    serial_unit_install(component=unit, assembly=device, acting_user=user)

    result = forward(a, unit)

    assert labels(result.roots) == ["MIX lot A", "PACK serial P1"]
    assert reached(result) == {"MIX lot B": 1, "DEVICE serial D1": 1}


# --- Where a trace starts ---------------------------------------------------------------------


def test_trace_from_a_supplier_lot_code_reaches_what_was_made_from_it(user):
    mill = PartyFactory(name="Mill Co", is_supplier=True, is_customer=False)
    flour, bread = ProductFactory(sku="FLOUR"), ProductFactory(sku="BREAD")
    received = lot_create(
        product=flour,
        code="F-1",
        quantity=Decimal("500"),
        supplier=mill,
        supplier_lot_code="MILL-889",
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    lot_create(
        product=bread,
        code="B-1",
        quantity=Decimal("200"),
        inputs=[Line(received, Decimal("100"))],
        produced_on=date(2026, 3, 2),
        acting_user=user,
    )
    lot_create(product=flour, code="F-2", quantity=Decimal("5"), acting_user=user)

    found, _ = resolve_identifiers(["MILL-889"])
    result = trace(direction="forward", lots=Lot.objects.filter(pk__in=[lot.pk for lot in found]))

    assert labels(result.roots) == ["FLOUR lot F-1"]
    assert reached(result) == {"BREAD lot B-1": 1}
    assert parties(result.suppliers) == {"Mill Co": ["FLOUR lot F-1"]}


def test_trace_from_a_production_date_range_starts_at_the_lots_made_in_it(mix):
    bread = ProductFactory(sku="BREAD")
    made = {
        day: LotFactory(product=mix, code=f"M{day}", produced_on=date(2026, 3, day))
        for day in (1, 5, 9, 10, 20)
    }
    other_product = LotFactory(product=bread, code="X5", produced_on=date(2026, 3, 5))
    for day, lot in made.items():
        link(lot, LotFactory(product=bread, code=f"B{day}"))
    link(other_product, LotFactory(product=bread, code="BX"))

    result = trace(
        direction=Direction.FORWARD,
        lots=Lot.objects.filter(
            product=mix, produced_on__range=(date(2026, 3, 5), date(2026, 3, 10))
        ),
    )

    assert labels(result.roots) == ["MIX lot M10", "MIX lot M5", "MIX lot M9"]
    assert reached(result) == {"BREAD lot B10": 1, "BREAD lot B5": 1, "BREAD lot B9": 1}


@pytest.mark.parametrize(
    "queryset",
    [
        pytest.param(lambda: Lot.objects.none(), id="none"),
        pytest.param(lambda: Lot.objects.filter(pk__in=[]), id="empty-pk-list"),
        pytest.param(lambda: Lot.objects.filter(code="NOPE"), id="no-match"),
    ],
)
def test_trace_from_no_lots_is_empty(mix, queryset):
    lots(mix, "A")

    result = trace(direction="forward", lots=queryset())

    assert (result.roots, result.items, result.consignees, result.suppliers) == ([], [], [], [])


def test_trace_with_no_starting_items_is_empty(db):
    result = trace(direction="backward")
    assert (result.direction, result.roots, result.items) == (Direction.BACKWARD, [], [])


def test_unknown_direction_is_refused(mix):
    with pytest.raises(ValueError):
        trace(direction="sideways", lots=Lot.objects.all())


# --- Consignees and suppliers -----------------------------------------------------------------


@pytest.fixture
def distribution(user):
    """Flour from a mill into bread; bread shipped to a distributor who ships on to a shop."""
    ours = InternalPartyFactory(name="Bakery")
    plant = SiteFactory(party=ours, code="plant")
    store = SiteFactory(party=ours, code="store", kind="warehouse")
    mill = PartyFactory(name="Mill Co", is_supplier=True, is_customer=False, gln="5412345000013")
    distributor = PartyFactory(name="Distri BV", gln="0614141000012")
    shop = PartyFactory(name="Corner Shop")
    flour_buyer = PartyFactory(name="Flour Trader")
    flour = lot_create(
        product=ProductFactory(sku="FLOUR"),
        code="F-1",
        quantity=Decimal("500"),
        supplier=mill,
        supplier_lot_code="MILL-889",
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    bread = lot_create(
        product=ProductFactory(sku="BREAD"),
        code="B-1",
        quantity=Decimal("200"),
        inputs=[Line(flour, Decimal("100"))],
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=user,
    )
    unrelated = LotFactory(product=ProductFactory(sku="SALT"), code="S-1", site=plant)
    shipment_create(
        lots=[Line(flour, Decimal("50"))],
        from_site=plant,
        to_party=flour_buyer,
        shipped_at=SHIPPED_ON,
        acting_user=user,
    )
    shipment_create(
        lots=[Line(bread, Decimal("100"))],
        from_site=plant,
        to_site=store,
        shipped_at=SHIPPED_ON,
        acting_user=user,
    )
    shipment_create(
        lots=[Line(bread, Decimal("80")), Line(unrelated, Decimal("1"))],
        from_site=store,
        to_party=distributor,
        shipped_at=SHIPPED_ON,
        acting_user=user,
    )
    event_record(
        event_type=TraceEvent.Type.SHIP,
        subjects=[Line(bread, Decimal("20"))],
        source_party=distributor,
        destination_party=shop,
        occurred_at=date(2026, 3, 12),
        acting_user=user,
    )
    shipment_create(
        lots=[Line(unrelated, Decimal("1"))],
        from_site=plant,
        to_party=PartyFactory(name="Salt Buyer"),
        shipped_at=SHIPPED_ON,
        acting_user=user,
    )
    return flour, bread


def test_consignees_are_who_received_the_roots_and_everything_reached(distribution):
    flour, _ = distribution

    result = forward(flour)

    assert parties(result.consignees) == {
        "Corner Shop": ["BREAD lot B-1"],
        "Distri BV": ["BREAD lot B-1"],
        "Flour Trader": ["FLOUR lot F-1"],
    }
    assert [traced.name for traced in result.consignees] == [
        "Corner Shop",
        "Distri BV",
        "Flour Trader",
    ]


def test_shipments_to_trading_partners_come_with_quantity_time_and_sender(distribution):
    flour, bread = distribution
    distributor = Party.objects.get(name="Distri BV")

    result = forward(flour)

    shipments = {
        (shipment.item, Party.objects.get(pk=shipment.party).name): shipment
        for shipment in result.shipments
    }
    assert set(shipments) == {
        (flour.pk, "Flour Trader"),
        (bread.pk, "Distri BV"),
        (bread.pk, "Corner Shop"),
    }
    ours = shipments[bread.pk, "Distri BV"]
    onward = shipments[bread.pk, "Corner Shop"]
    assert (ours.sender, ours.quantity) == (None, Decimal("80.000"))
    assert (onward.sender, onward.quantity) == (distributor.pk, Decimal("20.000"))
    assert onward.occurred_at.date() == date(2026, 3, 12)
    assert onward.occurred_at.utcoffset() is not None


def test_shipment_times_are_their_events_times_as_querysets_read_them(distribution):
    flour, _ = distribution

    result = forward(flour)

    ships = TraceEvent.objects.filter(event_type=TraceEvent.Type.SHIP)
    as_read = {moment: moment.tzinfo for moment in ships.values_list("occurred_at", flat=True)}
    assert len(result.shipments) == 3
    for shipment in result.shipments:
        assert shipment.occurred_at in as_read
        assert shipment.occurred_at.tzinfo == as_read[shipment.occurred_at]


def test_onward_shipment_recorded_from_a_distributor_names_the_retailer(distribution):
    _, bread = distribution
    assert "Corner Shop" in parties(forward(bread).consignees)


def test_internal_parties_are_never_consignees_or_suppliers(distribution, user):
    flour, bread = distribution
    ours = InternalPartyFactory(name="Bakery Two")
    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(flour, Decimal("1"))],
        source_party=ours,
        acting_user=user,
    )
    event_record(
        event_type=TraceEvent.Type.SHIP,
        subjects=[Line(bread, Decimal("1"))],
        destination_party=ours,
        acting_user=user,
    )

    result = forward(flour)
    names = {traced.name for traced in (*result.consignees, *result.suppliers)}

    assert not any(name.startswith("Bakery") for name in names)
    traced_pks = {traced.pk for traced in (*result.consignees, *result.suppliers)}
    assert not Party.objects.filter(pk__in=traced_pks, is_internal=True).exists()


def test_suppliers_are_who_sent_the_receipts_and_lot_suppliers(user):
    mill = PartyFactory(name="Mill Co", is_supplier=True)
    grower = PartyFactory(name="Grower", is_supplier=True)
    broker = PartyFactory(name="Broker", is_supplier=True)
    flour = lot_create(
        product=ProductFactory(sku="FLOUR"),
        code="F-1",
        quantity=Decimal("500"),
        supplier=mill,
        acting_user=user,
    )
    seeds = LotFactory(product=ProductFactory(sku="SEED"), code="S-1", supplier=grower)
    oil = LotFactory(product=ProductFactory(sku="OIL"), code="O-1")
    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(oil, Decimal("20"))],
        source_party=broker,
        acting_user=user,
    )
    bread = lot_create(
        product=ProductFactory(sku="BREAD"),
        code="B-1",
        quantity=Decimal("200"),
        inputs=[Line(flour, Decimal("1")), Line(seeds, Decimal("1")), Line(oil, Decimal("1"))],
        acting_user=user,
    )

    result = backward(bread)

    assert parties(result.suppliers) == {
        "Broker": ["OIL lot O-1"],
        "Grower": ["SEED lot S-1"],
        "Mill Co": ["FLOUR lot F-1"],
    }
    assert result.consignees == []


def test_a_shipping_distributor_is_not_a_supplier(distribution):
    _, bread = distribution
    assert "Distri BV" not in parties(forward(bread).suppliers)


# --- Paths, tree and installation history ------------------------------------------------------


@pytest.fixture
def plant(user):
    """A non-trivial graph: a diamond, a many-to-many transformation, a cycle from bad data,
    serial units built in a lot and from cells, and units installed in units."""
    mix = ProductFactory(sku="MIX")
    flour, sugar = LotFactory(product=mix, code="FLOUR"), LotFactory(product=mix, code="SUGAR")
    dough1 = lot_create(
        product=mix,
        code="DOUGH1",
        quantity=Decimal("10"),
        inputs=[Line(flour, Decimal("5")), Line(sugar, Decimal("1"))],
        acting_user=user,
    )
    dough2 = lot_create(
        product=mix,
        code="DOUGH2",
        quantity=Decimal("10"),
        inputs=[Line(flour, Decimal("5"))],
        acting_user=user,
    )
    bread1, bread2 = LotFactory(product=mix, code="BREAD1"), LotFactory(product=mix, code="BREAD2")
    event_record(
        event_type=TraceEvent.Type.TRANSFORM,
        inputs=[Line(dough1, Decimal("5")), Line(dough2, Decimal("5"))],
        outputs=[Line(bread1, Decimal("5")), Line(bread2, Decimal("5"))],
        acting_user=user,
    )
    bad1, bad2 = LotFactory(product=mix, code="BAD1"), LotFactory(product=mix, code="BAD2")
    link(bad1, bad2)
    link(bad2, bad1)
    link(bad2, dough2)

    pack, device = SerialProductFactory(sku="PACK"), SerialProductFactory(sku="DEVICE")
    cells = LotFactory(product=ProductFactory(sku="CELL"), code="C-7")
    pack_lot = LotFactory(product=pack, code="PL-1")
    pack1 = serial_unit_create(
        product=pack,
        serial="P1",
        lot=pack_lot,
        inputs=[Line(cells, Decimal("4"))],
        acting_user=user,
    )
    pack2 = serial_unit_create(product=pack, serial="P2", lot=pack_lot, acting_user=user)
    bms = SerialUnitFactory(product=SerialProductFactory(sku="BMS"), serial="M1")
    device1 = SerialUnitFactory(product=device, serial="D1")
    serial_unit_install(component=bms, assembly=pack1, acting_user=user)
    serial_unit_install(component=pack1, assembly=device1, acting_user=user)
    return [*Lot.objects.all(), *SerialUnit.objects.all()], pack2


def test_forward_and_backward_traces_mirror_each_other_for_every_pair(plant):
    everything, _ = plant
    forwards = {obj.pk: {i.pk for i in forward(obj).items} for obj in everything}
    backwards = {obj.pk: {i.pk for i in backward(obj).items} for obj in everything}

    for a in everything:
        for b in everything:
            assert (b.pk in forwards[a.pk]) == (a.pk in backwards[b.pk]), (str(a), str(b))
    assert sum(len(reached) for reached in forwards.values()) > len(everything)


@pytest.mark.parametrize("direction", list(Direction))
def test_each_path_runs_from_a_root_to_the_item_along_real_edges(plant, direction):
    everything, _ = plant
    edges = graph_edges()
    for start in everything:
        result = _trace(direction, [start])
        root_keys = {root.pk for root in result.roots}
        for item in result.all_items:
            path = [step.pk for step in item.path]
            assert path[0] in root_keys
            assert path[-1] == item.pk
            assert len(path) == item.depth + 1
            for here, there in pairwise(path):
                edge = (here, there) if direction == Direction.FORWARD else (there, here)
                assert edge in edges, (str(start), labels(item.path))


@pytest.mark.parametrize("direction", list(Direction))
def test_tree_lists_every_item_once_under_the_item_it_was_reached_through(plant, direction):
    everything, _ = plant
    for start in everything:
        result = _trace(direction, [start])
        rows = result.tree()
        assert sorted(item.pk for item, _ in rows) == sorted(i.pk for i in result.all_items)
        seen = {}
        for item, level in rows:
            assert level == item.depth
            if item.via is not None:
                assert seen[item.via.pk] == level - 1
            seen[item.pk] = level


def test_a_tree_starts_each_root_at_level_zero(plant):
    everything, pack2 = plant
    flour = next(obj for obj in everything if str(obj) == "MIX lot FLOUR")

    rows = [(item.label, level) for item, level in forward(flour, pack2).tree()]

    assert rows == [
        ("MIX lot FLOUR", 0),
        ("MIX lot DOUGH1", 1),
        ("MIX lot BREAD1", 2),
        ("MIX lot BREAD2", 2),
        ("MIX lot DOUGH2", 1),
        ("PACK serial P2", 0),
    ]


def test_a_part_moved_between_assemblies_is_traced_to_both(user):
    part = SerialUnitFactory(product=SerialProductFactory(sku="PACK"), serial="P1")
    device = SerialProductFactory(sku="DEVICE")
    first = SerialUnitFactory(product=device, serial="A")
    second = SerialUnitFactory(product=device, serial="B")
    serial_unit_install(component=part, assembly=first, acting_user=user)
    serial_unit_remove(component=part, acting_user=user)
    serial_unit_install(component=part, assembly=second, acting_user=user)

    assert reached(forward(part)) == {"DEVICE serial A": 1, "DEVICE serial B": 1}
    assert reached(backward(first)) == {"PACK serial P1": 1}
    assert reached(backward(second)) == {"PACK serial P1": 1}


def test_a_part_replaced_in_service_stays_in_the_assembly_history(user):
    pack = SerialProductFactory(sku="PACK")
    old, new = (SerialUnitFactory(product=pack, serial=s) for s in ("OLD", "NEW"))
    device = SerialUnitFactory(product=SerialProductFactory(sku="DEVICE"), serial="D1")
    serial_unit_install(component=old, assembly=device, acting_user=user)
    old.refresh_from_db()
    service_record_create(
        serial_unit=device,
        kind=ServiceRecord.Kind.COMPONENT_REPLACEMENT,
        performed_on=date(2026, 6, 1),
        description="Swapped the battery pack.",
        parts_removed=[old],
        parts_fitted=[new],
        acting_user=user,
    )

    assert reached(backward(device)) == {"PACK serial NEW": 1, "PACK serial OLD": 1}
    assert reached(forward(old)) == {"DEVICE serial D1": 1}


# --- Cost ---------------------------------------------------------------------------------------


def layered_graph(levels, width):
    """A grid of lots, each feeding two lots of the next level; the last level is shipped."""
    product, site = ProductFactory(sku="GRID"), SiteFactory()
    grid = [
        [LotFactory(product=product, site=site, code=f"G{level:02d}-{i:03d}") for i in range(width)]
        for level in range(levels)
    ]
    event = TraceEventFactory(event_type=TraceEvent.Type.TRANSFORM)
    Genealogy.objects.bulk_create(
        Genealogy(parent_id=grid[level][i].pk, child_id=grid[level + 1][j].pk, event=event)
        for level in range(levels - 1)
        for i in range(width)
        for j in sorted({i, (i + 1) % width})
    )
    ship = TraceEventFactory(event_type=TraceEvent.Type.SHIP, destination_party=PartyFactory())
    EventLine.objects.bulk_create(
        EventLine(event=ship, event_type=ship.event_type, item_id=lot.pk) for lot in grid[-1]
    )
    return grid


@pytest.mark.parametrize(
    ("levels", "width"), [pytest.param(3, 1, id="3-chain"), pytest.param(10, 20, id="200-grid")]
)
def test_query_count_does_not_grow_with_depth_or_width(
    db, django_assert_max_num_queries, levels, width
):
    grid = layered_graph(levels, width)

    with django_assert_max_num_queries(TRACE_QUERIES):
        result = trace(direction="forward", lots=Lot.objects.filter(code__startswith="G00-"))
    with django_assert_max_num_queries(TRACE_QUERIES):
        back = backward(grid[-1][0])

    assert len(result.all_items) == levels * width
    assert max(item.depth for item in result.items) == levels - 1
    assert len(result.consignees[0].items) == width
    assert max(item.depth for item in back.items) == levels - 1


# --- Random graphs ------------------------------------------------------------------------------


@st.composite
def random_graphs(draw):
    """Lots and serial units with random genealogy (cycles allowed) and production lots."""
    size = draw(st.integers(min_value=2, max_value=7))
    kinds = draw(st.lists(st.sampled_from(["lot", "serial"]), min_size=size, max_size=size))
    # (node, offset) → an edge to another node: genealogy never links an item to itself.
    pair = st.tuples(st.integers(0, size - 1), st.integers(1, size - 1)).map(
        lambda p: (p[0], (p[0] + p[1]) % size)
    )
    links = draw(st.lists(pair, max_size=2 * size, unique=True))
    lot_nodes = [i for i, kind in enumerate(kinds) if kind == "lot"]
    production_lots = {}
    for i, kind in enumerate(kinds):
        if kind == "serial" and lot_nodes:
            choice = draw(st.none() | st.sampled_from(lot_nodes))
            if choice is not None:
                production_lots[i] = choice
    return kinds, links, production_lots


def shortest_distances(start, edges):
    """Steps from `start` to everything it reaches by at least one edge, by breadth-first search."""
    following = {}
    for parent, child in edges:
        following.setdefault(parent, set()).add(child)
    distance, queue = {start: 0}, deque([start])
    while queue:
        here = queue.popleft()
        for there in following.get(here, ()):
            if there not in distance:
                distance[there] = distance[here] + 1
                queue.append(there)
    del distance[start]
    return distance


def build_random_graph(kinds, links, production_lots):
    # Lots of the serial product, so a unit's production lot is one of its own product's.
    product, site = SerialProductFactory(sku="RND"), SiteFactory()
    nodes = {}
    for i, kind in enumerate(kinds):
        if kind == "lot":
            nodes[i] = LotFactory(product=product, site=site, code=f"N{i}")
    for i, kind in enumerate(kinds):
        if kind == "serial":
            lot = nodes[production_lots[i]] if i in production_lots else None
            nodes[i] = SerialUnitFactory(product=product, holder_site=site, serial=f"N{i}", lot=lot)
    event = TraceEventFactory(event_type=TraceEvent.Type.TRANSFORM)
    Genealogy.objects.bulk_create(
        Genealogy(parent_id=nodes[p].pk, child_id=nodes[c].pk, event=event) for p, c in links
    )
    edges = {(nodes[p].pk, nodes[c].pk) for p, c in links}
    edges |= {(nodes[lot].pk, nodes[unit].pk) for unit, lot in production_lots.items()}
    return list(nodes.values()), edges


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=random_graphs())
def test_random_graphs_trace_exactly_and_symmetrically(graph):
    # Each example builds its graph in a savepoint and rolls it back, so examples start empty.
    with transaction.atomic():
        nodes, edges = build_random_graph(*graph)
        reversed_edges = {(child, parent) for parent, child in edges}
        forwards, backwards = {}, {}
        for node in nodes:
            fwd, bwd = forward(node), backward(node)
            assert [root.pk for root in fwd.roots] == [node.pk]
            assert {i.pk: i.depth for i in fwd.items} == shortest_distances(node.pk, edges)
            assert {i.pk: i.depth for i in bwd.items} == shortest_distances(node.pk, reversed_edges)
            for item in fwd.items:
                steps = [step.pk for step in item.path]
                assert set(pairwise(steps)) <= edges
            forwards[node.pk] = {i.pk for i in fwd.items}
            backwards[node.pk] = {i.pk for i in bwd.items}
        for a in nodes:
            for b in nodes:
                assert (b.pk in forwards[a.pk]) == (a.pk in backwards[b.pk])
        transaction.set_rollback(True)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no planner settings to restore"
)
@pytest.mark.django_db
def test_a_trace_inside_a_transaction_gives_the_planner_its_joins_back():
    lot = LotFactory()
    with transaction.atomic(), connection.cursor() as cursor:
        trace(direction=Direction.FORWARD, lots=Lot.objects.filter(pk=lot.pk))
        cursor.execute("SHOW enable_hashjoin")
        assert cursor.fetchone()[0] == "on"
