"""Quality control writes: specifications and their versions, test results, certificates of
analysis, test deviations and signed release decisions.

A module of its own beside services.py (whose helpers it uses), so specifications and release
stay in one place and apart from the process-condition work that shares the deviations.
"""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import locks
from . import quality_selectors as selectors
from .models import (
    Certificate,
    Deviation,
    Lot,
    Party,
    Product,
    ReleaseDecision,
    SerialUnit,
    Specification,
    SpecificationTest,
    StatusChange,
    TestResult,
)
from .services import _save, deviation_raise, lot_reject, lot_release, service

SPEC_FROZEN = _(
    "%(specification)s is approved, so lots may be judged against it, and cannot be changed; "
    "copy it forward to a new version instead."
)
SPEC_ALREADY_APPROVED = _("%(specification)s is already approved.")
SPEC_NO_TESTS = _("%(specification)s has no tests; add them before approving it.")
SPEC_WOULD_REJUDGE = _(
    "%(specification)s cannot come into force on %(date)s: lots from that date on were already "
    "tested or decided against another version (%(lots)s); choose a later date."
)
SPEC_TEST_FIELDS = (
    "name",
    "method",
    "unit",
    "lower_limit",
    "upper_limit",
    "expected_text",
    "required",
    "order",
)

RESULT_NO_SPECIFICATION = _(
    "%(product)s has no approved specification in force on %(date)s, the date %(lot)s is "
    "judged by; approve one before recording results."
)
RESULT_OTHER_VERSION = _("%(lot)s is judged against %(in_force)s; “%(test)s” belongs to %(other)s.")
RESULT_UNIT_MISMATCH = _(
    "“%(test)s” is reported in “%(expected)s”, not in “%(given)s”; convert the value first."
)
RESULT_VALUE_REQUIRED = _("“%(test)s” is measured: enter a number.")
RESULT_NOT_A_NUMBER = _("“%(test)s” is measured: “%(value)s” is not a number.")
RESULT_TEXT_REQUIRED = _("“%(test)s” is qualitative: enter what was found.")
RESULT_TEXT_FOR_NUMBER = _("“%(test)s” is measured: give a number, not text.")
RESULT_FUTURE = _("A test cannot be dated after now.")
RESULT_UNIT_REQUIRED = _(
    "%(product)s is tested per serial unit: say which unit of %(lot)s “%(test)s” was done on."
)
RESULT_UNIT_NOT_IN_LOT = _("%(unit)s is not a unit of %(lot)s.")
RESULT_UNIT_NOT_TESTED = _("%(product)s is tested per lot, not per serial unit.")
RESULT_CERTIFICATE_REQUIRED = _("Pick or upload the supplier's certificate the results are from.")
RESULT_CERTIFICATE_OTHER_SUPPLIER = _(
    "Certificate %(number)s is from %(certificate_supplier)s, but %(lot)s came from %(supplier)s."
)
RESULT_SUPERSEDE_OTHER = _(
    "A correction replaces a result of the same test on the same lot or unit."
)
RESULT_ALREADY_SUPERSEDED = _("This result was already corrected; correct the latest one instead.")
RESULT_REASON_REQUIRED = _("Say why the result is corrected.")
RESULTS_NONE = _("Enter at least one result.")

CERTIFICATE_MAX_SIZE = 10 * 1024 * 1024
CERTIFICATE_NOT_PDF = _("%(name)s is not a PDF file.")
CERTIFICATE_TOO_BIG = _("%(name)s is %(size)s; a certificate may be up to %(limit)s.")
CERTIFICATE_NUMBER_REQUIRED = _("Give the certificate's number.")
CERTIFICATE_FUTURE = _("A certificate cannot be issued after today, %(today)s.")

SIGN_FORBIDDEN = _("Only a quality manager signs the release or rejection of a lot.")
STATEMENT_REQUIRED = _("Write the statement you sign.")
WRONG_PASSWORD = _("The password is not correct; the signature needs your own password.")
RELEASE_REASON = _("Released, signed by %(name)s: %(statement)s")
REJECT_REASON = _("Rejected, signed by %(name)s: %(statement)s")

