"""A real Chromium, driven by Playwright, against pytest-django's live server."""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from inventory.demo import DEMO_PASSWORD

# Playwright's sync API keeps an asyncio loop in the test thread, so Django would refuse ORM
# calls from the tests (seeding, look-ups) as if they came from async code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_MISSING = (
    f"The end-to-end tests drive Debian's Chromium at {CHROMIUM}, which is not installed. "
    "Install it with: apt-get install -y chromium fonts-dejavu-core"
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def screenshot_path(request, suffix: str = "") -> Path:
    name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    return SCREENSHOTS / f"{name}{suffix}.png"


@pytest.fixture
def page(browser, live_server, request):
    """A fresh browser tab on the live server; its last view is saved as a screenshot."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshot_path(request), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshot(page, request):
    """Save the page as it is now, for a step before the test's last one."""

    def take(step: str):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=screenshot_path(request, f"--{step}"), full_page=True)

    return take


@pytest.fixture
def demo(live_server):
    """The demo data set, loaded afresh: each transactional test empties the database after it."""
    call_command("seed_demo", stdout=StringIO())


def login(page, username: str, password: str = DEMO_PASSWORD):
    """Sign in through the sign-in form and wait for the page it leads to."""
    page.goto(reverse("login"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
