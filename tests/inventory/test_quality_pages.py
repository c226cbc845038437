"""Quality control pages: the lot's card, result entry, signing, deviations, lists, exports,
the quality record PDF, the dashboard; permissions per role, constant queries, bad input."""

import csv
import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from inventory import quality, services
from inventory import quality_selectors as qs
from inventory.models import Certificate, Deviation, Lot, ReleaseDecision, TestResult
from inventory.quality_forms import (
    CERTIFICATE_CHOICE_REQUIRED,
    EFFECTIVE_FROM_REQUIRED,
    NOT_A_NUMBER,
    TESTED_AT_REQUIRED,
    UNIT_REQUIRED,
)

from .factories import LotFactory, PartyFactory, SerialUnitFactory
from .quality_factories import (
    PASSWORD,
    SpecificationFactory,
    SpecificationTestFactory,
    named_test,
    quarantined_lot,
    record,
    record_passing,
    spec_with_tests,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def spec():
    return spec_with_tests()


@pytest.fixture
def lot(spec):
    return quarantined_lot(spec)


def _form(spec, **values):
    data = {"tested_at": "2026-03-02T10:00", "source": "in_house", "lab": "QC lab"}
    for name, value in values.items():
        test = named_test(spec, name)
        if test.is_numeric:
            data[f"value_{test.pk}"] = value
            data[f"unit_{test.pk}"] = test.unit
        else:
            data[f"text_{test.pk}"] = value
    return data


# --- the lot's card ---------------------------------------------------------------------------


def test_the_lot_page_shows_the_quality_card_with_missing_tests(lot, spec, manager):
    record(lot, spec, "pH", manager, value="4.8")
    response = as_user(manager).get(lot.get_absolute_url())
    assertContains(response, 'id="quality"')
    assertContains(response, f"{spec.product.sku} specification v{spec.version}")
    assertContains(response, "Required tests missing or failed: pH, Salmonella")
    assertContains(response, '<span class="badge qc-failed">failed</span>', html=True)
    assertContains(response, reverse("lot_release_sign", args=[lot.pk]))
    assertContains(response, "Request a deviation")


def test_staff_see_the_card_and_may_enter_results_but_not_sign(lot, staff):
    response = as_user(staff).get(lot.get_absolute_url())
    assertContains(response, reverse("lot_results_new", args=[lot.pk]))
    assertNotContains(response, reverse("lot_release_sign", args=[lot.pk]))


def test_the_lot_page_runs_a_constant_number_of_queries(
    spec, manager, django_assert_max_num_queries
):
    lot = quarantined_lot(spec)
    client = as_user(manager)
    with CaptureQueriesContext(connection) as few:
        assert client.get(lot.get_absolute_url()).status_code == 200
    for value in ("4.1", "4.2", "4.9"):
        record(lot, spec, "pH", manager, value=value)
    record(lot, spec, "Salmonella", manager, text="absent in 25 g")
    quality.test_deviation_request(
        lot=lot, specification_test=named_test(spec, "pH"), description="x", acting_user=manager
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(lot.get_absolute_url()).status_code == 200


def test_a_unit_tested_per_unit_shows_its_results(manager):
    product_spec = SpecificationFactory(
        product__tracking="serial", product__unit="EA", product__tests_per_unit=True
    )
    SpecificationTestFactory(
        specification=product_spec, name="Leak", unit="Pa", lower_limit=None, upper_limit=50
    )
    lot = quarantined_lot(product_spec)
    unit = SerialUnitFactory(product=product_spec.product, lot=lot)
    quality.test_result_record(
        lot=lot,
        specification_test=product_spec.tests.get(),
        serial_unit=unit,
        value="51",
        unit="Pa",
        acting_user=manager,
    )
    response = as_user(manager).get(unit.get_absolute_url())
    assertContains(response, "unit-results-heading")
    assertContains(response, "51 Pa")


# --- result entry -----------------------------------------------------------------------------


def test_results_are_entered_several_at_once(lot, spec, staff):
    response = as_user(staff).post(
        reverse("lot_results_new", args=[lot.pk]),
        _form(spec, pH="4.6", Salmonella="absent in 25 g"),
    )
    assert response.status_code == 302
    results = {r.specification_test.name: r for r in TestResult.objects.all()}
    assert results["pH"].passed and results["Salmonella"].passed
    assert results["pH"].lab == "QC lab" and results["pH"].tested_by == staff


def test_a_bad_value_writes_nothing_and_says_why(lot, spec, staff):
    response = as_user(staff).post(
        reverse("lot_results_new", args=[lot.pk]), _form(spec, pH="four", Salmonella="absent")
    )
    assert response.status_code == 400
    assertContains(response, NOT_A_NUMBER, status_code=400)
    assert not TestResult.objects.exists()


def test_a_unit_mismatch_on_the_page_writes_nothing(lot, spec, staff):
    data = _form(spec, Moisture="11", pH="4.2")
    data[f"unit_{named_test(spec, 'Moisture').pk}"] = "g/kg"
    response = as_user(staff).post(reverse("lot_results_new", args=[lot.pk]), data)
    assertContains(
        response,
        quality.RESULT_UNIT_MISMATCH % {"test": "Moisture", "expected": "%", "given": "g/kg"},
        status_code=400,
        html=False,
    )
    assert not TestResult.objects.exists()


def test_results_from_an_uploaded_certificate(spec, staff, media):
    supplier = PartyFactory(is_supplier=True, name="Mill")
    lot = quarantined_lot(spec, supplier=supplier)
    data = _form(spec, pH="4.4")
    data.update(
        source="certificate",
        certificate_number="COA-9",
        certificate_issued_on="2026-03-01",
        certificate_file=SimpleUploadedFile("coa.pdf", PDF, content_type="application/pdf"),
    )
    response = as_user(staff).post(reverse("lot_results_new", args=[lot.pk]), data)
    assert response.status_code == 302
    result = TestResult.objects.get()
    assert result.certificate.number == "COA-9" and result.source == "certificate"

    download = as_user(staff).get(reverse("certificate_file", args=[result.certificate.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert (
        Client().get(reverse("certificate_file", args=[result.certificate.pk])).status_code == 302
    )


def test_a_certificate_that_is_not_a_pdf_writes_nothing(spec, staff, media):
    lot = quarantined_lot(spec, supplier=PartyFactory(is_supplier=True))
    data = _form(spec, pH="4.4")
    data.update(
        source="certificate",
        certificate_number="COA-9",
        certificate_issued_on="2026-03-01",
        certificate_file=SimpleUploadedFile("coa.pdf", b"GIF89a", content_type="application/pdf"),
    )
    response = as_user(staff).post(reverse("lot_results_new", args=[lot.pk]), data)
    assertContains(response, quality.CERTIFICATE_NOT_PDF % {"name": "coa.pdf"}, status_code=400)
    assert not TestResult.objects.exists() and not Certificate.objects.exists()


def test_certificate_results_need_a_certificate(spec, staff):
    lot = quarantined_lot(spec, supplier=PartyFactory(is_supplier=True))
    data = {**_form(spec, pH="4.4"), "source": "certificate"}
    response = as_user(staff).post(reverse("lot_results_new", args=[lot.pk]), data)
    assertContains(response, CERTIFICATE_CHOICE_REQUIRED, status_code=400)
    assert not TestResult.objects.exists()


def test_administrators_cannot_enter_results(lot, administrator):
    response = as_user(administrator).get(reverse("lot_results_new", args=[lot.pk]))
    assert response.status_code == 403


# --- signing ----------------------------------------------------------------------------------


def test_the_sign_page_shows_the_evidence_and_why_release_is_refused(lot, spec, manager):
    record(lot, spec, "pH", manager, value="4.2")
    response = as_user(manager).get(reverse("lot_release_sign", args=[lot.pk]))
    assertContains(response, "The lot cannot be released now")
    assertContains(response, str(qs.TESTS_MISSING % {"lot": lot, "tests": "Salmonella"}))


def test_a_release_is_signed_on_the_page(lot, spec, manager):
    record_passing(lot, spec, manager)
    response = as_user(manager).post(
        reverse("lot_release_sign", args=[lot.pk]),
        {"statement": "Released on the attached evidence.", "password": PASSWORD},
    )
    assert response.status_code == 302
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED
    page = as_user(manager).get(lot.get_absolute_url())
    assertContains(page, "Released on the attached evidence.")


def test_a_wrong_password_on_the_page_signs_nothing(lot, spec, manager):
    record_passing(lot, spec, manager)
    response = as_user(manager).post(
        reverse("lot_release_sign", args=[lot.pk]),
        {"statement": "OK", "password": "nope"},
    )
    assertContains(response, quality.WRONG_PASSWORD, status_code=400)
    assert not ReleaseDecision.objects.exists()


def test_an_empty_statement_on_the_page_signs_nothing(lot, manager):
    response = as_user(manager).post(
        reverse("lot_reject_sign", args=[lot.pk]), {"statement": " ", "password": PASSWORD}
    )
    assertContains(response, quality.STATEMENT_REQUIRED, status_code=400)
    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED


def test_staff_cannot_open_the_sign_page(lot, staff):
    assert as_user(staff).get(reverse("lot_release_sign", args=[lot.pk])).status_code == 403
    response = as_user(staff).post(
        reverse("lot_reject_sign", args=[lot.pk]), {"statement": "x", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert not ReleaseDecision.objects.exists()


def test_the_status_form_cannot_release_a_lot_requiring_release(lot, manager):
    response = as_user(manager).post(
        reverse("lot_status", args=[lot.pk]), {"status": "released", "reason": "fine"}, follow=True
    )
    assertContains(response, "is released only by a signed release decision")
    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED


# --- deviations -------------------------------------------------------------------------------


def test_a_deviation_is_requested_from_the_card_and_decided_on_its_page(lot, spec, staff, manager):
    record(lot, spec, "Salmonella", staff, text="absent in 25 g")
    response = as_user(staff).post(
        reverse("lot_test_deviation", args=[lot.pk]),
        {"specification_test": named_test(spec, "pH").pk, "description": "pH meter away"},
    )
    deviation = Deviation.objects.get()
    assert response.url == deviation.get_absolute_url()
    assert deviation.specification_test.name == "pH"

    page = as_user(staff).get(deviation.get_absolute_url())
    assertContains(page, deviation.reference)
    assertNotContains(page, "Record the decision")
    assert (
        as_user(staff)
        .post(deviation.get_absolute_url(), {"decision": "approve", "justification": "x"})
        .status_code
        == 403
    )

    bad = as_user(manager).post(deviation.get_absolute_url(), {"decision": "approve"})
    assert bad.status_code == 400
    deviation.refresh_from_db()
    assert deviation.status == Deviation.Status.OPEN

    good = as_user(manager).post(
        deviation.get_absolute_url(),
        {"decision": "approve", "justification": "Retested at the supplier"},
    )
    assert good.status_code == 302
    deviation.refresh_from_db()
    assert deviation.status == Deviation.Status.APPROVED
    assert (
        quality.lot_release_sign(
            lot=lot, password=PASSWORD, statement="With DEV", acting_user=manager
        ).decision
        == "released"
    )


def test_a_deviation_request_without_description_writes_nothing(lot, spec, staff):
    response = as_user(staff).post(
        reverse("lot_test_deviation", args=[lot.pk]),
        {"specification_test": named_test(spec, "pH").pk, "description": ""},
        follow=True,
    )
    assertContains(response, "Say what is missing or failed")
    assert not Deviation.objects.exists()


# --- lists and exports ------------------------------------------------------------------------


def _decided_lots(spec, manager, count):
    for _ in range(count):
        lot = quarantined_lot(spec)
        record_passing(lot, spec, manager)
        quality.lot_release_sign(lot=lot, password=PASSWORD, statement="OK", acting_user=manager)
    services.deviation_raise(item=lot.item, kind="other", description="Label smudged")


@pytest.mark.parametrize(
    "name", ["specification_list", "test_result_list", "release_decision_list", "deviation_list"]
)
def test_the_lists_run_a_constant_number_of_queries(
    name, spec, manager, django_assert_max_num_queries
):
    client = as_user(manager)
    _decided_lots(spec, manager, 1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name)).status_code == 200
    _decided_lots(spec, manager, 4)
    spec_with_tests()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(name)).status_code == 200


def test_results_export_as_csv_with_their_outcome(lot, spec, manager):
    record(lot, spec, "pH", manager, value="4.7")
    response = as_user(manager).get(reverse("test_result_list"), {"_export": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["Lot"], r["Test"], r["Result"], r["Outcome"]) for r in rows] == [
        (lot.code, "pH", "4.7 pH", "failed")
    ]


def test_release_decisions_export_as_xlsx(lot, spec, manager):
    record_passing(lot, spec, manager)
    quality.lot_release_sign(lot=lot, password=PASSWORD, statement="Good", acting_user=manager)
    response = as_user(manager).get(reverse("release_decision_list"), {"_export": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header, row = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    record_of = dict(zip(header, row, strict=True))
    assert (record_of["Lot"], record_of["Decision"], record_of["Statement"]) == (
        lot.code,
        "released",
        "Good",
    )


def test_deviations_filter_by_status_and_reversed_dates_list_nothing(lot, manager):
    services.deviation_raise(item=lot.item, kind="other", description="Open one")
    client = as_user(manager)
    assertContains(client.get(reverse("deviation_list"), {"status": "open"}), "Open one")
    assertNotContains(client.get(reverse("deviation_list"), {"status": "approved"}), "Open one")
    response = client.get(
        reverse("deviation_list"), {"raised_from": "2026-03-02", "raised_to": "2026-03-01"}
    )
    assertContains(response, "Nothing is listed until the filters above are corrected.")


def test_a_user_without_a_role_sees_no_quality_page(no_role_user, lot):
    for name in ("deviation_list", "release_decision_list"):
        assert as_user(no_role_user).get(reverse(name)).status_code == 403


# --- specifications ---------------------------------------------------------------------------


def test_a_manager_copies_a_specification_forward_and_approves_the_copy(spec, manager):
    client = as_user(manager)
    response = client.post(
        spec.get_absolute_url(), {"action": "copy", "effective_from": "2026-09-01"}
    )
    copy = spec.product.specifications.get(version=spec.version + 1)
    assert response.url == copy.get_absolute_url()
    client.post(copy.get_absolute_url(), {"action": "approve"})
    copy.refresh_from_db()
    assert copy.is_approved and copy.approved_by == manager
    assert qs.specification_in_force(spec.product, date(2026, 9, 1)) == copy


def test_staff_cannot_approve_a_specification(staff, spec):
    draft = quality.specification_copy_forward(
        specification=spec, effective_from=date(2026, 9, 1), acting_user=staff
    )
    assert as_user(staff).post(draft.get_absolute_url(), {"action": "approve"}).status_code == 403
    draft.refresh_from_db()
    assert not draft.is_approved


def test_the_admin_refuses_to_change_an_approved_specification(spec, manager):
    manager.is_staff = True
    manager.save()
    url = reverse("admin:inventory_specification_change", args=[spec.pk])
    response = as_user(manager).post(url, {"effective_from": "2020-01-01"})
    assert response.status_code == 403
    spec.refresh_from_db()
    assert spec.effective_from == date(2026, 1, 1)


# --- the quality record and the dashboard -----------------------------------------------------


def test_the_quality_record_is_a_pdf_with_the_signature(lot, spec, manager):
    record_passing(lot, spec, manager)
    quality.lot_release_sign(
        lot=lot, password=PASSWORD, statement="Fit for sale", acting_user=manager
    )
    html = as_user(manager).get(reverse("lot_quality_record", args=[lot.pk]), {"format": "html"})
    assertContains(html, "Fit for sale")
    assertContains(html, "signed electronically by <strong>manager</strong>", html=False)
    response = as_user(manager).get(reverse("lot_quality_record", args=[lot.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")


def test_the_dashboard_shows_lots_awaiting_release_and_open_deviations(
    lot, spec, manager, django_assert_max_num_queries
):
    services.deviation_raise(item=lot.item, kind="other", description="Pallet wrap torn")
    client = as_user(manager)
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("home"))
    assertContains(response, "Lots awaiting release")
    assertContains(response, f"{lot.code}</a>", html=False)
    for _ in range(3):
        other = quarantined_lot(spec)
        services.deviation_raise(item=other.item, kind="other", description="More")
        record_passing(other, spec, manager)
    rejected = quarantined_lot(spec)
    quality.lot_reject_sign(lot=rejected, password=PASSWORD, statement="No", acting_user=manager)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("home"))
    assertContains(response, "Recently rejected")
    assertContains(response, f"lot {rejected.code}")


def test_results_at_the_edges_show_as_passed_on_the_page(lot, spec, manager):
    record(lot, spec, "pH", manager, value=Decimal("4.0"))
    response = as_user(manager).get(lot.get_absolute_url())
    assertContains(response, "4 pH")
    assertContains(response, '<span class="badge qc-passed">passed</span>', html=True)


# --- corrections ------------------------------------------------------------------------------


def test_a_wrong_result_is_corrected_and_stays_on_file(lot, spec, staff):
    wrong = record(lot, spec, "pH", staff, value="7.4")
    url = reverse("lot_result_correct", args=[lot.pk, wrong.pk])
    response = as_user(staff).post(
        url,
        {
            "value": "4.4",
            "unit": "pH",
            "tested_at": "2026-03-02T10:00",
            "correction_reason": "Typed 7.4 for 4.4",
        },
    )
    assert response.status_code == 302
    right = TestResult.objects.get(supersedes=wrong)
    assert right.passed and right.correction_reason == "Typed 7.4 for 4.4"
    page = as_user(staff).get(lot.get_absolute_url())
    assertContains(page, "<s>7.4 pH</s> corrected", html=False)


def test_a_correction_without_reason_writes_nothing(lot, spec, staff):
    wrong = record(lot, spec, "pH", staff, value="7.4")
    response = as_user(staff).post(
        reverse("lot_result_correct", args=[lot.pk, wrong.pk]),
        {"value": "4.4", "unit": "pH", "tested_at": "2026-03-02T10:00"},
    )
    assertContains(response, quality.RESULT_REASON_REQUIRED, status_code=400)
    assert TestResult.objects.count() == 1


# --- more pages: constant queries, the admin's add page, deviation exports ---------------------


def test_the_sign_page_runs_a_constant_number_of_queries(
    spec, manager, django_assert_max_num_queries
):
    lot = quarantined_lot(spec)
    client = as_user(manager)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("lot_release_sign", args=[lot.pk])).status_code == 200
    for value in ("4.1", "4.9", "4.3"):
        record(lot, spec, "pH", manager, value=value)
    record(lot, spec, "Salmonella", manager, text="absent in 25 g")
    services.deviation_raise(item=lot.item, kind="other", description="One")
    services.deviation_raise(item=lot.item, kind="other", description="Two")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("lot_release_sign", args=[lot.pk])).status_code == 200


def test_the_specification_page_runs_a_constant_number_of_queries(
    spec, manager, django_assert_max_num_queries
):
    client = as_user(manager)
    with CaptureQueriesContext(connection) as few:
        assert client.get(spec.get_absolute_url()).status_code == 200
    for _ in range(3):
        quality.specification_copy_forward(
            specification=spec, effective_from=date(2026, 9, 1), acting_user=manager
        )
    SpecificationTestFactory(specification=spec, name="Colour", expected_text="white",
                             lower_limit=None, upper_limit=None)  # fmt: skip
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(spec.get_absolute_url()).status_code == 200


def test_the_admin_adds_a_specification_numbered_after_the_last(spec, admin_client):
    response = admin_client.post(
        reverse("admin:inventory_specification_add"),
        {
            "product": spec.product.pk,
            "effective_from": "2026-10-01",
            "notes": "",
            "tests-TOTAL_FORMS": "1",
            "tests-INITIAL_FORMS": "0",
            "tests-0-order": "1",
            "tests-0-name": "Colour",
            "tests-0-expected_text": "white",
            "tests-0-required": "on",
        },
    )
    assert response.status_code == 302
    added = spec.product.specifications.get(version=spec.version + 1)
    assert [t.name for t in added.tests.all()] == ["Colour"]
    assert not added.is_approved


def test_deviations_export_as_csv(lot, manager):
    deviation = services.deviation_raise(
        item=lot.item, kind="excursion", description="Truck at 9 °C"
    )
    response = as_user(manager).get(reverse("deviation_list"), {"_export": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["Reference"], r["Lot or unit"], r["Kind"], r["Status"]) for r in rows] == [
        (
            deviation.reference,
            f"{lot.product.sku} lot {lot.code}",
            "process condition outside its limits",
            "open",
        )
    ]


def test_a_lot_of_a_product_without_release_or_specification_shows_no_card(manager):
    lot = LotFactory()
    assertNotContains(as_user(manager).get(lot.get_absolute_url()), 'id="quality"')
    services.deviation_raise(item=lot.item, kind="excursion", description="Cold room at 9 °C")
    assertContains(as_user(manager).get(lot.get_absolute_url()), 'id="quality"')


def test_a_released_lot_offers_no_second_release(lot, spec, manager):
    record_passing(lot, spec, manager)
    quality.lot_release_sign(lot=lot, password=PASSWORD, statement="OK", acting_user=manager)
    response = as_user(manager).get(lot.get_absolute_url())
    assertNotContains(response, reverse("lot_release_sign", args=[lot.pk]))
    assertContains(response, reverse("lot_reject_sign", args=[lot.pk]))


def test_results_of_a_product_tested_per_unit_name_the_unit(staff):
    unit_spec = SpecificationFactory(
        product__tracking="serial", product__unit="EA", product__tests_per_unit=True
    )
    leak = SpecificationTestFactory(
        specification=unit_spec, name="Leak", unit="Pa", lower_limit=None, upper_limit=50
    )
    lot = quarantined_lot(unit_spec)
    unit = SerialUnitFactory(product=unit_spec.product, lot=lot)
    url = reverse("lot_results_new", args=[lot.pk])
    data = {
        "tested_at": "2026-03-02T10:00",
        "source": "in_house",
        f"value_{leak.pk}": "12",
        f"unit_{leak.pk}": "Pa",
    }
    response = as_user(staff).post(url, data)
    assertContains(response, UNIT_REQUIRED, status_code=400)
    assert not TestResult.objects.exists()

    assert as_user(staff).post(url, {**data, "serial_unit": unit.pk}).status_code == 302
    assert TestResult.objects.get().serial_unit == unit


def test_a_copy_without_its_date_writes_nothing(spec, manager):
    response = as_user(manager).post(spec.get_absolute_url(), {"action": "copy"})
    assertContains(response, EFFECTIVE_FROM_REQUIRED, status_code=400)
    assert spec.product.specifications.count() == 1


def test_results_without_a_test_time_write_nothing(lot, spec, staff):
    data = {**_form(spec, pH="4.2"), "tested_at": ""}
    response = as_user(staff).post(reverse("lot_results_new", args=[lot.pk]), data)
    assertContains(response, TESTED_AT_REQUIRED, status_code=400)
    assert not TestResult.objects.exists()


def test_a_refused_result_leaves_no_certificate_file_behind(spec, staff, media):
    lot = quarantined_lot(spec, supplier=PartyFactory(is_supplier=True))
    data = _form(spec, pH="four?")
    data[f"value_{named_test(spec, 'pH').pk}"] = ""
    data[f"unit_{named_test(spec, 'Moisture').pk}"] = "kg"
    data[f"value_{named_test(spec, 'Moisture').pk}"] = "11"
    data.update(
        source="certificate",
        certificate_number="COA-9",
        certificate_issued_on="2026-03-01",
        certificate_file=SimpleUploadedFile("coa.pdf", PDF, content_type="application/pdf"),
    )
    response = as_user(staff).post(reverse("lot_results_new", args=[lot.pk]), data)
    assert response.status_code == 400
    assert not Certificate.objects.exists()
    assert not [path for path in media.rglob("*") if path.is_file()]
