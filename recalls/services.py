"""Every write to recalls goes through here: the command, the admin and (later) the pages.

Services follow inventory's: keyword-only arguments and `acting_user`, one transaction, the
campaign's timeline written with the change, database errors turned into sentences.
"""

import functools
import gc
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from inventory import bulk
from inventory.models import Genealogy, Item, Lot, SerialUnit, Unit
from inventory.services import (
    CHANGE_REASON_LENGTH,
    _save,
    items_change_status_many,
    records_update_many,
    service,
)
from inventory.trace import Direction, Shipment, TracedItem, TraceResult, trace

from . import locks, notice_default, notices, selectors
from . import scope as recall_scope
from .formatting import duration, plain, unit_label
from .models import (
    AffectedItem,
    CampaignEvent,
    CampaignFigures,
    CampaignSignature,
    ConsigneeNotice,
    ItemResolution,
    NoticeTemplate,
    RecallCampaign,
)
from .selectors import keys_in

SCOPE_EMPTY = _("Name at least one lot or serial unit to recall.")
SCOPE_MATCHES_NOTHING = _("The scope names no lot or serial unit.")
TITLE_REQUIRED = _("Give the campaign a title.")
REASON_REQUIRED = _("Say why the products are recalled.")
HOLD_REASON = _("Recall %(reference)s: %(title)s")
OPENED = _("Opened %(reference)s: %(items)d affected item(s), %(consignees)d consignee(s).")
OPENED_DRILL = _(
    "Opened drill %(reference)s: %(items)d affected item(s), %(consignees)d consignee(s); "
    "no stock status was changed."
)
HELD = _("Put %(lots)d lot(s) and %(units)d serial unit(s) on hold as recalled.")
CHANGED = _("Changed %(fields)s.")
NOT_A_DETAIL = _("This changes with its own action, not as a detail of the campaign.")
DRAFTED = _("Drafted %(reference)s for %(scope)s.")
NOT_A_DRAFT = _("%(reference)s is already open.")
NOT_ONGOING = _("%(reference)s is %(status)s; only an ongoing campaign can do this.")
RESCOPE_REASON_REQUIRED = _("Say why the scope changes.")
NOT_ALLOWED_NOW = _("%(reference)s is %(status)s, so this cannot be done now.")
UNKNOWN_OUTCOME = _("Choose what happened to the item.")
NOTHING_SELECTED = _("Select at least one line.")
QUANTITY_FOR_ONE = _(
    "Give a quantity only when resolving one item; many at once resolve all that is left."
)
QUANTITY_POSITIVE = _("The quantity must be more than zero.")
QUANTITY_NOT_NEGATIVE = _("A quantity cannot be negative.")
IN_THE_FUTURE = _("That time is in the future.")
BEFORE_OPENING = _("That is before the campaign opened.")
NOT_IN_CAMPAIGN = _("Some of the selected lines are not (or no longer) part of %(reference)s.")
ALREADY_RESOLVED = _(
    "%(item)s is already resolved (%(outcome)s, by %(who)s at %(when)s); nothing is left."
)
TOO_MUCH = _("Only %(left)s %(unit)s of %(item)s is left to resolve.")
NOTHING_LEFT = _("Every selected line is already resolved in full.")
RESOLVED = _("Resolved %(count)d line(s) as %(outcome)s (%(quantity)s): %(items)s.")
REVERSAL_MARK = "Reverses resolution #"
REVERSE_REASON_REQUIRED = _("Say why the resolution is reversed.")
NOT_REVERSIBLE = _("A reversal cannot itself be reversed; record the resolution again.")
ALREADY_REVERSED = _("This resolution has already been reversed.")
REVERSED = _("Reversed %(outcome)s %(quantity)s %(unit)s of %(item)s: %(reason)s")
NOTICE_TEXT_REQUIRED = _("The notice needs a subject and a text.")
NOTICE_CHANGED = _("Changed the notice's wording.")
UNKNOWN_METHOD = _("Choose how the notice is sent.")
DRILL_NEEDS_YOUR_EMAIL = _(
    "A drill's e-mails go to you, not to consignees, and your account has no e-mail address."
)
NO_EMAIL = _(
    "%(count)d consignee(s) have no e-mail address (%(parties)s); add one, or send their "
    "notices another way."
)
SENT = _("Sent %(count)d notice(s) by %(method)s.")
STATUS_REPORT_ISSUED = _("Issued recall status report no. %(number)d.")
SENT_REASON = _("Notice sent by %(method)s")
SENT_DRILL = _("Sent %(count)d drill notice(s) by %(method)s, to the sender only.")
ACK_BEFORE_SENT = _("The notice was sent at %(sent)s; it cannot be acknowledged before.")
NOT_SENT_YET = _("Record the notice as sent before its acknowledgement.")
RESPONSE_REASON = _("Consignee response recorded")
RESPONSE = _("Response from %(party)s: %(summary)s")
STATEMENT_REQUIRED = _("Write the statement you are signing.")
WRONG_PASSWORD = _("That is not your password; the signature was not recorded.")
COMPLETED = _("Completed and signed, %(duration)s after opening.")
TERMINATION_REFUSED = _(
    "The campaign cannot be terminated yet; resolve these gaps or record a justified exception:"
)
EXCEPTION_STATEMENT = _(
    "Terminated with open gaps. Justification: %(justification)s Gaps: %(gaps)s"
)
TERMINATED = _("Terminated and signed.")
TERMINATED_WITH_EXCEPTION = _(
    "Terminated and signed with a justified exception for %(count)d gap(s): %(justification)s"
)
RESCOPED_REASON = _("Re-scoped: %(reason)s")
RESCOPED = _(
    "Re-scoped (%(reason)s): %(added)d item(s) added, %(removed)d taken out, "
    "%(consignees)d consignee(s) with new items."
)

# What campaign_update may change; status, scope and drill change through their own actions.
EDITABLE_DETAILS = {
    "title",
    "reason",
    "hazard",
    "classification",
    "depth",
    "public_warning",
    "effectiveness_check",
    "owner",
    "estimated_completion_on",
}

THOUSANDTHS = Decimal("0.001")  # quantities are kept to three decimal places

# Lots in these statuses hold nothing that could still leave our sites.
LOTS_GONE = (Lot.Status.CONSUMED, Lot.Status.DESTROYED)
# Units in these statuses are with a customer, in another unit, recalled already or scrapped;
# a component follows its assembly, which is affected (and held) itself.
UNITS_OUT_OF_REACH = (
    SerialUnit.Status.SHIPPED,
    SerialUnit.Status.IN_SERVICE,
    SerialUnit.Status.INSTALLED,
    SerialUnit.Status.RECALLED,
    SerialUnit.Status.SCRAPPED,
)


