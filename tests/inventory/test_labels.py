"""Lot and serial unit labels: the GS1 message, the DataMatrix and QR code carrying it, pages."""

import re
from datetime import date

import pytest
import zxingcpp
from django.urls import reverse
from PIL import Image, ImageDraw
from pytest_django.asserts import assertContains, assertNotContains

from inventory.identifiers import IdentifierError, gs1_code, parse_identifier
from inventory.labels import NO_GTIN, SEARCH_QR, datamatrix_svg, qr_svg
from inventory.models import Lot
from inventory.selectors import resolve_identifiers

from .factories import LotFactory, ProductFactory, SerialProductFactory, SerialUnitFactory

pytestmark = pytest.mark.django_db

GTIN = "09506000134352"
UNIT_GTIN = "09506000134369"
# Session, user, roles and permissions (5), then the lot or unit with its product (and lot).
LABEL_PAGE_QUERIES = 5 + 1
GS = "\x1d"


def lot_label_url(lot):
    return reverse("lot_label", args=[lot.pk])


def serial_label_url(unit):
    return reverse("serial_label", args=[unit.pk])


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def quiche():
    product = ProductFactory(sku="QUICHE-LOR", name="Quiche Lorraine 400 g", gtin=GTIN)
    return LotFactory(
        product=product, code="Q-0412", produced_on=date(2026, 11, 1), expires_on=date(2026, 12, 31)
    )


@pytest.fixture
def drill():
    product = SerialProductFactory(sku="DRILL", name="Cordless drill", gtin=UNIT_GTIN)
    build = LotFactory(product=product, code="PL-0303", expires_on=None)
    return SerialUnitFactory(product=product, lot=build, serial="D/0001")


# --- Reading the symbols the page serves --------------------------------------------------------

SCALE = 8  # pixels per module


def _blank(width, height):
    # A white margin beyond the symbol's own quiet zone, as on a label.
    return Image.new("L", (int(width + 4) * SCALE, int(height + 4) * SCALE), 255)


def _view_box(svg):
    return [float(v) for v in re.search(r'viewBox="([^"]+)"', svg).group(1).split()]


def read_datamatrix(svg):
    """Draw the served DataMatrix path (rectangles of dark modules) and decode it."""
    left, top, width, height = _view_box(svg)
    image = _blank(width, height)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)", svg):
        x0, y0 = (float(x) - left + 2) * SCALE, (float(y) - top + 2) * SCALE
        draw.rectangle([x0, y0, x0 + float(w) * SCALE - 1, y0 + float(h) * SCALE - 1], fill=0)
    return zxingcpp.read_barcodes(image)


def read_qr(svg):
    """Draw segno's served path (one-module-high strokes: M, relative m, h) and decode it."""
    _, _, width, height = _view_box(svg)
    image = _blank(width, height)
    draw = ImageDraw.Draw(image)
    x = y = 0.0
    path = re.search(r' d="([^"]+)"', svg).group(1)
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            row = (y - 0.5 + 2) * SCALE
            draw.rectangle(
                [(x + 2) * SCALE, row, (x + float(a) + 2) * SCALE - 1, row + SCALE - 1], fill=0
            )
            x += float(a)
    return zxingcpp.read_barcodes(image)


def svg_of(response, css_class):
    """The page's inline SVG of one symbol, or None."""
    pattern = rf'<svg [^>]*class="barcode {css_class}"[^>]*>.*?</svg>'
    match = re.search(pattern, response.content.decode(), re.S)
    return match and match.group(0)


# --- The GS1 message ------------------------------------------------------------------------


def test_a_lots_message_has_its_gtin_expiry_and_lot_fixed_length_elements_first():
    code = gs1_code(gtin=GTIN, lot="Q-0412", expiry=date(2026, 12, 31))

    assert code.hri == f"(01){GTIN}(17)261231(10)Q-0412"
    assert code.bracketed == f"[01]{GTIN}[17]261231[10]Q-0412"
    assert code.digital_link == f"https://id.gs1.org/01/{GTIN}/10/Q-0412?17=261231"


def test_a_units_message_names_its_lot_and_serial_as_a_udi_does():
    code = gs1_code(gtin=GTIN, lot="PL-0303", serial="D/0001")

    assert code.hri == f"(01){GTIN}(10)PL-0303(21)D/0001"
    assert code.digital_link == f"https://id.gs1.org/01/{GTIN}/10/PL-0303/21/D%2F0001"


