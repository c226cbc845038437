"""Every write to non-conformances and their CAPA actions.

The workflow follows ISO 9001 10.2 / ISO 13485 8.5.2 / 21 CFR 820.100: a non-conformance is
reported against lots or serial units (open), investigated, its root cause recorded before
actions are planned (actions), each action done by its owner and verified effective by someone
else (effectiveness check), and the report closed with the closer's signature. A report that
needs no action may be closed with the reason, unless it is critical.

Services take keyword arguments and `acting_user`, run in one transaction (the `service`
decorator turns a database refusal into a sentence), and write the timeline with the change.
"""

import logging
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from inventory.models import Item, Party
from inventory.services import _save, document_number_next, service

from .. import locks
from ..formatting import plain, unit_label
from ..models import (
    CampaignEvent,
    CapaAction,
    NonConformance,
    NonConformanceEvent,
    NonConformanceItem,
    RecallCampaign,
)
from ..services import _save_fields, recall_draft

NC_DOCUMENT_KIND = "NC"

NC_ITEMS_REQUIRED = _("Name at least one lot or serial unit that does not conform.")
NC_DETECTED_IN_FUTURE = _("The detection date is in the future.")
NC_QUANTITY_POSITIVE = _("The nonconforming quantity of %(item)s must be more than zero.")
NC_QUANTITY_FOR_SERIAL = _("%(item)s is a serial unit: it is affected whole, without a quantity.")
NC_QUANTITY_TOO_MUCH = _(
    "%(item)s was made or received as %(quantity)s %(unit)s; %(asked)s cannot be nonconforming."
)
NC_ITEMS_ALREADY_NAMED = _("The report already names all of these.")
NC_ITEMS_ADDED = _("Now also names %(items)s.")
NC_CLOSED = _("%(reference)s is closed; it cannot be changed.")
NC_NOT_A_DETAIL = _("This changes with its own action, not as a detail of the non-conformance.")
NC_REPORTED = _("Reported %(reference)s (%(severity)s, %(source)s) naming %(items)s.")
NC_CHANGED = _("Changed %(fields)s.")
NC_WRONG_STEP = _("%(reference)s is %(status)s; it cannot move to %(target)s from there.")
NC_ROOT_CAUSE_REQUIRED = _(
    "Record the root cause and its category before planning actions (ISO 9001 10.2.1 b)."
)
NC_CORRECTIVE_REQUIRED = _("Plan at least one corrective action before moving to actions.")
NC_ACTIONS_OPEN = _("These actions are not done yet: %(actions)s.")
NC_STATUS_CHANGED = _("Status changed from %(old)s to %(new)s.")
NC_CLOSE_PENDING = _(
    "%(reference)s cannot be closed while these actions are not verified effective: %(actions)s."
)
NC_CLOSE_NOT_READY = _(
    "%(reference)s is %(status)s; close it once its actions are done and in the "
    "effectiveness check."
)
NC_CLOSE_NOTHING_VERIFIED = _(
    "No action of %(reference)s was verified effective; close it as needing no action, "
    "with the reason, or verify an action."
)
NC_NO_ACTION_HAS_ACTIONS = _(
    "%(reference)s has actions that are not cancelled; cancel them with their reason before "
    "closing it as needing no action."
)
NC_CRITICAL_NEEDS_ACTION = _(
    "A critical non-conformance needs corrective action; it cannot be closed as needing none."
)
NC_STATEMENT_REQUIRED = _("Write the closing statement: the evidence, or why no action is needed.")
NC_WRONG_PASSWORD = _("That is not your password; the non-conformance was not closed.")
NC_UNKNOWN_CLOSURE = _("Choose how the non-conformance is closed.")
NC_CLOSED_MESSAGE = _("Closed and signed by %(name)s (%(closure)s): %(statement)s")
NC_RECALL_LINKED = _("Led to recall %(campaign)s.")
NC_RECALL_ALREADY = _("%(reference)s already led to recall %(campaign)s.")
NC_RECALL_CAMPAIGN_EVENT = _("Opened from non-conformance %(reference)s: %(title)s")

