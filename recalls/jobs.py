"""Opening a campaign is long work when its scope is large: it runs as a background job."""

from django.core.mail import get_connection
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from inventory.jobs import job_kind, job_start
from inventory.models import Job

from . import notices, selectors, services
from .models import ConsigneeNotice, RecallCampaign

# A PDF of more lines (or notices) than this is written by a background job.
DOCUMENT_PDF_IN_BACKGROUND = 1_000


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


def notices_deliver_later(*, campaign: RecallCampaign, notice_keys: list[int], acting_user):
    """Queue the e-mails of notices just recorded as sent; the job's page says how it went."""
    return job_start(
        kind="notices_deliver",
        title=ngettext(
            "E-mailing %(count)d notice of %(ref)s",
            "E-mailing %(count)d notices of %(ref)s",
            len(notice_keys),
        )
        % {"count": len(notice_keys), "ref": campaign.reference},
        acting_user=acting_user,
        arguments={"campaign": campaign.pk, "notices": notice_keys},
    )


def latest_delivery(campaign: RecallCampaign, user):
    """The last e-mailing of this campaign's notices that this user started, if any."""
    return (
        Job.objects.filter(kind="notices_deliver", created_by=user, arguments__campaign=campaign.pk)
        .order_by("-created_at")
        .first()
    )


@job_kind("notices_deliver")
def _notices_deliver(job, progress) -> dict:
    """Send the notices as recorded (subject, body, address); a failure fails the job, which
    the manager sees on its page, and the notices can be sent again."""
    campaign = RecallCampaign.objects.get(pk=job.arguments["campaign"])
    rows = list(
        ConsigneeNotice.objects.filter(pk__in=job.arguments["notices"], campaign=campaign)
        .exclude(sent_to="")
        .order_by("pk")
    )
    connection = get_connection()
    for start in range(0, len(rows), 50):
        progress(_("Sending e-mails"), done=start, total=len(rows))
        connection.send_messages(
            [notices.email_message(r.subject, r.body, r.sent_to) for r in rows[start : start + 50]]
        )
    return {
        "url": campaign.get_absolute_url() + "#consignees",
        "message": ngettext("%(count)d notice e-mailed.", "%(count)d notices e-mailed.", len(rows))
        % {"count": len(rows)},
        "link": campaign.reference,
    }
