"""Spreadsheet (CSV and XLSX) import and export of products, lots, serial units, parties and sites.

Columns hold what a person reads: SKUs, lot codes, site codes, party names, the labels of choices,
dates as YYYY-MM-DD and yes/no, so an exported file imports again with every row unchanged.

- A row finds its record by natural key, never a database id: products by SKU, lots by product
  SKU and lot code, serial units by product SKU and serial, parties by GLN (else by name), sites
  by code. A row that finds none creates one.
- Every write goes through `inventory.services`, so the rules, the audit trail (the importing
  user, and "Imported from FILE" as the reason) and the origin events of new lots and units are
  the same as in the admin.
- Statuses and "Installed in" are read-only columns: they change through their own audited
  actions. A row that says otherwise is refused with a row error rather than ignored, so nobody
  believes a lot was put on hold when it was not. Nothing is ever deleted.
- All or nothing: every row is checked, every bad row reported, and if any row is bad nothing
  is written.
- An empty cell clears the value, except yes/no and choice columns (the value stays, or the
  default for a new record) and a party's GLN (it is how the row finds its party). A column left
  out of the file leaves that value alone.
"""

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import Count
from django.utils.encoding import force_str
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats import base_formats
from import_export.results import Result, RowResult

from . import formulas, services
from .identifiers import normalize_gln, normalize_gtin
from .models import Lot, Party, Product, SerialUnit, Site
from .xlsx import xlsx_dataset_bytes

REQUIRED = _("A value is required.")
NOT_A_DATE = _("%(value)s is not a date; write dates as YYYY-MM-DD, e.g. 2026-03-01.")
NOT_A_NUMBER = _("%(value)s is not a number; write it like 1250.5 (a point, no separators).")
NOT_A_WHOLE_NUMBER = _("%(value)s is not a whole number.")
NOT_YES_OR_NO = _("Write yes or no, not %(value)s.")
NOT_A_CHOICE = _("%(value)s is not one of: %(choices)s.")
UNKNOWN_PRODUCT = _("No product has SKU %(value)s.")
UNKNOWN_SITE = _("No site has code %(value)s.")
UNKNOWN_PARTY = _("No party is named %(value)s.")
UNKNOWN_PARTY_GLN = _("No party has GLN %(value)s.")
AMBIGUOUS_PARTY = _("Several parties are named %(value)s; write the party's GLN instead.")
UNKNOWN_LOT = _("%(product)s has no lot %(value)s.")
SAME_RECORD = _("Row %(row)d has the same %(columns)s; a record may appear only once.")
READ_ONLY = _("This row says %(given)s but it is %(current)s. %(hint)s")
NOT_INSTALLED = _("not installed")
WARRANTY_FOLLOWS = _(
    "The ship date and the product's warranty give %(computed)s; to keep %(given)s, "
    "write yes under %(column)s."
)
NO_HEADINGS = _("The file is empty: its first row must name the columns.")
NO_ROWS = _("The file has headings but no rows to import.")
UNKNOWN_COLUMN = _("Unknown column %(column)s; the columns for %(items)s are: %(columns)s.")
REPEATED_COLUMN = _("Column %(column)s appears twice.")
UNNAMED_COLUMN = _("Column %(number)d has values but no heading.")
MISSING_COLUMN = _("The file needs a %(column)s column to find each row's record.")
UNEXPECTED = _("This row could not be imported: %(error)s")
UNEXPECTED_FILE = _("This file could not be imported: %(error)s")
DEFAULT_SOURCE = _("a spreadsheet")
IMPORTED_FROM = _("Imported from %(source)s")

# Errors the services raise without naming a field, and the field they are about.
SERVICE_ERROR_FIELDS = {"tracking": "product", "lot_product": "lot"}


