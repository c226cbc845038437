"""django-tables2 tables for the recall pages."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from inventory.models import Item

from .models import AffectedItem, RecallCampaign
from .notices import unit_label


def _plain(value) -> str:
    return f"{value.normalize():f}"


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
    opened_at = tables.DateTimeColumn(verbose_name=_("Opened"), format="Y-m-d H:i", default="—")
    owner = tables.Column(verbose_name=_("Owner"), accessor="owner__username", default="—")

    class Meta:
        model = RecallCampaign
        fields = ("reference", "title", "classification", "status", "opened_at", "owner")
        attrs = {"class": "data"}
        order_by = ("-opened_at",)
        per_page = 50
        empty_text = _("No campaign matches.")

    def render_classification(self, value, record):
        return format_html('<span class="badge class-{}">{}</span>', value, f"Class {value}")

    def render_status(self, value, record):
        drill = format_html(' <span class="badge drill">{}</span>', _("drill"))
        return format_html(
            '<span class="badge campaign-{}">{}</span>{}',
            value,
            record.get_status_display(),
            drill if record.is_drill else "",
        )


def _item_url(row: AffectedItem) -> str:
    name = "lot_detail" if row.kind == Item.Kind.LOT else "serial_detail"
    return reverse(name, args=[row.item_id])


class AffectedItemTable(tables.Table):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "lines", "aria-label": _("Select all on this page")},
            "td__input": {"name": "lines", "form": "resolve-form"},
        },
        orderable=False,
    )
    item = tables.Column(
        verbose_name=_("Item"),
        accessor="position",
        linkify=lambda record: _item_url(record),
        attrs={"td": {"class": "code"}},
    )
    depth = tables.Column(verbose_name=_("Depth"))
    whereabouts = tables.Column(verbose_name=_("Where at opening"), orderable=True)
    quantity = tables.Column(verbose_name=_("Quantity"), attrs={"td": {"class": "number"}})
    resolved = tables.Column(
        verbose_name=_("Resolved"),
        accessor="resolved_quantity",
        default="",
        attrs={"td": {"class": "number"}},
    )
    resolution = tables.Column(verbose_name=_("Last outcome"), default="")
    resolved_at = tables.Column(verbose_name=_("When, who"), default="")
    detail = tables.Column(verbose_name="", accessor="pk", orderable=False)

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
        return format_html("{}{}", record.label, hold)

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
                    ' <span class="muted">{}</span>', record.shipped_at.strftime("%Y-%m-%d")
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
        return f"{_plain(value)} {unit_label(record.unit)}"

    def render_resolved(self, value, record):
        done = value >= record.quantity
        return format_html(
            '<span class="{}">{}</span>', "ok" if done else "warn", f"{_plain(value)}"
        )

    def render_resolution(self, value, record):
        return record.get_resolution_display()

    def render_resolved_at(self, value, record):
        who = record.resolved_by.get_username() if record.resolved_by_id else ""
        return f"{_when(value)} {who}".strip()

    def render_detail(self, value, record):
        url = reverse("recalls:line", args=[self.campaign.reference, value])
        return format_html('<a class="small" href="{}">{}</a>', url, _("details"))


class NoticeTable(tables.Table):
    select = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "th__input": {"data-select-all": "notices", "aria-label": _("Select all on this page")},
            "td__input": {"name": "notices", "form": "send-form"},
        },
        orderable=False,
    )
    party = tables.Column(verbose_name=_("Consignee"), accessor="party__name")
    received = tables.Column(verbose_name=_("Received"), orderable=False)
    sent_at = tables.Column(verbose_name=_("Notified"), default="—")
    acknowledged_at = tables.Column(verbose_name=_("Answered"), default="—")
    quantity_on_hand = tables.Column(verbose_name=_("On hand"), default="—")
    recovered = tables.Column(
        verbose_name=_("Returned / destroyed / corrected"), accessor="pk", orderable=False
    )
    check_result = tables.Column(verbose_name=_("Check"), default="—")
    respond = tables.Column(verbose_name="", accessor="pk", orderable=False)

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
        shown = ", ".join(line.get("item", "") for line in value[:3])
        more = f" +{len(value) - 3}" if len(value) > 3 else ""
        return format_html('<span class="code small">{}</span>{}', shown, more)

    def render_sent_at(self, value, record):
        return format_html(
            '{}<br><span class="muted small">{}</span>', _when(value), record.get_method_display()
        )

    def render_acknowledged_at(self, value, record):
        return _when(value)

    def render_quantity_on_hand(self, value, record):
        return f"{_plain(value)} {unit_label(record.unit)}"

    def render_recovered(self, value, record):
        parts = [
            _plain(part) if part is not None else "-"
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
        return format_html('<a class="small" href="{}">{}</a>', url, _("record answer"))
