"""Row locks for recalls, taken in one place so every code path locks in the same order."""

from .models import (
    PRODUCT_RELATIONS,
    AffectedItem,
    CapaAction,
    ConsigneeNotice,
    NonConformance,
    RecallCampaign,
    RecallSequence,
)


def lock_sequence(year: int) -> RecallSequence:
    """The year's reference counter, created if need be and locked until the transaction ends.

    Creating it with ON CONFLICT DO NOTHING (ignore_conflicts) means two first campaigns of a
    year cannot both create it: the second waits for the first and then finds its row.
    """
    RecallSequence.objects.bulk_create([RecallSequence(year=year)], ignore_conflicts=True)
    return RecallSequence.objects.select_for_update(of=("self",)).get(year=year)


def lock_campaign(campaign: RecallCampaign) -> RecallCampaign:
    """Lock a campaign's row for update and return it fresh from the database."""
    return RecallCampaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)


def lock_affected_items(campaign: RecallCampaign, keys: list[int]) -> list[AffectedItem]:
    """Lock a campaign's (active) affected-item rows, in key order, and return them fresh."""
    return list(
        AffectedItem.objects.filter(campaign=campaign, pk__in=keys, removed_at__isnull=True)
        .select_related(*PRODUCT_RELATIONS, "consignee", "resolved_by")
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def lock_notices(campaign: RecallCampaign, keys: list[int]) -> list[ConsigneeNotice]:
    """Lock a campaign's consignee notices, in key order, and return them fresh."""
    return list(
        ConsigneeNotice.objects.filter(campaign=campaign, pk__in=keys)
        .select_related("party")
        .order_by("pk")
        .select_for_update(of=("self",))
    )


# --- Non-conformances and CAPA ---


def lock_nonconformance(nonconformance):
    """Lock a non-conformance's row and return it fresh; its actions are locked after it."""
    return NonConformance.objects.select_for_update(of=("self",)).get(pk=nonconformance.pk)


def lock_capa_actions(nonconformance) -> list:
    """Lock a non-conformance's actions, in key order, and return them fresh."""
    return list(
        CapaAction.objects.filter(nonconformance_id=nonconformance.pk)
        .select_related("owner", "completed_by")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
