"""Reads for recalls: querysets with their joins applied, and the snapshot as the trace shows it."""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from inventory.models import UnitOwnership

from .formatting import plain, unit_label
from .models import (
    PRODUCT_RELATIONS,
    AffectedItem,
    CampaignEvent,
    CampaignFigures,
    CampaignSignature,
    ConsigneeNotice,
    ItemResolution,
    RecallCampaign,
)


def keys_in(keys: Iterable[int]) -> RawSQL:
    """A subquery of the given primary keys, for `pk__in=`, sent as one parameter.

    A recall can reach a hundred thousand items; as an IN list they would be a hundred
    thousand parameters, more than SQLite accepts. One array (JSON on SQLite) is one parameter.
    """
    keys = list(keys)
    if connection.vendor == "postgresql":
        # An array, unlike a JSON document, tells the planner how many keys there are.
        return RawSQL("SELECT unnest(%s::bigint[])", [keys])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(keys)])


def affected_items(campaign: RecallCampaign):
    """The snapshot's rows in the trace's order: the scope first, then nearest first."""
    return (
        AffectedItem.objects.filter(campaign=campaign, removed_at__isnull=True)
        .select_related(*PRODUCT_RELATIONS, "site", "consignee", "shipped_by", "installed_in")
        .order_by("position", "pk")
    )


def _item_dict(row: AffectedItem) -> dict:
    """An affected item in the shape of the trace command's JSON items."""
    return {
        "kind": row.kind,
        "sku": row.product.sku,
        "gtin": row.product.gtin,
        "lot": row.lot_code or None,
        "serial": row.serial or None,
        "depth": row.depth,
        "path": row.path,
    }


def campaign_snapshot(campaign: RecallCampaign) -> dict:
    """The reference, the affected items and the consignees, as the trace command's JSON
    gives items and consignees (each item once, however many rows place it)."""
    items, consignees, received = {}, {}, defaultdict(dict)
    for row in affected_items(campaign):
        items.setdefault(row.item_id, _item_dict(row))
        if row.consignee is not None:
            consignees[row.consignee_id] = row.consignee
            order = (row.depth, row.product.sku, row.lot_code, row.serial)
            received[row.consignee_id][row.label] = order
    parties = sorted(consignees.values(), key=lambda party: (party.name, party.pk))
    return {
        "reference": campaign.reference,
        "affected": list(items.values()),
        "consignees": [
            {
                "name": party.name,
                "gln": party.gln,
                "items": sorted(received[party.pk], key=received[party.pk].get),
            }
            for party in parties
        ],
    }


def campaign_by_reference(reference: str) -> RecallCampaign:
    """The campaign with this reference (RecallCampaign.DoesNotExist if none)."""
    return RecallCampaign.objects.select_related("owner").get(reference=reference.strip())


def report_items(campaign: RecallCampaign):
    """The snapshot's rows with everything a report shows of them."""
    return affected_items(campaign).select_related(
        "resolved_by", "installed_in__serialunit__product"
    )


def consignee_notices(campaign: RecallCampaign):
    return (
        ConsigneeNotice.objects.filter(campaign=campaign)
        .select_related("party")
        .order_by("party__name", "party__pk")
    )


def campaign_timeline(campaign: RecallCampaign):
    return (
        CampaignEvent.objects.filter(campaign=campaign)
        .select_related("actor")
        .order_by("occurred_at", "pk")
    )


RECOVERED = ("returned", "located", "corrected")
# Lines whose whereabouts the records account for: nobody resolves them.
NOTHING_TO_RESOLVE = (AffectedItem.Whereabouts.USED, AffectedItem.Whereabouts.INSTALLED)
UNACCOUNTED = _(
    "%(quantity)s of %(produced)s %(unit)s not accounted for (%(percent)s%% accounted for)."
)


