"""The non-conformance and CAPA action lists, on the page and as CSV or XLSX."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from inventory.tables import DayColumn, ListTable, _badge, _tie_break


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


class NonConformanceTable(ListTable):
    reference = tables.Column(
        verbose_name=_("Reference"),
        linkify=True,
        order_by=_tie_break("reference"),
        attrs={"td": {"class": "code nowrap"}},
    )
    title = tables.Column(verbose_name=_("Title"), order_by=_tie_break("title"))
    severity = tables.Column(verbose_name=_("Severity"), order_by=_tie_break("severity"))
    source = tables.Column(verbose_name=_("Source"), order_by=_tie_break("source"))
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    detected_on = DayColumn(verbose_name=_("Detected"), field="detected_on")
    item_count = tables.Column(
        verbose_name=_("Items"),
        order_by=_tie_break("item_count"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    owner = tables.Column(verbose_name=_("Owner"), accessor="owner", orderable=False)
    open_action_count = tables.Column(
        verbose_name=_("Open actions"),
        order_by=_tie_break("open_action_count"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    overdue_action_count = tables.Column(
        verbose_name=_("Overdue"),
        order_by=_tie_break("overdue_action_count"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    next_due_on = DayColumn(verbose_name=_("Next due"), field="next_due_on")
    root_cause_category = tables.Column(
        verbose_name=_("Root cause"), default="—", order_by=_tie_break("root_cause_category")
    )
    party = tables.Column(
        verbose_name=_("Supplier or customer"), accessor="party__name", default="—", visible=False
    )
    recall = tables.Column(
        verbose_name=_("Recall"),
        accessor="recall_campaign__reference",
        default="—",
        orderable=False,
        linkify=lambda record: reverse("recalls:campaign", args=[record.recall_campaign.reference]),
        attrs={"td": {"class": "code nowrap"}},
    )
    closed_at = DayColumn(verbose_name=_("Closed"), field="closed_at", visible=False)

    class Meta(ListTable.Meta):
        order_by = ("-reference",)
        empty_text = _("No non-conformance matches these filters.")

    def render_severity(self, value, record):
        return _badge("severity", record.severity, value)

    def render_status(self, value, record):
        return _badge("nc", record.status, value)

    def value_severity(self, value):
        return value

    def value_status(self, value):
        return value

    def value_overdue_action_count(self, value):
        return value

    def render_owner(self, value):
        return _person(value)

    def value_owner(self, value):
        return _person(value)

    def render_overdue_action_count(self, value):
        if value:
            return format_html('<span class="badge overdue">{}</span>', value)
        return "0"

    def render_closed_at(self, value):
        return timezone.localdate(value).isoformat()

    def value_closed_at(self, value):
        return timezone.localdate(value).isoformat() if value else ""


class CapaActionTable(ListTable):
    reference = tables.Column(
        verbose_name=_("Action"),
        accessor="pk",
        linkify=lambda record: record.get_absolute_url(),
        order_by=("nonconformance__reference", "number"),
        attrs={"td": {"class": "code nowrap"}},
    )
    nonconformance = tables.Column(
        verbose_name=_("Non-conformance"),
        accessor="nonconformance__title",
        order_by=_tie_break("nonconformance__title"),
    )
    kind = tables.Column(verbose_name=_("Kind"), order_by=_tie_break("kind"))
    description = tables.Column(verbose_name=_("What"), orderable=False)
    owner = tables.Column(verbose_name=_("Owner"), accessor="owner", orderable=False)
    due_on = DayColumn(verbose_name=_("Due"), field="due_on")
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    completed_at = DayColumn(verbose_name=_("Done"), field="completed_at")
    completion_note = tables.Column(verbose_name=_("Completion note"), visible=False)
    verified_at = DayColumn(verbose_name=_("Verified"), field="verified_at")
    verified_by = tables.Column(
        verbose_name=_("Verified by"), accessor="verified_by", visible=False, default=""
    )
    verification_note = tables.Column(verbose_name=_("Effectiveness evidence"), visible=False)

    class Meta(ListTable.Meta):
        order_by = ("due_on",)
        empty_text = _("No CAPA action matches these filters.")

    def __init__(self, *args, today=None, **kwargs):
        self.today = today or timezone.localdate()
        super().__init__(*args, **kwargs)

    def render_reference(self, record):
        return record.reference

    def value_reference(self, record):
        return record.reference

    def render_description(self, value):
        return format_html('<span class="clip">{}</span>', value)

    def render_owner(self, value):
        return _person(value)

    def value_owner(self, value):
        return _person(value)

    def render_verified_by(self, value):
        return _person(value)

    def value_verified_by(self, value):
        return _person(value)

    def render_due_on(self, value, record):
        if record.is_overdue(self.today):
            return format_html(
                '{} <span class="badge overdue">{}</span>', value.isoformat(), _("overdue")
            )
        return value.isoformat()

    def render_status(self, value, record):
        return _badge("capa", record.status, value)

    def value_status(self, value):
        return value

    def value_description(self, value):
        return value

    def value_due_on(self, value):
        return value.isoformat()

    def _day(self, value):
        return timezone.localdate(value).isoformat()

    def render_completed_at(self, value):
        return self._day(value)

    def value_completed_at(self, value):
        return self._day(value) if value else ""

    def render_verified_at(self, value):
        return self._day(value)

    def value_verified_at(self, value):
        return self._day(value) if value else ""
