"""Every write to inventory goes through here: views, admin, commands and imports alike.

A service validates (full_clean, then the rules below), writes in one transaction, records the
matching trace event, and returns the object. Database errors are turned into ValidationError
outside the atomic block so callers see a sentence, never an IntegrityError.
"""

import functools
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter, itemgetter

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from PIL import Image

from . import bulk, locks, selectors
from .models import (
    SERIAL_MAX_LENGTH,
    CounterfeitFlag,
    Deviation,
    EventLine,
    Genealogy,
    Item,
    Lot,
    Party,
    Product,
    ReturnPhoto,
    SerialRun,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    Site,
    StatusChange,
    TraceEvent,
    TrackedItem,
    UnitOwnership,
    UnitReturn,
    VerificationCheck,
    WarrantyClaim,
    gs1_characters,
    lot_starting_status,
)

# GS1 CBV business steps and dispositions recorded for each event type by default.
EVENT_VOCABULARY = {
    TraceEvent.Type.RECEIVE: ("receiving", "in_progress"),
    TraceEvent.Type.PRODUCE: ("commissioning", "active"),
    TraceEvent.Type.TRANSFORM: ("transforming", "in_progress"),
    TraceEvent.Type.CONSUME: ("consuming", "inactive"),
    TraceEvent.Type.SHIP: ("shipping", "in_transit"),
    TraceEvent.Type.RETURN: ("receiving", "returned"),
    TraceEvent.Type.TRANSFER: ("departing", "in_transit"),
    TraceEvent.Type.ADJUST: ("cycle_counting", "active"),
    TraceEvent.Type.INSPECT: ("inspecting", "in_progress"),
    TraceEvent.Type.INSTALL: ("installing", "active"),
    TraceEvent.Type.REMOVE: ("removing", "active"),
    TraceEvent.Type.REPAIR: ("repairing", "in_progress"),
    TraceEvent.Type.SCRAP: ("destroying", "destroyed"),
    TraceEvent.Type.STATUS_CHANGE: ("holding", "active"),
}

# The CBV disposition that matches a quality status, for status-change events.
STATUS_DISPOSITION = {
    Lot.Status.RELEASED: "active",
    Lot.Status.QUARANTINED: "non_sellable_other",
    Lot.Status.ON_HOLD: "non_sellable_other",
    Lot.Status.REJECTED: "non_sellable_other",
    Lot.Status.RECALLED: "recalled",
    Lot.Status.CONSUMED: "inactive",
    Lot.Status.DESTROYED: "destroyed",
    SerialUnit.Status.IN_STOCK: "active",
    SerialUnit.Status.SCRAPPED: "destroyed",
    SerialUnit.Status.RETURNED: "returned",
}

WRONG_TRACKING_SERIAL = _("%(product)s is tracked by lot; it has no serial units.")
LOT_OF_OTHER_PRODUCT = _("Lot %(lot)s belongs to %(lot_product)s, not to %(product)s.")
SAME_STATUS = _("%(item)s is already %(status)s.")
UNKNOWN_STATUS = _("%(items)s have no status “%(status)s”.")
REASON_REQUIRED = _("Say why the status changes.")
SHIP_BLOCKED = _("%(item)s is %(status)s and cannot be shipped.")
SHIP_EXPIRED = _("%(item)s expired on %(date)s and cannot be shipped.")
SHIP_NOTHING = _("A shipment needs at least one lot or serial unit.")
SHIP_NOWHERE = _("Say who or where the shipment goes to.")
SHIP_NOT_HERE = _("%(item)s is not at one of our sites and cannot be shipped from here.")
SHIP_MORE_THAN_ON_HAND = _(
    "Only %(on_hand)s of %(item)s is on hand at %(site)s, so %(asked)s cannot be shipped "
    "from there."
)
INSTALL_CYCLE = _("%(component)s cannot be installed in %(assembly)s, which is part of it.")
INSTALL_ALREADY = _("%(component)s is already installed in %(assembly)s; remove it first.")
REMOVE_NOT_INSTALLED = _("%(component)s is not installed in anything.")
REMOVE_NOT_INSTALLED_IN = _("%(component)s is not installed in %(assembly)s.")
QUANTITY_POSITIVE = _("Quantities must be greater than zero.")
PART_NOT_INSTALLED = _("%(part)s is not installed in %(unit)s, so it cannot be removed.")
RECORDED_BY_EVENTS = {
    "status": _("Change a status with its own action, which asks for a reason."),
    "lot": _("A unit's production lot is part of its genealogy and cannot be changed."),
    "installed_in": _("Install or remove a component with its own action."),
}
CONFLICT = _("Another change was saved at the same time; reload and try again.")


# simple_history stores a change reason as varchar(100), which PostgreSQL enforces.
CHANGE_REASON_LENGTH = 100


@dataclass(frozen=True)
class Line:
    """An item an event names, with its quantity (serial units count as one each)."""

    item: Lot | SerialUnit
    quantity: Decimal | None = None
    unit: str = ""


def _sqlite_unique_error(model, constraint) -> str | None:
    """SQLite names the columns of a violated unique constraint, not the constraint."""
    if not getattr(constraint, "fields", None):
        return None
    columns = ", ".join(
        f"{model._meta.db_table}.{model._meta.get_field(name).column}" for name in constraint.fields
    )
    return f"UNIQUE constraint failed: {columns}"


def _constraint_message(exc: IntegrityError) -> str:
    """The violation message of the constraint named in the database error, if we know it."""
    # PostgreSQL's DETAIL line repeats the row's values, which must not be mistaken for a name.
    text = str(exc).partition("\n")[0]
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            if constraint.name in text or text == _sqlite_unique_error(model, constraint):
                return str(constraint.violation_error_message) % {"name": constraint.name}
    if "UNIQUE" in text.upper() or "unique" in text:
        return _("A record with these details already exists.")
    return CONFLICT


def service(func):
    """Run `func` in one transaction; a database error becomes a ValidationError afterwards."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except IntegrityError as exc:
            raise ValidationError(_constraint_message(exc), code="integrity") from exc

    return wrapper


def _save(obj, *, acting_user, reason=""):
    """Validate and save a model, telling the audit trail who did it and why."""
    obj.full_clean()
    obj._history_user = acting_user
    if reason:
        # The full reason stays on the StatusChange and in the event's notes.
        obj._change_reason = Truncator(reason).chars(CHANGE_REASON_LENGTH)
    obj.save()
    return obj


def _aware(moment: datetime | date | None) -> datetime:
    if moment is None:
        return timezone.now()
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time().replace(hour=12))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _line_quantity(line: Line) -> tuple[Decimal | None, str]:
    if line.quantity is None or isinstance(line.item, SerialUnit):
        return None, ""
    quantity = line.quantity if type(line.quantity) is Decimal else Decimal(line.quantity)
    if quantity <= 0:
        raise ValidationError(QUANTITY_POSITIVE, code="quantity")
    return quantity, line.unit or line.item.unit


# --- Events -----------------------------------------------------------------------------------


def _event_build(
    *,
    event_type: str,
    acting_user,
    occurred_at: datetime | date | None = None,
    site: Site | None = None,
    source_party: Party | None = None,
    source_site: Site | None = None,
    destination_party: Party | None = None,
    destination_site: Site | None = None,
    document_type: str = "",
    document_number: str = "",
    biz_step: str = "",
    disposition: str = "",
    fsma_cte: str = "",
    notes: str = "",
    event_id: str = "",
    corrects: TraceEvent | None = None,
    extra: dict | None = None,
    time_zone_offset: str = "",
) -> dict:
    """A trace event's fields, with their defaults (the event is built from them)."""
    moment = _aware(occurred_at)
    # A plain dict lookup first: building the enum member costs, event after event.
    default_step, default_disposition = (
        EVENT_VOCABULARY.get(event_type) or EVENT_VOCABULARY[TraceEvent.Type(event_type)]
    )
    return dict(  # noqa: C408 (the keywords match TraceEvent's)
        event_id=event_id or f"urn:uuid:{uuid.uuid4()}",
        event_type=event_type,
        occurred_at=moment,
        time_zone_offset=time_zone_offset or _offset(timezone.localtime(moment)),
        recorded_by=acting_user,
        biz_step=biz_step or default_step,
        disposition=disposition or default_disposition,
        fsma_cte=fsma_cte,
        site=site,
        source_party=source_party,
        source_site=source_site,
        destination_party=destination_party,
        destination_site=destination_site,
        document_type=document_type,
        document_number=document_number,
        corrects=corrects,
        notes=notes,
        extra=extra or {},
    )


LINE_NAMES = ("event_id", "event_type", "item_id", "role", "quantity", "unit")
LINK_NAMES = ("parent_id", "child_id", "kind", "quantity", "unit", "event_id")


def _event_rows(
    event_key: int,
    event_type: str,
    *,
    subjects: Iterable[Line] = (),
    inputs: Iterable[Line] = (),
    outputs: Iterable[Line] = (),
    parent: SerialUnit | None = None,
    children: Iterable[Line] = (),
) -> tuple[list[tuple], list[tuple]]:
    """The lines of a saved event, and the genealogy its transformation makes, as row values
    (tuples of LINE_NAMES and LINK_NAMES: an import makes hundreds of thousands)."""
    inputs, outputs = list(inputs), list(outputs)
    lines = []
    roles = (
        (EventLine.Role.SUBJECT, subjects),
        (EventLine.Role.INPUT, inputs),
        (EventLine.Role.OUTPUT, outputs),
        (EventLine.Role.CHILD, children),
    )
    for role, role_lines in roles:
        for line in role_lines:
            quantity, unit = _line_quantity(line)
            # item_id: its pk, without the pk property's cost
            lines.append((event_key, event_type, line.item.item_id, role, quantity, unit))
    if parent is not None:
        lines.append((event_key, event_type, parent.pk, EventLine.Role.PARENT, None, ""))

    links = []
    for source in inputs:
        quantity, unit = _line_quantity(source)
        links.extend(
            (
                source.item.item_id,
                target.item.item_id,
                Genealogy.Kind.TRANSFORMATION,
                quantity,
                unit,
                event_key,
            )
            for target in outputs
            # An item carried through a transformation (both input and output) is not its
            # own ancestor.
            if target.item.item_id != source.item.item_id
        )
    return lines, links


ITEM_ROLES = ("subjects", "inputs", "outputs", "parent", "children")
# The columns events_record_many writes: _event_build's fields, the related ones by key.
EVENT_RELATIONS = (
    "recorded_by",
    "site",
    "source_party",
    "source_site",
    "destination_party",
    "destination_site",
    "corrects",
)
EVENT_VALUES = (
    "event_id",
    "event_type",
    "occurred_at",
    "time_zone_offset",
    "biz_step",
    "disposition",
    "fsma_cte",
    "document_type",
    "document_number",
    "notes",
    "extra",
)
EVENT_NAMES = (*EVENT_VALUES, *(f"{name}_id" for name in EVENT_RELATIONS), "recorded_at")


