"""Printing a lot's label in a browser: the page, its Print button, and what the printer gets."""

import re
from io import BytesIO

import pytest
from django.urls import reverse
from playwright.sync_api import expect
from pypdf import PdfReader

from inventory.identifiers import gs1_code
from inventory.labels import GS1_RESOLVER
from inventory.models import Lot, SerialUnit

from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MM = 72 / 25.4  # PDF points in a millimetre
CSS_PX_PER_MM = 96 / 25.4


def test_a_manager_prints_a_lots_label_from_its_page(page, demo, screenshot, live_server):
    lot = (
        Lot.objects.filter(product__gtin__isnull=False, expires_on__isnull=False)
        .select_related("product")
        .order_by("pk")
        .first()
    )
    code = gs1_code(gtin=lot.product.gtin, lot=lot.code, expiry=lot.expires_on)
    login(page, "manager")
    page.goto(reverse("lot_detail", args=[lot.pk]))
    screenshot("lot-page")

    page.get_by_role("link", name="Print label").click()

    expect(page).to_have_url(re.compile(re.escape(reverse("lot_label", args=[lot.pk])) + "$"))
    label = page.get_by_role("article", name=f"Label of {lot}")
    expect(label.get_by_role("img", name=f"GS1 DataMatrix: {code.hri}")).to_be_visible()
    # The QR code opens our own verification page, on the host the label is printed from.
    link = live_server.url + code.digital_link.removeprefix(GS1_RESOLVER)
    expect(label.get_by_role("img", name=f"QR code: {link}")).to_be_visible()
    expect(label).to_contain_text(code.hri)
    expect(label).to_contain_text(lot.product.name)
    # The button opens the browser's print dialog; headless Chromium has none, so count calls.
    # A function, so that Playwright calls it to install the counter (not the counter itself).
    page.evaluate("() => { window.printed = 0; window.print = () => { window.printed += 1; }; }")
    page.get_by_role("button", name="Print label").click()
    assert page.evaluate("window.printed") == 1
    screenshot("screen")

    page.emulate_media(media="print")

    expect(page.get_by_role("button", name="Print label")).to_be_hidden()
    expect(page.get_by_role("link", name=re.compile("^← Back to"))).to_be_hidden()
    box = label.bounding_box()
    assert (round(box["width"]), round(box["height"])) == (
        round(100 * CSS_PX_PER_MM),
        round(50 * CSS_PX_PER_MM),
    )
    screenshot("print")
    pdf = PdfReader(BytesIO(page.pdf(prefer_css_page_size=True, print_background=True)))
    assert len(pdf.pages) == 1
    size = pdf.pages[0].mediabox
    assert (round(float(size.width) / MM), round(float(size.height) / MM)) == (100, 50)
    assert code.hri in pdf.pages[0].extract_text().replace("\n", "")


def test_a_units_label_names_its_serial(page, demo, screenshot):
    unit = (
        SerialUnit.objects.filter(product__gtin__isnull=False)
        .select_related("product")
        .order_by("pk")
        .first()
    )
    login(page, "staff")
    page.goto(reverse("serial_detail", args=[unit.pk]))
    screenshot("serial-page")

    page.get_by_role("link", name="Print label").click()

    label = page.get_by_role("article", name=f"Label of {unit}")
    expect(label.locator("dt", has_text="SN").locator("+ dd")).to_have_text(unit.serial)
    expect(label.get_by_role("img", name=re.compile(r"^GS1 DataMatrix: \(01\)"))).to_be_visible()
    page.emulate_media(media="print")
    screenshot("print")
