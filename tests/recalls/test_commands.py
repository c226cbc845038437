"""`manage.py recall open` and `recall report`: the reference, the JSON contract, the report
files, and exit status 2 for bad input."""

import csv
import json
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from inventory.models import Lot, SerialUnit, StatusChange
from recalls.management.commands.recall import NO_CAMPAIGN
from recalls.models import RecallCampaign
from recalls.reports import COLUMNS

from ..conftest import fresh_sqlite_env
from ..inventory.factories import UserFactory

pytestmark = pytest.mark.django_db

OPEN = ["open", "--title", "Peanut traces", "--reason", "Supplier alert", "--classification", "I"]


def _recall(*args):
    out = StringIO()
    call_command("recall", *args, stdout=out)
    return out.getvalue()


def _trace(*identifiers):
    out = StringIO()
    call_command("trace", *identifiers, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_open_prints_the_new_campaigns_reference(manager, graph):
    output = _recall(*OPEN, "FLOUR lot FL-1", "--user", "manager")

    campaign = RecallCampaign.objects.get()
    assert output == f"{campaign.reference}\n"
    assert (campaign.title, campaign.reason, campaign.classification) == (
        "Peanut traces",
        "Supplier alert",
        "I",
    )
    assert campaign.owner == manager


def test_json_gives_the_affected_items_and_consignees_as_the_trace_does(manager, graph):
    identifiers = ["FLOUR lot FL-1", "CELL lot CE-1"]
    traced = _trace(*identifiers)

    data = json.loads(_recall(*OPEN, *identifiers, "--user", "manager", "--format", "json"))

    assert list(data) == ["reference", "affected", "consignees"]
    assert data["reference"] == RecallCampaign.objects.get().reference
    assert data["affected"] == traced["roots"] + traced["items"]
    assert data["consignees"] == traced["consignees"]
    assert next(item for item in data["affected"] if item["sku"] == "FLOUR") == {
        "kind": "lot",
        "sku": "FLOUR",
        "gtin": graph["flour"].product.gtin,
        "lot": "FL-1",
        "serial": None,
        "depth": 0,
        "path": ["FLOUR lot FL-1"],
    }


def test_a_drill_changes_no_stock_status(manager, graph):
    _recall(*OPEN, "FLOUR lot FL-1", "--drill", "--user", "manager")

    assert RecallCampaign.objects.get().is_drill
    assert set(Lot.objects.values_list("status", flat=True)) == {"released"}
    assert not StatusChange.objects.exists()


def test_a_recall_holds_affected_stock(manager, graph):
    _recall(*OPEN, "CELL lot CE-1", "--user", "manager")

    assert SerialUnit.objects.get(serial="P-2").status == SerialUnit.Status.RECALLED


def test_a_campaign_opened_without_a_user_is_owned_by_the_command_line(graph):
    data = json.loads(_recall(*OPEN, "FLOUR lot FL-1", "--format", "json"))

    campaign = RecallCampaign.objects.get(reference=data["reference"])
    assert campaign.owner.username == "command-line"
    assert campaign.owner.get_full_name() == "Command line"
    assert not campaign.owner.has_usable_password()  # nobody signs in as it
    _recall(*OPEN, "FLOUR lot FL-1", "--drill")
    assert get_user_model().objects.filter(username="command-line").count() == 1


def _refused(*args):
    with pytest.raises(CommandError) as exc_info:
        _recall(*args)
    assert exc_info.value.returncode == 2
    assert not RecallCampaign.objects.exists()
    assert not StatusChange.objects.exists()
    return str(exc_info.value)


def test_an_unknown_identifier_is_refused_with_status_2_and_nothing_written(manager, graph):
    message = _refused(*OPEN, "FLOUR lot FL-1", "NOPE-9", "--user", "manager")

    assert message == "No lot or serial unit matches NOPE-9."


def test_a_missing_title_is_refused_with_status_2(manager, graph):
    message = _refused(
        "open", "FLOUR lot FL-1", "--reason", "R", "--classification", "I", "--user", "manager"
    )

    assert message == "recall open: the following arguments are required: --title"


def test_an_unknown_classification_is_refused_with_status_2(manager, graph):
    message = _refused(*OPEN[:-1], "IV", "FLOUR lot FL-1", "--user", "manager")

    assert "argument --classification: invalid choice: 'IV'" in message


def test_an_unknown_user_is_refused(graph):
    assert (
        _refused(*OPEN, "FLOUR lot FL-1", "--user", "nobody") == "There is no active user nobody."
    )


def test_an_inactive_user_is_refused(graph):
    UserFactory(username="gone", is_active=False)

    assert _refused(*OPEN, "FLOUR lot FL-1", "--user", "gone") == "There is no active user gone."


@pytest.fixture(scope="module")
def fresh_database(migrated_sqlite_file, tmp_path_factory):
    """The environment of a command line run against a new, migrated SQLite file."""
    return fresh_sqlite_env(migrated_sqlite_file, tmp_path_factory.mktemp("recall-cli"))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            [*OPEN, "NOPE-1", "--user", "x"],
            "CommandError: There is no active user x.",
        ),
        (
            ["open", "NOPE-1", "--title", "T", "--reason", "R", "--classification", "IV"],
            "CommandError: manage.py recall open: argument --classification: invalid choice: "
            "'IV' (choose from 'I', 'II', 'III')",
        ),
        ([], "CommandError: manage.py recall: the following arguments are required: ACTION"),
    ],
    ids=["unknown user", "bad classification", "no action"],
)
def test_command_line_exits_with_status_2_and_one_line_on_stderr(fresh_database, args, line):
    result = subprocess.run(
        [sys.executable, "manage.py", "recall", *args],
        cwd=settings.BASE_DIR,
        env=fresh_database,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


# --- recall report ----------------------------------------------------------------------------


@pytest.fixture
def opened(manager, graph):
    _recall(*OPEN, "FLOUR lot FL-1", "CELL lot CE-1", "--user", "manager")
    return RecallCampaign.objects.get()


def test_the_csv_report_has_a_row_per_snapshot_row_with_its_consignee(opened, tmp_path):
    path = tmp_path / "report.csv"

    output = _recall("report", opened.reference, "--format", "csv", "--output", str(path))

    assert output == f"Wrote the report of {opened.reference} to {path}.\n"
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == COLUMNS
    assert len(rows) == opened.affected_items.count()
    passed_on = next(row for row in rows if row["shipped by"])
    assert (passed_on["sku"], passed_on["consignee"], passed_on["shipped by"]) == (
        "BREAD",
        "Corner Shop",
        "Dist Co",
    )
    assert passed_on["quantity"] == "5.000"
    installed = next(row for row in rows if row["serial"] == "P-3")
    assert installed["installed in"] == "DEVICE serial D-1"
    assert installed["where at opening"] == "installed in a unit"


def test_the_xlsx_report_holds_the_same_rows(opened, tmp_path):
    path = tmp_path / "report.xlsx"

    _recall("report", opened.reference, "--format", "xlsx", "--output", str(path))

    sheet = load_workbook(path).active
    rows = list(sheet.values)
    assert list(rows[0]) == COLUMNS
    assert len(rows) - 1 == opened.affected_items.count()


def test_the_json_report_holds_the_campaign_its_items_notices_and_timeline(opened, tmp_path):
    path = tmp_path / "report.json"

    _recall("report", opened.reference, "--format", "json", "--output", str(path))

    data = json.loads(path.read_text())
    assert (data["reference"], data["title"], data["classification"]) == (
        opened.reference,
        "Peanut traces",
        "I",
    )
    assert len(data["affected"]) == opened.affected_items.count()
    assert {"consignee", "shipped_by", "quantity", "resolution"} <= data["affected"][0].keys()
    assert [party["name"] for party in data["consignees"]] == [
        "Anna's Deli",
        "Corner Shop",
        "Dist Co",
    ]
    assert [entry["kind"] for entry in data["timeline"]] == ["drafted", "opened", "held"]


def test_a_report_of_an_unknown_campaign_is_refused_and_no_file_written(graph, tmp_path):
    path = tmp_path / "report.csv"

    with pytest.raises(CommandError) as exc_info:
        _recall("report", "RC-2026-9999", "--format", "csv", "--output", str(path))

    assert exc_info.value.returncode == 2
    assert str(exc_info.value) == NO_CAMPAIGN.format(reference="RC-2026-9999")
    assert not path.exists()