@service
def event_record(
    *,
    event_type: str,
    acting_user,
    subjects: Iterable[Line] = (),
    inputs: Iterable[Line] = (),
    outputs: Iterable[Line] = (),
    parent: SerialUnit | None = None,
    children: Iterable[Line] = (),
    **event_fields,
) -> TraceEvent:
    """Record one trace event with its lines; transformation inputs become genealogy.

    `event_fields` are the event's own (see _event_build): occurred_at, site, parties,
    document, biz_step, disposition, event_id, extra, and time_zone_offset, where the event
    happened (EPCIS eventTimeZoneOffset; by default the server's offset at that moment).
    """
    event = TraceEvent(
        **_event_build(event_type=event_type, acting_user=acting_user, **event_fields)
    )
    event.full_clean()
    event.save()
    lines, links = _event_rows(
        event.pk,
        event.event_type,
        subjects=subjects,
        inputs=inputs,
        outputs=outputs,
        parent=parent,
        children=children,
    )
    EventLine.objects.bulk_create(
        EventLine(**dict(zip(LINE_NAMES, line, strict=True))) for line in lines
    )
    Genealogy.objects.bulk_create(
        Genealogy(**dict(zip(LINK_NAMES, link, strict=True))) for link in links
    )
    return event


@service
def events_record_many(*, events: list[dict], acting_user) -> list[int]:
    """Record many events at once, each given as event_record's keyword arguments; return
    their primary keys.

    For imports, which validate every field first: the rows are streamed in (bulk.py), not
    validated one by one; the database's constraints still hold.
    """
    now = timezone.now()
    rows, items = [], []
    for fields in events:
        fields = dict(fields)
        items.append({role: fields.pop(role) for role in ITEM_ROLES if role in fields})
        built = _event_build(acting_user=acting_user, **fields)
        # A related object or its key (bulk callers have keys, not objects).
        rows.append(
            (
                *[built[name] for name in EVENT_VALUES],
                *[
                    value if value is None or type(value) is int else value.pk
                    for value in map(built.__getitem__, EVENT_RELATIONS)
                ],
                now,
            )
        )
    keys = bulk.insert_values(TraceEvent, EVENT_NAMES, rows)
    lines, links = [], []
    for key, fields, event_items in zip(keys, events, items, strict=True):
        event_lines, event_links = _event_rows(key, fields["event_type"], **event_items)
        lines += event_lines
        links += event_links
    bulk.insert_values(EventLine, LINE_NAMES, lines, keys=False)
    bulk.insert_values(Genealogy, LINK_NAMES, links, keys=False)
    return keys


# --- Master data ------------------------------------------------------------------------------


@service
def record_create(*, instance, acting_user):
    """Validate and save a new product, party or site; the audit trail records who made it."""
    return _save(instance, acting_user=acting_user)


@service
def records_create_many(*, instances: list, acting_user, reason: str = "") -> list:
    """Save many new records of one model at once, each with its audit trail row.

    For imports, which validate the records before (a full_clean each would cost more than
    the inserts); the database's constraints still hold. Lots and units get their nodes.
    """
    if not instances:
        return []
    model = type(instances[0])
    if issubclass(model, TrackedItem):
        nodes = bulk.insert_rows(Item, [{"kind": model.item_kind} for _ in instances])
        for instance, node in zip(instances, nodes, strict=True):
            instance.item_id = node
    bulk.insert(instances)
    _history_insert(instances, acting_user=acting_user, reason=reason, history_type="+")
    return instances


def _history_insert(instances: list, *, acting_user, reason: str, history_type: str) -> None:
    """The audit trail rows (django-simple-history's) of many records of one model, in bulk."""
    history = type(instances[0]).history.model
    names = [field.attname for field in history.tracked_fields]
    audit = (
        timezone.now(),
        acting_user.pk if acting_user else None,
        Truncator(reason).chars(CHANGE_REASON_LENGTH) or None,
        history_type,
    )
    tracked = [attrgetter(name) for name in names]
    bulk.insert_values(
        history,
        ["history_date", "history_user_id", "history_change_reason", "history_type", *names],
        [(*audit, *[get(instance) for get in tracked]) for instance in instances],
        keys=False,
    )


@service
def records_update_many(*, instances: list, fields: list[str], acting_user, reason: str) -> list:
    """Save changed fields of many records of one model at once, each with its audit trail row.

    For imports, which set the values themselves (no full_clean per record); the database's
    constraints still hold.
    """
    if not instances:
        return []
    model = type(instances[0])
    model.objects.bulk_update(instances, fields)
    _history_insert(instances, acting_user=acting_user, reason=reason, history_type="~")
    return instances


def product_create(*, acting_user, **fields) -> Product:
    return record_create(instance=Product(**fields), acting_user=acting_user)


def party_create(*, acting_user, **fields) -> Party:
    return record_create(instance=Party(**fields), acting_user=acting_user)


def site_create(*, acting_user, **fields) -> Site:
    return record_create(instance=Site(**fields), acting_user=acting_user)


@service
def record_update(*, instance, acting_user, reason: str = "", **fields):
    """Change fields of a record; the audit trail keeps the values before and after.

    The row is read afresh under a lock and only the named fields change, so a stale copy
    cannot undo what another user or service changed in the meantime.
    """
    if isinstance(instance, Lot | SerialUnit):
        for name in fields.keys() & RECORDED_BY_EVENTS.keys():
            raise ValidationError({name: RECORDED_BY_EVENTS[name]}, code="recorded_by_events")
    instance = locks.lock_record(instance)
    for name, value in fields.items():
        setattr(instance, name, value)
    return _save(instance, acting_user=acting_user, reason=reason)


# --- Lots -------------------------------------------------------------------------------------


@service
def lot_create(
    *,
    product: Product,
    code: str,
    quantity: Decimal,
    acting_user,
    unit: str = "",
    produced_on: date | None = None,
    expires_on: date | None = None,
    supplier: Party | None = None,
    supplier_lot_code: str = "",
    site: Site | None = None,
    status: str = Lot.Status.RELEASED,
    inputs: Iterable[Line] = (),
    occurred_at: datetime | None = None,
    document_type: str = "",
    document_number: str = "",
    notes: str = "",
    fsma_cte: str = "",
) -> Lot:
    """Create a lot and its origin event: received from a supplier, or produced from inputs."""
    lot = _save(
        Lot(
            product=product,
            code=code.strip(),
            quantity=quantity,
            unit=unit or product.unit,
            produced_on=produced_on,
            expires_on=expires_on,
            supplier=supplier,
            supplier_lot_code=supplier_lot_code.strip(),
            site=site,
            status=lot_starting_status(product, status),
        ),
        acting_user=acting_user,
    )
    inputs = list(inputs)
    output = Line(lot, lot.quantity, lot.unit)
    if supplier is not None and not inputs:
        event_type = TraceEvent.Type.RECEIVE
    elif inputs:
        event_type = TraceEvent.Type.TRANSFORM
    else:
        event_type = TraceEvent.Type.PRODUCE
    event_record(
        event_type=event_type,
        acting_user=acting_user,
        subjects=[] if inputs else [output],
        inputs=inputs,
        outputs=[output] if inputs else [],
        occurred_at=occurred_at or lot.produced_on,
        site=site,
        source_party=supplier if event_type == TraceEvent.Type.RECEIVE else None,
        destination_site=site if event_type == TraceEvent.Type.RECEIVE else None,
        document_type=document_type,
        document_number=document_number,
        notes=notes,
        fsma_cte=fsma_cte,
    )
    return lot


@service
def item_change_status(
    *,
    item: Lot | SerialUnit,
    status: str,
    reason: str,
    acting_user,
    occurred_at=None,
    signed: bool = False,
) -> Lot | SerialUnit:
    """Change a lot's quality status or a unit's status, keeping who, when and why.

    A lot whose product requires release is released only by a signed release decision
    (`signed` is set by lot_release_sign), never by a plain status change."""
    item = locks.lock_item(item)
    if not signed:
        _release_unsigned_refuse(item, status)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_REQUIRED}, code="reason_required")
    if item.status == status:
        raise ValidationError(
            SAME_STATUS % {"item": item, "status": item.get_status_display()}, code="same_status"
        )
    previous = item.status
    item.status = status
    _save(item, acting_user=acting_user, reason=reason)
    event = event_record(
        event_type=TraceEvent.Type.STATUS_CHANGE,
        acting_user=acting_user,
        subjects=[Line(item)],
        occurred_at=occurred_at,
        site=item.site if isinstance(item, Lot) else item.holder_site,
        disposition=STATUS_DISPOSITION.get(status, "active"),
        notes=reason,
    )
    StatusChange.objects.create(
        item_id=item.pk,
        from_status=previous,
        to_status=status,
        reason=reason,
        event=event,
        changed_by=acting_user,
        changed_at=event.occurred_at,
    )
    return item


