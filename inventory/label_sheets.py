"""A run's units as an A4 sheet of labels to print (WeasyPrint): a GS1 DataMatrix each, with
the product, GTIN, serial and lot written beside it.

The stock is 3 columns by 8 rows of 70 x 37 mm labels (Avery 3474 and its many equivalents),
24 a page. No QR code: the sheet carries the GS1 element string alone.
"""

from dataclasses import dataclass
from datetime import date

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .identifiers import IdentifierError, gs1_code
from .labels import datamatrix_svg
from .models import Lot, Product, SerialRun, SerialUnit

LABELS_PER_PAGE = 24
# WeasyPrint lays out about 20 labels a second of CPU (1,008 labels took 50 s of CPU on the
# 2-core machine of benchmarks/README.md): ten sheets keep a PDF near ten seconds, which a page
# may wait for; longer runs print in ranges.
LABELS_PER_PDF = 240
SHEET_NO_GTIN = _(
    "%(product)s has no GTIN, so its units cannot carry a GS1 DataMatrix. Give the product its "
    "GTIN first; no sheet with another kind of code is printed, so no label can be mistaken "
    "for a GS1 one."
)
SHEET_RANGE = _(
    "Give a range of labels from 1 to %(count)s, first not after last, e.g. first=1&last=%(last)s."
)
SHEET_TOO_MANY = _(
    "A sheet prints at most %(max)s labels; ask for a range, e.g. first=1&last=%(max)s."
)


class PdfUnavailable(Exception):
    """WeasyPrint's libraries (Pango) are missing on this server."""


@dataclass(frozen=True)
class RunLabel:
    serial: str
    hri: str
    datamatrix: SafeString


def sheet_problem(product: Product) -> str:
    """Why a run of this product gets no label sheet ("" when it does)."""
    return "" if product.gtin else str(SHEET_NO_GTIN % {"product": product.sku})


def label_range(run: SerialRun, first: str | None, last: str | None) -> tuple[int, int]:
    """The labels (1-based, inclusive) a sheet prints: the whole run, or the range asked for."""
    try:
        start = int(first) if first not in (None, "") else 1
        end = int(last) if last not in (None, "") else run.count
    except ValueError:
        start, end = 0, 0
    if not 1 <= start <= end <= run.count:
        raise ValueError(SHEET_RANGE % {"count": run.count, "last": min(run.count, LABELS_PER_PDF)})
    if end - start + 1 > LABELS_PER_PDF:
        raise ValueError(SHEET_TOO_MANY % {"max": f"{LABELS_PER_PDF:,}"})
    return start, end


def ranges(run: SerialRun) -> list[tuple[int, int]]:
    """The run's labels split into sheets that each fit in one PDF."""
    return [
        (start, min(start + LABELS_PER_PDF - 1, run.count))
        for start in range(1, run.count + 1, LABELS_PER_PDF)
    ]


def run_labels(run: SerialRun, units: list[SerialUnit]) -> list[RunLabel]:
    """Each unit's GS1 element string, (01)(17)(10)(21) as a UDI orders it, and its symbol."""
    lot: Lot | None = run.lot
    values = {
        "gtin": run.product.gtin,
        "lot": lot.code if lot else "",
        "expiry": lot.expires_on if lot else None,
    }
    labels = []
    for unit in units:
        try:
            code = gs1_code(serial=unit.serial, **values)
        except IdentifierError as exc:
            raise ValueError(str(exc)) from exc
        labels.append(
            RunLabel(
                serial=unit.serial,
                hri=code.hri,
                datamatrix=datamatrix_svg(code.bracketed, title=f"GS1 DataMatrix: {code.hri}"),
            )
        )
    return labels


def sheet_pdf(run: SerialRun, units: list[SerialUnit], *, first: int, printed: date) -> bytes:
    """The labels of `units` (the run's, from its label number `first`) as an A4 PDF."""
    labels = run_labels(run, units)
    pages = [labels[at : at + LABELS_PER_PAGE] for at in range(0, len(labels), LABELS_PER_PAGE)]
    html = render_to_string(
        "inventory/serial_run_labels.html",
        {
            "run": run,
            "pages": pages,
            "first": first,
            "last": first + len(labels) - 1,
            "printed": printed,
        },
    )
    try:
        import weasyprint  # loads Pango: only when a sheet is asked for
    except OSError as exc:
        raise PdfUnavailable(str(exc)) from exc
    # Everything is inline (SVG symbols, CSS): nothing is fetched, from disk or the network.
    return weasyprint.HTML(string=html, url_fetcher=_refuse).write_pdf()


def _refuse(url, *args, **kwargs):
    raise ValueError(f"{url} is not fetched for a label sheet")
