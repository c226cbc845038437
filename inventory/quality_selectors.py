"""Reads for quality control: the specification a lot is judged against, where each of its tests
stands, what stands in the way of its release, and the lists of results and decisions.

A lot's standing is read in a constant number of queries (specification and tests, results,
units, deviations, decisions), whatever number of tests, units and results it has.
"""

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    Certificate,
    Deviation,
    Lot,
    Product,
    ReleaseDecision,
    SerialUnit,
    Specification,
    SpecificationTest,
    TestResult,
)

PASSED, FAILED, MISSING = "passed", "failed", "missing"

NO_SPECIFICATION = _(
    "%(lot)s cannot be released: %(product)s has no approved specification in force on %(date)s."
)
TESTS_MISSING = _(
    "%(lot)s cannot be released: required tests without a result: %(tests)s. Record their "
    "results, or approve a deviation for each."
)
TESTS_FAILED = _(
    "%(lot)s cannot be released: required tests failed: %(tests)s. Record a passing retest, "
    "or approve a deviation for each."
)
DEVIATIONS_OPEN = _(
    "%(lot)s cannot be released while deviations are open: %(references)s. Approve or reject "
    "them first."
)
DEVIATIONS_REJECTED = _(
    "%(lot)s cannot be released: deviations against it were rejected: %(references)s."
)


def judged_on(lot: Lot) -> date:
    """The date a lot is judged by: its production or receipt date, else the day it was made."""
    return lot.produced_on or timezone.localdate(lot.created_at)


def _tests_prefetch():
    return Prefetch("tests", queryset=SpecificationTest.objects.order_by("order", "name", "pk"))


def specification_in_force(product: Product, on: date) -> Specification | None:
    """The approved version with the latest start on or before `on` (the higher version if two
    start the same day), with its tests in order."""
    return (
        Specification.objects.filter(
            product=product, approved_at__isnull=False, effective_from__lte=on
        )
        .select_related("product", "approved_by")
        .prefetch_related(_tests_prefetch())
        .order_by("-effective_from", "-version")
        .first()
    )


@dataclass
class Standing:
    """Where one test stands for a lot (or for one of its units): its latest result."""

    test: SpecificationTest
    unit: SerialUnit | None = None
    result: TestResult | None = None
    earlier: list = field(default_factory=list)  # the results it corrected, newest first

    @property
    def state(self) -> str:
        if self.result is None:
            return MISSING
        return PASSED if self.result.passed else FAILED