def _queryset(model, scope) -> QuerySet | None:
    if scope is None or isinstance(scope, QuerySet):
        return scope
    return model.objects.filter(pk__in=[obj.pk for obj in scope])


def campaign_reference_next(*, year: int) -> tuple[int, str]:
    """The year's next campaign number and its reference, RC-YEAR-NNNN; the year's counter
    stays locked until the transaction ends, so concurrent campaigns take turns."""
    sequence = locks.lock_sequence(year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return sequence.last_number, f"RC-{year}-{sequence.last_number:04d}"


def _scope_entries(identifiers, lots, serial_units, entries) -> list:
    """The scope as kept on the campaign: identifiers and criteria as given, and lots and units
    passed as records by their labels ("SKU lot CODE"), which resolve to the same records."""
    scope = [text.strip() for text in identifiers if text.strip()]
    scope += [
        str(obj)
        for queryset in (lots, serial_units)
        if queryset is not None
        for obj in queryset.select_related("product")
    ]
    scope += list(entries)
    if not scope:
        raise ValidationError(SCOPE_EMPTY, code="scope_empty")
    return scope


def _scope_trace(scope: list):
    """The forward trace of the scope's lots and units (the roots included)."""
    found = recall_scope.resolve(scope)
    result = trace(
        direction=Direction.FORWARD,
        lots=Lot.objects.filter(pk__in=keys_in(lot.pk for lot in found.lots)),
        serial_units=SerialUnit.objects.filter(
            pk__in=keys_in(unit.pk for unit in found.serial_units)
        ),
    )
    if not result.roots:
        raise ValidationError(SCOPE_MATCHES_NOTHING, code="scope_empty")
    return result


def _whereabouts(traced: list[TracedItem], shipments: list[Shipment]):
    """What the snapshot needs beyond the trace, in three queries: each lot's and unit's own
    fields and how much of each lot went into others; and, from the trace's own shipments,
    what each item's consignees received from us or from another consignee, and when first."""
    lot_keys = [item.pk for item in traced if item.kind == Item.Kind.LOT]
    unit_keys = [item.pk for item in traced if item.kind == Item.Kind.SERIAL]
    lots = {
        row["pk"]: row
        for row in Lot.objects.filter(pk__in=keys_in(lot_keys)).values(
            "pk", "status", "site_id", "quantity", "unit"
        )
    }
    units = {
        row["pk"]: row
        for row in SerialUnit.objects.filter(pk__in=keys_in(unit_keys)).values(
            "pk",
            "status",
            "holder_site_id",
            "holder_party_id",
            "installed_in_id",
            "shipped_on",
        )
    }
    shipped = defaultdict(dict)
    for shipment in shipments:
        if shipment.item not in lots and shipment.item not in units:
            continue  # known to the campaign already
        places = shipped[shipment.item]
        key = (shipment.party, shipment.sender)
        before = places.get(key)
        if before is None:
            places[key] = (shipment.quantity, shipment.occurred_at)
        else:
            # As SUM and MIN would: a quantity left out counts nothing.
            quantity, first = before
            if shipment.quantity is not None:
                quantity = shipment.quantity if quantity is None else quantity + shipment.quantity
            places[key] = (quantity, min(first, shipment.occurred_at))
    used = dict(
        Genealogy.objects.filter(
            parent_id__in=keys_in(lot_keys), kind=Genealogy.Kind.TRANSFORMATION
        )
        .values("parent_id")
        .annotate(used=Sum("quantity"))
        .order_by()
        .values_list("parent_id", "used")
    )
    return lots, units, shipped, used


def _lot_rows(lot: dict, shipped: dict, used: Decimal | None) -> list[dict]:
    """A lot's rows: each consignee's share, what went into other lots (or was destroyed),
    and what is left on hand; together they add up to the quantity produced."""
    rows = []
    for (party, sender), (quantity, first) in sorted(shipped.items(), key=_by_party):
        rows.append(
            {
                "whereabouts": AffectedItem.Whereabouts.SHIPPED,
                "consignee_id": party,
                "shipped_by_id": sender,
                "shipped_at": first,
                "quantity": quantity or Decimal(0),
            }
        )
    ours = sum(row["quantity"] for row in rows if row["shipped_by_id"] is None)
    left = max(lot["quantity"] - ours, Decimal(0))
    gone = lot["status"] in LOTS_GONE
    used_up = left if gone else min(used or Decimal(0), left)
    if used_up > 0:
        rows.append({"whereabouts": AffectedItem.Whereabouts.USED, "quantity": used_up})
    if left - used_up > 0 or not any(row.get("shipped_by_id") is None for row in rows):
        whereabouts = AffectedItem.Whereabouts.USED if gone else AffectedItem.Whereabouts.ON_HAND
        rows.append(
            {"whereabouts": whereabouts, "site_id": lot["site_id"], "quantity": left - used_up}
        )
    return [{**row, "unit": lot["unit"]} for row in rows]


def _by_party(pair):
    (party, sender), _shipment = pair
    return (party, sender or 0)


ONE = Decimal(1)
SHIPPED = AffectedItem.Whereabouts.SHIPPED
# The columns a row's place may set (see _lot_rows and _unit_rows), for places that do not.
NO_PLACE = {
    "site_id": None,
    "consignee_id": None,
    "shipped_by_id": None,
    "shipped_at": None,
    "installed_in_id": None,
}


def _unit_rows(unit: dict, shipped: dict) -> list[dict]:
    """A unit's rows: each party that received it (one each), and where it is unless a
    trading partner holds it."""
    places = list(shipped.items())
    if len(places) > 1:
        places.sort(key=_by_party)
    # Written out, not merged from a common dict: a recall builds 100,000 of them.
    rows = [
        {
            "quantity": ONE,
            "unit": Unit.EACH,
            "whereabouts": SHIPPED,
            "consignee_id": party,
            "shipped_by_id": sender,
            "shipped_at": first,
        }
        for (party, sender), (_quantity, first) in places
    ]
    holder = unit["holder_party_id"]
    if holder is not None:
        if not any(party == holder for (party, _sender), _shipment in places):
            # Held by a party with no shipment on record (e.g. imported with its holder).
            rows.append(
                {
                    "quantity": ONE,
                    "unit": Unit.EACH,
                    "whereabouts": SHIPPED,
                    "consignee_id": holder,
                    "shipped_at": _noon(unit["shipped_on"]),
                }
            )
    elif unit["installed_in_id"] is not None:
        rows.append(
            {
                "quantity": ONE,
                "unit": Unit.EACH,
                "whereabouts": AffectedItem.Whereabouts.INSTALLED,
                "installed_in_id": unit["installed_in_id"],
            }
        )
    elif unit["status"] == SerialUnit.Status.SCRAPPED:
        rows.append(
            {"quantity": ONE, "unit": Unit.EACH, "whereabouts": AffectedItem.Whereabouts.USED}
        )
    else:
        rows.append(
            {
                "quantity": ONE,
                "unit": Unit.EACH,
                "whereabouts": AffectedItem.Whereabouts.ON_HAND,
                "site_id": unit["holder_site_id"],
            }
        )
    return rows


def _trace_order(item: TracedItem) -> tuple:
    """As the trace lists a party's items: nearest first, then by SKU and code."""
    return (item.depth, item.sku, item.lot or "", item.serial or "")


def _noon(day: date | None) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, datetime.min.time().replace(hour=12)))


