"""The recall campaign list: filters, exports to CSV and XLSX, bad input and query counts."""

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from recalls.models import RecallCampaign

from .factories import RecallCampaignFactory

pytestmark = pytest.mark.django_db

HEADER = ["Reference", "Title", "Class", "Status", "Opened", "Owner"]
# Session, user, roles, permissions (5); the tiles' counts, the rows' count, the rows.
PAGE_QUERIES = 5 + 3


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def campaigns():
    opened = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    return [
        RecallCampaignFactory(title="Undeclared peanut", opened_at=opened),
        RecallCampaignFactory(
            title="Mock recall of flour",
            is_drill=True,
            status=RecallCampaign.Status.TERMINATED,
            completed_at=opened,
            terminated_at=opened,
            classification=RecallCampaign.Classification.CLASS_III,
            opened_at=opened.replace(day=1),
        ),
    ]


def _list(client, **params):
    return client.get(reverse("recalls:list"), params)


@pytest.mark.parametrize("export", ["csv", "xlsx"])
def test_the_campaign_list_exports_a_header_and_every_campaign(staff_client, campaigns, export):
    response = _list(staff_client, _export=export)

    assert response.status_code == 200
    day = timezone.localdate().isoformat()
    assert f'filename="recall-campaigns-{day}.{export}"' in response["Content-Disposition"]
    if export == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode())))
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    assert [row[0] for row in rows[1:]] == [campaigns[0].reference, campaigns[1].reference]


def test_the_export_has_plain_labels_and_local_times(staff_client, campaigns, settings):
    settings.TIME_ZONE = "America/New_York"

    response = _list(staff_client, _export="csv", is_drill="true")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    drill = campaigns[1]
    assert rows[1:] == [
        [
            drill.reference,
            "Mock recall of flour",
            "Class III",
            "terminated (drill)",
            "2026-02-28 22:00",
            drill.owner.username,
        ]
    ]


def test_the_list_offers_downloads_that_keep_its_filters(staff_client, campaigns):
    response = _list(staff_client, status="ongoing")

    assertContains(response, 'href="?status=ongoing&amp;_export=csv"')
    assertContains(response, 'href="?status=ongoing&amp;_export=xlsx"')


def test_an_unknown_status_shows_its_message_and_neither_lists_nor_exports(staff_client, campaigns):
    page = _list(staff_client, status="paused")
    export = _list(staff_client, status="paused", _export="csv")

    assertContains(page, "Select a valid choice.")
    assertNotContains(page, campaigns[0].reference)
    assert export["Content-Type"].startswith("text/html")
    assertContains(export, "Nothing is listed until the filters above are corrected.")


def test_the_list_and_its_export_run_the_same_queries_for_2_campaigns_or_20(
    staff_client, campaigns, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as few:
        _list(staff_client)
    assert len(few.captured_queries) == PAGE_QUERIES  # read before the next request clears it
    RecallCampaignFactory.create_batch(18)

    with django_assert_max_num_queries(PAGE_QUERIES):
        assert len(_list(staff_client).context["table"].paginated_rows) == 20
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert _list(staff_client, _export="csv").content.decode().count("\n") == 21
