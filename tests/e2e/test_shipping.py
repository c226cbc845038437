"""Picking stock first expiry first out and shipping it, in a real browser on the demo data."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory import selectors
from inventory.models import EventLine, Lot, TraceEvent

from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_manager_picks_quiche_first_expiry_first_out_and_ships_it(page, demo, screenshot):
    expired, first, second = Lot.objects.filter(product__sku="FG-QUICHE-LOR").order_by("expires_on")
    login(page, "manager")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Ship").click()
    page.get_by_label("Product").select_option(
        label="FG-QUICHE-LOR · Quiche Lorraine, 8 in, chilled"
    )
    page.get_by_label("From site").select_option(label="Greenvale cold store, Modesto")
    page.get_by_label("Quantity wanted").fill("50")
    page.get_by_role("button", name="Show lots").click()

    # The cold store holds 40 of the lot that expires first and 240 of the next; the expired
    # lot is not offered, and says why.
    expect(page.get_by_label(f"Quantity of lot {first.code}")).to_have_value("40")
    expect(page.get_by_label(f"Quantity of lot {second.code}")).to_have_value("10")
    expect(page.get_by_label(f"Quantity of lot {expired.code}")).to_have_count(0)
    expect(page.locator(".refused-lots")).to_contain_text(
        f"FG-QUICHE-LOR lot {expired.code} expired on {expired.expires_on:%Y-%m-%d} and cannot "
        "be shipped."
    )
    page.get_by_label("To customer").select_option(label="Northstar Foodservice Distribution")
    page.get_by_label("Delivery site").select_option(label="Northstar Sacramento DC")
    page.get_by_label("Document number").fill("BOL-E2E-1")
    screenshot("picked")
    page.get_by_role("button", name="Ship").click()

    expect(page.locator(".message-success")).to_have_text(
        re.compile(
            rf"^Shipped 40 each of FG-QUICHE-LOR lot {first.code}, 10 each of FG-QUICHE-LOR lot "
            rf"{second.code} from Greenvale cold store, Modesto to Northstar Foodservice "
            r"Distribution, Northstar Sacramento DC \(bill of lading BOL-E2E-1\)\.$"
        )
    )
    expect(page).to_have_url(re.compile(re.escape(reverse("shipment_new")) + r"\?product="))
    event = TraceEvent.objects.get(document_number="BOL-E2E-1")
    assert sorted(EventLine.objects.filter(event=event).values_list("item_id", "quantity")) == [
        (first.pk, Decimal("40")),
        (second.pk, Decimal("10")),
    ]
    # The page now offers what is left: the rest of the second lot only.
    expect(page.get_by_label(f"Quantity of lot {first.code}")).to_have_count(0)
    stock = selectors.lots_on_hand([second.pk])
    assert [entry.quantity for entry in stock[second.pk]] == [Decimal("230")]
