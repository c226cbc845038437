"""Reads for non-conformances: the investigation's backward trace, the list's counts, the
dashboard's rows and counts, and the reports naming an item."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from inventory import services as inventory_services
from inventory.models import Unit
from inventory.services import Line
from recalls.capa import selectors
from recalls.models import CapaAction, NonConformance

from ..inventory.factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SiteFactory,
)
from .nonconformance_factories import (
    CapaActionFactory,
    NonConformanceFactory,
    NonConformanceItemFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 15)


@pytest.fixture
def device(manager):
    """Cells received from a supplier, built into a pack, the pack into a device."""
    plant = SiteFactory(party=InternalPartyFactory())
    maker = PartyFactory(name="Cell Maker", is_supplier=True)
    cells = inventory_services.lot_create(
        product=ProductFactory(sku="CELL", unit=Unit.EACH),
        code="C-1",
        quantity=Decimal("10"),
        supplier=maker,
        supplier_lot_code="CM-9",
        site=plant,
        acting_user=manager,
    )
    pack = inventory_services.serial_unit_create(
        product=SerialProductFactory(sku="PACK"),
        serial="P-1",
        site=plant,
        inputs=[Line(cells, Decimal("2"))],
        acting_user=manager,
    )
    return {"maker": maker, "cells": cells, "pack": pack}


def test_the_investigation_traces_a_unit_back_to_its_supplier_and_lots(
    device, django_assert_num_queries
):
    nc = NonConformanceFactory()
    NonConformanceItemFactory(nonconformance=nc, lot=None, item=device["pack"].item)
    nc = selectors.nonconformance_for_page(nc.reference)

    # The trace (one recursive query between setting and resetting its planner options on
    # PostgreSQL), then the upstream lots and the suppliers: whatever the size of the graph.
    with django_assert_num_queries(5 if connection.vendor == "postgresql" else 3):
        found = selectors.nonconformance_investigation(nc)

    assert [origin.lot.code for origin in found.origins] == ["C-1"]
    assert found.origins[0].lot.supplier_lot_code == "CM-9"
    assert found.origins[0].path == ["PACK serial P-1", "CELL lot C-1"]
    assert [party.name for party, _traced in found.suppliers] == ["Cell Maker"]


def test_the_list_counts_items_open_and_overdue_actions_and_the_next_due_date():
    nc = NonConformanceFactory()
    NonConformanceItemFactory.create_batch(2, nonconformance=nc)
    CapaActionFactory(nonconformance=nc, due_on=TODAY - timedelta(days=1))
    CapaActionFactory(nonconformance=nc, due_on=TODAY + timedelta(days=3))
    CapaActionFactory(
        nonconformance=nc,
        due_on=TODAY - timedelta(days=9),
        status=CapaAction.Status.CANCELLED,
        completed_at=nc.created_at,
        completed_by=nc.owner,
        completion_note="Not needed.",
    )

    row = selectors.nonconformance_list(TODAY).get(pk=nc.pk)

    assert (row.item_count, row.open_action_count, row.overdue_action_count) == (2, 2, 1)
    assert row.next_due_on == TODAY - timedelta(days=1)


def test_the_dashboard_counts_open_reports_and_sorts_actions_by_due_date():
    critical = NonConformanceFactory(severity=NonConformance.Severity.CRITICAL)
    NonConformanceFactory(
        status=NonConformance.Status.CLOSED,
        closure=NonConformance.Closure.NO_ACTION,
        closing_note="Fine.",
        closed_at=critical.created_at,
        closed_by=critical.owner,
        severity=NonConformance.Severity.MINOR,
    )
    late = CapaActionFactory(nonconformance=critical, due_on=TODAY - timedelta(days=2))
    later = CapaActionFactory(nonconformance=critical, due_on=TODAY - timedelta(days=1))
    soon = CapaActionFactory(nonconformance=critical, due_on=TODAY + timedelta(days=14))
    CapaActionFactory(nonconformance=critical, due_on=TODAY + timedelta(days=15))

    board = selectors.quality_dashboard(TODAY)

    assert (board.open_count, board.critical_count) == (1, 1)
    assert board.open_nonconformances == [critical]
    assert board.overdue == [late, later] and board.overdue_count == 2
    assert board.due_soon == [soon] and board.due_soon_count == 1


def test_an_items_reports_are_newest_first():
    line = NonConformanceItemFactory()
    older = line.nonconformance
    newer = NonConformanceItemFactory(item=line.item, lot=None).nonconformance
    NonConformanceItemFactory()  # names another lot

    assert selectors.item_nonconformances(line.item_id) == [newer, older]
