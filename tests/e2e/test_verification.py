"""A consumer scans a unit's label: the QR code's Digital Link opens our public page."""

import re
from datetime import date

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory import services
from inventory.models import SerialUnit

from ..inventory.factories import LotFactory, PartyFactory, SerialProductFactory, SerialUnitFactory
from .conftest import SCREENSHOTS, login, screenshot_path

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shipped_unit(manager):
    product = SerialProductFactory(
        sku="DRILL-X2", name="Cordless Drill X2", gtin="09501101530003", warranty_months=24
    )
    lot = LotFactory(product=product, code="PL-0303", produced_on=date(2026, 3, 9))
    unit = SerialUnitFactory(product=product, lot=lot, serial="D0002", holder_site=lot.site)
    services.shipment_create(
        acting_user=manager,
        serial_units=[unit],
        from_site=lot.site,
        to_party=PartyFactory(name="Acme Hospital Supplies"),
    )
    return SerialUnit.objects.select_related("product").get(pk=unit.pk)


def test_a_scanned_label_opens_the_public_answer(page, browser, live_server, request, shipped_unit):
    login(page, "manager", password="correct horse battery staple")
    page.goto(reverse("serial_label", args=[shipped_unit.pk]))
    title = page.locator("svg.qr title").text_content()
    link = title.removeprefix("QR code: ")
    assert link == f"{live_server.url}/01/09501101530003/10/PL-0303/21/D0002"

    # The consumer's phone: no session, a phone-sized screen.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    consumer = phone.new_page()
    consumer.goto(link)
    expect(consumer.get_by_role("heading", level=1)).to_have_text(re.compile("Genuine product"))
    expect(consumer.locator(".verdict")).to_contain_text("Cordless Drill X2")
    expect(consumer.locator(".verdict")).to_contain_text("March 2026")
    expect(consumer.get_by_role("navigation")).to_have_count(0)
    expect(consumer.get_by_text("Acme Hospital Supplies")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    consumer.screenshot(path=screenshot_path(request, "--phone"), full_page=True)
    phone.close()
