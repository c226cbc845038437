"""A recall in a real browser: opening it, working its lines and consignees, and signing it off."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from inventory.demo import DEMO_PASSWORD
from inventory.models import Lot
from recalls import services
from recalls.models import RecallCampaign

from .conftest import login

# The live server's thread sees only committed data, hence transactional tests.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The demo's spinach lot (supplier's lot code CVG-F12-B0311) went into two quiche lots and two
# salad kits: 6 affected items on 19 lines, shipped to 5 consignees.
SPINACH = "CVG-F12-B0311"
ITEMS, LINES, CONSIGNEES = 6, 19, 5
ON_HAND_LINES = 3
TITLE = "Baby spinach: Listeria monocytogenes at the grower's packing house"
REASON = "Coastal Valley Greens confirmed a Listeria monocytogenes positive in lot CVG-F12-B0311."
PHONE = {"width": 390, "height": 844}


def tile(page, label: str):
    return page.locator(".tile").filter(
        has=page.locator(".label", has_text=re.compile(f"^{re.escape(label)}$"))
    )


def spinach() -> Lot:
    return Lot.objects.select_related("product").get(supplier_lot_code=SPINACH)


def open_campaign(**extra) -> RecallCampaign:
    """Open the spinach recall as the demo's manager, as the command line would."""
    return services.recall_open(
        identifiers=[SPINACH],
        title=TITLE,
        reason=REASON,
        classification="I",
        acting_user=get_user_model().objects.get(username="manager"),
        **extra,
    )


def lines_table(page):
    return page.locator("table.lines")


def line_boxes(page):
    return lines_table(page).locator("tbody").get_by_role("checkbox")


