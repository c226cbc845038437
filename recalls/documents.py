"""A campaign's print documents, as print-ready HTML and as PDF (WeasyPrint): the full recall
report (the mock-recall report for a drill), the 21 CFR 7.53 status report, and the consignee
notices as letters, one to a page.

Each document's context is read in a fixed number of queries, whatever the campaign's size.
Long listings stop and say so: affected items at ITEM_ROWS_SHOWN lines, other listings at
ROWS_SHOWN; the CSV, XLSX and JSON reports hold them all. WeasyPrint lays out roughly a hundred
table rows a second, so 2,000 lines are some 50 pages and 20 seconds; ten times that would
outlast a web request and nobody would read it on paper.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import unquote, urljoin

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from inventory.models import Party

from . import notices as notice_text
from .formatting import duration
from .models import (
    PRODUCT_RELATIONS,
    AffectedItem,
    CampaignEvent,
    ConsigneeNotice,
    ItemResolution,
    RecallCampaign,
)
from .scope import describe
from .selectors import (
    Balance,
    campaign_progress,
    campaign_signatures,
    campaign_timeline,
    consignee_notices,
    report_items,
    silent_consignees,
    termination_gaps,
)

ITEM_ROWS_SHOWN = 2000
ROWS_SHOWN = 500
PDF_UNAVAILABLE = _(
    "PDFs need the Pango library (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
    "libharfbuzz-subset0): %(error)s"
)
NOT_FETCHED = "Print documents use local static files only; %s is not fetched."
# WeasyPrint resolves the templates' /static/… links against this; nothing is fetched from it.
BASE_URL = "https://tracewell.invalid/"


class PdfUnavailable(RuntimeError):
    """WeasyPrint's system libraries (Pango) are not installed."""


# --- listings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """The first rows of a listing and how many there are in all."""

    rows: list
    total: int

    @property
    def truncated(self) -> bool:
        return len(self.rows) < self.total

    @property
    def shown(self) -> int:
        return len(self.rows)


def _listing(queryset, total: int | None = None, limit: int = ROWS_SHOWN) -> Listing:
    """At most `limit` rows, in one query (a second counts them only when there are more)."""
    rows = list(queryset[: limit + 1])
    if total is None:
        total = len(rows) if len(rows) <= limit else queryset.order_by().count()
    return Listing(rows[:limit], total)


# --- reading ----------------------------------------------------------------------------------


@dataclass
class ConsigneeLine:
    """A consignee notice with what the records say they received and what was accounted for."""

    notice: ConsigneeNotice
    shipped: list[tuple[Decimal, str]] = field(default_factory=list)
    accounted: list[tuple[str, Decimal, str]] = field(default_factory=list)


def _company() -> Party | None:
    return Party.objects.filter(is_internal=True).order_by("pk").first()


def _shipped(notice: ConsigneeNotice) -> list[tuple[Decimal, str]]:
    """What the consignee received, per unit of measure, from the notice's snapshot."""
    totals = defaultdict(Decimal)
    for line in notice.received:
        try:
            totals[line.get("unit", "")] += Decimal(str(line.get("quantity") or 0))
        except ArithmeticError:
            continue
    return [(quantity, unit) for unit, quantity in sorted(totals.items())]


def _accounted_by_consignee(campaign: RecallCampaign) -> dict[int, list]:
    """The resolutions recorded against each consignee's lines: outcome, quantity, unit."""
    accounted = defaultdict(list)
    rows = (
        ItemResolution.objects.filter(
            campaign=campaign,
            affected_item__removed_at__isnull=True,
            affected_item__consignee__isnull=False,
        )
        .values("affected_item__consignee_id", "outcome", "unit")
        .annotate(total=Sum("quantity"))
        .order_by("affected_item__consignee_id", "outcome", "unit")
    )
    labels = dict(AffectedItem.Resolution.choices)
    for row in rows:
        if row["total"]:
            accounted[row["affected_item__consignee_id"]].append(
                (labels[row["outcome"]], row["total"], row["unit"])
            )
    return accounted


def _consignee_lines(listing: Listing, accounted: dict[int, list]) -> Listing:
    lines = [
        ConsigneeLine(notice, _shipped(notice), accounted.get(notice.party_id, []))
        for notice in listing.rows
    ]
    return Listing(lines, listing.total)


def _balances(progress) -> list[dict]:
    """Each unit's balance with its figure and the figure's legend."""
    figures = []
    for balance in progress.balances:
        at_opening, now = _figure_parts(balance)
        figures.append(
            {
                "balance": balance,
                "figure": balance_figure(balance),
                "at_opening": [(k, n, at_opening[k]) for k, n, _c in SEGMENTS_AT_OPENING],
                "now": [(k, n, now[k]) for k, n, _c in SEGMENTS_NOW],
            }
        )
    return figures