def cell_text(value) -> str:
    """A cell as text: whole numbers without ".0", dates as YYYY-MM-DD, no outer spaces."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# --- Widgets: one cell <-> one value -------------------------------------------------------------
# Widgets raise ValueError for a bad cell: django-import-export then reports it under its column
# and goes on checking the row's other cells.


class TextWidget(widgets.Widget):
    def __init__(self, *, null=False):
        super().__init__()
        self.null = null

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text and self.null:
            return None
        return text

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class GtinWidget(TextWidget):
    """GTIN-8, -12, -13 or -14, stored as 14 digits; a spreadsheet may have dropped its zeros."""

    def __init__(self):
        super().__init__(null=True)

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return None
        if isinstance(value, int | float):
            text = text.zfill(14)
        try:
            return normalize_gtin(text)
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from exc


class GlnWidget(TextWidget):
    def __init__(self):
        super().__init__(null=True)

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return None
        if isinstance(value, int | float):
            text = text.zfill(13)
        try:
            return normalize_gln(text)
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from exc


class DateWidget(widgets.Widget):
    """YYYY-MM-DD only: 03/04/2026 means March or April depending on who typed it."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = cell_text(value)
        if not text:
            return None
        try:
            if len(text) != 10:
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(NOT_A_DATE % {"value": text}) from exc

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class DecimalWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            raise ValueError(NOT_A_NUMBER % {"value": value})
        if isinstance(value, int | float):
            # repr gives the shortest decimal that reads back as the same float: 0.1, not 0.1000…
            return Decimal(repr(value))
        text = cell_text(value)
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(NOT_A_NUMBER % {"value": text}) from exc
        if not number.is_finite():
            raise ValueError(NOT_A_NUMBER % {"value": text})
        return number

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if kwargs.get("force_native_type"):
            return value.normalize()
        return f"{value.normalize():f}"


class WholeNumberWidget(widgets.Widget):
    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number != number.to_integral_value():
            raise ValueError(NOT_A_WHOLE_NUMBER % {"value": text})
        return int(number)

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return value if kwargs.get("force_native_type") else str(value)


class YesNoWidget(widgets.Widget):
    YES = frozenset({"yes", "y", "true", "1", "x"})
    NO = frozenset({"no", "n", "false", "0"})

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = cell_text(value)
        if not text:
            return None
        if text.casefold() in self.YES:
            return True
        if text.casefold() in self.NO:
            return False
        raise ValueError(NOT_YES_OR_NO % {"value": text})

    def render(self, value, obj=None, **kwargs):
        return _("yes") if value else _("no")


class ChoiceWidget(widgets.Widget):
    """A choice by its label (what the admin shows) or its stored value, in any case."""

    def __init__(self, choices):
        super().__init__()
        self.choices = [(value, str(label)) for value, label in choices]

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return None
        for choice, label in self.choices:
            if text.casefold() in (choice.casefold(), label.casefold()):
                return choice
        labels = ", ".join(label for _choice, label in self.choices)
        raise ValueError(NOT_A_CHOICE % {"value": text, "choices": labels})

    def render(self, value, obj=None, **kwargs):
        return dict(self.choices).get(value, value or "")


class NaturalKeyWidget(widgets.ForeignKeyWidget):
    """A foreign key by the related record's natural key (an SKU, a site code)."""

    def __init__(self, model, field, unknown):
        super().__init__(model, field)
        self.unknown = unknown

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return None
        try:
            return self.get_instance_by_lookup_fields(text, row, **kwargs)
        except self.model.DoesNotExist as exc:
            raise ValueError(self.unknown % {"value": text}) from exc


