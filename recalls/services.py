"""Every write to recalls goes through here: the command, the admin and (later) the pages.

Services follow inventory's: keyword-only arguments and `acting_user`, one transaction, the
campaign's timeline written with the change, database errors turned into sentences.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Case, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory import bulk
from inventory.identifiers import IdentifierError
from inventory.models import EventLine, Genealogy, Item, Lot, SerialUnit, TraceEvent, Unit
from inventory.selectors import resolve_identifiers
from inventory.services import _save, items_change_status_many, service
from inventory.trace import Direction, TracedItem, trace

from . import locks
from .models import AffectedItem, CampaignEvent, ConsigneeNotice, RecallCampaign
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


def _scope_trace(identifiers, lots, serial_units):
    """The forward trace of the scope, and the scope as given (identifiers, then labels)."""
    named = set()
    if identifiers:
        try:
            found_lots, found_units = resolve_identifiers(list(identifiers))
        except IdentifierError as exc:
            raise ValidationError(str(exc), code="identifier") from exc
        named = {obj.pk for obj in (*found_lots, *found_units)}
        lots = _union(lots, Lot, found_lots)
        serial_units = _union(serial_units, SerialUnit, found_units)
    result = trace(direction=Direction.FORWARD, lots=lots, serial_units=serial_units)
    if not result.roots:
        raise ValidationError(SCOPE_MATCHES_NOTHING, code="scope_empty")
    scope = [*identifiers, *(root.label for root in result.roots if root.pk not in named)]
    return result, scope


def _union(queryset, model, objects):
    if not objects:
        return queryset
    named = model.objects.filter(pk__in=[obj.pk for obj in objects])
    return named if queryset is None else queryset | named


def _whereabouts(traced: list[TracedItem]):
    """What the snapshot needs beyond the trace, in four queries: each lot's and unit's own
    fields, its shipments to each trading partner, and how much of each lot went into others."""
    lot_keys = [item.pk for item in traced if item.kind == Item.Kind.LOT]
    unit_keys = [item.pk for item in traced if item.kind == Item.Kind.SERIAL]
    lots = {
        row["pk"]: row
        for row in Lot.objects.filter(pk__in=keys_in(lot_keys)).values(
            "pk", "product_id", "status", "site_id", "quantity", "unit"
        )
    }
    units = {
        row["pk"]: row
        for row in SerialUnit.objects.filter(pk__in=keys_in(unit_keys)).values(
            "pk",
            "product_id",
            "status",
            "holder_site_id",
            "holder_party_id",
            "installed_in_id",
            "shipped_on",
        )
    }
    to_partner = Q(event__destination_party__is_internal=False) | Q(
        event__destination_party__isnull=True, event__destination_site__party__is_internal=False
    )
    # A shipment from no recorded sender is ours; one from a trading partner passes it on.
    from_us = (
        Q(event__source_party__is_internal=True)
        | Q(event__source_party__isnull=True, event__source_site__party__is_internal=True)
        | Q(event__source_party__isnull=True, event__source_site__isnull=True)
    )
    shipments = defaultdict(dict)
    for row in (
        EventLine.objects.filter(
            to_partner,
            item_id__in=keys_in([*lot_keys, *unit_keys]),
            event_type=TraceEvent.Type.SHIP,
        )
        .annotate(
            party=Coalesce("event__destination_party_id", "event__destination_site__party_id"),
            sender=Case(
                When(from_us, then=Value(None)),
                default=Coalesce("event__source_party_id", "event__source_site__party_id"),
            ),
        )
        .values("item_id", "party", "sender")
        .annotate(quantity=Sum("quantity"), first=Min("event__occurred_at"))
        .order_by()
    ):
        key = (row["party"], row["sender"])
        shipments[row["item_id"]][key] = (row["quantity"], row["first"])
    used = dict(
        Genealogy.objects.filter(
            parent_id__in=keys_in(lot_keys), kind=Genealogy.Kind.TRANSFORMATION
        )
        .values("parent_id")
        .annotate(used=Sum("quantity"))
        .order_by()
        .values_list("parent_id", "used")
    )
    return lots, units, shipments, used


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


def _unit_rows(unit: dict, shipped: dict) -> list[dict]:
    """A unit's rows: each party that received it (one each), and where it is unless a
    trading partner holds it."""
    each = {"quantity": Decimal(1), "unit": Unit.EACH}
    rows = [
        {
            **each,
            "whereabouts": AffectedItem.Whereabouts.SHIPPED,
            "consignee_id": party,
            "shipped_by_id": sender,
            "shipped_at": first,
        }
        for (party, sender), (_quantity, first) in sorted(shipped.items(), key=_by_party)
    ]
    holder = unit["holder_party_id"]
    if holder is not None:
        if not any(row["consignee_id"] == holder for row in rows):
            # Held by a party with no shipment on record (e.g. imported with its holder).
            rows.append(
                {
                    **each,
                    "whereabouts": AffectedItem.Whereabouts.SHIPPED,
                    "consignee_id": holder,
                    "shipped_at": _noon(unit["shipped_on"]),
                }
            )
    elif unit["installed_in_id"] is not None:
        rows.append(
            {
                **each,
                "whereabouts": AffectedItem.Whereabouts.INSTALLED,
                "installed_in_id": unit["installed_in_id"],
            }
        )
    elif unit["status"] == SerialUnit.Status.SCRAPPED:
        rows.append({**each, "whereabouts": AffectedItem.Whereabouts.USED})
    else:
        rows.append(
            {
                **each,
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


@service
def recall_open(
    *,
    title: str,
    reason: str,
    classification: str,
    acting_user,
    identifiers: Iterable[str] = (),
    lots: QuerySet | Iterable[Lot] | None = None,
    serial_units: QuerySet | Iterable[SerialUnit] | None = None,
    hazard: str = "",
    depth: str = RecallCampaign.Depth.CONSUMER,
    public_warning: str = RecallCampaign.PublicWarning.NONE,
    effectiveness_check: str = RecallCampaign.EffectivenessCheck.A,
    owner=None,
    estimated_completion_on: date | None = None,
    is_drill: bool = False,
) -> RecallCampaign:
    """Open a campaign for the scope (identifiers, lots, units): freeze the forward trace as
    its affected items and consignee notices and, unless it is a drill, put every affected lot
    and unit still under our control on hold as recalled.

    The work is one trace query and a fixed number of bulk reads and writes, however many
    items the trace reaches.
    """
    started = time.monotonic()
    identifiers = [text for text in identifiers if text.strip()]
    lots, serial_units = _queryset(Lot, lots), _queryset(SerialUnit, serial_units)
    if not identifiers and lots is None and serial_units is None:
        raise ValidationError(SCOPE_EMPTY, code="scope_empty")
    title, reason = (title or "").strip(), (reason or "").strip()
    if not title:
        raise ValidationError({"title": TITLE_REQUIRED}, code="required")
    if not reason:
        raise ValidationError({"reason": REASON_REQUIRED}, code="required")
    result, scope = _scope_trace(identifiers, lots, serial_units)
    traced = result.all_items
    trace_duration = timedelta(seconds=time.monotonic() - started)

    now = timezone.now()
    year = timezone.localdate(now).year
    number, reference = campaign_reference_next(year=year)
    campaign = _save(
        RecallCampaign(
            reference=reference,
            year=year,
            number=number,
            title=title,
            reason=reason,
            hazard=hazard.strip(),
            classification=classification,
            depth=depth,
            public_warning=public_warning,
            effectiveness_check=effectiveness_check,
            owner=owner or acting_user,
            status=RecallCampaign.Status.ONGOING,
            is_drill=is_drill,
            scope=scope,
            opened_at=now,
            trace_duration=trace_duration,
            estimated_completion_on=estimated_completion_on,
        ),
        acting_user=acting_user,
    )

    lots_found, units_found, shipments, used = _whereabouts(traced)
    held = set()
    if not is_drill:
        held_items = items_change_status_many(
            status=Lot.Status.RECALLED,  # the same value as SerialUnit.Status.RECALLED
            reason=HOLD_REASON % {"reference": reference, "title": title},
            acting_user=acting_user,
            occurred_at=now,
            lots=Lot.objects.filter(
                pk__in=keys_in(k for k, lot in lots_found.items() if lot["status"] not in LOTS_GONE)
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
    received = defaultdict(list)
    for position, item in enumerate(traced):
        if item.kind == Item.Kind.LOT:
            own = lots_found[item.pk]
            places = _lot_rows(own, shipments[item.pk], used.get(item.pk))
        else:
            own = units_found[item.pk]
            places = _unit_rows(own, shipments[item.pk])
        common = {
            "campaign_id": campaign.pk,
            "item_id": item.pk,
            "kind": item.kind,
            "product_id": own["product_id"],
            "lot_code": item.lot or "",
            "serial": item.serial or "",
            "depth": item.depth,
            "position": position,
            "path": [step.label for step in item.path],
            "status_at_opening": own["status"],
            "put_on_hold": item.pk in held,
        }
        for place in places:
            rows.append({**common, **place})
            if place.get("consignee_id") is not None:
                shipped_at = place["shipped_at"]
                line = {
                    "item": item.label,
                    "quantity": str(Decimal(place["quantity"]).quantize(THOUSANDTHS)),
                    "unit": place["unit"],
                    "shipped_at": shipped_at.isoformat() if shipped_at else None,
                }
                received[place["consignee_id"]].append((_trace_order(item), line))
    bulk.insert_rows(AffectedItem, rows, keys=False)
    bulk.insert_rows(
        ConsigneeNotice,
        [
            {
                "campaign_id": campaign.pk,
                "party_id": party,
                "received": [line for _order, line in sorted(lines, key=lambda pair: pair[0])],
            }
            for party, lines in sorted(received.items())
        ],
        keys=False,
    )

    counts = {"items": len(traced), "consignees": len(received)}
    CampaignEvent.objects.create(
        campaign=campaign,
        kind=CampaignEvent.Kind.OPENED,
        actor=acting_user,
        occurred_at=now,
        message=(OPENED_DRILL if is_drill else OPENED) % {"reference": reference, **counts},
        details={
            **counts,
            "rows": len(rows),
            "scope": scope,
            "trace_seconds": round(trace_duration.total_seconds(), 3),
        },
    )
    if held:
        held_counts = {
            "lots": sum(1 for key in held if key in lots_found),
            "units": sum(1 for key in held if key in units_found),
        }
        CampaignEvent.objects.create(
            campaign=campaign,
            kind=CampaignEvent.Kind.HELD,
            actor=acting_user,
            occurred_at=now,
            message=HELD % held_counts,
            details=held_counts,
        )
    return campaign


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
