"""The quality staff's daily path in a browser: scan, open, trace, hold; long work's progress."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import Job, Lot, StatusChange

from .conftest import login
from .test_pages import GS1_TRANSFORMATION
from .test_recalls import SPINACH, open_campaign, spinach, tile

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def search(page, text: str):
    """Type into the header's search box as a scanner does: the code, then Enter."""
    box = page.get_by_role("searchbox", name="Search or scan")
    box.fill(text)
    box.press("Enter")


def test_staff_scan_a_gs1_barcode_into_search_and_land_on_its_lot(page, demo, screenshot):
    lot = spinach()
    login(page, "staff")

    search(page, f"(01){lot.product.gtin}(10){lot.code}")

    expect(page).to_have_url(re.compile(re.escape(reverse("lot_detail", args=[lot.pk]))))
    expect(page.get_by_role("heading", level=1)).to_contain_text(lot.code)
    screenshot("by-element-string")
    # The same lot by its GS1 Digital Link, as a QR code on the label gives it.
    page.goto(reverse("home"))
    search(page, f"https://id.gs1.org/01/{lot.product.gtin}/10/{lot.code}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(lot.code)


def test_a_manager_opens_a_lot_and_traces_it_forward_to_its_consignees(page, demo):
    login(page, "manager")
    search(page, SPINACH)  # the supplier's lot code, as their recall notice gives it

    page.get_by_role("link", name="Trace forward").click()

    expect(page.get_by_role("heading", name="Consignees", exact=False).first).to_be_visible()
    quiche = re.compile(r"QUICHE")
    expect(page.locator("main")).to_contain_text(quiche)


def test_a_manager_puts_a_lot_on_hold_with_a_reason(page, demo, screenshot):
    lot = spinach()
    login(page, "manager")
    page.goto(reverse("lot_detail", args=[lot.pk]))

    page.get_by_label("New status").select_option(label="on hold")
    page.get_by_label("Reason").fill("Supplier notice CVG-2026-11 under review")
    screenshot("filled")
    page.get_by_role("button", name="Change status").click()

    expect(page.locator("h1 .badge")).to_have_text(re.compile("on hold", re.I))
    history = page.get_by_role("heading", name="Status history").locator("xpath=..")
    expect(history).to_contain_text("Supplier notice CVG-2026-11 under review")
    lot.refresh_from_db()
    assert lot.status == Lot.Status.ON_HOLD
    assert StatusChange.objects.filter(item=lot.item, reason__contains="CVG-2026-11").exists()


def test_an_import_shows_its_progress_and_then_what_it_imported(page, demo, settings, screenshot):
    settings.JOBS_BACKEND = "thread"  # as when serving: the upload returns at once
    login(page, "manager")
    page.goto(reverse("epcis_import"))

    page.get_by_label("EPCIS document").set_input_files(GS1_TRANSFORMATION)
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("heading", name=f"Import of {GS1_TRANSFORMATION.name}")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Imported {GS1_TRANSFORMATION.name}")).to_be_visible()
    expect(tile(page, "event imported").locator(".figure")).to_have_text("1")
    assert Job.objects.get().status == Job.Status.SUCCEEDED


def test_the_dashboard_shows_an_open_recall_with_its_progress(page, demo, screenshot):
    campaign = open_campaign()
    login(page, "manager")

    recalls = page.get_by_role("region", name="Open recalls")
    row = recalls.get_by_role("row").filter(has_text=campaign.reference)
    expect(row).to_contain_text(campaign.title)
    expect(row.locator("progress")).to_have_attribute("value", "0")
    screenshot("dashboard")
    row.get_by_role("link", name=campaign.reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(campaign.reference)