CAPA_DESCRIPTION_REQUIRED = _("Say what is to be done.")
CAPA_DUE_IN_PAST = _("The due date %(due)s is in the past.")
CAPA_OWNER_CANNOT = _(
    "%(owner)s cannot work on CAPA actions (their account has no quality role); choose "
    "another owner."
)
CAPA_ADDED = _("Added %(kind)s action %(action)s for %(owner)s, due %(due)s: %(text)s")
CAPA_NOT_OPEN = _("Action %(action)s is %(status)s; only an open action can be %(verb)s.")
CAPA_NOT_DONE = _("Action %(action)s is %(status)s; only a done action can be verified.")
CAPA_NOT_YOURS = _(
    "Action %(action)s belongs to %(owner)s; only they or a manager can complete it."
)
CAPA_NOTE_REQUIRED = _("Say what was done, with its evidence.")
CAPA_DONE = _("Action %(action)s done: %(note)s")
CAPA_VERIFIER_INDEPENDENT = _(
    "You completed action %(action)s; its effectiveness is verified by someone else."
)
CAPA_EVIDENCE_REQUIRED = _("Give the evidence of effectiveness (or of why it did not work).")
CAPA_NEW_DUE_REQUIRED = _("An action that did not work needs a new due date.")
CAPA_VERIFIED = _("Action %(action)s verified effective: %(note)s")
CAPA_REOPENED = _("Action %(action)s was not effective (%(note)s); reopened, due %(due)s.")
CAPA_REASON_REQUIRED = _("Say why.")
CAPA_CANCELLED = _("Action %(action)s cancelled: %(reason)s")
CAPA_RESCHEDULED = _("Action %(action)s now due %(due)s for %(owner)s: %(reason)s")
CAPA_BACK_TO_ACTIONS = _("New action added during the effectiveness check; back to actions.")
CAPA_MAIL_SUBJECT = _("CAPA action %(action)s is yours, due %(due)s")
CAPA_MAIL_BODY = _(
    "%(owner)s,\n\n%(by)s gave you CAPA action %(action)s of non-conformance %(reference)s "
    "(%(title)s), due %(due)s:\n\n%(text)s\n\nRecord it as done, with its evidence, on the "
    "report's page: %(path)s\n"
)

# What nonconformance_update may change; status, items, closure and recall have their own.
NC_EDITABLE = (
    "title",
    "description",
    "severity",
    "source",
    "detected_on",
    "party",
    "owner",
    "containment",
    "investigation",
    "root_cause",
    "root_cause_category",
    "disposition",
    "disposition_note",
)
# The steps a report takes by hand; closing is nonconformance_close.
NC_STEPS = {
    NonConformance.Status.OPEN: (NonConformance.Status.INVESTIGATING,),
    NonConformance.Status.INVESTIGATING: (NonConformance.Status.ACTION,),
    NonConformance.Status.ACTION: (
        NonConformance.Status.INVESTIGATING,
        NonConformance.Status.EFFECTIVENESS,
    ),
    NonConformance.Status.EFFECTIVENESS: (NonConformance.Status.ACTION,),
}
logger = logging.getLogger(__name__)


def _when(day: date) -> str:
    return date_format(day, "Y-m-d")


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


def _timeline(nonconformance, kind, message, *, acting_user, occurred_at=None):
    return NonConformanceEvent.objects.create(
        nonconformance=nonconformance,
        kind=kind,
        actor=acting_user,
        occurred_at=occurred_at or timezone.now(),
        message=message,
    )


def _require_not_closed(nonconformance: NonConformance):
    if nonconformance.is_closed:
        raise ValidationError(NC_CLOSED % {"reference": nonconformance.reference}, code="nc_closed")


def _item_label(item: Item) -> str:
    tracked = item.tracked
    return str(tracked)


def _lines(items) -> list[tuple[Item, Decimal | None]]:
    """(item, quantity) pairs from items, lots, units or (thing, quantity) pairs."""
    lines = []
    for entry in items:
        thing, quantity = entry if isinstance(entry, tuple) else (entry, None)
        item = thing if isinstance(thing, Item) else thing.item
        lines.append((item, quantity))
    return lines