DEVIATION_TEST_NOT_IN_FORCE = _(
    "“%(test)s” is not a test of %(in_force)s, the specification %(lot)s is judged against."
)
DEVIATION_TEST_STANDING = _("%(reference)s is already %(status)s for “%(test)s” on %(lot)s.")
DEVIATION_TEST_PASSED = _("“%(test)s” passed on %(lot)s; there is nothing to deviate from.")


# --- Specifications -------------------------------------------------------------------------


def _refuse_if_frozen(specification: Specification) -> None:
    if specification.is_approved:
        raise ValidationError(SPEC_FROZEN % {"specification": specification}, code="frozen")


def _test_save(test: SpecificationTest, *, acting_user) -> SpecificationTest:
    test.name = test.name.strip()
    test.unit = test.unit.strip()
    test.expected_text = test.expected_text.strip()
    return _save(test, acting_user=acting_user)


@service
def specification_create(
    *,
    product: Product,
    effective_from: date,
    acting_user,
    tests: Iterable[dict] = (),
    notes: str = "",
) -> Specification:
    """A new draft version of a product's specification, numbered after the last one."""
    locks.lock_record(product)  # two new versions at once would take the same number
    last = Specification.objects.filter(product=product).aggregate(last=Max("version"))["last"]
    specification = _save(
        Specification(
            product=product,
            version=(last or 0) + 1,
            effective_from=effective_from,
            notes=(notes or "").strip(),
        ),
        acting_user=acting_user,
    )
    for fields in tests:
        _test_save(SpecificationTest(specification=specification, **fields), acting_user=None)
    return specification


@service
def specification_test_add(
    *, specification: Specification, acting_user, **fields
) -> SpecificationTest:
    """Add a test to a draft version."""
    specification = locks.lock_record(specification)
    _refuse_if_frozen(specification)
    return _test_save(
        SpecificationTest(specification=specification, **fields), acting_user=acting_user
    )


@service
def specification_test_update(*, test: SpecificationTest, acting_user, **fields):
    """Change a test of a draft version; an approved version is copied forward instead."""
    specification = locks.lock_record(test.specification)
    _refuse_if_frozen(specification)
    for name, value in fields.items():
        if name not in SPEC_TEST_FIELDS:
            raise TypeError(f"A specification test has no field {name!r} to change.")
        setattr(test, name, value)
    return _test_save(test, acting_user=acting_user)


@service
def specification_copy_forward(
    *, specification: Specification, effective_from: date, acting_user, notes: str = ""
) -> Specification:
    """The next version, a draft starting as a copy of this one's tests: how a specification in
    use is changed without touching what lots were judged against."""
    tests = [
        {name: getattr(test, name) for name in SPEC_TEST_FIELDS}
        for test in specification.tests.order_by("order", "pk")
    ]
    return specification_create(
        product=specification.product,
        effective_from=effective_from,
        tests=tests,
        notes=notes or specification.notes,
        acting_user=acting_user,
    )


@service
def specification_approve(*, specification: Specification, acting_user) -> Specification:
    """Approve a draft: from its start date on, new lots are judged against it."""
    specification = locks.lock_record(specification)
    if specification.is_approved:
        raise ValidationError(
            SPEC_ALREADY_APPROVED % {"specification": specification}, code="approved"
        )
    if not specification.tests.exists():
        raise ValidationError(SPEC_NO_TESTS % {"specification": specification}, code="no_tests")
    judged = _lots_judged_from(specification)
    if judged:
        raise ValidationError(
            SPEC_WOULD_REJUDGE
            % {
                "specification": specification,
                "date": specification.effective_from,
                "lots": ", ".join(judged),
            },
            code="rejudge",
        )
    specification.approved_by = acting_user
    specification.approved_at = timezone.now()
    return _save(specification, acting_user=acting_user, reason=str(_("Approved")))


def _lots_judged_from(specification: Specification, limit: int = 5) -> list[str]:
    """Codes of the product's lots, judged on or after the version's start, that already have
    results or decisions against another version: approving it would judge them anew."""
    start = specification.effective_from
    from_start = Q(produced_on__gte=start) | Q(
        produced_on__isnull=True, created_at__gte=_day_start(start)
    )
    others = Specification.objects.filter(product=specification.product).exclude(
        pk=specification.pk
    )
    lots = (
        Lot.objects.filter(from_start, product=specification.product)
        .filter(
            Q(test_results__specification_test__specification__in=others)
            | Q(release_decisions__specification__in=others)
        )
        .order_by("code")
        .values_list("code", flat=True)
        .distinct()
    )
    return list(lots[:limit])


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