@service
def items_change_status_many(
    *, status: str, reason: str, acting_user, lots=None, serial_units=None, occurred_at=None
) -> list[Lot | SerialUnit]:
    """Change the status of the lots and units of two querysets, as item_change_status does
    for one: each gets its status-change event, StatusChange and history row, in a constant
    number of queries however many there are. Those already in the status are left alone;
    the changed ones are returned."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_REQUIRED}, code="reason_required")
    moment = _aware(occurred_at)
    changes = []
    for model, queryset in ((Lot, lots), (SerialUnit, serial_units)):
        if queryset is None:
            continue
        if status not in model.Status.values:
            raise ValidationError(
                UNKNOWN_STATUS
                % {"items": capfirst(model._meta.verbose_name_plural), "status": status},
                code="unknown_status",
            )
        queryset = queryset.exclude(status=status)
        if model is Lot and status == Lot.Status.RELEASED:
            unsigned = queryset.filter(product__requires_release=True).first()
            if unsigned is not None:
                _release_unsigned_refuse(unsigned, status)
        items = locks.lock_queryset(queryset)
        if not items:
            continue
        if queryset.update(status=status) != len(items):
            raise ValidationError(CONFLICT, code="conflict")
        for item in items:
            changes.append((item, item.status))
            item.status = status
        _history_insert(items, acting_user=acting_user, reason=reason, history_type="~")
    if not changes:
        return []
    keys = _status_change_events(
        [item for item, _previous in changes],
        status=status,
        reason=reason,
        moment=moment,
        acting_user=acting_user,
    )
    bulk.insert_rows(
        StatusChange,
        [
            {
                "item_id": item.pk,
                "from_status": previous,
                "to_status": status,
                "reason": reason,
                "event_id": key,
                "changed_by_id": acting_user.pk if acting_user else None,
                "changed_at": moment,
            }
            for (item, previous), key in zip(changes, keys, strict=True)
        ],
        keys=False,
    )
    return [item for item, _previous in changes]


def _status_change_events(items: list, *, status, reason, moment, acting_user) -> list[int]:
    """Record a status-change event for each item, as events_record_many would; return their
    keys. The events differ only in their id, site and subject, so they are built once and
    copied as rows (a recall holds tens of thousands of items at a time)."""
    relations = {
        field.name: field.attname for field in TraceEvent._meta.concrete_fields if field.is_relation
    }
    built = _event_build(
        event_type=TraceEvent.Type.STATUS_CHANGE,
        acting_user=acting_user,
        occurred_at=moment,
        disposition=STATUS_DISPOSITION.get(status, "active"),
        notes=reason,
    )
    event = {"recorded_at": timezone.now()}
    for name, value in built.items():
        attname = relations.get(name)
        if attname is None:
            event[name] = value
        else:
            event[attname] = value if value is None else value.pk
    keys = bulk.insert_rows(
        TraceEvent,
        [
            {
                **event,
                "event_id": f"urn:uuid:{uuid.uuid4()}",
                "site_id": item.site_id if isinstance(item, Lot) else item.holder_site_id,
            }
            for item in items
        ],
    )
    bulk.insert_rows(
        EventLine,
        [
            {
                "event_id": key,
                "event_type": TraceEvent.Type.STATUS_CHANGE,
                "item_id": item.pk,
                "role": EventLine.Role.SUBJECT,
                "quantity": None,
                "unit": "",
            }
            for item, key in zip(items, keys, strict=True)
        ],
        keys=False,
    )
    return keys


def lot_quarantine(*, lot: Lot, reason: str, acting_user) -> Lot:
    return item_change_status(
        item=lot, status=Lot.Status.QUARANTINED, reason=reason, acting_user=acting_user
    )


def lot_hold(*, lot: Lot, reason: str, acting_user) -> Lot:
    return item_change_status(
        item=lot, status=Lot.Status.ON_HOLD, reason=reason, acting_user=acting_user
    )


def lot_release(*, lot: Lot, reason: str, acting_user, signed: bool = False) -> Lot:
    return item_change_status(
        item=lot, status=Lot.Status.RELEASED, reason=reason, acting_user=acting_user, signed=signed
    )


def lot_reject(*, lot: Lot, reason: str, acting_user) -> Lot:
    return item_change_status(
        item=lot, status=Lot.Status.REJECTED, reason=reason, acting_user=acting_user
    )


RELEASE_NEEDS_SIGNATURE = _(
    "%(lot)s is released only by a signed release decision (its product requires release): "
    "use “Sign release” on the lot's page."
)


def _release_unsigned_refuse(item, status: str) -> None:
    if isinstance(item, Lot) and status == Lot.Status.RELEASED and item.product.requires_release:
        raise ValidationError(RELEASE_NEEDS_SIGNATURE % {"lot": item}, code="release_unsigned")


# --- Serial units -----------------------------------------------------------------------------


@service
def serial_unit_create(
    *,
    product: Product,
    serial: str,
    acting_user,
    lot: Lot | None = None,
    produced_on: date | None = None,
    site: Site | None = None,
    inputs: Iterable[Line] = (),
    occurred_at: datetime | None = None,
    document_type: str = "",
    document_number: str = "",
) -> SerialUnit:
    """Commission a serial unit; components consumed from lots become its genealogy."""
    if product.tracking != Product.Tracking.SERIAL:
        raise ValidationError(WRONG_TRACKING_SERIAL % {"product": product}, code="tracking")
    if lot is not None and lot.product_id != product.pk:
        raise ValidationError(
            LOT_OF_OTHER_PRODUCT
            % {"lot": lot.code, "lot_product": lot.product.sku, "product": product.sku},
            code="lot_product",
        )
    unit = _save(
        SerialUnit(
            product=product,
            serial=serial.strip(),
            lot=lot,
            produced_on=produced_on,
            holder_site=site,
        ),
        acting_user=acting_user,
    )
    inputs = list(inputs)
    event = event_record(
        event_type=TraceEvent.Type.TRANSFORM if inputs else TraceEvent.Type.PRODUCE,
        acting_user=acting_user,
        subjects=[] if inputs else [Line(unit)],
        inputs=inputs,
        outputs=[Line(unit)] if inputs else [],
        occurred_at=occurred_at or unit.produced_on,
        site=site,
        document_type=document_type,
        document_number=document_number,
    )
    if lot is not None:
        production_lot_link(units=[unit], event=event)
    return unit


@service
def production_lot_link(*, units: Iterable[SerialUnit], event: TraceEvent) -> None:
    """Link units to the lot they were built in, in the genealogy, by the event that made them."""
    production_lots_link(links=[(unit, event.pk) for unit in units])


@service
def production_lots_link(*, links: Iterable[tuple[SerialUnit, int]]) -> None:
    """production_lot_link for many units at once, each with the key of the event that made it."""
    bulk.insert_rows(
        Genealogy,
        [
            {
                "parent_id": unit.lot_id,
                "child_id": unit.pk,
                "kind": Genealogy.Kind.PRODUCTION_LOT,
                "quantity": None,
                "unit": "",
                "event_id": event_key,
            }
            for unit, event_key in links
            if unit.lot_id is not None
        ],
        keys=False,
    )


@service
def serial_unit_install(
    *, component: SerialUnit, assembly: SerialUnit, acting_user, occurred_at=None, notes=""
) -> SerialUnit:
    """Install a component in an assembly; the link stays in the genealogy after removal."""
    serial_units_install(
        components=[component],
        assembly=assembly,
        acting_user=acting_user,
        occurred_at=occurred_at,
        notes=notes,
    )
    return locks.lock_item(component)


@service
def serial_units_install(
    *,
    components: Iterable[SerialUnit],
    assembly: SerialUnit,
    acting_user,
    occurred_at=None,
    notes="",
    event_fields: dict | None = None,
) -> TraceEvent:
    """Install components in an assembly as one event (an EPCIS AggregationEvent ADD)."""
    components = list(components)
    *components, assembly = locks.lock_items(*components, assembly)
    for component in components:
        if component.installed_in_id is not None:
            raise ValidationError(
                INSTALL_ALREADY % {"component": component, "assembly": component.installed_in},
                code="already_installed",
            )
        ancestor = assembly
        while ancestor is not None:
            if ancestor.pk == component.pk:
                raise ValidationError(
                    INSTALL_CYCLE % {"component": component, "assembly": assembly}, code="cycle"
                )
            ancestor = ancestor.installed_in
    for component in components:
        component.installed_in = assembly
        component.status = SerialUnit.Status.INSTALLED
        _save(component, acting_user=acting_user, reason=f"Installed in {assembly}")
    event = event_record(
        event_type=TraceEvent.Type.INSTALL,
        acting_user=acting_user,
        parent=assembly,
        children=[Line(component) for component in components],
        occurred_at=occurred_at,
        notes=notes,
        **{"site": assembly.holder_site, **(event_fields or {})},
    )
    Genealogy.objects.bulk_create(
        Genealogy(
            parent_id=component.pk,
            child_id=assembly.pk,
            kind=Genealogy.Kind.INSTALLATION,
            event=event,
        )
        for component in components
    )
    return event


@service
def serial_unit_remove(
    *, component: SerialUnit, acting_user, occurred_at=None, notes=""
) -> SerialUnit:
    """Take a component out of its assembly; it returns to stock at the assembly's site."""
    component = locks.lock_item(component)
    if component.installed_in is None:
        raise ValidationError(REMOVE_NOT_INSTALLED % {"component": component}, code="not_installed")
    serial_units_remove(
        components=[component],
        assembly=component.installed_in,
        acting_user=acting_user,
        occurred_at=occurred_at,
        notes=notes,
    )
    return locks.lock_item(component)


@service
def serial_units_remove(
    *,
    components: Iterable[SerialUnit],
    assembly: SerialUnit,
    acting_user,
    occurred_at=None,
    notes="",
    event_fields: dict | None = None,
) -> TraceEvent:
    """Take components out of an assembly as one event (an EPCIS AggregationEvent DELETE)."""
    components = list(components)
    *components, assembly = locks.lock_items(*components, assembly)
    for component in components:
        if component.installed_in_id != assembly.pk:
            raise ValidationError(
                REMOVE_NOT_INSTALLED_IN % {"component": component, "assembly": assembly},
                code="not_installed",
            )
    for component in components:
        component.installed_in = None
        component.status = SerialUnit.Status.IN_STOCK
        component.holder_site = assembly.holder_site
        component.holder_party = None if assembly.holder_site else assembly.holder_party
        _save(component, acting_user=acting_user, reason=f"Removed from {assembly}")
    return event_record(
        event_type=TraceEvent.Type.REMOVE,
        acting_user=acting_user,
        parent=assembly,
        children=[Line(component) for component in components],
        occurred_at=occurred_at,
        notes=notes,
        **{"site": assembly.holder_site, **(event_fields or {})},
    )


# --- Movements --------------------------------------------------------------------------------


def lot_shipping_problem(lot: Lot, *, on: date, status_reason: str = "") -> str | None:
    """Why a lot may not be shipped on a day (held or expired), or None if it may.

    The reason of the lot's hold, when given, is named with its status.
    """
    if lot.is_blocked:
        status = lot.get_status_display()
        if status_reason:
            status = f"{status} ({Truncator(status_reason).chars(120)})"
        return SHIP_BLOCKED % {"item": lot, "status": status}
    if lot.is_expired(on=on):
        return SHIP_EXPIRED % {"item": lot, "date": lot.expires_on.isoformat()}
    return None


def _beyond_stock(lines: list[Line], site: Site | None) -> list[str]:
    """A sentence for each lot line asking for more than the lot has on hand at the site."""
    ours = {site.pk: site} if site is not None and site.party.is_internal else {}
    stock = selectors.lots_on_hand([line.item.pk for line in lines], sites=ours) if ours else {}
    errors = []
    for line in lines:
        quantity, unit = _line_quantity(line)
        if quantity is None:
            continue
        on_hand = sum(
            (entry.quantity for entry in stock.get(line.item.pk, ()) if entry.unit == unit),
            Decimal(0),
        )
        if quantity > on_hand:
            errors.append(
                SHIP_MORE_THAN_ON_HAND
                % {
                    "on_hand": selectors.quantity_text(max(on_hand, Decimal(0)), unit),
                    "item": line.item,
                    "site": site if site is not None else _("an unnamed site"),
                    "asked": selectors.quantity_text(quantity, unit),
                }
            )
    return errors


