"""Warranty claims (issue #7): opened, decided against the warranty end (or a manager's
override), repaired or replaced, then closed; every rule says what is wrong in a sentence."""

import threading
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from inventory import selectors
from inventory.models import (
    Genealogy,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    TraceEvent,
    UnitReturn,
    WarrantyClaim,
)
from inventory.services import (
    CLAIM_ALREADY_OPEN,
    CLAIM_CLOSED,
    CLAIM_DECIDE_FORBIDDEN,
    CLAIM_FAULT_REQUIRED,
    CLAIM_NEEDS_OVERRIDE,
    CLAIM_NOT_APPROVED,
    CLAIM_NOT_OPEN,
    CLAIM_NOT_RESOLVED,
    CLAIM_OVERRIDE_FORBIDDEN,
    CLAIM_OVERRIDE_REASON,
    CLAIM_REJECT_REASON,
    CLAIM_REPLACE_FORBIDDEN,
    CLAIM_REPLACEMENT_OTHER_PRODUCT,
    CLAIM_REPORTED_BEFORE_MADE,
    CLAIM_REPORTED_FUTURE,
    CLAIM_RETURN_OTHER_UNIT,
    REPLACEMENT_NOT_AVAILABLE,
    serial_unit_install,
    warranty_claim_close,
    warranty_claim_decide,
    warranty_claim_open,
    warranty_claim_repair,
    warranty_claim_replace,
)
from inventory.trace import Direction, trace

from .factories import (
    PartyFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    TraceEventFactory,
    UserFactory,
)

TODAY = timezone.localdate()
MADE = TODAY - timedelta(days=400)


def messages(exc_info) -> list[str]:
    return exc_info.value.messages


@pytest.fixture
def customer(db):
    return PartyFactory(name="Cascade Logistics")


@pytest.fixture
def product(db):
    return SerialProductFactory(sku="DEV-HX2", name="HX2 handheld", warranty_months=24)


def shipped_unit(product, customer, *, ends_on, serial=None):
    """A unit with the customer, its warranty ending on `ends_on`."""
    return SerialUnitFactory(
        product=product,
        **({"serial": serial} if serial else {}),
        produced_on=MADE,
        status=SerialUnit.Status.SHIPPED,
        holder_site=None,
        holder_party=customer,
        shipped_on=MADE + timedelta(days=10),
        warranty_ends_on=ends_on,
        warranty_overridden=True,
    )


@pytest.fixture
def unit(product, customer):
    return shipped_unit(product, customer, ends_on=TODAY + timedelta(days=30), serial="HX2-0001")


@pytest.fixture
def expired_unit(product, customer):
    return shipped_unit(product, customer, ends_on=TODAY - timedelta(days=90), serial="HX2-0002")


@pytest.fixture
def in_stock(product):
    return SerialUnitFactory(product=product, serial="HX2-0100", produced_on=MADE)


@pytest.fixture
def decider(db):
    """May decide claims, but not override the warranty."""
    user = UserFactory(username="decider")
    user.user_permissions.add(Permission.objects.get(codename="decide_warrantyclaim"))
    return user


def open_claim(unit, user, *, reported_on=TODAY, fault="Shuts down at 30 % in the cold."):
    return warranty_claim_open(
        serial_unit=unit, fault=fault, reported_on=reported_on, acting_user=user
    )


def approved(unit, manager, **kwargs):
    claim = open_claim(unit, manager, **kwargs)
    return warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)


# --- Opening --------------------------------------------------------------------------------


def test_opening_numbers_the_claim_and_notes_the_warranty_end_and_holder(unit, customer, staff):
    claim = open_claim(unit, staff)

    assert claim.number == f"WC-{TODAY.year}-0001"
    assert claim.status == WarrantyClaim.Status.OPEN
    assert claim.warranty_ends_on == unit.warranty_ends_on
    assert claim.claimant == customer
    assert claim.opened_by == staff
    assert claim.covered is True


def test_the_next_claim_takes_the_next_number(unit, expired_unit, staff):
    open_claim(unit, staff)

    assert open_claim(expired_unit, staff).number == f"WC-{TODAY.year}-0002"


