"""Opening a campaign is long work when its scope is large: it runs as a background job."""

from django.utils.translation import gettext as _

from inventory.jobs import job_kind, job_start

from . import selectors, services
from .models import RecallCampaign


def opened_message(campaign: RecallCampaign) -> str:
    progress = selectors.campaign_progress(campaign)
    return _("%(ref)s is open: %(items)d affected item(s), %(consignees)d consignee(s).") % {
        "ref": campaign.reference,
        "items": progress.items,
        "consignees": progress.consignees,
    }


def recall_start_later(*, campaign: RecallCampaign, acting_user):
    """Queue the opening of a draft; the job's page follows it and then shows the campaign."""
    return job_start(
        kind="recall_start",
        title=_("Opening %(ref)s: %(title)s")
        % {"ref": campaign.reference, "title": campaign.title},
        acting_user=acting_user,
        arguments={"campaign": campaign.pk},
    )


@job_kind("recall_start")
def _recall_start(job, progress) -> dict:
    campaign = RecallCampaign.objects.get(pk=job.arguments["campaign"])
    url = campaign.get_absolute_url()
    progress(_("Tracing the scope forward, freezing the affected items, holding stock"))
    try:
        campaign = services.recall_start(campaign=campaign, acting_user=job.created_by)
    except Exception:
        job.result = {"back": url}  # the draft is still there to correct
        raise
    return {"url": url, "message": opened_message(campaign), "link": campaign.reference}