@service
def shipment_create(
    *,
    acting_user,
    lots: Iterable[Line] = (),
    serial_units: Iterable[SerialUnit] = (),
    from_site: Site | None = None,
    to_party: Party | None = None,
    to_site: Site | None = None,
    shipped_at: datetime | date | None = None,
    document_type: str = "",
    document_number: str = "",
    notes: str = "",
    within_stock: bool = False,
) -> TraceEvent:
    """Ship lots and units to a party or site; held, quarantined or expired stock is refused.

    With `within_stock`, a lot's quantity must also be on hand at `from_site`, counted while
    the lots are locked, so two pickers cannot both ship the last of a lot.
    """
    lots, units = list(lots), list(serial_units)
    if not lots and not units:
        raise ValidationError(SHIP_NOTHING, code="empty")
    if to_party is None and to_site is None:
        raise ValidationError(SHIP_NOWHERE, code="no_destination")
    moment = _aware(shipped_at)
    locked_lots = locks.lock_items(*(line.item for line in lots))
    locked_units = locks.lock_items(*units)
    errors = []
    for lot in locked_lots:
        problem = lot_shipping_problem(lot, on=timezone.localdate(moment))
        if problem:
            errors.append(problem)
    if within_stock:
        errors.extend(_beyond_stock(lots, from_site))
    for unit in locked_units:
        if unit.status in SerialUnit.BLOCKED_STATUSES:
            errors.append(SHIP_BLOCKED % {"item": unit, "status": unit.get_status_display()})
        elif unit.holder_party_id is not None or unit.installed_in_id is not None:
            errors.append(SHIP_NOT_HERE % {"item": unit})
    if errors:
        raise ValidationError(errors, code="not_shippable")

    destination_party = to_party or (to_site.party if to_site else None)
    event = event_record(
        event_type=TraceEvent.Type.SHIP,
        acting_user=acting_user,
        subjects=[*lots, *(Line(unit) for unit in locked_units)],
        occurred_at=moment,
        site=from_site,
        source_site=from_site,
        source_party=from_site.party if from_site else None,
        destination_party=destination_party,
        destination_site=to_site,
        document_type=document_type,
        document_number=document_number,
        notes=notes,
    )
    ours = to_site is not None and to_site.party.is_internal
    for unit in locked_units:
        unit.status = SerialUnit.Status.IN_STOCK if ours else SerialUnit.Status.SHIPPED
        unit.holder_site = to_site if ours else None
        unit.holder_party = None if ours else destination_party
        if not ours and unit.shipped_on is None:
            # The first shipment to a customer starts the warranty; a return trip does not.
            unit.shipped_on = timezone.localdate(moment)
        _save(unit, acting_user=acting_user, reason=f"Shipped ({document_number})".strip())
    return event


@service
def service_record_create(
    *,
    serial_unit: SerialUnit,
    kind: str,
    performed_on: date,
    description: str,
    acting_user,
    technician: str = "",
    outcome: str = ServiceRecord.Outcome.OPEN,
    parts_removed: Iterable[SerialUnit] = (),
    parts_fitted: Iterable[SerialUnit] = (),
) -> ServiceRecord:
    """Record work on a unit; parts removed and fitted update its installed components."""
    parts_removed, parts_fitted = list(parts_removed), list(parts_fitted)
    for part in parts_removed:
        if part.installed_in_id != serial_unit.pk:
            raise ValidationError(
                PART_NOT_INSTALLED % {"part": part, "unit": serial_unit}, code="part"
            )
    event_type = (
        TraceEvent.Type.INSPECT if kind == ServiceRecord.Kind.INSPECTION else TraceEvent.Type.REPAIR
    )
    record = ServiceRecord(
        serial_unit=serial_unit,
        kind=kind,
        performed_on=performed_on,
        description=description.strip(),
        technician=technician.strip(),
        outcome=outcome,
        recorded_by=acting_user,
    )
    record.full_clean(exclude=["event"])
    event = event_record(
        event_type=event_type,
        acting_user=acting_user,
        subjects=[Line(serial_unit)],
        occurred_at=performed_on,
        site=serial_unit.holder_site,
        notes=description,
    )
    record.event = event
    _save(record, acting_user=acting_user)
    for part in parts_removed:
        serial_unit_remove(component=part, acting_user=acting_user, occurred_at=performed_on)
    for part in parts_fitted:
        serial_unit_install(
            component=part, assembly=serial_unit, acting_user=acting_user, occurred_at=performed_on
        )
    ServicePart.objects.bulk_create(
        [
            ServicePart(record=record, part=p, action=ServicePart.Action.REMOVED)
            for p in parts_removed
        ]
        + [
            ServicePart(record=record, part=p, action=ServicePart.Action.FITTED)
            for p in parts_fitted
        ]
    )
    return record


# --- Serial life: shared by returns and warranty claims ---------------------------------------

REPLACEMENT_SAME_UNIT = _("%(unit)s cannot replace %(faulty)s: it is the same unit.")
REPLACEMENT_NOT_AVAILABLE = _(
    "%(unit)s cannot be sent as a replacement: it is %(status)s, not in stock at one of our sites."
)
REPLACEMENT_ALREADY = _("%(unit)s already replaced %(faulty)s.")
REPLACEMENT_NO_CUSTOMER = _("Say who receives the replacement for %(faulty)s.")


def document_number_next(kind: str, *, year: int | None = None) -> str:
    """The next number of a kind of document (RMA, WC), KIND-YEAR-NNNN, numbered per year.

    The year's counter stays locked until the transaction ends, so two desks take turns.
    """
    return document_numbers_next(kind, 1, year=year)[0]


def document_numbers_next(kind: str, count: int, *, year: int | None = None) -> list[str]:
    """The next `count` numbers of a kind of document, taken at once from the year's counter."""
    year = year or timezone.localdate().year
    sequence = locks.lock_sequence(kind, year)
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{kind}-{year}-{number:04d}" for number in range(first, first + count)]


@service
def serial_unit_replace(
    *,
    faulty: SerialUnit,
    replacement: SerialUnit,
    customer: Party | None,
    acting_user,
    document_number: str,
    from_site: Site | None = None,
    shipped_at: datetime | None = None,
) -> SerialUnit:
    """Ship a unit from stock to replace a faulty one, and link the two; returns the replacement.

    The replacement keeps the rest of the faulty unit's warranty when its product says so;
    otherwise its own warranty starts with this shipment.
    """
    if replacement.pk == faulty.pk:
        raise ValidationError(REPLACEMENT_SAME_UNIT % {"unit": replacement, "faulty": faulty})
    if customer is None:
        raise ValidationError(REPLACEMENT_NO_CUSTOMER % {"faulty": faulty}, code="no_customer")
    faulty, replacement = locks.lock_items(faulty, replacement)
    if replacement.replaces_id is not None:
        raise ValidationError(
            REPLACEMENT_ALREADY % {"unit": replacement, "faulty": replacement.replaces},
            code="already_replacement",
        )
    if (
        replacement.status != SerialUnit.Status.IN_STOCK
        or replacement.holder_site_id is None
        or replacement.installed_in_id is not None
    ):
        raise ValidationError(
            REPLACEMENT_NOT_AVAILABLE
            % {"unit": replacement, "status": replacement.get_status_display()},
            code="not_available",
        )
    shipment_create(
        acting_user=acting_user,
        serial_units=[replacement],
        from_site=from_site or replacement.holder_site,
        to_party=customer,
        shipped_at=shipped_at,
        document_type=TraceEvent.DocumentType.RETURN_AUTHORISATION,
        document_number=document_number,
        notes=f"Replaces {faulty}",
    )
    replacement = locks.lock_item(replacement)
    replacement.replaces = faulty
    if faulty.product.replacement_keeps_warranty:
        replacement.warranty_ends_on = faulty.warranty_ends_on
        replacement.warranty_overridden = True
    replacement = _save(replacement, acting_user=acting_user, reason=f"Replaces {faulty}")
    _owner_carry(faulty=faulty, replacement=replacement, acting_user=acting_user)
    return replacement


def _owner_carry(*, faulty: SerialUnit, replacement: SerialUnit, acting_user) -> None:
    """The faulty unit's registered owner owns the replacement from the day it ships (with the
    consent they gave, for safety notices of what they own); the faulty unit is ours again."""
    owner = faulty.ownerships.filter(ended_on__isnull=True).first()
    if owner is None or replacement.ownerships.filter(ended_on__isnull=True).exists():
        return
    handed = max(replacement.shipped_on or timezone.localdate(), owner.started_on)
    owner.ended_on = handed
    _save(owner, acting_user=acting_user, reason=f"Replaced by {replacement}")
    _save(
        UnitOwnership(
            serial_unit=replacement,
            owner_name=owner.owner_name,
            started_on=handed,
            consent=owner.consent,
            consent_at=owner.consent_at,
            email=owner.email,
            phone=owner.phone,
            registered_by=acting_user,
        ),
        acting_user=acting_user,
        reason=f"Owner of {faulty}, which it replaces",
    )


# --- Owners -----------------------------------------------------------------------------------

OWNER_NOT_SOLD = _(
    "%(unit)s has not been shipped to a customer yet; register its owner once it is sold."
)
OWNER_ALREADY = _(
    "%(unit)s is already registered to %(owner)s since %(since)s; transfer it instead."
)
OWNER_NONE_TO_TRANSFER = _("%(unit)s has no registered owner to transfer from; register one.")
OWNER_DATE_FUTURE = _("Ownership cannot start after today, %(today)s.")
OWNER_DATE_BEFORE_SHIPMENT = _(
    "%(unit)s was first shipped on %(shipped)s; its owner cannot have it from before that."
)
OWNER_TRANSFER_BEFORE_START = _(
    "%(owner)s owns %(unit)s since %(since)s; the transfer cannot be dated before that."
)
OWNER_CONTACT_NEEDS_CONSENT = _(
    "Keep an e-mail address or phone number only when the owner agrees to be contacted."
)
OWNER_NO_CONSENT_TO_WITHDRAW = _("%(owner)s has not agreed to be contacted; nothing to withdraw.")


def _ownership_new(
    *, unit, owner_name, started_on, consent, email, phone, acting_user, reason
) -> UnitOwnership:
    if (email.strip() or phone.strip()) and not consent:
        raise ValidationError(OWNER_CONTACT_NEEDS_CONSENT, code="consent")
    today = timezone.localdate()
    if started_on > today:
        raise ValidationError(OWNER_DATE_FUTURE % {"today": today.isoformat()}, code="future")
    if unit.shipped_on is not None and started_on < unit.shipped_on:
        raise ValidationError(
            OWNER_DATE_BEFORE_SHIPMENT % {"unit": unit, "shipped": unit.shipped_on.isoformat()},
            code="before_shipment",
        )
    return _save(
        UnitOwnership(
            serial_unit=unit,
            owner_name=owner_name.strip(),
            started_on=started_on,
            consent=consent,
            consent_at=timezone.now() if consent else None,
            email=email.strip() if consent else "",
            phone=phone.strip() if consent else "",
            registered_by=acting_user,
        ),
        acting_user=acting_user,
        reason=reason,
    )


@service
def unit_owner_register(
    *,
    serial_unit: SerialUnit,
    owner_name: str,
    started_on: date,
    acting_user,
    consent: bool = False,
    email: str = "",
    phone: str = "",
) -> UnitOwnership:
    """Register the end owner of a sold unit; contact details are kept only with consent."""
    unit = locks.lock_item(serial_unit)
    if unit.shipped_on is None:
        raise ValidationError(OWNER_NOT_SOLD % {"unit": unit}, code="not_sold")
    current = unit.ownerships.filter(ended_on__isnull=True).first()
    if current is not None:
        raise ValidationError(
            OWNER_ALREADY
            % {"unit": unit, "owner": current.owner_name, "since": current.started_on.isoformat()},
            code="already_owned",
        )
    return _ownership_new(
        unit=unit,
        owner_name=owner_name,
        started_on=started_on,
        consent=consent,
        email=email,
        phone=phone,
        acting_user=acting_user,
        reason="Owner registered",
    )