def test_a_named_claimant_is_kept_rather_than_the_holder(unit, staff):
    reseller = PartyFactory(name="Tristate Distribution")

    claim = warranty_claim_open(
        serial_unit=unit, fault="Cracked.", reported_on=TODAY, claimant=reseller, acting_user=staff
    )

    assert claim.claimant == reseller


def test_a_second_open_claim_for_the_unit_is_refused(unit, staff):
    first = open_claim(unit, staff)

    with pytest.raises(ValidationError) as exc_info:
        open_claim(unit, staff)

    assert messages(exc_info) == [CLAIM_ALREADY_OPEN % {"unit": unit, "number": first.number}]
    assert WarrantyClaim.objects.count() == 1


def test_a_unit_gets_a_new_claim_once_the_last_is_closed(unit, manager):
    claim = open_claim(unit, manager)
    claim = warranty_claim_decide(
        claim=claim, approve=False, reason="Drop damage.", acting_user=manager
    )
    warranty_claim_close(claim=claim, note="", acting_user=manager)

    assert open_claim(unit, manager).status == WarrantyClaim.Status.OPEN


def test_a_fault_reported_after_today_is_refused(unit, staff):
    with pytest.raises(ValidationError) as exc_info:
        open_claim(unit, staff, reported_on=TODAY + timedelta(days=1))

    assert messages(exc_info) == [CLAIM_REPORTED_FUTURE % {"today": TODAY.isoformat()}]
    assert not WarrantyClaim.objects.exists()


def test_a_fault_reported_before_the_unit_was_made_is_refused(unit, staff):
    with pytest.raises(ValidationError) as exc_info:
        open_claim(unit, staff, reported_on=MADE - timedelta(days=1))

    assert messages(exc_info) == [
        CLAIM_REPORTED_BEFORE_MADE % {"unit": unit, "made": MADE.isoformat()}
    ]


def test_a_claim_without_a_fault_is_refused_and_takes_no_number(unit, expired_unit, staff):
    with pytest.raises(ValidationError) as exc_info:
        open_claim(unit, staff, fault="   ")

    assert messages(exc_info) == [CLAIM_FAULT_REQUIRED]
    assert open_claim(expired_unit, staff).number == f"WC-{TODAY.year}-0001"


# --- Coverage and the decision ----------------------------------------------------------------


def test_approving_a_covered_claim_records_who_and_when(unit, manager):
    claim = open_claim(unit, manager)

    claim = warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    assert claim.status == WarrantyClaim.Status.APPROVED
    assert (claim.covered, claim.overridden) == (True, False)
    assert claim.decided_by == manager
    assert claim.decided_at is not None


def test_a_fault_reported_on_the_last_day_of_the_warranty_is_covered(product, customer, manager):
    unit = shipped_unit(product, customer, ends_on=TODAY)

    claim = approved(unit, manager, reported_on=TODAY)

    assert (claim.status, claim.covered) == (WarrantyClaim.Status.APPROVED, True)