def test_the_digital_link_reads_back_as_the_same_item():
    code = gs1_code(gtin=GTIN, lot="A(1)%&+", expiry=date(2027, 1, 31))

    ref = parse_identifier(code.digital_link)

    assert (ref.gtin, ref.lot, ref.expiry) == (GTIN, "A(1)%&+", date(2027, 1, 31))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"gtin": GTIN, "lot": "A B"},
            "The lot A B cannot be put in a GS1 barcode: it holds characters outside GS1's set "
            "or is too long.",
        ),
        (
            {"gtin": GTIN, "serial": "X" * 21},
            f"The serial {'X' * 21} cannot be put in a GS1 barcode: it holds characters outside "
            "GS1's set or is too long.",
        ),
        (
            {"gtin": "09506000134353", "lot": "L1"},
            "GTIN 09506000134353 has a wrong check digit (expected 2).",
        ),
    ],
    ids=["space", "too long", "check digit"],
)
def test_a_value_a_barcode_cannot_carry_is_refused_with_a_reason(values, message):
    with pytest.raises(IdentifierError) as caught:
        gs1_code(**values)

    assert str(caught.value) == message


# --- The symbols ----------------------------------------------------------------------------


def test_the_datamatrix_decodes_to_the_gs1_element_string_with_fnc1():
    svg = datamatrix_svg(f"[01]{GTIN}[17]261231[10]PL-0303[21]D/0001", title="x")

    (symbol,) = read_datamatrix(svg)

    assert symbol.symbology_identifier == "]d2"  # GS1 DataMatrix: FNC1 first
    assert symbol.content_type == zxingcpp.ContentType.GS1
    assert symbol.bytes == f"01{GTIN}1726123110PL-0303{GS}21D/0001".encode()


def test_the_qr_code_decodes_to_the_digital_link():
    link = f"https://id.gs1.org/01/{GTIN}/10/Q-0412?17=261231"

    (symbol,) = read_qr(qr_svg(link, title="x"))

    assert symbol.format == zxingcpp.BarcodeFormat.QRCode
    assert symbol.text == link


def test_the_symbols_carry_their_text_as_their_accessible_name():
    datamatrix = datamatrix_svg(f"[01]{GTIN}[10]A&B", title="GS1 DataMatrix: (01)…(10)A&B")
    qr = qr_svg("https://id.gs1.org/01/x?a=1&b=2", title="QR code: a<b")

    assert 'role="img"' in datamatrix
    assert "<title>GS1 DataMatrix: (01)…(10)A&amp;B</title>" in datamatrix
    assert 'role="img"' in qr
    assert "<title>QR code: a&lt;b</title>" in qr


# --- The label pages ------------------------------------------------------------------------


def test_a_lots_label_carries_its_gs1_code_in_both_symbols(manager_client, quiche):
    response = manager_client.get(lot_label_url(quiche))

    assert response.status_code == 200
    label = response.context["label"]
    assert label.code.bracketed == f"[01]{GTIN}[17]261231[10]Q-0412"
    (datamatrix,) = read_datamatrix(svg_of(response, "datamatrix"))
    assert datamatrix.text == f"(01){GTIN}(17)261231(10)Q-0412"
    (qr,) = read_qr(svg_of(response, "qr"))
    # The QR code opens our own verification page, on the host the label was printed from.
    assert qr.text == f"http://testserver/01/{GTIN}/10/Q-0412?17=261231"


def test_a_lots_label_prints_the_product_the_codes_and_the_expiry(manager_client, quiche):
    response = manager_client.get(lot_label_url(quiche))

    assertContains(response, '<p class="product">Quiche Lorraine 400 g</p>')
    assertContains(response, '<p class="sku">SKU QUICHE-LOR</p>')
    assertContains(response, f"<div><dt>GTIN</dt><dd>{GTIN}</dd></div>")
    assertContains(response, "<div><dt>LOT</dt><dd>Q-0412</dd></div>")
    assertContains(response, "<div><dt>EXP</dt><dd>2026-12-31</dd></div>")
    assertContains(response, f'<p class="hri">(01){GTIN}(17)261231(10)Q-0412</p>')
    assertContains(response, f'<p class="link">http://testserver/01/{GTIN}/10/Q-0412?17=261231</p>')
    assertContains(response, '<button type="button" class="button primary" data-print>')
    assertContains(response, "css/label.css")
    assertNotContains(response, 'class="problem"')