@dataclass
class Balance:
    """A campaign's mass balance in one unit of measure (see campaign_progress)."""

    unit: str
    produced: Decimal = Decimal(0)
    shipped: Decimal = Decimal(0)
    on_hand: Decimal = Decimal(0)
    used: Decimal = Decimal(0)
    recovered: Decimal = Decimal(0)
    destroyed: Decimal = Decimal(0)
    consumed: Decimal = Decimal(0)
    not_found: Decimal = Decimal(0)

    @property
    def unit_label(self) -> str:
        return unit_label(self.unit)

    @property
    def to_recover(self) -> Decimal:
        """What was out of the records' reach at opening: shipped, and on hand to be checked."""
        return self.shipped + self.on_hand

    @property
    def resolved(self) -> Decimal:
        """What staff accounted for, capped at what there was (sub-consignees' answers can
        overlap their supplier's)."""
        return min(self.recovered + self.destroyed + self.consumed, self.to_recover)

    @property
    def accounted(self) -> Decimal:
        return self.used + self.resolved

    @property
    def unaccounted(self) -> Decimal:
        return max(self.produced - self.accounted, Decimal(0))

    @property
    def percent(self) -> Decimal:
        if not self.produced:
            return Decimal(100)
        return (self.accounted * 100 / self.produced).quantize(Decimal("0.1"))


@dataclass
class Progress:
    balances: list[Balance]
    items: int
    lines: int
    lines_resolved: int
    lines_to_resolve: int
    consignees: int
    notified: int
    responded: int
    effective: int
    ineffective: int
    responded_notified: int

    @property
    def silent(self) -> int:
        """Notified and not answered."""
        return self.notified - self.responded_notified

    @property
    def not_notified(self) -> int:
        return self.consignees - self.notified

    @property
    def lines_open(self) -> int:
        return self.lines - self.lines_resolved

    @property
    def waiting(self) -> int:
        """Consignees without an answer, notified or not."""
        return self.consignees - self.responded

    @property
    def percent_accounted(self) -> Decimal:
        """Over every unit of measure: the least accounted one, which is what an auditor asks."""
        if not self.balances:
            return Decimal(100)
        return min(balance.percent for balance in self.balances)


def _active(campaign):
    return AffectedItem.objects.filter(campaign=campaign, removed_at__isnull=True)


def line_groups(campaign: RecallCampaign) -> list[dict]:
    """The campaign's active lines per unit, whereabouts and whether a consignee passed them
    on: their quantity (`total`), how many (`lines`) and how many are resolved in full."""
    return [
        {**row, "passed_on": bool(row["passed_on"])}
        for row in _active(campaign)
        .values("unit", "whereabouts")
        .annotate(
            passed_on=Q(shipped_by_id__isnull=False),
            total=Sum("quantity"),
            lines=Count("pk"),
            resolved=Count("pk", filter=Q(resolved_quantity__gte=F("quantity"))),
        )
        .order_by()
    ]


def resolution_groups(campaign: RecallCampaign) -> list[dict]:
    """The resolutions of the campaign's active lines per unit and outcome: their quantity
    (`total`) and how many entries."""
    return list(
        ItemResolution.objects.filter(campaign=campaign, affected_item__removed_at__isnull=True)
        .values("unit", "outcome")
        .annotate(total=Sum("quantity"), entries=Count("pk"))
        .order_by()
    )


def item_count(campaign: RecallCampaign) -> int:
    """How many lots and units the campaign's active lines name."""
    return _active(campaign).values("item_id").distinct().count()


def _figures(campaign: RecallCampaign) -> tuple[int, list[dict], list[dict]]:
    """The items, line groups and resolution groups: as kept (CampaignFigures), or counted."""
    kept = CampaignFigures.objects.filter(campaign=campaign).first()
    if kept is None:
        return item_count(campaign), line_groups(campaign), resolution_groups(campaign)
    return (
        kept.items,
        [{**row, "total": Decimal(row["total"])} for row in kept.lines],
        [{**row, "total": Decimal(row["total"])} for row in kept.resolutions],
    )