@dataclass
class LotQuality:
    lot: Lot
    judged_on: date
    specification: Specification | None
    standings: list
    units: list
    deviations: list
    decisions: list

    @property
    def tests(self) -> list:
        return list(self.specification.tests.all()) if self.specification else []

    def _covered(self) -> set[int]:
        """Tests an approved deviation of kind “test” excuses on this lot."""
        return {
            deviation.specification_test_id
            for deviation in self.deviations
            if deviation.kind == Deviation.Kind.TEST
            and deviation.status == Deviation.Status.APPROVED
            and deviation.specification_test_id is not None
        }

    def _required_in(self, state: str) -> list:
        seen, tests = set(), []
        for standing in self.standings:
            test = standing.test
            if test.required and standing.state == state and test.pk not in seen:
                seen.add(test.pk)
                tests.append(test)
        return tests

    @property
    def missing(self) -> list:
        return self._required_in(MISSING)

    @property
    def failed(self) -> list:
        missing = {test.pk for test in self.missing}
        return [test for test in self._required_in(FAILED) if test.pk not in missing]

    @property
    def unresolved(self) -> list:
        """Required tests missing or failed that no approved deviation excuses."""
        covered = self._covered()
        tests = [test for test in (*self.missing, *self.failed) if test.pk not in covered]
        return sorted(tests, key=lambda test: (test.order, test.name, test.pk))

    @property
    def open_deviations(self) -> list:
        return [d for d in self.deviations if d.status == Deviation.Status.OPEN]

    @property
    def rejected_deviations(self) -> list:
        return [d for d in self.deviations if d.status == Deviation.Status.REJECTED]

    def deviation_for(self, test) -> Deviation | None:
        """The open or approved test deviation of a test, if there is one."""
        for deviation in self.deviations:
            if deviation.specification_test_id == test.pk and deviation.status in (
                Deviation.Status.OPEN,
                Deviation.Status.APPROVED,
            ):
                return deviation
        return None

    @property
    def rows(self) -> list:
        """Each standing with the deviation that concerns its test, for the pages."""
        return [(standing, self.deviation_for(standing.test)) for standing in self.standings]

    def release_blockers(self) -> list[str]:
        """Why the lot cannot be released now, one sentence a reason; empty when it can."""
        lot, blockers = self.lot, []
        if self.specification is None:
            if lot.product.requires_release:
                blockers.append(
                    str(
                        NO_SPECIFICATION
                        % {"lot": lot, "product": lot.product.sku, "date": self.judged_on}
                    )
                )
        else:
            covered = self._covered()
            missing = [test.name for test in self.missing if test.pk not in covered]
            failed = [test.name for test in self.failed if test.pk not in covered]
            if missing:
                blockers.append(str(TESTS_MISSING % {"lot": lot, "tests": ", ".join(missing)}))
            if failed:
                blockers.append(str(TESTS_FAILED % {"lot": lot, "tests": ", ".join(failed)}))
        if self.open_deviations:
            references = ", ".join(d.reference for d in self.open_deviations)
            blockers.append(str(DEVIATIONS_OPEN % {"lot": lot, "references": references}))
        if self.rejected_deviations:
            references = ", ".join(d.reference for d in self.rejected_deviations)
            blockers.append(str(DEVIATIONS_REJECTED % {"lot": lot, "references": references}))
        return blockers

    def evidence(self) -> dict:
        """What a decision was judged on, kept with the signature as it stood then."""
        return {
            "specification": str(self.specification) if self.specification else None,
            "judged_on": self.judged_on.isoformat(),
            "tests": [
                {
                    "test": standing.test.name,
                    "unit": standing.unit.serial if standing.unit else None,
                    "criterion": standing.test.criterion,
                    "required": standing.test.required,
                    "state": standing.state,
                    "result": standing.result.value_text if standing.result else None,
                    "tested_at": standing.result.tested_at.isoformat() if standing.result else None,
                    "certificate": str(standing.result.certificate)
                    if standing.result and standing.result.certificate
                    else None,
                }
                for standing in self.standings
            ],
            "deviations": [
                {
                    "reference": d.reference,
                    "kind": d.kind,
                    "status": d.status,
                    "test": d.specification_test.name if d.specification_test else None,
                    "justification": d.justification,
                }
                for d in self.deviations
            ],
        }


def lot_units(lot: Lot) -> list:
    return list(SerialUnit.objects.filter(lot=lot).order_by("serial", "pk"))


