"""Reads for inventory pages: querysets with their joins applied, so pages run constant queries."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from .models import Lot, SerialUnit, ServiceRecord, TraceEvent


def dashboard_counts() -> dict:
    """Headline figures for the dashboard, in two queries."""
    today = timezone.localdate()
    lots = Lot.objects.aggregate(
        on_hold=Count("pk", filter=Q(status=Lot.Status.ON_HOLD)),
        quarantined=Count("pk", filter=Q(status=Lot.Status.QUARANTINED)),
        recalled=Count("pk", filter=Q(status=Lot.Status.RECALLED)),
        expiring_30=Count(
            "pk",
            filter=Q(expires_on__gte=today, expires_on__lte=today + timedelta(days=30))
            & ~Q(status__in=[Lot.Status.CONSUMED, Lot.Status.DESTROYED]),
        ),
        expired=Count(
            "pk",
            filter=Q(expires_on__lt=today)
            & ~Q(status__in=[Lot.Status.CONSUMED, Lot.Status.DESTROYED]),
        ),
    )
    units = SerialUnit.objects.aggregate(
        returned=Count("pk", filter=Q(status=SerialUnit.Status.RETURNED)),
        in_repair=Count("pk", filter=Q(status=SerialUnit.Status.IN_REPAIR)),
    )
    return {**lots, **units}


def lots_needing_attention(limit: int = 10):
    """Lots on hold, quarantined, rejected or recalled, most recently produced first."""
    return (
        Lot.objects.filter(status__in=Lot.BLOCKED_STATUSES)
        .select_related("product", "supplier", "site")
        .order_by("-produced_on", "-pk")[:limit]
    )


def recent_events(limit: int = 10):
    return (
        TraceEvent.objects.select_related(
            "site", "source_party", "destination_party", "recorded_by"
        )
        .annotate(line_count=Count("lines"))
        .order_by("-occurred_at", "-pk")[:limit]
    )


def open_warranty_claims(limit: int = 10):
    return (
        ServiceRecord.objects.filter(
            kind=ServiceRecord.Kind.WARRANTY_CLAIM, outcome=ServiceRecord.Outcome.OPEN
        )
        .select_related("serial_unit__product")
        .order_by("-performed_on", "-pk")[:limit]
    )
