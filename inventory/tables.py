"""django-tables2 tables for inventory pages and their CSV/XLSX exports."""

from datetime import date
from decimal import Decimal

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_tables2.data import TableListData
from django_tables2.utils import Accessor, OrderBy

from .conditions import limit_copy_band, limits_words
from .fsma import COLUMNS, MISSING
from .models import Lot
from .selectors import quantity_text, unit_label


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


# --- list pages -------------------------------------------------------------------------------
# On the page a cell may carry a link, a badge or a muted second line; in a CSV or XLSX file
# each column is one plain value, and what the page shows on a second line has a column of its
# own (visible=False columns are exported, not shown).


def _badge(kind: str, key: str, label) -> str:
    return format_html('<span class="badge {}-{}">{}</span>', kind, key, label)


def _product_url(product) -> str:
    return reverse("product_detail", args=[product.pk])


LIST_PAGE_SIZE = 50


class ListTable(tables.Table):
    """What every list page's table shares: 50 rows a page, headings screen readers sort by."""

    class Meta:
        attrs = {"class": "data list"}
        template_name = "inventory/_list_table.html"
        per_page = LIST_PAGE_SIZE


class DayColumn(tables.Column):
    """A date as YYYY-MM-DD on the page and in files; a dash on the page when there is none.

    Rows without a date come last whichever way the column is sorted (SQLite and PostgreSQL
    would otherwise put them at opposite ends).
    """

    def __init__(self, *args, field: str, **kwargs):
        kwargs.setdefault("default", "—")
        kwargs.setdefault("attrs", {"td": {"class": "nowrap"}})
        self.field = field
        super().__init__(*args, **kwargs)

    def order(self, queryset, is_descending):
        date = (
            F(self.field).desc(nulls_last=True)
            if is_descending
            else F(self.field).asc(nulls_last=True)
        )
        return queryset.order_by(date, "-pk" if is_descending else "pk"), True

    def render(self, value):
        return value.isoformat()

    def value(self, value):
        return value.isoformat() if value else ""


def _tie_break(*fields):
    """Rows equal on a sorted column keep one order from page to page."""
    return (*fields, "pk")