def _check_quantities(lines) -> None:
    errors = []
    for item, quantity in lines:
        if quantity is None:
            continue
        tracked = item.tracked
        label = str(tracked)
        if item.kind == Item.Kind.SERIAL:
            errors.append(NC_QUANTITY_FOR_SERIAL % {"item": label})
        elif quantity <= 0:
            errors.append(NC_QUANTITY_POSITIVE % {"item": label})
        elif quantity > tracked.quantity:
            errors.append(
                NC_QUANTITY_TOO_MUCH
                % {
                    "item": label,
                    "quantity": plain(tracked.quantity),
                    "unit": unit_label(tracked.unit),
                    "asked": plain(quantity),
                }
            )
    if errors:
        raise ValidationError({"items": errors}, code="nc_quantity")


def _name_items(nonconformance, lines, named=frozenset()) -> str:
    """Add the lines' items the report does not name yet; what they are, in words."""
    rows = {}
    for item, quantity in lines:
        if item.pk not in named and item.pk not in rows:
            rows[item.pk] = NonConformanceItem(
                nonconformance=nonconformance, item=item, quantity=quantity
            )
    NonConformanceItem.objects.bulk_create(rows.values())
    names = ", ".join(_item_label(row.item) for row in list(rows.values())[:5])
    if len(rows) > 5:
        names += f" (+{len(rows) - 5})"
    return names


@service
def nonconformance_report(
    *,
    title: str,
    description: str,
    severity: str,
    source: str,
    detected_on: date,
    items: Iterable,
    acting_user,
    owner=None,
    party: Party | None = None,
    containment: str = "",
) -> NonConformance:
    """Report a non-conformance against lots or serial units (or (lot, quantity) pairs)."""
    lines = _lines(items)
    if not lines:
        raise ValidationError({"items": NC_ITEMS_REQUIRED}, code="nc_items")
    if detected_on and detected_on > timezone.localdate():
        raise ValidationError({"detected_on": NC_DETECTED_IN_FUTURE}, code="nc_future")
    _check_quantities(lines)
    if owner is not None:
        _check_owner(owner)
    nonconformance = NonConformance(
        reference=document_number_next(NC_DOCUMENT_KIND),
        title=title.strip(),
        description=description.strip(),
        severity=severity,
        source=source,
        detected_on=detected_on,
        party=party,
        owner=owner or acting_user,
        containment=containment.strip(),
        reported_by=acting_user,
    )
    _save(nonconformance, acting_user=acting_user, reason="Reported")
    names = _name_items(nonconformance, lines)
    _timeline(
        nonconformance,
        NonConformanceEvent.Kind.REPORTED,
        NC_REPORTED
        % {
            "reference": nonconformance.reference,
            "severity": nonconformance.get_severity_display(),
            "source": nonconformance.get_source_display(),
            "items": names,
        },
        acting_user=acting_user,
    )
    return nonconformance


@service
def nonconformance_items_add(
    *, nonconformance: NonConformance, items: Iterable, acting_user
) -> NonConformance:
    """Name more lots or units the investigation found (those already named are left)."""
    nonconformance = locks.lock_nonconformance(nonconformance)
    _require_not_closed(nonconformance)
    lines = _lines(items)
    if not lines:
        raise ValidationError({"items": NC_ITEMS_REQUIRED}, code="nc_items")
    _check_quantities(lines)
    named = set(nonconformance.named_items.values_list("item_id", flat=True))
    if all(item.pk in named for item, _quantity in lines):
        raise ValidationError({"items": NC_ITEMS_ALREADY_NAMED}, code="nc_items_named")
    names = _name_items(nonconformance, lines, named)
    nonconformance.updated_at = timezone.now()
    message = NC_ITEMS_ADDED % {"items": names}
    _save_fields(nonconformance, ["updated_at"], acting_user=acting_user, reason=message)
    _timeline(nonconformance, NonConformanceEvent.Kind.CHANGED, message, acting_user=acting_user)
    return nonconformance


