"""Quality control in a browser: staff enter the missing test of a quarantined lot, a manager
reads the evidence and signs its release."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from inventory.demo import DEMO_PASSWORD
from inventory.models import Lot, ReleaseDecision

from .conftest import SCREENSHOTS, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_staff_enter_the_missing_test_and_a_manager_signs_the_release(
    page, browser, live_server, demo, screenshot
):
    lot = Lot.objects.get(code="GR-0467")
    login(page, "staff")
    page.goto(reverse("lot_detail", args=[lot.pk]))
    card = page.locator("#quality")
    expect(card).to_contain_text("Required tests missing or failed: Listeria monocytogenes.")
    card.get_by_role("link", name="Enter results").click()
    page.get_by_label("Listeria monocytogenes").fill("not detected in 25 g")
    page.get_by_label("Laboratory").fill("Greenvale microbiology lab")
    screenshot("results")
    page.get_by_role("button", name="Record the results").click()
    expect(page.locator(".messages")).to_contain_text("1 passed, 0 failed")
    expect(page.locator("#quality")).to_contain_text("Every required test has passed")

    manager = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    signing = manager.new_page()
    login(signing, "manager")
    signing.goto(reverse("lot_release_sign", args=[lot.pk]))
    expect(signing.locator("main")).to_contain_text("Nothing stands in the way of its release.")
    signing.get_by_label("Statement").fill("All four tests meet specification v2.")
    signing.get_by_label("Your password").fill("not my password")
    signing.get_by_role("button", name="Sign and release").click()
    expect(signing.locator(".field-error")).to_contain_text("The password is not correct")
    signing.get_by_label("Your password").fill(DEMO_PASSWORD)
    signing.get_by_role("button", name="Sign and release").click()

    expect(signing.locator(".messages")).to_contain_text("is released, signed by Maria Okafor")
    expect(signing.locator("#quality")).to_contain_text("All four tests meet specification v2.")
    signing.screenshot(path=SCREENSHOTS / "release-signed-by-the-manager.png", full_page=True)
    manager.close()
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED
    assert ReleaseDecision.objects.get(lot=lot).signer_name == "Maria Okafor"