@service
def unit_owner_transfer(
    *,
    serial_unit: SerialUnit,
    owner_name: str,
    transferred_on: date,
    acting_user,
    consent: bool = False,
    email: str = "",
    phone: str = "",
) -> UnitOwnership:
    """Hand a unit to a new owner: the current ownership ends the day the new one starts."""
    unit = locks.lock_item(serial_unit)
    current = unit.ownerships.filter(ended_on__isnull=True).first()
    if current is None:
        raise ValidationError(OWNER_NONE_TO_TRANSFER % {"unit": unit}, code="no_owner")
    if transferred_on < current.started_on:
        raise ValidationError(
            OWNER_TRANSFER_BEFORE_START
            % {"owner": current.owner_name, "unit": unit, "since": current.started_on.isoformat()},
            code="before_start",
        )
    current.ended_on = transferred_on
    _save(current, acting_user=acting_user, reason=f"Transferred to {owner_name.strip()}")
    return _ownership_new(
        unit=unit,
        owner_name=owner_name,
        started_on=transferred_on,
        consent=consent,
        email=email,
        phone=phone,
        acting_user=acting_user,
        reason=f"Transferred from {current.owner_name}",
    )


@service
def unit_owner_consent_withdraw(*, ownership: UnitOwnership, acting_user) -> UnitOwnership:
    """The owner no longer agrees to be contacted: their e-mail and phone are erased."""
    ownership = locks.lock_record(ownership)
    if not ownership.consent:
        raise ValidationError(
            OWNER_NO_CONSENT_TO_WITHDRAW % {"owner": ownership.owner_name}, code="no_consent"
        )
    ownership.consent, ownership.consent_at = False, None
    ownership.email = ownership.phone = ""
    return _save(ownership, acting_user=acting_user, reason="Consent to be contacted withdrawn")


# --- Warranty claims --------------------------------------------------------------------------

CLAIM_FAULT_REQUIRED = _("Describe the fault.")
CLAIM_REPORTED_FUTURE = _("The fault cannot be reported after today, %(today)s.")
CLAIM_REPORTED_BEFORE_MADE = _(
    "The fault cannot be reported before %(unit)s was made, on %(made)s."
)
CLAIM_ALREADY_OPEN = _("%(unit)s already has an open warranty claim, %(number)s.")
CLAIM_RETURN_OTHER_UNIT = _("Return %(rma)s is for %(other)s, not for %(unit)s.")
CLAIM_CLOSED = _("Claim %(number)s is closed; a closed claim is final.")
CLAIM_NOT_OPEN = _("Claim %(number)s is %(status)s; only a claim awaiting decision is decided.")
CLAIM_NOT_APPROVED = _(
    "Claim %(number)s is %(status)s; only an approved claim is repaired or replaced."
)
CLAIM_NOT_RESOLVED = _(
    "Claim %(number)s is %(status)s; it is closed once it is rejected, repaired or replaced."
)
CLAIM_DECIDE_FORBIDDEN = _("Only a quality manager approves or rejects warranty claims.")
CLAIM_REPLACE_FORBIDDEN = _("Only a quality manager sends a replacement unit.")
CLAIM_REJECT_REASON = _("Say why the claim is rejected.")
CLAIM_OVERRIDE_REASON = _("Say why the claim is approved outside warranty.")
CLAIM_OVERRIDE_FORBIDDEN = _(
    "Only a quality manager with the override right approves a claim the warranty does not cover."
)
CLAIM_NEEDS_OVERRIDE = _("%(why)s Approving it needs a manager's override, with the reason.")
CLAIM_REPLACEMENT_OTHER_PRODUCT = _(
    "%(unit)s is a %(product)s; the replacement for %(faulty)s must be a %(faulty_product)s."
)
CLAIM_STEP_OPENED = _("Opened")
CLAIM_STEP_APPROVED = _("Approved")
CLAIM_STEP_OVERRIDDEN = _("Approved outside warranty")
CLAIM_STEP_REJECTED = _("Rejected")
CLAIM_STEP_REPAIRED = _("Repaired")
CLAIM_STEP_REPLACED = _("Replaced")
CLAIM_STEP_CLOSED = _("Closed")


def _claim_locked(claim: WarrantyClaim, *allowed: str, refusal) -> WarrantyClaim:
    """The claim locked and fresh, if it is in one of the allowed statuses."""
    claim = locks.lock_record(claim)
    if claim.status == WarrantyClaim.Status.CLOSED:
        raise ValidationError(CLAIM_CLOSED % {"number": claim.number}, code="closed")
    if claim.status not in allowed:
        raise ValidationError(
            refusal % {"number": claim.number, "status": claim.get_status_display()},
            code="wrong_status",
        )
    return claim


@service
def warranty_claim_open(
    *,
    serial_unit: SerialUnit,
    fault: str,
    reported_on: date,
    acting_user,
    claimant: Party | None = None,
    unit_return=None,
) -> WarrantyClaim:
    """Open a claim for a unit, numbered WC-YEAR-NNNN, noting the warranty end it had then.

    The claimant is the party that holds the unit unless someone else is named.
    """
    unit = locks.lock_item(serial_unit)
    fault = (fault or "").strip()
    if not fault:
        raise ValidationError({"fault": CLAIM_FAULT_REQUIRED}, code="fault_required")
    today = timezone.localdate()
    if reported_on > today:
        raise ValidationError(
            {"reported_on": CLAIM_REPORTED_FUTURE % {"today": today.isoformat()}}, code="future"
        )
    if unit.produced_on is not None and reported_on < unit.produced_on:
        raise ValidationError(
            {
                "reported_on": CLAIM_REPORTED_BEFORE_MADE
                % {"unit": unit, "made": unit.produced_on.isoformat()}
            },
            code="before_made",
        )
    if unit_return is not None and unit_return.serial_unit_id != unit.pk:
        raise ValidationError(
            CLAIM_RETURN_OTHER_UNIT
            % {"rma": unit_return.number, "other": unit_return.serial_unit, "unit": unit},
            code="return_other_unit",
        )
    open_claim = (
        WarrantyClaim.objects.filter(serial_unit=unit)
        .exclude(status=WarrantyClaim.Status.CLOSED)
        .first()
    )
    if open_claim is not None:
        raise ValidationError(
            CLAIM_ALREADY_OPEN % {"unit": unit, "number": open_claim.number}, code="already_open"
        )
    if claimant is None:
        claimant = unit.holder_party or (unit_return.customer if unit_return else None)
    claim = WarrantyClaim(
        number=document_number_next("WC"),
        serial_unit=unit,
        unit_return=unit_return,
        claimant=claimant,
        fault=fault,
        reported_on=reported_on,
        warranty_ends_on=unit.warranty_ends_on,
        opened_by=acting_user,
    )
    claim.covered = not selectors.claim_not_covered(claim)
    return _save(claim, acting_user=acting_user, reason=CLAIM_STEP_OPENED)


@service
def warranty_claim_decide(
    *, claim: WarrantyClaim, approve: bool, reason: str, acting_user, override: bool = False
) -> WarrantyClaim:
    """Approve or reject an open claim; approving one the warranty does not cover is a
    manager's override, with the reason."""
    if not acting_user.has_perm("inventory.decide_warrantyclaim"):
        raise ValidationError(CLAIM_DECIDE_FORBIDDEN, code="forbidden")
    claim = _claim_locked(claim, WarrantyClaim.Status.OPEN, refusal=CLAIM_NOT_OPEN)
    reason = (reason or "").strip()
    not_covered = selectors.claim_not_covered(claim)
    if approve and not_covered:
        if not override:
            raise ValidationError(CLAIM_NEEDS_OVERRIDE % {"why": not_covered}, code="not_covered")
        if not acting_user.has_perm("inventory.override_warrantyclaim"):
            raise ValidationError(CLAIM_OVERRIDE_FORBIDDEN, code="forbidden")
        if not reason:
            raise ValidationError({"reason": CLAIM_OVERRIDE_REASON}, code="reason_required")
    if not approve and not reason:
        raise ValidationError({"reason": CLAIM_REJECT_REASON}, code="reason_required")
    claim.covered = not not_covered
    claim.overridden = approve and bool(not_covered)
    claim.status = WarrantyClaim.Status.APPROVED if approve else WarrantyClaim.Status.REJECTED
    claim.decision_reason = reason
    claim.decided_by = acting_user
    claim.decided_at = timezone.now()
    if not approve:
        claim.resolved_at = claim.decided_at
    step = CLAIM_STEP_REJECTED
    if approve:
        step = CLAIM_STEP_OVERRIDDEN if claim.overridden else CLAIM_STEP_APPROVED
    return _save(claim, acting_user=acting_user, reason=step)


@service
def warranty_claim_repair(
    *,
    claim: WarrantyClaim,
    performed_on: date,
    description: str,
    acting_user,
    technician: str = "",
    parts_removed: Iterable[SerialUnit] = (),
    parts_fitted: Iterable[SerialUnit] = (),
) -> WarrantyClaim:
    """Record the repair of an approved claim's unit; the parts update its installed
    components, as any service does."""
    claim = _claim_locked(claim, WarrantyClaim.Status.APPROVED, refusal=CLAIM_NOT_APPROVED)
    record = service_record_create(
        serial_unit=locks.lock_item(claim.serial_unit),
        kind=ServiceRecord.Kind.REPAIR,
        performed_on=performed_on,
        description=description,
        technician=technician,
        outcome=ServiceRecord.Outcome.REPAIRED,
        parts_removed=parts_removed,
        parts_fitted=parts_fitted,
        acting_user=acting_user,
    )
    claim.service_record = record
    claim.status = WarrantyClaim.Status.REPAIRED
    claim.resolved_at = timezone.now()
    return _save(claim, acting_user=acting_user, reason=CLAIM_STEP_REPAIRED)


@service
def warranty_claim_replace(
    *, claim: WarrantyClaim, replacement: SerialUnit, acting_user
) -> WarrantyClaim:
    """Ship a unit from stock to the claimant in place of an approved claim's faulty unit.

    The faulty unit stays where it is: with the customer, or with the return that brought it
    back, whose decision says what becomes of it.
    """
    if not acting_user.has_perm("inventory.decide_warrantyclaim"):
        raise ValidationError(CLAIM_REPLACE_FORBIDDEN, code="forbidden")
    claim = _claim_locked(claim, WarrantyClaim.Status.APPROVED, refusal=CLAIM_NOT_APPROVED)
    faulty = claim.serial_unit
    if replacement.product_id != faulty.product_id:
        raise ValidationError(
            CLAIM_REPLACEMENT_OTHER_PRODUCT
            % {
                "unit": replacement,
                "product": replacement.product.name,
                "faulty": faulty,
                "faulty_product": faulty.product.name,
            },
            code="other_product",
        )
    claim.replacement = serial_unit_replace(
        faulty=faulty,
        replacement=replacement,
        customer=claim.claimant or faulty.holder_party,
        document_number=claim.number,
        acting_user=acting_user,
    )
    claim.status = WarrantyClaim.Status.REPLACED
    claim.resolved_at = timezone.now()
    return _save(claim, acting_user=acting_user, reason=CLAIM_STEP_REPLACED)