def test_a_units_label_names_its_serial_and_production_lot(manager_client, drill):
    response = manager_client.get(serial_label_url(drill))

    assert response.status_code == 200
    assertContains(response, "<div><dt>SN</dt><dd>D/0001</dd></div>")
    assertContains(response, "<div><dt>LOT</dt><dd>PL-0303</dd></div>")
    assertNotContains(response, "<dt>EXP</dt>")
    (datamatrix,) = read_datamatrix(svg_of(response, "datamatrix"))
    assert datamatrix.bytes == f"01{UNIT_GTIN}10PL-0303{GS}21D/0001".encode()
    (qr,) = read_qr(svg_of(response, "qr"))
    assert resolve_identifiers([qr.text]) == ([], [drill])


def test_a_scanned_lot_label_finds_the_lot(manager_client, quiche):
    response = manager_client.get(lot_label_url(quiche))

    (datamatrix,) = read_datamatrix(svg_of(response, "datamatrix"))
    (qr,) = read_qr(svg_of(response, "qr"))

    # A scanner sends the symbology identifier, then the data with GS separators.
    scanned = datamatrix.symbology_identifier + datamatrix.bytes.decode()
    assert resolve_identifiers([scanned]) == ([quiche], [])
    assert resolve_identifiers([qr.text]) == ([quiche], [])


def test_a_product_without_a_gtin_gets_a_label_with_a_search_qr_code_and_says_why(
    manager_client,
):
    lot = LotFactory(product=ProductFactory(sku="HOUSE-MIX", gtin=None), code="HM-7")

    response = manager_client.get(lot_label_url(lot))

    assert response.status_code == 200
    message = f"{NO_GTIN.format(product='HOUSE-MIX')} {SEARCH_QR}"
    assertContains(
        response, f'<p class="problem" role="alert">{message}</p>'.replace("'", "&#x27;")
    )
    assert svg_of(response, "datamatrix") is None
    (qr,) = read_qr(svg_of(response, "qr"))
    assert qr.text == "HOUSE-MIX lot HM-7"
    assert resolve_identifiers([qr.text]) == ([lot], [])


def test_a_code_imported_with_characters_gs1_lacks_gets_a_label_that_says_so(manager_client):
    # Imports may bypass the model's validators; the label must still answer.
    lot = LotFactory(product=ProductFactory(sku="IMPORTED", gtin=GTIN), code="Q-0412")
    Lot.objects.filter(pk=lot.pk).update(code="LOT 7")

    response = manager_client.get(lot_label_url(lot))

    assert response.status_code == 200
    assertContains(response, "The lot LOT 7 cannot be put in a GS1 barcode")
    assert svg_of(response, "datamatrix") is None
    (qr,) = read_qr(svg_of(response, "qr"))
    assert qr.text == "IMPORTED lot LOT 7"


@pytest.mark.parametrize("kind", ["lot", "serial"])
def test_a_label_page_runs_a_fixed_number_of_queries(
    manager_client, django_assert_max_num_queries, quiche, drill, kind
):
    url = lot_label_url(quiche) if kind == "lot" else serial_label_url(drill)

    with django_assert_max_num_queries(LABEL_PAGE_QUERIES):
        response = manager_client.get(url)

    assert response.status_code == 200


def test_quality_staff_may_print_labels(client, staff, quiche, drill):
    client.force_login(staff)

    assert client.get(lot_label_url(quiche)).status_code == 200
    assert client.get(serial_label_url(drill)).status_code == 200


def test_an_unknown_item_has_no_label(manager_client, quiche, drill):
    assert manager_client.get(reverse("lot_label", args=[drill.pk])).status_code == 404
    assert manager_client.get(reverse("serial_label", args=[quiche.pk])).status_code == 404


@pytest.mark.parametrize("kind", ["lot", "serial"])
def test_the_item_pages_link_to_their_label(manager_client, quiche, drill, kind):
    item = quiche if kind == "lot" else drill
    url = lot_label_url(quiche) if kind == "lot" else serial_label_url(drill)

    response = manager_client.get(item.get_absolute_url())

    assertContains(response, f'<a class="button" href="{url}">Print label</a>')
