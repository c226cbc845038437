"""Signing in: lockout after repeated failures (django-axes), password rules, and the headers
every page carries (Content Security Policy and the rest)."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from traceability.settings import base

LOCKED_OUT = "Signing in is paused"


def sign_in(client, username, password, address="192.0.2.10"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.fixture
def user(manager):
    manager.set_password("a-Long-and-unusual-passphrase")
    manager.save()
    return manager


def test_a_right_password_signs_in(client, user):
    answer = sign_in(client, "manager", "a-Long-and-unusual-passphrase")
    assert answer.status_code == 302
    assert answer["Location"] == reverse("home")


def test_four_wrong_passwords_still_let_the_right_one_in(client, user):
    for _ in range(base.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "manager", "wrong").status_code == 200
    assert sign_in(client, "manager", "a-Long-and-unusual-passphrase").status_code == 302


def test_five_wrong_passwords_lock_the_account_out_even_for_the_right_one(client, user):
    for _ in range(base.AXES_FAILURE_LIMIT):
        sign_in(client, "manager", "wrong")

    answer = sign_in(client, "manager", "a-Long-and-unusual-passphrase")

    assert answer.status_code == 429
    assert LOCKED_OUT in answer.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lockout_holds_one_name_from_one_address_only(client, user, staff):
    for _ in range(base.AXES_FAILURE_LIMIT):
        sign_in(client, "manager", "wrong")
    # The same person from their usual desk, and a colleague from the attacker's address.
    assert (
        sign_in(client, "manager", "a-Long-and-unusual-passphrase", "198.51.100.7").status_code
        == 302
    )
    client.logout()
    staff.set_password("another-Long-passphrase")
    staff.save()
    assert sign_in(client, "staff", "another-Long-passphrase").status_code == 302


def test_signing_in_clears_the_count_of_failures(client, user):
    for _ in range(base.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "manager", "wrong")
    sign_in(client, "manager", "a-Long-and-unusual-passphrase")
    client.logout()
    for _ in range(base.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "manager", "wrong")
    assert sign_in(client, "manager", "a-Long-and-unusual-passphrase").status_code == 302


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("84629173550", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused(manager, password, problem):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user=manager)
    assert any(problem in message for message in refused.value.messages)


def test_a_password_like_the_user_name_is_refused(manager):
    manager.username = "wilhelmina.quality"
    with pytest.raises(ValidationError, match="too similar"):
        validate_password("wilhelmina.quality", user=manager)


def test_pages_carry_a_content_security_policy_without_inline_code(client, manager):
    client.force_login(manager)
    answer = client.get(reverse("home"))
    policy = dict(
        part.strip().split(" ", 1) for part in answer["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"  # no nonce on a page that does not use one
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in answer["Content-Security-Policy"]


def test_the_public_page_and_sign_in_carry_it_too(client):
    for url in (reverse("login"), reverse("verify")):
        assert "script-src 'self'" in client.get(url)["Content-Security-Policy"]


def test_pages_carry_the_other_security_headers(client, manager):
    client.force_login(manager)
    answer = client.get(reverse("home"))
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["Referrer-Policy"] == "same-origin"
    assert answer["Cross-Origin-Opener-Policy"] == "same-origin"


def test_no_template_holds_inline_scripts_styles_or_handlers():
    """The policy forbids them; this finds one before a browser test does."""
    import re

    from django.conf import settings

    # A <style> carrying the request's nonce is what the policy allows (printable documents).
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style(?![^>]*nonce)|\sstyle=\"|\son[a-z]+=\""
    )
    # The label sheet is drawn by WeasyPrint into a PDF, never served as a page.
    printed_only = {"inventory/serial_run_labels.html"}
    found = []
    for folder in settings.TEMPLATES[0]["DIRS"]:
        for path in folder.rglob("*.html"):
            name = path.relative_to(folder).as_posix()
            if name not in printed_only and inline.search(path.read_text()):
                found.append(name)
    assert not found, f"Inline script, style or handler in {found}"