def test_a_fault_reported_the_day_after_the_warranty_ended_needs_an_override(
    product, customer, manager
):
    end = TODAY - timedelta(days=1)
    claim = open_claim(shipped_unit(product, customer, ends_on=end), manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    why = selectors.NOT_COVERED_ENDED % {"end": end.isoformat()}
    assert messages(exc_info) == [CLAIM_NEEDS_OVERRIDE % {"why": why}]
    claim.refresh_from_db()
    assert claim.status == WarrantyClaim.Status.OPEN


def test_a_unit_not_yet_shipped_is_not_covered_and_the_refusal_says_so(product, manager):
    unit = SerialUnitFactory(product=product, produced_on=MADE)
    claim = open_claim(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    why = selectors.NOT_COVERED_NOT_SHIPPED % {"unit": unit}
    assert messages(exc_info) == [CLAIM_NEEDS_OVERRIDE % {"why": why}]


def test_a_product_without_warranty_is_not_covered_and_the_refusal_says_so(customer, manager):
    product = SerialProductFactory(name="Demo kit", warranty_months=None)
    unit = SerialUnitFactory(product=product, produced_on=MADE, holder_site=None)
    claim = open_claim(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    why = selectors.NOT_COVERED_NO_WARRANTY % {"product": "Demo kit"}
    assert messages(exc_info) == [CLAIM_NEEDS_OVERRIDE % {"why": why}]


def test_a_manager_overrides_an_uncovered_claim_with_a_reason(expired_unit, manager):
    claim = open_claim(expired_unit, manager)

    claim = warranty_claim_decide(
        claim=claim,
        approve=True,
        override=True,
        reason="Key account; the fault is a known moulding defect.",
        acting_user=manager,
    )

    assert claim.status == WarrantyClaim.Status.APPROVED
    assert (claim.covered, claim.overridden) == (False, True)
    assert claim.decision_reason == "Key account; the fault is a known moulding defect."


def test_an_override_without_a_reason_is_refused(expired_unit, manager):
    claim = open_claim(expired_unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(
            claim=claim, approve=True, override=True, reason=" ", acting_user=manager
        )

    assert messages(exc_info) == [CLAIM_OVERRIDE_REASON]


def test_an_override_by_someone_without_the_override_right_is_refused(expired_unit, decider):
    claim = open_claim(expired_unit, decider)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(
            claim=claim, approve=True, override=True, reason="Goodwill.", acting_user=decider
        )

    assert messages(exc_info) == [CLAIM_OVERRIDE_FORBIDDEN]
    claim.refresh_from_db()
    assert claim.status == WarrantyClaim.Status.OPEN


def test_the_override_right_is_not_needed_to_approve_a_covered_claim(unit, decider):
    claim = open_claim(unit, decider)

    claim = warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=decider)

    assert claim.status == WarrantyClaim.Status.APPROVED


def test_an_override_on_a_covered_claim_is_no_override(unit, manager):
    claim = open_claim(unit, manager)

    claim = warranty_claim_decide(
        claim=claim, approve=True, override=True, reason="", acting_user=manager
    )

    assert claim.overridden is False


def test_rejecting_needs_a_reason(unit, manager):
    claim = open_claim(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(claim=claim, approve=False, reason="", acting_user=manager)

    assert messages(exc_info) == [CLAIM_REJECT_REASON]


def test_rejecting_keeps_the_reason(unit, manager):
    claim = open_claim(unit, manager)

    claim = warranty_claim_decide(
        claim=claim, approve=False, reason="Water damage.", acting_user=manager
    )

    assert claim.status == WarrantyClaim.Status.REJECTED
    assert claim.decision_reason == "Water damage."


def test_staff_cannot_decide_a_claim(unit, staff):
    claim = open_claim(unit, staff)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=staff)

    assert messages(exc_info) == [CLAIM_DECIDE_FORBIDDEN]


def test_a_decided_claim_is_not_decided_again(unit, manager):
    claim = approved(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_decide(
            claim=claim, approve=False, reason="Changed my mind.", acting_user=manager
        )

    assert messages(exc_info) == [CLAIM_NOT_OPEN % {"number": claim.number, "status": "approved"}]


# --- Repair -----------------------------------------------------------------------------------


def test_an_open_claim_cannot_be_repaired(unit, manager):
    claim = open_claim(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_repair(
            claim=claim, performed_on=TODAY, description="New pack.", acting_user=manager
        )

    assert messages(exc_info) == [
        CLAIM_NOT_APPROVED % {"number": claim.number, "status": "awaiting decision"}
    ]
    assert not ServiceRecord.objects.exists()


def test_the_repair_is_a_service_record_linked_to_the_claim(unit, manager):
    claim = approved(unit, manager)

    claim = warranty_claim_repair(
        claim=claim,
        performed_on=TODAY,
        description="Replaced the battery pack.",
        technician="Luis Ortega",
        acting_user=manager,
    )

    record = claim.service_record
    assert claim.status == WarrantyClaim.Status.REPAIRED
    assert (record.kind, record.outcome) == (
        ServiceRecord.Kind.REPAIR,
        ServiceRecord.Outcome.REPAIRED,
    )
    assert record.serial_unit == unit
    assert record.event.event_type == TraceEvent.Type.REPAIR


def test_a_part_fitted_in_the_repair_is_traced_to_the_unit(unit, manager):
    part_product = SerialProductFactory(sku="BAT-HX2")
    old_pack = SerialUnitFactory(product=part_product, serial="BP-1", produced_on=MADE)
    new_pack = SerialUnitFactory(product=part_product, serial="BP-2", produced_on=MADE)
    serial_unit_install(component=old_pack, assembly=unit, acting_user=manager)
    claim = approved(unit, manager)

    warranty_claim_repair(
        claim=claim,
        performed_on=TODAY,
        description="Swapped the pack.",
        parts_removed=[SerialUnit.objects.get(pk=old_pack.pk)],
        parts_fitted=[new_pack],
        acting_user=manager,
    )

    assert SerialUnit.objects.get(pk=new_pack.pk).installed_in == unit
    assert SerialUnit.objects.get(pk=old_pack.pk).installed_in is None
    assert ServicePart.objects.filter(part=new_pack, action=ServicePart.Action.FITTED).exists()
    for pack in (old_pack, new_pack):
        reached = trace(
            direction=Direction.FORWARD, serial_units=SerialUnit.objects.filter(pk=pack.pk)
        )
        assert unit.pk in {item.pk for item in reached.items}
    assert Genealogy.objects.filter(parent=new_pack.pk, child=unit.pk).exists()


# --- Replacement ------------------------------------------------------------------------------


def test_a_replacement_keeps_the_rest_of_the_warranty_when_the_product_says_so(
    unit, in_stock, customer, manager
):
    unit.product.replacement_keeps_warranty = True
    unit.product.save()
    claim = approved(unit, manager)

    claim = warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=manager)

    replacement = SerialUnit.objects.get(pk=in_stock.pk)
    assert claim.status == WarrantyClaim.Status.REPLACED
    assert claim.replacement == replacement
    assert replacement.replaces == unit
    assert replacement.holder_party == customer
    assert replacement.warranty_ends_on == unit.warranty_ends_on


def test_a_replacement_starts_its_own_warranty_otherwise(unit, in_stock, manager):
    claim = approved(unit, manager)

    warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=manager)

    replacement = SerialUnit.objects.get(pk=in_stock.pk)
    assert replacement.shipped_on == TODAY
    assert replacement.warranty_ends_on == unit.product.warranty_end_for(TODAY)
    assert replacement.warranty_ends_on != unit.warranty_ends_on


def test_the_faulty_unit_stays_with_the_customer_when_replaced(unit, in_stock, customer, manager):
    claim = approved(unit, manager)

    warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=manager)

    faulty = SerialUnit.objects.get(pk=unit.pk)
    assert (faulty.status, faulty.holder_party) == (SerialUnit.Status.SHIPPED, customer)


def test_the_replacement_ships_under_the_claim_number(unit, in_stock, manager):
    claim = approved(unit, manager)

    warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=manager)

    event = TraceEvent.objects.get(event_type=TraceEvent.Type.SHIP, lines__item=in_stock.pk)
    assert event.document_number == claim.number


def test_a_replacement_of_another_product_is_refused(unit, manager):
    other = SerialUnitFactory(product=SerialProductFactory(name="HX3 handheld"), serial="X-1")
    claim = approved(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_replace(claim=claim, replacement=other, acting_user=manager)

    assert messages(exc_info) == [
        CLAIM_REPLACEMENT_OTHER_PRODUCT
        % {
            "unit": other,
            "product": "HX3 handheld",
            "faulty": unit,
            "faulty_product": "HX2 handheld",
        }
    ]


def test_a_replacement_not_in_stock_is_refused_and_nothing_ships(
    unit, expired_unit, product, manager
):
    claim = approved(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_replace(claim=claim, replacement=expired_unit, acting_user=manager)

    assert messages(exc_info) == [
        REPLACEMENT_NOT_AVAILABLE % {"unit": expired_unit, "status": "shipped"}
    ]
    claim.refresh_from_db()
    assert (claim.status, claim.replacement) == (WarrantyClaim.Status.APPROVED, None)


def test_staff_cannot_send_a_replacement(unit, in_stock, manager, staff):
    claim = approved(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=staff)

    assert messages(exc_info) == [CLAIM_REPLACE_FORBIDDEN]


def test_a_rejected_claim_cannot_be_replaced(unit, in_stock, manager):
    claim = open_claim(unit, manager)
    claim = warranty_claim_decide(claim=claim, approve=False, reason="Misuse.", acting_user=manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=manager)

    assert messages(exc_info) == [
        CLAIM_NOT_APPROVED % {"number": claim.number, "status": "rejected"}
    ]


# --- Closing ----------------------------------------------------------------------------------


def test_an_open_claim_cannot_be_closed(unit, manager):
    claim = open_claim(unit, manager)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_close(claim=claim, note="", acting_user=manager)

    assert messages(exc_info) == [
        CLAIM_NOT_RESOLVED % {"number": claim.number, "status": "awaiting decision"}
    ]


def test_a_repaired_claim_closes_with_its_note(unit, manager):
    claim = approved(unit, manager)
    claim = warranty_claim_repair(
        claim=claim, performed_on=TODAY, description="New pack.", acting_user=manager
    )

    claim = warranty_claim_close(
        claim=claim, note=" Unit back with the customer. ", acting_user=manager
    )

    assert claim.status == WarrantyClaim.Status.CLOSED
    assert claim.closing_note == "Unit back with the customer."
    assert claim.closed_at is not None


@pytest.mark.parametrize(
    "step",
    [
        lambda claim, user: warranty_claim_decide(
            claim=claim, approve=True, reason="", acting_user=user
        ),
        lambda claim, user: warranty_claim_repair(
            claim=claim, performed_on=TODAY, description="Fix.", acting_user=user
        ),
        lambda claim, user: warranty_claim_close(claim=claim, note="Again.", acting_user=user),
    ],
    ids=["decide", "repair", "close"],
)
def test_a_closed_claim_is_final(unit, manager, step):
    claim = open_claim(unit, manager)
    claim = warranty_claim_decide(claim=claim, approve=False, reason="Misuse.", acting_user=manager)
    claim = warranty_claim_close(claim=claim, note="", acting_user=manager)

    with pytest.raises(ValidationError) as exc_info:
        step(claim, manager)

    assert messages(exc_info) == [CLAIM_CLOSED % {"number": claim.number}]


def test_each_step_is_kept_with_who_took_it(unit, in_stock, staff, manager):
    claim = open_claim(unit, staff)
    claim = warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)
    claim = warranty_claim_replace(claim=claim, replacement=in_stock, acting_user=manager)
    warranty_claim_close(claim=claim, note="", acting_user=staff)

    steps = [
        (step.history_change_reason, step.status, step.history_user)
        for step in selectors.claim_steps(claim)
    ]
    assert steps == [
        ("Opened", "open", staff),
        ("Approved", "approved", manager),
        ("Replaced", "replaced", manager),
        ("Closed", "closed", staff),
    ]


# --- Coverage in words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "ends", "text"),
    [
        (
            date(2026, 11, 20),
            date(2026, 12, 24),
            "Reported 2026-11-20, 34 days before the warranty ends on 2026-12-24.",
        ),
        (
            date(2026, 12, 24),
            date(2026, 12, 24),
            "Reported 2026-12-24, the last day of the warranty.",
        ),
        (
            date(2027, 3, 30),
            date(2026, 12, 24),
            "Reported 2027-03-30, 3 months after the warranty ended on 2026-12-24.",
        ),
        (
            date(2026, 12, 25),
            date(2026, 12, 24),
            "Reported 2026-12-25, 1 day after the warranty ended on 2026-12-24.",
        ),
    ],
)
def test_coverage_is_said_in_plain_words(reported, ends, text):
    claim = WarrantyClaim(reported_on=reported, warranty_ends_on=ends)

    assert selectors.claim_coverage_text(claim, today=date(2026, 11, 26)) == text


def test_coverage_says_ended_once_the_warranty_is_over():
    claim = WarrantyClaim(reported_on=date(2026, 1, 5), warranty_ends_on=date(2026, 2, 1))

    assert selectors.claim_coverage_text(claim, today=date(2026, 11, 26)) == (
        "Reported 2026-01-05, 27 days before the warranty ended on 2026-02-01."
    )


def test_the_dashboard_lists_claims_not_closed_newest_first(unit, expired_unit, manager):
    first = open_claim(unit, manager)
    second = open_claim(expired_unit, manager)
    closed = warranty_claim_close(
        claim=warranty_claim_decide(claim=first, approve=False, reason="No.", acting_user=manager),
        note="",
        acting_user=manager,
    )

    claims = list(selectors.open_warranty_claims())

    assert claims == [second]
    assert closed not in claims


def test_a_claim_for_a_unit_in_our_stock_has_no_claimant_unless_named(product, staff):
    unit = SerialUnitFactory(product=product, produced_on=MADE, holder_site=SiteFactory())

    claim = open_claim(unit, staff)

    assert claim.claimant is None


# --- Two people at once -----------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_managers_deciding_the_same_claim_at_once_cannot_both_win(product, customer):
    deciders = []
    for name in ("first", "second"):
        user = UserFactory(username=name)
        user.user_permissions.add(Permission.objects.get(codename="decide_warrantyclaim"))
        deciders.append(user)
    claim = open_claim(
        shipped_unit(product, customer, ends_on=TODAY + timedelta(days=30)), deciders[0]
    )
    barrier = threading.Barrier(2)
    done, refused = [], []

    def decide(user, approve):
        try:
            barrier.wait()
            done.append(
                warranty_claim_decide(
                    claim=claim, approve=approve, reason="Seen.", acting_user=user
                )
            )
        except ValidationError as exc:
            refused.append(exc.messages)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=decide, args=(deciders[0], True)),
        threading.Thread(target=decide, args=(deciders[1], False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(done) == 1
    winner = done[0]
    assert refused == [
        [CLAIM_NOT_OPEN % {"number": claim.number, "status": winner.get_status_display()}]
    ]
    assert WarrantyClaim.objects.get().status == winner.status
    assert (
        WarrantyClaim.history.filter(history_change_reason__in=["Approved", "Rejected"]).count()
        == 1
    )


# --- Claims for units back on a return --------------------------------------------------------


def returned(unit, customer, user, number="RMA-2026-0001"):
    """A return of `unit` from `customer`, made directly; the returns' own services do more."""
    return UnitReturn.objects.create(
        number=number,
        serial_unit=unit,
        customer=customer,
        site=SiteFactory(),
        received_at=timezone.now(),
        reason=UnitReturn.Reason.WARRANTY,
        condition=UnitReturn.Condition.DEFECTIVE,
        receive_event=TraceEventFactory(event_type=TraceEvent.Type.RETURN),
        registered_by=user,
    )


def test_a_claim_under_a_return_is_claimed_by_who_returned_the_unit(product, customer, staff):
    back_with_us = SerialUnitFactory(product=product, produced_on=MADE)
    unit_return = returned(back_with_us, customer, staff)

    claim = warranty_claim_open(
        serial_unit=back_with_us,
        fault="Dead.",
        reported_on=TODAY,
        unit_return=unit_return,
        acting_user=staff,
    )

    assert (claim.unit_return, claim.claimant) == (unit_return, customer)


def test_a_return_of_another_unit_is_refused(unit, expired_unit, customer, staff):
    other_return = returned(expired_unit, customer, staff)

    with pytest.raises(ValidationError) as exc_info:
        warranty_claim_open(
            serial_unit=unit,
            fault="Dead.",
            reported_on=TODAY,
            unit_return=other_return,
            acting_user=staff,
        )

    assert messages(exc_info) == [
        CLAIM_RETURN_OTHER_UNIT % {"rma": "RMA-2026-0001", "other": expired_unit, "unit": unit}
    ]