def _when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _strategy(campaign: RecallCampaign, *, dates: bool = True) -> dict:
    """The recall strategy (21 CFR 7.42) and, with `dates`, the campaign's owner and dates:
    the long texts, then short facts two to a row (the page's head has reference and title)."""
    owner = campaign.owner
    short = [
        (_("Classification"), campaign.get_classification_display()),
        (_("Depth of recall"), campaign.get_depth_display()),
        (_("Public warning"), campaign.get_public_warning_display()),
        (_("Effectiveness checks"), campaign.get_effectiveness_check_display()),
    ]
    if dates:
        estimated = campaign.estimated_completion_on
        short += [
            (_("Owner"), owner.get_full_name() or owner.get_username()),
            (_("Status"), campaign.get_status_display()),
            (_("Drafted"), _when(campaign.created_at)),
            (_("Opened"), _when(campaign.opened_at)),
            (_("Estimated completion"), _when(estimated) if estimated else _("not estimated")),
            (_("Completed"), _when(campaign.completed_at)),
            (_("Terminated"), _when(campaign.terminated_at)),
            (_("Scope revision"), str(campaign.scope_revision)),
        ]
    return {
        "texts": [
            (_("Reason"), campaign.reason),
            (_("Health hazard"), campaign.hazard or _("not assessed yet")),
            (_("Scope"), "\n".join(describe(entry) for entry in campaign.scope) or "—"),
        ],
        "pairs": [short[i : i + 2] for i in range(0, len(short), 2)],
    }


def _document(campaign: RecallCampaign, title, company: Party | None) -> dict:
    return {
        "campaign": campaign,
        "document_title": title,
        "company": company,
        "company_name": company.name if company else settings.PRODUCT_NAME,
        "printed_at": timezone.now(),
    }


def report_context(campaign: RecallCampaign) -> dict:
    """Everything the full recall report (for a drill, the mock-recall report) shows."""
    progress = campaign_progress(campaign)
    title = _("Mock recall (drill) report") if campaign.is_drill else _("Recall report")
    resolutions = (
        ItemResolution.objects.filter(campaign=campaign)
        .select_related(
            *(f"affected_item__{relation}" for relation in PRODUCT_RELATIONS), "recorded_by"
        )
        .order_by("occurred_at", "pk")
    )
    consignees = _listing(
        consignee_notices(campaign).select_related("sent_by"), progress.consignees
    )
    gaps = [] if campaign.status == RecallCampaign.Status.TERMINATED else termination_gaps(campaign)
    return {
        **_document(campaign, title, _company()),
        "strategy": _strategy(campaign),
        "progress": progress,
        "balances": _balances(progress),
        "consignees": _consignee_lines(consignees, _accounted_by_consignee(campaign)),
        "items": _listing(report_items(campaign), progress.lines, limit=ITEM_ROWS_SHOWN),
        "resolutions": _listing(resolutions),
        "timeline": _listing(campaign_timeline(campaign)),
        "signatures": list(campaign_signatures(campaign)),
        "gaps": gaps,
        "drill": _drill(campaign, progress, gaps) if campaign.is_drill else None,
    }


def _drill(campaign, progress, gaps) -> dict:
    return {
        "trace_duration": duration(campaign.trace_duration),
        "time_to_complete": duration(campaign.time_to_complete),
        "percent_accounted": progress.percent_accounted,
        "gaps": gaps,
    }


def status_report_context(campaign: RecallCampaign, *, number: int | None = None) -> dict:
    """The recall status report's contents under 21 CFR 7.53(b), numbered and dated."""
    progress = campaign_progress(campaign)
    notices = consignee_notices(campaign).select_related("sent_by")
    if number is None:
        issued = CampaignEvent.objects.filter(
            campaign=campaign, kind=CampaignEvent.Kind.REPORT, details__document="status"
        )
        number = issued.count() + 1
    checks = {
        row["check_result"]: row["count"]
        for row in ConsigneeNotice.objects.filter(campaign=campaign)
        .exclude(check_result="")
        .values("check_result")
        .annotate(count=Count("pk"))
        .order_by()
    }
    responded = Q(responded_at__isnull=False) | Q(acknowledged_at__isnull=False)
    notified = _listing(notices.filter(sent_at__isnull=False), progress.notified)
    silent_count = progress.consignees - progress.responded
    return {
        **_document(campaign, _("Recall status report"), _company()),
        "number": number,
        "heading": _("Recall status report no. %(number)s") % {"number": number},
        "strategy": _strategy(campaign, dates=False),
        "progress": progress,
        "balances": _balances(progress),
        "notified": _consignee_lines(notified, _accounted_by_consignee(campaign)),
        "responding": _listing(notices.filter(responded), progress.responded),
        "silent": _listing(silent_consignees(campaign).select_related("sent_by"), silent_count),
        "checks": {
            "made": sum(checks.values()),
            "results": [
                (label, checks.get(value, 0))
                for value, label in ConsigneeNotice.CheckResult.choices
            ],
            "listing": _listing(notices.exclude(check_result="")),
        },
    }


