"""A part's page lists every assembly it was ever installed in, kept after repairs took it out."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import ServiceRecord
from inventory.selectors import installation_periods, item_timeline
from inventory.services import serial_unit_install, service_record_create

from .factories import SerialProductFactory, SerialUnitFactory
from .test_views import SERIAL_PAGE_QUERIES

pytestmark = pytest.mark.django_db


@pytest.fixture
def swapped(staff):
    user = staff
    """A pack installed in device A, swapped out in a repair, then fitted to device B."""
    pack = SerialUnitFactory(product=SerialProductFactory(sku="PACK"), serial="P1")
    device = SerialProductFactory(sku="DEVICE")
    first, second = (SerialUnitFactory(product=device, serial=s) for s in ("A", "B"))
    spare = SerialUnitFactory(product=pack.product, serial="P2")
    serial_unit_install(
        component=pack, assembly=first, acting_user=user, occurred_at=date(2026, 3, 1)
    )
    pack.refresh_from_db()
    service_record_create(
        serial_unit=first,
        kind=ServiceRecord.Kind.COMPONENT_REPLACEMENT,
        performed_on=date(2026, 6, 1),
        description="Pack swelled; replaced.",
        parts_removed=[pack],
        parts_fitted=[spare],
        acting_user=user,
    )
    pack.refresh_from_db()
    serial_unit_install(
        component=pack, assembly=second, acting_user=user, occurred_at=date(2026, 7, 1)
    )
    return pack


def test_every_assembly_a_part_was_in_is_listed_with_when_it_left(swapped):
    pack = swapped

    periods = installation_periods(item_timeline(pack.pk))

    assert [(p.assembly.serial, p.until is not None) for p in periods] == [
        ("A", True),
        ("B", False),
    ]
    assert periods[0].removal.occurred_at.date() == date(2026, 6, 1)


def test_a_repair_dated_the_day_of_the_installation_still_ends_it(staff):
    pack = SerialUnitFactory(product=SerialProductFactory(sku="PACK"), serial="P1")
    device = SerialUnitFactory(product=SerialProductFactory(sku="DEVICE"), serial="A")
    serial_unit_install(component=pack, assembly=device, acting_user=staff)
    pack.refresh_from_db()
    service_record_create(
        serial_unit=device,
        kind=ServiceRecord.Kind.REPAIR,
        performed_on=timezone.localdate(),
        description="Took the pack out.",
        parts_removed=[pack],
        acting_user=staff,
    )

    (period,) = installation_periods(item_timeline(pack.pk))

    assert period.until is not None


def test_a_unit_never_installed_anywhere_has_no_installations_and_costs_no_query(
    django_assert_num_queries,
):
    unit = SerialUnitFactory(serial="LONE")
    timeline = list(item_timeline(unit.pk))

    with django_assert_num_queries(0):
        assert installation_periods(timeline) == []


def test_the_part_page_shows_its_assemblies_within_the_page_query_budget(
    client, manager, swapped, django_assert_max_num_queries
):
    pack = swapped
    client.force_login(manager)

    with django_assert_max_num_queries(SERIAL_PAGE_QUERIES + 1):
        response = client.get(reverse("serial_detail", args=[pack.pk]))

    html = response.content.decode()
    html = html[html.index("Installed in over time") :]
    assert html.index("DEVICE serial A") < html.index("DEVICE serial B")
    assert "installed now" in html
