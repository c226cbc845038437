"""django-tables2 tables for inventory pages and their CSV/XLSX exports."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .fsma import COLUMNS, MISSING


class TracedItemTable(tables.Table):
    """Every item of a trace, roots first; exports carry the full path."""

    role = tables.Column(verbose_name=_("Role"))
    item = tables.Column(
        verbose_name=_("Item"),
        accessor="label",
        linkify=lambda record: record["url"],
        exclude_from_export=True,
    )
    depth = tables.Column(verbose_name=_("Depth"))
    kind = tables.Column(verbose_name=_("Kind"))
    sku = tables.Column(verbose_name=_("SKU"))
    gtin = tables.Column(verbose_name=_("GTIN"), default="")
    lot = tables.Column(verbose_name=_("Lot"), default="")
    serial = tables.Column(verbose_name=_("Serial"), default="")
    path = tables.Column(verbose_name=_("Reached through"), orderable=False)

    class Meta:
        attrs = {"class": "data"}
        order_by = ("depth",)
        per_page = 50
        empty_text = _("Nothing reached.")

    def render_lot(self, value, record):
        if record["kind"] == "lot":
            return value
        return value or "—"

    def render_role(self, value):
        return ROLE_LABELS[value]

    def value_role(self, value):
        return value

    def render_path(self, value):
        return " → ".join(value[:-1]) if len(value) > 1 else "—"

    def value_path(self, value):
        return " → ".join(value[:-1])


ROLE_LABELS = {"root": _("starting item"), "reached": _("reached")}


def traced_rows(result) -> list[dict]:
    rows = []
    for role, items in (("root", result.roots), ("reached", result.items)):
        for item in items:
            row = item.as_dict()
            name = "lot_detail" if item.kind == "lot" else "serial_detail"
            row.update(role=role, pk=item.pk, label=item.label, url=reverse(name, args=[item.pk]))
            rows.append(row)
    return rows


class KdeColumn(tables.Column):
    """A key data element: "(missing)" stands out; an empty cell (does not apply) stays empty."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())
        super().__init__(*args, **kwargs)

    def render(self, value):
        if value == MISSING:
            return format_html('<span class="kde-missing">{}</span>', value)
        return value


class LinesColumn(KdeColumn):
    """Parts joined by "; " one a line: a location's business, site, address, phone and GLN,
    or input lot codes."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "lines"}})
        super().__init__(*args, **kwargs)

    def render(self, value):
        if value in (MISSING, ""):
            return super().render(value)
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in value.split("; ")))


class Fsma204Table(tables.Table):
    """The FSMA 204 sortable spreadsheet on a page; its files are written by inventory.fsma."""

    event_type = KdeColumn(verbose_name=COLUMNS[0])
    traceability_lot_code = KdeColumn(
        verbose_name=COLUMNS[1],
        linkify=lambda record: reverse("lot_detail", args=[record.lot_pk]),
        attrs={"td": {"class": "code"}},
    )
    product_description = KdeColumn(verbose_name=COLUMNS[2])
    quantity = KdeColumn(
        verbose_name=COLUMNS[3], order_by=("quantity_key",), attrs={"td": {"class": "number"}}
    )
    unit_of_measure = KdeColumn(verbose_name=COLUMNS[4])
    location_description = LinesColumn(verbose_name=COLUMNS[5])
    immediate_previous_source = LinesColumn(verbose_name=COLUMNS[6])
    immediate_subsequent_recipient = LinesColumn(verbose_name=COLUMNS[7])
    event_date = tables.DateColumn(
        verbose_name=COLUMNS[8],
        format="Y-m-d",
        order_by=("event_date", "occurred_at"),
        attrs={"td": {"class": "date"}},
    )
    traceability_lot_code_source = LinesColumn(verbose_name=COLUMNS[9])
    reference_document_type = KdeColumn(verbose_name=COLUMNS[10])
    reference_document_number = KdeColumn(
        verbose_name=COLUMNS[11], attrs={"td": {"class": "reference"}}
    )
    input_traceability_lot_codes = LinesColumn(verbose_name=COLUMNS[12])

    class Meta:
        attrs = {"class": "data fsma204"}
        per_page = 100
        empty_text = _("No critical tracking events are recorded for these lots.")