def address_lines(party: Party | None) -> list[str]:
    """A postal address as it is written on an envelope (North American order for US and CA)."""
    if party is None:
        return []
    if party.country in ("US", "CA"):
        region = " ".join(part for part in (party.region, party.postal_code) if part)
        locality = ", ".join(part for part in (party.city, region) if part)
        lines = [party.street, locality]
    else:
        lines = [party.street, " ".join(p for p in (party.postal_code, party.city) if p)]
        lines.append(party.region)
    return [line for line in [*lines, party.country] if line]


def notices_context(campaign: RecallCampaign, notices=None) -> dict:
    """One letter per notice: ours and their address, the text, and a response form."""
    rows = consignee_notices(campaign)
    if notices is not None:
        keys = [notice if isinstance(notice, int) else notice.pk for notice in notices]
        rows = rows.filter(pk__in=keys)
    company = _company()
    name = company.name if company else settings.PRODUCT_NAME
    letters = []
    for notice in rows:
        if notice.sent_at and notice.body:
            subject, body = notice.subject, notice.body  # what was sent is what is on record
        else:
            subject, body = notice_text.render(campaign, notice, company=name)
        letters.append(
            {
                "notice": notice,
                "subject": subject,
                "body": body,
                "dated": notice.sent_at or timezone.now(),
                "address": address_lines(notice.party),
                "items": notice_text.context(campaign, notice, company=name)["items"],
            }
        )
    title = _("Mock recall notice (drill)") if campaign.is_drill else _("Recall notice")
    return {
        **_document(campaign, title, company),
        "letters": letters,
        "company_lines": address_lines(company),
    }


# --- the mass-balance figure -------------------------------------------------------------------

# Colours of the figure; print.css gives the legend's swatches the same ones.
SEGMENTS_AT_OPENING = [
    ("on_hand", _("on hand"), "#7fb0d8"),
    ("shipped", _("shipped"), "#0f5e9c"),
    ("used", _("used up or installed"), "#9aa5b1"),
]
SEGMENTS_NOW = [
    ("used", _("used up or installed"), "#9aa5b1"),
    ("recovered", _("recovered"), "#1d6b38"),
    ("destroyed", _("destroyed"), "#5c9c6a"),
    ("consumed", _("consumed"), "#b3d4b9"),
    ("not_found", _("not found"), "#a1231b"),
    ("open", _("not accounted for"), "#f4d3cf"),
]
FIGURE_WIDTH, LABEL_WIDTH, BAR_HEIGHT = 640, 110, 26
# Presentation attributes, not CSS: WeasyPrint does not apply a page's CSS inside inline SVG.
FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="11"'


def _figure_parts(balance: Balance) -> tuple[dict, dict]:
    """The two bars' segment sizes: where the quantity was at opening, and how it is accounted
    for now (resolutions capped as Balance.resolved caps them)."""
    raw = balance.recovered + balance.destroyed + balance.consumed
    scale = balance.resolved / raw if raw > 0 else Decimal(0)
    not_found = min(max(balance.not_found, Decimal(0)), balance.unaccounted)
    at_opening = {"on_hand": balance.on_hand, "shipped": balance.shipped, "used": balance.used}
    now = {
        "used": balance.used,
        "recovered": balance.recovered * scale,
        "destroyed": balance.destroyed * scale,
        "consumed": balance.consumed * scale,
        "not_found": not_found,
        "open": balance.unaccounted - not_found,
    }
    return at_opening, now


