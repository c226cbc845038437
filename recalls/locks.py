"""Row locks for recalls, taken in one place so every code path locks in the same order."""

from .models import RecallCampaign, RecallSequence


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
