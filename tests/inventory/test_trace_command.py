"""`manage.py trace`: JSON, CSV and text output, and exit status 2 for identifiers it cannot use."""

import csv
import io
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from inventory.models import Lot
from inventory.services import Line, lot_create, serial_unit_create, shipment_create

from ..conftest import fresh_sqlite_env
from .factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    UserFactory,
)

TRACE_KEYS = {"direction", "roots", "items", "consignees", "suppliers"}
ITEM_KEYS = {"kind", "sku", "gtin", "lot", "serial", "depth", "path"}
PARTY_KEYS = {"name", "gln", "items"}
CSV_HEADER = [
    "role",
    "kind",
    "sku",
    "gtin",
    "lot",
    "serial",
    "depth",
    "path",
    "consignees",
    "suppliers",
]
BREAD_GTIN = "09501101020917"
MILL_GLN = "5412345000013"
SHOP_GLN = "0614141000012"
NO_MATCH = "No lot or serial unit matches {text}."
NOT_AN_IDENTIFIER = (
    "{text} is not an identifier: use 'SKU lot CODE', 'SKU serial CODE', a GS1 code or a "
    "Digital Link."
)
AMBIGUOUS = "{text} matches {count} items ({names}); add the SKU."


@pytest.fixture
def bakery(db):
    """Flour from a mill → bread shipped to a shop → sandwiches; cells → a battery pack."""
    user = UserFactory(username="tracer")
    plant = SiteFactory(party=InternalPartyFactory(name="Bakery"), code="plant")
    mill = PartyFactory(name="Mill Co", gln=MILL_GLN, is_supplier=True, is_customer=False)
    shop = PartyFactory(name="Shop Ltd", gln=SHOP_GLN)
    flour = lot_create(
        product=ProductFactory(sku="FLOUR", gtin=None),
        code="F-1",
        quantity=Decimal("500"),
        supplier=mill,
        supplier_lot_code="MILL-889",
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    bread = lot_create(
        product=ProductFactory(sku="BREAD", gtin=BREAD_GTIN),
        code="B-1",
        quantity=Decimal("200"),
        inputs=[Line(flour, Decimal("100"))],
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=user,
    )
    lot_create(
        product=ProductFactory(sku="SANDWICH", gtin=None),
        code="S-1",
        quantity=Decimal("50"),
        inputs=[Line(bread, Decimal("10"))],
        site=plant,
        produced_on=date(2026, 3, 3),
        acting_user=user,
    )
    shipment_create(
        lots=[Line(bread, Decimal("100"))],
        from_site=plant,
        to_party=shop,
        shipped_at=date(2026, 3, 4),
        acting_user=user,
    )
    cells = lot_create(
        product=ProductFactory(sku="CELL", gtin=None),
        code="C-7",
        quantity=Decimal("400"),
        supplier=mill,
        acting_user=user,
    )
    serial_unit_create(
        product=SerialProductFactory(sku="PACK", gtin=None),
        serial="P1",
        inputs=[Line(cells, Decimal("4"))],
        acting_user=user,
    )


def run_trace(*args):
    out = io.StringIO()
    call_command("trace", *args, stdout=out)
    return out.getvalue()


def trace_json(*args):
    return json.loads(run_trace(*args, "--format", "json"))


def command_error(*args):
    with pytest.raises(CommandError) as excinfo:
        run_trace(*args)
    return excinfo.value


# --- JSON -------------------------------------------------------------------------------------


def test_json_has_exactly_the_documented_keys(bakery):
    data = trace_json("MILL-889", "PACK serial P1", "--direction", "backward")

    assert set(data) == TRACE_KEYS
    assert data["roots"] and data["items"] and data["suppliers"]
    for item in [*data["roots"], *data["items"]]:
        assert set(item) == ITEM_KEYS
    for party in [*data["consignees"], *data["suppliers"]]:
        assert set(party) == PARTY_KEYS


def test_json_forward_trace_lists_items_paths_consignees_and_suppliers(bakery):
    assert trace_json("FLOUR lot F-1") == {
        "direction": "forward",
        "roots": [
            {
                "kind": "lot",
                "sku": "FLOUR",
                "gtin": None,
                "lot": "F-1",
                "serial": None,
                "depth": 0,
                "path": ["FLOUR lot F-1"],
            }
        ],
        "items": [
            {
                "kind": "lot",
                "sku": "BREAD",
                "gtin": BREAD_GTIN,
                "lot": "B-1",
                "serial": None,
                "depth": 1,
                "path": ["FLOUR lot F-1", "BREAD lot B-1"],
            },
            {
                "kind": "lot",
                "sku": "SANDWICH",
                "gtin": None,
                "lot": "S-1",
                "serial": None,
                "depth": 2,
                "path": ["FLOUR lot F-1", "BREAD lot B-1", "SANDWICH lot S-1"],
            },
        ],
        "consignees": [{"name": "Shop Ltd", "gln": SHOP_GLN, "items": ["BREAD lot B-1"]}],
        "suppliers": [{"name": "Mill Co", "gln": MILL_GLN, "items": ["FLOUR lot F-1"]}],
    }


def test_json_backward_trace_from_a_serial_unit(bakery):
    data = trace_json("PACK serial P1", "--direction", "backward")

    assert data["direction"] == "backward"
    assert data["roots"] == [
        {
            "kind": "serial",
            "sku": "PACK",
            "gtin": None,
            "lot": None,
            "serial": "P1",
            "depth": 0,
            "path": ["PACK serial P1"],
        }
    ]
    assert [item["path"] for item in data["items"]] == [["PACK serial P1", "CELL lot C-7"]]
    assert data["suppliers"] == [{"name": "Mill Co", "gln": MILL_GLN, "items": ["CELL lot C-7"]}]


def test_json_trace_from_a_gs1_scan_matches_the_typed_form(bakery):
    assert trace_json(f"(01){BREAD_GTIN}(10)B-1") == trace_json("BREAD lot B-1")


# --- CSV --------------------------------------------------------------------------------------


def test_csv_has_a_header_and_one_row_per_item(bakery):
    rows = list(csv.reader(io.StringIO(run_trace("FLOUR lot F-1", "--format", "csv"))))

    assert rows == [
        CSV_HEADER,
        ["root", "lot", "FLOUR", "", "F-1", "", "0", "FLOUR lot F-1", "", "Mill Co"],
        [
            "item",
            "lot",
            "BREAD",
            BREAD_GTIN,
            "B-1",
            "",
            "1",
            "FLOUR lot F-1 > BREAD lot B-1",
            "Shop Ltd",
            "",
        ],
        [
            "item",
            "lot",
            "SANDWICH",
            "",
            "S-1",
            "",
            "2",
            "FLOUR lot F-1 > BREAD lot B-1 > SANDWICH lot S-1",
            "",
            "",
        ],
    ]


# --- Text -------------------------------------------------------------------------------------


def test_text_shows_the_tree_then_consignees_and_suppliers(bakery):
    assert run_trace("FLOUR lot F-1").splitlines() == [
        "Forward trace: 1 starting item(s), 2 reached.",
        "FLOUR lot F-1",
        "└─ BREAD lot B-1",
        "   └─ SANDWICH lot S-1",
        "",
        "Consignees (1):",
        f"  Shop Ltd (GLN {SHOP_GLN}): BREAD lot B-1",
        "",
        "Suppliers (1):",
        f"  Mill Co (GLN {MILL_GLN}): FLOUR lot F-1",
    ]


def test_text_draws_branches_with_rails_where_siblings_continue(bakery):
    user = UserFactory(username="baker")
    bread = Lot.objects.get(code="B-1")
    toast = lot_create(
        product=ProductFactory(sku="CRUMBS", gtin=None),
        code="T-1",
        quantity=Decimal("20"),
        inputs=[Line(bread, Decimal("5"))],
        acting_user=user,
    )
    lot_create(
        product=ProductFactory(sku="CROUTON", gtin=None),
        code="C-1",
        quantity=Decimal("5"),
        inputs=[Line(toast, Decimal("5"))],
        acting_user=user,
    )

    assert run_trace("FLOUR lot F-1").splitlines()[1:6] == [
        "FLOUR lot F-1",
        "└─ BREAD lot B-1",
        "   ├─ CRUMBS lot T-1",
        "   │  └─ CROUTON lot C-1",
        "   └─ SANDWICH lot S-1",
    ]
    assert run_trace("CROUTON lot C-1", "--direction", "backward").splitlines()[1:5] == [
        "CROUTON lot C-1",
        "└─ CRUMBS lot T-1",
        "   └─ BREAD lot B-1",
        "      └─ FLOUR lot F-1",
    ]


def test_text_is_the_default_and_backward_is_named(bakery):
    assert run_trace("SANDWICH lot S-1", "--direction", "backward").splitlines()[:4] == [
        "Backward trace: 1 starting item(s), 2 reached.",
        "SANDWICH lot S-1",
        "└─ BREAD lot B-1",
        "   └─ FLOUR lot F-1",
    ]


# --- Identifiers it cannot use ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        ("NOPE-1", NO_MATCH.format(text="NOPE-1")),
        ("BREAD lot B-2", NO_MATCH.format(text="BREAD lot B-2")),
        ("what is this thing", NOT_AN_IDENTIFIER.format(text="what is this thing")),
        (
            "09501101020918 lot B-1",
            "GTIN 09501101020918 has a wrong check digit (expected 7).",
        ),
    ],
)
def test_unknown_or_malformed_identifier_fails_with_status_2_and_one_line(
    bakery, identifier, message
):
    error = command_error(identifier, "--format", "json")

    assert error.returncode == 2
    assert str(error) == message


