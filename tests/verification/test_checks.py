"""Each public check is logged, rate-limited per client, and raises counterfeit flags."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from inventory import services
from inventory.models import CounterfeitFlag, VerificationCheck

from .conftest import DRILL_GTIN


def check(client, serial, address="198.51.100.7", gtin=DRILL_GTIN, **extra):
    return client.get(f"/01/{gtin}/21/{serial}", REMOTE_ADDR=address, **extra)


# --- The log ---


def test_a_check_is_logged_with_what_was_asked_and_answered(client, shipped_unit):
    check(client, "D0002", HTTP_USER_AGENT="Phone/1.0")
    logged = VerificationCheck.objects.get()
    assert (logged.gtin, logged.serial, logged.result, logged.via) == (
        DRILL_GTIN,
        "D0002",
        VerificationCheck.Result.GENUINE,
        VerificationCheck.Via.LINK,
    )
    assert (logged.product, logged.serial_unit, logged.user_agent) == (
        shipped_unit.product,
        shipped_unit,
        "Phone/1.0",
    )


def test_the_client_is_logged_as_a_keyed_hash_not_its_address(client, shipped_unit):
    check(client, "D0002", address="198.51.100.7")
    logged = VerificationCheck.objects.get()
    assert logged.client_hash == services.client_hash("198.51.100.7")
    assert len(logged.client_hash) == 64
    assert "198.51.100.7" not in logged.client_hash


def test_the_hash_depends_on_the_secret_key(db):
    first = services.client_hash("198.51.100.7")
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-only-0123456789"):
        assert services.client_hash("198.51.100.7") != first


def test_a_long_user_agent_is_cut_to_300_characters(client, shipped_unit):
    check(client, "D0002", HTTP_USER_AGENT="x" * 1000)
    assert VerificationCheck.objects.get().user_agent == "x" * 300


def test_a_forwarded_address_is_ignored_without_a_trusted_proxy(client, shipped_unit):
    check(client, "D0002", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert VerificationCheck.objects.get().client_hash == services.client_hash("10.0.0.2")


@override_settings(VERIFY_TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_the_client_is_the_address_it_forwarded(client, shipped_unit):
    check(client, "D0002", address="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    assert VerificationCheck.objects.get().client_hash == services.client_hash("203.0.113.9")


# --- The rate limit ---
# Rates per day in these tests: a window that long is never crossed between two requests.


@override_settings(VERIFY_RATE="2/d")
def test_a_client_over_the_rate_gets_a_friendly_429_and_no_check(client, shipped_unit):
    for _ in range(2):
        assert check(client, "D0002").status_code == 200
    response = check(client, "D0002")
    assert response.status_code == 429
    assert "Too many checks from your connection" in response.text
    assert response["Retry-After"] == "60"
    assert VerificationCheck.objects.count() == 2


@override_settings(VERIFY_RATE="2/d")
def test_the_rate_is_counted_per_client(client, shipped_unit):
    check(client, "D0002", address="198.51.100.1")
    check(client, "D0002", address="198.51.100.1")
    assert check(client, "D0002", address="198.51.100.2").status_code == 200


@override_settings(VERIFY_RATE="1/d")
def test_the_form_shares_the_links_rate(client, shipped_unit):
    check(client, "D0002")
    response = client.get(
        "/verify/", {"gtin": DRILL_GTIN, "serial": "D0002"}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 429


# --- Flags for what a check finds ---


@pytest.mark.parametrize(
    ("fixture", "serial", "reason"),
    [
        ("drill_product", "NOPE1", CounterfeitFlag.Reason.UNKNOWN_SERIAL),
        ("in_stock_unit", "D0001", CounterfeitFlag.Reason.NEVER_SHIPPED),
        ("scrapped_unit", "D0003", CounterfeitFlag.Reason.SCRAPPED),
    ],
)
def test_a_suspicious_serial_raises_a_flag_for_its_reason(client, request, fixture, serial, reason):
    request.getfixturevalue(fixture)
    check(client, serial)
    flag = CounterfeitFlag.objects.get()
    assert (flag.reason, flag.serial, flag.status, flag.checks) == (reason, serial, "open", 1)


def test_an_unknown_serials_flag_names_the_product_but_no_unit(client, drill_product):
    check(client, "NOPE1")
    flag = CounterfeitFlag.objects.get()
    assert (flag.product, flag.serial_unit) == (drill_product, None)


def test_a_genuine_shipped_unit_raises_no_flag(client, shipped_unit):
    check(client, "D0002")
    assert not CounterfeitFlag.objects.exists()


def test_a_unit_installed_in_an_assembly_counts_as_out_in_the_world(client, in_stock_unit):
    in_stock_unit.__class__.objects.filter(pk=in_stock_unit.pk).update(
        status="installed", holder_site=None
    )
    check(client, "D0001")
    assert not CounterfeitFlag.objects.exists()


def test_repeat_checks_count_against_the_one_open_flag(client, drill_product):
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.1"):
        check(client, "NOPE1", address=address)
    flag = CounterfeitFlag.objects.get()
    assert flag.checks == 3
    assert flag.last_checked_at == VerificationCheck.objects.latest("checked_at").checked_at


def test_after_a_review_a_new_check_raises_a_new_flag(client, drill_product, manager):
    check(client, "NOPE1")
    services.counterfeit_flag_review(
        flag=CounterfeitFlag.objects.get(), status="dismissed", note="Typo", acting_user=manager
    )
    check(client, "NOPE1")
    assert CounterfeitFlag.objects.filter(status="open").count() == 1
    assert CounterfeitFlag.objects.count() == 2


def test_an_unknown_gtin_or_garbage_raises_no_flag(client, db):
    check(client, "X1", gtin="4006381333931")
    check(client, "X1", gtin="123")
    assert not CounterfeitFlag.objects.exists()


# --- Flags for one serial checked from many clients ---


@override_settings(VERIFY_FLAG_CLIENTS=3)
def test_one_serial_checked_from_many_clients_raises_a_flag(client, shipped_unit):
    for n in range(3):
        check(client, "D0002", address=f"198.51.100.{n}")
    flag = CounterfeitFlag.objects.get()
    assert (flag.reason, flag.clients, flag.serial_unit) == ("many_clients", 3, shipped_unit)


@override_settings(VERIFY_FLAG_CLIENTS=3)
def test_fewer_clients_than_the_threshold_raise_no_flag(client, shipped_unit):
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.2", "198.51.100.1"):
        check(client, "D0002", address=address)
    assert not CounterfeitFlag.objects.exists()


@override_settings(VERIFY_FLAG_CLIENTS=3, VERIFY_FLAG_WINDOW_SECONDS=3600)
def test_checks_older_than_the_window_do_not_count(client, shipped_unit):
    long_ago = timezone.now() - timedelta(hours=2)
    for n in range(2):
        VerificationCheck.objects.create(
            checked_at=long_ago,
            gtin=DRILL_GTIN,
            serial="D0002",
            result="genuine",
            via="link",
            client_hash=services.client_hash(f"203.0.113.{n}"),
        )
    check(client, "D0002")
    assert not CounterfeitFlag.objects.exists()


@override_settings(VERIFY_FLAG_CLIENTS=3)
def test_more_clients_raise_the_open_flags_client_count(client, shipped_unit):
    for n in range(5):
        check(client, "D0002", address=f"198.51.100.{n}")
    flag = CounterfeitFlag.objects.get()
    assert (flag.clients, flag.checks) == (5, 3)


# --- Reviewing a flag ---


@pytest.fixture
def flag(client, drill_product):
    check(client, "NOPE1")
    return CounterfeitFlag.objects.get()


def test_a_manager_confirms_a_flag_with_a_note(flag, manager):
    reviewed = services.counterfeit_flag_review(
        flag=flag, status="confirmed", note="Clone found at a market stall", acting_user=manager
    )
    assert (reviewed.status, reviewed.reviewed_by, reviewed.review_note) == (
        "confirmed",
        manager,
        "Clone found at a market stall",
    )
    assert reviewed.reviewed_at is not None


def test_a_review_without_a_note_is_refused(flag, manager):
    with pytest.raises(ValidationError) as caught:
        services.counterfeit_flag_review(
            flag=flag, status="dismissed", note="  ", acting_user=manager
        )
    assert caught.value.message_dict == {"note": [str(services.FLAG_NOTE_REQUIRED)]}
    flag.refresh_from_db()
    assert flag.status == "open"


def test_a_flag_is_reviewed_only_once(flag, manager):
    services.counterfeit_flag_review(
        flag=flag, status="dismissed", note="Typo", acting_user=manager
    )
    with pytest.raises(ValidationError) as caught:
        services.counterfeit_flag_review(
            flag=flag, status="confirmed", note="x", acting_user=manager
        )
    assert caught.value.messages == [services.FLAG_NOT_OPEN % {"status": "dismissed"}]


def test_a_review_must_dismiss_or_confirm(flag, manager):
    with pytest.raises(ValidationError) as caught:
        services.counterfeit_flag_review(flag=flag, status="open", note="x", acting_user=manager)
    assert caught.value.message_dict == {"status": [str(services.FLAG_UNKNOWN_DECISION)]}