def campaign_progress(campaign: RecallCampaign) -> Progress:
    """The mass balance and the consignees' state, in two queries: the campaign's figures
    (kept by the services; aggregated from the lines and resolutions when it has none) and
    one aggregate over its notices.

    Per unit of measure: *produced* is each affected item's quantity (a unit counts one);
    *shipped*, *on hand* and *used* (into other affected lots, installed, or destroyed before
    the recall) split it as at opening. Staff account for shipped and on-hand quantities by
    resolving lines: *recovered* (returned, located, corrected), *destroyed*, *consumed* (sold
    or used up, unrecoverable); *not found* is not accounted for. Used quantities are accounted
    for by the records, since what they went into is on the list itself. Lines a consignee
    passed on (shipped by a consignee) are part of that consignee's quantity, so they count
    only through their resolutions.
    """
    items, lines_by_group, resolutions_by_group = _figures(campaign)
    balances: dict[str, Balance] = {}
    lines = resolved_lines = to_resolve = 0
    for row in lines_by_group:
        lines += row["lines"]
        resolved_lines += row["resolved"]
        if row["whereabouts"] not in NOTHING_TO_RESOLVE:
            to_resolve += row["lines"] - row["resolved"]
        if row["passed_on"]:
            continue
        balance = balances.setdefault(row["unit"], Balance(row["unit"]))
        balance.produced += row["total"]
        whereabouts = row["whereabouts"]
        if whereabouts == AffectedItem.Whereabouts.SHIPPED:
            balance.shipped += row["total"]
        elif whereabouts == AffectedItem.Whereabouts.ON_HAND:
            balance.on_hand += row["total"]
        else:
            balance.used += row["total"]
    for row in resolutions_by_group:
        balance = balances.setdefault(row["unit"], Balance(row["unit"]))
        outcome = row["outcome"]
        name = "recovered" if outcome in RECOVERED else outcome
        setattr(balance, name, getattr(balance, name) + row["total"])
    notices = ConsigneeNotice.objects.filter(campaign=campaign)
    responded = Q(acknowledged_at__isnull=False) | Q(responded_at__isnull=False)
    counts = notices.aggregate(
        consignees=Count("pk"),
        notified=Count("pk", filter=Q(sent_at__isnull=False)),
        responded=Count("pk", filter=responded),
        responded_notified=Count("pk", filter=responded & Q(sent_at__isnull=False)),
        effective=Count("pk", filter=Q(check_result=ConsigneeNotice.CheckResult.EFFECTIVE)),
        ineffective=Count("pk", filter=Q(check_result=ConsigneeNotice.CheckResult.INEFFECTIVE)),
    )
    return Progress(
        balances=sorted(balances.values(), key=lambda balance: balance.unit),
        items=items,
        lines=lines,
        lines_resolved=resolved_lines,
        lines_to_resolve=to_resolve,
        **counts,
    )


def silent_consignees(campaign: RecallCampaign, limit: int | None = None):
    """Consignees who have not answered (notified or not), by name."""
    rows = (
        ConsigneeNotice.objects.filter(
            campaign=campaign, acknowledged_at__isnull=True, responded_at__isnull=True
        )
        .select_related("party")
        .order_by("party__name", "pk")
    )
    return rows[:limit] if limit else rows


def termination_gaps(campaign: RecallCampaign, progress: Progress | None = None) -> list[str]:
    """What stands between the campaign and its termination: consignees without a response,
    quantities not accounted for, lines not resolved. Empty when it may be terminated.

    A page that shows the progress too passes it, so the lines are read once."""
    progress = progress or campaign_progress(campaign)
    gaps = []
    count = progress.waiting
    if count:
        names = ", ".join(silent_consignees(campaign).values_list("party__name", flat=True)[:5])
        more = f" and {count - 5} more" if count > 5 else ""
        gaps.append(
            str(_("%(count)d consignee(s) have not responded: %(names)s%(more)s"))
            % {"count": count, "names": names, "more": more}
        )
    for balance in progress.balances:
        if balance.unaccounted > 0:
            gaps.append(
                str(UNACCOUNTED)
                % {
                    "quantity": plain(balance.unaccounted),
                    "unit": balance.unit_label,
                    "produced": plain(balance.produced),
                    "percent": balance.percent,
                }
            )
    open_lines = progress.lines_to_resolve
    if open_lines:
        gaps.append(
            str(_("%(count)d line(s) of affected items are not resolved.")) % {"count": open_lines}
        )
    return gaps


def campaigns():
    """Campaigns for the list page, newest first."""
    return RecallCampaign.objects.select_related("owner").order_by("-created_at", "-pk")


def campaign_counts() -> dict:
    """How many campaigns are in each status (drills apart), for the list page's tiles."""
    counts = dict.fromkeys(RecallCampaign.Status.values, 0)
    drills = 0
    for row in RecallCampaign.objects.values("status", "is_drill").annotate(n=Count("pk")):
        if row["is_drill"]:
            drills += row["n"]
        else:
            counts[row["status"]] += row["n"]
    return {**counts, "drills": drills}


def campaign_signatures(campaign: RecallCampaign):
    return (
        CampaignSignature.objects.filter(campaign=campaign)
        .select_related("signer")
        .order_by("signed_at", "pk")
    )


