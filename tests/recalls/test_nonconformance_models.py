"""Non-conformance and CAPA models: the database's rules, with the sentences forms show."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from inventory.models import ImmutableRecordError
from recalls.models import CapaAction, NonConformance, NonConformanceEvent

from ..inventory.factories import UserFactory
from .factories import RecallCampaignFactory
from .nonconformance_factories import (
    CapaActionFactory,
    NonConformanceFactory,
    NonConformanceItemFactory,
)

pytestmark = pytest.mark.django_db


def _violations(obj):
    with pytest.raises(ValidationError) as exc_info:
        obj.full_clean()
    return exc_info.value.messages


def _refused(obj):
    """The database itself refuses the row, whatever the code before it checked."""
    with pytest.raises(IntegrityError), transaction.atomic():
        obj.save()


def test_a_report_reads_as_its_reference_and_title():
    nc = NonConformanceFactory(reference="NC-2026-0042", title="Seal leaks")

    assert str(nc) == "NC-2026-0042 Seal leaks"
    assert nc.get_absolute_url() == "/quality/nonconformances/NC-2026-0042/"


def test_a_reference_reads_nc_year_number():
    nc = NonConformanceFactory.build(reference="NC-26-1", owner=UserFactory())
    nc.reported_by = nc.owner

    assert "A non-conformance reference reads NC-YEAR-NUMBER." in _violations(nc)
    _refused(nc)


@pytest.mark.parametrize(
    "fields",
    [{"title": ""}, {"description": ""}, {"severity": "huge"}, {"source": "rumour"}],
)
def test_a_report_has_its_title_defect_severity_and_source(fields):
    nc = NonConformanceFactory()
    for name, value in fields.items():
        setattr(nc, name, value)

    assert list(_violations_by_field(nc)) == list(fields)
    _refused(nc)


def _violations_by_field(obj):
    with pytest.raises(ValidationError) as exc_info:
        obj.full_clean()
    return exc_info.value.message_dict


def test_actions_are_planned_only_after_the_root_cause():
    nc = NonConformanceFactory(
        status=NonConformance.Status.ACTION,
        root_cause="Drift",
        root_cause_category=NonConformance.RootCause.MACHINE,
    )

    nc.root_cause_category = ""
    assert "Record the root cause and its category before planning actions." in _violations(nc)
    _refused(nc)


def test_a_concession_is_justified():
    nc = NonConformanceFactory(disposition=NonConformance.Disposition.REWORK)
    nc.disposition = NonConformance.Disposition.USE_AS_IS

    assert "A use-as-is concession needs its justification." in _violations(nc)
    _refused(nc)


def test_a_closed_report_is_signed_and_only_a_closed_one():
    nc = NonConformanceFactory()
    nc.status = NonConformance.Status.CLOSED
    message = "A closed non-conformance has its closure, statement, signer and time, and only it."

    assert message in _violations(nc)
    _refused(nc)
    nc.status = NonConformance.Status.OPEN
    nc.closure = NonConformance.Closure.EFFECTIVE
    assert message in _violations(nc)


def test_a_critical_report_is_never_closed_as_needing_no_action():
    nc = NonConformanceFactory(severity=NonConformance.Severity.CRITICAL)
    nc.status = NonConformance.Status.CLOSED
    nc.closure = NonConformance.Closure.NO_ACTION
    nc.closing_note = "Fine."
    nc.closed_at = timezone.now()
    nc.closed_by = nc.owner

    assert (
        "A critical non-conformance needs corrective action; it cannot be closed as needing none."
        in _violations(nc)
    )
    _refused(nc)


def test_a_report_names_an_item_once_with_a_positive_quantity():
    line = NonConformanceItemFactory()

    again = NonConformanceItemFactory.build(
        nonconformance=line.nonconformance, item=line.item, lot=None
    )
    assert "The non-conformance already names this item." in _violations(again)
    line.quantity = Decimal("0")
    assert "A nonconforming quantity is more than zero." in _violations(line)
    _refused(line)


def test_an_item_named_by_a_report_cannot_be_deleted():
    line = NonConformanceItemFactory()

    with pytest.raises(ProtectedError):
        line.item.delete()


def test_a_campaign_a_report_led_to_cannot_be_deleted():
    campaign = RecallCampaignFactory()
    NonConformanceFactory(recall_campaign=campaign)

    with pytest.raises(ProtectedError):
        campaign.delete()


def test_an_action_reads_as_its_reports_reference_and_number():
    action = CapaActionFactory(nonconformance__reference="NC-2026-0007", number=2)

    assert action.reference == "NC-2026-0007/2"
    assert str(action).startswith("NC-2026-0007/2 Replace the sealing jaw")
    assert action.get_absolute_url() == "/quality/nonconformances/NC-2026-0007/#action-2"


def test_an_action_number_is_unique_within_its_report():
    action = CapaActionFactory(number=1)

    twin = CapaActionFactory.build(
        nonconformance=action.nonconformance, number=1, owner=action.owner
    )
    twin.created_by = action.owner
    assert "The non-conformance already has an action numbered so." in _violations(twin)


def test_a_done_action_has_its_note_who_and_when():
    action = CapaActionFactory()
    action.status = CapaAction.Status.DONE

    assert (
        "A done or cancelled action has its note, who and when; an open one has none."
        in _violations(action)
    )
    _refused(action)


def test_a_verified_action_has_its_evidence_and_an_independent_verifier():
    doer = UserFactory()
    action = CapaActionFactory(
        status=CapaAction.Status.DONE,
        completed_at=timezone.now(),
        completed_by=doer,
        completion_note="Done.",
    )
    action.status = CapaAction.Status.VERIFIED
    action.verified_at = timezone.now()
    action.verified_by = doer
    action.verification_note = "Works."

    assert (
        "The effectiveness of an action is verified by someone other than who did it."
        in _violations(action)
    )
    _refused(action)
    action.verified_by = UserFactory()
    action.verified_at = action.completed_at - timedelta(hours=1)
    assert "An action cannot be verified before it was done." in _violations(action)


def test_an_action_is_overdue_when_open_past_its_due_date():
    action = CapaActionFactory(due_on=date(2026, 3, 1))

    assert action.is_overdue(date(2026, 3, 2))
    assert not action.is_overdue(date(2026, 3, 1))
    action.status = CapaAction.Status.DONE
    assert not action.is_overdue(date(2026, 3, 2))


def test_the_timeline_is_append_only():
    entry = NonConformanceEvent.objects.create(
        nonconformance=NonConformanceFactory(),
        kind=NonConformanceEvent.Kind.REPORTED,
        message="Reported.",
    )

    entry.message = "Changed."
    with pytest.raises(ImmutableRecordError):
        entry.save()