# --- Certificates of analysis ---------------------------------------------------------------


def certificate_file_check(file) -> None:
    """Refuse a file that is too big or is not a PDF (by its content, not its name)."""
    name = getattr(file, "name", "") or str(_("The file"))
    if file.size > CERTIFICATE_MAX_SIZE:
        raise ValidationError(
            CERTIFICATE_TOO_BIG
            % {
                "name": name,
                "size": filesizeformat(file.size),
                "limit": filesizeformat(CERTIFICATE_MAX_SIZE),
            },
            code="too_big",
        )
    file.seek(0)
    head = file.read(5)
    file.seek(0)
    if head != b"%PDF-":
        raise ValidationError(CERTIFICATE_NOT_PDF % {"name": name}, code="not_pdf")


@service
def certificate_upload(
    *, supplier: Party, number: str, issued_on: date, file, acting_user
) -> Certificate:
    """File a supplier's certificate of analysis (a PDF) to record its results against."""
    number = (number or "").strip()
    errors = {}
    if not number:
        errors["number"] = CERTIFICATE_NUMBER_REQUIRED
    today = timezone.localdate()
    if issued_on and issued_on > today:
        errors["issued_on"] = CERTIFICATE_FUTURE % {"today": today}
    try:
        certificate_file_check(file)
    except ValidationError as exc:
        errors["file"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return _save(
        Certificate(
            supplier=supplier,
            number=number,
            issued_on=issued_on,
            file=file,
            uploaded_by=acting_user,
        ),
        acting_user=acting_user,
    )


# --- Test results ---------------------------------------------------------------------------


def _value(test: SpecificationTest, value) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(
            RESULT_NOT_A_NUMBER % {"test": test.name, "value": text}, code="not_a_number"
        ) from exc


def _result_build(
    *,
    lot: Lot,
    specification_test: SpecificationTest,
    specification: Specification | None,
    acting_user,
    value=None,
    text: str = "",
    unit: str = "",
    tested_at: datetime | None = None,
    serial_unit: SerialUnit | None = None,
    performed_by: str = "",
    lab: str = "",
    instrument: str = "",
    source: str = TestResult.Source.IN_HOUSE,
    certificate: Certificate | None = None,
    supersedes: TestResult | None = None,
    correction_reason: str = "",
) -> TestResult:
    test = specification_test
    product = lot.product
    if specification is None:
        raise ValidationError(
            RESULT_NO_SPECIFICATION
            % {"product": product.sku, "date": selectors.judged_on(lot), "lot": lot},
            code="no_specification",
        )
    if test.specification_id != specification.pk:
        raise ValidationError(
            RESULT_OTHER_VERSION
            % {
                "lot": lot,
                "in_force": specification,
                "test": test.name,
                "other": test.specification,
            },
            code="other_version",
        )
    if product.tests_per_unit:
        if serial_unit is None:
            raise ValidationError(
                RESULT_UNIT_REQUIRED % {"product": product.sku, "lot": lot, "test": test.name},
                code="unit_required",
            )
        if serial_unit.lot_id != lot.pk:
            raise ValidationError(
                RESULT_UNIT_NOT_IN_LOT % {"unit": serial_unit, "lot": lot}, code="unit_not_in_lot"
            )
    elif serial_unit is not None:
        raise ValidationError(
            RESULT_UNIT_NOT_TESTED % {"product": product.sku}, code="unit_not_tested"
        )
    unit = (unit or "").strip()
    text = (text or "").strip()
    value = _value(test, value)
    if test.is_numeric:
        if text:
            raise ValidationError(RESULT_TEXT_FOR_NUMBER % {"test": test.name}, code="text")
        if value is None:
            raise ValidationError(RESULT_VALUE_REQUIRED % {"test": test.name}, code="value")
        if unit != test.unit:
            raise ValidationError(
                RESULT_UNIT_MISMATCH
                % {"test": test.name, "expected": test.unit or _("no unit"), "given": unit},
                code="unit_mismatch",
            )
    else:
        if not text:
            raise ValidationError(RESULT_TEXT_REQUIRED % {"test": test.name}, code="text")
        value = None
        unit = test.unit
    now = timezone.now()
    tested_at = tested_at or now
    if tested_at > now:
        raise ValidationError(RESULT_FUTURE, code="future")
    if source == TestResult.Source.CERTIFICATE:
        if certificate is None:
            raise ValidationError(RESULT_CERTIFICATE_REQUIRED, code="certificate")
        if lot.supplier_id is not None and certificate.supplier_id != lot.supplier_id:
            raise ValidationError(
                RESULT_CERTIFICATE_OTHER_SUPPLIER
                % {
                    "number": certificate.number,
                    "certificate_supplier": certificate.supplier.name,
                    "lot": lot,
                    "supplier": lot.supplier.name,
                },
                code="certificate_supplier",
            )
    else:
        certificate = None
    correction_reason = (correction_reason or "").strip()
    if supersedes is not None:
        if (
            supersedes.lot_id != lot.pk
            or supersedes.specification_test_id != test.pk
            or supersedes.serial_unit_id != (serial_unit.pk if serial_unit else None)
        ):
            raise ValidationError(RESULT_SUPERSEDE_OTHER, code="supersede_other")
        if TestResult.objects.filter(supersedes=supersedes).exists():
            raise ValidationError(RESULT_ALREADY_SUPERSEDED, code="superseded")
        if not correction_reason:
            raise ValidationError(
                {"correction_reason": RESULT_REASON_REQUIRED}, code="reason_required"
            )
    result = TestResult(
        lot=lot,
        serial_unit=serial_unit,
        specification_test=test,
        value=value,
        text=text,
        unit=unit,
        passed=test.passes(value=value, text=text),
        tested_at=tested_at,
        tested_by=acting_user,
        performed_by=(performed_by or "").strip(),
        lab=(lab or "").strip(),
        instrument=(instrument or "").strip(),
        source=source,
        certificate=certificate,
        supersedes=supersedes,
        correction_reason=correction_reason,
    )
    result.full_clean()
    return result


@service
def test_result_record(*, lot: Lot, specification_test: SpecificationTest, acting_user, **fields):
    """Record one result of a lot (or of one of its units), judged against the test's limits
    (edges included); a correction names the result it supersedes, which stays on file."""
    specification = selectors.specification_in_force(lot.product, selectors.judged_on(lot))
    result = _result_build(
        lot=lot,
        specification_test=specification_test,
        specification=specification,
        acting_user=acting_user,
        **fields,
    )
    result.save()
    return result


@service
def test_results_record_many(
    *, lot: Lot, entries: list[dict], acting_user, **shared
) -> list[TestResult]:
    """Record several results of a lot at once (a lab sheet, a certificate): all, or none and
    every problem named by its test."""
    if not entries:
        raise ValidationError(RESULTS_NONE, code="none")
    specification = selectors.specification_in_force(lot.product, selectors.judged_on(lot))
    results, problems = [], []
    for entry in entries:
        try:
            results.append(
                _result_build(
                    lot=lot,
                    specification=specification,
                    acting_user=acting_user,
                    **{**shared, **entry},
                )
            )
        except ValidationError as exc:
            problems.extend(exc.messages)
    if problems:
        raise ValidationError(problems, code="results")
    for result in results:
        result.save()
    return results


# --- Deviations from a test -----------------------------------------------------------------


@service
def test_deviation_request(
    *, lot: Lot, specification_test: SpecificationTest, description: str, acting_user
) -> Deviation:
    """Ask for a deviation for a required test missing or failed on a lot, for a manager to
    approve (the lot may then be released despite it) or reject."""
    quality = selectors.lot_quality(lot)
    if quality.specification is None or specification_test.specification_id != (
        quality.specification.pk
    ):
        raise ValidationError(
            DEVIATION_TEST_NOT_IN_FORCE
            % {
                "test": specification_test.name,
                "in_force": quality.specification or _("no specification"),
                "lot": lot,
            },
            code="not_in_force",
        )
    standing = quality.deviation_for(specification_test)
    if standing is not None:
        raise ValidationError(
            DEVIATION_TEST_STANDING
            % {
                "reference": standing.reference,
                "status": standing.get_status_display(),
                "test": specification_test.name,
                "lot": lot,
            },
            code="standing",
        )
    states = {s.state for s in quality.standings if s.test.pk == specification_test.pk}
    if states == {selectors.PASSED}:
        raise ValidationError(
            DEVIATION_TEST_PASSED % {"test": specification_test.name, "lot": lot}, code="passed"
        )
    return deviation_raise(
        item=lot.item,
        kind=Deviation.Kind.TEST,
        description=description,
        acting_user=acting_user,
        specification_test=specification_test,
    )


# --- Signed release and rejection -----------------------------------------------------------


def _signature_check(*, acting_user, password: str, statement: str) -> str:
    if not acting_user.has_perm("inventory.sign_releasedecision"):
        raise PermissionDenied(SIGN_FORBIDDEN)
    statement = (statement or "").strip()
    errors = {}
    if not statement:
        errors["statement"] = STATEMENT_REQUIRED
    if not password or not acting_user.check_password(password):
        errors["password"] = WRONG_PASSWORD
    if errors:
        raise ValidationError(errors, code="signature")
    return statement


def _decide(*, lot: Lot, decision: str, password: str, statement: str, acting_user):
    statement = _signature_check(acting_user=acting_user, password=password, statement=statement)
    lot = locks.lock_item(lot)
    quality = selectors.lot_quality(lot)
    released = decision == ReleaseDecision.Decision.RELEASED
    if released:
        blockers = quality.release_blockers()
        if blockers:
            raise ValidationError(blockers, code="release_refused")
    name = acting_user.get_full_name() or acting_user.get_username()
    reason = (RELEASE_REASON if released else REJECT_REASON) % {
        "name": name,
        "statement": statement,
    }
    if released:
        lot = lot_release(lot=lot, reason=reason, acting_user=acting_user, signed=True)
    else:
        lot = lot_reject(lot=lot, reason=reason, acting_user=acting_user)
    change = StatusChange.objects.filter(item_id=lot.pk).latest("pk")
    decision = ReleaseDecision(
        lot=lot,
        decision=decision,
        meaning=ReleaseDecision.Meaning.RELEASE if released else ReleaseDecision.Meaning.REJECT,
        statement=statement,
        signer=acting_user,
        signer_name=name,
        signed_at=change.changed_at,
        specification=quality.specification,
        evidence=quality.evidence(),
        status_change=change,
    )
    return _save(decision, acting_user=acting_user)


@service
def lot_release_sign(*, lot: Lot, password: str, statement: str, acting_user) -> ReleaseDecision:
    """Release a lot, signed: refused while a required test of the specification in force is
    missing or failed without an approved deviation, or a deviation on it is open or rejected."""
    return _decide(
        lot=lot,
        decision=ReleaseDecision.Decision.RELEASED,
        password=password,
        statement=statement,
        acting_user=acting_user,
    )


@service
def lot_reject_sign(*, lot: Lot, password: str, statement: str, acting_user) -> ReleaseDecision:
    """Reject a lot, signed; needs no test results."""
    return _decide(
        lot=lot,
        decision=ReleaseDecision.Decision.REJECTED,
        password=password,
        statement=statement,
        acting_user=acting_user,
    )


@service
def lot_results_enter(
    *,
    lot: Lot,
    entries: list[dict],
    acting_user,
    new_certificate: dict | None = None,
    **shared,
) -> list[TestResult]:
    """The result entry page's write: a new supplier certificate (if one is uploaded) and the
    results it or the lab sheet carries, together or not at all."""
    if new_certificate is None:
        return test_results_record_many(lot=lot, entries=entries, acting_user=acting_user, **shared)
    if not entries:
        raise ValidationError(RESULTS_NONE, code="none")
    certificate = certificate_upload(
        supplier=lot.supplier, acting_user=acting_user, **new_certificate
    )
    try:
        return test_results_record_many(
            lot=lot, entries=entries, acting_user=acting_user, certificate=certificate, **shared
        )
    except ValidationError:
        # The certificate's row goes with the transaction; its file would stay behind.
        certificate.file.delete(save=False)
        raise