def balance_figure(balance: Balance) -> SafeString:
    """An inline SVG of one unit's mass balance: two stacked bars, at opening and now."""
    at_opening, now = _figure_parts(balance)
    total = max(balance.produced, sum(now.values()), Decimal(0))
    if total <= 0:
        return mark_safe("")
    bars = []
    for row, (label, parts, segments) in enumerate(
        [(_("At opening"), at_opening, SEGMENTS_AT_OPENING), (_("Now"), now, SEGMENTS_NOW)]
    ):
        y = 4 + row * (BAR_HEIGHT + 12)
        bars.append(
            format_html(
                '<text x="0" y="{}" {}>{}</text>',
                y + BAR_HEIGHT / 2 + 4,
                mark_safe(f'{FONT} font-weight="600" fill="#1c2430"'),
                label,
            )
        )
        x = Decimal(LABEL_WIDTH)
        span = Decimal(FIGURE_WIDTH - LABEL_WIDTH)
        for key, name, colour in segments:
            value = max(parts[key], Decimal(0))
            if value <= 0:
                continue
            width = span * value / total
            percent = value * 100 / total
            bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{}: {}%</title></rect>",
                    f"{x:.2f}",
                    y,
                    f"{width:.2f}",
                    BAR_HEIGHT,
                    colour,
                    name,
                    f"{percent:.1f}",
                )
            )
            if width >= 44:
                ink = "#1c2430" if key in ("on_hand", "used", "consumed", "open") else "#ffffff"
                bars.append(
                    format_html(
                        '<text x="{}" y="{}" fill="{}" text-anchor="middle" {}>{}%</text>',
                        f"{x + width / 2:.2f}",
                        y + BAR_HEIGHT / 2 + 4,
                        ink,
                        mark_safe(f'{FONT} font-weight="600"'),
                        f"{percent:.0f}" if percent >= 10 else f"{percent:.1f}",
                    )
                )
            x += width
        bars.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#5b6675" '
                'stroke-width="0.8"/>',
                LABEL_WIDTH,
                y,
                FIGURE_WIDTH - LABEL_WIDTH,
                BAR_HEIGHT,
            )
        )
    height = 4 + 2 * (BAR_HEIGHT + 12)
    return format_html(
        '<svg class="balance-figure" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}" xmlns="http://www.w3.org/2000/svg">{}</svg>',
        FIGURE_WIDTH,
        height,
        FIGURE_WIDTH,
        height,
        _("Mass balance in %(unit)s") % {"unit": balance.unit_label},
        format_html_join("", "{}", ((bar,) for bar in bars)),
    )


# --- rendering --------------------------------------------------------------------------------


def report_html(campaign: RecallCampaign, request=None) -> str:
    """The full recall report (for a drill, the mock-recall report) as print-ready HTML."""
    return render_to_string("recalls/report.html", report_context(campaign), request=request)


def report_pdf(campaign: RecallCampaign) -> bytes:
    return pdf(report_html(campaign))


def status_report_html(campaign: RecallCampaign, request=None, *, number: int | None = None):
    """The 21 CFR 7.53 recall status report as print-ready HTML; `number` defaults to one more
    than the status reports on the campaign's timeline."""
    context = status_report_context(campaign, number=number)
    return render_to_string("recalls/status_report.html", context, request=request)


def status_report_pdf(campaign: RecallCampaign, *, number: int | None = None) -> bytes:
    return pdf(status_report_html(campaign, number=number))


def notices_html(campaign: RecallCampaign, notices=None, request=None) -> str:
    """The consignee notices (all, or the given notices or their keys) as letters, one a page."""
    context = notices_context(campaign, notices)
    return render_to_string("recalls/notices.html", context, request=request)


def notices_pdf(campaign: RecallCampaign, notices=None) -> bytes:
    return pdf(notices_html(campaign, notices))


def pdf(html: str) -> bytes:
    """The HTML laid out as a PDF; only local static files are read, nothing from the network."""
    try:
        import weasyprint  # loads Pango: only when a PDF is asked for
    except OSError as exc:
        raise PdfUnavailable(str(PDF_UNAVAILABLE % {"error": exc})) from exc
    document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=static_fetcher())
    return document.write_pdf()


def static_fetcher():
    """A WeasyPrint URL fetcher that serves our static files from disk and refuses the rest."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    prefix = urljoin(BASE_URL, static(""))

    class StaticFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if not url.startswith(prefix):
                raise ValueError(NOT_FETCHED % url)
            name = unquote(url[len(prefix) :].split("?")[0].split("#")[0])
            path = finders.find(name)
            if path is None and staticfiles_storage.exists(name):
                path = staticfiles_storage.path(name)  # collected, e.g. a hashed name
            if path is None:
                raise ValueError(NOT_FETCHED % url)
            with open(path, "rb") as file:
                body = file.read()
            kind = "text/css" if name.endswith(".css") else "application/octet-stream"
            if name.endswith(".svg"):
                kind = "image/svg+xml"
            return URLFetcherResponse(url, body, {"Content-Type": kind})

    return StaticFetcher()