class ProductTable(ListTable):
    sku = tables.Column(
        verbose_name=_("SKU"),
        linkify=lambda record: _product_url(record),
        order_by=_tie_break("sku"),
        attrs={"td": {"class": "code"}},
    )
    name = tables.Column(
        verbose_name=_("Name"), order_by=_tie_break("name"), attrs={"td": {"class": "product"}}
    )
    gtin = tables.Column(verbose_name=_("GTIN"), default="—", attrs={"td": {"class": "code"}})
    tracking = tables.Column(verbose_name=_("Tracked"), order_by=_tie_break("tracking"))
    unit = tables.Column(verbose_name=_("Unit"), orderable=False)
    shelf_life_days = tables.Column(
        verbose_name=_("Shelf life (days)"),
        default="—",
        order_by=_tie_break("shelf_life_days"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    warranty_months = tables.Column(
        verbose_name=_("Warranty (months)"),
        default="—",
        order_by=_tie_break("warranty_months"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    lot_count = tables.Column(
        verbose_name=_("Lots"),
        order_by=_tie_break("lot_count"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    unit_count = tables.Column(
        verbose_name=_("Serial units"),
        order_by=_tie_break("unit_count"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    on_food_traceability_list = tables.BooleanColumn(
        verbose_name=_("FDA Food Traceability List"), yesno=(_("yes"), _("no"))
    )
    active = tables.BooleanColumn(verbose_name=_("Active"), yesno=(_("yes"), _("no")))

    class Meta(ListTable.Meta):
        order_by = ("sku",)
        empty_text = _("No product matches these filters.")

    def render_on_food_traceability_list(self, value):
        return _badge("flag", "ftl", _("on the list")) if value else "—"

    def render_active(self, value, record):
        review = (
            format_html(' <span class="badge status-on_hold">{}</span>', _("needs review"))
            if record.needs_review
            else ""
        )
        return format_html("{}{}", _("active") if value else _("inactive"), review)

    def value_on_food_traceability_list(self, value):
        return _("yes") if value else _("no")

    def value_active(self, value):
        return _("yes") if value else _("no")


class TrackedItemListTable(ListTable):
    """Lots' and units' lists: the product as SKU over name, the status as a badge (plain text
    in files), and today's date for what expires or runs out."""

    def __init__(self, *args, today=None, **kwargs):
        self.today = today or timezone.localdate()
        super().__init__(*args, **kwargs)

    def render_product(self, value, record):
        return format_html(
            '<a class="code" href="{}">{}</a><br><span class="muted small">{}</span>',
            _product_url(record.product),
            value,
            record.product.name,
        )

    def render_status(self, value, record):
        return _badge("status", record.status, value)

    def value_product(self, value):
        return value

    def value_status(self, value):
        return value


class LotTable(TrackedItemListTable):
    code = tables.Column(
        verbose_name=_("Lot"),
        linkify=("lot_detail", {"pk": tables.A("pk")}),
        order_by=_tie_break("code"),
        attrs={"td": {"class": "code"}},
    )
    product = tables.Column(
        verbose_name=_("Product"),
        accessor="product__sku",
        order_by=_tie_break("product__sku", "code"),
        attrs={"td": {"class": "product"}},
    )
    product_name = tables.Column(
        verbose_name=_("Product name"), accessor="product__name", visible=False
    )
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    quantity = tables.Column(
        verbose_name=_("Quantity"),
        order_by=_tie_break("quantity"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    unit = tables.Column(verbose_name=_("Unit"), visible=False)
    produced_on = DayColumn(verbose_name=_("Produced"), field="produced_on")
    expires_on = DayColumn(verbose_name=_("Expires"), field="expires_on")
    supplier = tables.Column(
        verbose_name=_("Supplier"),
        accessor="supplier__name",
        default="—",
        order_by=_tie_break("supplier__name"),
    )
    supplier_lot_code = tables.Column(
        verbose_name=_("Supplier's lot code"),
        default="—",
        order_by=_tie_break("supplier_lot_code"),
        attrs={"td": {"class": "code"}},
    )
    site = tables.Column(
        verbose_name=_("Site"),
        accessor="site__name",
        default="—",
        order_by=_tie_break("site__name"),
    )

    class Meta(ListTable.Meta):
        order_by = ("-produced_on",)
        empty_text = _("No lot matches these filters.")

    def render_quantity(self, value, record):
        return f"{value.normalize():f} {record.get_unit_display()}"

    def value_quantity(self, value):
        return f"{value.normalize():f}"

    def render_expires_on(self, value, record):
        if record.is_expired(self.today):
            return format_html(
                '{} <span class="badge status-rejected">{}</span>',
                value.isoformat(),
                _("expired"),
            )
        return value.isoformat()

    def value_expires_on(self, value):
        return value.isoformat() if value else ""


class SerialUnitTable(TrackedItemListTable):
    serial = tables.Column(
        verbose_name=_("Serial"),
        linkify=("serial_detail", {"pk": tables.A("pk")}),
        order_by=_tie_break("serial"),
        attrs={"td": {"class": "code"}},
    )
    product = tables.Column(
        verbose_name=_("Product"),
        accessor="product__sku",
        order_by=_tie_break("product__sku", "serial"),
        attrs={"td": {"class": "product"}},
    )
    product_name = tables.Column(
        verbose_name=_("Product name"), accessor="product__name", visible=False
    )
    lot = tables.Column(
        verbose_name=_("Production lot"),
        accessor="lot__code",
        default="—",
        linkify=lambda record: reverse("lot_detail", args=[record.lot_id]),
        order_by=_tie_break("lot__code"),
        attrs={"td": {"class": "code"}},
    )
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    holder = tables.Column(
        verbose_name=_("Held at or by"),
        accessor="pk",
        orderable=False,
        default="—",
    )
    shipped_on = DayColumn(verbose_name=_("Shipped"), field="shipped_on")
    warranty_ends_on = DayColumn(verbose_name=_("Warranty until"), field="warranty_ends_on")
    warranty = tables.Column(
        verbose_name=_("Warranty"), accessor="warranty_ends_on", orderable=False, visible=False
    )

    class Meta(ListTable.Meta):
        # Serial order comes straight from its index; sorting by product joins every unit first.
        order_by = ("serial",)
        empty_text = _("No serial unit matches these filters.")

    def _holder(self, record) -> str:
        if record.holder_site_id:
            return str(record.holder_site)
        if record.holder_party_id:
            return str(record.holder_party)
        return ""

    def render_holder(self, value, record):
        return self._holder(record) or "—"

    def value_holder(self, value, record):
        return self._holder(record)

    def _warranty(self, record):
        if record.warranty_ends_on is None:
            return None
        return record.is_under_warranty(self.today)

    def render_warranty_ends_on(self, value, record):
        if self._warranty(record):
            label, status = _("under warranty"), "released"
        else:
            label, status = _("ended"), "quarantined"
        return format_html("{} {}", value.isoformat(), _badge("status", status, label))

    def value_warranty_ends_on(self, value):
        return value.isoformat() if value else ""

    def value_warranty(self, value, record):
        under = self._warranty(record)
        if under is None:
            return ""
        return _("under warranty") if under else _("ended")


class EventTable(ListTable):
    """Sorted by time only: events number in the millions, and any other order (a type, a
    site, a document number shared by thousands, a count of lines) means sorting them all
    for each page, seconds each time. The filters narrow by those instead."""

    occurred_at = tables.Column(
        verbose_name=_("When"),
        order_by=_tie_break("occurred_at"),
        attrs={"td": {"class": "nowrap"}},
    )
    event_type = tables.Column(verbose_name=_("Type"), orderable=False)
    site = tables.Column(
        verbose_name=_("Site"), accessor="site__name", default="—", orderable=False
    )
    source = tables.Column(
        verbose_name=_("From"), accessor="pk", orderable=False, attrs={"td": {"class": "party"}}
    )
    destination = tables.Column(
        verbose_name=_("To"), accessor="pk", orderable=False, attrs={"td": {"class": "party"}}
    )
    document = tables.Column(
        verbose_name=_("Document"),
        accessor="document_number",
        default="—",
        orderable=False,
    )
    document_type = tables.Column(verbose_name=_("Document type"), visible=False)
    item_count = tables.Column(
        verbose_name=_("Items"),
        orderable=False,
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    event_id = tables.Column(verbose_name=_("Event ID"), visible=False)

    class Meta(ListTable.Meta):
        order_by = ("-occurred_at",)
        empty_text = _("No event matches these filters.")

    @staticmethod
    def _end(party, site) -> str:
        if party and site and site.name != party.name:
            return f"{party.name} · {site.name}"
        return (party or site).name if (party or site) else ""

    @staticmethod
    def _end_html(party, site):
        """The party, and under it the site when it says more; a dash for neither."""
        if party and site and site.name != party.name:
            return format_html('{}<br><span class="muted small">{}</span>', party.name, site.name)
        return (party or site).name if (party or site) else "—"

    def render_occurred_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")

    def value_occurred_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %z")

    def render_event_type(self, value, record):
        return _badge("event", record.event_type, value)

    def value_event_type(self, value):
        return value

    def render_source(self, value, record):
        return self._end_html(record.source_party, record.source_site)

    def value_source(self, value, record):
        return self._end(record.source_party, record.source_site)

    def render_destination(self, value, record):
        return self._end_html(record.destination_party, record.destination_site)

    def value_destination(self, value, record):
        return self._end(record.destination_party, record.destination_site)

    def render_document(self, value, record):
        return format_html(
            '<span class="code">{}</span><br><span class="muted small">{}</span>',
            value,
            record.get_document_type_display(),
        )

    def value_document(self, value):
        return value


class PartyTable(ListTable):
    name = tables.Column(verbose_name=_("Name"), order_by=_tie_break("name"))
    roles = tables.Column(verbose_name=_("Role"), accessor="pk", orderable=False)
    gln = tables.Column(verbose_name=_("GLN"), default="—", attrs={"td": {"class": "code"}})
    city = tables.Column(verbose_name=_("City"), default="—", order_by=_tie_break("city"))
    country = tables.Column(verbose_name=_("Country"), default="—", order_by=_tie_break("country"))
    contact_name = tables.Column(
        verbose_name=_("Contact"), accessor="pk", orderable=False, attrs={"td": {"class": "party"}}
    )
    email = tables.Column(verbose_name=_("E-mail"), visible=False)
    phone = tables.Column(verbose_name=_("Phone"), visible=False)
    site_count = tables.Column(
        verbose_name=_("Sites"),
        order_by=_tie_break("site_count"),
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    active = tables.BooleanColumn(verbose_name=_("Active"), yesno=(_("yes"), _("no")))

    class Meta(ListTable.Meta):
        order_by = ("name",)
        empty_text = _("No party matches these filters.")

    def __init__(self, *args, admin_links=False, **kwargs):
        # The admin is for staff accounts; a link others would follow only to be refused is noise.
        self.admin_links = admin_links
        super().__init__(*args, **kwargs)

    @staticmethod
    def _roles(record) -> list[str]:
        return [str(label) for field, label in PARTY_ROLE_LABELS if getattr(record, field)]

    def render_name(self, value, record):
        review = (
            format_html(' <span class="badge status-on_hold">{}</span>', _("needs review"))
            if record.needs_review
            else ""
        )
        if self.admin_links:
            return format_html('<a href="{}">{}</a>{}', record.get_absolute_url(), value, review)
        return format_html("{}{}", value, review)

    def value_name(self, value):
        return value

    def render_roles(self, value, record):
        roles = self._roles(record)
        if not roles:
            return "—"
        return format_html_join(" ", '<span class="badge">{}</span>', ((role,) for role in roles))

    def value_roles(self, value, record):
        return ", ".join(self._roles(record))

    def render_contact_name(self, value, record):
        """Who to write to, and how: the name, then the e-mail address and phone under it."""
        lines = [format_html("{}", record.contact_name)] if record.contact_name else []
        if record.email:
            lines.append(format_html('<a href="mailto:{0}">{0}</a>', record.email))
        if record.phone:
            lines.append(format_html('<span class="muted small">{}</span>', record.phone))
        return mark_safe("<br>".join(lines)) if lines else "—"  # parts escaped above

    def value_contact_name(self, value, record):
        return record.contact_name

    def value_active(self, value):
        return _("yes") if value else _("no")


PARTY_ROLE_LABELS = (
    ("is_internal", _("our company")),
    ("is_supplier", _("supplier")),
    ("is_customer", _("customer")),
    ("is_carrier", _("carrier")),
)


# --- Stock: the product page's lots and units, the expiry report -------------------------------


class SortedListData(TableListData):
    """Rows in a list, sorted on a column click by one key per row and column: django-tables2's
    own list sort compares rows through their accessors, which takes seconds on 20,000 rows."""

    def order_by(self, aliases):
        accessors = []
        for alias in aliases:
            column = self.table.columns[OrderBy(alias).bare]
            if alias[0] != column.order_by_alias[0]:
                accessors += column.order_by.opposite
            else:
                accessors += column.order_by
        for order in reversed(accessors):  # a stable sort per key, least significant first
            accessor, descending = Accessor(order.bare), order.is_descending

            def key(row, accessor=accessor, descending=descending):
                value = accessor.resolve(row, quiet=True)
                return ((value is None) != descending, value)  # rows without a value last

            self.data.sort(key=key, reverse=order.is_descending)


def _status_badge(record_status: str, label) -> str:
    return format_html('<span class="badge status-{}">{}</span>', record_status, label)


# Labels looked up once: on a product of 20,000 lots, asking each lot for its own would
# translate 20,000 times for the 25 rows a page shows.
LOT_STATUS_LABELS = dict(Lot.Status.choices)


class ProductLotTable(tables.Table):
    """A product's lots with what each has on hand at our sites; rows are dicts (stock_rows),
    sorted as figures and dates; only the rows of the page shown are written out as text."""

    code = tables.Column(
        verbose_name=_("Lot"),
        linkify=lambda record: reverse("lot_detail", args=[record["pk"]]),
        attrs={"td": {"class": "code"}},
    )
    status = tables.Column(verbose_name=_("Status"))
    produced_on = tables.DateColumn(verbose_name=_("Produced or received"), format="Y-m-d")
    expires_on = tables.DateColumn(
        verbose_name=_("Expiry"), format="Y-m-d", order_by=("expiry_key", "code")
    )
    quantity = tables.Column(
        verbose_name=_("Made or received"),
        attrs={"td": {"class": "number"}, "th": {"class": "number"}},
    )
    on_hand = tables.Column(
        verbose_name=_("On hand at our sites"),
        order_by=("on_hand", "expiry_key"),
        attrs={"td": {"class": "on-hand"}},
        empty_values=(),
    )

    class Meta:
        attrs = {"class": "data stock-lots"}
        template_name = "inventory/_list_table.html"  # headings for screen readers
        order_by = ("expires_on",)
        per_page = 25
        empty_text = _("No lots of this product are recorded.")

    def render_status(self, value):
        return _status_badge(value, LOT_STATUS_LABELS.get(value, value))

    def render_expires_on(self, value, record):
        if value is None:
            return "—"
        if record["expired"]:
            return format_html(
                '{} <span class="badge status-rejected">{}</span>',
                value.isoformat(),
                _("expired"),
            )
        return value.isoformat()

    def render_quantity(self, value, record):
        return quantity_text(value, record["unit"])

    def render_on_hand(self, value, record):
        if not record["entries"]:
            return format_html('<span class="muted">{}</span>', _("none"))
        at = _("at %(site)s")
        return format_html_join(
            mark_safe("<br>"),
            '{} <span class="muted">{}</span>',
            ((entry.text, at % {"site": entry.site.name}) for entry in record["entries"]),
        )


def stock_rows(lots, stock: dict, today) -> list[dict]:
    """The rows of ProductLotTable: each lot with its stock on hand at each site, and a figure
    to sort by (the lot's own unit)."""
    rows = []
    for lot in lots:
        entries = [entry for entry in stock.get(lot.pk, ()) if entry.quantity]
        rows.append(
            {
                "pk": lot.pk,
                "code": lot.code,
                "status": lot.status,
                "produced_on": lot.produced_on,
                "expires_on": lot.expires_on,
                "expiry_key": lot.expires_on or date.max,
                "expired": lot.expires_on is not None and lot.expires_on < today,
                "quantity": lot.quantity,
                "unit": lot.unit,
                "on_hand": sum(
                    (e.quantity for e in entries if e.unit == lot.unit and e.quantity > 0),
                    Decimal(0),
                ),
                "entries": entries,
            }
        )
    return rows


class ProductUnitTable(tables.Table):
    """A serial-tracked product's units: where each one is and its status."""

    serial = tables.Column(verbose_name=_("Serial"), linkify=True, attrs={"td": {"class": "code"}})
    status = tables.Column(verbose_name=_("Status"))
    lot = tables.Column(
        verbose_name=_("Production lot"),
        accessor="lot__code",
        default="—",
        linkify=lambda record: reverse("lot_detail", args=[record.lot_id]),
        attrs={"td": {"class": "code"}},
    )
    produced_on = tables.DateColumn(verbose_name=_("Produced"), format="Y-m-d")
    holder = tables.Column(
        verbose_name=_("Where it is"),
        accessor="holder_site__name",
        order_by=("holder_site__name", "holder_party__name", "serial"),
        empty_values=(),
    )
    warranty_ends_on = tables.DateColumn(verbose_name=_("Warranty end"), format="Y-m-d")

    class Meta:
        attrs = {"class": "data stock-units"}
        template_name = "inventory/_list_table.html"  # headings for screen readers
        order_by = ("serial",)
        per_page = 25
        empty_text = _("No serial units of this product are recorded.")

    def render_status(self, value, record):
        return _status_badge(record.status, value)

    def render_holder(self, value, record):
        if record.holder_site_id:
            return value
        if record.holder_party_id:
            return _("with %(party)s") % {"party": record.holder_party.name}
        return "—"

    def value_holder(self, value, record):
        return self.render_holder(value, record)


class ExpiryTable(tables.Table):
    """Stock on hand that has expired or expires soon: a row per lot, site and unit."""

    expires_on = tables.DateColumn(
        verbose_name=_("Expiry"),
        format="Y-m-d",
        accessor="lot__expires_on",
        attrs={"td": {"class": "nowrap"}},
    )
    days = tables.Column(
        verbose_name=_("Days left"),
        attrs={"td": {"class": "number"}, "th": {"class": "number"}},
        order_by=("days", "lot__product__sku"),
    )
    sku = tables.Column(
        verbose_name=_("SKU"),
        accessor="product__sku",
        linkify=lambda record: reverse("product_detail", args=[record["product"].pk]),
        attrs={"td": {"class": "code"}},
    )
    product = tables.Column(verbose_name=_("Product"), accessor="product__name")
    lot = tables.Column(
        verbose_name=_("Lot"),
        accessor="lot__code",
        linkify=lambda record: reverse("lot_detail", args=[record["lot"].pk]),
        attrs={"td": {"class": "code"}},
    )
    status = tables.Column(verbose_name=_("Status"), accessor="lot__status")
    site = tables.Column(verbose_name=_("Site"), accessor="site__name")
    on_hand = tables.Column(
        verbose_name=_("On hand"),
        accessor="on_hand__quantity",
        attrs={"td": {"class": "number"}, "th": {"class": "number"}},
    )
    unit = tables.Column(verbose_name=_("Unit"), accessor="on_hand__unit")

    class Meta:
        attrs = {"class": "data expiry"}
        template_name = "inventory/_list_table.html"  # headings for screen readers
        order_by = ("expires_on", "sku")
        per_page = 100
        empty_text = _("No stock on hand expires in this window.")

    def render_days(self, value):
        if value < 0:
            return format_html(
                '<span class="badge status-rejected">{}</span>',
                _("expired %(days)s d ago") % {"days": -value},
            )
        return value

    def render_status(self, value):
        return _status_badge(value, LOT_STATUS_LABELS.get(value, value))

    def value_status(self, value):
        return LOT_STATUS_LABELS.get(value, value)

    def render_unit(self, value):
        return unit_label(value)

    def value_unit(self, value):
        return unit_label(value)

    def value_days(self, value):
        return value

    def render_on_hand(self, value):
        return f"{value.normalize():f}"

    def value_on_hand(self, value):
        return f"{value.normalize():f}"


def expiry_rows(rows: list[dict], today) -> list[dict]:
    """expiring_stock's rows, with what ExpiryTable shows and sorts by."""
    return [
        {
            **row,
            "days": (row["lot"].expires_on - today).days,
        }
        for row in rows
    ]


# --- Warranty claims --------------------------------------------------------------------------


class ClaimTable(ListTable):
    number = tables.Column(
        verbose_name=_("Claim"),
        linkify=True,
        order_by=_tie_break("number"),
        attrs={"td": {"class": "code nowrap"}},
    )
    unit = tables.Column(
        verbose_name=_("Unit"),
        accessor="serial_unit__serial",
        linkify=lambda record: reverse("serial_detail", args=[record.serial_unit_id]),
        order_by=_tie_break("serial_unit__serial"),
        attrs={"td": {"class": "code"}},
    )
    product = tables.Column(
        verbose_name=_("Product"),
        accessor="serial_unit__product__sku",
        order_by=_tie_break("serial_unit__product__sku"),
    )
    claimant = tables.Column(
        verbose_name=_("Claimed by"), accessor="claimant__name", default="—", orderable=False
    )
    reported_on = DayColumn(verbose_name=_("Reported"), field="reported_on")
    warranty_ends_on = DayColumn(verbose_name=_("Warranty until"), field="warranty_ends_on")
    covered = tables.Column(verbose_name=_("Coverage"), orderable=False, default="—")
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    opened_at = DayColumn(verbose_name=_("Opened"), field="opened_at")
    decided_by = tables.Column(
        verbose_name=_("Decided by"), accessor="decided_by__username", default="—", orderable=False
    )
    replacement = tables.Column(
        verbose_name=_("Replacement"),
        accessor="replacement__serial",
        default="—",
        orderable=False,
        linkify=lambda record: reverse("serial_detail", args=[record.replacement_id]),
        attrs={"td": {"class": "code"}},
    )

    class Meta(ListTable.Meta):
        order_by = ("-opened_at",)
        empty_text = _("No warranty claim matches these filters.")

    def render_product(self, value, record):
        return format_html(
            '<a class="code" href="{}">{}</a>', _product_url(record.serial_unit.product), value
        )

    def value_product(self, value):
        return value

    def render_opened_at(self, value):
        return timezone.localdate(value).isoformat()

    def value_opened_at(self, value):
        return timezone.localdate(value).isoformat()

    def render_covered(self, value, record):
        if record.overridden:
            return _badge("claim", "open", _("approved outside warranty"))
        return _("within warranty") if value else _("outside warranty")

    def value_covered(self, value, record):
        if record.overridden:
            return "overridden"
        return "" if value is None else ("covered" if value else "not covered")

    def render_status(self, value, record):
        return _badge("claim", record.status, value)

    def value_status(self, value, record):
        return record.status


# --- Returns (RMA) ----------------------------------------------------------------------------


class ReturnTable(ListTable):
    number = tables.Column(
        verbose_name=_("RMA"),
        linkify=lambda record: record.get_absolute_url(),
        order_by=_tie_break("number"),
        attrs={"td": {"class": "code nowrap"}},
    )
    received_at = tables.Column(
        verbose_name=_("Received"),
        order_by=_tie_break("received_at"),
        attrs={"td": {"class": "nowrap"}},
    )
    unit = tables.Column(
        verbose_name=_("Unit"),
        accessor="serial_unit__serial",
        order_by=_tie_break("serial_unit__serial"),
        attrs={"td": {"class": "product"}},
    )
    sku = tables.Column(verbose_name=_("SKU"), accessor="serial_unit__product__sku", visible=False)
    customer = tables.Column(
        verbose_name=_("Returned by"),
        accessor="customer__name",
        default="—",
        order_by=_tie_break("customer__name"),
    )
    site = tables.Column(
        verbose_name=_("Received at"), accessor="site__name", order_by=_tie_break("site__name")
    )
    reason = tables.Column(verbose_name=_("Reason"), order_by=_tie_break("reason"))
    condition = tables.Column(verbose_name=_("Condition"), order_by=_tie_break("condition"))
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))
    # Empty until closed: a return in repair shows its decision instead.
    outcome = tables.Column(verbose_name=_("Outcome"), orderable=False, empty_values=())

    class Meta(ListTable.Meta):
        order_by = ("-received_at",)
        empty_text = _("No return matches these filters.")

    def render_received_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")

    def value_received_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %z")

    def render_unit(self, value, record):
        unit = record.serial_unit
        return format_html(
            '<a class="code" href="{}">{} serial {}</a><br><span class="muted small">{}</span>',
            reverse("serial_detail", args=[unit.pk]),
            unit.product.sku,
            value,
            unit.product.name,
        )

    def value_unit(self, value):
        return value

    def render_status(self, value, record):
        return _badge("return", record.status, value)

    def value_status(self, value):
        return value

    def render_outcome(self, value, record):
        return record.get_outcome_display() or record.get_decision_display() or "—"

    def value_outcome(self, value, record):
        return record.get_outcome_display() or record.get_decision_display()


# --- Public verification ---


class CounterfeitFlagTable(ListTable):
    """Suspicions raised by public checks; unknown serials have no unit, only product + serial."""

    raised_at = tables.DateTimeColumn(
        verbose_name=_("Raised"), format="Y-m-d H:i", attrs={"td": {"class": "nowrap"}}
    )
    product = tables.Column(
        verbose_name=_("Product"), accessor="product__sku", order_by=_tie_break("product__sku")
    )
    serial = tables.Column(
        verbose_name=_("Serial"),
        order_by=_tie_break("serial"),
        linkify=lambda record: reverse("counterfeit_flag", args=[record.pk]),
        attrs={"td": {"class": "code"}},
    )
    reason = tables.Column(verbose_name=_("Reason"), order_by=_tie_break("reason"))
    checks = tables.Column(
        verbose_name=_("Checks"), attrs={"th": {"class": "number"}, "td": {"class": "number"}}
    )
    clients = tables.Column(
        verbose_name=_("Clients"), attrs={"th": {"class": "number"}, "td": {"class": "number"}}
    )
    last_checked_at = tables.DateTimeColumn(
        verbose_name=_("Last checked"), format="Y-m-d H:i", attrs={"td": {"class": "nowrap"}}
    )
    unit = tables.Column(
        verbose_name=_("Unit"), accessor="serial_unit", orderable=False, default=_("unknown")
    )
    status = tables.Column(verbose_name=_("Status"), order_by=_tie_break("status"))

    class Meta(ListTable.Meta):
        order_by = ("-raised_at",)

    def render_product(self, value, record):
        return format_html('{}<br><span class="muted small">{}</span>', value, record.product.name)

    def render_unit(self, value, record):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("serial_detail", args=[value.pk]),
            value.get_status_display(),
        )

    def value_unit(self, value, record):
        return value.get_status_display() if value else ""

    def render_status(self, value, record):
        return format_html(
            '<span class="badge flag-{}">{}</span>', record.status, record.get_status_display()
        )

    def value_status(self, value, record):
        return record.get_status_display()


# --- Quality control: process conditions ------------------------------------------------------


def conditions_verdict_badge(within) -> str:
    """A reading's verdict as a badge: within limits, excursion, or no limit."""
    key = {None: "none", True: "within", False: "excursion"}[within]
    return format_html(
        '<span class="badge reading-{}">{}</span>', key, conditions_verdict_text(within)
    )


def conditions_verdict_text(within) -> str:
    return {None: "no limit", True: "within limits", False: "excursion"}[within]


class MeasurementTable(ListTable):
    """Sorted by time: readings come in by the thousand from sensors; the filters narrow."""

    measured_at = tables.Column(
        verbose_name=_("Measured"),
        order_by=_tie_break("measured_at"),
        attrs={"td": {"class": "nowrap"}},
    )
    measurement_type = tables.Column(verbose_name=_("Measurement"), orderable=False)
    reading = tables.Column(
        verbose_name=_("Reading"), accessor="pk", orderable=False, attrs={"td": {"class": "nowrap"}}
    )
    value = tables.Column(verbose_name=_("Value"), visible=False)
    min_value = tables.Column(verbose_name=_("Minimum"), visible=False)
    max_value = tables.Column(verbose_name=_("Maximum"), visible=False)
    mean_value = tables.Column(verbose_name=_("Mean"), visible=False)
    unit = tables.Column(verbose_name=_("Unit"), visible=False)
    limits = tables.Column(verbose_name=_("Limits in force"), orderable=False)
    within_limits = tables.Column(verbose_name=_("Verdict"), orderable=False)
    event = tables.Column(verbose_name=_("Event"), accessor="event__event_type", orderable=False)
    site = tables.Column(
        verbose_name=_("Site"), accessor="event__site__name", default="—", orderable=False
    )
    item_count = tables.Column(
        verbose_name=_("Items"),
        orderable=False,
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    deviation_count = tables.Column(
        verbose_name=_("Deviations"),
        orderable=False,
        attrs={"th": {"class": "number"}, "td": {"class": "number"}},
    )
    device_id = tables.Column(verbose_name=_("Device"), default="—", orderable=False)
    source = tables.Column(verbose_name=_("Source"), orderable=False, visible=False)
    event_id = tables.Column(verbose_name=_("Event ID"), accessor="event__event_id", visible=False)

    class Meta(ListTable.Meta):
        order_by = ("-measured_at",)
        empty_text = _("No reading matches these filters.")

    def render_measured_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")

    def value_measured_at(self, value):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %z")

    def render_measurement_type(self, value, record):
        return record.get_measurement_type_display().capitalize()

    def value_measurement_type(self, value):
        return value

    def render_reading(self, value, record):
        return record.reading

    def value_reading(self, value, record):
        return record.reading

    def render_limits(self, value):
        if not value:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            '{} {} <span class="muted small">{}</span>{}',
            (
                (
                    limit["name"],
                    limit_copy_band(limit),
                    limit["sku"],
                    ""
                    if limit["within"]
                    else mark_safe(' <span class="badge reading-excursion">broken</span>'),
                )
                for limit in value
            ),
        )

    def value_limits(self, value):
        return limits_words(value)

    def render_within_limits(self, value):
        return conditions_verdict_badge(value)

    def value_within_limits(self, value):
        return conditions_verdict_text(value)

    def render_event(self, value, record):
        event = record.event
        return format_html(
            '{}<br><span class="muted small">{}</span>',
            event.get_event_type_display().capitalize(),
            timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M"),
        )

    def value_event(self, value):
        return value

    def render_source(self, value, record):
        return record.get_source_display()

    def value_unit(self, value, record):
        return record.unit

    def value_source(self, value):
        return value