@service
def nonconformance_update(*, nonconformance: NonConformance, acting_user, **fields):
    """Change a report's details, investigation, root cause or disposition while it is open."""
    unknown = set(fields) - set(NC_EDITABLE)
    if unknown:
        raise ValidationError(NC_NOT_A_DETAIL, code="nc_not_a_detail")
    nonconformance = locks.lock_nonconformance(nonconformance)
    _require_not_closed(nonconformance)
    changed = []
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
        if getattr(nonconformance, name) != value:
            setattr(nonconformance, name, value)
            changed.append(name)
    if not changed:
        return nonconformance
    if "owner" in changed:
        _check_owner(nonconformance.owner)
    detected_on = nonconformance.detected_on
    if "detected_on" in changed and detected_on and detected_on > timezone.localdate():
        raise ValidationError({"detected_on": NC_DETECTED_IN_FUTURE}, code="nc_future")
    labels = ", ".join(
        str(NonConformance._meta.get_field(name).verbose_name)
        for name in sorted(changed, key=NC_EDITABLE.index)
    )
    message = NC_CHANGED % {"fields": labels}
    nonconformance.updated_at = timezone.now()
    _save(nonconformance, acting_user=acting_user, reason=message)
    _timeline(nonconformance, NonConformanceEvent.Kind.CHANGED, message, acting_user=acting_user)
    return nonconformance


def _action_names(actions) -> str:
    return ", ".join(
        f"{action.reference} ({action.get_status_display()}, {_name(action.owner)}, "
        f"due {_when(action.due_on)})"
        for action in actions
    )


@service
def nonconformance_advance(*, nonconformance: NonConformance, status: str, acting_user):
    """Move a report one step on (or back) in its workflow."""
    nonconformance = locks.lock_nonconformance(nonconformance)
    _require_not_closed(nonconformance)
    old = nonconformance.status
    Status = NonConformance.Status
    if status not in NC_STEPS.get(old, ()):
        raise ValidationError(
            NC_WRONG_STEP
            % {
                "reference": nonconformance.reference,
                "status": nonconformance.get_status_display(),
                "target": Status(status).label if status in Status.values else status,
            },
            code="nc_step",
        )
    actions = locks.lock_capa_actions(nonconformance)
    if status == Status.ACTION:
        if not nonconformance.root_cause or not nonconformance.root_cause_category:
            raise ValidationError(NC_ROOT_CAUSE_REQUIRED, code="nc_root_cause")
        live = [a for a in actions if a.status != CapaAction.Status.CANCELLED]
        if not any(a.kind == CapaAction.Kind.CORRECTIVE for a in live):
            raise ValidationError(NC_CORRECTIVE_REQUIRED, code="nc_no_action")
    if status == Status.EFFECTIVENESS:
        pending = [a for a in actions if a.status == CapaAction.Status.OPEN]
        if pending:
            raise ValidationError(
                NC_ACTIONS_OPEN % {"actions": _action_names(pending)}, code="nc_actions_open"
            )
    return _set_status(nonconformance, status, acting_user=acting_user)


def _set_status(nonconformance, status, *, acting_user):
    old_label = nonconformance.get_status_display()
    nonconformance.status = status
    nonconformance.updated_at = timezone.now()
    message = NC_STATUS_CHANGED % {"old": old_label, "new": nonconformance.get_status_display()}
    _save(nonconformance, acting_user=acting_user, reason=message)
    _timeline(nonconformance, NonConformanceEvent.Kind.STATUS, message, acting_user=acting_user)
    return nonconformance


