"""The list pages in a real browser: filter the lots, download what the filter kept."""

import csv
import io
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.models import Lot

from .conftest import login

# The live server's thread sees only committed data, hence transactional tests.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_staff_filter_the_lots_and_download_the_ones_kept(page, demo):
    held = Lot.objects.select_related("product").get(status=Lot.Status.ON_HOLD)
    login(page, "staff")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Lots").click()
    page.get_by_label("Status").select_option(label="on hold")
    page.get_by_label("Product").select_option(value=str(held.product_id))
    page.get_by_role("button", name="Filter").click()

    expect(page.get_by_role("status").filter(has_text="lot")).to_have_text("1 lot")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("link", name=held.code)).to_have_attribute(
        "href", reverse("lot_detail", args=[held.pk])
    )
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    content = download.value.path().read_text(encoding="utf-8")
    lines = list(csv.reader(io.StringIO(content)))
    assert re.fullmatch(r"lots-\d{4}-\d{2}-\d{2}\.csv", download.value.suggested_filename)
    assert lines[0][:4] == ["Lot", "Product", "Product name", "Status"]
    assert [line[:4] for line in lines[1:]] == [
        [held.code, held.product.sku, held.product.name, "on hold"]
    ]


def test_a_date_that_is_not_one_is_explained_and_nothing_is_listed(page, demo):
    login(page, "staff")

    page.goto(f"{reverse('lot_list')}?produced_from=2026-02-30")

    expect(page.get_by_text("Enter a valid date.")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "Nothing is listed until the filters above are corrected."
    )
    expect(page.locator("table.list")).to_have_count(0)


def test_on_a_phone_the_lists_and_the_navigation_fit_the_screen(page, demo):
    page.set_viewport_size(PHONE)
    login(page, "staff")

    page.goto(reverse("party_list"))

    nav = page.get_by_role("navigation", name="Main")
    # The navigation scrolls sideways, starting with the current page in view.
    expect(nav.get_by_role("link", name="Parties")).to_be_in_viewport()
    nav.get_by_role("link", name="Dashboard").scroll_into_view_if_needed()
    expect(nav.get_by_role("link", name="Dashboard")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
