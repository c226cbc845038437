"""Units in the states a public check tells apart, and a clean rate-limit counter per test."""

from datetime import date

import pytest
from django.core.cache import cache

from inventory import services
from inventory.models import SerialUnit

from ..inventory.factories import (
    LotFactory,
    PartyFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
)

DRILL_GTIN = "09501101530003"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    # django-ratelimit counts in the cache, which outlives a test: start each at zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def drill_product(db):
    return SerialProductFactory(
        sku="DRILL-X2", name="Cordless Drill X2", gtin=DRILL_GTIN, warranty_months=24
    )


@pytest.fixture
def plant(db):
    return SiteFactory(code="plant-east", name="East Plant Building 4")


@pytest.fixture
def customer(db):
    return PartyFactory(name="Acme Hospital Supplies", city="Riverton")


@pytest.fixture
def production_lot(drill_product, plant):
    return LotFactory(
        product=drill_product, code="PL-0303", produced_on=date(2026, 3, 9), site=plant
    )


@pytest.fixture
def in_stock_unit(drill_product, plant, production_lot):
    return SerialUnitFactory(
        product=drill_product, serial="D0001", lot=production_lot, holder_site=plant
    )


@pytest.fixture
def shipped_unit(drill_product, plant, production_lot, customer, manager):
    unit = SerialUnitFactory(
        product=drill_product,
        serial="D0002",
        lot=production_lot,
        produced_on=date(2026, 3, 10),
        holder_site=plant,
    )
    services.shipment_create(
        acting_user=manager,
        serial_units=[unit],
        from_site=plant,
        to_party=customer,
        shipped_at=date(2026, 4, 2),
    )
    return SerialUnit.objects.get(pk=unit.pk)


@pytest.fixture
def scrapped_unit(drill_product, plant, manager):
    unit = SerialUnitFactory(product=drill_product, serial="D0003", holder_site=plant)
    return services.item_change_status(
        item=unit, status=SerialUnit.Status.SCRAPPED, reason="Dropped", acting_user=manager
    )