@service
def nonconformance_close(
    *,
    nonconformance: NonConformance,
    closure: str,
    statement: str,
    password: str,
    acting_user,
) -> NonConformance:
    """Close a report, signed: the closer re-enters their password and states the evidence of
    effectiveness, or why no action is needed (21 CFR 820.100(a)(4), Part 11 style)."""
    nonconformance = locks.lock_nonconformance(nonconformance)
    _require_not_closed(nonconformance)
    statement = (statement or "").strip()
    errors = {}
    if closure not in NonConformance.Closure.values:
        errors["closure"] = NC_UNKNOWN_CLOSURE
    if not statement:
        errors["statement"] = NC_STATEMENT_REQUIRED
    if not password or not acting_user.check_password(password):
        errors["password"] = NC_WRONG_PASSWORD
    if errors:
        raise ValidationError(errors, code="nc_signature")
    actions = locks.lock_capa_actions(nonconformance)
    reference = {"reference": nonconformance.reference}
    if closure == NonConformance.Closure.NO_ACTION:
        if nonconformance.severity == NonConformance.Severity.CRITICAL:
            raise ValidationError(NC_CRITICAL_NEEDS_ACTION, code="nc_critical")
        if any(a.status != CapaAction.Status.CANCELLED for a in actions):
            raise ValidationError(NC_NO_ACTION_HAS_ACTIONS % reference, code="nc_has_actions")
    else:
        pending = [
            a
            for a in actions
            if a.status not in (CapaAction.Status.VERIFIED, CapaAction.Status.CANCELLED)
        ]
        if pending:
            raise ValidationError(
                NC_CLOSE_PENDING % {**reference, "actions": _action_names(pending)},
                code="nc_actions_pending",
            )
        if nonconformance.status != NonConformance.Status.EFFECTIVENESS:
            raise ValidationError(
                NC_CLOSE_NOT_READY % {**reference, "status": nonconformance.get_status_display()},
                code="nc_not_ready",
            )
        if not any(a.status == CapaAction.Status.VERIFIED for a in actions):
            raise ValidationError(NC_CLOSE_NOTHING_VERIFIED % reference, code="nc_unverified")
    now = timezone.now()
    nonconformance.status = NonConformance.Status.CLOSED
    nonconformance.closure = closure
    nonconformance.closing_note = statement
    nonconformance.closed_at = now
    nonconformance.closed_by = acting_user
    nonconformance.closed_by_name = _name(acting_user)
    nonconformance.updated_at = now
    message = NC_CLOSED_MESSAGE % {
        "name": nonconformance.closed_by_name,
        "closure": nonconformance.get_closure_display(),
        "statement": statement,
    }
    _save(nonconformance, acting_user=acting_user, reason=message)
    _timeline(
        nonconformance,
        NonConformanceEvent.Kind.CLOSED,
        message,
        acting_user=acting_user,
        occurred_at=now,
    )
    return nonconformance


@service
def recall_draft_from(
    *, nonconformance: NonConformance | None, acting_user, **draft
) -> RecallCampaign:
    """Draft a recall (recall_draft's arguments); opened from a report, the report records the
    campaign in the same transaction, or neither is written."""
    campaign = recall_draft(acting_user=acting_user, **draft)
    if nonconformance is not None:
        nonconformance_link_recall(
            nonconformance=nonconformance, campaign=campaign, acting_user=acting_user
        )
    return campaign


@service
def nonconformance_link_recall(
    *, nonconformance: NonConformance, campaign: RecallCampaign, acting_user
) -> NonConformance:
    """Record the recall a report led to, on both timelines."""
    nonconformance = locks.lock_nonconformance(nonconformance)
    linked = nonconformance.recall_campaign_id
    if linked == campaign.pk:
        return nonconformance
    if linked is not None:
        raise ValidationError(
            NC_RECALL_ALREADY
            % {
                "reference": nonconformance.reference,
                "campaign": nonconformance.recall_campaign.reference,
            },
            code="nc_recall_linked",
        )
    nonconformance.recall_campaign = campaign
    nonconformance.updated_at = timezone.now()
    message = NC_RECALL_LINKED % {"campaign": campaign.reference}
    _save_fields(
        nonconformance, ["recall_campaign", "updated_at"], acting_user=acting_user, reason=message
    )
    _timeline(nonconformance, NonConformanceEvent.Kind.RECALL, message, acting_user=acting_user)
    CampaignEvent.objects.create(
        campaign=campaign,
        kind=CampaignEvent.Kind.CHANGED,
        actor=acting_user,
        message=NC_RECALL_CAMPAIGN_EVENT
        % {"reference": nonconformance.reference, "title": nonconformance.title},
        details={"nonconformance": nonconformance.reference},
    )
    return nonconformance


# --- CAPA actions ---


