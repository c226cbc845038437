"""A real Chromium, driven by Playwright, against pytest-django's live server."""

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from inventory.demo import DEMO_PASSWORD

from ..conftest import _roles as roles

# Between calls, Playwright's sync API marks its asyncio loop as running in the test thread, so
# Django would take the tests' own ORM calls (loading data, look-ups) for calls from async code.
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
        # While Playwright runs, Django sees a running event loop and keeps a second set of
        # connections for it; close them, or PostgreSQL refuses to drop the test database.
        connections.close_all()


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
    # What the Content Security Policy blocks (an inline script or style) shows as a console error.
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=screenshot_path(request), full_page=True)
    context.close()
    assert not errors, f"JavaScript or Content Security Policy errors on the page: {errors}"


@pytest.fixture
def screenshot(page, request):
    """Save the page as it is now, for a step before the test's last one."""

    def take(step: str):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=screenshot_path(request, f"--{step}"), full_page=True)

    return take


@pytest.fixture(scope="session")
def demo_fixture_file(django_db_setup, django_db_blocker, tmp_path_factory):
    """Run seed_demo once and keep what it wrote as a fixture file, then roll it back.

    Seeding takes seconds (more on PostgreSQL); loading the file takes about one. Users, roles
    and permissions are written by natural key, so the file loads after any flush: the roles
    come from a data migration that a flush wipes, content types and permissions come back
    with new keys after it.
    """
    path = tmp_path_factory.mktemp("demo") / "demo.json"
    with django_db_blocker.unblock(), transaction.atomic():
        roles()  # a transactional test that ran before (PostgreSQL-only ones do) wiped them
        call_command("seed_demo", stdout=StringIO())
        call_command(
            "dumpdata",
            "--all",
            "--natural-foreign",
            "--natural-primary",
            "--exclude=contenttypes",
            "--exclude=auth.permission",
            "--exclude=sessions",
            f"--output={path}",
            verbosity=0,
        )
        transaction.set_rollback(True)
    return path


@pytest.fixture
def demo(demo_fixture_file, transactional_db):
    """The demo data set, loaded afresh: each transactional test empties the database after it."""
    call_command("loaddata", demo_fixture_file, verbosity=0)


def login(page, username: str, password: str = DEMO_PASSWORD):
    """Sign in through the sign-in form and wait for the page it leads to."""
    page.goto(reverse("login"))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(re.escape(reverse("login"))))