class PartyWidget(widgets.ForeignKeyWidget):
    """A party by name, or by GLN where another party has the same name."""

    def __init__(self):
        super().__init__(Party, "name")
        self._shared_names = None

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return None
        if text.isdigit() and len(text) == 13:
            party = Party.objects.filter(gln=text).first()
            if party is not None:
                return party
        matches = list(Party.objects.filter(name=text)[:2])
        if len(matches) > 1:
            raise ValueError(AMBIGUOUS_PARTY % {"value": text})
        if not matches:
            unknown = UNKNOWN_PARTY_GLN if text.isdigit() and len(text) == 13 else UNKNOWN_PARTY
            raise ValueError(unknown % {"value": text})
        return matches[0]

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if self._shared_names is None:
            self._shared_names = set(
                Party.objects.values("name")
                .annotate(count=Count("pk"))
                .filter(count__gt=1)
                .values_list("name", flat=True)
            )
        if value.name in self._shared_names and value.gln:
            return value.gln
        return value.name


class ProductLotWidget(widgets.ForeignKeyWidget):
    """A lot by its code, among the lots of the product named in the same row."""

    def __init__(self, product_column):
        super().__init__(Lot, "code")
        self.product_column = product_column

    def clean(self, value, row=None, **kwargs):
        code = cell_text(value)
        if not code:
            return None
        sku = cell_text((row or {}).get(self.product_column))
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            return None  # the product's own column says what is wrong
        lot = Lot.objects.filter(product=product, code=code).first()
        if lot is None:
            raise ValueError(UNKNOWN_LOT % {"product": sku, "value": code})
        return lot


class AssemblyWidget(widgets.Widget):
    """The assembly a unit is installed in, as "SKU serial NUMBER"; read-only."""

    def render(self, value, obj=None, **kwargs):
        return str(value) if value is not None else ""


def _widget_for(model_field):
    if model_field.choices:
        return ChoiceWidget(model_field.choices)
    return {
        "BooleanField": YesNoWidget,
        "DateField": DateWidget,
        "DecimalField": DecimalWidget,
        "PositiveIntegerField": WholeNumberWidget,
    }.get(model_field.get_internal_type(), lambda: TextWidget(null=model_field.null))()


def column(model, name, widget=None, *, heading=None, readonly=False, keep_when_empty=None):
    """A resource field for a model field, headed by its verbose name."""
    model_field = model._meta.get_field(name)
    widget = widget or _widget_for(model_field)
    if keep_when_empty is None:
        keep_when_empty = isinstance(widget, YesNoWidget | ChoiceWidget)
    return fields.Field(
        attribute=name,
        column_name=str(heading or capfirst(model_field.verbose_name)),
        widget=widget,
        readonly=readonly,
        saves_null_values=not keep_when_empty,
    )


# --- Results and their errors --------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem in a file: its row as a spreadsheet numbers it (headings are row 1)."""

    row: int | None
    column: str
    message: str

    def __str__(self):
        where = _("Row %(row)d") % {"row": self.row} if self.row else _("File")
        if self.column:
            where = f"{where}, {self.column}"
        return f"{where}: {self.message}"


class SheetResult(Result):
    @property
    def sheet_errors(self) -> list[RowError]:
        """Every problem, in row order, in plain words."""
        errors = []
        for base_error in self.base_errors:
            error = base_error.error
            if not isinstance(error, ValidationError):
                errors.append(RowError(None, "", UNEXPECTED_FILE % {"error": error}))
                continue
            for each in error.error_list:
                # Problems with the headings are on row 1; "file" ones are the whole file's.
                row = None if each.code == "file" else 1
                errors += [RowError(row, "", message) for message in each.messages]
        for row in self.invalid_rows:
            for key, messages in row.error_dict.items():
                name = "" if key == NON_FIELD_ERRORS else key
                errors += [RowError(row.number + 1, name, message) for message in messages]
        for row in self.error_rows:
            errors += [
                RowError(row.number + 1, "", UNEXPECTED % {"error": error.error})
                for error in row.errors
            ]
        return sorted(errors, key=lambda error: error.row or 0)

    @property
    def failed(self) -> bool:
        return self.has_errors() or self.has_validation_errors()