@service
def warranty_claim_close(*, claim: WarrantyClaim, note: str, acting_user) -> WarrantyClaim:
    """Close a rejected, repaired or replaced claim; it is final from then on."""
    claim = _claim_locked(
        claim,
        WarrantyClaim.Status.REJECTED,
        WarrantyClaim.Status.REPAIRED,
        WarrantyClaim.Status.REPLACED,
        refusal=CLAIM_NOT_RESOLVED,
    )
    claim.status = WarrantyClaim.Status.CLOSED
    claim.closed_at = timezone.now()
    claim.closing_note = (note or "").strip()
    return _save(claim, acting_user=acting_user, reason=CLAIM_STEP_CLOSED)


# --- Returns (RMA) ----------------------------------------------------------------------------


RETURN_AT_OUR_SITE = _(
    "%(unit)s is at %(site)s, one of our own sites, not with a customer, so it cannot be "
    "returned to us."
)
RETURN_INSTALLED = _(
    "%(unit)s is installed in %(assembly)s: register the return of %(assembly)s instead, or "
    "remove the part from it first."
)
RETURN_ALREADY_OPEN = _("%(unit)s already has an open return, %(number)s.")
RETURN_SITE_NOT_OURS = _(
    "%(site)s belongs to %(owner)s; a return is received at one of our own sites."
)
RETURN_IN_FUTURE = _("A return cannot be received later than now.")
RETURN_DECIDE_NOT_ALLOWED = _("Only a quality manager may decide what happens to a returned unit.")
RETURN_NOT_OPEN = _("%(number)s is already decided (%(decision)s); it cannot be decided again.")
RETURN_UNKNOWN_DECISION = _("Choose restock, repair, replace or scrap.")
RETURN_REPLACEMENT_REQUIRED = _("Scan the unit sent to the customer instead.")
RETURN_REPLACEMENT_UNASKED = _("Only a replacement names a replacement unit.")
RETURN_NOT_IN_REPAIR = _("%(number)s is not in repair, so its repair cannot be completed.")
RETURN_UNKNOWN_OUTCOME = _(
    "Choose whether the repaired unit goes back to stock or to the customer."
)
RETURN_NO_CUSTOMER = _(
    "%(number)s names no customer to send the unit back to; put it back in stock instead."
)
PHOTO_TOO_MANY = _("Attach at most %(limit)s photos; %(count)s were given.")
PHOTO_TOO_BIG = _("%(name)s is %(size)s; a photo may be up to %(limit)s.")
PHOTO_NOT_IMAGE = _("%(name)s is not a JPEG, PNG or WebP image.")

RETURN_PHOTO_LIMIT = 10
RETURN_PHOTO_MAX_SIZE = 10 * 1024 * 1024
# Pillow's format names, and the file extension each photo is stored under.
RETURN_PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def return_photos_check(photos) -> list[tuple]:
    """Each uploaded photo with the extension of what it really is; refuse anything but JPEG,
    PNG or WebP images (read by Pillow, whatever the file is called) and too many or too big."""
    photos = list(photos)
    if len(photos) > RETURN_PHOTO_LIMIT:
        raise ValidationError(
            PHOTO_TOO_MANY % {"limit": RETURN_PHOTO_LIMIT, "count": len(photos)}, code="photos"
        )
    checked, errors = [], []
    for photo in photos:
        name = getattr(photo, "name", "") or _("A photo")
        if photo.size > RETURN_PHOTO_MAX_SIZE:
            errors.append(
                PHOTO_TOO_BIG
                % {
                    "name": name,
                    "size": filesizeformat(photo.size),
                    "limit": filesizeformat(RETURN_PHOTO_MAX_SIZE),
                }
            )
            continue
        try:
            photo.seek(0)
            with Image.open(photo) as image:
                kind = image.format
                image.verify()
        except Exception:  # Pillow raises many kinds, decompression bombs included
            kind = None
        photo.seek(0)
        if kind not in RETURN_PHOTO_FORMATS:
            errors.append(PHOTO_NOT_IMAGE % {"name": name})
            continue
        checked.append((photo, RETURN_PHOTO_FORMATS[kind]))
    if errors:
        raise ValidationError(errors, code="photos")
    return checked


def _unit_status_by_event(unit: SerialUnit, *, status: str, reason: str, event, acting_user):
    """Set a unit's status as part of an event that moved it (a return, a scrapping), with the
    who and why of a StatusChange pointing at that event rather than at an event of its own."""
    previous = unit.status
    unit.status = status
    _save(unit, acting_user=acting_user, reason=reason)
    if previous != status:
        StatusChange.objects.create(
            item_id=unit.pk,
            from_status=previous,
            to_status=status,
            reason=reason,
            event=event,
            changed_by=acting_user,
            changed_at=event.occurred_at,
        )
    return unit


@service
def unit_return_register(
    *,
    serial_unit: SerialUnit,
    site: Site,
    reason: str,
    condition: str,
    acting_user,
    customer: Party | None = None,
    received_at: datetime | None = None,
    notes: str = "",
    photos: Iterable = (),
):
    """Receive a unit a customer sent back (an RMA): it is held at our site, RETURNED, until a
    manager decides what becomes of it."""
    checked_photos = return_photos_check(photos)
    unit = locks.lock_item(serial_unit)
    if unit.installed_in_id is not None:
        raise ValidationError(
            RETURN_INSTALLED % {"unit": unit, "assembly": unit.installed_in}, code="installed"
        )
    if unit.holder_site_id is not None:
        raise ValidationError(
            RETURN_AT_OUR_SITE % {"unit": unit, "site": unit.holder_site}, code="at_our_site"
        )
    open_return = UnitReturn.objects.filter(serial_unit=unit).exclude(
        status=UnitReturn.Status.CLOSED
    )
    if number := open_return.values_list("number", flat=True).first():
        raise ValidationError(
            RETURN_ALREADY_OPEN % {"unit": unit, "number": number}, code="already_open"
        )
    if not site.party.is_internal:
        raise ValidationError(
            RETURN_SITE_NOT_OURS % {"site": site, "owner": site.party}, code="site_not_ours"
        )
    moment = _aware(received_at)
    if moment > timezone.now():
        raise ValidationError(RETURN_IN_FUTURE, code="future")
    customer = customer if customer is not None else unit.holder_party
    number = document_number_next("RMA")
    unit_return = UnitReturn(
        number=number,
        serial_unit=unit,
        customer=customer,
        site=site,
        received_at=moment,
        reason=reason,
        condition=condition,
        notes=notes.strip(),
        registered_by=acting_user,
    )
    unit_return.full_clean(exclude=["receive_event"])
    summary = f"Returned under {number}: {unit_return.get_reason_display()}"
    event = event_record(
        event_type=TraceEvent.Type.RETURN,
        acting_user=acting_user,
        subjects=[Line(unit)],
        occurred_at=moment,
        site=site,
        source_party=customer,
        destination_site=site,
        document_type=TraceEvent.DocumentType.RETURN_AUTHORISATION,
        document_number=number,
        notes=f"{summary}; condition {unit_return.get_condition_display()}",
    )
    unit_return.receive_event = event
    _save(unit_return, acting_user=acting_user, reason=summary)
    unit.holder_site, unit.holder_party = site, None
    _unit_status_by_event(
        unit,
        status=SerialUnit.Status.RETURNED,
        reason=summary,
        event=event,
        acting_user=acting_user,
    )
    for photo, extension in checked_photos:
        # Stored under a name of our own: the customer's file name says nothing we need.
        photo.name = f"{uuid.uuid4().hex}.{extension}"
        _save(
            ReturnPhoto(unit_return=unit_return, image=photo, uploaded_by=acting_user),
            acting_user=acting_user,
        )
    return unit_return


def _with_notes(reason: str, notes: str) -> str:
    notes = notes.strip()
    return f"{reason} {notes}" if notes else reason


@service
def unit_return_decide(
    *, unit_return, decision: str, acting_user, notes: str = "", replacement=None
):
    """A manager decides what becomes of a returned unit: back to stock, into repair, replaced
    by another unit sent to the customer (the returned one is quarantined), or scrapped."""
    if not acting_user.has_perm("inventory.decide_unitreturn"):
        raise ValidationError(RETURN_DECIDE_NOT_ALLOWED, code="permission")
    unit_return = locks.lock_record(unit_return)
    if unit_return.status != UnitReturn.Status.OPEN:
        raise ValidationError(
            RETURN_NOT_OPEN
            % {"number": unit_return.number, "decision": unit_return.get_decision_display()},
            code="decided",
        )
    Decision = UnitReturn.Decision
    if decision not in Decision.values:
        raise ValidationError(RETURN_UNKNOWN_DECISION, code="decision")
    if decision == Decision.REPLACE and replacement is None:
        raise ValidationError({"replacement": RETURN_REPLACEMENT_REQUIRED}, code="replacement")
    if decision != Decision.REPLACE and replacement is not None:
        raise ValidationError({"replacement": RETURN_REPLACEMENT_UNASKED}, code="replacement")
    unit, number = unit_return.serial_unit, unit_return.number
    now = timezone.now()
    if decision == Decision.RESTOCK:
        reason = _with_notes(f"Back in stock after return {number}.", notes)
        item_change_status(
            item=unit, status=SerialUnit.Status.IN_STOCK, reason=reason, acting_user=acting_user
        )
        unit_return.outcome = UnitReturn.Outcome.RESTOCKED
    elif decision == Decision.REPAIR:
        reason = _with_notes(f"Sent to repair under return {number}.", notes)
        item_change_status(
            item=unit, status=SerialUnit.Status.IN_REPAIR, reason=reason, acting_user=acting_user
        )
    elif decision == Decision.REPLACE:
        replacement = serial_unit_replace(
            faulty=unit,
            replacement=replacement,
            customer=unit_return.customer,
            acting_user=acting_user,
            document_number=number,
        )
        reason = _with_notes(
            f"Replaced under return {number}; it awaits inspection before it can be sold again.",
            notes,
        )
        item_change_status(
            item=unit, status=SerialUnit.Status.QUARANTINED, reason=reason, acting_user=acting_user
        )
        unit_return.replacement = replacement
        unit_return.outcome = UnitReturn.Outcome.REPLACED
    else:
        reason = _with_notes(f"Scrapped under return {number}.", notes)
        unit = locks.lock_item(unit)
        event = event_record(
            event_type=TraceEvent.Type.SCRAP,
            acting_user=acting_user,
            subjects=[Line(unit)],
            site=unit.holder_site,
            document_type=TraceEvent.DocumentType.RETURN_AUTHORISATION,
            document_number=number,
            notes=reason,
        )
        _unit_status_by_event(
            unit,
            status=SerialUnit.Status.SCRAPPED,
            reason=reason,
            event=event,
            acting_user=acting_user,
        )
        unit_return.outcome = UnitReturn.Outcome.SCRAPPED
    unit_return.decision = decision
    unit_return.decision_notes = notes.strip()
    unit_return.decided_by = acting_user
    unit_return.decided_at = now
    if unit_return.outcome:
        unit_return.status, unit_return.closed_at = UnitReturn.Status.CLOSED, now
    else:
        unit_return.status = UnitReturn.Status.IN_REPAIR
    return _save(unit_return, acting_user=acting_user, reason=reason)


