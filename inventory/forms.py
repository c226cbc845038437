"""Forms validate what people type or scan; the services and selectors do the rest."""

import json
from datetime import date

from django import forms
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .fsma import file_stem, lots_named_by, product_by_code
from .identifiers import IdentifierError
from .models import Lot, Product, SerialUnit
from .selectors import resolve_identifiers
from .services import REASON_REQUIRED
from .trace import Direction

TRACE_NEEDS_INPUT = _("Type or scan a lot, serial or GS1 code, or give a product and dates.")
TRACE_NEEDS_DATES = _("Give both the first and the last production date.")
TRACE_DATES_ORDER = _("The first production date must not be after the last.")
STATUS_NOT_OFFERED = _("%(value)s cannot be set here; reload the page and choose again.")
TRACE_ONE_WAY = _("Give either a code or a product with dates, not both.")
TRACE_DATES_NEED_PRODUCT = _("Give the product whose production dates these are.")
UNKNOWN_PRODUCT = _("No product has the SKU or GTIN %(value)s.")
# The page shows these as messages above the form, away from the fields, so each names its field.
STATUS_REQUIRED = _("Choose the new status.")
FSMA_NEEDS_INPUT = _("Type or scan a traceability lot code, or give a product and dates.")
FSMA_ONE_WAY = _("Give either a lot code or a product with dates, not both.")
FSMA_NEEDS_DATES = _("Give both the first and the last event date.")
FSMA_DATES_ORDER = _("The first event date must not be after the last.")
FSMA_DATES_NEED_PRODUCT = _("Give the product whose events these dates select.")
FSMA_BAD_DATE = _("Give a date as YYYY-MM-DD.")
FSMA_DATE_RANGE = _("Give a date from 1900-01-01 to 2200-12-31.")
FSMA_LOT_WITHOUT_DATES = _(
    "A lot code gives every event of the lot; leave the dates empty, or give a product with "
    "the dates."
)
# Event dates far from any record, and clear of the edges of Python's dates: the range is
# widened by a day and by time zone offsets before it is looked up.
FSMA_FIRST_DATE = date(1900, 1, 1)
FSMA_LAST_DATE = date(2200, 12, 31)

# The page reads the whole document into memory; bigger ones go through `manage.py import_epcis`.
EPCIS_MAX_UPLOAD_SIZE = 50 * 1024 * 1024
EPCIS_FILE_REQUIRED = _("Choose an EPCIS document (.json or .jsonld) to upload.")
EPCIS_FILE_EXTENSION = _("%(value)s is not a .json or .jsonld file.")
EPCIS_FILE_EMPTY = _("%(name)s is empty.")
EPCIS_FILE_TOO_BIG = _(
    "%(name)s is %(size)s; this page takes documents up to %(limit)s. Split it, or ask an "
    "administrator to import it with manage.py import_epcis."
)
EPCIS_NOT_UTF8 = _(
    "%(name)s is not UTF-8 text: line %(line)s, column %(column)s holds the byte 0x%(byte)s. "
    "Save it as UTF-8."
)
EPCIS_NOT_JSON = _("%(name)s is not valid JSON: line %(line)s, column %(column)s: %(problem)s.")
EPCIS_NOT_JSON_VALUE = _("%(name)s is not valid JSON: %(problem)s.")
EPCIS_TOO_DEEP = _("%(name)s is not valid JSON: its objects and lists are nested too deeply.")


