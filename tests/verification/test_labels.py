"""A label's QR code opens our own verification page, which answers for the unit."""

from urllib.parse import urlsplit

from django.test import override_settings
from django.urls import reverse

from ..inventory.test_labels import read_qr, svg_of
from .conftest import DRILL_GTIN


def label_qr_text(client, unit):
    response = client.get(reverse("serial_label", args=[unit.pk]))
    (qr,) = read_qr(svg_of(response, "qr"))
    return qr.text


def test_a_units_label_qr_code_opens_our_verification_page(client, manager, shipped_unit):
    client.force_login(manager)
    link = label_qr_text(client, shipped_unit)
    assert link == f"http://testserver/01/{DRILL_GTIN}/10/PL-0303/21/D0002"
    client.logout()
    answer = client.get(urlsplit(link).path)
    assert "Genuine product" in answer.text
    assert "Cordless Drill X2" in answer.text


@override_settings(DIGITAL_LINK_BASE_URL="https://verify.example.com")
def test_the_configured_public_host_is_printed_in_the_qr_code(client, manager, shipped_unit):
    client.force_login(manager)
    link = label_qr_text(client, shipped_unit)
    assert link == f"https://verify.example.com/01/{DRILL_GTIN}/10/PL-0303/21/D0002"