def test_a_manager_opens_a_recall_from_a_lot_page(page, demo, screenshot):
    lot = spinach()
    login(page, "manager")
    page.goto(reverse("lot_detail", args=[lot.pk]))

    page.get_by_role("link", name="Open a recall").click()

    expect(page.get_by_role("heading", name="Open a recall campaign", level=1)).to_be_visible()
    expect(page.get_by_label("Lots and serial units")).to_have_value(str(lot))
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Classification").select_option(label="Class I")
    page.get_by_label("Reason").fill(REASON)
    page.get_by_label("Health hazard").fill("Listeriosis; severe for pregnant women.")
    screenshot("form")
    page.get_by_role("button", name="Open campaign now").click()

    campaign = RecallCampaign.objects.get(nonconformances=None)  # not the demo's own
    expect(page.locator(".messages")).to_have_text(
        f"{campaign.reference} is open: {ITEMS} affected item(s), {CONSIGNEES} consignee(s)."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{campaign.reference} {TITLE}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ongoing")
    expect(tile(page, "affected items").locator(".figure")).to_have_text(str(ITEMS))
    expect(tile(page, "lines resolved").locator(".figure")).to_have_text(f"0 / {LINES}")
    expect(tile(page, "consignees notified").locator(".figure")).to_have_text(f"0 / {CONSIGNEES}")
    expect(page.get_by_role("heading", name="Mass balance (kg)")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^used in affected items"))).to_have_count(2)
    expect(line_boxes(page)).to_have_count(LINES)
    expect(lines_table(page).get_by_text("held")).to_have_count(LINES - 3)  # 3 lots used up
    expect(page.locator("table.notices tbody tr")).to_have_count(CONSIGNEES)
    screenshot("campaign")
    page.set_viewport_size(PHONE)
    screenshot("campaign-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert Lot.objects.filter(status=Lot.Status.RECALLED).count() == 3


def test_a_manager_opens_a_mock_recall_from_a_forward_trace(page, demo, screenshot):
    lot = spinach()
    login(page, "manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trace").click()
    page.get_by_label("Lot, serial or GS1 code").fill(SPINACH)
    page.get_by_role("radio", name="Forward: where did it go?").check()
    page.get_by_role("button", name="Trace", exact=True).click()
    expect(page.locator(".summary")).to_contain_text("Forward trace from")
    screenshot("trace")

    page.get_by_role("link", name="Open a recall").click()

    expect(page.get_by_label("Lots and serial units")).to_have_value(str(lot))
    page.get_by_label("Title").fill("Annual mock recall")
    page.get_by_label("Classification").select_option(label="Class II")
    page.get_by_label("Reason").fill("Yearly drill, as our food safety plan requires.")
    page.get_by_label("Mock recall (drill)").check()
    page.get_by_role("button", name="Open campaign now").click()

    campaign = RecallCampaign.objects.get(nonconformances=None)  # not the demo's own
    assert campaign.is_drill
    expect(page.locator(".messages")).to_contain_text(f"{campaign.reference} is open")
    expect(page.locator(".message-warning")).to_have_text(
        "This is a mock recall. It changed no stock status, and its e-mails go only to the "
        "person who sends them."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("drill")
    expect(lines_table(page).get_by_text("held")).to_have_count(0)
    assert not Lot.objects.filter(status=Lot.Status.RECALLED).exists()


def test_a_manager_selects_lines_and_resolves_them(page, demo, screenshot):
    campaign = open_campaign()
    login(page, "manager")
    page.goto(campaign.get_absolute_url())
    select_all = lines_table(page).get_by_role("checkbox", name="Select all on this page")

    select_all.check()
    for box in line_boxes(page).all():
        expect(box).to_be_checked()
    select_all.uncheck()
    for box in line_boxes(page).all():
        expect(box).not_to_be_checked()

    page.get_by_label("Where at opening").select_option(label="on hand at our site")
    page.get_by_role("button", name="Filter").first.click()
    expect(line_boxes(page)).to_have_count(ON_HAND_LINES)
    select_all.check()
    page.get_by_label("Outcome", exact=True).select_option(label="destroyed")
    page.get_by_label("Evidence").fill("Destruction certificate DC-5521")
    screenshot("selected")
    page.get_by_role("button", name="Record", exact=True).click()

    expect(page.locator(".message-success")).to_contain_text(
        f"Resolved {ON_HAND_LINES} line(s) as destroyed"
    )
    expect(tile(page, "lines resolved").locator(".figure")).to_have_text(
        f"{ON_HAND_LINES} / {LINES}"
    )
    # The filter stays as it was, and each line now says what happened to it.
    expect(page.get_by_label("Where at opening")).to_have_value("on_hand")
    for row in lines_table(page).locator("tbody tr").all():
        expect(row).to_contain_text("destroyed")

    page.get_by_label("Where at opening").select_option(label="shipped to a consignee")
    page.get_by_role("button", name="Filter").first.click()
    line = campaign.affected_items.filter(consignee__name="Bayside Bistro").get()
    page.get_by_role("checkbox", name=f"Select {line.label} (Bayside Bistro)").check()
    expect(select_all).not_to_be_checked()
    assert select_all.evaluate("box => box.indeterminate")  # some of the lines are ticked
    page.get_by_label("Outcome", exact=True).select_option(label="returned")
    page.get_by_role("button", name="Record", exact=True).click()

    expect(page.locator(".message-success")).to_contain_text(
        f"Resolved 1 line(s) as returned (24 each): {line.label}"
    )
    expect(tile(page, "lines resolved").locator(".figure")).to_have_text(
        f"{ON_HAND_LINES + 1} / {LINES}"
    )


def test_a_manager_sends_notices_by_letter_and_records_an_answer(page, demo, screenshot):
    campaign = open_campaign()
    login(page, "manager")
    page.goto(campaign.get_absolute_url())
    consignees = page.locator("table.notices")
    yesterday = timezone.localtime() - timedelta(days=1)

    consignees.get_by_role("checkbox", name="Select all on this page").check()
    page.get_by_label("Method").select_option(label="letter")
    page.get_by_label("Sent").fill(yesterday.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Send or record").click()

    expect(page.locator(".message-success")).to_have_text(
        f"{CONSIGNEES} notice(s) recorded as sent by letter."
    )
    expect(tile(page, "consignees notified").locator(".figure")).to_have_text(
        f"{CONSIGNEES} / {CONSIGNEES}"
    )
    expect(tile(page, "notified, silent").locator(".figure")).to_have_text(str(CONSIGNEES))
    northstar = consignees.get_by_role("row").filter(has_text="Northstar Foodservice")
    expect(northstar).to_contain_text(yesterday.strftime("%Y-%m-%d %H:%M"))
    expect(northstar).to_contain_text("letter")
    screenshot("sent")

    northstar.get_by_role("link", name="record answer").click()
    expect(page.get_by_role("heading", name="Northstar Foodservice Distribution")).to_be_visible()
    page.get_by_label("Acknowledged").fill(
        (timezone.localtime() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("On hand when notified").fill("120")
    page.get_by_label("Returned").fill("120")
    page.get_by_label("Effectiveness check").select_option(label="effective")
    screenshot("answer")
    page.get_by_role("button", name="Save the answer").click()

    expect(page.locator(".message-success")).to_have_text(
        "Answer from Northstar Foodservice Distribution recorded: "
        "on hand 120 each, returned 120 each, effective"
    )
    expect(tile(page, "responded").locator(".figure")).to_have_text("1")
    expect(tile(page, "notified, silent").locator(".figure")).to_have_text(str(CONSIGNEES - 1))
    expect(northstar).to_contain_text("effective")


def test_a_manager_edits_the_notice_wording_and_sees_the_preview(page, demo, screenshot):
    campaign = open_campaign()
    login(page, "manager")
    page.goto(campaign.get_absolute_url())

    page.get_by_role("link", name="Notice text").click()
    expect(page.get_by_role("heading", name="Consignee notice", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Preview for Bayside Bistro")).to_be_visible()
    page.get_by_label("Subject").fill("Recall {{ campaign.reference }}: stop selling at once")
    body = page.get_by_label("Text")
    body.fill(body.input_value() + "\nQuestions? Call our recall line, +1 209 555 0100.")
    page.get_by_role("button", name="Save the wording").click()

    expect(page.locator(".message-success")).to_have_text("The notice's wording is saved.")
    preview = page.locator(".notice-preview")
    expect(page.get_by_text(f"Recall {campaign.reference}: stop selling at once")).to_be_visible()
    expect(preview).to_contain_text("To: Bayside Bistro")
    expect(preview).to_contain_text("Questions? Call our recall line, +1 209 555 0100.")

    page.get_by_label("Text").fill("{% if %}")
    page.get_by_role("button", name="Save the wording").click()
    expect(page.locator(".field-error")).to_contain_text("The wording has a template error")


def test_a_manager_completes_and_terminates_with_a_justified_exception(page, demo, screenshot):
    campaign = open_campaign()
    login(page, "manager")
    page.goto(campaign.get_absolute_url())

    page.get_by_role("link", name="Complete…").click()
    expect(page.get_by_role("heading", name="Complete the campaign")).to_be_visible()
    expect(page.locator(".gaps li")).not_to_have_count(0)
    page.get_by_label("Statement").fill("Notices sent; stock on hand destroyed.")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Sign and complete").click()
    expect(page.locator(".field-error")).to_have_text(str(services.WRONG_PASSWORD))
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    screenshot("complete")
    page.get_by_role("button", name="Sign and complete").click()

    expect(page.locator(".message-success")).to_have_text(
        f"{campaign.reference} is completed; your signature is recorded."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("completed")

    page.get_by_role("link", name="Terminate…").click()
    page.get_by_label("Statement").fill("The recall is over.")
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign and terminate").click()
    expect(page.get_by_role("alert")).to_contain_text(str(services.TERMINATION_REFUSED))
    screenshot("refused")
    page.get_by_label("Justified exception").fill(
        "Agreed with the FDA district office: retailers sold out before the notice."
    )
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign and terminate").click()

    expect(page.locator(".message-success")).to_have_text(
        f"{campaign.reference} is terminated; your signature is recorded."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("terminated")
    # Completion, termination, and the exception signed on its own.
    signatures = page.locator(".signature")
    expect(signatures).to_have_count(3)
    expect(signatures.filter(has_text="Agreed with the FDA district office")).not_to_have_count(0)
    expect(page.get_by_role("link", name="Terminate…")).to_have_count(0)


def test_staff_resolve_a_line_on_its_page_and_cannot_rescope(page, demo, screenshot):
    campaign = open_campaign()
    line = campaign.affected_items.get(consignee__name="Bayside Bistro")
    login(page, "staff")
    page.goto(campaign.get_absolute_url())

    expect(page.get_by_role("link", name="Re-scope")).to_have_count(0)
    expect(page.get_by_role("link", name="Complete…")).to_have_count(0)
    expect(page.get_by_role("button", name="Send or record")).to_have_count(0)
    screenshot("campaign")
    page.get_by_role("link", name=f"details {line.label} (Bayside Bistro)").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"{line.label} at Bayside Bistro")
    expect(page.get_by_label("Quantity")).to_have_value("24")
    page.get_by_label("Outcome", exact=True).select_option(label="returned")
    page.get_by_label("Evidence").fill("RMA 7, 24 kits back in the cold store")
    page.get_by_role("button", name="Record", exact=True).click()

    expect(page.locator(".message-success")).to_contain_text(
        f"Resolved 1 line(s) as returned (24 each): {line.label}"
    )
    row = page.locator("table.data tbody tr").first
    expect(row).to_contain_text("returned")
    expect(row).to_contain_text("24 each")
    expect(row).to_contain_text("staff")
    left = page.locator(".facts > div").filter(has=page.get_by_text("Left to resolve"))
    expect(left.locator("dd")).to_have_text("0 each")
    expect(page.get_by_role("heading", name="Record a resolution")).to_have_count(0)


def test_staff_print_the_recall_report_and_download_its_pdf(page, demo, screenshot, tmp_path):
    campaign = open_campaign()
    login(page, "staff")
    page.goto(campaign.get_absolute_url())

    page.get_by_role("link", name="recall report", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(campaign.reference)
    expect(page.get_by_role("heading", name="Summary")).to_be_visible()
    page.emulate_media(media="print")
    screenshot("print")
    printed = tmp_path / "printed.pdf"
    page.pdf(path=printed, format="A4")
    assert printed.read_bytes().startswith(b"%PDF")
    page.emulate_media(media="screen")
    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".pdf"
    text = saved.read_bytes()
    assert text.startswith(b"%PDF") and len(text) > 5_000