def lot_quality(lot: Lot) -> LotQuality:
    """Where a lot stands against the specification in force on its date, in six queries."""
    on = judged_on(lot)
    specification = specification_in_force(lot.product, on)
    units = lot_units(lot) if lot.product.tests_per_unit else []
    standings = []
    if specification is not None:
        results = (
            TestResult.objects.filter(lot=lot, specification_test__specification=specification)
            .select_related(
                "tested_by", "certificate__supplier", "serial_unit", "specification_test"
            )
            .order_by("-tested_at", "-pk")
        )
        results = list(results)
        # The latest result not corrected by another stands; a correction supersedes its
        # result even when the retest is dated earlier.
        superseded = {result.supersedes_id for result in results if result.supersedes_id}
        by_key = {}
        for result in results:
            by_key.setdefault((result.specification_test_id, result.serial_unit_id), []).append(
                result
            )
        latest, earlier = {}, {}
        for key, candidates in by_key.items():
            current = [r for r in candidates if r.pk not in superseded] or candidates
            latest[key] = current[0]
            earlier[key] = [r for r in candidates if r is not current[0]]
        for test in specification.tests.all():
            for unit in units or [None]:
                key = (test.pk, unit.pk if unit else None)
                standings.append(Standing(test, unit, latest.get(key), earlier.get(key, [])))
    items = [lot.pk, *(unit.pk for unit in units)]
    deviations = list(
        Deviation.objects.filter(item_id__in=items)
        .select_related("specification_test", "raised_by", "decided_by")
        .order_by("raised_at", "pk")
    )
    decisions = list(
        ReleaseDecision.objects.filter(lot=lot)
        .select_related("specification", "signer")
        .order_by("signed_at", "pk")
    )
    return LotQuality(lot, on, specification, standings, units, deviations, decisions)


def unit_results(unit: SerialUnit) -> list:
    """A serial unit's results, newest first."""
    return list(
        TestResult.objects.filter(serial_unit=unit)
        .select_related("specification_test__specification", "tested_by", "certificate")
        .order_by("-tested_at", "-pk")
    )


# --- lists ----------------------------------------------------------------------------------


def specification_list():
    return Specification.objects.select_related("product", "approved_by").order_by(
        "product__sku", "-version"
    )


def specification_for_page(pk: int) -> Specification:
    return (
        Specification.objects.select_related("product", "approved_by")
        .prefetch_related(_tests_prefetch())
        .get(pk=pk)
    )


def product_specifications(product: Product) -> list:
    return list(
        Specification.objects.filter(product=product)
        .select_related("approved_by")
        .order_by("-version")
    )


def specification_result_count(specification: Specification) -> int:
    return TestResult.objects.filter(specification_test__specification=specification).count()


def test_result_list():
    return TestResult.objects.select_related(
        "lot__product",
        "serial_unit",
        "specification_test__specification",
        "tested_by",
        "certificate__supplier",
        "superseded_by",
    ).order_by("-tested_at", "-pk")


def release_decision_list():
    return ReleaseDecision.objects.select_related(
        "lot__product", "specification", "signer"
    ).order_by("-signed_at", "-pk")


def deviation_list():
    return Deviation.objects.select_related(
        "item__lot__product",
        "item__serialunit__product",
        "specification_test",
        "raised_by",
        "decided_by",
    ).order_by("-raised_at", "-pk")


def deviation_for_page(reference: str) -> Deviation:
    return deviation_list().get(reference=reference)


def certificate_for_file(pk: int) -> Certificate | None:
    return Certificate.objects.select_related("supplier").filter(pk=pk).first()


def supplier_certificates(supplier) -> list:
    if supplier is None:
        return []
    return list(Certificate.objects.filter(supplier=supplier).order_by("-issued_on", "-pk")[:50])


# --- dashboard ------------------------------------------------------------------------------


def lots_awaiting_release(limit: int = 10):
    """Quarantined lots of products that require release, oldest first: next to be judged."""
    return (
        Lot.objects.filter(status=Lot.Status.QUARANTINED, product__requires_release=True)
        .select_related("product")
        .order_by("produced_on", "pk")[:limit]
    )


def recent_release_decisions(decision: str, limit: int = 5):
    return (
        ReleaseDecision.objects.filter(decision=decision)
        .select_related("lot__product")
        .order_by("-signed_at", "-pk")[:limit]
    )


def open_deviations(limit: int = 10):
    return (
        Deviation.objects.filter(status=Deviation.Status.OPEN)
        .select_related("item__lot__product", "item__serialunit__product", "specification_test")
        .order_by("raised_at", "pk")[:limit]
    )


def open_deviation_count() -> int:
    return Deviation.objects.filter(status=Deviation.Status.OPEN).count()
