"""django-tables2 tables for inventory pages and their CSV/XLSX exports."""

import django_tables2 as tables
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


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
