"""Times are shown in the reader's time zone, which their browser names in the `tz` cookie."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.services import Line, lot_create, shipment_create

from .inventory.factories import InternalPartyFactory, PartyFactory, ProductFactory, SiteFactory

pytestmark = pytest.mark.django_db


def _changed_at_page(client, lot) -> str:
    return client.get(reverse("lot_detail", args=[lot.pk])).content.decode()


@pytest.fixture
def lot_changed_at_noon_utc(manager):
    plant = SiteFactory(party=InternalPartyFactory())
    lot = lot_create(
        product=ProductFactory(), code="TZ-1", quantity=Decimal(10), site=plant, acting_user=manager
    )
    shipment_create(
        lots=[Line(lot, Decimal(4))],
        from_site=plant,
        to_party=PartyFactory(),
        shipped_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        acting_user=manager,
    )
    return lot


@pytest.mark.parametrize("cookie", ["America/Chicago", "America%2FChicago"])
def test_a_reader_in_chicago_sees_chicago_time(client, manager, lot_changed_at_noon_utc, cookie):
    client.force_login(manager)
    client.cookies["tz"] = cookie  # as the browser wrote it, or percent-encoded

    page = _changed_at_page(client, lot_changed_at_noon_utc)

    assert timezone.get_current_timezone_name() == "UTC"  # not left active after the request
    assert "2026-07-01 07:00 CDT" in page


@pytest.mark.parametrize("cookie", ["", "Mars/Olympus_Mons", "../../etc/passwd"])
def test_an_unknown_zone_falls_back_to_the_sites(client, manager, lot_changed_at_noon_utc, cookie):
    client.force_login(manager)
    client.cookies["tz"] = cookie

    response = client.get(reverse("lot_detail", args=[lot_changed_at_noon_utc.pk]))

    assert response.status_code == 200
    assert "2026-07-01 12:00 UTC" in response.content.decode()