def _tell_owner(action: CapaAction, acting_user) -> None:
    """E-mail an action's new owner after the commit (not when they gave it to themselves, nor
    when they have no address); a failure to send is logged, the action stays."""
    owner = action.owner
    if owner.pk == acting_user.pk or not owner.email:
        return
    values = {
        "owner": _name(owner),
        "by": _name(acting_user),
        "action": action.reference,
        "reference": action.nonconformance.reference,
        "title": action.nonconformance.title,
        "due": _when(action.due_on),
        "text": action.description,
        "path": action.get_absolute_url(),
    }
    message = EmailMessage(
        subject=str(CAPA_MAIL_SUBJECT % values), body=str(CAPA_MAIL_BODY % values), to=[owner.email]
    )

    def send():
        try:
            get_connection().send_messages([message])
        except Exception:
            logger.exception("Telling %s about CAPA action %s failed", owner, action.reference)

    transaction.on_commit(send)


def _check_owner(owner):
    if not owner.is_active or not owner.has_perm("recalls.complete_capaaction"):
        raise ValidationError({"owner": CAPA_OWNER_CANNOT % {"owner": _name(owner)}})


def _check_due(due_on: date | None, field: str = "due_on"):
    if due_on is not None and due_on < timezone.localdate():
        raise ValidationError({field: CAPA_DUE_IN_PAST % {"due": _when(due_on)}}, code="capa_due")


@service
def capa_action_add(
    *,
    nonconformance: NonConformance,
    kind: str,
    description: str,
    owner,
    due_on: date,
    acting_user,
) -> CapaAction:
    """Plan a corrective or preventive action with its owner and due date."""
    nonconformance = locks.lock_nonconformance(nonconformance)
    _require_not_closed(nonconformance)
    if not (description or "").strip():
        raise ValidationError({"description": CAPA_DESCRIPTION_REQUIRED}, code="capa_description")
    _check_due(due_on)
    _check_owner(owner)
    actions = locks.lock_capa_actions(nonconformance)
    action = CapaAction(
        nonconformance=nonconformance,
        number=max((a.number for a in actions), default=0) + 1,
        kind=kind,
        description=description.strip(),
        owner=owner,
        due_on=due_on,
        created_by=acting_user,
    )
    _save(action, acting_user=acting_user, reason="Planned")
    _tell_owner(action, acting_user)
    _timeline(
        nonconformance,
        NonConformanceEvent.Kind.ACTION_ADDED,
        CAPA_ADDED
        % {
            "kind": action.get_kind_display(),
            "action": action.reference,
            "owner": _name(owner),
            "due": _when(due_on),
            "text": action.description,
        },
        acting_user=acting_user,
    )
    if nonconformance.status == NonConformance.Status.EFFECTIVENESS:
        nonconformance.status = NonConformance.Status.ACTION
        nonconformance.updated_at = timezone.now()
        _save(nonconformance, acting_user=acting_user, reason=CAPA_BACK_TO_ACTIONS)
        _timeline(
            nonconformance,
            NonConformanceEvent.Kind.STATUS,
            CAPA_BACK_TO_ACTIONS,
            acting_user=acting_user,
        )
    return action


def _lock_action(action: CapaAction) -> tuple[NonConformance, CapaAction]:
    """The action's report and then the action, locked in that order, both fresh."""
    nonconformance = locks.lock_nonconformance(action.nonconformance)
    _require_not_closed(nonconformance)
    fresh = next(a for a in locks.lock_capa_actions(nonconformance) if a.pk == action.pk)
    fresh.nonconformance = nonconformance
    return nonconformance, fresh


def _not_open(action, verb):
    return ValidationError(
        CAPA_NOT_OPEN
        % {"action": action.reference, "status": action.get_status_display(), "verb": verb},
        code="capa_not_open",
    )


@service
def capa_action_complete(*, action: CapaAction, note: str, acting_user) -> CapaAction:
    """The owner (or a manager) records an action as done, with what was done."""
    nonconformance, action = _lock_action(action)
    if action.status != CapaAction.Status.OPEN:
        raise _not_open(action, _("completed"))
    if action.owner_id != acting_user.pk and not acting_user.has_perm("recalls.change_capaaction"):
        raise ValidationError(
            CAPA_NOT_YOURS % {"action": action.reference, "owner": _name(action.owner)},
            code="capa_not_yours",
        )
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": CAPA_NOTE_REQUIRED}, code="capa_note")
    action.status = CapaAction.Status.DONE
    action.completed_at = timezone.now()
    action.completed_by = acting_user
    action.completion_note = note
    message = CAPA_DONE % {"action": action.reference, "note": note}
    _save(action, acting_user=acting_user, reason=message)
    _timeline(
        nonconformance, NonConformanceEvent.Kind.ACTION_DONE, message, acting_user=acting_user
    )
    return action