def test_ambiguous_identifier_fails_with_status_2_asking_for_the_sku(bakery):
    SerialUnitFactory(product=SerialProductFactory(sku="MIXER"), serial="B-1")

    error = command_error("B-1")

    assert error.returncode == 2
    assert str(error) == AMBIGUOUS.format(
        text="B-1", count=2, names="BREAD lot B-1, MIXER serial B-1"
    )


@pytest.fixture(scope="module")
def fresh_database(migrated_sqlite_file, tmp_path_factory):
    """The environment of a command line run against a new, migrated SQLite file."""
    return fresh_sqlite_env(migrated_sqlite_file, tmp_path_factory.mktemp("trace-cli"))


@pytest.mark.parametrize(
    ("identifier", "message"),
    [
        ("NOPE-1", NO_MATCH.format(text="NOPE-1")),
        ("what is this thing", NOT_AN_IDENTIFIER.format(text="what is this thing")),
        (
            f"]d201{BREAD_GTIN}10NOPE\x1d2110",
            NO_MATCH.format(text=f"]d201{BREAD_GTIN}10NOPE<GS>2110"),
        ),
    ],
)
def test_command_line_exits_with_status_2_and_one_line_on_stderr(
    fresh_database, identifier, message
):
    result = subprocess.run(
        [sys.executable, "manage.py", "trace", identifier],
        cwd=settings.BASE_DIR,
        env=fresh_database,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"CommandError: {message}"]
    assert result.stdout == ""