def _save_fields(obj, fields: list[str], *, acting_user, reason: str):
    """Save a few fields the service itself set (no full_clean: the database's constraints
    still hold), with the audit trail's who and why."""
    obj._history_user = acting_user
    obj._change_reason = Truncator(reason).chars(CHANGE_REASON_LENGTH)
    obj.save(update_fields=fields)
    return obj


def _timeline(campaign, kind, message, *, acting_user, occurred_at=None, **details):
    return CampaignEvent.objects.create(
        campaign=campaign,
        kind=kind,
        actor=acting_user,
        occurred_at=occurred_at or timezone.now(),
        message=message,
        details=details,
    )


def _default_notice() -> tuple[str, str]:
    template = NoticeTemplate.objects.filter(is_default=True).first()
    if template is None:
        return notice_default.SUBJECT, notice_default.BODY
    return template.subject, template.body


@service
def recall_draft(
    *,
    title: str,
    reason: str,
    classification: str,
    acting_user,
    identifiers: Iterable[str] = (),
    lots: QuerySet | Iterable[Lot] | None = None,
    serial_units: QuerySet | Iterable[SerialUnit] | None = None,
    scope_entries: Iterable = (),
    hazard: str = "",
    depth: str = RecallCampaign.Depth.CONSUMER,
    public_warning: str = RecallCampaign.PublicWarning.NONE,
    effectiveness_check: str = RecallCampaign.EffectivenessCheck.A,
    owner=None,
    estimated_completion_on: date | None = None,
    is_drill: bool = False,
    consumer_notice: str = "",
) -> RecallCampaign:
    """Prepare a campaign: its strategy and scope, with a reference, and nothing held yet.

    The scope is checked now (every entry must name something), and traced when it opens.
    """
    lots, serial_units = _queryset(Lot, lots), _queryset(SerialUnit, serial_units)
    scope = _scope_entries(identifiers, lots, serial_units, scope_entries)
    title, reason = (title or "").strip(), (reason or "").strip()
    if not title:
        raise ValidationError({"title": TITLE_REQUIRED}, code="required")
    if not reason:
        raise ValidationError({"reason": REASON_REQUIRED}, code="required")
    found = recall_scope.resolve(scope)
    if not found.lots and not found.serial_units:
        raise ValidationError(SCOPE_MATCHES_NOTHING, code="scope_empty")
    now = timezone.now()
    year = timezone.localdate(now).year
    number, reference = campaign_reference_next(year=year)
    subject, body = _default_notice()
    campaign = _save(
        RecallCampaign(
            reference=reference,
            year=year,
            number=number,
            title=title,
            reason=reason,
            hazard=(hazard or "").strip(),
            classification=classification,
            depth=depth,
            public_warning=public_warning,
            effectiveness_check=effectiveness_check,
            owner=owner or acting_user,
            status=RecallCampaign.Status.DRAFT,
            is_drill=is_drill,
            scope=scope,
            created_at=now,
            estimated_completion_on=estimated_completion_on,
            notice_subject=subject,
            notice_body=body,
            consumer_notice=(consumer_notice or "").strip(),
        ),
        acting_user=acting_user,
    )
    _timeline(
        campaign,
        CampaignEvent.Kind.DRAFTED,
        DRAFTED % {"reference": reference, "scope": "; ".join(map(recall_scope.describe, scope))},
        acting_user=acting_user,
        occurred_at=now,
        scope=scope,
    )
    return campaign


@contextmanager
def _cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while a scope is traced and frozen.

    A recall of 100,000 units makes millions of short-lived dicts, tuples and objects, and the
    collector walks every live one again and again as they pile up: an opening spent about
    2 of its 5 s of Python there. They are not cycles, so reference counting frees them all
    the same; the collector resumes afterwards, whatever happened.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@service
@_cyclic_gc_paused()
def recall_start(*, campaign: RecallCampaign, acting_user, started: float | None = None):
    """Open a draft: freeze the forward trace of its scope as affected items and consignee
    notices and, unless it is a drill, put every affected lot and unit still under our control
    on hold as recalled.

    The work is one trace query and a fixed number of bulk reads and writes, however many
    items the trace reaches. `started` (time.monotonic()) is when the request came in, for the
    time to trace; by default, now.
    """
    started = time.monotonic() if started is None else started
    campaign = locks.lock_campaign(campaign)
    if campaign.status != RecallCampaign.Status.DRAFT:
        raise ValidationError(NOT_A_DRAFT % {"reference": campaign.reference}, code="status")
    result = _scope_trace(campaign.scope)
    campaign.trace_duration = timedelta(seconds=time.monotonic() - started)
    now = timezone.now()
    campaign.status = RecallCampaign.Status.ONGOING
    campaign.opened_at = now
    campaign.scope_revision = 1
    _save_fields(
        campaign,
        ["trace_duration", "status", "opened_at", "scope_revision"],
        acting_user=acting_user,
        reason=str(_("Opened")),
    )
    counts = _snapshot_add(campaign, result, acting_user=acting_user, now=now)
    # A draft has no lines: what was just written is all there is to count.
    CampaignFigures.objects.create(
        campaign=campaign,
        items=counts.items,
        lines=[
            {
                "unit": unit,
                "whereabouts": whereabouts,
                "passed_on": passed_on,
                "total": str(_quantity(total)),
                "lines": lines,
                "resolved": 0,
            }
            for (unit, whereabouts, passed_on), (total, lines) in sorted(counts.groups.items())
        ],
        resolutions=[],
    )
    message = OPENED_DRILL if campaign.is_drill else OPENED
    _timeline(
        campaign,
        CampaignEvent.Kind.OPENED,
        message % {"reference": campaign.reference, **counts.summary},
        acting_user=acting_user,
        occurred_at=now,
        **counts.summary,
        rows=counts.rows,
        scope=campaign.scope,
        trace_seconds=round(campaign.trace_duration.total_seconds(), 3),
    )
    _timeline_held(campaign, counts, acting_user=acting_user, now=now)
    return campaign


