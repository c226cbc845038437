"""The public page never shows who had a unit, where it was, or what staff wrote about it."""

from datetime import date

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import ServiceRecord, UnitOwnership, UnitReturn

from ..inventory.factories import ServiceRecordFactory, TraceEventFactory, UserFactory
from .conftest import DRILL_GTIN


@pytest.fixture
def lived_unit(shipped_unit, customer, plant):
    """A unit with a customer, a site, an owner, service notes and a return with notes."""
    clerk = UserFactory(username="wkowalski-qa", first_name="Wanda", last_name="Kowalski")
    UnitOwnership.objects.create(
        serial_unit=shipped_unit,
        owner_name="Margot Privatperson",
        consent=True,
        consent_at=timezone.now(),
        email="margot.private@example.org",
        phone="+44 7700 900123",
        started_on=date(2026, 4, 10),
        registered_by=clerk,
    )
    ServiceRecordFactory(
        serial_unit=shipped_unit,
        kind=ServiceRecord.Kind.REPAIR,
        description="Internal: board swapped after water damage",
        technician="Technician Tomasz",
        recorded_by=clerk,
    )
    UnitReturn.objects.create(
        number="RMA-2026-0042",
        serial_unit=shipped_unit,
        customer=customer,
        site=plant,
        received_at=timezone.now(),
        reason=UnitReturn.Reason.DEFECTIVE,
        condition=UnitReturn.Condition.DAMAGED,
        notes="Return note: the customer admits dropping it in the lake",
        receive_event=TraceEventFactory(),
        registered_by=clerk,
    )
    return shipped_unit


def private_strings(unit, customer, plant):
    return [
        customer.name,
        customer.contact_name,
        customer.email,
        customer.phone,
        customer.city,
        plant.name,
        plant.code,
        plant.party.name,
        "Margot Privatperson",
        "margot.private@example.org",
        "+44 7700 900123",
        "board swapped",
        "Technician Tomasz",
        "RMA-2026-0042",
        "dropping it in the lake",
        "wkowalski-qa",
        "Kowalski",
    ]


def test_the_genuine_answer_shows_no_party_site_owner_note_or_user(
    client, lived_unit, customer, plant
):
    html = client.get(f"/01/{DRILL_GTIN}/10/PL-0303/21/D0002").text
    assert "Genuine product" in html
    for private in private_strings(lived_unit, customer, plant):
        assert private not in html, private


def test_the_unconfirmed_answer_shows_no_party_site_owner_note_or_user(
    client, lived_unit, customer, plant, manager
):
    services.item_change_status(
        item=lived_unit, status="scrapped", reason="Lake water", acting_user=manager
    )
    html = client.get(f"/01/{DRILL_GTIN}/21/D0002").text
    assert "could not be confirmed as genuine" in html
    for private in [*private_strings(lived_unit, customer, plant), "Lake water", "manager"]:
        assert private not in html, private


def test_the_batch_answer_shows_no_party_or_site(client, lived_unit, customer, plant):
    html = client.get(f"/01/{DRILL_GTIN}/10/PL-0303").text
    assert "This is a batch code" in html
    for private in private_strings(lived_unit, customer, plant):
        assert private not in html, private
