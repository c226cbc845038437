"""django-tables2 tables for the recall pages."""

import django_tables2 as tables
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from inventory.models import Item

from .formatting import plain, unit_label
from .models import AffectedItem, RecallCampaign


class CountedPaginator(Paginator):
    """A paginator told how many rows there are, so it does not count them again."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.count = count  # Paginator.count is a cached property: this is its value


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


class CampaignTable(tables.Table):
    reference = tables.Column(
        verbose_name=_("Reference"),
        linkify=lambda record: record.get_absolute_url(),
        attrs={"td": {"class": "code"}},
    )
    title = tables.Column(verbose_name=_("Title"))
    classification = tables.Column(verbose_name=_("Class"))
    status = tables.Column(verbose_name=_("Status"))
    opened_at = tables.DateTimeColumn(
        verbose_name=_("Opened"), format="Y-m-d H:i", default="—", attrs={"td": {"class": "nowrap"}}
    )
    owner = tables.Column(verbose_name=_("Owner"), accessor="owner__username", default="—")

    class Meta:
        model = RecallCampaign
        fields = ("reference", "title", "classification", "status", "opened_at", "owner")
        attrs = {"class": "data"}
        order_by = ("-opened_at",)
        per_page = 50
        empty_text = _("No campaign matches.")

    # A column's value is its choice's label ("Class I"); the badge's class wants the key ("I").
    def render_classification(self, value, record):
        return format_html('<span class="badge class-{}">{}</span>', record.classification, value)

    def render_status(self, value, record):
        drill = format_html(' <span class="badge drill">{}</span>', _("drill"))
        return format_html(
            '<span class="badge campaign-{}">{}</span>{}',
            record.status,
            value,
            drill if record.is_drill else "",
        )

    def value_classification(self, value):
        return value

    def value_status(self, value, record):
        return f"{value} ({_('drill')})" if record.is_drill else value

    def value_opened_at(self, value):
        return _when(value) if value else ""


def _item_url(row: AffectedItem) -> str:
    name = "lot_detail" if row.kind == Item.Kind.LOT else "serial_detail"
    return reverse(name, args=[row.item_id])


def _line_name(row: AffectedItem) -> str:
    """A line as a screen reader names it: many lines share a lot, so where it was too."""
    return f"{row.label} ({row.consignee.name})" if row.consignee_id else row.label


class AffectedItemTable(tables.Table):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "lines", "aria-label": _("Select all on this page")},
            "td__input": {
                "name": "lines",
                "form": "resolve-form",
                "aria-label": lambda record: _("Select %(line)s") % {"line": _line_name(record)},
            },
            "td": {"class": "select"},
        },
        orderable=False,
    )
    item = tables.Column(
        verbose_name=_("Item"), accessor="position", attrs={"td": {"class": "item"}}
    )
    depth = tables.Column(verbose_name=_("Depth"), attrs={"td": {"class": "depth"}})
    whereabouts = tables.Column(
        verbose_name=_("Where at opening"), orderable=True, attrs={"td": {"class": "whereabouts"}}
    )
    quantity = tables.Column(
        verbose_name=_("Quantity"),
        attrs={"th": {"class": "number"}, "td": {"class": "number quantity"}},
    )
    resolved = tables.Column(
        verbose_name=_("Resolved"),
        accessor="resolved_quantity",
        default="",
        attrs={"th": {"class": "number"}, "td": {"class": "number resolved"}},
    )
    resolution = tables.Column(
        verbose_name=_("Last outcome"), default="", attrs={"td": {"class": "resolution"}}
    )
    resolved_at = tables.Column(
        verbose_name=_("When, who"), default="", attrs={"td": {"class": "resolved-at nowrap"}}
    )
    detail = tables.Column(
        verbose_name="", accessor="pk", orderable=False, attrs={"td": {"class": "detail"}}
    )

    class Meta:
        attrs = {"class": "data lines"}
        per_page = 50
        order_by = ("item",)
        empty_text = _("No line matches.")

    def __init__(self, *args, campaign=None, can_resolve=False, **kwargs):
        self.campaign = campaign
        if not can_resolve:
            kwargs["exclude"] = ("select",)
        super().__init__(*args, **kwargs)

    def render_item(self, value, record):
        hold = (
            format_html(' <span class="badge status-recalled">{}</span>', _("held"))
            if record.put_on_hold
            else ""
        )
        # The badge sits beside the link, not inside it.
        return format_html(
            '<a class="code" href="{}">{}</a>{}', _item_url(record), record.label, hold
        )

    def order_item(self, queryset, is_descending):
        order = ("-position", "-pk") if is_descending else ("position", "pk")
        return queryset.order_by(*order), True

    def render_whereabouts(self, value, record):
        if record.consignee_id:
            via = (
                format_html(' <span class="muted">via {}</span>', record.shipped_by.name)
                if record.shipped_by_id
                else ""
            )
            shipped = (
                format_html(
                    ' <span class="muted nowrap">{}</span>', record.shipped_at.strftime("%Y-%m-%d")
                )
                if record.shipped_at
                else ""
            )
            return format_html("→ {}{}{}", record.consignee.name, via, shipped)
        if record.site_id:
            return format_html("{} · {}", value, record.site.code)
        if record.installed_in_id:
            return format_html("{} {}", value, _("(see the assembly's line)"))
        return value

    def render_quantity(self, value, record):
        return f"{plain(value)} {unit_label(record.unit)}"

    def render_resolved(self, value, record):
        done = value >= record.quantity
        return format_html('<span class="{}">{}</span>', "ok" if done else "warn", plain(value))

    def render_resolution(self, value, record):
        return record.get_resolution_display()

    def render_resolved_at(self, value, record):
        who = record.resolved_by.get_username() if record.resolved_by_id else ""
        return format_html('{}<br><span class="muted small">{}</span>', _when(value), who)

    def render_detail(self, value, record):
        url = reverse("recalls:line", args=[self.campaign.reference, value])
        return format_html(
            '<a class="small" href="{}">{}<span class="visually-hidden"> {}</span></a>',
            url,
            _("details"),
            _line_name(record),
        )


class NoticeTable(tables.Table):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "notices", "aria-label": _("Select all on this page")},
            "td__input": {
                "name": "notices",
                "form": "send-form",
                "aria-label": lambda record: _("Select %(party)s") % {"party": record.party.name},
            },
            "td": {"class": "select"},
        },
        orderable=False,
    )
    party = tables.Column(
        verbose_name=_("Consignee"), accessor="party__name", attrs={"td": {"class": "party"}}
    )
    received = tables.Column(
        verbose_name=_("Received"), orderable=False, attrs={"td": {"class": "received"}}
    )
    sent_at = tables.Column(
        verbose_name=_("Notified"), default="—", attrs={"td": {"class": "sent"}}
    )
    acknowledged_at = tables.Column(
        verbose_name=_("Answered"), default="—", attrs={"td": {"class": "answered"}}
    )
    quantity_on_hand = tables.Column(
        verbose_name=_("On hand"),
        default="—",
        attrs={"th": {"class": "number"}, "td": {"class": "number on-hand"}},
    )
    recovered = tables.Column(
        verbose_name=_("Returned / destroyed / corrected"),
        accessor="pk",
        orderable=False,
        attrs={"th": {"class": "number"}, "td": {"class": "number recovered"}},
    )
    check_result = tables.Column(
        verbose_name=_("Check"), default="—", attrs={"td": {"class": "check"}}
    )
    respond = tables.Column(
        verbose_name="", accessor="pk", orderable=False, attrs={"td": {"class": "respond"}}
    )

    class Meta:
        attrs = {"class": "data notices"}
        per_page = 50
        order_by = ("party",)
        empty_text = _("No consignee received affected items.")

    def __init__(self, *args, campaign=None, can_send=False, can_respond=False, **kwargs):
        self.campaign = campaign
        self.can_respond = can_respond
        exclude = []
        if not can_send:
            exclude.append("select")
        if not can_respond:
            exclude.append("respond")
        super().__init__(*args, exclude=exclude, **kwargs)

    def render_party(self, value, record):
        email = record.party.email
        return format_html(
            '{}<br><span class="muted small">{}</span>', value, email or _("no e-mail address")
        )

    def render_received(self, value, record):
        shown = format_html_join(
            "",
            '<span class="code small">{}</span>',
            ((line.get("item", ""),) for line in value[:3]),
        )
        more = (
            format_html('<span class="muted small">{}</span>', _("and %d more") % (len(value) - 3))
            if len(value) > 3
            else ""
        )
        return format_html("{}{}", shown, more)

    def render_sent_at(self, value, record):
        return format_html(
            '{}<br><span class="muted small"> {}</span>', _when(value), record.get_method_display()
        )

    def render_acknowledged_at(self, value, record):
        return _when(value)

    def render_quantity_on_hand(self, value, record):
        return f"{plain(value)} {unit_label(record.unit)}"

    def render_recovered(self, value, record):
        parts = [
            plain(part) if part is not None else "-"
            for part in (
                record.quantity_returned,
                record.quantity_destroyed,
                record.quantity_corrected,
            )
        ]
        if all(part == "-" for part in parts):
            return "—"
        return f"{' / '.join(parts)} {unit_label(record.unit)}"

    def render_check_result(self, value, record):
        return format_html(
            '<span class="badge check-{}">{}</span>', value, record.get_check_result_display()
        )

    def render_respond(self, value, record):
        url = reverse("recalls:response", args=[self.campaign.reference, value])
        return format_html(
            '<a class="small" href="{}">{}<span class="visually-hidden"> {}</span></a>',
            url,
            _("record answer"),
            _("from %(party)s") % {"party": record.party.name},
        )
