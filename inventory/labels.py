"""Printable labels: a GS1 DataMatrix (drawn by Zint) and a QR code of the GS1 Digital Link
(segno), both as inline SVG so a label page needs no image requests."""

from dataclasses import dataclass
from datetime import date

import segno
import zint
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .identifiers import Gs1Code, IdentifierError, gs1_code
from .models import Lot, SerialUnit

# Quiet zones in modules: ISO/IEC 16022 asks one module around a DataMatrix, ISO/IEC 18004
# four around a QR code.
DATAMATRIX_QUIET_ZONE = 1
QR_QUIET_ZONE = 4
NO_GTIN = "{product} has no GTIN, so this label has no GS1 barcode."
SEARCH_QR = "Its QR code holds the identifier that Tracewell's search reads."
GS1_RESOLVER = "https://id.gs1.org"


def datamatrix_symbol(bracketed: str) -> zint.Symbol:
    """A GS1 DataMatrix of "[01]…[10]…" data; Zint puts in the FNC1 characters GS1 needs."""
    symbol = zint.Symbol()
    symbol.symbology = zint.Symbology.DATAMATRIX
    symbol.input_mode = zint.InputMode.GS1
    symbol.option_3 = zint.DataMatrixOptions.SQUARE
    symbol.warn_level = zint.WarningLevel.FAIL_ALL  # a bad element string fails, not warns
    try:
        symbol.encode(bracketed)
    except RuntimeError as exc:
        raise IdentifierError(f"{bracketed} cannot be encoded as a GS1 DataMatrix: {exc}") from exc
    return symbol


def datamatrix_svg(bracketed: str, *, title: str) -> SafeString:
    """The DataMatrix as one SVG path of dark modules, sized by its container."""
    symbol = datamatrix_symbol(bracketed)
    symbol.buffer_vector()
    vector = symbol.vector
    module = vector.width / symbol.width  # Zint's vector unit is not one module
    path = "".join(
        f"M{r.x / module:g} {r.y / module:g}h{r.width / module:g}v{r.height / module:g}"
        f"h{-r.width / module:g}Z"
        for r in vector.rectangles
    )
    q = DATAMATRIX_QUIET_ZONE
    width, height = symbol.width + 2 * q, symbol.rows + 2 * q
    # Safe: numbers formatted here, and an escaped title.
    return mark_safe(
        f'<svg class="barcode datamatrix" viewBox="{-q} {-q} {width} {height}" role="img" '
        f'shape-rendering="crispEdges"><title>{escape(title)}</title>'
        f'<rect x="{-q}" y="{-q}" width="{width}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )


def qr_code(data: str) -> segno.QRCode:
    # Level M survives a scuffed label and keeps a Digital Link at version 4 or 5 (33-37 modules).
    return segno.make(data, error="m", micro=False)


def qr_svg(data: str, *, title: str) -> SafeString:
    svg = qr_code(data).svg_inline(
        scale=1, border=QR_QUIET_ZONE, omitsize=True, svgclass="barcode qr", title=title
    )
    # Safe: segno escapes the title it writes.
    return mark_safe(svg.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1))


@dataclass(frozen=True)
class ItemLabel:
    """What a lot's or unit's label shows."""

    item: Lot | SerialUnit
    code: Gs1Code | None
    datamatrix: SafeString | None
    qr: SafeString
    qr_text: str  # what the QR code holds, printed under it
    problem: str  # why the label has no GS1 DataMatrix, if it has none
    lot: str = ""
    serial: str = ""
    expiry: date | None = None


def _gs1_values(item: Lot | SerialUnit) -> dict:
    if isinstance(item, Lot):
        return {"lot": item.code, "serial": "", "expiry": item.expires_on}
    # A unit's label names its production lot too, as a UDI does: (01)(17)(10)(21).
    lot = item.lot
    return {
        "serial": item.serial,
        "lot": lot.code if lot else "",
        "expiry": lot.expires_on if lot else None,
    }


def digital_link_on(link: str, base_url: str) -> str:
    """A Digital Link on another host than GS1's resolver: ours, so a scan opens our own
    verification page (GS1 Digital Link lets any domain carry the same path)."""
    if not base_url or not link.startswith(GS1_RESOLVER):
        return link
    return base_url.rstrip("/") + link[len(GS1_RESOLVER) :]


def item_label(item: Lot | SerialUnit, *, base_url: str = "") -> ItemLabel:
    """The label of a lot or unit (its product, and a unit's lot, already loaded); its QR code
    opens `base_url` (scheme and host), else GS1's resolver."""
    product = item.product
    values = _gs1_values(item)
    try:
        if not product.gtin:
            raise IdentifierError(NO_GTIN.format(product=product.sku))
        code = gs1_code(gtin=product.gtin, **values)
        datamatrix = datamatrix_svg(code.bracketed, title=f"GS1 DataMatrix: {code.hri}")
    except IdentifierError as exc:
        text = str(item)  # "SKU lot CODE", which the header search and the trace read
        return ItemLabel(
            item=item,
            code=None,
            datamatrix=None,
            qr=qr_svg(text, title=f"QR code: {text}"),
            qr_text=text,
            problem=f"{exc} {SEARCH_QR}",
            **values,
        )
    link = digital_link_on(code.digital_link, base_url)
    return ItemLabel(
        item=item,
        code=code,
        datamatrix=datamatrix,
        qr=qr_svg(link, title=f"QR code: {link}"),
        qr_text=link,
        problem="",
        **values,
    )
