"""A warranty claim from the unit's page to its replacement, in a real browser on the demo."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import SerialUnit, WarrantyClaim

from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_claim_is_opened_from_the_unit_approved_and_replaced(page, demo, screenshot):
    units = SerialUnit.objects.filter(product__sku="DEV-HX2", warranty_claims__isnull=True)
    faulty = units.filter(holder_party__name="Cascade Parcel Services").order_by("serial").first()
    spare = units.filter(status=SerialUnit.Status.IN_STOCK).order_by("serial").first()
    login(page, "manager")

    page.goto(reverse("serial_detail", args=[faulty.pk]))
    page.get_by_role("link", name="Open a warranty claim").click()
    expect(page.get_by_label("Serial unit")).to_have_value(str(faulty))
    page.get_by_label("Fault reported").fill("Keypad unresponsive after a firmware update.")
    expect(page.locator("#coverage-preview")).to_contain_text("is within the warranty")
    screenshot("new")
    page.get_by_role("button", name="Open the claim").click()

    claim = WarrantyClaim.objects.get(serial_unit=faulty)
    expect(page.locator(".message-success")).to_have_text(
        f"Claim {claim.number} opened for {faulty}."
    )
    expect(page.locator(".coverage.covered")).to_contain_text("before the warranty ends on")
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Save the decision").click()
    expect(page.locator(".message-success")).to_have_text(f"Claim {claim.number} is approved.")

    page.get_by_label("Replacement unit").fill(str(spare))
    screenshot("approved")
    page.get_by_role("button", name="Ship the replacement").click()
    expect(page.locator(".message-success")).to_have_text(
        f"{spare} is shipped to replace {faulty}; claim {claim.number} is replaced."
    )
    expect(page.locator("#steps-heading ~ table tbody tr")).to_have_count(3)

    page.get_by_role("link", name="The unit").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("serial_detail", args=[faulty.pk]))))
    expect(page.locator(".facts")).to_contain_text(f"Replaced by {spare.product.sku} serial")
    spare.refresh_from_db()
    assert (spare.replaces_id, spare.holder_party_id) == (faulty.pk, faulty.holder_party_id)
