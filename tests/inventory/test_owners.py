"""End owners of serial units: registered after sale, transferred, contact only with consent."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from inventory import services
from inventory.models import UnitOwnership
from inventory.services import (
    OWNER_ALREADY,
    OWNER_CONTACT_NEEDS_CONSENT,
    OWNER_DATE_BEFORE_SHIPMENT,
    OWNER_DATE_FUTURE,
    OWNER_NO_CONSENT_TO_WITHDRAW,
    OWNER_NONE_TO_TRANSFER,
    OWNER_NOT_SOLD,
    OWNER_TRANSFER_BEFORE_START,
)

from .factories import PartyFactory, SerialUnitFactory

pytestmark = pytest.mark.django_db

SHIPPED = date(2026, 2, 1)


@pytest.fixture
def sold(db):
    return SerialUnitFactory(
        serial="S-1",
        status="shipped",
        holder_site=None,
        holder_party=PartyFactory(name="Voltmart"),
        shipped_on=SHIPPED,
    )


def register(unit, user, **fields):
    fields = {"owner_name": "Ada Byron", "started_on": date(2026, 3, 1), **fields}
    return services.unit_owner_register(serial_unit=unit, acting_user=user, **fields)


def test_registering_the_owner_of_a_sold_unit_keeps_name_date_and_who_registered(sold, staff):
    ownership = register(sold, staff)

    assert (ownership.owner_name, ownership.started_on, ownership.ended_on) == (
        "Ada Byron",
        date(2026, 3, 1),
        None,
    )
    assert ownership.registered_by == staff
    assert (ownership.consent, ownership.email, ownership.phone) == (False, "", "")


def test_contact_details_are_kept_with_consent_and_its_time(sold, staff):
    ownership = register(sold, staff, consent=True, email="ada@example.org", phone="+44 1")

    assert (ownership.email, ownership.phone) == ("ada@example.org", "+44 1")
    assert ownership.consent_at is not None


def test_contact_details_without_consent_are_refused_and_nothing_is_written(sold, staff):
    with pytest.raises(ValidationError) as error:
        register(sold, staff, email="ada@example.org")

    assert error.value.messages == [OWNER_CONTACT_NEEDS_CONSENT]
    assert not UnitOwnership.objects.exists()


def test_the_database_refuses_contact_details_without_consent(sold, staff):
    ownership = register(sold, staff)
    ownership.email = "ada@example.org"

    with pytest.raises(ValidationError) as error:
        ownership.full_clean()

    assert "Contact details are kept only when the owner agrees to be contacted." in str(
        error.value
    )


def test_a_unit_still_in_our_stock_has_no_owner_to_register(staff):
    unit = SerialUnitFactory(serial="S-2")

    with pytest.raises(ValidationError) as error:
        register(unit, staff)

    assert error.value.messages == [OWNER_NOT_SOLD % {"unit": unit}]


def test_a_second_owner_is_refused_and_transfer_is_suggested(sold, staff):
    register(sold, staff)

    with pytest.raises(ValidationError) as error:
        register(sold, staff, owner_name="Charles Babbage")

    assert error.value.messages == [
        OWNER_ALREADY % {"unit": sold, "owner": "Ada Byron", "since": "2026-03-01"}
    ]


def test_ownership_cannot_start_before_the_first_shipment_or_after_today(sold, staff):
    with pytest.raises(ValidationError) as before:
        register(sold, staff, started_on=SHIPPED - timedelta(days=1))
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as after:
        register(sold, staff, started_on=tomorrow)

    assert before.value.messages == [
        OWNER_DATE_BEFORE_SHIPMENT % {"unit": sold, "shipped": "2026-02-01"}
    ]
    assert after.value.messages == [OWNER_DATE_FUTURE % {"today": timezone.localdate().isoformat()}]


def test_transfer_ends_the_current_ownership_the_day_the_next_begins(sold, staff):
    first = register(sold, staff)

    second = services.unit_owner_transfer(
        serial_unit=sold,
        owner_name="Charles Babbage",
        transferred_on=date(2026, 6, 1),
        acting_user=staff,
    )

    first.refresh_from_db()
    assert first.ended_on == date(2026, 6, 1)
    assert (second.owner_name, second.started_on, second.ended_on) == (
        "Charles Babbage",
        date(2026, 6, 1),
        None,
    )
    assert first.history.latest().history_change_reason == "Transferred to Charles Babbage"


def test_transfer_needs_a_current_owner(sold, staff):
    with pytest.raises(ValidationError) as error:
        services.unit_owner_transfer(
            serial_unit=sold, owner_name="X", transferred_on=date(2026, 6, 1), acting_user=staff
        )

    assert error.value.messages == [OWNER_NONE_TO_TRANSFER % {"unit": sold}]


def test_transfer_dated_before_the_current_ownership_is_refused_and_nothing_changes(sold, staff):
    first = register(sold, staff)

    with pytest.raises(ValidationError) as error:
        services.unit_owner_transfer(
            serial_unit=sold, owner_name="X", transferred_on=date(2026, 2, 15), acting_user=staff
        )

    assert error.value.messages == [
        OWNER_TRANSFER_BEFORE_START % {"owner": "Ada Byron", "unit": sold, "since": "2026-03-01"}
    ]
    first.refresh_from_db()
    assert first.ended_on is None
    assert UnitOwnership.objects.count() == 1


def test_withdrawing_consent_erases_contact_details_from_the_record_and_its_history(sold, staff):
    ownership = register(sold, staff, consent=True, email="ada@example.org", phone="+44 1")

    services.unit_owner_consent_withdraw(ownership=ownership, acting_user=staff)

    ownership.refresh_from_db()
    assert (ownership.consent, ownership.consent_at, ownership.email, ownership.phone) == (
        False,
        None,
        "",
        "",
    )
    for past in ownership.history.all():
        assert not hasattr(past, "email") and not hasattr(past, "phone")


def test_withdrawing_consent_that_was_never_given_is_refused(sold, staff):
    ownership = register(sold, staff)

    with pytest.raises(ValidationError) as error:
        services.unit_owner_consent_withdraw(ownership=ownership, acting_user=staff)

    assert error.value.messages == [OWNER_NO_CONSENT_TO_WITHDRAW % {"owner": "Ada Byron"}]


# --- The serial unit's page ---------------------------------------------------------------------


def page(client, unit):
    return client.get(reverse("serial_detail", args=[unit.pk]))


def test_staff_see_owners_past_and_present_with_contact_only_while_consenting(client, staff, sold):
    register(sold, staff, consent=True, email="ada@example.org")
    services.unit_owner_transfer(
        serial_unit=sold,
        owner_name="Charles Babbage",
        transferred_on=date(2026, 6, 1),
        acting_user=staff,
    )
    client.force_login(staff)

    html = page(client, sold).content.decode()

    assert "Ada Byron" in html and "Charles Babbage" in html
    assert "ada@example.org" in html
    assert "owns it now" in html
    assert "Transfer to a new owner" in html


def test_staff_register_an_owner_from_the_unit_page(client, staff, sold):
    client.force_login(staff)

    response = client.post(
        reverse("serial_owner_register", args=[sold.pk]),
        {
            "owner_name": "Ada Byron",
            "since": "2026-03-01",
            "consent": "on",
            "email": "ada@example.org",
        },
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#owners")
    ownership = UnitOwnership.objects.get()
    assert (ownership.owner_name, ownership.email) == ("Ada Byron", "ada@example.org")


def test_a_refused_registration_comes_back_with_its_message_and_writes_nothing(client, staff, sold):
    client.force_login(staff)

    response = client.post(
        reverse("serial_owner_register", args=[sold.pk]),
        {"owner_name": "Ada Byron", "since": "2026-03-01", "email": "ada@example.org"},
    )

    assert response.status_code == 200
    assert str(OWNER_CONTACT_NEEDS_CONSENT) in response.content.decode()
    assert not UnitOwnership.objects.exists()


def test_a_bad_date_is_refused_with_a_sentence(client, staff, sold):
    client.force_login(staff)

    response = client.post(
        reverse("serial_owner_register", args=[sold.pk]),
        {"owner_name": "Ada Byron", "since": "01/03/2026"},
    )

    assert response.status_code == 200
    assert "Give the date as YYYY-MM-DD." in response.content.decode()
    assert not UnitOwnership.objects.exists()


def test_transfer_from_the_page_hands_the_unit_on(client, staff, sold):
    register(sold, staff)
    client.force_login(staff)

    client.post(
        reverse("serial_owner_transfer", args=[sold.pk]),
        {"owner_name": "Charles Babbage", "since": "2026-06-01"},
    )

    assert list(
        UnitOwnership.objects.order_by("started_on").values_list("owner_name", "ended_on")
    ) == [("Ada Byron", date(2026, 6, 1)), ("Charles Babbage", None)]


def test_withdrawing_consent_from_the_page_erases_the_contact(client, staff, sold):
    ownership = register(sold, staff, consent=True, email="ada@example.org")
    client.force_login(staff)

    response = client.post(reverse("serial_owner_consent_withdraw", args=[sold.pk, ownership.pk]))

    assert response.status_code == 302
    ownership.refresh_from_db()
    assert ownership.email == ""
    assert "ada@example.org" not in page(client, sold).content.decode()


def test_consent_of_another_units_owner_is_not_found(client, staff, sold):
    ownership = register(sold, staff, consent=True, email="ada@example.org")
    other = SerialUnitFactory(serial="S-9")
    client.force_login(staff)

    response = client.post(reverse("serial_owner_consent_withdraw", args=[other.pk, ownership.pk]))

    assert response.status_code == 404


def test_a_user_without_the_permission_cannot_register_owners(client, no_role_user, sold):
    client.force_login(no_role_user)

    response = client.post(
        reverse("serial_owner_register", args=[sold.pk]),
        {"owner_name": "Ada Byron", "since": "2026-03-01"},
    )

    assert response.status_code == 403
    assert not UnitOwnership.objects.exists()


# --- The admin --------------------------------------------------------------------------------


def test_an_administrator_corrects_an_owners_name_and_the_history_says_who(
    client, administrator, sold, staff
):
    ownership = register(sold, staff, owner_name="Ada Bryon")
    client.force_login(administrator)
    url = reverse("admin:inventory_unitownership_change", args=[ownership.pk])

    response = client.post(url, {"owner_name": "Ada Byron", "started_on": "2026-03-01"})

    assert response.status_code == 302
    ownership.refresh_from_db()
    assert ownership.owner_name == "Ada Byron"
    assert ownership.history.latest().history_user == administrator


def test_the_admin_refuses_contact_details_for_an_owner_who_did_not_consent(
    client, administrator, sold, staff
):
    ownership = register(sold, staff)
    client.force_login(administrator)
    url = reverse("admin:inventory_unitownership_change", args=[ownership.pk])

    response = client.post(
        url, {"owner_name": "Ada Byron", "started_on": "2026-03-01", "email": "a@example.org"}
    )

    assert response.status_code == 200
    assert str(OWNER_CONTACT_NEEDS_CONSENT) in response.content.decode()
    ownership.refresh_from_db()
    assert ownership.email == ""


# --- replacement -------------------------------------------------------------------------------


def test_a_replacement_unit_goes_to_the_faulty_units_owner_with_their_consent(sold, staff):
    register(sold, staff, consent=True, email="ada@example.com", phone="+44 1")
    spare = SerialUnitFactory(serial="S-2", product=sold.product)

    replacement = services.serial_unit_replace(
        faulty=sold,
        replacement=spare,
        customer=sold.holder_party,
        acting_user=staff,
        document_number="RMA-2026-0001",
    )

    before, now = sold.ownerships.get(), replacement.ownerships.get()
    assert before.ended_on == replacement.shipped_on == now.started_on == timezone.localdate()
    assert (now.owner_name, now.consent, now.email, now.phone) == (
        "Ada Byron",
        True,
        "ada@example.com",
        "+44 1",
    )
    assert now.consent_at == before.consent_at
    assert now.history.get().history_change_reason == f"Owner of {sold}, which it replaces"


def test_a_replacement_of_a_unit_without_an_owner_gets_none(sold, staff):
    spare = SerialUnitFactory(serial="S-2", product=sold.product)

    replacement = services.serial_unit_replace(
        faulty=sold,
        replacement=spare,
        customer=sold.holder_party,
        acting_user=staff,
        document_number="RMA-2026-0001",
    )

    assert not UnitOwnership.objects.filter(serial_unit=replacement).exists()
