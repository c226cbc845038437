"""Reads for recalls: querysets with their joins applied, and the snapshot as the trace shows it."""

import json
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models.expressions import RawSQL

from .models import AffectedItem, CampaignEvent, ConsigneeNotice, RecallCampaign


def keys_in(keys: Iterable[int]) -> RawSQL:
    """A subquery of the given primary keys, for `pk__in=`, sent as one parameter.

    A recall can reach a hundred thousand items; as an IN list they would be a hundred
    thousand parameters, more than SQLite accepts. One JSON array is one parameter anywhere.
    """
    data = json.dumps(list(keys))
    if connection.vendor == "postgresql":
        return RawSQL("SELECT jsonb_array_elements_text(%s::jsonb)::bigint", [data])
    return RawSQL("SELECT value FROM json_each(%s)", [data])


def affected_items(campaign: RecallCampaign):
    """The snapshot's rows in the trace's order: the scope first, then nearest first."""
    return (
        AffectedItem.objects.filter(campaign=campaign)
        .select_related("product", "site", "consignee", "shipped_by", "installed_in")
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