def recall_open(**kwargs) -> RecallCampaign:
    """Draft a campaign and open it at once, in one transaction (the command's `recall open`)."""
    started = time.monotonic()
    with transaction.atomic():
        acting_user = kwargs["acting_user"]
        campaign = recall_draft(**kwargs)
        return recall_start(campaign=campaign, acting_user=acting_user, started=started)


@dataclass
class _Added:
    items: int
    consignees: int
    rows: int
    held_lots: int
    held_units: int
    labels: list
    # (unit, whereabouts, passed on) → [quantity, lines] of the rows written
    groups: dict

    @property
    def summary(self) -> dict:
        return {"items": self.items, "consignees": self.consignees}


def _timeline_held(campaign, counts: _Added, *, acting_user, now):
    if counts.held_lots or counts.held_units:
        held = {"lots": counts.held_lots, "units": counts.held_units}
        _timeline(
            campaign,
            CampaignEvent.Kind.HELD,
            HELD % held,
            acting_user=acting_user,
            occurred_at=now,
            **held,
        )


class _Paths:
    """Each traced item's path as the JSON the row stores, built once per lot: the 100,000
    units of a recall share a few dozen lots on their way from the root."""

    def __init__(self):
        self.encoded = {}

    def of(self, item: TracedItem, label: str | None = None) -> bulk.Json:
        """The path as a JSON list: the path it was reached by, and its own label."""
        path = self.encoded.get(item.pk)
        if path is None:
            own = json.dumps(label or item.label)
            if item.via is None:
                path = bulk.Json(f"[{own}]")
            else:
                path = bulk.Json(f"{self.of(item.via)[:-1]}, {own}]")
            if item.kind == Item.Kind.LOT:  # units lead nowhere (in a recall's trace)
                self.encoded[item.pk] = path
        return path


class _Times(dict):
    """ISO texts of shipment times: a shipment's units share its time."""

    def __missing__(self, moment):
        text = self[moment] = moment.isoformat() if moment else None
        return text


@functools.lru_cache(maxsize=1024)
def _received_quantity(quantity: Decimal) -> str:
    return str(Decimal(quantity).quantize(THOUSANDTHS))


def _first(pair):
    return pair[0]


# Snapshot rows per COPY: PostgreSQL writes and checks one batch while Python builds the next.
SNAPSHOT_BATCH = 10_000
# A campaign adding this many rows, and more than a tenth of the table (autovacuum's rule),
# has the table analyzed before its page is first read: autovacuum would only notice after
# the commit, and until then the planner takes the campaign for a few rows.
ANALYZE_ROWS = 10_000


def _snapshot_add(
    campaign: RecallCampaign,
    result: TraceResult,
    *,
    acting_user,
    now,
    known=frozenset(),
    first_position: int = 0,
) -> _Added:
    """Write the snapshot rows of traced items (all but `known` ones, numbered on from
    `first_position`) and their consignees' notices, and hold what is still ours unless the
    campaign is a drill.

    On PostgreSQL the writes are streamed (bulk.streaming()): the hold's rows and each batch
    of snapshot rows are copied, and their foreign keys checked, while the next are built.
    """
    traced = [item for item in result.all_items if item.pk not in known]
    lots_found, units_found, shipments, used = _whereabouts(traced, result.shipments)
    noticed = set(
        ConsigneeNotice.objects.filter(campaign=campaign).values_list("party_id", flat=True)
    )
    rows_written = 0
    groups = {}
    received = defaultdict(list)
    with bulk.streaming():
        held = set()
        if not campaign.is_drill and traced:
            held_items = items_change_status_many(
                status=Lot.Status.RECALLED,  # the same value as SerialUnit.Status.RECALLED
                reason=HOLD_REASON % {"reference": campaign.reference, "title": campaign.title},
                acting_user=acting_user,
                occurred_at=now,
                lots=Lot.objects.filter(
                    pk__in=keys_in(
                        k for k, lot in lots_found.items() if lot["status"] not in LOTS_GONE
                    )
                ),
                serial_units=SerialUnit.objects.filter(
                    pk__in=keys_in(
                        key
                        for key, unit in units_found.items()
                        if unit["status"] not in UNITS_OUT_OF_REACH
                        and unit["holder_party_id"] is None
                        and unit["installed_in_id"] is None
                    )
                ),
            )
            held = {item.pk for item in held_items}

        rows = []
        paths, times = _Paths(), _Times()
        for position, item in enumerate(traced, start=first_position):
            if item.kind == Item.Kind.LOT:
                own = lots_found[item.pk]
                places = _lot_rows(own, shipments[item.pk], used.get(item.pk))
            else:
                own = units_found[item.pk]
                places = _unit_rows(own, shipments[item.pk])
            label = item.label
            common = {
                "campaign_id": campaign.pk,
                "item_id": item.pk,
                "kind": item.kind,
                "lot_code": item.lot or "",
                "serial": item.serial or "",
                "depth": item.depth,
                "position": position,
                "path": paths.of(item, label),
                "status_at_opening": own["status"],
                "put_on_hold": item.pk in held,
                "added_in": campaign.scope_revision,
                # Every column given, so the bulk insert merges no defaults into 100,000 rows
                # and every row names the same columns (bulk.insert_rows takes the first
                # row's): a place overrides the ones it has.
                "resolution": "",
                "evidence": "",
                **NO_PLACE,
            }
            order = None
            for place in places:
                rows.append({**common, **place})
                passed_on = place.get("shipped_by_id") is not None
                group = (place["unit"], place["whereabouts"], passed_on)
                tally = groups.get(group)
                if tally is None:
                    tally = groups[group] = [Decimal(0), 0]
                tally[0] += place["quantity"]
                tally[1] += 1
                if place.get("consignee_id") is not None:
                    line = {
                        "item": label,
                        "quantity": _received_quantity(place["quantity"]),
                        "unit": place["unit"],
                        "shipped_at": times[place["shipped_at"]],
                    }
                    order = order or _trace_order(item)
                    received[place["consignee_id"]].append((order, line))
            if len(rows) >= SNAPSHOT_BATCH:
                bulk.insert_rows(AffectedItem, rows, keys=False)
                rows_written += len(rows)
                rows = []
        bulk.insert_rows(AffectedItem, rows, keys=False)
        rows_written += len(rows)

        new_notices = []
        for party, lines in sorted(received.items()):
            if party not in noticed:
                lines.sort(key=_first)
                lines = [line for _order, line in lines]
                new_notices.append(
                    {"campaign_id": campaign.pk, "party_id": party, "received": lines}
                )
        bulk.insert_rows(ConsigneeNotice, new_notices, keys=False)
        overlap = noticed.intersection(received)
        if overlap:
            existing = list(
                ConsigneeNotice.objects.filter(campaign=campaign, party_id__in=keys_in(overlap))
            )
            for notice in existing:
                lines = sorted(received[notice.party_id], key=_first)
                notice.received = [*notice.received, *(line for _order, line in lines)]
            ConsigneeNotice.objects.bulk_update(existing, ["received"])
    _analyze_if_stale(rows_written)
    return _Added(
        items=len(traced),
        consignees=len(received),
        rows=rows_written,
        held_lots=sum(1 for key in held if key in lots_found),
        held_units=sum(1 for key in held if key in units_found),
        labels=[item.label for item in traced],
        groups=groups,
    )


