"""A non-conformance in a real browser on the demo: staff report it from a lot page, a manager
investigates and plans an action, its owner does it, the manager verifies and closes it."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from inventory.demo import DEMO_PASSWORD
from inventory.models import Lot
from recalls.models import CapaAction, NonConformance

from .conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_report_from_a_lot_page_to_its_signed_closure(page, demo, screenshot):
    lot = Lot.objects.get(supplier_lot_code="KY21700-2411-A07")
    login(page, "staff")

    page.goto(reverse("lot_detail", args=[lot.pk]))
    page.get_by_role("link", name="Report a non-conformance").click()
    expect(page.get_by_label("Lots and serial units")).to_have_value(str(lot))
    page.get_by_label("Title").fill("Dented cell cans")
    page.get_by_label("Defect").fill("12 cells with dented cans found at kitting.")
    page.get_by_label("Severity").select_option("minor")
    page.get_by_label("Source").select_option("in_process")
    screenshot("new")
    page.get_by_role("button", name="Report it").click()

    nc = NonConformance.objects.get(title="Dented cell cans")
    expect(page.locator(".message-success")).to_have_text(
        f"{nc.reference} is reported; plan its investigation below."
    )
    expect(page.locator("section[aria-labelledby=origins-h]")).to_contain_text("Kaiyuan Power Cell")

    page.get_by_role("button", name="Sign out").click()
    login(page, "manager")
    page.goto(nc.get_absolute_url())
    page.get_by_role("button", name="Move to: investigating").click()
    page.locator("#update-root_cause").fill("Cartons stacked seven high in transit.")
    page.locator("#update-root_cause_category").select_option("method")
    page.get_by_role("button", name="Save the investigation").click()
    page.get_by_text("Add an action").click()
    page.locator("#add_action-description").fill("Limit carton stacking to four in the SOP.")
    page.locator("#add_action-owner").select_option(label="Daniel Reyes")
    page.locator("#add_action-due_on").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Add the action").click()
    expect(page.locator(".message-success")).to_have_text(f"Action {nc.reference}/1 is added.")
    page.get_by_role("button", name="Move to: actions (CAPA)").click()
    screenshot("planned")

    page.get_by_role("button", name="Sign out").click()
    login(page, "staff")
    page.goto(reverse("quality:action_list") + "?mine=true&status=open")
    page.get_by_role("link", name=f"{nc.reference}/1").click()
    page.get_by_text("Record as done").first.click()
    page.get_by_label("What was done").fill("SOP-WH-12 rev. B released.")
    page.get_by_role("button", name="Record as done").click()
    expect(page.locator(".message-success")).to_have_text(
        f"Action {nc.reference}/1 is recorded as done."
    )

    page.get_by_role("button", name="Sign out").click()
    login(page, "manager")
    page.goto(nc.get_absolute_url())
    page.get_by_role("button", name="Move to: effectiveness check").click()
    page.get_by_text("Verify effectiveness").click()
    page.get_by_label("yes, it worked").check()
    page.get_by_label("Evidence").fill("No dented cells in the next four receipts.")
    page.get_by_role("button", name="Record the check").click()
    page.get_by_label("Closing statement").fill("Stacking limit effective.")
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Close and sign").click()

    expect(page.locator(".message-success")).to_have_text(
        f"{nc.reference} is closed; your signature is recorded."
    )
    expect(page.locator(".nc-steps [aria-current=step]")).to_have_text("Closed")
    nc.refresh_from_db()
    assert nc.closed_by_name == "Maria Okafor"
    assert nc.actions.get().status == CapaAction.Status.VERIFIED
