"""Quality control rules: specifications and versions, results judged at their limits, per-unit
results, certificates, test deviations, and the signed release and rejection of lots."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from inventory import quality, services
from inventory import quality_selectors as qs
from inventory.epcis.importer import epcis_import
from inventory.models import (
    Certificate,
    Deviation,
    Lot,
    ReleaseDecision,
    StatusChange,
    TestResult,
    TraceEvent,
)
from inventory.resources import LotResource

from .factories import LotFactory, PartyFactory, ProductFactory, SerialUnitFactory
from .quality_factories import (
    PASSWORD,
    ReleaseProductFactory,
    SpecificationFactory,
    SpecificationTestFactory,
    named_test,
    quarantined_lot,
    record,
    record_passing,
    spec_with_tests,
)
from .test_spreadsheets import import_file

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _messages(exc_info) -> list[str]:
    return exc_info.value.messages


def _sign_release(lot, user, *, password=PASSWORD, statement="Meets specification."):
    return quality.lot_release_sign(
        lot=lot, password=password, statement=statement, acting_user=user
    )


# --- lots start quarantined -------------------------------------------------------------------


def test_a_lot_of_a_product_requiring_release_starts_quarantined(manager):
    lot = services.lot_create(
        product=ReleaseProductFactory(), code="Q-1", quantity=Decimal(5), acting_user=manager
    )
    assert lot.status == Lot.Status.QUARANTINED


def test_a_lot_of_another_product_starts_released_as_before(manager):
    lot = services.lot_create(
        product=ProductFactory(), code="R-1", quantity=Decimal(5), acting_user=manager
    )
    assert lot.status == Lot.Status.RELEASED


def test_a_received_lot_requiring_release_starts_quarantined(manager):
    lot = services.lot_create(
        product=ReleaseProductFactory(),
        code="Q-2",
        quantity=Decimal(5),
        supplier=PartyFactory(is_supplier=True),
        acting_user=manager,
    )
    assert lot.status == Lot.Status.QUARANTINED


def test_a_lot_started_on_hold_stays_on_hold(manager):
    lot = services.lot_create(
        product=ReleaseProductFactory(),
        code="Q-3",
        quantity=Decimal(5),
        status=Lot.Status.ON_HOLD,
        acting_user=manager,
    )
    assert lot.status == Lot.Status.ON_HOLD


def test_a_spreadsheet_lot_requiring_release_starts_quarantined(admin_user):
    product = ReleaseProductFactory(sku="MILK")
    result = import_file(LotResource, "Product SKU,Lot code,Quantity\nMILK,S-1,10\n", admin_user)
    assert result.sheet_errors == []
    assert Lot.objects.get(product=product, code="S-1").status == Lot.Status.QUARANTINED


def test_an_epcis_lot_requiring_release_starts_quarantined():
    from .test_epcis import KNOWN_GTIN, _document, _object_event

    ReleaseProductFactory(gtin=KNOWN_GTIN)
    event = _object_event(
        action="ADD",
        bizStep="urn:epcglobal:cbv:bizstep:commissioning",
        epcList=[],
        quantityList=[
            {"epcClass": "urn:epc:class:lgtin:0614141.107346.F-1", "quantity": 5, "uom": "KGM"}
        ],
    )
    epcis_import(document=_document(event), acting_user=None)
    assert Lot.objects.get(code="F-1").status == Lot.Status.QUARANTINED


def test_a_lot_added_in_the_admin_requiring_release_starts_quarantined(admin_client):
    product = ReleaseProductFactory(unit="KGM")
    response = admin_client.post(
        reverse("admin:inventory_lot_add"),
        {"product": product.pk, "code": "A-1", "quantity": "5", "unit": "KGM"},
    )
    assert response.status_code == 302
    assert Lot.objects.get(code="A-1").status == Lot.Status.QUARANTINED


def test_a_plain_status_change_cannot_release_a_lot_requiring_release(manager):
    lot = quarantined_lot(spec_with_tests())
    with pytest.raises(ValidationError) as exc_info:
        services.lot_release(lot=lot, reason="Looks fine", acting_user=manager)
    assert _messages(exc_info) == [services.RELEASE_NEEDS_SIGNATURE % {"lot": lot}]
    with pytest.raises(ValidationError):
        services.items_change_status_many(
            status=Lot.Status.RELEASED,
            reason="All fine",
            acting_user=manager,
            lots=Lot.objects.filter(pk=lot.pk),
        )
    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED
    assert not StatusChange.objects.exists()


# --- specifications ---------------------------------------------------------------------------


def test_a_test_needs_a_limit_or_an_expected_result():
    test = SpecificationTestFactory.build(
        specification=SpecificationFactory(), lower_limit=None, upper_limit=None
    )
    with pytest.raises(ValidationError) as exc_info:
        test.full_clean()
    assert "A test needs a lower or upper limit, or the expected result." in _messages(exc_info)


def test_a_lower_limit_above_the_upper_is_refused():
    test = SpecificationTestFactory.build(
        specification=SpecificationFactory(),
        lower_limit=Decimal("5"),
        upper_limit=Decimal("4"),
    )
    with pytest.raises(ValidationError) as exc_info:
        test.full_clean()
    assert "The lower limit is above the upper limit." in _messages(exc_info)


def test_a_test_name_is_unique_in_its_specification(manager):
    spec = quality.specification_create(
        product=ReleaseProductFactory(),
        effective_from=date(2026, 1, 1),
        tests=[{"name": "pH", "unit": "pH", "lower_limit": Decimal(4)}],
        acting_user=manager,
    )
    with pytest.raises(ValidationError) as exc_info:
        quality.specification_test_add(
            specification=spec, name="pH", upper_limit=Decimal(5), acting_user=manager
        )
    assert _messages(exc_info) == ["This specification already has a test of this name."]


def test_versions_are_numbered_per_product(manager):
    product = ReleaseProductFactory()
    first = quality.specification_create(
        product=product, effective_from=date(2026, 1, 1), acting_user=manager
    )
    second = quality.specification_create(
        product=product, effective_from=date(2026, 6, 1), acting_user=manager
    )
    assert (first.version, second.version) == (1, 2)


def test_an_approved_version_cannot_be_changed_and_is_copied_forward(manager):
    spec = spec_with_tests()
    with pytest.raises(ValidationError) as exc_info:
        quality.specification_test_update(
            test=named_test(spec, "pH"), upper_limit=Decimal("5"), acting_user=manager
        )
    assert _messages(exc_info) == [quality.SPEC_FROZEN % {"specification": spec}]

    copy = quality.specification_copy_forward(
        specification=spec, effective_from=date(2026, 7, 1), acting_user=manager
    )
    quality.specification_test_update(
        test=named_test(copy, "pH"), upper_limit=Decimal("5"), acting_user=manager
    )
    assert copy.version == spec.version + 1 and not copy.is_approved
    assert sorted(copy.tests.values_list("name", flat=True)) == ["Moisture", "Salmonella", "pH"]
    assert named_test(spec, "pH").upper_limit == Decimal("4.6")


def test_a_version_with_results_cannot_be_changed(manager):
    spec = spec_with_tests()
    record(quarantined_lot(spec), spec, "pH", manager, value=Decimal("4.2"))
    with pytest.raises(ValidationError):
        quality.specification_test_add(
            specification=spec, name="Colour", expected_text="white", acting_user=manager
        )
    assert spec.tests.count() == 3


def test_a_specification_without_tests_cannot_be_approved(manager):
    spec = quality.specification_create(
        product=ReleaseProductFactory(), effective_from=date(2026, 1, 1), acting_user=manager
    )
    with pytest.raises(ValidationError) as exc_info:
        quality.specification_approve(specification=spec, acting_user=manager)
    assert _messages(exc_info) == [quality.SPEC_NO_TESTS % {"specification": spec}]


def test_a_lot_is_judged_by_the_version_in_force_on_its_date(manager):
    product = ReleaseProductFactory()
    v1 = spec_with_tests(product, effective_from=date(2026, 1, 1), version=1)
    v2 = spec_with_tests(product, effective_from=date(2026, 4, 1), version=2)
    draft = SpecificationFactory(
        product=product,
        version=3,
        effective_from=date(2026, 5, 1),
        approved_at=None,
        approved_by=None,
    )
    assert (
        qs.lot_quality(LotFactory(product=product, produced_on=date(2026, 3, 31))).specification
        == v1
    )
    assert (
        qs.lot_quality(LotFactory(product=product, produced_on=date(2026, 4, 1))).specification
        == v2
    )
    # A draft is not in force, whatever its date.
    assert (
        qs.lot_quality(LotFactory(product=product, produced_on=date(2026, 6, 1))).specification
        == v2
    )
    assert draft.pk
    assert (
        qs.lot_quality(LotFactory(product=product, produced_on=date(2025, 12, 31))).specification
        is None
    )


def test_a_lot_without_production_date_is_judged_by_the_day_it_was_recorded():
    product = ReleaseProductFactory()
    spec_with_tests(product, effective_from=timezone.localdate() + timedelta(days=1))
    lot = LotFactory(product=product, produced_on=None, expires_on=None)
    assert qs.judged_on(lot) == timezone.localdate()
    assert qs.lot_quality(lot).specification is None


# --- results at their limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "passed"),
    [
        ("4.0", True),  # the lower limit itself
        ("4.6", True),  # the upper limit itself
        ("3.9999", False),  # just below
        ("4.6001", False),  # just above
        ("4.3", True),
    ],
)
def test_a_result_passes_within_its_limits_edges_included(manager, value, passed):
    spec = spec_with_tests()
    result = record(quarantined_lot(spec), spec, "pH", manager, value=value)
    assert result.passed is passed
    assert result.value == Decimal(value)


def test_an_upper_limit_alone_is_inclusive(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    assert record(lot, spec, "Moisture", manager, value="12").passed
    assert not record(lot, spec, "Moisture", manager, value="12.01").passed


def test_a_qualitative_result_matches_ignoring_case_and_spaces(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    assert record(lot, spec, "Salmonella", manager, text=" Absent  in 25 G ").passed
    assert not record(lot, spec, "Salmonella", manager, text="detected").passed


def test_a_result_in_another_unit_is_refused(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    with pytest.raises(ValidationError) as exc_info:
        record(lot, spec, "Moisture", manager, value="11", unit="g/kg")
    assert _messages(exc_info) == [
        quality.RESULT_UNIT_MISMATCH % {"test": "Moisture", "expected": "%", "given": "g/kg"}
    ]
    assert not TestResult.objects.exists()


def test_a_measured_test_needs_a_number(manager):
    spec = spec_with_tests()
    with pytest.raises(ValidationError) as exc_info:
        record(quarantined_lot(spec), spec, "pH", manager, value="four")
    assert _messages(exc_info) == [quality.RESULT_NOT_A_NUMBER % {"test": "pH", "value": "four"}]


def test_a_result_against_another_version_is_refused(manager):
    product = ReleaseProductFactory()
    v1 = spec_with_tests(product, effective_from=date(2026, 1, 1), version=1)
    v2 = spec_with_tests(product, effective_from=date(2026, 2, 1), version=2)
    lot = quarantined_lot(v2)
    with pytest.raises(ValidationError) as exc_info:
        record(lot, v1, "pH", manager, value="4.2")
    assert _messages(exc_info) == [
        quality.RESULT_OTHER_VERSION % {"lot": lot, "in_force": v2, "test": "pH", "other": v1}
    ]


def test_a_result_dated_in_the_future_is_refused(manager):
    spec = spec_with_tests()
    with pytest.raises(ValidationError) as exc_info:
        record(
            quarantined_lot(spec),
            spec,
            "pH",
            manager,
            value="4.2",
            tested_at=timezone.now() + timedelta(hours=1),
        )
    assert _messages(exc_info) == [quality.RESULT_FUTURE]


def test_results_cannot_be_edited_and_a_correction_supersedes_keeping_the_old(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    wrong = record(lot, spec, "pH", manager, value="7.2")
    wrong.value = Decimal("4.2")
    with pytest.raises(Exception, match="cannot be changed"):
        wrong.save()

    with pytest.raises(ValidationError) as exc_info:
        record(lot, spec, "pH", manager, value="4.2", supersedes=wrong)
    assert _messages(exc_info) == [quality.RESULT_REASON_REQUIRED]

    right = record(
        lot,
        spec,
        "pH",
        manager,
        value="4.2",
        supersedes=wrong,
        correction_reason="Typed 7.2 for 4.2",
        tested_at=wrong.tested_at - timedelta(minutes=5),
    )
    standing = next(s for s in qs.lot_quality(lot).standings if s.test.name == "pH")
    assert standing.result == right and standing.state == qs.PASSED
    assert standing.earlier == [wrong]
    with pytest.raises(ValidationError) as exc_info:
        record(lot, spec, "pH", manager, value="4.3", supersedes=wrong, correction_reason="again")
    assert _messages(exc_info) == [quality.RESULT_ALREADY_SUPERSEDED]


def test_several_results_are_recorded_all_or_none(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    entries = [
        {"specification_test": named_test(spec, "pH"), "value": "4.2", "unit": "pH"},
        {"specification_test": named_test(spec, "Moisture"), "value": "11", "unit": "kg"},
        {"specification_test": named_test(spec, "Salmonella"), "text": ""},
    ]
    with pytest.raises(ValidationError) as exc_info:
        quality.test_results_record_many(lot=lot, entries=entries, acting_user=manager)
    assert _messages(exc_info) == [
        quality.RESULT_UNIT_MISMATCH % {"test": "Moisture", "expected": "%", "given": "kg"},
        quality.RESULT_TEXT_REQUIRED % {"test": "Salmonella"},
    ]
    assert not TestResult.objects.exists()


# --- per-unit results -------------------------------------------------------------------------


def _unit_product_spec():
    product = ReleaseProductFactory(tracking="serial", unit="EA", tests_per_unit=True)
    spec = SpecificationFactory(product=product)
    SpecificationTestFactory(
        specification=spec, name="Leak", unit="Pa", lower_limit=None, upper_limit=Decimal(50)
    )
    return spec


def test_per_unit_results_need_every_unit_of_the_lot(manager):
    spec = _unit_product_spec()
    lot = quarantined_lot(spec)
    first, second = SerialUnitFactory.create_batch(2, product=spec.product, lot=lot)
    test = spec.tests.get()
    with pytest.raises(ValidationError) as exc_info:
        quality.test_result_record(
            lot=lot, specification_test=test, value="10", unit="Pa", acting_user=manager
        )
    assert _messages(exc_info) == [
        quality.RESULT_UNIT_REQUIRED % {"product": spec.product.sku, "lot": lot, "test": "Leak"}
    ]
    quality.test_result_record(
        lot=lot,
        specification_test=test,
        serial_unit=first,
        value="50",
        unit="Pa",
        acting_user=manager,
    )
    standing = qs.lot_quality(lot)
    assert [(s.unit, s.state) for s in standing.standings] == [
        (first, qs.PASSED),
        (second, qs.MISSING),
    ]
    assert standing.missing == [test]
    assert qs.unit_results(first)[0].value == Decimal(50)


def test_a_unit_of_another_lot_is_refused(manager):
    spec = _unit_product_spec()
    lot = quarantined_lot(spec)
    stranger = SerialUnitFactory(product=spec.product, lot=quarantined_lot(spec))
    with pytest.raises(ValidationError) as exc_info:
        quality.test_result_record(
            lot=lot,
            specification_test=spec.tests.get(),
            serial_unit=stranger,
            value="10",
            unit="Pa",
            acting_user=manager,
        )
    assert _messages(exc_info) == [quality.RESULT_UNIT_NOT_IN_LOT % {"unit": stranger, "lot": lot}]


# --- certificates -----------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_certificate_must_be_a_pdf_by_its_content(manager, media):
    supplier = PartyFactory(is_supplier=True)
    fake = SimpleUploadedFile("coa.pdf", b"<html>not a pdf</html>")
    with pytest.raises(ValidationError) as exc_info:
        quality.certificate_upload(
            supplier=supplier,
            number="C-1",
            issued_on=date(2026, 3, 1),
            file=fake,
            acting_user=manager,
        )
    assert exc_info.value.message_dict == {
        "file": [quality.CERTIFICATE_NOT_PDF % {"name": "coa.pdf"}]
    }
    assert not Certificate.objects.exists()


def test_a_certificate_over_the_size_limit_is_refused(manager, media, monkeypatch):
    monkeypatch.setattr(quality, "CERTIFICATE_MAX_SIZE", len(PDF) - 1)
    with pytest.raises(ValidationError) as exc_info:
        quality.certificate_upload(
            supplier=PartyFactory(),
            number="C-1",
            issued_on=date(2026, 3, 1),
            file=SimpleUploadedFile("big.pdf", PDF),
            acting_user=manager,
        )
    assert list(exc_info.value.message_dict) == ["file"]
    assert "big.pdf is" in exc_info.value.message_dict["file"][0]


def test_one_certificate_carries_the_results_of_a_received_lot(manager, media):
    supplier = PartyFactory(is_supplier=True)
    spec = spec_with_tests()
    lot = quarantined_lot(spec, supplier=supplier)
    certificate = quality.certificate_upload(
        supplier=supplier,
        number="COA-77",
        issued_on=date(2026, 3, 1),
        file=SimpleUploadedFile("coa.pdf", PDF),
        acting_user=manager,
    )
    results = quality.test_results_record_many(
        lot=lot,
        entries=[
            {"specification_test": named_test(spec, "pH"), "value": "4.1", "unit": "pH"},
            {"specification_test": named_test(spec, "Salmonella"), "text": "absent in 25 g"},
        ],
        source=TestResult.Source.CERTIFICATE,
        certificate=certificate,
        lab="Supplier lab",
        acting_user=manager,
    )
    assert [r.certificate for r in results] == [certificate, certificate]
    assert certificate.file.read().startswith(b"%PDF-")


def test_a_certificate_of_another_supplier_is_refused(manager, media):
    spec = spec_with_tests()
    lot = quarantined_lot(spec, supplier=PartyFactory(name="Mill"))
    other = quality.certificate_upload(
        supplier=PartyFactory(name="Dairy"),
        number="X",
        issued_on=date(2026, 3, 1),
        file=SimpleUploadedFile("x.pdf", PDF),
        acting_user=manager,
    )
    with pytest.raises(ValidationError) as exc_info:
        record(lot, spec, "pH", manager, value="4.2", source="certificate", certificate=other)
    assert _messages(exc_info) == [
        quality.RESULT_CERTIFICATE_OTHER_SUPPLIER
        % {"number": "X", "certificate_supplier": "Dairy", "lot": lot, "supplier": "Mill"}
    ]


# --- signed release ---------------------------------------------------------------------------


def test_release_with_every_required_test_passed_is_signed_and_changes_status(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record_passing(lot, spec, manager)  # the optional moisture test may be missing

    decision = _sign_release(lot, manager)

    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED
    assert (decision.decision, decision.meaning) == ("released", "release")
    assert decision.specification == spec
    assert decision.signer == manager and decision.signer_name == "manager"
    assert decision.statement == "Meets specification."
    change = decision.status_change
    assert (change.from_status, change.to_status) == ("quarantined", "released")
    assert "Meets specification." in change.reason
    assert change.event.event_type == TraceEvent.Type.STATUS_CHANGE
    assert [t["state"] for t in decision.evidence["tests"]] == ["passed", "passed", "missing"]


def test_release_is_refused_while_a_required_test_is_missing(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record(lot, spec, "pH", manager, value="4.2")
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager)
    assert _messages(exc_info) == [qs.TESTS_MISSING % {"lot": lot, "tests": "Salmonella"}]
    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED
    assert not ReleaseDecision.objects.exists() and not StatusChange.objects.exists()


def test_release_is_refused_while_a_required_test_failed(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record(lot, spec, "pH", manager, value="4.7")
    record(lot, spec, "Salmonella", manager, text="absent in 25 g")
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager)
    assert _messages(exc_info) == [qs.TESTS_FAILED % {"lot": lot, "tests": "pH"}]


def test_a_failed_optional_test_does_not_stop_release(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record_passing(lot, spec, manager)
    record(lot, spec, "Moisture", manager, value="13")
    assert _sign_release(lot, manager).decision == "released"


def test_an_approved_test_deviation_lets_the_lot_be_released(manager, staff):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record(lot, spec, "pH", manager, value="4.7")
    record(lot, spec, "Salmonella", manager, text="absent in 25 g")
    deviation = quality.test_deviation_request(
        lot=lot,
        specification_test=named_test(spec, "pH"),
        description="pH 4.7, 0.1 above",
        acting_user=staff,
    )
    assert (deviation.kind, deviation.specification_test, deviation.item_id) == (
        "test",
        named_test(spec, "pH"),
        lot.pk,
    )
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager)
    assert _messages(exc_info) == [
        qs.TESTS_FAILED % {"lot": lot, "tests": "pH"},
        qs.DEVIATIONS_OPEN % {"lot": lot, "references": deviation.reference},
    ]

    services.deviation_decide(
        deviation=deviation,
        approve=True,
        justification="Within process capability; customer agreed",
        acting_user=manager,
    )
    decision = _sign_release(lot, manager)
    assert decision.evidence["deviations"][0]["status"] == "approved"


def test_a_rejected_deviation_stands_against_the_lot(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record(lot, spec, "Salmonella", manager, text="absent in 25 g")
    deviation = quality.test_deviation_request(
        lot=lot,
        specification_test=named_test(spec, "pH"),
        description="pH meter broken",
        acting_user=manager,
    )
    services.deviation_decide(
        deviation=deviation, approve=False, justification="Test it", acting_user=manager
    )
    record(lot, spec, "pH", manager, value="4.2")
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager)
    assert _messages(exc_info) == [
        qs.DEVIATIONS_REJECTED % {"lot": lot, "references": deviation.reference}
    ]


def test_an_open_excursion_deviation_stops_release(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record_passing(lot, spec, manager)
    excursion = services.deviation_raise(
        item=lot.item, kind=Deviation.Kind.EXCURSION, description="Truck at 9 °C for 3 h"
    )
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager)
    assert _messages(exc_info) == [
        qs.DEVIATIONS_OPEN % {"lot": lot, "references": excursion.reference}
    ]


def test_a_second_deviation_for_the_same_test_is_refused(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    first = quality.test_deviation_request(
        lot=lot, specification_test=named_test(spec, "pH"), description="No pH", acting_user=manager
    )
    with pytest.raises(ValidationError) as exc_info:
        quality.test_deviation_request(
            lot=lot,
            specification_test=named_test(spec, "pH"),
            description="Again",
            acting_user=manager,
        )
    assert _messages(exc_info) == [
        quality.DEVIATION_TEST_STANDING
        % {"reference": first.reference, "status": "open", "test": "pH", "lot": lot}
    ]


def test_a_deviation_for_a_passed_test_is_refused(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record(lot, spec, "pH", manager, value="4.2")
    with pytest.raises(ValidationError) as exc_info:
        quality.test_deviation_request(
            lot=lot, specification_test=named_test(spec, "pH"), description="x", acting_user=manager
        )
    assert _messages(exc_info) == [quality.DEVIATION_TEST_PASSED % {"test": "pH", "lot": lot}]


def test_release_without_a_specification_in_force_is_refused(manager):
    lot = LotFactory(product=ReleaseProductFactory(), status="quarantined")
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager)
    assert _messages(exc_info) == [
        qs.NO_SPECIFICATION % {"lot": lot, "product": lot.product.sku, "date": date(2026, 3, 1)}
    ]


def test_a_product_not_requiring_release_without_specification_is_released_as_before(manager):
    lot = LotFactory(status="on_hold")
    assert _sign_release(lot, manager).specification is None
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED


def test_a_wrong_password_signs_nothing(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record_passing(lot, spec, manager)
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager, password="guess")
    assert exc_info.value.message_dict == {"password": [quality.WRONG_PASSWORD]}
    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED
    assert not ReleaseDecision.objects.exists()


def test_an_empty_statement_signs_nothing(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record_passing(lot, spec, manager)
    with pytest.raises(ValidationError) as exc_info:
        _sign_release(lot, manager, statement="   ")
    assert exc_info.value.message_dict == {"statement": [quality.STATEMENT_REQUIRED]}
    assert not ReleaseDecision.objects.exists()


def test_only_a_quality_manager_signs(staff):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    record_passing(lot, spec, staff)
    with pytest.raises(PermissionDenied):
        _sign_release(lot, staff)
    assert not ReleaseDecision.objects.exists()


def test_rejection_needs_no_tests_and_is_signed(manager):
    spec = spec_with_tests()
    lot = quarantined_lot(spec)
    decision = quality.lot_reject_sign(
        lot=lot, password=PASSWORD, statement="Mould found on receipt", acting_user=manager
    )
    lot.refresh_from_db()
    assert lot.status == Lot.Status.REJECTED
    assert (decision.decision, decision.meaning) == ("rejected", "reject")
    assert decision.status_change.to_status == "rejected"


def test_decisions_are_append_only(manager):
    lot = quarantined_lot(spec_with_tests())
    decision = quality.lot_reject_sign(
        lot=lot, password=PASSWORD, statement="No", acting_user=manager
    )
    decision.statement = "Yes"
    with pytest.raises(Exception, match="cannot be changed"):
        decision.save()
    with pytest.raises(Exception, match="cannot be deleted"):
        ReleaseDecision.objects.all().delete()


def test_a_lot_is_judged_in_a_constant_number_of_queries(manager, django_assert_num_queries):
    spec = _unit_product_spec()
    lot = quarantined_lot(spec)
    units = SerialUnitFactory.create_batch(3, product=spec.product, lot=lot)
    for unit in units:
        quality.test_result_record(
            lot=lot,
            specification_test=spec.tests.get(),
            serial_unit=unit,
            value="10",
            unit="Pa",
            acting_user=manager,
        )
    lot = Lot.objects.select_related("product").get(pk=lot.pk)
    with django_assert_num_queries(6):
        quality_of = qs.lot_quality(lot)
        assert len(quality_of.standings) == 3
        assert quality_of.release_blockers() == []


def test_a_version_cannot_come_into_force_over_lots_already_judged(manager):
    product = ReleaseProductFactory()
    v1 = spec_with_tests(product, effective_from=date(2026, 1, 1), version=1)
    lot = quarantined_lot(v1, produced_on=date(2026, 3, 1))
    record(lot, v1, "pH", manager, value="4.2")
    late = quality.specification_copy_forward(
        specification=v1, effective_from=date(2026, 2, 1), acting_user=manager
    )
    with pytest.raises(ValidationError) as exc_info:
        quality.specification_approve(specification=late, acting_user=manager)
    assert _messages(exc_info) == [
        quality.SPEC_WOULD_REJUDGE
        % {"specification": late, "date": date(2026, 2, 1), "lots": lot.code}
    ]
    assert qs.lot_quality(lot).specification == v1

    later = quality.specification_copy_forward(
        specification=v1, effective_from=date(2026, 3, 2), acting_user=manager
    )
    assert quality.specification_approve(specification=later, acting_user=manager).is_approved
