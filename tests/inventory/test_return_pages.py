"""Returns (RMA) pages, issue #7: the list, registering by scan, the return's page with the
manager's decision and repair forms, photos served only to signed-in users, the unit page's
returns card; bad input answers with a sentence, never a 500 or a half-written return."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image
from pytest_django.asserts import assertContains, assertNotContains

from inventory.forms import (
    RETURN_CONDITION_REQUIRED,
    RETURN_REASON_REQUIRED,
    RETURN_SCAN_IS_A_LOT,
    RETURN_SCAN_REQUIRED,
    RETURN_SITE_REQUIRED,
)
from inventory.models import ReturnPhoto, SerialUnit, TraceEvent, UnitReturn
from inventory.services import (
    PHOTO_NOT_IMAGE,
    RETURN_AT_OUR_SITE,
    RETURN_REPLACEMENT_REQUIRED,
    unit_return_decide,
    unit_return_register,
)

from .factories import CustomerUnitFactory, LotFactory, PartyFactory, SerialUnitFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def jpeg(name="box.jpg"):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def site(db):
    return SiteFactory(name="Returns Desk")


@pytest.fixture
def unit(db):
    return CustomerUnitFactory(holder_party=PartyFactory(name="Acme Stores"))


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def register(unit, site, user, **kwargs):
    return unit_return_register(
        serial_unit=unit,
        site=site,
        reason=kwargs.pop("reason", UnitReturn.Reason.DEFECTIVE),
        condition=UnitReturn.Condition.DEFECTIVE,
        acting_user=user,
        **kwargs,
    )


def form_data(returned_unit, our_site, **overrides):
    data = {
        "unit": f"{returned_unit.product.sku} serial {returned_unit.serial}",
        "site": our_site.pk,
        "reason": UnitReturn.Reason.DEFECTIVE,
        "condition": UnitReturn.Condition.DAMAGED,
        "notes": "Dropped in the warehouse.",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- registering ------------------------------------------------------------------------------


def test_staff_register_a_scanned_unit_and_land_on_its_return(unit, site, staff):
    response = as_user(staff).post(
        reverse("return_new"), form_data(unit, site, photos=[jpeg(), jpeg("side.jpg")])
    )
    unit_return = UnitReturn.objects.get()
    assert response.status_code == 302
    assert response.url == unit_return.get_absolute_url()
    assert (unit_return.customer.name, unit_return.photos.count()) == ("Acme Stores", 2)


def test_the_return_page_confirms_the_rma_number(unit, site, staff):
    response = as_user(staff).post(reverse("return_new"), form_data(unit, site), follow=True)
    number = UnitReturn.objects.get().number
    assertContains(response, f"{unit} is registered as returned under {number}.")


def test_the_unit_is_found_by_its_gs1_element_string(unit, site, staff):
    scanned = f"(01){unit.product.gtin}(21){unit.serial}"
    as_user(staff).post(reverse("return_new"), form_data(unit, site, unit=scanned))
    assert UnitReturn.objects.get().serial_unit == unit


def test_register_a_return_from_the_unit_page_fills_in_the_unit(unit, staff):
    response = as_user(staff).get(reverse("return_new"), {"unit": unit.pk})
    assertContains(response, f'value="{unit.product.sku} serial {unit.serial}"')


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("unit", RETURN_SCAN_REQUIRED),
        ("site", RETURN_SITE_REQUIRED),
        ("reason", RETURN_REASON_REQUIRED),
        ("condition", RETURN_CONDITION_REQUIRED),
    ],
)
def test_a_missing_field_is_named_and_nothing_is_written(unit, site, staff, field, message):
    response = as_user(staff).post(reverse("return_new"), form_data(unit, site, **{field: None}))
    assert response.status_code == 200
    assertContains(response, message)
    assert not UnitReturn.objects.exists()


def test_an_unknown_serial_is_refused_with_a_sentence(unit, site, staff):
    response = as_user(staff).post(reverse("return_new"), form_data(unit, site, unit="NOPE-123"))
    assertContains(response, "No lot or serial unit matches NOPE-123.")
    assert not UnitReturn.objects.exists()


def test_a_malformed_gs1_code_is_refused_with_a_sentence(unit, site, staff):
    response = as_user(staff).post(
        reverse("return_new"), form_data(unit, site, unit="(01)12345(21)")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["unit"]
    assert not UnitReturn.objects.exists()


def test_a_lot_is_refused_in_place_of_a_unit(unit, site, staff):
    lot = LotFactory(code="L-77")
    response = as_user(staff).post(
        reverse("return_new"), form_data(unit, site, unit=f"{lot.product.sku} lot L-77")
    )
    assert response.context["form"].errors["unit"] == [RETURN_SCAN_IS_A_LOT % {"value": lot}]
    assert not UnitReturn.objects.exists()


def test_a_file_that_is_not_an_image_is_refused_on_the_form(unit, site, staff):
    fake = SimpleUploadedFile("receipt.png", b"<html>not an image</html>")
    response = as_user(staff).post(reverse("return_new"), form_data(unit, site, photos=[fake]))
    assertContains(response, PHOTO_NOT_IMAGE % {"name": "receipt.png"})
    assert (UnitReturn.objects.count(), ReturnPhoto.objects.count()) == (0, 0)


def test_a_refusal_of_the_service_shows_above_the_form(site, staff):
    at_home = SerialUnitFactory(holder_site=SiteFactory(name="Main Plant"))
    response = as_user(staff).post(reverse("return_new"), form_data(at_home, site))
    assertContains(response, RETURN_AT_OUR_SITE % {"unit": at_home, "site": "Main Plant"})
    assert not TraceEvent.objects.exists()


def test_a_user_without_a_role_cannot_register(unit, site, no_role_user):
    response = as_user(no_role_user).post(reverse("return_new"), form_data(unit, site))
    assert response.status_code == 403
    assert not UnitReturn.objects.exists()


# --- deciding on the page ---------------------------------------------------------------------


@pytest.fixture
def returned(unit, site, staff):
    return register(unit, site, staff, photos=[jpeg()])


def test_a_manager_sees_the_decision_form(returned, manager):
    assertContains(as_user(manager).get(returned.get_absolute_url()), 'name="decision"')


def test_staff_see_no_decision_form(returned, staff):
    assertNotContains(as_user(staff).get(returned.get_absolute_url()), 'name="decision"')


def test_staff_cannot_post_a_decision(returned, staff):
    response = as_user(staff).post(
        reverse("return_decide", args=[returned.pk]), {"decision": "scrap"}
    )
    returned.refresh_from_db()
    assert (response.status_code, returned.status) == (403, UnitReturn.Status.OPEN)


def test_a_manager_restocks_from_the_page(returned, manager):
    response = as_user(manager).post(
        reverse("return_decide", args=[returned.pk]),
        {"decision": "restock", "notes": "Tested OK."},
        follow=True,
    )
    returned.refresh_from_db()
    assert returned.outcome == UnitReturn.Outcome.RESTOCKED
    assertContains(response, f"{returned.number}: {returned.serial_unit} — restock.")
    assert SerialUnit.objects.get(pk=returned.serial_unit_id).status == SerialUnit.Status.IN_STOCK


def test_a_manager_replaces_with_a_scanned_unit(returned, manager):
    spare = SerialUnitFactory(product=returned.serial_unit.product, serial="SPARE-1")
    as_user(manager).post(
        reverse("return_decide", args=[returned.pk]),
        {"decision": "replace", "replacement": f"{spare.product.sku} serial SPARE-1"},
    )
    returned.refresh_from_db()
    assert (returned.outcome, returned.replacement) == (UnitReturn.Outcome.REPLACED, spare)


def test_a_replacement_without_a_unit_comes_back_with_the_reason(returned, manager):
    response = as_user(manager).post(
        reverse("return_decide", args=[returned.pk]), {"decision": "replace"}
    )
    assert response.status_code == 400
    assertContains(response, RETURN_REPLACEMENT_REQUIRED, status_code=400)
    returned.refresh_from_db()
    assert returned.status == UnitReturn.Status.OPEN


def test_no_decision_chosen_comes_back_with_the_reason(returned, manager):
    response = as_user(manager).post(reverse("return_decide", args=[returned.pk]), {})
    assertContains(response, "Choose what happens to the unit.", status_code=400)


def test_a_manager_closes_a_repair_from_the_page(returned, manager):
    unit_return_decide(unit_return=returned, decision="repair", acting_user=manager)
    page = as_user(manager).get(returned.get_absolute_url())
    assertContains(page, 'name="outcome"')
    as_user(manager).post(reverse("return_repair", args=[returned.pk]), {"outcome": "sent_back"})
    returned.refresh_from_db()
    assert (returned.status, returned.outcome) == (
        UnitReturn.Status.CLOSED,
        UnitReturn.Outcome.SENT_BACK,
    )


def test_the_return_page_links_to_the_unit_and_its_service_form(returned, staff):
    response = as_user(staff).get(returned.get_absolute_url())
    unit_url = reverse("serial_detail", args=[returned.serial_unit_id])
    assertContains(response, f'href="{unit_url}"')
    assertContains(response, f'href="{unit_url}#service-records"')


def test_the_return_page_shows_the_units_events_since_it_came_back(returned, manager):
    unit_return_decide(unit_return=returned, decision="scrap", acting_user=manager)
    response = as_user(manager).get(returned.get_absolute_url())
    types = [line.event.event_type for line in response.context["timeline"]]
    assert types == [TraceEvent.Type.RETURN, TraceEvent.Type.SCRAP]


def test_an_unknown_return_is_not_found(staff):
    assert as_user(staff).get(reverse("return_detail", args=[999])).status_code == 404


def test_the_return_page_runs_the_same_queries_with_one_photo_or_eight(
    returned, manager, django_assert_max_num_queries
):
    client = as_user(manager)
    with CaptureQueriesContext(connection) as few:
        assert client.get(returned.get_absolute_url()).status_code == 200
    queries = len(few.captured_queries)
    for n in range(7):
        ReturnPhoto.objects.create(
            unit_return=returned, image=jpeg(f"{n}.jpg"), uploaded_by=manager
        )
    unit_return_decide(unit_return=returned, decision="repair", acting_user=manager)
    with django_assert_max_num_queries(queries):
        assert client.get(returned.get_absolute_url()).status_code == 200


# --- photos -----------------------------------------------------------------------------------


def test_a_photo_is_served_to_a_signed_in_user(returned, staff):
    photo = returned.photos.get()
    response = as_user(staff).get(reverse("return_photo", args=[photo.pk]))
    assert (response.status_code, response["Content-Type"]) == (200, "image/jpeg")
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8")


def test_a_photo_is_not_served_to_anyone_signed_out(returned):
    photo = returned.photos.get()
    response = Client().get(reverse("return_photo", args=[photo.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_photo_is_not_served_to_a_user_without_a_role(returned, no_role_user):
    photo = returned.photos.get()
    assert as_user(no_role_user).get(reverse("return_photo", args=[photo.pk])).status_code == 403


def test_the_return_page_shows_its_photos_through_the_checked_view(returned, staff):
    photo = returned.photos.get()
    response = as_user(staff).get(returned.get_absolute_url())
    assertContains(response, f'src="{reverse("return_photo", args=[photo.pk])}"')
    assertNotContains(response, photo.image.name)


# --- the list ---------------------------------------------------------------------------------


def test_the_list_filters_by_status(returned, site, staff, manager):
    other = register(CustomerUnitFactory(), site, staff)
    unit_return_decide(unit_return=other, decision="restock", acting_user=manager)
    response = as_user(staff).get(reverse("return_list"), {"status": "open"})
    assertContains(response, returned.number)
    assertNotContains(response, other.number)


def test_the_list_finds_a_return_by_serial(returned, site, staff):
    other = register(CustomerUnitFactory(), site, staff)
    response = as_user(staff).get(reverse("return_list"), {"q": returned.serial_unit.serial})
    assertContains(response, returned.number)
    assertNotContains(response, other.number)


def test_the_list_filters_by_customer_and_reason(returned, site, staff):
    other = register(CustomerUnitFactory(), site, staff, reason=UnitReturn.Reason.NOT_WANTED)
    response = as_user(staff).get(reverse("return_list"), {"customer": "acme"})
    assertNotContains(response, other.number)
    response = as_user(staff).get(reverse("return_list"), {"reason": "not_wanted"})
    assertContains(response, other.number)
    assertNotContains(response, returned.number)


def test_received_dates_the_wrong_way_round_list_nothing(returned, staff):
    response = as_user(staff).get(
        reverse("return_list"), {"received_from": "2026-05-02", "received_to": "2026-05-01"}
    )
    assertContains(response, "Nothing is listed until the filters above are corrected.")


def test_the_list_exports_as_csv(returned, staff):
    response = as_user(staff).get(reverse("return_list"), {"_export": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["RMA", "Received", "Unit"]
    assert rows[1][0] == returned.number


def test_the_list_runs_the_same_queries_for_2_returns_or_20(
    site, staff, django_assert_max_num_queries
):
    client = as_user(staff)
    for _ in range(2):
        register(CustomerUnitFactory(), site, staff)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("return_list")).status_code == 200
    queries = len(few.captured_queries)
    for _ in range(18):
        register(CustomerUnitFactory(), site, staff)
    with django_assert_max_num_queries(queries):
        response = client.get(reverse("return_list"))
    assert len(response.context["table"].page.object_list) == 20


def test_the_navigation_offers_returns_to_staff(staff):
    assertContains(as_user(staff).get(reverse("return_list")), f'href="{reverse("return_list")}"')


# --- the unit's page --------------------------------------------------------------------------


def test_the_unit_page_offers_to_register_a_return_of_a_unit_with_a_customer(unit, staff):
    response = as_user(staff).get(reverse("serial_detail", args=[unit.pk]))
    assertContains(response, f'href="{reverse("return_new")}?unit={unit.pk}"')


def test_the_unit_page_lists_its_returns_and_offers_no_second_one(returned, staff):
    response = as_user(staff).get(reverse("serial_detail", args=[returned.serial_unit_id]))
    assertContains(response, f'href="{returned.get_absolute_url()}"')
    assertNotContains(response, f"{reverse('return_new')}?unit=")


def test_the_unit_page_offers_no_return_of_a_unit_at_our_site(staff):
    at_home = SerialUnitFactory()
    response = as_user(staff).get(reverse("serial_detail", args=[at_home.pk]))
    assertNotContains(response, f"{reverse('return_new')}?unit=")


# --- admin ------------------------------------------------------------------------------------


def test_the_admin_shows_returns_read_only(returned, administrator):
    client = as_user(administrator)
    change = client.get(reverse("admin:inventory_unitreturn_change", args=[returned.pk]))
    assert change.status_code == 200
    assertNotContains(change, 'name="_save"')
    assert client.get(reverse("admin:inventory_unitreturn_add")).status_code == 403


def test_the_form_says_who_holds_the_unit_from_the_unit_page(unit, staff):
    response = as_user(staff).get(reverse("return_new"), {"unit": unit.pk})
    assertContains(response, "held by Acme Stores, who is taken as the customer")