def _analyze_if_stale(rows: int):
    """Analyze the affected items if `rows` just added outdate the planner's statistics (see
    ANALYZE_ROWS); PostgreSQL only. ANALYZE reads a sample, so it costs the same for any size."""
    if connection.vendor != "postgresql" or rows < ANALYZE_ROWS:
        return
    table = AffectedItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        counted = cursor.fetchone()[0]
        if rows > 0.1 * counted:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


@service
@_cyclic_gc_paused()
def recall_rescope(
    *,
    campaign: RecallCampaign,
    reason: str,
    acting_user,
    identifiers: Iterable[str] = (),
    scope_entries: Iterable = (),
) -> RecallCampaign:
    """Change an ongoing campaign's scope on purpose: trace the new scope, add what it reaches
    that the snapshot lacks (holding it), take out what it no longer reaches (its rows stay,
    marked removed, with their resolutions; its hold stays until someone releases it), and
    record the difference on the timeline."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": RESCOPE_REASON_REQUIRED}, code="required")
    campaign = locks.lock_campaign(campaign)
    if campaign.status != RecallCampaign.Status.ONGOING:
        raise ValidationError(
            NOT_ONGOING
            % {"reference": campaign.reference, "status": campaign.get_status_display()},
            code="status",
        )
    scope = _scope_entries(identifiers, None, None, scope_entries)
    result = _scope_trace(scope)
    active = AffectedItem.objects.filter(campaign=campaign, removed_at__isnull=True)
    before = dict(active.values_list("item_id", "path"))
    now = timezone.now()
    reached = {item.pk for item in result.all_items}
    removed_keys = [key for key in before if key not in reached]
    removed_labels = sorted({before[key][-1] for key in removed_keys if before[key]})
    if removed_keys:
        active.filter(item_id__in=keys_in(removed_keys)).update(removed_at=now)
    old_scope = campaign.scope
    campaign.scope = scope
    campaign.scope_revision += 1
    _save_fields(
        campaign,
        ["scope", "scope_revision"],
        acting_user=acting_user,
        reason=RESCOPED_REASON % {"reason": reason},
    )
    # Added items are listed after the ones the campaign had, in the new trace's order.
    last = AffectedItem.objects.filter(campaign=campaign).aggregate(last=Max("position"))["last"]
    counts = _snapshot_add(
        campaign,
        result,
        acting_user=acting_user,
        now=now,
        known=frozenset(before),
        first_position=(last or 0) + 1,
    )
    _timeline(
        campaign,
        CampaignEvent.Kind.RESCOPED,
        RESCOPED
        % {
            "added": counts.items,
            "removed": len(removed_keys),
            "consignees": counts.consignees,
            "reason": reason,
        },
        acting_user=acting_user,
        occurred_at=now,
        reason=reason,
        revision=campaign.scope_revision,
        scope_before=old_scope,
        scope_after=scope,
        added=counts.labels,
        removed=removed_labels,
    )
    _timeline_held(campaign, counts, acting_user=acting_user, now=now)
    _figures_recount(campaign)
    return campaign


def _figures_recount(campaign: RecallCampaign) -> None:
    """Count the campaign's figures afresh from its active lines and their resolutions."""
    CampaignFigures.objects.update_or_create(
        campaign=campaign,
        defaults={
            "items": selectors.item_count(campaign),
            "lines": [
                {**row, "total": str(_quantity(row["total"]))}
                for row in selectors.line_groups(campaign)
            ],
            "resolutions": [
                {**row, "total": str(_quantity(row["total"]))}
                for row in selectors.resolution_groups(campaign)
            ],
        },
    )


def _resolved_in_full(row: AffectedItem) -> bool:
    """As the figures count a resolved line (resolved_quantity >= quantity in SQL)."""
    return row.resolved_quantity is not None and row.resolved_quantity >= row.quantity


def _figures_change(
    campaign: RecallCampaign,
    *,
    lines: list[tuple[AffectedItem, bool]],
    entries: list[ItemResolution],
) -> None:
    """Bring the campaign's kept figures up to date with lines just (un)resolved, given with
    whether each was resolved in full before, and the resolution entries just recorded. The
    caller holds the campaign's row lock, so no other change interleaves; a campaign without
    kept figures is aggregated when read, and needs nothing."""
    figures = CampaignFigures.objects.filter(campaign=campaign).first()
    if figures is None:
        return
    groups = {(g["unit"], g["whereabouts"], g["passed_on"]): g for g in figures.lines}
    for row, was_resolved in lines:
        change = _resolved_in_full(row) - was_resolved
        if change:
            group = groups.get((row.unit, row.whereabouts, row.shipped_by_id is not None))
            if group is None:  # not counted as it should have been: count it all again
                _figures_recount(campaign)
                return
            group["resolved"] += change
    outcomes = {(g["unit"], g["outcome"]): g for g in figures.resolutions}
    for entry in entries:
        group = outcomes.setdefault(
            (entry.unit, entry.outcome),
            {"unit": entry.unit, "outcome": entry.outcome, "total": "0", "entries": 0},
        )
        group["total"] = str(_quantity(Decimal(group["total"]) + entry.quantity))
        group["entries"] += 1
    figures.lines = list(groups.values())
    figures.resolutions = list(outcomes.values())
    figures.save(update_fields=["lines", "resolutions"])


@service
def campaign_update(*, campaign: RecallCampaign, acting_user, **fields) -> RecallCampaign:
    """Change a campaign's details (not its status or scope); the timeline says which."""
    for name in fields.keys() - EDITABLE_DETAILS:
        raise ValidationError({name: NOT_A_DETAIL}, code="not_a_detail")
    campaign = locks.lock_campaign(campaign)
    changed = [name for name, value in fields.items() if getattr(campaign, name) != value]
    for name in changed:
        setattr(campaign, name, fields[name])
    if not changed:
        return campaign
    _save(campaign, acting_user=acting_user, reason=CHANGED % {"fields": ", ".join(changed)})
    labels = [str(RecallCampaign._meta.get_field(name).verbose_name) for name in changed]
    CampaignEvent.objects.create(
        campaign=campaign,
        kind=CampaignEvent.Kind.CHANGED,
        actor=acting_user,
        message=CHANGED % {"fields": ", ".join(labels)},
        details={"fields": changed},
    )
    return campaign


