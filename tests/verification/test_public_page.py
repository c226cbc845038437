"""The public verification page: what a consumer sees, with no login, for each kind of code."""

from datetime import date

import pytest
from django.utils.html import escape

from inventory.models import CounterfeitFlag, SerialUnit, VerificationCheck
from traceability.verification import GTIN_MISSING, NOTHING_GIVEN, PRODUCT_ONLY, SERIAL_MISSING

from ..inventory.factories import SerialUnitFactory
from .conftest import DRILL_GTIN

UNCONFIRMED = "could not be confirmed as genuine"


def link(serial, gtin=DRILL_GTIN):
    return f"/01/{gtin}/21/{serial}"


def test_a_scanned_genuine_unit_is_confirmed_with_its_product(client, shipped_unit):
    response = client.get(link("D0002"))
    assert response.status_code == 200
    assert "Genuine product" in response.text
    assert "Cordless Drill X2" in response.text


def test_the_answer_gives_the_production_month(client, shipped_unit):
    response = client.get(link("D0002"))
    assert "<dt>Made in</dt><dd>March 2026</dd>" in response.text


def test_a_unit_without_a_production_date_gives_its_lots_month(client, shipped_unit):
    SerialUnit.objects.filter(pk=shipped_unit.pk).update(produced_on=None)
    shipped_unit.lot.__class__.objects.filter(pk=shipped_unit.lot_id).update(
        produced_on=date(2026, 2, 27)
    )
    response = client.get(link("D0002"))
    assert "<dt>Made in</dt><dd>February 2026</dd>" in response.text


def test_a_unit_in_warranty_says_until_when(client, shipped_unit):
    response = client.get(link("D0002"))
    assert "Under warranty until 2 April 2028" in response.text


def test_a_unit_past_its_warranty_says_when_it_expired(client, shipped_unit):
    SerialUnit.objects.filter(pk=shipped_unit.pk).update(
        warranty_ends_on=date(2026, 1, 31), warranty_overridden=True
    )
    response = client.get(link("D0002"))
    assert "Warranty expired on 31 January 2026" in response.text


def test_a_unit_whose_warranty_has_not_started_says_it_starts_when_sold(client, shipped_unit):
    SerialUnit.objects.filter(pk=shipped_unit.pk).update(warranty_ends_on=None)
    response = client.get(link("D0002"))
    assert "Starts when it is sold" in response.text


def test_the_long_digital_link_with_lot_and_a_query_is_read(client, shipped_unit):
    response = client.get(f"/01/{DRILL_GTIN}/10/PL-0303/21/D0002?17=281231")
    assert "Genuine product" in response.text


def test_a_gtin_13_in_the_link_is_read_as_its_gtin_14(client, shipped_unit):
    response = client.get(link("D0002", gtin=DRILL_GTIN[1:]))
    assert "Genuine product" in response.text
    assert VerificationCheck.objects.get().gtin == DRILL_GTIN


def test_a_percent_encoded_serial_is_decoded(client, shipped_unit):
    SerialUnit.objects.filter(pk=shipped_unit.pk).update(serial="D/0002 A")
    response = client.get(link("D%2F0002%20A"))
    assert "Genuine product" in response.text


def test_the_form_checks_a_typed_gtin_and_serial(client, shipped_unit):
    response = client.get("/verify/", {"gtin": DRILL_GTIN, "serial": "D0002"})
    assert "Genuine product" in response.text
    assert VerificationCheck.objects.get().via == VerificationCheck.Via.FORM


def test_the_form_reads_a_pasted_digital_link_on_any_host(client, shipped_unit):
    code = f"https://id.gs1.org/01/{DRILL_GTIN}/10/PL-0303/21/D0002"
    response = client.get("/verify/", {"code": code})
    assert "Genuine product" in response.text


def test_the_form_reads_a_gs1_element_string(client, shipped_unit):
    response = client.get("/verify/", {"code": f"(01){DRILL_GTIN}(21)D0002"})
    assert "Genuine product" in response.text


def test_the_empty_form_asks_for_a_code_and_logs_nothing(client, db):
    response = client.get("/verify/")
    assert response.status_code == 200
    assert "Is my product genuine?" in response.text
    assert not VerificationCheck.objects.exists()


def test_an_unknown_serial_of_our_gtin_is_not_confirmed(client, drill_product):
    response = client.get(link("FAKE123"))
    assert UNCONFIRMED in response.text
    assert "Genuine product" not in response.text


