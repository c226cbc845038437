"""Every rule of the non-conformance and CAPA services, with its exact message."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory import services as inventory_services
from inventory.models import Unit
from inventory.services import Line
from recalls.capa import services
from recalls.models import (
    CampaignEvent,
    CapaAction,
    NonConformance,
    NonConformanceEvent,
    NonConformanceItem,
)

from ..inventory.factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialUnitFactory,
    SiteFactory,
    UserFactory,
)
from .factories import RecallCampaignFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
S = NonConformance.Status


def _today():
    return timezone.localdate()


@pytest.fixture
def chain(manager):
    """Flour received from a mill, made into bread."""
    plant = SiteFactory(party=InternalPartyFactory(name="Tracewell Foods"))
    mill = PartyFactory(name="Mill & Co", is_supplier=True, is_customer=False)
    flour = inventory_services.lot_create(
        product=ProductFactory(sku="FLOUR", unit=Unit.KILOGRAM),
        code="FL-1",
        quantity=Decimal("100"),
        supplier=mill,
        supplier_lot_code="M-77",
        site=plant,
        acting_user=manager,
    )
    bread = inventory_services.lot_create(
        product=ProductFactory(sku="BREAD", unit=Unit.KILOGRAM),
        code="BR-1",
        quantity=Decimal("50"),
        site=plant,
        inputs=[Line(flour, Decimal("40"))],
        acting_user=manager,
    )
    return {"mill": mill, "flour": flour, "bread": bread, "plant": plant}


def _report(user, items, **fields):
    values = {
        "title": "Burnt crust",
        "description": "Crust colour beyond the limit sample.",
        "severity": NonConformance.Severity.MAJOR,
        "source": NonConformance.Source.IN_PROCESS,
        "detected_on": _today(),
    }
    values.update(fields)
    return services.nonconformance_report(items=items, acting_user=user, **values)


def _messages(exc_info) -> list[str]:
    return exc_info.value.messages


def _investigated(nc, manager):
    services.nonconformance_advance(nonconformance=nc, status=S.INVESTIGATING, acting_user=manager)
    return services.nonconformance_update(
        nonconformance=nc,
        root_cause="Oven thermostat drifted 15 °C.",
        root_cause_category=NonConformance.RootCause.MACHINE,
        acting_user=manager,
    )


def _action(nc, manager, owner=None, **fields):
    values = {
        "kind": CapaAction.Kind.CORRECTIVE,
        "description": "Recalibrate the thermostat.",
        "owner": owner or manager,
        "due_on": _today() + timedelta(days=7),
    }
    values.update(fields)
    return services.capa_action_add(nonconformance=nc, acting_user=manager, **values)


# --- reporting --------------------------------------------------------------------------------


def test_a_report_takes_the_next_number_of_its_year_and_names_its_lots(chain, manager):
    first = _report(manager, [chain["bread"]])
    second = _report(manager, [chain["flour"], (chain["bread"], Decimal("12.5"))])

    year = _today().year
    assert first.reference == f"NC-{year}-0001"
    assert second.reference == f"NC-{year}-0002"
    assert first.status == S.OPEN
    assert first.owner == manager  # the reporter owns it unless someone else is named
    lines = {line.item_id: line.quantity for line in second.named_items.all()}
    assert lines == {chain["flour"].pk: None, chain["bread"].pk: Decimal("12.5")}
    entry = first.timeline.get()
    assert entry.kind == NonConformanceEvent.Kind.REPORTED
    assert entry.message == (f"Reported NC-{year}-0001 (major, in-process) naming BREAD lot BR-1.")


def test_a_report_names_at_least_one_item(manager):
    with pytest.raises(ValidationError) as exc:
        _report(manager, [])

    assert exc.value.message_dict == {"items": [services.NC_ITEMS_REQUIRED]}
    assert not NonConformance.objects.exists()


def test_a_report_cannot_be_detected_tomorrow(chain, manager):
    with pytest.raises(ValidationError) as exc:
        _report(manager, [chain["bread"]], detected_on=_today() + timedelta(days=1))

    assert exc.value.message_dict == {"detected_on": [services.NC_DETECTED_IN_FUTURE]}


def test_a_report_needs_a_title_and_a_defect(chain, manager):
    with pytest.raises(ValidationError) as exc:
        _report(manager, [chain["bread"]], title="  ", description="")

    assert set(exc.value.message_dict) == {"title", "description"}
    assert not NonConformance.objects.exists()


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (Decimal("0"), "The nonconforming quantity of BREAD lot BR-1 must be more than zero."),
        (
            Decimal("51"),
            "BREAD lot BR-1 was made or received as 50 kg; 51 cannot be nonconforming.",
        ),
    ],
)
def test_a_lots_quantity_is_more_than_zero_and_no_more_than_the_lot(
    chain, manager, quantity, message
):
    with pytest.raises(ValidationError) as exc:
        _report(manager, [(chain["bread"], quantity)])

    assert exc.value.message_dict == {"items": [message]}
    assert not NonConformance.objects.exists()
    assert not NonConformanceItem.objects.exists()


def test_a_serial_unit_is_named_whole(manager):
    unit = SerialUnitFactory(serial="D-9", product__sku="DEV")

    with pytest.raises(ValidationError) as exc:
        _report(manager, [(unit, Decimal("1"))])

    assert exc.value.message_dict == {
        "items": ["DEV serial D-9 is a serial unit: it is affected whole, without a quantity."]
    }


def test_an_item_named_twice_is_named_once(chain, manager):
    nc = _report(manager, [chain["bread"], chain["bread"]])

    assert nc.named_items.count() == 1


# --- details and workflow ---------------------------------------------------------------------


def test_changing_details_says_which_and_keeps_history(chain, manager):
    nc = _report(manager, [chain["bread"]])

    nc = services.nonconformance_update(
        nonconformance=nc, investigation=" Found drift. ", severity="minor", acting_user=manager
    )

    assert nc.investigation == "Found drift."
    assert nc.timeline.last().message == "Changed severity, investigation."
    assert nc.history.first().history_change_reason == "Changed severity, investigation."


def test_status_and_closure_are_not_details(chain, manager):
    nc = _report(manager, [chain["bread"]])

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_update(nonconformance=nc, status=S.CLOSED, acting_user=manager)

    assert _messages(exc) == [services.NC_NOT_A_DETAIL]


def test_a_concession_needs_its_justification(chain, manager):
    nc = _report(manager, [chain["bread"]])

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_update(
            nonconformance=nc, disposition=NonConformance.Disposition.USE_AS_IS, acting_user=manager
        )

    assert _messages(exc) == ["A use-as-is concession needs its justification."]
    nc.refresh_from_db()
    assert nc.disposition == ""


def test_the_workflow_goes_one_step_at_a_time(chain, manager):
    nc = _report(manager, [chain["bread"]])

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_advance(
            nonconformance=nc, status=S.EFFECTIVENESS, acting_user=manager
        )

    year = _today().year
    assert _messages(exc) == [
        f"NC-{year}-0001 is open; it cannot move to effectiveness check from there."
    ]


def test_actions_follow_the_root_cause(chain, manager):
    nc = _report(manager, [chain["bread"]])
    services.nonconformance_advance(nonconformance=nc, status=S.INVESTIGATING, acting_user=manager)

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_advance(nonconformance=nc, status=S.ACTION, acting_user=manager)

    assert _messages(exc) == [services.NC_ROOT_CAUSE_REQUIRED]


def test_actions_need_a_corrective_action(chain, manager):
    nc = _investigated(_report(manager, [chain["bread"]]), manager)
    _action(nc, manager, kind=CapaAction.Kind.PREVENTIVE)

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_advance(nonconformance=nc, status=S.ACTION, acting_user=manager)

    assert _messages(exc) == [services.NC_CORRECTIVE_REQUIRED]


def test_the_effectiveness_check_waits_for_every_action(chain, manager):
    nc = _investigated(_report(manager, [chain["bread"]]), manager)
    action = _action(nc, manager)
    services.nonconformance_advance(nonconformance=nc, status=S.ACTION, acting_user=manager)

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_advance(
            nonconformance=nc, status=S.EFFECTIVENESS, acting_user=manager
        )

    due = action.due_on.isoformat()
    assert _messages(exc) == [
        f"These actions are not done yet: {action.reference} (open, manager, due {due})."
    ]


# --- actions ----------------------------------------------------------------------------------


def test_an_action_is_numbered_within_its_report(chain, manager, staff):
    nc = _report(manager, [chain["bread"]])

    first = _action(nc, manager)
    second = _action(nc, manager, owner=staff, kind=CapaAction.Kind.PREVENTIVE)

    assert (first.number, second.number) == (1, 2)
    assert second.reference == f"{nc.reference}/2"
    assert nc.timeline.last().message == (
        f"Added preventive action {nc.reference}/2 for staff, due "
        f"{second.due_on.isoformat()}: Recalibrate the thermostat."
    )


def test_an_action_is_not_due_in_the_past(chain, manager):
    nc = _report(manager, [chain["bread"]])
    yesterday = _today() - timedelta(days=1)

    with pytest.raises(ValidationError) as exc:
        _action(nc, manager, due_on=yesterday)

    assert exc.value.message_dict == {
        "due_on": [f"The due date {yesterday.isoformat()} is in the past."]
    }
    assert not CapaAction.objects.exists()


def test_an_action_is_owned_by_someone_with_a_quality_role(chain, manager, administrator):
    nc = _report(manager, [chain["bread"]])

    with pytest.raises(ValidationError) as exc:
        _action(nc, manager, owner=administrator)

    assert exc.value.message_dict == {
        "owner": [
            "administrator cannot work on CAPA actions (their account has no quality role); "
            "choose another owner."
        ]
    }


def test_only_the_owner_or_a_manager_completes_an_action(chain, manager, staff):
    nc = _report(manager, [chain["bread"]])
    other = UserFactory(username="other")
    other.groups.set(staff.groups.all())
    action = _action(nc, manager, owner=staff)

    with pytest.raises(ValidationError) as exc:
        services.capa_action_complete(action=action, note="Done.", acting_user=other)

    assert _messages(exc) == [
        f"Action {action.reference} belongs to staff; only they or a manager can complete it."
    ]
    done = services.capa_action_complete(action=action, note=" Done. ", acting_user=staff)
    assert done.status == CapaAction.Status.DONE
    assert done.completed_by == staff
    assert done.completion_note == "Done."


def test_completing_needs_a_note(chain, manager):
    action = _action(_report(manager, [chain["bread"]]), manager)

    with pytest.raises(ValidationError) as exc:
        services.capa_action_complete(action=action, note=" ", acting_user=manager)

    assert exc.value.message_dict == {"note": [services.CAPA_NOTE_REQUIRED]}


def test_an_action_is_completed_once(chain, manager):
    action = _action(_report(manager, [chain["bread"]]), manager)
    services.capa_action_complete(action=action, note="Done.", acting_user=manager)

    with pytest.raises(ValidationError) as exc:
        services.capa_action_complete(action=action, note="Again.", acting_user=manager)

    assert _messages(exc) == [
        f"Action {action.reference} is done, awaiting verification; only an open action can "
        "be completed."
    ]


def test_who_did_an_action_does_not_verify_it(chain, manager, staff):
    action = _action(_report(manager, [chain["bread"]]), manager, owner=staff)
    services.capa_action_complete(action=action, note="Done.", acting_user=staff)
    action.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        services.capa_action_verify(
            action=action, effective=True, note="Looks fine.", acting_user=staff
        )
    assert _messages(exc) == [
        f"You completed action {action.reference}; its effectiveness is verified by someone else."
    ]

    verified = services.capa_action_verify(
        action=action, effective=True, note="30 batches within limits.", acting_user=manager
    )
    assert verified.status == CapaAction.Status.VERIFIED
    assert verified.verified_by == manager


def test_only_a_done_action_is_verified(chain, manager):
    action = _action(_report(manager, [chain["bread"]]), manager)

    with pytest.raises(ValidationError) as exc:
        services.capa_action_verify(action=action, effective=True, note="x", acting_user=manager)

    assert _messages(exc) == [
        f"Action {action.reference} is open; only a done action can be verified."
    ]


def test_an_action_that_did_not_work_is_reopened_with_a_new_due_date(chain, manager, staff):
    nc = _investigated(_report(manager, [chain["bread"]]), manager)
    action = _action(nc, manager, owner=staff)
    services.nonconformance_advance(nonconformance=nc, status=S.ACTION, acting_user=manager)
    services.capa_action_complete(action=action, note="Done.", acting_user=staff)
    services.nonconformance_advance(nonconformance=nc, status=S.EFFECTIVENESS, acting_user=manager)
    action.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        services.capa_action_verify(
            action=action, effective=False, note="Still burnt.", acting_user=manager
        )
    assert exc.value.message_dict == {"new_due_on": [services.CAPA_NEW_DUE_REQUIRED]}

    due = _today() + timedelta(days=10)
    reopened = services.capa_action_verify(
        action=action, effective=False, note="Still burnt.", new_due_on=due, acting_user=manager
    )

    assert reopened.status == CapaAction.Status.OPEN
    assert reopened.due_on == due
    assert reopened.completed_at is None
    nc.refresh_from_db()
    assert nc.status == S.ACTION  # back from the effectiveness check
    kinds = list(nc.timeline.values_list("kind", flat=True))
    assert NonConformanceEvent.Kind.ACTION_REOPENED in kinds


def test_verifying_needs_evidence(chain, manager, staff):
    action = _action(_report(manager, [chain["bread"]]), manager, owner=staff)
    services.capa_action_complete(action=action, note="Done.", acting_user=staff)
    action.refresh_from_db()

    with pytest.raises(ValidationError) as exc:
        services.capa_action_verify(action=action, effective=True, note="", acting_user=manager)

    assert exc.value.message_dict == {"note": [services.CAPA_EVIDENCE_REQUIRED]}


def test_cancelling_and_rescheduling_say_why(chain, manager, staff):
    nc = _report(manager, [chain["bread"]])
    action = _action(nc, manager)

    with pytest.raises(ValidationError) as exc:
        services.capa_action_cancel(action=action, reason="", acting_user=manager)
    assert exc.value.message_dict == {"reason": [services.CAPA_REASON_REQUIRED]}

    due = _today() + timedelta(days=30)
    moved = services.capa_action_reschedule(
        action=action, due_on=due, owner=staff, reason="Supplier visit moved.", acting_user=manager
    )
    assert (moved.due_on, moved.owner) == (due, staff)
    assert nc.timeline.last().message == (
        f"Action {action.reference} now due {due.isoformat()} for staff: Supplier visit moved."
    )

    cancelled = services.capa_action_cancel(
        action=action, reason="Covered by action 2.", acting_user=manager
    )
    assert cancelled.status == CapaAction.Status.CANCELLED
    assert cancelled.completion_note == "Covered by action 2."


def test_an_action_added_in_the_effectiveness_check_sends_it_back_to_actions(chain, manager, staff):
    nc = _investigated(_report(manager, [chain["bread"]]), manager)
    action = _action(nc, manager, owner=staff)
    services.nonconformance_advance(nonconformance=nc, status=S.ACTION, acting_user=manager)
    services.capa_action_complete(action=action, note="Done.", acting_user=staff)
    services.nonconformance_advance(nonconformance=nc, status=S.EFFECTIVENESS, acting_user=manager)

    _action(nc, manager, kind=CapaAction.Kind.PREVENTIVE)

    nc.refresh_from_db()
    assert nc.status == S.ACTION


# --- closing ----------------------------------------------------------------------------------


def _ready_to_close(chain, manager, staff, **report):
    nc = _investigated(_report(manager, [chain["bread"]], **report), manager)
    action = _action(nc, manager, owner=staff)
    services.nonconformance_advance(nonconformance=nc, status=S.ACTION, acting_user=manager)
    services.capa_action_complete(action=action, note="Recalibrated.", acting_user=staff)
    services.nonconformance_advance(nonconformance=nc, status=S.EFFECTIVENESS, acting_user=manager)
    return nc, action


def _close(nc, user, **fields):
    values = {
        "closure": NonConformance.Closure.EFFECTIVE,
        "statement": "Thirty batches in limits since.",
        "password": PASSWORD,
    }
    values.update(fields)
    return services.nonconformance_close(nonconformance=nc, acting_user=user, **values)


def test_closing_is_refused_while_an_action_is_not_verified(chain, manager, staff):
    nc, action = _ready_to_close(chain, manager, staff)

    with pytest.raises(ValidationError) as exc:
        _close(nc, manager)

    due = action.due_on.isoformat()
    assert _messages(exc) == [
        f"{nc.reference} cannot be closed while these actions are not verified effective: "
        f"{action.reference} (done, awaiting verification, staff, due {due})."
    ]
    nc.refresh_from_db()
    assert nc.status == S.EFFECTIVENESS


def test_closing_is_signed_with_the_password_and_a_statement(chain, manager, staff):
    nc, action = _ready_to_close(chain, manager, staff)
    action.refresh_from_db()
    services.capa_action_verify(
        action=action, effective=True, note="In limits.", acting_user=manager
    )

    with pytest.raises(ValidationError) as exc:
        _close(nc, manager, password="wrong", statement=" ")
    assert exc.value.message_dict == {
        "statement": [services.NC_STATEMENT_REQUIRED],
        "password": [services.NC_WRONG_PASSWORD],
    }

    manager.first_name, manager.last_name = "Maria", "Okafor"
    manager.save()
    closed = _close(nc, manager)

    assert closed.status == S.CLOSED
    assert closed.closed_by_name == "Maria Okafor"
    assert closed.closure == NonConformance.Closure.EFFECTIVE
    assert closed.timeline.last().message == (
        "Closed and signed by Maria Okafor (actions verified effective): "
        "Thirty batches in limits since."
    )


def test_closing_waits_for_the_effectiveness_check(chain, manager):
    nc = _report(manager, [chain["bread"]])

    with pytest.raises(ValidationError) as exc:
        _close(nc, manager)

    assert _messages(exc) == [
        f"{nc.reference} is open; close it once its actions are done and in the "
        "effectiveness check."
    ]


def test_a_closed_report_cannot_change(chain, manager):
    nc = _report(manager, [chain["bread"]], severity=NonConformance.Severity.MINOR)
    _close(nc, manager, closure=NonConformance.Closure.NO_ACTION, statement="Cosmetic only.")

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_update(nonconformance=nc, title="New", acting_user=manager)
    assert _messages(exc) == [f"{nc.reference} is closed; it cannot be changed."]
    with pytest.raises(ValidationError):
        _action(nc, manager)


def test_a_minor_report_may_close_without_action_but_not_a_critical_one(chain, manager):
    critical = _report(manager, [chain["bread"]], severity=NonConformance.Severity.CRITICAL)

    with pytest.raises(ValidationError) as exc:
        _close(critical, manager, closure=NonConformance.Closure.NO_ACTION, statement="Fine.")

    assert _messages(exc) == [services.NC_CRITICAL_NEEDS_ACTION]
    critical.refresh_from_db()
    assert critical.status == S.OPEN


def test_no_action_closure_needs_its_actions_cancelled(chain, manager):
    nc = _report(manager, [chain["bread"]], severity=NonConformance.Severity.MINOR)
    _action(nc, manager)

    with pytest.raises(ValidationError) as exc:
        _close(nc, manager, closure=NonConformance.Closure.NO_ACTION, statement="Fine.")

    assert _messages(exc) == [
        f"{nc.reference} has actions that are not cancelled; cancel them with their reason "
        "before closing it as needing no action."
    ]


# --- recall -----------------------------------------------------------------------------------


def test_a_report_records_the_recall_it_led_to_on_both_timelines(chain, manager):
    nc = _report(manager, [chain["bread"]])
    campaign = RecallCampaignFactory()

    services.nonconformance_link_recall(nonconformance=nc, campaign=campaign, acting_user=manager)

    nc.refresh_from_db()
    assert nc.recall_campaign == campaign
    assert nc.timeline.last().message == f"Led to recall {campaign.reference}."
    event = CampaignEvent.objects.get(campaign=campaign)
    assert event.message == f"Opened from non-conformance {nc.reference}: Burnt crust"

    with pytest.raises(ValidationError) as exc:
        services.nonconformance_link_recall(
            nonconformance=nc, campaign=RecallCampaignFactory(), acting_user=manager
        )
    assert _messages(exc) == [f"{nc.reference} already led to recall {campaign.reference}."]


def test_the_investigation_names_more_lots_but_not_twice(chain, manager):
    nc = _report(manager, [chain["bread"]])

    services.nonconformance_items_add(
        nonconformance=nc, items=[chain["bread"], chain["flour"]], acting_user=manager
    )

    assert set(nc.named_items.values_list("item_id", flat=True)) == {
        chain["bread"].pk,
        chain["flour"].pk,
    }
    assert nc.timeline.last().message == "Now also names FLOUR lot FL-1."
    with pytest.raises(ValidationError) as exc:
        services.nonconformance_items_add(
            nonconformance=nc, items=[chain["flour"]], acting_user=manager
        )
    assert exc.value.message_dict == {"items": [services.NC_ITEMS_ALREADY_NAMED]}


def test_a_report_is_owned_by_someone_with_a_quality_role(chain, manager, administrator):
    with pytest.raises(ValidationError) as exc:
        _report(manager, [chain["bread"]], owner=administrator)

    assert list(exc.value.message_dict) == ["owner"]
    assert not NonConformance.objects.exists()


def test_an_action_says_what_is_to_be_done(chain, manager):
    nc = _report(manager, [chain["bread"]])

    with pytest.raises(ValidationError) as exc:
        _action(nc, manager, description="  ")

    assert exc.value.message_dict == {"description": [services.CAPA_DESCRIPTION_REQUIRED]}
    assert not CapaAction.objects.exists()