def _require_status(campaign: RecallCampaign, *statuses):
    if campaign.status not in statuses:
        raise ValidationError(
            NOT_ALLOWED_NOW
            % {"reference": campaign.reference, "status": campaign.get_status_display()},
            code="status",
        )


def _quantity(value) -> Decimal:
    return Decimal(value).quantize(THOUSANDTHS)


@service
def affected_items_resolve(
    *,
    campaign: RecallCampaign,
    items: Iterable[AffectedItem | int],
    outcome: str,
    acting_user,
    quantity: Decimal | None = None,
    occurred_at: datetime | None = None,
    evidence: str = "",
) -> list[ItemResolution]:
    """Record what happened to affected items: one, or many at once.

    Without a quantity each item's unresolved remainder is resolved (items with nothing left
    are passed over, unless none has anything left). A quantity is for one item only and may
    not exceed what is left of it. The items' rows are locked first, so two people resolving
    the same item at once are applied one after the other and neither update is lost: the
    second sees what the first resolved. The campaign's row is locked first, as everything
    that changes its figures does.
    """
    campaign = locks.lock_campaign(campaign)
    _require_status(campaign, RecallCampaign.Status.ONGOING, RecallCampaign.Status.COMPLETED)
    if outcome not in AffectedItem.Resolution.values:
        raise ValidationError({"outcome": UNKNOWN_OUTCOME}, code="invalid")
    keys = sorted({item if isinstance(item, int) else item.pk for item in items})
    if not keys:
        raise ValidationError(NOTHING_SELECTED, code="empty")
    if quantity is not None and len(keys) > 1:
        raise ValidationError({"quantity": QUANTITY_FOR_ONE}, code="quantity")
    if quantity is not None and quantity <= 0:
        raise ValidationError({"quantity": QUANTITY_POSITIVE}, code="quantity")
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise ValidationError({"occurred_at": IN_THE_FUTURE}, code="future")
    if campaign.opened_at and occurred_at < campaign.opened_at - timedelta(days=1):
        raise ValidationError({"occurred_at": BEFORE_OPENING}, code="past")
    rows = locks.lock_affected_items(campaign, keys)
    if len(rows) != len(keys):
        raise ValidationError(NOT_IN_CAMPAIGN % {"reference": campaign.reference}, code="scope")
    entries, changed, was_resolved = [], [], []
    for row in rows:
        left = row.quantity_left
        amount = left if quantity is None else _quantity(quantity)
        if left <= 0 and len(rows) > 1 and quantity is None:
            continue
        if left <= 0:
            raise ValidationError(
                ALREADY_RESOLVED
                % {
                    "item": _row_name(row),
                    "outcome": row.get_resolution_display(),
                    "who": row.resolved_by.get_username() if row.resolved_by else "?",
                    "when": timezone.localtime(row.resolved_at).strftime("%Y-%m-%d %H:%M"),
                },
                code="resolved",
            )
        if amount > left:
            raise ValidationError(
                {
                    "quantity": TOO_MUCH
                    % {"left": plain(left), "unit": unit_label(row.unit), "item": _row_name(row)}
                },
                code="quantity",
            )
        entries.append(
            ItemResolution(
                campaign=campaign,
                affected_item=row,
                outcome=outcome,
                quantity=amount,
                unit=row.unit,
                occurred_at=occurred_at,
                recorded_at=now,
                recorded_by=acting_user,
                evidence=evidence.strip(),
            )
        )
        was_resolved.append(_resolved_in_full(row))
        row.resolved_quantity = (row.resolved_quantity or 0) + amount
        row.resolution = outcome
        row.resolved_by = acting_user
        row.resolved_at = occurred_at
        row.evidence = evidence.strip()
        changed.append(row)
    if not changed:
        raise ValidationError(NOTHING_LEFT, code="resolved")
    ItemResolution.objects.bulk_create(entries, batch_size=2000)
    AffectedItem.objects.bulk_update(
        changed,
        ["resolved_quantity", "resolution", "resolved_by", "resolved_at", "evidence"],
        batch_size=2000,
    )
    _figures_change(campaign, lines=list(zip(changed, was_resolved, strict=True)), entries=entries)
    totals = defaultdict(Decimal)
    for entry in entries:
        totals[entry.unit] += entry.quantity
    label = AffectedItem.Resolution(outcome).label
    _timeline(
        campaign,
        CampaignEvent.Kind.RESOLVED,
        RESOLVED
        % {
            "count": len(entries),
            "outcome": label,
            "quantity": ", ".join(
                f"{plain(q)} {unit_label(unit)}" for unit, q in sorted(totals.items())
            ),
            "items": _names(changed),
        },
        acting_user=acting_user,
        occurred_at=now,
        outcome=outcome,
        rows=[row.pk for row in changed[:200]],
        count=len(entries),
        quantities={unit: str(q) for unit, q in totals.items()},
        evidence=evidence.strip(),
    )
    return entries


