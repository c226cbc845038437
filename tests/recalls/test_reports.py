"""The print documents: the full recall report, the 21 CFR 7.53 status report, the drill
report and the consignee notices, as HTML and PDF, and `recall report --format pdf`."""

import html
import io
import re
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import strip_tags
from pypdf import PdfReader

from inventory.models import Unit
from recalls import documents, selectors, services
from recalls.management.commands.recall import KIND_NEEDS_PDF, NOT_A_DRILL
from recalls.models import CampaignEvent, CampaignSignature, ConsigneeNotice, ItemResolution

from ..inventory.factories import LotFactory, PartyFactory
from .factories import AffectedItemFactory, ConsigneeNoticeFactory, RecallCampaignFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
KG = Unit.KILOGRAM


BLOCKS = re.compile(r"<(?:/?(?:t[dhr]|p|div|li|h[1-6]|table|section|header|address)\b[^>]*|br)>")


def _text(markup: str) -> str:
    """What a reader sees: blocks apart, no tags, no entities, single spaces."""
    return " ".join(html.unescape(strip_tags(BLOCKS.sub(" ", markup))).split())


def _pdf_pages(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF-")
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def _notice(campaign, name):
    return campaign.notices.get(party__name=name)


@pytest.fixture
def worked(manager, graph):
    """A Class I recall of the flour: Dist Co and Anna's Deli notified by letter and answered,
    Corner Shop (Dist Co's customer) neither; part of Dist Co's bread returned."""
    campaign = services.recall_open(
        identifiers=["FLOUR lot FL-1"],
        title="Peanut traces",
        reason="The flour supplier found peanut traces.",
        classification="I",
        acting_user=manager,
    )
    campaign = services.campaign_update(
        campaign=campaign,
        acting_user=manager,
        hazard="Undeclared allergen.",
        estimated_completion_on=date(2026, 12, 31),
    )
    dist, deli = _notice(campaign, "Dist Co"), _notice(campaign, "Anna's Deli")
    services.notices_send(
        campaign=campaign, notices_to_send=[dist, deli], method="letter", acting_user=manager
    )
    services.notice_record_response(
        notice=dist,
        acting_user=manager,
        quantity_on_hand=Decimal("15"),
        quantity_returned=Decimal("15"),
        unit=KG,
        check_result=ConsigneeNotice.CheckResult.EFFECTIVE,
    )
    services.notice_record_response(
        notice=deli,
        acting_user=manager,
        quantity_on_hand=Decimal("0"),
        quantity_destroyed=Decimal("10"),
        unit=KG,
        check_result=ConsigneeNotice.CheckResult.EFFECTIVE,
    )
    line = campaign.affected_items.get(consignee__name="Dist Co", shipped_by=None)
    services.affected_items_resolve(
        campaign=campaign,
        items=[line],
        outcome="returned",
        quantity=Decimal("15"),
        evidence="RMA 17",
        acting_user=manager,
    )
    return selectors.campaign_by_reference(campaign.reference)


@pytest.fixture
def drill(manager, graph):
    campaign = services.recall_open(
        identifiers=["CELL lot CE-1"],
        title="Annual drill",
        reason="Mock recall of the cells.",
        classification="II",
        is_drill=True,
        acting_user=manager,
    )
    services.recall_complete(
        campaign=campaign, password=PASSWORD, statement="Drill done.", acting_user=manager
    )
    return selectors.campaign_by_reference(campaign.reference)


# --- the full report ----------------------------------------------------------------------------


def test_the_report_pdf_holds_the_reference_consignees_and_quantities(worked):
    text = " ".join(_pdf_pages(documents.report_pdf(worked)))

    assert f"{worked.reference} Peanut traces" in text
    for name in ("Dist Co", "Anna's Deli", "Corner Shop"):
        assert name in text
    assert "Recall report" in text
    assert "Class I" in text
    assert "20 kg" in text  # bread shipped to Dist Co
    assert "RMA 17" in text  # the resolution's evidence
    assert "Page 1 of" in text


def test_the_report_shows_the_strategy_scope_mass_balance_and_signatures(worked):
    markup = documents.report_html(worked)
    text = _text(markup)

    assert "Depth of recall consumer or user" in text
    assert "Health hazard Undeclared allergen." in text
    assert "Estimated completion 2026-12-31" in text
    assert "Scope FLOUR lot FL-1" in text
    assert markup.count("<svg") == 1  # one unit of measure: kg
    progress = selectors.campaign_progress(worked)
    assert f"{progress.percent_accounted}% accounted for" in text
    assert "Not signed yet" in text


def test_the_report_lists_the_first_lines_and_points_to_the_spreadsheets(worked, monkeypatch):
    monkeypatch.setattr(documents, "ITEM_ROWS_SHOWN", 2)
    lines = selectors.campaign_progress(worked).lines

    text = _text(documents.report_html(worked))

    assert f"This report lists the first 2 of {lines} lines." in text
    assert "The CSV and XLSX reports" in text


def test_the_report_reads_the_same_number_of_queries_for_ten_times_the_rows(manager):
    def campaign_of(size):
        campaign = RecallCampaignFactory(owner=manager, scope=["A lot 1"])
        for n in range(size):
            party = PartyFactory()
            row = AffectedItemFactory(
                campaign=campaign,
                lot=LotFactory(),
                position=n,
                whereabouts="shipped",
                site=None,
                consignee=party,
            )
            ItemResolution.objects.create(
                campaign=campaign,
                affected_item=row,
                outcome="returned",
                quantity=Decimal(1),
                unit=KG,
                recorded_by=manager,
            )
            ConsigneeNoticeFactory(
                campaign=campaign,
                party=party,
                received=[{"item": row.label, "quantity": "100", "unit": KG}],
                check_result="effective" if n % 2 else "",
                method="letter" if n % 3 else "",
                sent_at=campaign.opened_at if n % 3 else None,
            )
            CampaignEvent.objects.create(campaign=campaign, kind="opened", message="Opened.")
            CampaignSignature.objects.create(
                campaign=campaign,
                meaning="completed",
                signer=manager,
                signer_name="M",
                statement="Done.",
            )
        return selectors.campaign_by_reference(campaign.reference)

    small, large = campaign_of(2), campaign_of(20)
    for build in (
        documents.report_context,
        documents.status_report_context,
        documents.notices_context,
    ):
        with CaptureQueriesContext(connection) as queries:
            build(small)
        with CaptureQueriesContext(connection) as more:
            build(large)
        assert len(more) == len(queries), build.__name__


# --- the status report (21 CFR 7.53) ---------------------------------------------------------


def test_the_status_report_holds_each_item_of_21_cfr_7_53(worked):
    dist = _notice(worked, "Dist Co")
    sent = dist.sent_at.strftime("%Y-%m-%d %H:%M")

    text = _text(documents.status_report_html(worked))

    assert "RECALL STATUS REPORT NO. 1" in text.upper()
    assert "Report No. 1, dated" in text
    # (1) consignees notified, with date and method
    assert "2 of 3 consignees notified; 1 not notified yet." in text
    assert f"Dist Co {sent} letter" in text
    # (2) consignees responding and their quantity on hand
    assert "2 of 3 consignees have responded." in text
    assert "Dist Co" in text and "15 kg" in text
    # (3) consignees not responding
    assert "1 consignee has not responded (1 of them not notified yet)." in text
    assert "Corner Shop" in text.split("3. Consignees not responding")[1]
    # (4) quantity returned or corrected per consignee, and accounted for
    section = text.split("4. Quantity returned or corrected")[1].split("5. Effectiveness")[0]
    assert "Dist Co 20 kg 15 kg — — Returned 15 kg" in section
    assert "Anna's Deli 10 kg — 10 kg — nothing yet" in section
    assert "accounted for" in section
    # (5) effectiveness checks made and their results
    assert "2 checks made: 2 effective, 0 ineffective, 0 no response." in text
    # (6) estimated time frame for completion
    assert "Estimated completion 2026-12-31" in text


def test_status_reports_are_numbered_after_those_on_the_timeline(worked, manager):
    CampaignEvent.objects.create(
        campaign=worked,
        kind=CampaignEvent.Kind.REPORT,
        actor=manager,
        message="Status report 1 sent to FDA.",
        details={"document": "status"},
    )

    assert "Report No. 2, dated" in _text(documents.status_report_html(worked))
    assert "Report No. 7, dated" in _text(documents.status_report_html(worked, number=7))


# --- the drill report --------------------------------------------------------------------------


def test_a_drill_report_shows_the_time_to_trace_and_complete_and_the_gaps(drill):
    text = _text(documents.report_html(drill))

    assert "MOCK RECALL (DRILL) REPORT" in text.upper()
    assert f"{documents.duration(drill.trace_duration)} Time to trace" in text
    assert f"{documents.duration(drill.time_to_complete)} Time to complete" in text
    gaps = selectors.termination_gaps(drill)
    assert gaps
    assert f"{len(gaps)} Gaps found" in text
    for gap in gaps:
        assert gap in text


def test_durations_read_as_people_write_them():
    from datetime import timedelta

    assert documents.duration(timedelta(milliseconds=35)) == "35 ms"
    assert documents.duration(timedelta(seconds=4.25)) == "4.2 s"
    assert documents.duration(timedelta(minutes=12, seconds=5)) == "12 min 05 s"
    assert documents.duration(timedelta(days=2, hours=4)) == "2 d 4 h 00 min"
    assert documents.duration(None) == ""


# --- notices -------------------------------------------------------------------------------------


def test_each_notice_is_a_letter_on_its_own_page(worked, graph):
    pages = _pdf_pages(documents.notices_pdf(worked))

    firsts = [page for page in pages if "Our reference" in page]
    assert len(firsts) == 3
    assert ["Anna's Deli" in firsts[0], "Corner Shop" in firsts[1], "Dist Co" in firsts[2]] == [
        True
    ] * 3
    assert all("Tracewell Foods" in page and worked.reference in page for page in firsts)
    assert all("Response form" in " ".join(pages) for page in firsts)


def test_a_sent_notice_prints_as_it_was_sent_and_an_unsent_one_from_the_wording(worked):
    dist = _notice(worked, "Dist Co")
    worked.notice_body = "Changed wording for {{ consignee.name }}."
    worked.save()

    text = _text(documents.notices_html(worked, [dist, _notice(worked, "Corner Shop").pk]))

    assert dist.body.split()[0] in text and "Changed wording for Dist Co." not in text
    assert "Changed wording for Corner Shop." in text
    assert "URGENT" in text  # Class I
    assert "Anna's Deli" not in text


# --- the command ---------------------------------------------------------------------------------


def _recall(*args):
    out = StringIO()
    call_command("recall", *args, stdout=out)
    return out.getvalue()


def test_the_command_writes_the_full_report_as_pdf(worked, tmp_path):
    path = tmp_path / "report.pdf"

    output = _recall("report", worked.reference, "--format", "pdf", "--output", str(path))

    assert output == f"Wrote the report of {worked.reference} to {path}.\n"
    text = " ".join(_pdf_pages(path.read_bytes()))
    assert "Recall report" in text and "Affected items" in text and "Dist Co" in text


def test_the_command_writes_the_status_report(worked, tmp_path):
    path = tmp_path / "status.pdf"

    _recall("report", worked.reference, "--format", "pdf", "--kind", "status", "--output", path)

    assert "Recall status report no. 1" in " ".join(_pdf_pages(path.read_bytes()))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv", "--kind", "status"], KIND_NEEDS_PDF.format(kind="status")),
        (["--format", "pdf", "--kind", "drill"], NOT_A_DRILL.format(reference="RC-2026-0001")),
    ],
)
def test_the_command_refuses_a_kind_that_does_not_fit(worked, tmp_path, args, message):
    path = tmp_path / "out"

    with pytest.raises(CommandError) as exc_info:
        _recall("report", worked.reference, *args, "--output", str(path))

    assert (exc_info.value.returncode, str(exc_info.value)) == (2, message)
    assert not path.exists()


# --- nothing from the network --------------------------------------------------------------------


def test_pdfs_read_our_static_files_and_nothing_else():
    fetcher = documents.static_fetcher()

    response = fetcher.fetch(f"{documents.BASE_URL}static/css/print.css")
    assert b"@page" in response.read()
    for url in (
        "https://example.com/logo.png",
        "file:///etc/passwd",
        f"{documents.BASE_URL}static/../../etc/passwd",
        f"{documents.BASE_URL}static/css/missing.css",
    ):
        with pytest.raises(Exception, match=r"not fetched|outside"):
            fetcher.fetch(url)


def test_the_legend_swatches_have_the_colours_of_the_figures_bars():
    from django.conf import settings

    from recalls.documents import SEGMENTS_AT_OPENING, SEGMENTS_NOW

    css = (settings.BASE_DIR / "static" / "css" / "print.css").read_text()
    for key, _name, colour in SEGMENTS_AT_OPENING + SEGMENTS_NOW:
        assert f".swatch.balance-{key} {{ background: {colour}; }}" in css