@service
def capa_action_verify(
    *,
    action: CapaAction,
    effective: bool,
    note: str,
    acting_user,
    new_due_on: date | None = None,
) -> CapaAction:
    """Record whether a done action worked. Someone other than who did it decides; an action
    that did not work is reopened with a new due date."""
    nonconformance, action = _lock_action(action)
    if action.status != CapaAction.Status.DONE:
        raise ValidationError(
            CAPA_NOT_DONE % {"action": action.reference, "status": action.get_status_display()},
            code="capa_not_done",
        )
    if action.completed_by_id == acting_user.pk:
        raise ValidationError(
            CAPA_VERIFIER_INDEPENDENT % {"action": action.reference}, code="capa_independent"
        )
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": CAPA_EVIDENCE_REQUIRED}, code="capa_evidence")
    if effective:
        action.status = CapaAction.Status.VERIFIED
        action.verified_at = timezone.now()
        action.verified_by = acting_user
        action.verification_note = note
        message = CAPA_VERIFIED % {"action": action.reference, "note": note}
        kind = NonConformanceEvent.Kind.ACTION_VERIFIED
    else:
        if new_due_on is None:
            raise ValidationError({"new_due_on": CAPA_NEW_DUE_REQUIRED}, code="capa_due")
        _check_due(new_due_on, "new_due_on")
        action.status = CapaAction.Status.OPEN
        action.completed_at = action.completed_by = None
        action.completion_note = ""
        action.due_on = new_due_on
        message = CAPA_REOPENED
        message = message % {"action": action.reference, "note": note, "due": _when(new_due_on)}
        kind = NonConformanceEvent.Kind.ACTION_REOPENED
    _save(action, acting_user=acting_user, reason=message)
    _timeline(nonconformance, kind, message, acting_user=acting_user)
    if not effective and nonconformance.status == NonConformance.Status.EFFECTIVENESS:
        _set_status(nonconformance, NonConformance.Status.ACTION, acting_user=acting_user)
    return action


@service
def capa_action_cancel(*, action: CapaAction, reason: str, acting_user) -> CapaAction:
    """Drop an open action that is no longer needed, saying why."""
    nonconformance, action = _lock_action(action)
    if action.status != CapaAction.Status.OPEN:
        raise _not_open(action, _("cancelled"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": CAPA_REASON_REQUIRED}, code="capa_reason")
    action.status = CapaAction.Status.CANCELLED
    action.completed_at = timezone.now()
    action.completed_by = acting_user
    action.completion_note = reason
    message = CAPA_CANCELLED % {"action": action.reference, "reason": reason}
    _save(action, acting_user=acting_user, reason=message)
    _timeline(
        nonconformance,
        NonConformanceEvent.Kind.ACTION_CANCELLED,
        message,
        acting_user=acting_user,
    )
    return action


@service
def capa_action_reschedule(
    *, action: CapaAction, due_on: date, owner, reason: str, acting_user
) -> CapaAction:
    """Give an open action a new due date or owner, saying why (the history keeps the old)."""
    nonconformance, action = _lock_action(action)
    if action.status != CapaAction.Status.OPEN:
        raise _not_open(action, _("rescheduled"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": CAPA_REASON_REQUIRED}, code="capa_reason")
    _check_due(due_on)
    _check_owner(owner)
    new_owner = owner.pk != action.owner_id
    action.due_on = due_on
    action.owner = owner
    message = CAPA_RESCHEDULED % {
        "action": action.reference,
        "due": _when(due_on),
        "owner": _name(owner),
        "reason": reason,
    }
    _save(action, acting_user=acting_user, reason=message)
    _timeline(
        nonconformance,
        NonConformanceEvent.Kind.ACTION_RESCHEDULED,
        message,
        acting_user=acting_user,
    )
    if new_owner:
        _tell_owner(action, acting_user)
    return action
