"""Reads for non-conformances and CAPA actions: lists, one report's page, its investigation
(the backward trace of what it names), the dashboard and the lot, unit and campaign cards.
Each returns what its page shows in a number of queries that does not grow with the rows."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, Min, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from inventory.models import Item, Lot, SerialUnit
from inventory.selectors import parties_by_pk
from inventory.trace import Direction, TraceResult, trace

from ..models import (
    CapaAction,
    NonConformance,
    NonConformanceEvent,
    NonConformanceItem,
    RecallCampaign,
)

DUE_SOON_DAYS = 14
DASHBOARD_ROWS = 10
OPEN_STATUSES = [s for s in NonConformance.Status.values if s != NonConformance.Status.CLOSED]
ITEM_RELATIONS = ("item__lot__product", "item__serialunit__product")


def _today(today: date | None) -> date:
    return today or timezone.localdate()


def nonconformance_list(today: date | None = None) -> QuerySet:
    """Every report with its counts of items, open and overdue actions, and next due date."""
    today = _today(today)
    open_actions = Q(actions__status=CapaAction.Status.OPEN)
    return NonConformance.objects.select_related("owner", "party", "recall_campaign").annotate(
        item_count=Count("named_items", distinct=True),
        open_action_count=Count("actions", filter=open_actions, distinct=True),
        overdue_action_count=Count(
            "actions", filter=open_actions & Q(actions__due_on__lt=today), distinct=True
        ),
        next_due_on=Min("actions__due_on", filter=open_actions),
    )


def nonconformance_for_page(reference: str) -> NonConformance:
    """One report with its items (and their products), actions and people, in a few queries."""
    return (
        NonConformance.objects.select_related(
            "owner", "party", "recall_campaign", "reported_by", "closed_by"
        )
        .prefetch_related(
            Prefetch(
                "named_items",
                queryset=NonConformanceItem.objects.select_related(*ITEM_RELATIONS).order_by("pk"),
            ),
            Prefetch(
                "actions",
                queryset=CapaAction.objects.select_related(
                    "owner", "completed_by", "verified_by"
                ).order_by("number"),
            ),
        )
        .get(reference=reference)
    )


def nonconformance_timeline(nonconformance: NonConformance) -> QuerySet:
    return (
        NonConformanceEvent.objects.filter(nonconformance=nonconformance)
        .select_related("actor")
        .order_by("occurred_at", "pk")
    )


@dataclass
class Origin:
    """An upstream lot the backward trace reached: where it came from."""

    lot: Lot
    depth: int
    path: list[str]


@dataclass
class Investigation:
    result: TraceResult
    origins: list[Origin]
    suppliers: list[tuple]  # (Party, TracedParty)


def named_trackeds(nonconformance: NonConformance) -> tuple[list[Lot], list[SerialUnit]]:
    """The lots and units a prefetched report names."""
    lots, units = [], []
    for line in nonconformance.named_items.all():
        if line.item.kind == Item.Kind.LOT:
            lots.append(line.item.lot)
        else:
            units.append(line.item.serialunit)
    return lots, units


def nonconformance_investigation(nonconformance: NonConformance) -> Investigation:
    """The backward trace of everything the report names (one recursive query), the suppliers
    that shipped any of it to us, and every upstream lot with its supplier and lot code."""
    lots, units = named_trackeds(nonconformance)
    result = trace(
        direction=Direction.BACKWARD,
        lots=Lot.objects.filter(pk__in=[lot.pk for lot in lots]),
        serial_units=SerialUnit.objects.filter(pk__in=[unit.pk for unit in units]),
    )
    lot_keys = [item.pk for item in result.all_items if item.kind == Item.Kind.LOT]
    found = Lot.objects.select_related("product", "supplier").in_bulk(lot_keys)
    origins = [
        Origin(lot=found[item.pk], depth=item.depth, path=[step.label for step in item.path])
        for item in sorted(result.items, key=lambda item: (item.depth, item.sku, item.lot or ""))
        if item.kind == Item.Kind.LOT and item.pk in found
    ]
    parties = parties_by_pk({party.pk for party in result.suppliers})
    return Investigation(
        result=result,
        origins=origins,
        suppliers=[(parties[party.pk], party) for party in result.suppliers],
    )


def capa_action_list() -> QuerySet:
    """Every action with its report and people."""
    return CapaAction.objects.select_related(
        "nonconformance", "owner", "completed_by", "verified_by"
    )


# --- Dashboard ---


@dataclass
class QualityDashboard:
    open_nonconformances: list
    open_count: int
    critical_count: int
    overdue: list
    overdue_count: int
    due_soon: list
    due_soon_count: int
    today: date
    soon: date


def quality_dashboard(today: date | None = None) -> QualityDashboard:
    """Open reports (newest first) and overdue and due-soon actions, with their counts: two
    queries for the counts and three for the rows, whatever their number."""
    today = _today(today)
    soon = today + timedelta(days=DUE_SOON_DAYS)
    counts = NonConformance.objects.filter(status__in=OPEN_STATUSES).aggregate(
        open=Count("pk"), critical=Count("pk", filter=Q(severity=NonConformance.Severity.CRITICAL))
    )
    action_counts = CapaAction.objects.filter(status=CapaAction.Status.OPEN).aggregate(
        overdue=Count("pk", filter=Q(due_on__lt=today)),
        soon=Count("pk", filter=Q(due_on__gte=today, due_on__lte=soon)),
    )
    actions = CapaAction.objects.filter(status=CapaAction.Status.OPEN).select_related(
        "nonconformance", "owner"
    )
    return QualityDashboard(
        open_nonconformances=list(
            nonconformance_list(today)
            .filter(status__in=OPEN_STATUSES)
            .order_by("-created_at", "-pk")[:DASHBOARD_ROWS]
        ),
        open_count=counts["open"],
        critical_count=counts["critical"],
        overdue=list(actions.filter(due_on__lt=today).order_by("due_on", "pk")[:DASHBOARD_ROWS]),
        overdue_count=action_counts["overdue"],
        due_soon=list(
            actions.filter(due_on__gte=today, due_on__lte=soon).order_by("due_on", "pk")[
                :DASHBOARD_ROWS
            ]
        ),
        due_soon_count=action_counts["soon"],
        today=today,
        soon=soon,
    )


# --- Cards on other pages ---


def item_nonconformances(item_pk: int) -> list[NonConformance]:
    """The reports naming a lot or unit, newest first, with their open action counts."""
    named = NonConformanceItem.objects.filter(nonconformance=OuterRef("pk"), item_id=item_pk)
    return list(nonconformance_list().filter(Exists(named)).order_by("-created_at", "-pk"))


def campaign_nonconformances(campaign: RecallCampaign) -> list[NonConformance]:
    """The reports that led to a campaign."""
    return list(
        NonConformance.objects.filter(recall_campaign=campaign)
        .select_related("owner")
        .order_by("created_at", "pk")
    )
