"""What a person sees in a real browser: signing in, the dashboard, roles, and the admin."""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse
from playwright.sync_api import expect

from inventory.demo import DEMO_PASSWORD
from inventory.models import Lot, TraceEvent
from traceability.roles import NO_ROLE_MESSAGE

from .conftest import login

# The live server's thread sees only committed data, hence transactional tests.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WRONG_PASSWORD = AuthenticationForm.error_messages["invalid_login"] % {"username": "username"}
REASON = "Customer complaint CC-118: foreign body found in one quiche."
GS1_TRANSFORMATION = Path("/work/shared/epcis/examples/Example_9.6.4-TransformationEvent.jsonld")


def tile(page, label: str):
    return page.locator(".tile").filter(
        has=page.locator(".label", has_text=re.compile(f"^{re.escape(label)}$"))
    )


@pytest.mark.parametrize(
    ("username", "name", "roles"),
    [
        pytest.param("manager", "Maria Okafor", "Quality managers", id="manager"),
        pytest.param("staff", "Daniel Reyes", "Quality staff", id="staff"),
        # The demo administrator is a superuser in Administrators; the header names that role.
        pytest.param("admin", "Priya Natarajan", "Administrators", id="admin"),
    ],
)
def test_signing_in_lands_on_the_dashboard_with_the_demo_figures(page, demo, username, name, roles):
    login(page, username)

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator(".who")).to_have_text(f"{name} {roles}")
    expect(tile(page, "lots on hold").locator(".figure")).to_have_text("1")
    expect(tile(page, "lots quarantined").locator(".figure")).to_have_text("3")
    expect(tile(page, "lots recalled").locator(".figure")).to_have_text("0")
    held = Lot.objects.get(status=Lot.Status.ON_HOLD)
    expect(page.get_by_role("row").filter(has_text=held.code)).to_contain_text(
        held.get_status_display()
    )


def test_a_wrong_password_shows_an_error_and_stays_on_the_sign_in_page(page, demo):
    page.goto(reverse("login"))
    page.get_by_label("User name").fill("manager")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(WRONG_PASSWORD)
    expect(page).to_have_url(re.compile(re.escape(reverse("login")) + "$"))
    expect(page.get_by_label("User name")).to_have_value("manager")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_user_without_a_role_is_told_so_and_refused(page, live_server):
    get_user_model().objects.create_user("newcomer", password="a long enough password")

    with page.expect_response(f"{live_server.url}/") as home:
        login(page, "newcomer", "a long enough password")

    assert home.value.status == 403
    expect(page.get_by_role("heading", name="You have no role yet")).to_be_visible()
    expect(page.get_by_text(str(NO_ROLE_MESSAGE))).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_the_admin_lists_the_lots_and_shows_a_lots_timeline_and_genealogy(page, demo, screenshot):
    held = Lot.objects.select_related("product").get(status=Lot.Status.ON_HOLD)
    login(page, "admin")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Lots", exact=True).click()

    expect(page.get_by_role("heading", name="Select lot to change")).to_be_visible()
    expect(page.locator(".paginator")).to_contain_text(f"{Lot.objects.count()} lots")
    expect(page.get_by_role("row").filter(has_text=held.code)).to_contain_text(held.product.name)
    screenshot("lots")
    page.get_by_role("link", name=held.code, exact=True).click()

    expect(page.get_by_role("heading", name=held.code)).to_be_visible()
    timeline = page.locator(".field-event_timeline")
    expect(timeline.get_by_role("row").filter(has_text="transform")).to_contain_text(
        f"{held.quantity.normalize():f} {held.get_unit_display()}"
    )
    expect(timeline.get_by_role("row").filter(has_text="status change")).to_have_count(1)
    made_from = page.locator(".field-made_from")
    expect(made_from.get_by_role("link", name=re.compile(r"^WIP-DOUGH lot "))).to_be_visible()
    expect(made_from.get_by_role("link", name=re.compile(r"^WIP-FILL-SPF lot "))).to_be_visible()
    expect(page.locator(".field-went_into")).to_contain_text("None recorded.")


def test_quarantining_a_lot_in_the_admin_asks_why_and_records_the_change(page, demo, screenshot):
    lot = (
        Lot.objects.filter(status=Lot.Status.RELEASED, product__sku="FG-QUICHE-LOR")
        .order_by("-produced_on")
        .first()
    )
    login(page, "admin")
    page.goto(reverse("admin:inventory_lot_changelist"))

    page.get_by_role("row").filter(has_text=lot.code).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Set to quarantined…")
    page.get_by_role("button", name="Go").click()

    expect(page.get_by_role("heading", name="Set to quarantined")).to_be_visible()
    expect(page.locator("#content")).to_contain_text(lot.code)
    screenshot("reason")
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="Change status").click()

    expect(page.locator(".messagelist")).to_have_text("1 set to quarantined.")
    expect(page.get_by_role("row").filter(has_text=lot.code)).to_contain_text("quarantined")
    screenshot("done")
    page.get_by_role("link", name=lot.code, exact=True).click()
    expect(page.locator(".field-status .readonly")).to_have_text(str(Lot.Status.QUARANTINED.label))
    history = page.locator(".field-status_history").get_by_role("row").last
    expect(history).to_contain_text("released → quarantined")
    expect(history).to_contain_text(REASON)
    expect(history).to_contain_text("admin")


def test_the_sign_in_form_works_with_the_keyboard_alone(page, demo, screenshot):
    page.goto(reverse("login"))

    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("manager")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    screenshot("button-focused")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator(".who")).to_contain_text("Maria Okafor")


def test_a_manager_uploads_an_epcis_document_and_sees_what_was_imported(page, demo, screenshot):
    events_before = TraceEvent.objects.count()
    login(page, "manager")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import EPCIS").click()
    expect(page.get_by_role("heading", name="Import EPCIS", level=1)).to_be_visible()
    page.get_by_label("EPCIS document").set_input_files(GS1_TRANSFORMATION)
    screenshot("chosen")
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("heading", name=f"Imported {GS1_TRANSFORMATION.name}")).to_be_visible()
    expect(tile(page, "event imported").locator(".figure")).to_have_text("1")
    expect(tile(page, "duplicates skipped").locator(".figure")).to_have_text("0")
    expect(page.get_by_role("heading", name="Awaiting review")).to_be_visible()
    assert TraceEvent.objects.count() == events_before + 1