def test_a_never_shipped_unit_is_not_confirmed(client, in_stock_unit):
    response = client.get(link("D0001"))
    assert UNCONFIRMED in response.text


def test_a_scrapped_unit_is_not_confirmed(client, scrapped_unit):
    response = client.get(link("D0003"))
    assert UNCONFIRMED in response.text


def _verdict(response, serial):
    text = response.text.replace(serial, "SERIAL")
    return text[text.index('<section class="card verdict') : text.index('id="form-heading"')]


def test_unknown_never_shipped_and_scrapped_serials_get_the_same_answer(
    client, in_stock_unit, scrapped_unit
):
    """A counterfeiter probing serials cannot tell which exist, or why one failed."""
    unknown = _verdict(client.get(link("D9999")), "D9999")
    assert _verdict(client.get(link("D0001")), "D0001") == unknown
    assert _verdict(client.get(link("D0003")), "D0003") == unknown


def test_a_gtin_we_do_not_make_is_said_to_be_not_ours(client, db):
    response = client.get(link("X1", gtin="4006381333931"))
    assert "Not one of our products" in response.text
    assert VerificationCheck.objects.get().result == VerificationCheck.Result.UNKNOWN_PRODUCT
    assert not CounterfeitFlag.objects.exists()


def test_a_serial_confirmed_as_counterfeit_is_no_longer_confirmed(client, shipped_unit, manager):
    CounterfeitFlag.objects.create(
        product=shipped_unit.product,
        serial="D0002",
        serial_unit=shipped_unit,
        reason="many_clients",
    )
    CounterfeitFlag.objects.filter(serial="D0002").update(
        status="confirmed", reviewed_at=shipped_unit.created_at, review_note="Clone seen"
    )
    response = client.get(link("D0002"))
    assert UNCONFIRMED in response.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (link("X1", gtin="09501101530004"), "GTIN 09501101530004 has a wrong check digit"),
        (link("X1", gtin="95011ABC"), "GTIN 95011ABC must contain only digits."),
        (f"/01/{DRILL_GTIN}", str(PRODUCT_ONLY)),
        (f"/01/{DRILL_GTIN}/", str(PRODUCT_ONLY)),
        ("/01/", "must contain only digits"),
    ],
)
def test_a_bad_link_gets_a_clear_page_not_an_error(client, db, path, message):
    response = client.get(path)
    assert response.status_code == 200
    assert "We could not read this code" in response.text
    assert escape(message) in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gtin": "", "serial": ""}, str(NOTHING_GIVEN)),
        ({"serial": "D0002"}, str(GTIN_MISSING)),
        ({"gtin": DRILL_GTIN}, str(SERIAL_MISSING)),
        ({"code": "(01)123"}, "is not a valid GS1 code"),
        ({"code": "hello there world"}, "is not an identifier"),
        ({"code": "https://example.com/nothing/here"}, "is not a product code we can read"),
        ({"code": "x" * 600}, "too long"),
    ],
)
def test_bad_form_input_gets_a_clear_message(client, db, params, message):
    response = client.get("/verify/", {"code": "", **params})
    assert response.status_code == 200
    assert escape(message) in response.text


def test_a_garbage_check_is_logged_as_invalid(client, db):
    client.get(link("X1", gtin="09501101530004"))
    check = VerificationCheck.objects.get()
    assert (check.result, check.gtin, check.serial) == ("invalid", "09501101530004", "X1")


def test_the_public_page_has_no_navigation_search_or_staff_links(client, shipped_unit):
    text = client.get(link("D0002")).text
    for staff_only in ("mainnav", "header-search", "Sign out", "/admin/", "/serials/", "/lots/"):
        assert staff_only not in text


def test_a_signed_in_user_without_a_role_may_still_check(client, no_role_user, shipped_unit):
    client.force_login(no_role_user)
    response = client.get(link("D0002"))
    assert response.status_code == 200
    assert "Genuine product" in response.text


def test_only_get_is_answered(client, db):
    assert client.post(link("D0002")).status_code == 405


def test_a_serial_longer_than_the_log_keeps_is_truncated_not_refused(client, drill_product):
    response = client.get(link("A" * 90))
    assert response.status_code == 200
    assert VerificationCheck.objects.get().serial == "A" * 64


def test_a_unit_of_another_product_with_the_same_serial_is_not_confirmed(client, shipped_unit):
    SerialUnitFactory(serial="OTHER1")
    response = client.get(link("OTHER1"))
    assert UNCONFIRMED in response.text
