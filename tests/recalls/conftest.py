"""A small supply chain both food and electronics recalls can start from."""

from decimal import Decimal

import pytest

from inventory import services as inventory_services
from inventory.models import Unit
from inventory.services import Line

from ..inventory.factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SiteFactory,
)


@pytest.fixture
def graph(manager):
    """Flour into bread, shipped to a distributor (who passes some on) and a deli; cells into
    battery packs, one shipped, one on hand, one installed in a device on hand."""
    ours = InternalPartyFactory(name="Tracewell Foods")
    plant = SiteFactory(code="plant", name="Plant", party=ours)
    distributor = PartyFactory(name="Dist Co")
    dc = SiteFactory(code="dist-dc", name="Dist DC", party=distributor)
    deli = PartyFactory(name="Anna's Deli")
    retailer = PartyFactory(name="Corner Shop")
    kg = {"unit": Unit.KILOGRAM, "shelf_life_days": None}
    flour = inventory_services.lot_create(
        product=ProductFactory(sku="FLOUR", **kg),
        code="FL-1",
        quantity=Decimal("100"),
        site=plant,
        acting_user=manager,
    )
    bread = inventory_services.lot_create(
        product=ProductFactory(sku="BREAD", **kg),
        code="BR-1",
        quantity=Decimal("50"),
        site=plant,
        inputs=[Line(flour, Decimal("40"))],
        acting_user=manager,
    )
    for quantity, source, target in ((20, plant, {"to_site": dc}), (10, plant, {"to_party": deli})):
        inventory_services.shipment_create(
            lots=[Line(bread, Decimal(quantity))], from_site=source, acting_user=manager, **target
        )
    inventory_services.shipment_create(
        lots=[Line(bread, Decimal("5"))], from_site=dc, to_party=retailer, acting_user=manager
    )
    cells = inventory_services.lot_create(
        product=ProductFactory(sku="CELL", unit=Unit.EACH, shelf_life_days=None),
        code="CE-1",
        quantity=Decimal("10"),
        site=plant,
        acting_user=manager,
    )
    pack = SerialProductFactory(sku="PACK")
    packs = [
        inventory_services.serial_unit_create(
            product=pack,
            serial=f"P-{n}",
            site=plant,
            inputs=[Line(cells, Decimal("2"))],
            acting_user=manager,
        )
        for n in (1, 2, 3)
    ]
    device = inventory_services.serial_unit_create(
        product=SerialProductFactory(sku="DEVICE"), serial="D-1", site=plant, acting_user=manager
    )
    inventory_services.serial_unit_install(component=packs[2], assembly=device, acting_user=manager)
    inventory_services.shipment_create(
        serial_units=[packs[0]], from_site=plant, to_party=deli, acting_user=manager
    )
    return {
        "plant": plant,
        "distributor": distributor,
        "deli": deli,
        "retailer": retailer,
        "flour": flour,
        "bread": bread,
        "cells": cells,
        "packs": packs,
        "device": device,
    }
