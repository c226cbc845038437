"""Tables of the quality control lists and their CSV/XLSX exports."""

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .tables import DayColumn, ListTable, _tie_break


def _moment(value):
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def _item_label(item) -> str:
    tracked = item.tracked
    if item.kind == item.Kind.LOT:
        return f"{tracked.product.sku} lot {tracked.code}"
    return f"{tracked.product.sku} serial {tracked.serial}"


class SpecificationTable(ListTable):
    product = tables.Column(
        verbose_name=_("Product"), accessor="product__sku", order_by=_tie_break("product__sku")
    )
    version = tables.Column(
        verbose_name=_("Version"),
        linkify=lambda record: record.get_absolute_url(),
        order_by=_tie_break("version"),
        attrs={"td": {"class": "code"}},
    )
    effective_from = DayColumn(verbose_name=_("In force from"), field="effective_from")
    status = tables.Column(verbose_name=_("Status"), accessor="approved_at", orderable=False)
    approved_by = tables.Column(verbose_name=_("Approved by"), default="—", orderable=False)
    notes = tables.Column(verbose_name=_("Notes"), orderable=False, default="")

    class Meta(ListTable.Meta):
        order_by = ("product",)
        empty_text = _("No specification matches these filters.")

    def render_version(self, value):
        return f"v{value}"

    def render_status(self, value):
        return _("approved %(when)s") % {"when": _moment(value)} if value else _("draft")

    def value_status(self, value):
        return "approved" if value else "draft"

    def render_approved_by(self, value):
        return value.get_full_name() or value.get_username()


class TestResultTable(ListTable):
    __test__ = False  # a table, not a pytest test class

    tested_at = tables.Column(verbose_name=_("Tested"), order_by=_tie_break("tested_at"))
    lot = tables.Column(
        verbose_name=_("Lot"),
        accessor="lot__code",
        linkify=lambda record: record.lot.get_absolute_url(),
        order_by=_tie_break("lot__code"),
        attrs={"td": {"class": "code nowrap"}},
    )
    sku = tables.Column(verbose_name=_("SKU"), accessor="lot__product__sku", visible=False)
    serial = tables.Column(
        verbose_name=_("Unit"), accessor="serial_unit__serial", default="", orderable=False
    )
    test = tables.Column(
        verbose_name=_("Test"),
        accessor="specification_test__name",
        order_by=_tie_break("specification_test__name"),
    )
    result = tables.Column(verbose_name=_("Result"), accessor="value_text", orderable=False)
    criterion = tables.Column(
        verbose_name=_("Specification"), accessor="specification_test__criterion", orderable=False
    )
    passed = tables.Column(verbose_name=_("Outcome"), order_by=_tie_break("passed"))
    source = tables.Column(verbose_name=_("Source"), order_by=_tie_break("source"))
    certificate = tables.Column(
        verbose_name=_("Certificate"), accessor="certificate__number", default="", orderable=False
    )
    lab = tables.Column(verbose_name=_("Laboratory"), default="", orderable=False)
    tested_by = tables.Column(verbose_name=_("Recorded by"), orderable=False)
    corrected = tables.Column(
        verbose_name=_("Corrected"), accessor="superseded_by", default="", orderable=False
    )

    class Meta(ListTable.Meta):
        order_by = ("-tested_at",)
        empty_text = _("No result matches these filters.")

    def render_tested_at(self, value):
        return _moment(value)

    def value_tested_at(self, value):
        return timezone.localtime(value).isoformat()

    def render_passed(self, value):
        state = "passed" if value else "failed"
        return format_html('<span class="badge qc-{}">{}</span>', state, _(state))

    def value_passed(self, value):
        return "passed" if value else "failed"

    def render_source(self, record):
        return record.get_source_display()

    def value_source(self, value):
        return value

    def render_tested_by(self, value):
        return value.get_full_name() or value.get_username()

    def render_corrected(self, value):
        return _("corrected %(when)s") % {"when": _moment(value.recorded_at)}

    def value_corrected(self, value):
        return timezone.localtime(value.recorded_at).isoformat() if value else ""


class ReleaseDecisionTable(ListTable):
    signed_at = tables.Column(verbose_name=_("Signed"), order_by=_tie_break("signed_at"))
    lot = tables.Column(
        verbose_name=_("Lot"),
        accessor="lot__code",
        linkify=lambda record: record.lot.get_absolute_url(),
        order_by=_tie_break("lot__code"),
        attrs={"td": {"class": "code nowrap"}},
    )
    sku = tables.Column(verbose_name=_("SKU"), accessor="lot__product__sku")
    decision = tables.Column(verbose_name=_("Decision"), order_by=_tie_break("decision"))
    signer_name = tables.Column(verbose_name=_("Signed by"), order_by=_tie_break("signer_name"))
    specification = tables.Column(
        verbose_name=_("Judged against"), accessor="specification__version", default="—"
    )
    meaning = tables.Column(verbose_name=_("Meaning"), visible=False)
    statement = tables.Column(verbose_name=_("Statement"), orderable=False)

    class Meta(ListTable.Meta):
        order_by = ("-signed_at",)
        empty_text = _("No release decision matches these filters.")

    def render_signed_at(self, value):
        return _moment(value)

    def value_signed_at(self, value):
        return timezone.localtime(value).isoformat()

    def render_decision(self, value, record):
        return format_html(
            '<span class="badge status-{}">{}</span>', value, record.get_decision_display()
        )

    def value_decision(self, value):
        return value

    def render_specification(self, value):
        return f"v{value}"

    def value_meaning(self, record):
        return record.get_meaning_display()


class DeviationTable(ListTable):
    reference = tables.Column(
        verbose_name=_("Reference"),
        linkify=lambda record: record.get_absolute_url(),
        order_by=_tie_break("reference"),
        attrs={"td": {"class": "code nowrap"}},
    )
    raised_at = tables.Column(verbose_name=_("Raised"), order_by=_tie_break("raised_at"))
    item = tables.Column(verbose_name=_("Lot or unit"), orderable=False)
    kind = tables.Column(verbose_name=_("Kind"), order_by=_tie_break("kind"))
    test = tables.Column(
        verbose_name=_("Test"), accessor="specification_test__name", default="", orderable=False
    )
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    description = tables.Column(verbose_name=_("Description"), orderable=False)
    decided_at = tables.Column(
        verbose_name=_("Decided"), default="—", order_by=_tie_break("decided_at")
    )
    justification = tables.Column(verbose_name=_("Justification"), visible=False)

    class Meta(ListTable.Meta):
        order_by = ("-raised_at",)
        empty_text = _("No deviation matches these filters.")

    def render_raised_at(self, value):
        return _moment(value)

    def value_raised_at(self, value):
        return timezone.localtime(value).isoformat()

    def render_decided_at(self, value):
        return _moment(value)

    def value_decided_at(self, value):
        return timezone.localtime(value).isoformat() if value else ""

    def render_item(self, value):
        return _item_label(value)

    def value_item(self, value):
        return _item_label(value)

    def render_status(self, value, record):
        return format_html(
            '<span class="badge dev-{}">{}</span>', value, record.get_status_display()
        )

    def value_status(self, value):
        return value
