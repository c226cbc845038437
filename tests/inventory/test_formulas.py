"""CSV cells a spreadsheet would run as formulas: neutralised on export, restored on import."""

import csv
import io

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from inventory.formulas import csv_writer, neutralise, restore

from .factories import LotFactory, ProductFactory


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20 7946 0000", "'+44 20 7946 0000"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("'=1+1", "''=1+1"),
        ("-2.5", "-2.5"),
        ("+3", "+3"),
        ("1e-3", "1e-3"),
        ("L-2041", "L-2041"),
        ("", ""),
        (12, 12),
        (None, None),
    ],
)
def test_formula_cells_get_an_apostrophe_and_numbers_do_not(value, written):
    assert neutralise(value) == written


@given(st.text(max_size=40))
def test_every_value_reads_back_exactly_as_it_was_written(value):
    assert restore(neutralise(value)) == value


def test_the_csv_writer_neutralises_every_cell_of_a_row():
    out = io.StringIO()
    csv_writer(out).writerow(['=HYPERLINK("http://evil.example")', "ok", -1])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [
        '\'=HYPERLINK("http://evil.example")',
        "ok",
        "-1",
    ]


@pytest.mark.django_db
def test_a_list_exported_as_csv_neutralises_a_formula_lot_code(client, manager):
    LotFactory(product=ProductFactory(sku="EVIL"), code="=1+1")
    client.force_login(manager)

    answer = client.get(reverse("lot_list"), {"_export": "csv"})

    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [cell for row in rows[1:] for cell in row if cell.endswith("=1+1")] == ["'=1+1"]