def affected_line(campaign: RecallCampaign, pk: int) -> AffectedItem | None:
    """One line of the snapshot (removed ones too: their page still shows their record)."""
    return (
        AffectedItem.objects.filter(campaign=campaign, pk=pk)
        .select_related(
            *PRODUCT_RELATIONS, "site", "consignee", "shipped_by", "installed_in", "resolved_by"
        )
        .first()
    )


def line_resolutions(line: AffectedItem):
    return (
        ItemResolution.objects.filter(affected_item=line)
        .select_related("recorded_by")
        .order_by("recorded_at", "pk")
    )


def consignee_lines(campaign: RecallCampaign, party_id: int):
    """The lines a consignee received (and what they passed on), for their answer's page."""
    return (
        _active(campaign)
        .filter(Q(consignee_id=party_id) | Q(shipped_by_id=party_id))
        .select_related(*PRODUCT_RELATIONS, "consignee", "shipped_by")
        .order_by("position", "pk")
    )


def open_campaigns(limit: int = 8):
    """Ongoing campaigns for the dashboard, most recently opened first, each with its lines
    resolved and its consignees notified and answered: one query whatever their size."""

    def count(queryset):
        return Subquery(
            queryset.order_by().values("campaign").annotate(n=Count("pk")).values("n"),
            output_field=IntegerField(),
        )

    lines = AffectedItem.objects.filter(campaign=OuterRef("pk"), removed_at__isnull=True)
    notices = ConsigneeNotice.objects.filter(campaign=OuterRef("pk"))
    return (
        RecallCampaign.objects.filter(status=RecallCampaign.Status.ONGOING)
        .annotate(
            line_total=Coalesce(count(lines), 0),
            lines_done=Coalesce(count(lines.filter(resolved_quantity__gte=F("quantity"))), 0),
            consignee_total=Coalesce(count(notices), 0),
            consignees_notified=Coalesce(count(notices.filter(sent_at__isnull=False)), 0),
            consignees_answered=Coalesce(
                count(
                    notices.filter(Q(acknowledged_at__isnull=False) | Q(responded_at__isnull=False))
                ),
                0,
            ),
        )
        .order_by("-opened_at", "-pk")[:limit]
    )


def item_involvement(item_pk: int) -> list[AffectedItem]:
    """Every campaign line that names a lot or unit, newest campaign first, in one query.

    Lines a re-scope took out stay listed: the item's page says they were removed.
    """
    return list(
        AffectedItem.objects.filter(item_id=item_pk)
        .select_related("campaign", "consignee", "shipped_by", "site")
        .order_by("-campaign__created_at", "-campaign__pk", "position", "pk")
    )


def line_count(campaign: RecallCampaign) -> int:
    """How many lines the campaign's files list (removed ones included, as the files do)."""
    return AffectedItem.objects.filter(campaign=campaign).count()


# --- Registered owners ---


def registered_owners(campaign: RecallCampaign):
    """The current end owners of the campaign's serial units (lines still in the campaign)."""
    lines = AffectedItem.objects.filter(
        campaign=campaign, item_id=OuterRef("serial_unit_id"), removed_at__isnull=True
    )
    return UnitOwnership.objects.filter(Exists(lines), ended_on__isnull=True)


def registered_owner_counts(campaign: RecallCampaign) -> dict:
    """How many owners are registered, and how many of them agreed to be contacted."""
    counts = registered_owners(campaign).aggregate(
        owners=Count("pk"), contactable=Count("pk", filter=Q(consent=True))
    )
    return {**counts, "uncontactable": counts["owners"] - counts["contactable"]}


def owners_to_contact(campaign: RecallCampaign):
    return (
        registered_owners(campaign)
        .filter(consent=True)
        .select_related("serial_unit__product")
        .order_by("serial_unit__product__sku", "serial_unit__serial")
    )


# --- Public verification ---


def consumer_recalls(item_pks: Iterable[int]) -> list[RecallCampaign]:
    """Ongoing real recalls (drills tell consumers nothing) whose current scope names any of
    the items, newest first, in one query."""
    return list(
        RecallCampaign.objects.filter(
            status=RecallCampaign.Status.ONGOING,
            is_drill=False,
            pk__in=AffectedItem.objects.filter(
                item_id__in=keys_in(item_pks), removed_at__isnull=True
            ).values("campaign_id"),
        ).order_by("-opened_at", "-pk")
    )
