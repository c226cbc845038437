"""Consignee notices: the campaign's wording (a Django template) rendered for one consignee,
and e-mail through Django's e-mail backend."""

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template import Context, Engine, TemplateSyntaxError
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from inventory.models import Party

from .formatting import plain, unit_label
from .models import ConsigneeNotice, RecallCampaign

logger = logging.getLogger(__name__)

# Plain text, no HTML escaping; no template tags beyond the built-ins (no {% load %} of apps).
ENGINE = Engine(autoescape=False, libraries={}, builtins=[])
URGENT = _("URGENT")
TEMPLATE_ERROR = _("The wording has a template error: %(error)s")


def template_problem(text: str) -> str | None:
    """A sentence saying why the text is not a valid notice template, or None."""
    try:
        ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        return str(TEMPLATE_ERROR % {"error": exc})
    return None


def context(campaign: RecallCampaign, notice: ConsigneeNotice, company: str | None = None) -> dict:
    items = [
        {
            "label": line.get("item", ""),
            "quantity": plain(line.get("quantity")),
            "unit": unit_label(line.get("unit", "")),
            "shipped_at": _datetime(line.get("shipped_at")),
        }
        for line in notice.received
    ]
    return {
        "campaign": campaign,
        "consignee": notice.party,
        "company": company or company_name(),
        "urgent": str(URGENT) if campaign.classification in ("I", "II") else "",
        "items": items,
        "drill": campaign.is_drill,
    }


def _datetime(text):
    return parse_datetime(text) if text else None


def company_name() -> str:
    ours = Party.objects.filter(is_internal=True).order_by("pk").values_list("name", flat=True)
    return ours.first() or settings.PRODUCT_NAME


def render(
    campaign: RecallCampaign, notice: ConsigneeNotice, company: str | None = None
) -> tuple[str, str]:
    """The notice's subject (one line) and text for this consignee; `company` (our name) saves
    looking it up for each of many notices."""
    values = Context(context(campaign, notice, company), autoescape=False)
    subject = ENGINE.from_string(campaign.notice_subject).render(values)
    body = ENGINE.from_string(campaign.notice_body).render(values)
    return " ".join(subject.split()), body.strip() + "\n"


# E-mailing more notices than this at once is left to a background job (an SMTP server takes
# a second or more per message); fewer go out when the request commits.
NOTICES_IN_BACKGROUND = 20


def email_message(subject: str, body: str, to: str) -> EmailMessage:
    return EmailMessage(subject=subject, body=body, to=[to])


def deliver(messages: list[EmailMessage]) -> None:
    """Send after the commit; a failure is logged (the notice stays recorded as sent at the
    time the manager chose, and can be sent again)."""
    try:
        get_connection().send_messages(messages)
    except Exception:
        logger.exception("Sending %d recall notice(s) failed", len(messages))


def default_address(party: Party, method: str) -> str:
    if method == ConsigneeNotice.Method.PHONE or method == ConsigneeNotice.Method.FAX:
        return party.phone
    if method == ConsigneeNotice.Method.LETTER:
        return ", ".join(
            part for part in (party.street, party.postal_code, party.city, party.country) if part
        )
    return ""


def response_summary(notice: ConsigneeNotice) -> str:
    parts = []
    for label, value in (
        (_("on hand"), notice.quantity_on_hand),
        (_("returned"), notice.quantity_returned),
        (_("destroyed"), notice.quantity_destroyed),
        (_("corrected"), notice.quantity_corrected),
    ):
        if value is not None:
            parts.append(f"{label} {plain(value)} {unit_label(notice.unit)}".strip())
    if notice.check_result:
        parts.append(str(notice.get_check_result_display()))
    if notice.acknowledged_at and not parts:
        parts.append(str(_("acknowledged")))
    return ", ".join(parts) or str(_("no quantities given"))