@service
def resolution_reverse(*, resolution: ItemResolution, reason: str, acting_user) -> ItemResolution:
    """Undo a mistaken resolution with a reversing entry; the original stays on record."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REVERSE_REASON_REQUIRED}, code="required")
    if resolution.quantity < 0:
        raise ValidationError(NOT_REVERSIBLE, code="reversal")
    campaign = locks.lock_campaign(resolution.campaign)
    _require_status(campaign, RecallCampaign.Status.ONGOING, RecallCampaign.Status.COMPLETED)
    (row,) = locks.lock_affected_items(campaign, [resolution.affected_item_id])
    if ItemResolution.objects.filter(
        affected_item=row, outcome=resolution.outcome, evidence=f"{REVERSAL_MARK}{resolution.pk}"
    ).exists():
        raise ValidationError(ALREADY_REVERSED, code="reversal")
    now = timezone.now()
    reversal = ItemResolution.objects.create(
        campaign=campaign,
        affected_item=row,
        outcome=resolution.outcome,
        quantity=-resolution.quantity,
        unit=resolution.unit,
        occurred_at=now,
        recorded_at=now,
        recorded_by=acting_user,
        evidence=f"{REVERSAL_MARK}{resolution.pk}",
    )
    remaining = list(ItemResolution.objects.filter(affected_item=row).order_by("recorded_at", "pk"))
    total = sum((entry.quantity for entry in remaining), Decimal(0))
    latest = _latest_standing(remaining)
    was_resolved = _resolved_in_full(row)
    row.resolved_quantity = total if total > 0 else None
    row.resolution = latest.outcome if latest and total > 0 else ""
    row.resolved_by = latest.recorded_by if latest and total > 0 else None
    row.resolved_at = latest.occurred_at if latest and total > 0 else None
    row.evidence = latest.evidence if latest and total > 0 else ""
    row.save(
        update_fields=["resolved_quantity", "resolution", "resolved_by", "resolved_at", "evidence"]
    )
    _figures_change(campaign, lines=[(row, was_resolved)], entries=[reversal])
    _timeline(
        campaign,
        CampaignEvent.Kind.RESOLVED,
        REVERSED
        % {
            "outcome": resolution.get_outcome_display(),
            "quantity": plain(resolution.quantity),
            "unit": unit_label(resolution.unit),
            "item": _row_name(row),
            "reason": reason,
        },
        acting_user=acting_user,
        occurred_at=now,
        reversed=resolution.pk,
        reason=reason,
    )
    return reversal


def _latest_standing(entries: list[ItemResolution]) -> ItemResolution | None:
    """The latest entry that has not been reversed."""
    reversed_keys = {
        int(entry.evidence.removeprefix(REVERSAL_MARK))
        for entry in entries
        if entry.quantity < 0 and entry.evidence.startswith(REVERSAL_MARK)
    }
    standing = [e for e in entries if e.quantity > 0 and e.pk not in reversed_keys]
    return standing[-1] if standing else None


def _row_name(row: AffectedItem) -> str:
    where = row.consignee.name if row.consignee_id else row.get_whereabouts_display()
    return f"{row.label} ({where})"


def _names(rows: list[AffectedItem], shown: int = 3) -> str:
    names = ", ".join(row.label for row in rows[:shown])
    if len(rows) > shown:
        names += f" and {len(rows) - shown} more"
    return names


@service
def campaign_notice_update(
    *, campaign: RecallCampaign, subject: str, body: str, acting_user
) -> RecallCampaign:
    """Change the wording of a campaign's consignee notice (a Django template)."""
    campaign = locks.lock_campaign(campaign)
    _require_status(campaign, RecallCampaign.Status.DRAFT, RecallCampaign.Status.ONGOING)
    subject, body = (subject or "").strip(), (body or "").strip()
    errors = {}
    for name, text in (("notice_subject", subject), ("notice_body", body)):
        if not text:
            errors[name] = NOTICE_TEXT_REQUIRED
            continue
        problem = notices.template_problem(text)
        if problem:
            errors[name] = problem
    if errors:
        raise ValidationError(errors, code="notice")
    if (campaign.notice_subject, campaign.notice_body) == (subject, body):
        return campaign
    campaign.notice_subject, campaign.notice_body = subject, body
    _save(campaign, acting_user=acting_user, reason=NOTICE_CHANGED)
    _timeline(campaign, CampaignEvent.Kind.NOTICE, NOTICE_CHANGED, acting_user=acting_user)
    return campaign


@service
def notices_send(
    *,
    campaign: RecallCampaign,
    notices_to_send: Iterable[ConsigneeNotice | int],
    method: str,
    acting_user,
    sent_at: datetime | None = None,
    sent_to: str = "",
) -> list[ConsigneeNotice]:
    """Send (or record sending) consignee notices.

    By e-mail the notice goes out through Django's e-mail backend once the transaction
    commits; by letter, telephone, fax or visit the sending is recorded with its date. What was
    sent is kept on the notice. A drill's e-mails go to the person sending them, never to a
    consignee, and say they are a drill.
    """
    campaign = locks.lock_campaign(campaign)
    _require_status(campaign, RecallCampaign.Status.ONGOING)
    if method not in ConsigneeNotice.Method.values:
        raise ValidationError({"method": UNKNOWN_METHOD}, code="invalid")
    keys = sorted({n if isinstance(n, int) else n.pk for n in notices_to_send})
    if not keys:
        raise ValidationError(NOTHING_SELECTED, code="empty")
    rows = locks.lock_notices(campaign, keys)
    if len(rows) != len(keys):
        raise ValidationError(NOT_IN_CAMPAIGN % {"reference": campaign.reference}, code="scope")
    now = timezone.now()
    sent_at = sent_at or now
    if sent_at > now + timedelta(minutes=5):
        raise ValidationError({"sent_at": IN_THE_FUTURE}, code="future")
    email = method == ConsigneeNotice.Method.EMAIL
    if email and campaign.is_drill and not acting_user.email:
        raise ValidationError(DRILL_NEEDS_YOUR_EMAIL, code="email")
    if email and not campaign.is_drill:
        missing = [row.party.name for row in rows if not row.party.email]
        if missing:
            raise ValidationError(
                NO_EMAIL % {"parties": ", ".join(missing[:5]), "count": len(missing)},
                code="email",
            )
    messages = []
    company = notices.company_name()
    for row in rows:
        subject, body = notices.render(campaign, row, company)
        row.method = method
        row.sent_at = sent_at
        row.sent_by = acting_user
        row.subject, row.body = subject, body
        if email:
            row.sent_to = acting_user.email if campaign.is_drill else row.party.email
            messages.append(notices.email_message(subject, body, row.sent_to))
        elif len(rows) == 1 and sent_to.strip():
            row.sent_to = sent_to.strip()
        else:
            row.sent_to = notices.default_address(row.party, method)
    records_update_many(
        instances=rows,
        fields=["method", "sent_at", "sent_by", "sent_to", "subject", "body"],
        acting_user=acting_user,
        reason=str(SENT_REASON % {"method": ConsigneeNotice.Method(method).label}),
    )
    if len(messages) > notices.NOTICES_IN_BACKGROUND:
        from .jobs import notices_deliver_later  # the jobs module imports this one

        notices_deliver_later(
            campaign=campaign, notice_keys=[row.pk for row in rows], acting_user=acting_user
        )
    elif messages:
        transaction.on_commit(lambda: notices.deliver(messages))
    _timeline(
        campaign,
        CampaignEvent.Kind.SENT,
        (SENT_DRILL if campaign.is_drill and email else SENT)
        % {"count": len(rows), "method": ConsigneeNotice.Method(method).label},
        acting_user=acting_user,
        occurred_at=now,
        method=method,
        notices=[row.pk for row in rows[:500]],
        parties=[row.party.name for row in rows[:500]],
    )
    return rows


