"""Process conditions in a browser: a warm shipment's excursion, and readings recorded by hand."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import Deviation, Lot, Measurement

from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_and_the_lot_page_show_the_warm_shipment(page, demo, screenshot):
    flagged = Deviation.objects.filter(kind="excursion").select_related("item__lot").first()
    lot = flagged.item.lot
    login(page, "manager")

    card = page.locator("section", has=page.get_by_role("heading", name="Excursions (last 7 days)"))
    expect(card).to_contain_text("1 reading outside limits")
    screenshot("dashboard")
    page.goto(reverse("lot_detail", args=[lot.pk]))

    conditions = page.locator("#conditions")
    expect(conditions).to_contain_text(flagged.reference)
    expect(conditions).to_contain_text("excursion")
    screenshot("lot")


def test_staff_record_a_reading_on_an_event_of_a_lot(page, demo, screenshot):
    lot = Lot.objects.filter(product__sku="FG-QUICHE-LOR").order_by("pk").first()
    before = Measurement.objects.count()
    login(page, "staff")
    page.goto(reverse("lot_detail", args=[lot.pk]))

    page.get_by_role("link", name="Record readings").first.click()
    page.locator("select[name=form-0-measurement_type]").select_option("temperature")
    page.locator("input[name=form-0-value]").fill("39.2")
    page.locator("select[name=form-0-unit]").select_option("FAH")
    screenshot("filled")
    page.get_by_role("button", name="Record the readings").click()

    expect(page).to_have_url(re.compile(re.escape(reverse("lot_detail", args=[lot.pk]))))
    expect(page.locator("main")).to_contain_text("1 reading recorded on the")
    expect(page.locator("#conditions")).to_contain_text("39.2 °F")
    assert Measurement.objects.count() == before + 1