@service
def unit_return_complete_repair(*, unit_return, outcome: str, acting_user, notes: str = ""):
    """Close a return whose unit was repaired: back to stock, or shipped back to the customer."""
    if not acting_user.has_perm("inventory.decide_unitreturn"):
        raise ValidationError(RETURN_DECIDE_NOT_ALLOWED, code="permission")
    unit_return = locks.lock_record(unit_return)
    number = unit_return.number
    if unit_return.status != UnitReturn.Status.IN_REPAIR:
        raise ValidationError(RETURN_NOT_IN_REPAIR % {"number": number}, code="not_in_repair")
    unit = locks.lock_item(unit_return.serial_unit)
    if outcome == UnitReturn.Outcome.RESTOCKED:
        reason = _with_notes(f"Repaired under return {number}; back in stock.", notes)
        item_change_status(
            item=unit, status=SerialUnit.Status.IN_STOCK, reason=reason, acting_user=acting_user
        )
    elif outcome == UnitReturn.Outcome.SENT_BACK:
        if unit_return.customer is None:
            raise ValidationError(RETURN_NO_CUSTOMER % {"number": number}, code="no_customer")
        reason = _with_notes(f"Repaired under return {number}; sent back.", notes)
        shipment_create(
            acting_user=acting_user,
            serial_units=[unit],
            from_site=unit.holder_site,
            to_party=unit_return.customer,
            document_type=TraceEvent.DocumentType.RETURN_AUTHORISATION,
            document_number=number,
            notes=reason,
        )
    else:
        raise ValidationError(RETURN_UNKNOWN_OUTCOME, code="outcome")
    unit_return.outcome = outcome
    unit_return.status = UnitReturn.Status.CLOSED
    unit_return.closed_at = timezone.now()
    if notes.strip():
        unit_return.decision_notes = "\n".join(
            part for part in (unit_return.decision_notes, notes.strip()) if part
        )
    return _save(unit_return, acting_user=acting_user, reason=reason)


# --- Public verification ---

# Imported here rather than at the top so that this section merges apart from the others.


CLIENT_HASH_SALT = "tracewell.verification.client"
USER_AGENT_LENGTH = 300
FLAG_NOT_OPEN = _("This flag was already %(status)s; it cannot be reviewed again.")
FLAG_NOTE_REQUIRED = _("Say what you found: the note is kept with the flag.")
FLAG_DECISIONS = (CounterfeitFlag.Status.DISMISSED, CounterfeitFlag.Status.CONFIRMED)
FLAG_UNKNOWN_DECISION = _("A flag is dismissed or confirmed.")
# A genuine unit's answer when a check is suspicious for one of these reasons.
RESULT_FLAG_REASON = {
    VerificationCheck.Result.UNKNOWN_SERIAL: CounterfeitFlag.Reason.UNKNOWN_SERIAL,
    VerificationCheck.Result.NEVER_SHIPPED: CounterfeitFlag.Reason.NEVER_SHIPPED,
    VerificationCheck.Result.SCRAPPED: CounterfeitFlag.Reason.SCRAPPED,
}
# Statuses of a unit that has left our hands, even without a ship date of its own (a
# component shipped inside its assembly).
OUT_IN_THE_WORLD = (
    SerialUnit.Status.SHIPPED,
    SerialUnit.Status.IN_SERVICE,
    SerialUnit.Status.INSTALLED,
)


def client_hash(address: str) -> str:
    """A keyed hash (HMAC-SHA256, key derived from SECRET_KEY) of a client's address: the same
    client is recognised, and the address cannot be read back or guessed from the log."""
    return salted_hmac(CLIENT_HASH_SALT, address or "", algorithm="sha256").hexdigest()


def verification_result(product: Product | None, unit: SerialUnit | None) -> str:
    """What our records say about a checked serial of a product."""
    Result = VerificationCheck.Result
    if product is None:
        return Result.UNKNOWN_PRODUCT
    if unit is None:
        return Result.UNKNOWN_SERIAL
    if unit.status == SerialUnit.Status.SCRAPPED:
        return Result.SCRAPPED
    if (
        unit.shipped_on is None
        and unit.holder_party_id is None
        and unit.installed_in_id is None
        and unit.status not in OUT_IN_THE_WORLD
    ):
        return Result.NEVER_SHIPPED
    return Result.GENUINE


def _flag_bump(
    *, product: Product, serial: str, unit, reason: str, now, clients: int = 1, create=True
) -> None:
    """Count a check against the open flag for (product, serial, reason), raising it first if
    there is none: one open flag per reason, however many checks, even when two race."""
    open_flag = CounterfeitFlag.objects.filter(
        product=product, serial=serial, reason=reason, status=CounterfeitFlag.Status.OPEN
    )
    changes = {
        "checks": F("checks") + 1,
        "last_checked_at": now,
        "clients": Greatest(F("clients"), clients),
    }
    if open_flag.update(**changes) or not create:
        return
    try:
        # A savepoint: a check running in parallel may raise the same flag first; then the
        # conditional unique constraint refuses this one and the check counts against it.
        with transaction.atomic():
            flag = CounterfeitFlag(
                product=product,
                serial=serial,
                serial_unit=unit,
                reason=reason,
                raised_at=now,
                last_checked_at=now,
                clients=clients,
            )
            flag.save()
    except IntegrityError:
        open_flag.update(**changes)


@service
def verification_check_record(
    *,
    gtin: str,
    serial: str,
    via: str,
    client_address: str,
    user_agent: str = "",
    valid: bool = True,
) -> VerificationCheck:
    """Log a public authenticity check and raise or count the counterfeit flags it calls for.

    `gtin` is the 14-digit GTIN when `valid`; an invalid code is logged as given, to show
    probing, and names no product. Nobody is signed in, so there is no acting user.
    """
    now = timezone.now()
    serial = (serial or "")[: VerificationCheck._meta.get_field("serial").max_length]
    product = unit = None
    if valid:
        product, unit = selectors.verification_target(gtin, serial)
        result = verification_result(product, unit)
    else:
        result = VerificationCheck.Result.INVALID
    check = VerificationCheck.objects.create(
        checked_at=now,
        gtin=(gtin or "")[:14],
        serial=serial,
        product=product,
        serial_unit=unit,
        result=result,
        via=via,
        client_hash=client_hash(client_address),
        user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
    )
    if product is None:
        return check
    reason = RESULT_FLAG_REASON.get(result)
    if reason is not None:
        _flag_bump(product=product, serial=serial, unit=unit, reason=reason, now=now)
    window = timedelta(seconds=settings.VERIFY_FLAG_WINDOW_SECONDS)
    clients = selectors.distinct_checkers(check.gtin, serial, now - window)
    _flag_bump(
        product=product,
        serial=serial,
        unit=unit,
        reason=CounterfeitFlag.Reason.MANY_CLIENTS,
        now=now,
        clients=clients,
        create=clients >= settings.VERIFY_FLAG_CLIENTS,
    )
    return check


@service
def counterfeit_flag_review(
    *, flag: CounterfeitFlag, status: str, note: str, acting_user
) -> CounterfeitFlag:
    """Dismiss a flag (nothing wrong found) or confirm it as counterfeit, saying what was found."""
    if status not in FLAG_DECISIONS:
        raise ValidationError({"status": FLAG_UNKNOWN_DECISION}, code="decision")
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": FLAG_NOTE_REQUIRED}, code="required")
    flag = locks.lock_record(flag)
    if flag.status != CounterfeitFlag.Status.OPEN:
        raise ValidationError(
            FLAG_NOT_OPEN % {"status": flag.get_status_display()}, code="reviewed"
        )
    flag.status = status
    flag.review_note = note
    flag.reviewed_by = acting_user
    flag.reviewed_at = timezone.now()
    return _save(flag, acting_user=acting_user, reason=f"{flag.get_status_display()}: {note}")


# --- Serial generation ------------------------------------------------------------------------

SERIAL_RUN_MAX = 1_000_000
SERIAL_RANDOM_LENGTHS = (8, SERIAL_MAX_LENGTH)
# DSCSA asks for randomised serials that cannot be guessed from one another. Drawn with
# `secrets` from 31 upper-case letters and digits that cannot be misread for one another on a
# label or over the phone: 0/O, 1/I/L are left out. Each character carries log2(31) ≈ 4.95
# bits, so the shortest (8) carries 39.6 bits (8.5e11 serials) and the longest (20) 99 bits:
# a million units use up at most one serial in 850,000 of the shortest.
SERIAL_RANDOM_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# bytes.translate maps each random byte to a character in C; 248 = 8 * 31, so keeping only
# the bytes below 248 keeps every character equally likely.
_RANDOM_KEEP = 8 * len(SERIAL_RANDOM_ALPHABET)
_RANDOM_TABLE = bytes(
    ord(SERIAL_RANDOM_ALPHABET[byte % len(SERIAL_RANDOM_ALPHABET)]) if byte < _RANDOM_KEEP else 0
    for byte in range(256)
)
_RANDOM_DROP = bytes(range(_RANDOM_KEEP, 256))
# Existing serials are looked up this many at a time (well inside SQLite's 32,766 variables).
_CLASH_CHUNK = 5_000
CLASHES_NAMED = 5
UNIT_NAMES = (
    "item_id",
    "serial",
    "product_id",
    "created_at",
    "lot_id",
    "produced_on",
    "status",
    "holder_site_id",
    "holder_party_id",
    "shipped_on",
    "warranty_ends_on",
    "warranty_overridden",
    "installed_in_id",
    "replaces_id",
    "run_id",
)

RUN_COUNT_RANGE = _("A run makes 1 to %(max)s units.") % {"max": f"{SERIAL_RUN_MAX:,}"}
RUN_WIDTH_MIN = _("The counter needs at least one digit.")
RUN_TOO_LONG = _(
    "A serial holds at most %(max)s characters; the prefix (%(prefix)s) and the counter "
    "(%(width)s digits) make %(total)s."
)
RUN_FIRST_NEGATIVE = _("The counter starts at 0 or more.")
RUN_COUNTER_OVERFLOW = _(
    "%(count)s units from %(first)s end at %(last)s, which does not fit in %(width)s digits; "
    "widen the counter or start lower."
)
RUN_RANDOM_LENGTH = _("A random serial has %(min)s to %(max)s characters.") % {
    "min": SERIAL_RANDOM_LENGTHS[0],
    "max": SERIAL_RANDOM_LENGTHS[1],
}
RUN_RANDOM_FIELDS = _(
    "A random run takes only a length; a prefix, counter width and first value belong to "
    "pattern runs."
)
RUN_PATTERN_LENGTH = _(
    "A pattern run's length follows from its prefix and counter width; leave the length empty."
)
RUN_UNKNOWN_SCHEME = _("Choose a pattern or a random run.")
RUN_FUTURE = _("The production date %(date)s is in the future.")
RUN_DUPLICATES = ngettext_lazy(
    "%(count)s serial of this run already exists for %(product)s (%(serials)s); nothing was "
    "created. Choose another prefix or first value.",
    "%(count)s serials of this run already exist for %(product)s (%(serials)s); nothing was "
    "created. Choose another prefix or first value.",
    "count",
)