@service
def notice_record_response(
    *,
    notice: ConsigneeNotice,
    acting_user,
    acknowledged_at: datetime | None = None,
    quantity_on_hand: Decimal | None = None,
    quantity_returned: Decimal | None = None,
    quantity_destroyed: Decimal | None = None,
    quantity_corrected: Decimal | None = None,
    unit: str = "",
    check_result: str = "",
    notes: str = "",
) -> ConsigneeNotice:
    """Record a consignee's answer and the effectiveness check: what they held, returned,
    destroyed or corrected, when they acknowledged, and whether the recall reached them."""
    campaign = RecallCampaign.objects.get(pk=notice.campaign_id)
    _require_status(campaign, RecallCampaign.Status.ONGOING, RecallCampaign.Status.COMPLETED)
    (row,) = locks.lock_notices(campaign, [notice.pk])
    now = timezone.now()
    if acknowledged_at and acknowledged_at > now + timedelta(minutes=5):
        raise ValidationError({"acknowledged_at": IN_THE_FUTURE}, code="future")
    if acknowledged_at and row.sent_at is None:
        raise ValidationError({"acknowledged_at": NOT_SENT_YET}, code="not_sent")
    if acknowledged_at and acknowledged_at < row.sent_at:
        raise ValidationError(
            {
                "acknowledged_at": ACK_BEFORE_SENT
                % {"sent": timezone.localtime(row.sent_at).strftime("%Y-%m-%d %H:%M")}
            },
            code="before_sent",
        )
    quantities = {
        "quantity_on_hand": quantity_on_hand,
        "quantity_returned": quantity_returned,
        "quantity_destroyed": quantity_destroyed,
        "quantity_corrected": quantity_corrected,
    }
    for name, value in quantities.items():
        if value is not None and value < 0:
            raise ValidationError({name: QUANTITY_NOT_NEGATIVE}, code="quantity")
    if any(value is not None for value in quantities.values()) and not unit:
        unit = _noticeunit_label(row)
    row.acknowledged_at = acknowledged_at
    for name, value in quantities.items():
        setattr(row, name, None if value is None else _quantity(value))
    row.unit = unit
    row.check_result = check_result
    row.notes = (notes or "").strip()
    row.responded_at = now
    _save(row, acting_user=acting_user, reason=RESPONSE_REASON)
    _timeline(
        campaign,
        CampaignEvent.Kind.RESPONSE,
        RESPONSE % {"party": row.party.name, "summary": notices.response_summary(row)},
        acting_user=acting_user,
        occurred_at=now,
        notice=row.pk,
        party=row.party.name,
        check_result=check_result,
    )
    return row


def _noticeunit_label(notice: ConsigneeNotice) -> str:
    units = {line.get("unit") for line in notice.received if line.get("unit")}
    return units.pop() if len(units) == 1 else ""


def _sign(campaign, *, meaning, acting_user, password, statement, now):
    statement = (statement or "").strip()
    errors = {}
    if not statement:
        errors["statement"] = STATEMENT_REQUIRED
    if not password or not acting_user.check_password(password):
        errors["password"] = WRONG_PASSWORD
    if errors:
        raise ValidationError(errors, code="signature")
    return CampaignSignature.objects.create(
        campaign=campaign,
        meaning=meaning,
        signer=acting_user,
        signer_name=acting_user.get_full_name() or acting_user.get_username(),
        signed_at=now,
        statement=statement,
    )


@service
def recall_complete(
    *, campaign: RecallCampaign, password: str, statement: str, acting_user
) -> RecallCampaign:
    """Mark an ongoing campaign completed, signed: the manager re-enters their password and a
    statement. A drill's time to complete is from opening to now."""
    campaign = locks.lock_campaign(campaign)
    _require_status(campaign, RecallCampaign.Status.ONGOING)
    now = timezone.now()
    _sign(
        campaign,
        meaning=CampaignSignature.Meaning.COMPLETED,
        acting_user=acting_user,
        password=password,
        statement=statement,
        now=now,
    )
    campaign.status = RecallCampaign.Status.COMPLETED
    campaign.completed_at = now
    _save_fields(
        campaign, ["status", "completed_at"], acting_user=acting_user, reason=str(_("Completed"))
    )
    _timeline(
        campaign,
        CampaignEvent.Kind.COMPLETED,
        COMPLETED % {"duration": duration(campaign.time_to_complete)},
        acting_user=acting_user,
        occurred_at=now,
        seconds=round(campaign.time_to_complete.total_seconds()),
        statement=statement.strip(),
    )
    return campaign


@service
def recall_terminate(
    *,
    campaign: RecallCampaign,
    password: str,
    statement: str,
    acting_user,
    justification: str = "",
) -> RecallCampaign:
    """Terminate a completed campaign, signed. Refused while a consignee has not responded or
    quantities do not reconcile, unless the manager records a justified exception (signed
    too, with the gaps it covers)."""
    campaign = locks.lock_campaign(campaign)
    _require_status(campaign, RecallCampaign.Status.COMPLETED)
    gaps = selectors.termination_gaps(campaign)
    justification = (justification or "").strip()
    if gaps and not justification:
        raise ValidationError([TERMINATION_REFUSED, *(str(gap) for gap in gaps[:10])], code="gaps")
    now = timezone.now()
    _sign(
        campaign,
        meaning=CampaignSignature.Meaning.TERMINATED,
        acting_user=acting_user,
        password=password,
        statement=statement,
        now=now,
    )
    if gaps:
        CampaignSignature.objects.create(
            campaign=campaign,
            meaning=CampaignSignature.Meaning.EXCEPTION,
            signer=acting_user,
            signer_name=acting_user.get_full_name() or acting_user.get_username(),
            signed_at=now,
            statement=EXCEPTION_STATEMENT
            % {"justification": justification, "gaps": "; ".join(map(str, gaps))},
        )
    campaign.status = RecallCampaign.Status.TERMINATED
    campaign.terminated_at = now
    _save_fields(
        campaign, ["status", "terminated_at"], acting_user=acting_user, reason=str(_("Terminated"))
    )
    _timeline(
        campaign,
        CampaignEvent.Kind.TERMINATED,
        TERMINATED_WITH_EXCEPTION % {"count": len(gaps), "justification": justification}
        if gaps
        else TERMINATED,
        acting_user=acting_user,
        occurred_at=now,
        statement=statement.strip(),
        gaps=[str(gap) for gap in gaps],
        justification=justification,
    )
    return campaign


@service
def status_report_issue(*, campaign: RecallCampaign, acting_user) -> int:
    """Record that a numbered 21 CFR 7.53 status report was issued; returns its number."""
    campaign = locks.lock_campaign(campaign)
    _require_status(campaign, RecallCampaign.Status.ONGOING, RecallCampaign.Status.COMPLETED)
    number = (
        CampaignEvent.objects.filter(
            campaign=campaign, kind=CampaignEvent.Kind.REPORT, details__document="status"
        ).count()
        + 1
    )
    _timeline(
        campaign,
        CampaignEvent.Kind.REPORT,
        STATUS_REPORT_ISSUED % {"number": number},
        acting_user=acting_user,
        document="status",
        number=number,
    )
    return number