def _scan_field(label, placeholder) -> forms.CharField:
    """The box a person types a code into or a scanner sends one to (app.js selects it)."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=500,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "data-scan": True,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": placeholder,
            }
        ),
    )


class TraceForm(forms.Form):
    """One identifier (typed or scanned), or a product and a range of production dates."""

    q = _scan_field(
        _("Lot, serial or GS1 code"),
        _("e.g. QUICHE-LOR lot Q-0412, (01)…(10)…, https://id.gs1.org/…"),
    )
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            (Direction.FORWARD.value, _("Forward: where did it go?")),
            (Direction.BACKWARD.value, _("Backward: where did it come from?")),
        ],
        initial=Direction.FORWARD.value,
        widget=forms.RadioSelect,
        required=False,
    )
    product = forms.CharField(label=_("Product SKU or GTIN"), required=False, max_length=64)
    produced_from = forms.DateField(
        label=_("Produced from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    produced_to = forms.DateField(
        label=_("Produced to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_direction(self):
        return self.cleaned_data.get("direction") or Direction.FORWARD.value

    def clean(self):
        data = super().clean()
        if "q" in self.errors:
            return data
        # Several q= (a scanned list) trace together; the field itself keeps only the last.
        asked = self.data.getlist("q") if hasattr(self.data, "getlist") else [data.get("q", "")]
        texts = [text.strip() for text in asked if text and text.strip()]
        self.lots = self.serial_units = None
        if texts and data.get("product"):
            raise forms.ValidationError(TRACE_ONE_WAY)
        if texts:
            try:
                lots, units = resolve_identifiers(texts)
            except IdentifierError as exc:
                raise forms.ValidationError({"q": str(exc)}) from exc
            self.lots = Lot.objects.filter(pk__in=[lot.pk for lot in lots]) if lots else None
            self.serial_units = (
                SerialUnit.objects.filter(pk__in=[unit.pk for unit in units]) if units else None
            )
            return data
        if data.get("product"):
            self._range_roots(data)
            return data
        if data.get("produced_from") or data.get("produced_to"):
            raise forms.ValidationError({"product": TRACE_DATES_NEED_PRODUCT})
        if not self.errors:
            raise forms.ValidationError(TRACE_NEEDS_INPUT)
        return data

    def _range_roots(self, data):
        value = data["product"].strip()
        product = Product.objects.filter(sku=value).first() or (
            Product.objects.filter(gtin=value.zfill(14)).first() if value.isdigit() else None
        )
        if product is None:
            raise forms.ValidationError({"product": UNKNOWN_PRODUCT % {"value": value}})
        start, end = data.get("produced_from"), data.get("produced_to")
        if start is None or end is None:
            raise forms.ValidationError(TRACE_NEEDS_DATES)
        if start > end:
            raise forms.ValidationError(TRACE_DATES_ORDER)
        self.product = product
        self.lots = Lot.objects.filter(product=product, produced_on__range=(start, end))
        self.serial_units = SerialUnit.objects.filter(
            product=product, produced_on__range=(start, end)
        )


def _fsma_date_field(label) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        error_messages={"invalid": FSMA_BAD_DATE},
        validators=[
            MinValueValidator(FSMA_FIRST_DATE, message=FSMA_DATE_RANGE),
            MaxValueValidator(FSMA_LAST_DATE, message=FSMA_DATE_RANGE),
        ],
        widget=forms.DateInput(
            attrs={
                "type": "date",
                "min": FSMA_FIRST_DATE.isoformat(),
                "max": FSMA_LAST_DATE.isoformat(),
            }
        ),
    )


class Fsma204Form(forms.Form):
    """A traceability lot (any identifier the trace takes), or a product and event dates."""

    q = _scan_field(
        _("Traceability lot code, lot or GS1 code"),
        _("e.g. CVG-F12-B0311, FG-KIT-SPF lot SK-26100, (01)…(10)…"),
    )
    direction = forms.ChoiceField(
        label=_("Lots"),
        choices=[
            ("", _("Only the named lots")),
            (Direction.FORWARD.value, _("Also every listed food made from them (forward)")),
            (Direction.BACKWARD.value, _("Also every listed food they were made from (backward)")),
        ],
        required=False,
        widget=forms.RadioSelect,
    )
    product = forms.CharField(label=_("Product SKU or GTIN"), required=False, max_length=64)
    date_from = _fsma_date_field(_("Events from"))
    date_to = _fsma_date_field(_("Events to"))

    def clean(self):
        data = super().clean()
        text, value = (data.get("q") or "").strip(), (data.get("product") or "").strip()
        self.lots, self.product = [], None
        if text and value:
            raise forms.ValidationError(FSMA_ONE_WAY)
        if text:
            if data.get("date_from") or data.get("date_to"):
                raise forms.ValidationError(FSMA_LOT_WITHOUT_DATES)
            try:
                self.lots = lots_named_by(text)
            except IdentifierError as exc:
                raise forms.ValidationError({"q": str(exc)}) from exc
        elif value:
            self.product = product_by_code(value)
            if self.product is None:
                raise forms.ValidationError({"product": UNKNOWN_PRODUCT % {"value": value}})
            start, end = data.get("date_from"), data.get("date_to")
            if start is None or end is None:
                if not self.errors:
                    raise forms.ValidationError(FSMA_NEEDS_DATES)
            elif start > end:
                raise forms.ValidationError(FSMA_DATES_ORDER)
        elif data.get("date_from") or data.get("date_to"):
            raise forms.ValidationError({"product": FSMA_DATES_NEED_PRODUCT})
        elif not self.errors:
            raise forms.ValidationError(FSMA_NEEDS_INPUT)
        return data

    @property
    def selection(self) -> dict:
        """fsma204_rows' arguments."""
        data = self.cleaned_data
        if self.product is not None:
            return {
                "lots": Lot.objects.filter(product=self.product),
                "start": data["date_from"],
                "end": data["date_to"],
                "direction": data.get("direction") or None,
            }
        return {"lots": self.lots, "direction": data.get("direction") or None}

    @property
    def products(self) -> list:
        """The products the request names, once each."""
        if self.product is not None:
            return [self.product]
        return list({lot.product_id: lot.product for lot in self.lots}.values())

    def file_stem(self, today) -> str:
        data = self.cleaned_data
        if self.product is not None:
            return file_stem(self.product.sku, data["date_from"], "to", data["date_to"])
        return file_stem(self.lots[0], today)


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(
        label=_("New status"),
        error_messages={"required": STATUS_REQUIRED, "invalid_choice": STATUS_NOT_OFFERED},
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        error_messages={"required": REASON_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept with the change, e.g. 'Supplier notice SN-88: Listeria'."),
    )

    def __init__(self, *args, item, **kwargs):
        super().__init__(*args, **kwargs)
        # Statuses that other actions set with their records (shipped, installed, recalled)
        # are not offered here.
        labels = dict(type(item).Status.choices)
        self.fields["status"].choices = [("", _("Choose…"))] + [
            (status, labels[status]) for status in item.MANUAL_STATUSES if status != item.status
        ]


class _NotJson(ValueError):
    """A value Python's json module reads but JSON does not have (NaN, Infinity)."""


def _refuse_constant(name):
    raise _NotJson(_("%(name)s is not a JSON value") % {"name": name})


class EpcisImportForm(forms.Form):
    """An uploaded EPCIS 2.0 JSON or JSON-LD document, parsed; the importer checks the rest."""

    document = forms.FileField(
        label=_("EPCIS document"),
        allow_empty_file=True,  # clean_document says so, naming the file
        validators=[
            FileExtensionValidator(["json", "jsonld"], message=EPCIS_FILE_EXTENSION),
        ],
        error_messages={"required": EPCIS_FILE_REQUIRED},
        widget=forms.FileInput(
            attrs={"accept": ".json,.jsonld,application/json,application/ld+json"}
        ),
    )

    def clean_document(self):
        upload = self.cleaned_data["document"]
        self.file_name = name = upload.name
        if upload.size > EPCIS_MAX_UPLOAD_SIZE:
            raise forms.ValidationError(
                EPCIS_FILE_TOO_BIG,
                code="too_big",
                params={
                    "name": name,
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(EPCIS_MAX_UPLOAD_SIZE),
                },
            )
        data = upload.read()
        if not data:
            raise forms.ValidationError(EPCIS_FILE_EMPTY, code="empty", params={"name": name})
        try:
            text = data.decode("utf-8-sig")  # a byte order mark is harmless; accept it
        except UnicodeDecodeError as exc:
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            raise forms.ValidationError(
                EPCIS_NOT_UTF8,
                code="not_utf8",
                params={
                    "name": name,
                    "line": data.count(b"\n", 0, exc.start) + 1,
                    "column": exc.start - line_start + 1,
                    "byte": f"{data[exc.start]:02X}",
                },
            ) from exc
        self.text = text  # what a background import reads again
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                EPCIS_NOT_JSON,
                code="not_json",
                params={"name": name, "line": exc.lineno, "column": exc.colno, "problem": exc.msg},
            ) from exc
        except _NotJson as exc:
            raise forms.ValidationError(
                EPCIS_NOT_JSON_VALUE, code="not_json", params={"name": name, "problem": exc}
            ) from exc
        except ValueError as exc:  # Python refuses integers of more than 4,300 digits
            raise forms.ValidationError(
                EPCIS_NOT_JSON_VALUE,
                code="not_json",
                params={"name": name, "problem": _("a number has too many digits")},
            ) from exc
        except RecursionError as exc:
            raise forms.ValidationError(
                EPCIS_TOO_DEEP, code="not_json", params={"name": name}
            ) from exc