class CellDiff(resources.Diff):
    """Whole values in the admin's preview: "200 → 180", not a character diff reading "20180"."""

    def as_html(self):
        cells = []
        for before, after in zip(self.left, self.right, strict=True):
            before, after = force_str(before), force_str(after)
            if self.new or before == after:
                cells.append(after)
            else:
                cells.append(format_html("<del>{}</del> → <ins>{}</ins>", before, after))
        return cells


# --- Resources ------------------------------------------------------------------------------------


class ServiceResource(resources.ModelResource):
    """A model's spreadsheet columns; rows are written through the services, all or none."""

    #: The resource fields that find a row's record (its natural key).
    key_fields: tuple[str, ...] = ()
    #: Columns shown but never imported, each with where such a change is made instead.
    read_only: dict[str, str] = {}
    #: How a read-only column reads when it is empty.
    read_only_empty: dict[str, str] = {}
    #: How a row finds its record, in a sentence.
    row_finds = ""

    class Meta:
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._same_as = {}

    @classmethod
    def get_result_class(cls):
        return SheetResult

    @classmethod
    def get_diff_class(cls):
        return CellDiff

    def get_import_id_fields(self):
        return list(self.key_fields)

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        """Import every row or none, whoever calls: one invalid row rolls back all of them."""
        if kwargs.get("user") is None:
            raise ValueError("An import needs user=… so that the audit trail names someone.")
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )

    def before_import(self, dataset, **kwargs):
        problems = self._normalise_headings(dataset)
        while len(dataset) and not any(cell_text(value) for value in dataset[-1]):
            del dataset[-1]  # spreadsheet programs save formatted but empty rows at the end
        if not problems and not len(dataset):
            problems.append(ValidationError(NO_ROWS, code="file"))
        if problems:
            del dataset[:]  # a file with wrong headings would only give each row the same errors
            raise ValidationError(problems)
        self._same_as = self._repeated_keys(dataset)

    def _normalise_headings(self, dataset) -> list[str]:
        """Accept headings in any case, or as field names; report unknown and repeated ones."""
        if not dataset.headers:
            return [ValidationError(NO_HEADINGS, code="file")]
        known = {}
        for name, field in self.fields.items():
            known[name.casefold()] = field.column_name
            known[field.column_name.casefold()] = field.column_name
        headings, problems = [], []
        for number, heading in enumerate(dataset.headers, start=1):
            text = cell_text(heading)
            if not text:
                if any(cell_text(row[number - 1]) for row in dataset):
                    problems.append(UNNAMED_COLUMN % {"number": number})
                headings.append("")
                continue
            name = known.get(" ".join(text.split()).casefold())
            if name is None:
                problems.append(
                    UNKNOWN_COLUMN
                    % {
                        "column": text,
                        "items": self._meta.model._meta.verbose_name_plural,
                        "columns": ", ".join(f.column_name for f in self.get_import_fields()),
                    }
                )
            elif name in headings:
                problems.append(REPEATED_COLUMN % {"column": name})
            headings.append(name or text)
        for name in self.get_import_id_fields():
            if self.fields[name].column_name not in headings:
                problems.append(MISSING_COLUMN % {"column": self.fields[name].column_name})
        dataset.headers = headings
        return problems

    def row_key(self, row) -> tuple[tuple, list[str]] | None:
        """The row's natural key and the fields it comes from; None for a row without one."""
        names = self.get_import_id_fields()
        key = tuple(cell_text(row.get(self.fields[name].column_name)) for name in names)
        return (key, names) if any(key) else None

    def _repeated_keys(self, dataset) -> dict[int, tuple[int, list[str]]]:
        first, same_as = {}, {}
        for number, row in enumerate(dataset.dict, start=1):
            found = self.row_key(row)
            if found is None:
                continue
            key, names = found
            if key in first:
                same_as[number] = (first[key], names)
            else:
                first[key] = number
        return same_as

    def before_import_row(self, row, **kwargs):
        repeated = self._same_as.get(kwargs.get("row_number"))
        if repeated is not None:
            first, names = repeated
            columns = " and ".join(self.fields[name].column_name for name in names)
            raise ValidationError({names[-1]: SAME_RECORD % {"row": first + 1, "columns": columns}})

    def get_instance(self, instance_loader, row):
        # A key cell that names nothing (an unknown SKU) means a new record; the cell's own
        # error is reported when the row is read.
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            return None

    def after_init_instance(self, instance, new, row, **kwargs):
        if not new:
            instance._sheet_before = _values(instance)

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for name, problem in self.check_row(instance, row).items():
            errors.setdefault(name, []).append(ValidationError(problem))
        if errors:
            raise ValidationError(errors)

    def check_row(self, instance, row) -> dict[str, str]:
        """Problems with the row as a whole, by field: read-only columns it tries to change."""
        problems = {}
        for name, hint in self.read_only.items():
            field = self.fields[name]
            given = " ".join(cell_text(row.get(field.column_name)).split())
            if not given:
                continue
            value = field.get_value(instance)
            current = field.export(instance)
            if given.casefold() not in (str(current).casefold(), str(value or "").casefold()):
                shown = current or self.read_only_empty.get(name, "—")
                problems[name] = READ_ONLY % {"given": given, "current": shown, "hint": hint}
        return problems

    def skip_row(self, instance, original, row, import_validation_errors=None):
        if instance._state.adding:
            # A new record is never "unchanged"; a blank line in the middle of a sheet is.
            return not any(cell_text(value) for value in row.values())
        return super().skip_row(instance, original, row, import_validation_errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        user = kwargs["user"]
        reason = str(IMPORTED_FROM % {"source": kwargs.get("file_name") or DEFAULT_SOURCE})
        try:
            if is_create:
                created = self.create(instance, acting_user=user)
                # simple_history keeps why a record was made; the services take no reason.
                created.history.filter(history_type="+").update(
                    history_change_reason=reason[: services.CHANGE_REASON_LENGTH]
                )
                _copy_saved(created, instance)
                return
            before = instance._sheet_before
            changed = {
                f.name: getattr(instance, f.name)
                for f in instance._meta.concrete_fields
                if getattr(instance, f.attname) != before[f.attname]
            }
            if not changed:
                # Only a value the model derives anyway (an expiry left empty) differed.
                instance._sheet_unchanged = True
                return
            services.record_update(instance=instance, acting_user=user, reason=reason, **changed)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise
            field = SERVICE_ERROR_FIELDS.get(exc.code, NON_FIELD_ERRORS)
            raise ValidationError({field: exc.error_list}) from exc

    def create(self, instance, *, acting_user):
        """Create the record through its service and return it."""
        return services.record_create(instance=instance, acting_user=acting_user)

    def after_import_row(self, row, row_result, **kwargs):
        if getattr(row_result.instance, "_sheet_unchanged", False):
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP

    def import_row(self, row, instance_loader, **kwargs):
        kwargs["retain_instance_in_row_result"] = True
        row_result = super().import_row(row, instance_loader, **kwargs)
        if row_result.validation_error is not None:
            row_result.validation_error = self._by_column(row_result.validation_error)
        return row_result

    def _by_column(self, error: ValidationError) -> ValidationError:
        """The row's errors keyed by column heading, in plain words."""
        headings = {field.attribute: field.column_name for field in self.get_import_fields()}
        if hasattr(error, "error_dict"):
            items = error.error_dict.items()
        else:
            items = [(NON_FIELD_ERRORS, error.error_list)]
        by_column = {}
        for name, errors in items:
            key = headings.get(name, NON_FIELD_ERRORS)
            for each in errors:
                if each.code in ("null", "blank", "required"):
                    messages = [str(REQUIRED)]
                else:
                    messages = each.messages
                for message in messages:
                    if message not in by_column.setdefault(key, []):
                        by_column[key].append(message)
        order = [*headings.values(), NON_FIELD_ERRORS]
        return ValidationError(dict(sorted(by_column.items(), key=lambda i: order.index(i[0]))))

    def after_import(self, dataset, result, **kwargs):
        # ModelResource resets the table's id sequence here, for files that carry ids. Ours
        # never do, and on PostgreSQL the reset could hand out an id that a concurrent,
        # not yet committed insert already holds.
        pass


def _values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _copy_saved(saved, instance):
    """Give the row's instance what the service saved (key, derived values) for the preview."""
    for name, value in _values(saved).items():
        setattr(instance, name, value)
    instance._state.adding = False
    instance._state.db = saved._state.db


class ProductResource(ServiceResource):
    sku = column(Product, "sku")
    name = column(Product, "name")
    description = column(Product, "description")
    gtin = column(Product, "gtin", GtinWidget())
    tracking = column(Product, "tracking")
    unit = column(Product, "unit")
    shelf_life_days = column(Product, "shelf_life_days")
    warranty_months = column(Product, "warranty_months")
    on_food_traceability_list = column(Product, "on_food_traceability_list")
    needs_review = column(Product, "needs_review")
    active = column(Product, "active")

    key_fields = ("sku",)
    row_finds = _("Rows find their product by SKU.")

    class Meta(ServiceResource.Meta):
        model = Product
        name = _("Products")
        fields = (
            "sku",
            "name",
            "description",
            "gtin",
            "tracking",
            "unit",
            "shelf_life_days",
            "warranty_months",
            "on_food_traceability_list",
            "needs_review",
            "active",
        )

    def get_queryset(self):
        return Product.objects.order_by("sku")


class PartyResource(ServiceResource):
    name = column(Party, "name")
    # An empty GLN never removes one: the GLN is how rows find their party.
    gln = column(Party, "gln", GlnWidget(), keep_when_empty=True)
    is_internal = column(Party, "is_internal")
    is_supplier = column(Party, "is_supplier")
    is_customer = column(Party, "is_customer")
    is_carrier = column(Party, "is_carrier")
    contact_name = column(Party, "contact_name")
    email = column(Party, "email")
    phone = column(Party, "phone")
    street = column(Party, "street")
    postal_code = column(Party, "postal_code")
    city = column(Party, "city")
    region = column(Party, "region")
    country = column(Party, "country")
    needs_review = column(Party, "needs_review")
    active = column(Party, "active")

    key_fields = ("name",)
    row_finds = _(
        "Rows find their party by GLN, or by name when the row has no GLN or no party has it."
    )

    class Meta(ServiceResource.Meta):
        model = Party
        name = _("Parties")
        fields = (
            "name",
            "gln",
            "is_internal",
            "is_supplier",
            "is_customer",
            "is_carrier",
            "contact_name",
            "email",
            "phone",
            "street",
            "postal_code",
            "city",
            "region",
            "country",
            "needs_review",
            "active",
        )

    def get_queryset(self):
        return Party.objects.order_by("name", "pk")

    def _gln(self, row):
        try:
            return self.fields["gln"].clean(row) if self.fields["gln"].column_name in row else None
        except ValueError:
            return None

    def row_key(self, row):
        gln = self._gln(row)
        if gln:
            return ("gln", gln), ["gln"]
        name = cell_text(row.get(self.fields["name"].column_name))
        return (("name", name), ["name"]) if name else None

    def get_instance(self, instance_loader, row):
        """By GLN; else by name, among parties without a GLN when the row gives one."""
        gln = self._gln(row)
        if gln:
            party = Party.objects.filter(gln=gln).first()
            if party is not None:
                return party
        name = cell_text(row.get(self.fields["name"].column_name))
        candidates = Party.objects.filter(name=name)
        if gln:
            candidates = candidates.filter(gln__isnull=True)
        matches = list(candidates[:2])
        if len(matches) > 1:
            raise ValidationError({"name": AMBIGUOUS_PARTY % {"value": name}})
        return matches[0] if matches else None


class SiteResource(ServiceResource):
    code = column(Site, "code")
    name = column(Site, "name")
    kind = column(Site, "kind")
    party = column(Site, "party", PartyWidget())
    gln = column(Site, "gln", GlnWidget())
    street = column(Site, "street")
    postal_code = column(Site, "postal_code")
    city = column(Site, "city")
    region = column(Site, "region")
    country = column(Site, "country")
    phone = column(Site, "phone")
    active = column(Site, "active")

    key_fields = ("code",)
    row_finds = _("Rows find their site by code.")

    class Meta(ServiceResource.Meta):
        model = Site
        name = _("Sites")
        fields = (
            "code",
            "name",
            "kind",
            "party",
            "gln",
            "street",
            "postal_code",
            "city",
            "region",
            "country",
            "phone",
            "active",
        )

    def get_queryset(self):
        return Site.objects.select_related("party").order_by("code")


PRODUCT_SKU = _("Product SKU")


class LotResource(ServiceResource):
    product = column(
        Lot, "product", NaturalKeyWidget(Product, "sku", UNKNOWN_PRODUCT), heading=PRODUCT_SKU
    )
    code = column(Lot, "code")
    quantity = column(Lot, "quantity")
    unit = column(Lot, "unit")
    produced_on = column(Lot, "produced_on")
    expires_on = column(Lot, "expires_on")
    supplier = column(Lot, "supplier", PartyWidget())
    supplier_lot_code = column(Lot, "supplier_lot_code")
    site = column(Lot, "site", NaturalKeyWidget(Site, "code", UNKNOWN_SITE))
    status = column(Lot, "status", readonly=True)

    key_fields = ("product", "code")
    row_finds = _("Rows find their lot by product SKU and lot code.")
    read_only = {"status": services.RECORDED_BY_EVENTS["status"]}

    class Meta(ServiceResource.Meta):
        model = Lot
        name = _("Lots")
        fields = (
            "product",
            "code",
            "quantity",
            "unit",
            "produced_on",
            "expires_on",
            "supplier",
            "supplier_lot_code",
            "site",
            "status",
        )

    def get_queryset(self):
        return Lot.objects.select_related("product", "supplier", "site").order_by(
            "product__sku", "code"
        )

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if (
            instance._state.adding
            and instance.product_id is not None
            and not cell_text(row.get(self.fields["unit"].column_name))
        ):
            instance.unit = instance.product.unit  # as lot_create does

    def create(self, instance, *, acting_user):
        return services.lot_create(
            product=instance.product,
            code=instance.code,
            quantity=instance.quantity,
            unit=instance.unit,
            produced_on=instance.produced_on,
            expires_on=instance.expires_on,
            supplier=instance.supplier,
            supplier_lot_code=instance.supplier_lot_code,
            site=instance.site,
            acting_user=acting_user,
        )


class SerialUnitResource(ServiceResource):
    product = column(
        SerialUnit,
        "product",
        NaturalKeyWidget(Product, "sku", UNKNOWN_PRODUCT),
        heading=PRODUCT_SKU,
    )
    serial = column(SerialUnit, "serial")
    lot = column(SerialUnit, "lot", ProductLotWidget(str(PRODUCT_SKU)))
    produced_on = column(SerialUnit, "produced_on")
    status = column(SerialUnit, "status", readonly=True)
    holder_site = column(SerialUnit, "holder_site", NaturalKeyWidget(Site, "code", UNKNOWN_SITE))
    holder_party = column(SerialUnit, "holder_party", PartyWidget())
    shipped_on = column(SerialUnit, "shipped_on")
    warranty_ends_on = column(SerialUnit, "warranty_ends_on")
    warranty_overridden = column(SerialUnit, "warranty_overridden")
    installed_in = column(SerialUnit, "installed_in", AssemblyWidget(), readonly=True)

    key_fields = ("product", "serial")
    row_finds = _("Rows find their unit by product SKU and serial number.")
    read_only = {
        "status": services.RECORDED_BY_EVENTS["status"],
        "installed_in": services.RECORDED_BY_EVENTS["installed_in"],
    }
    read_only_empty = {"installed_in": NOT_INSTALLED}

    class Meta(ServiceResource.Meta):
        model = SerialUnit
        name = _("Serial units")
        fields = (
            "product",
            "serial",
            "lot",
            "produced_on",
            "status",
            "holder_site",
            "holder_party",
            "shipped_on",
            "warranty_ends_on",
            "warranty_overridden",
            "installed_in",
        )

    def get_queryset(self):
        return SerialUnit.objects.select_related(
            "product", "lot", "holder_site", "holder_party", "installed_in__product"
        ).order_by("product__sku", "serial")

    def check_row(self, instance, row):
        problems = super().check_row(instance, row)
        field = self.fields["warranty_ends_on"]
        if (
            field.column_name in row
            and instance.product_id is not None
            and not instance.warranty_overridden
        ):
            given = instance.warranty_ends_on
            computed = instance.product.warranty_end_for(instance.shipped_on)
            stored = getattr(instance, "_sheet_before", {}).get("warranty_ends_on")
            # A warranty end the model computes would be silently replaced on saving.
            if given not in (computed, stored):
                problems["warranty_ends_on"] = WARRANTY_FOLLOWS % {
                    "computed": computed.isoformat() if computed else _("none"),
                    "given": given.isoformat() if given else _("none"),
                    "column": self.fields["warranty_overridden"].column_name,
                }
        return problems

    def create(self, instance, *, acting_user):
        unit = services.serial_unit_create(
            product=instance.product,
            serial=instance.serial,
            lot=instance.lot,
            produced_on=instance.produced_on,
            site=instance.holder_site,
            acting_user=acting_user,
        )
        extra = {
            name: getattr(instance, name)
            for name in ("holder_party", "shipped_on", "warranty_ends_on", "warranty_overridden")
            if getattr(instance, name)
        }
        if extra:
            unit = services.record_update(instance=unit, acting_user=acting_user, **extra)
        return unit


#: What the commands call each resource.
RESOURCES = {
    "products": ProductResource,
    "lots": LotResource,
    "serial-units": SerialUnitResource,
    "parties": PartyResource,
    "sites": SiteResource,
}


class TextCellsXLSX(base_formats.XLSX):
    """django-import-export's XLSX format, writing text cells as text."""

    def export_data(self, dataset, **kwargs):
        return xlsx_dataset_bytes(dataset, **kwargs)


class NeutralisedCSV(base_formats.CSV):
    """django-import-export's CSV, with formula cells neutralised on export and restored on
    import (inventory/formulas.py), so an exported file imports back exactly. XLSX text cells
    are always text, so a name starting with "=" is never run there either."""

    def export_data(self, dataset, **kwargs):
        return super().export_data(formulas.neutralised(dataset), **kwargs)

    def create_dataset(self, in_stream, **kwargs):
        return formulas.restored(super().create_dataset(in_stream, **kwargs))


FORMATS = {"csv": NeutralisedCSV, "xlsx": TextCellsXLSX}


class UnreadableFile(Exception):
    """The file cannot be read in the format given; the message says why in one line."""


def read_dataset(path: str | Path, file_format: str):
    """Read a CSV (UTF-8, with or without a byte-order mark) or XLSX file into a dataset."""
    path = Path(path)
    try:
        if file_format == "csv":
            content = path.read_text(encoding="utf-8-sig")
        else:
            content = path.read_bytes()
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path.name} is not UTF-8 text; save it as CSV UTF-8.") from exc
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror}.") from exc
    try:
        return FORMATS[file_format]().create_dataset(content)
    except Exception as exc:  # tablib and openpyxl raise many kinds for a malformed file
        raise UnreadableFile(
            f"{path.name} cannot be read as {file_format.upper()} ({exc.__class__.__name__})."
        ) from exc