def _pattern_check(*, prefix: str, width: int | None, first_number: int | None, count: int):
    """Refuse a pattern run's fields unless its serials fit; the number format and last value."""
    if width is None or width < 1:
        raise ValidationError(RUN_WIDTH_MIN, code="width")
    if prefix:
        gs1_characters(_("A prefix"))(prefix)
    if len(prefix) + width > SERIAL_MAX_LENGTH:
        raise ValidationError(
            RUN_TOO_LONG
            % {
                "max": SERIAL_MAX_LENGTH,
                "prefix": len(prefix),
                "width": width,
                "total": len(prefix) + width,
            },
            code="too_long",
        )
    if first_number is None or first_number < 0:
        raise ValidationError(RUN_FIRST_NEGATIVE, code="first_number")
    last = first_number + count - 1
    if len(str(last)) > width:
        raise ValidationError(
            RUN_COUNTER_OVERFLOW
            % {"count": f"{count:,}", "first": first_number, "last": last, "width": width},
            code="overflow",
        )
    return f"{prefix}{{:0{width}d}}", last


def serial_run_bounds(
    *, count: int, prefix: str = "", width: int | None = None, first_number: int | None = None
) -> tuple[str, str]:
    """The first and last serial a pattern run would make (refused as the run would be)."""
    if not 1 <= count <= SERIAL_RUN_MAX:
        raise ValidationError(RUN_COUNT_RANGE, code="count")
    template, last = _pattern_check(
        prefix=prefix, width=width, first_number=first_number, count=count
    )
    return template.format(first_number), template.format(last)


def _pattern_serials(*, prefix: str, width: int | None, first_number: int | None, count: int):
    """The serials of a pattern run, after checking its fields."""
    template, last = _pattern_check(
        prefix=prefix, width=width, first_number=first_number, count=count
    )
    return [template.format(number) for number in range(first_number, last + 1)]


def _random_serials(length: int, count: int, taken: set[str]) -> list[str]:
    """`count` new random serials of `length` characters, none in `taken` nor repeated."""
    drawn: dict[str, None] = {}
    while len(drawn) < count:
        wanted = count - len(drawn)
        # A few more bytes than needed, for those translate drops (3 % of them).
        raw = secrets.token_bytes(wanted * length * 33 // 32 + length)
        text = raw.translate(_RANDOM_TABLE, _RANDOM_DROP).decode("ascii")
        for start in range(0, len(text) - length + 1, length):
            serial = text[start : start + length]
            if serial not in taken:
                drawn[serial] = None
                if len(drawn) == count:
                    break
    return list(drawn)


def _existing_serials(product: Product, serials: list[str]) -> list[str]:
    """Those of `serials` the product already has a unit with, in the order given."""
    found = set()
    if connection.vendor == "postgresql":
        # One array parameter: an IN list of thousands costs PostgreSQL more to plan than to run.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT serial FROM {SerialUnit._meta.db_table} "
                "WHERE product_id = %s AND serial = ANY(%s)",
                [product.pk, serials],
            )
            found.update(serial for (serial,) in cursor.fetchall())
    else:
        units = SerialUnit.objects.filter(product=product)
        for start in range(0, len(serials), _CLASH_CHUNK):
            chunk = serials[start : start + _CLASH_CHUNK]
            found.update(units.filter(serial__in=chunk).values_list("serial", flat=True))
    return [serial for serial in serials if serial in found] if found else []


def _run_serials(*, product, scheme, count, prefix, width, first_number, length) -> list[str]:
    if scheme == SerialRun.Scheme.PATTERN:
        if length is not None:
            raise ValidationError(RUN_PATTERN_LENGTH, code="length")
        serials = _pattern_serials(
            prefix=prefix, width=width, first_number=first_number, count=count
        )
        clashes = _existing_serials(product, serials)
        if clashes:
            raise ValidationError(
                RUN_DUPLICATES
                % {
                    "count": len(clashes),
                    "product": product.sku,
                    "serials": ", ".join(clashes[:CLASHES_NAMED])
                    + (" …" if len(clashes) > CLASHES_NAMED else ""),
                },
                code="duplicates",
            )
        return serials
    if scheme == SerialRun.Scheme.RANDOM:
        if prefix or width is not None or first_number is not None:
            raise ValidationError(RUN_RANDOM_FIELDS, code="random_fields")
        low, high = SERIAL_RANDOM_LENGTHS
        if length is None or not low <= length <= high:
            raise ValidationError(RUN_RANDOM_LENGTH, code="length")
        serials = _random_serials(length, count, set())
        # Redrawn until none clashes with the product's units: at these lengths a clash is
        # rare, so the loop ends after a lookup or two.
        while clashes := set(_existing_serials(product, serials)):
            kept = [serial for serial in serials if serial not in clashes]
            serials = kept + _random_serials(length, len(clashes), set(serials))
        return serials
    raise ValidationError(RUN_UNKNOWN_SCHEME, code="scheme")


@service
def serial_units_generate(
    *,
    product: Product,
    count: int,
    scheme: str,
    acting_user,
    prefix: str = "",
    width: int | None = None,
    first_number: int | None = None,
    length: int | None = None,
    lot: Lot | None = None,
    site: Site | None = None,
    produced_on: date | None = None,
) -> SerialRun:
    """Commission `count` new serial units of a product in one run, by pattern or at random.

    Written in bulk, in one transaction: the units (with their graph nodes and audit trail
    rows), one commissioning event naming them all, their production lot in the genealogy,
    and the run. A pattern range that hits existing serials is refused whole.
    """
    if product.tracking != Product.Tracking.SERIAL:
        raise ValidationError(WRONG_TRACKING_SERIAL % {"product": product}, code="tracking")
    if lot is not None and lot.product_id != product.pk:
        raise ValidationError(
            LOT_OF_OTHER_PRODUCT
            % {"lot": lot.code, "lot_product": lot.product.sku, "product": product.sku},
            code="lot_product",
        )
    if not 1 <= count <= SERIAL_RUN_MAX:
        raise ValidationError(RUN_COUNT_RANGE, code="count")
    today = timezone.localdate()
    if produced_on is not None and produced_on > today:
        raise ValidationError(RUN_FUTURE % {"date": produced_on.isoformat()}, code="future")
    prefix = (prefix or "").strip()
    serials = _run_serials(
        product=product,
        scheme=scheme,
        count=count,
        prefix=prefix,
        width=width,
        first_number=first_number,
        length=length,
    )
    produced_on = produced_on or today
    from .epcis.importer import cycle_collection_paused  # the importer imports this module

    with cycle_collection_paused(), bulk.streaming():
        event = event_record(
            event_type=TraceEvent.Type.PRODUCE,
            acting_user=acting_user,
            # Made today: now; on an earlier day: that day (at noon, as other dated events).
            occurred_at=None if produced_on == today else produced_on,
            site=site,
            notes=f"Serial run: {count:,} units, {serials[0]} … {serials[-1]}",
        )
        run = _save(
            SerialRun(
                product=product,
                lot=lot,
                site=site,
                scheme=scheme,
                prefix=prefix if scheme == SerialRun.Scheme.PATTERN else "",
                width=width,
                first_number=first_number,
                length=length,
                count=count,
                first_serial=serials[0],
                last_serial=serials[-1],
                produced_on=produced_on,
                event=event,
                created_by=acting_user,
            ),
            acting_user=acting_user,
        )
        _run_units_insert(run, serials, acting_user=acting_user)
    return run


def _run_units_insert(run: SerialRun, serials: list[str], *, acting_user) -> None:
    """The run's units, their nodes, audit trail rows, event lines and production-lot links."""
    template = SerialUnit(
        product=run.product,
        lot=run.lot,
        produced_on=run.produced_on,
        status=SerialUnit.Status.IN_STOCK,
        holder_site=run.site,
        run=run,
    )
    template.clean()  # the warranty end, as every unit's save would set it
    shared = tuple(getattr(template, name) for name in UNIT_NAMES[2:])
    keys = bulk.insert_values(Item, ["kind"], [(Item.Kind.SERIAL,)] * len(serials))
    rows = [(key, serial, *shared) for key, serial in zip(keys, serials, strict=True)]
    bulk.insert_values(SerialUnit, UNIT_NAMES, rows)

    history = SerialUnit.history.model
    tracked = [field.attname for field in history.tracked_fields]
    pick = itemgetter(*(UNIT_NAMES.index(name) for name in tracked))
    audit = (timezone.now(), acting_user.pk if acting_user else None, None, "+")
    bulk.insert_values(
        history,
        ["history_date", "history_user_id", "history_change_reason", "history_type", *tracked],
        [(*audit, *pick(row)) for row in rows],
        keys=False,
    )

    event = run.event
    line = (EventLine.Role.SUBJECT, None, "")
    bulk.insert_values(
        EventLine,
        LINE_NAMES,
        [(event.pk, event.event_type, key, *line) for key in keys],
        keys=False,
    )
    if run.lot_id is not None:
        # What production_lots_link writes, from the keys (no unit objects are built here).
        link = (Genealogy.Kind.PRODUCTION_LOT, None, "", event.pk)
        bulk.insert_values(
            Genealogy, LINK_NAMES, [(run.lot_id, key, *link) for key in keys], keys=False
        )


# --- Quality control: deviations ----------------------------------------------------------------

DEVIATION_DOCUMENT = "DEV"
DEVIATION_DESCRIPTION_REQUIRED = _("Say what departed from what.")
DEVIATION_JUSTIFICATION_REQUIRED = _("Say why the deviation is approved or rejected.")
DEVIATION_NOT_OPEN = _("This deviation was already decided (%(status)s).")


@service
def deviation_raise(
    *,
    item: Item,
    kind: str,
    description: str,
    acting_user=None,
    raised_at: datetime | None = None,
    **links,
) -> Deviation:
    """Raise a deviation against a lot or unit; acting_user is None when the system raises it.

    `links` are the optional foreign keys that say what the deviation departs from (the
    specification test, the reading), set by the code that knows them.
    """
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": DEVIATION_DESCRIPTION_REQUIRED}, code="required")
    deviation = Deviation(
        reference=document_number_next(DEVIATION_DOCUMENT),
        item=item,
        kind=kind,
        description=description,
        raised_at=raised_at or timezone.now(),
        raised_by=acting_user,
        **links,
    )
    return _save(deviation, acting_user=acting_user, reason=str(Deviation.Status.OPEN.label))


@service
def deviation_decide(
    *, deviation: Deviation, approve: bool, justification: str, acting_user
) -> Deviation:
    """Approve a deviation (justified: it no longer stands in the way) or reject it, saying why."""
    justification = (justification or "").strip()
    if not justification:
        raise ValidationError({"justification": DEVIATION_JUSTIFICATION_REQUIRED}, code="required")
    deviation = locks.lock_record(deviation)
    if deviation.status != Deviation.Status.OPEN:
        raise ValidationError(
            DEVIATION_NOT_OPEN % {"status": deviation.get_status_display()}, code="decided"
        )
    deviation.status = Deviation.Status.APPROVED if approve else Deviation.Status.REJECTED
    deviation.justification = justification
    deviation.decided_by = acting_user
    deviation.decided_at = timezone.now()
    return _save(
        deviation,
        acting_user=acting_user,
        reason=f"{deviation.get_status_display()}: {justification}",
    )
