"""Forms validate what people type or scan; the services and selectors do the rest."""

import json
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import conditions, services
from .fsma import file_stem, lots_named_by, product_by_code
from .identifiers import IdentifierError
from .models import (
    ConditionLimit,
    EventType,
    Lot,
    MeasurementType,
    MeasurementUnit,
    Party,
    Product,
    SerialRun,
    SerialUnit,
    ServiceRecord,
    Site,
    UnitReturn,
)
from .selectors import EXPIRY_WINDOWS, quantity_text, resolve_identifiers
from .services import (
    REASON_REQUIRED,
    SERIAL_RANDOM_LENGTHS,
    SERIAL_RUN_MAX,
    SHIP_MORE_THAN_ON_HAND,
    SHIP_NOWHERE,
    Line,
    return_photos_check,
    serial_run_bounds,
)
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

# A service record's form shows these under its fields.
SERVICE_KIND_REQUIRED = _("Choose the kind of work.")
SERVICE_DATE_REQUIRED = _("Give the date of the work as YYYY-MM-DD.")
SERVICE_DATE_FUTURE = _("The work cannot be dated after today, %(today)s.")
SERVICE_DESCRIPTION_REQUIRED = _("Describe the work done.")
SERVICE_PART_IS_A_LOT = _("%(value)s is a lot; only serial units are fitted as parts.")
SERVICE_PART_IS_THE_UNIT = _("%(value)s is the unit being serviced, not a part of it.")
SERVICE_PART_NOT_INSTALLED = _("Choose the removed parts among those installed now.")

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


class ServiceRecordForm(forms.Form):
    """Work done on a unit, with the parts taken out of it and those fitted (scanned)."""

    kind = forms.ChoiceField(
        label=_("Kind of work"),
        choices=[("", _("Choose…")), *ServiceRecord.Kind.choices],
        error_messages={"required": SERVICE_KIND_REQUIRED, "invalid_choice": SERVICE_KIND_REQUIRED},
    )
    performed_on = forms.DateField(
        label=_("Date"),
        input_formats=["%Y-%m-%d"],  # what a date input sends; 02/06/2026 is ambiguous
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": SERVICE_DATE_REQUIRED, "invalid": SERVICE_DATE_REQUIRED},
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=ServiceRecord.Outcome.choices,
        initial=ServiceRecord.Outcome.OPEN,
    )
    technician = forms.CharField(label=_("Technician"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Work done"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": SERVICE_DESCRIPTION_REQUIRED},
    )
    parts_removed = forms.TypedMultipleChoiceField(
        label=_("Parts removed"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": SERVICE_PART_NOT_INSTALLED},
    )
    parts_fitted = forms.CharField(
        label=_("Parts fitted"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Scan or type each part fitted, one per line, e.g. BATT serial B-2."),
    )

    def __init__(self, *args, unit: SerialUnit, components, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit = unit
        # The components the page already read: no query of its own.
        self.components = {part.pk: part for part in components}
        self.fields["parts_removed"].choices = [
            (pk, str(part)) for pk, part in self.components.items()
        ]

    def clean_performed_on(self):
        performed_on = self.cleaned_data["performed_on"]
        today = timezone.localdate()
        if performed_on > today:
            raise ValidationError(SERVICE_DATE_FUTURE % {"today": today.isoformat()})
        return performed_on

    def clean_technician(self):
        return self.cleaned_data["technician"].strip()

    def clean_parts_removed(self):
        return [self.components[pk] for pk in self.cleaned_data["parts_removed"]]

    def clean_parts_fitted(self):
        texts = [text.strip() for text in self.cleaned_data["parts_fitted"].splitlines()]
        texts = [text for text in texts if text]
        if not texts:
            return []
        try:
            lots, units = resolve_identifiers(texts)
        except IdentifierError as exc:
            raise ValidationError(str(exc)) from exc
        if lots:
            raise ValidationError(SERVICE_PART_IS_A_LOT % {"value": lots[0]})
        if any(part.pk == self.unit.pk for part in units):
            raise ValidationError(SERVICE_PART_IS_THE_UNIT % {"value": self.unit})
        return units


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


# --- Stock: the expiry report, and picking stock for a shipment --------------------------------

EXPIRY_BAD_DATE = _("Give the date as YYYY-MM-DD.")
NOT_IN_LIST = _("Choose one from the list; %(value)s is not one of them.")
PICK_NEEDS_PRODUCT = _("Choose the product to ship.")
PICK_NEEDS_SITE = _("Choose the site the stock leaves from.")
PICK_QUANTITY_POSITIVE = _("Give a quantity greater than zero.")
PICK_QUANTITY_NOT_NEGATIVE = _("A quantity cannot be negative.")
PICK_QUANTITY_DIGITS = _("Give a quantity with at most 3 decimal places, below 100 billion.")
PICK_NOTHING = _("Give a quantity for at least one lot.")
PICK_GONE = _(
    "%(lot)s has nothing on hand at %(site)s any more, so it cannot be shipped from there; "
    "reload the page."
)
PICK_SAME_SITE = _("The shipment must go somewhere other than %(site)s, where it is picked.")
PICK_SITE_OF_OTHER_PARTY = _("%(site)s belongs to %(owner)s, not to %(party)s.")
SHIPPING_DOCUMENTS = [
    ("bol", _("bill of lading")),
    ("desadv", _("despatch advice")),
    ("inv", _("invoice")),
    ("other", _("other")),
]


def _quantity_field(label, *, required=False, allow_zero=True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0) if allow_zero else Decimal("0.001"),
        max_digits=14,
        decimal_places=3,
        error_messages={
            "min_value": PICK_QUANTITY_NOT_NEGATIVE if allow_zero else PICK_QUANTITY_POSITIVE,
            "max_digits": PICK_QUANTITY_DIGITS,
            "max_decimal_places": PICK_QUANTITY_DIGITS,
            "max_whole_digits": PICK_QUANTITY_DIGITS,
            "invalid": _("Give a number, e.g. 12 or 12.5."),
        },
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
    )


def _choice_field(queryset, label, *, required=False, empty_label, required_message=None):
    messages = {"invalid_choice": NOT_IN_LIST}
    if required_message:
        messages["required"] = required_message
    return forms.ModelChoiceField(
        queryset=queryset,
        label=label,
        required=required,
        empty_label=empty_label,
        error_messages=messages,
    )


def lot_products():
    return Product.objects.filter(tracking=Product.Tracking.LOT, active=True).order_by("sku")


def our_active_sites():
    return (
        Site.objects.filter(party__is_internal=True, active=True)
        .select_related("party")
        .order_by("name", "pk")
    )


class ExpiryReportForm(forms.Form):
    """The window of the expiry report (30, 60 or 90 days, or a date), and what it covers."""

    days = forms.TypedChoiceField(
        label=_("Expiring within"),
        choices=[(days, _("%(days)s days") % {"days": days}) for days in EXPIRY_WINDOWS],
        coerce=int,
        required=False,
        error_messages={"invalid_choice": NOT_IN_LIST},
    )
    until = forms.DateField(
        label=_("or by the date"),
        required=False,
        error_messages={"invalid": EXPIRY_BAD_DATE},
        validators=[
            MinValueValidator(FSMA_FIRST_DATE, message=FSMA_DATE_RANGE),
            MaxValueValidator(FSMA_LAST_DATE, message=FSMA_DATE_RANGE),
        ],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    product = _choice_field(lot_products(), _("Product"), empty_label=_("All products"))
    site = _choice_field(our_active_sites(), _("Site"), empty_label=_("All our sites"))

    def until_date(self, today: date) -> date:
        """The last expiry date the report covers: the date given, else the window's end."""
        data = self.cleaned_data
        if data.get("until"):
            return data["until"]
        return today + timedelta(days=data.get("days") or EXPIRY_WINDOWS[0])


class PickForm(forms.Form):
    """What to pick: a product, the site it leaves from, and how much in all (to propose)."""

    product = _choice_field(
        lot_products(),
        _("Product"),
        required=True,
        empty_label=_("Choose…"),
        required_message=PICK_NEEDS_PRODUCT,
    )
    site = _choice_field(
        our_active_sites(),
        _("From site"),
        required=True,
        empty_label=_("Choose…"),
        required_message=PICK_NEEDS_SITE,
    )
    quantity = _quantity_field(_("Quantity wanted"), allow_zero=False)


def _positive(text: str) -> bool:
    try:
        return Decimal(text.strip()) > 0
    except (ArithmeticError, ValueError):
        return False


def fefo_proposal(candidates, wanted: Decimal | None) -> tuple[dict[int, Decimal], Decimal]:
    """Quantities to take from each lot, first expiry first out, for `wanted` in all; and how
    much of it the shippable lots cannot cover."""
    proposal, left = {}, wanted or Decimal(0)
    for candidate in candidates:
        if candidate.problem or left <= 0:
            continue
        take = min(candidate.on_hand, left)
        proposal[candidate.lot.pk] = take
        left -= take
    return proposal, left


class ShipmentForm(forms.Form):
    """Quantities of each offered lot, and where the shipment goes."""

    to_party = _choice_field(
        Party.objects.filter(is_internal=False, active=True).order_by("name", "pk"),
        _("To customer"),
        empty_label=_("None (one of our sites)"),
    )
    to_site = _choice_field(
        Site.objects.filter(active=True).select_related("party").order_by("name", "pk"),
        _("Delivery site"),
        empty_label=_("Not known"),
    )
    document_type = forms.ChoiceField(
        label=_("Document"),
        choices=SHIPPING_DOCUMENTS,
        initial="bol",
        error_messages={"invalid_choice": NOT_IN_LIST},
    )
    document_number = forms.CharField(label=_("Document number"), required=False, max_length=100)
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("e.g. carrier and temperature."),
    )

    def __init__(self, *args, site, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.site, self.candidates = site, candidates
        # Refused lots have a field too, not shown: a lot held since the page was shown is
        # refused with its reason, not silently left out.
        for candidate in candidates:
            self.fields[self.field_name(candidate)] = _quantity_field(
                _("Quantity of lot %(code)s") % {"code": candidate.lot.code}
            )

    @staticmethod
    def field_name(candidate) -> str:
        return f"lot_{candidate.lot.pk}"

    @property
    def offered(self) -> list[tuple]:
        """The shippable lots, first expiry first, each with its quantity field."""
        return [(c, self[self.field_name(c)]) for c in self.candidates if not c.problem]

    def _gone(self) -> list[str]:
        """A sentence for each lot asked for that has no stock at the site since the page was
        shown (it has no field any more, so its quantity would be dropped without a word)."""
        offered = {str(candidate.lot.pk) for candidate in self.candidates}
        gone = [
            name.removeprefix("lot_")
            for name, value in self.data.items()
            if name.startswith("lot_")
            and name.removeprefix("lot_").isdigit()
            and name.removeprefix("lot_") not in offered
            and _positive(value)
        ]
        if not gone:
            return []
        lots = Lot.objects.filter(pk__in=gone).select_related("product").order_by("code")
        return [PICK_GONE % {"lot": lot, "site": self.site} for lot in lots]

    @property
    def destination_fields(self) -> list:
        names = ("to_party", "to_site", "document_type", "document_number", "notes")
        return [self[name] for name in names]

    @property
    def refused(self) -> list:
        return [c for c in self.candidates if c.problem]

    def clean(self):
        data = super().clean()
        errors, self.lines = [], []
        for candidate in self.candidates:
            quantity = data.get(self.field_name(candidate))
            if not quantity:
                continue
            lot = candidate.lot
            if candidate.problem:
                errors.append(candidate.problem)
            elif quantity > candidate.on_hand:
                errors.append(
                    SHIP_MORE_THAN_ON_HAND
                    % {
                        "on_hand": quantity_text(candidate.on_hand, lot.unit),
                        "item": lot,
                        "site": self.site,
                        "asked": quantity_text(quantity, lot.unit),
                    }
                )
            self.lines.append(Line(lot, quantity, lot.unit))
        errors.extend(self._gone())
        if not self.lines and not self.errors and not errors:
            errors.append(PICK_NOTHING)
        party, site = data.get("to_party"), data.get("to_site")
        if party is None and site is None and not self.errors:
            errors.append(SHIP_NOWHERE)
        if site is not None and site.pk == self.site.pk:
            errors.append(PICK_SAME_SITE % {"site": site})
        elif site is not None and party is not None and site.party_id != party.pk:
            errors.append(
                PICK_SITE_OF_OTHER_PARTY % {"site": site, "owner": site.party, "party": party}
            )
        if errors:
            raise forms.ValidationError(errors)
        return data


# --- Owners ---

OWNER_NAME_REQUIRED = _("Name the owner.")
OWNER_DATE_REQUIRED = _("Give the date as YYYY-MM-DD.")


class OwnerForm(forms.Form):
    """An end owner, registered or taking over a unit; contact only with their consent."""

    owner_name = forms.CharField(
        label=_("Owner"),
        max_length=200,
        error_messages={"required": OWNER_NAME_REQUIRED},
        help_text=_("A person or organisation, as they give their name."),
    )
    since = forms.DateField(
        label=_("Owner since"),
        input_formats=["%Y-%m-%d"],
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": OWNER_DATE_REQUIRED, "invalid": OWNER_DATE_REQUIRED},
    )
    consent = forms.BooleanField(
        label=_("Agrees to be contacted about safety notices and recalls of this unit"),
        required=False,
    )
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)

    def clean(self):
        data = super().clean()
        if (data.get("email") or data.get("phone", "").strip()) and not data.get("consent"):
            self.add_error("consent", services.OWNER_CONTACT_NEEDS_CONSENT)
        return data


# --- Warranty claims --------------------------------------------------------------------------

CLAIM_UNIT_REQUIRED = _("Scan or type the serial unit the claim is for.")
CLAIM_UNIT_IS_A_LOT = _("%(value)s is a lot; warranty claims are for serial units.")
CLAIM_FAULT_FORM_REQUIRED = _("Describe the fault.")
CLAIM_DATE_REQUIRED = _("Give the date the fault was reported as YYYY-MM-DD.")
CLAIM_DECISION_REQUIRED = _("Choose whether to approve or reject the claim.")
CLAIM_REPLACEMENT_REQUIRED = _("Scan or type the unit sent as the replacement.")
APPROVE, REJECT = "approve", "reject"
# Claims and returns name one unit by a scan; a scan can match a serial of several products.
SCAN_MANY_UNITS = _("%(value)s names %(count)s units; scan the serial of one unit.")


def _one_unit(text: str, *, lot_message) -> SerialUnit:
    """The one serial unit a scanned or typed identifier names, or a sentence why not."""
    try:
        lots, units = resolve_identifiers([text])
    except IdentifierError as exc:
        raise ValidationError(str(exc)) from exc
    if lots:
        raise ValidationError(lot_message % {"value": lots[0]})
    if len(units) > 1:
        raise ValidationError(SCAN_MANY_UNITS % {"value": text, "count": len(units)})
    return units[0]


class WarrantyClaimForm(forms.Form):
    """A new claim: the unit (scanned), the fault, when it was reported, and by whom."""

    unit = _scan_field(_("Serial unit"), _("e.g. DEV-HX2 serial HX2-0001, or scan its label"))
    fault = forms.CharField(
        label=_("Fault reported"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": CLAIM_FAULT_FORM_REQUIRED},
    )
    reported_on = forms.DateField(
        label=_("Reported on"),
        input_formats=["%Y-%m-%d"],
        initial=timezone.localdate,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": CLAIM_DATE_REQUIRED, "invalid": CLAIM_DATE_REQUIRED},
        help_text=_("The day the customer told us; the warranty is checked against it."),
    )
    claimant = forms.ModelChoiceField(
        label=_("Claimed by"),
        queryset=Party.objects.filter(is_customer=True).order_by("name"),
        required=False,
        empty_label=_("the customer who holds the unit"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].required = True
        self.fields["unit"].error_messages["required"] = CLAIM_UNIT_REQUIRED

    def clean_unit(self):
        return _one_unit(self.cleaned_data["unit"].strip(), lot_message=CLAIM_UNIT_IS_A_LOT)


class ClaimDecisionForm(forms.Form):
    """Approve or reject; the override box only for those who may, on a claim not covered."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))],
        widget=forms.RadioSelect,
        error_messages={
            "required": CLAIM_DECISION_REQUIRED,
            "invalid_choice": CLAIM_DECISION_REQUIRED,
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Needed to reject, or to approve outside warranty."),
    )
    override = forms.BooleanField(
        label=_("Approve outside warranty (manager's override)"), required=False
    )

    def __init__(self, *args, may_override: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_override:
            del self.fields["override"]

    def clean_reason(self):
        return self.cleaned_data["reason"].strip()


class ClaimRepairForm(ServiceRecordForm):
    """The repair of a claimed unit: a service record's fields, its kind and outcome fixed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["kind"]
        del self.fields["outcome"]


class ClaimReplaceForm(forms.Form):
    replacement = _scan_field(_("Replacement unit"), _("Scan the unit from stock"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["replacement"]
        # One of several forms on the claim's page: it must not take the focus from the top.
        field.widget.attrs.pop("autofocus")
        field.required = True
        field.error_messages["required"] = CLAIM_REPLACEMENT_REQUIRED

    def clean_replacement(self):
        return _one_unit(self.cleaned_data["replacement"].strip(), lot_message=CLAIM_UNIT_IS_A_LOT)


class ClaimCloseForm(forms.Form):
    note = forms.CharField(
        label=_("Closing note"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


# --- Returns (RMA) ----------------------------------------------------------------------------


RETURN_SCAN_REQUIRED = _("Scan or type the serial of the returned unit.")
RETURN_SCAN_IS_A_LOT = _(
    "%(value)s is a lot; a return is registered for one serial unit. Scan the unit's serial."
)
RETURN_SITE_REQUIRED = _("Choose the site of ours that received the unit.")
RETURN_REASON_REQUIRED = _("Choose why the unit was returned.")
RETURN_CONDITION_REQUIRED = _("Choose the condition it arrived in.")
RETURN_BAD_TIME = _("Give the time it was received as YYYY-MM-DD HH:MM.")
RETURN_DECISION_REQUIRED = _("Choose what happens to the unit.")
RETURN_REPLACEMENT_IS_A_LOT = _("%(value)s is a lot; the replacement is one serial unit.")
RETURN_OUTCOME_REQUIRED = _("Choose where the repaired unit goes.")


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Any number of uploaded files, checked as return photos (see return_photos_check)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            MultipleImageInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        files = [super(MultipleImageField, self).clean(file, initial) for file in files]
        return [upload for upload, _extension in return_photos_check(files)]


def _return_choice(choices, label, message):
    return forms.ChoiceField(
        label=label,
        choices=[("", _("Choose…")), *choices],
        error_messages={"required": message, "invalid_choice": message},
    )


class ReturnForm(forms.Form):
    """A unit that came back: scanned, who sent it, where it arrived, why and in what state."""

    unit = _scan_field(_("Returned unit"), _("Scan the serial, e.g. (01)…(21)… or SKU serial SN…"))
    customer = _choice_field(
        Party.objects.filter(is_internal=False, active=True).order_by("name", "pk"),
        _("Returned by"),
        empty_label=_("The unit's holder"),
    )
    site = _choice_field(
        our_active_sites(),
        _("Received at"),
        required=True,
        empty_label=_("Choose…"),
        required_message=RETURN_SITE_REQUIRED,
    )
    received_at = forms.DateTimeField(
        label=_("Received"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        error_messages={"invalid": RETURN_BAD_TIME},
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Left empty: now."),
    )
    reason = _return_choice(UnitReturn.Reason.choices, _("Reason"), RETURN_REASON_REQUIRED)
    condition = _return_choice(
        UnitReturn.Condition.choices, _("Condition on arrival"), RETURN_CONDITION_REQUIRED
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the customer said, what was in the box. Staff only."),
    )
    photos = MultipleImageField(
        label=_("Photos"),
        required=False,
        help_text=_("JPEG, PNG or WebP; up to 10 photos of 10 MB each."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].required = True
        self.fields["unit"].error_messages["required"] = RETURN_SCAN_REQUIRED

    def clean_unit(self):
        return _one_unit(self.cleaned_data["unit"].strip(), lot_message=RETURN_SCAN_IS_A_LOT)


class ReturnDecisionForm(forms.Form):
    """A manager's decision on an open return; a replacement names the unit sent instead."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=UnitReturn.Decision.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": RETURN_DECISION_REQUIRED,
            "invalid_choice": RETURN_DECISION_REQUIRED,
        },
    )
    replacement = forms.CharField(
        label=_("Replacement unit"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"data-scan": True, "autocomplete": "off"}),
        help_text=_("For a replacement: scan the unit in stock that goes to the customer."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept with the decision and the status change, e.g. the test result."),
    )

    def clean_replacement(self):
        text = self.cleaned_data["replacement"].strip()
        if not text:
            return None
        return _one_unit(text, lot_message=RETURN_REPLACEMENT_IS_A_LOT)

    def clean(self):
        data = super().clean()
        if data.get("decision") != UnitReturn.Decision.REPLACE:
            data["replacement"] = None  # typed, then another decision chosen: not asked for
        return data


class ReturnRepairForm(forms.Form):
    """Where a repaired unit goes: back to stock, or back to the customer."""

    outcome = forms.ChoiceField(
        label=_("Repaired unit goes"),
        choices=[
            (UnitReturn.Outcome.RESTOCKED, _("back to stock")),
            (UnitReturn.Outcome.SENT_BACK, _("back to the customer")),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": RETURN_OUTCOME_REQUIRED,
            "invalid_choice": RETURN_OUTCOME_REQUIRED,
        },
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- Public verification ---


class CounterfeitFlagReviewForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Finding"),
        choices=[
            ("dismissed", _("Dismiss: nothing wrong found")),
            ("confirmed", _("Confirm: a counterfeit")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("What you found"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept with the flag: who you asked, what you saw."),
    )


# --- Serial generation ------------------------------------------------------------------------

RUN_LOT_OF_OTHER_PRODUCT = _("Lot %(lot)s is not a lot of %(product)s.")
RUN_FIELD_REQUIRED = _("A %(scheme)s run needs this.")


def serial_products():
    return Product.objects.filter(tracking=Product.Tracking.SERIAL, active=True).order_by("sku")


class SerialRunForm(forms.Form):
    """A run of new serial units: for which product and lot, where, and how they are numbered."""

    product = _choice_field(
        serial_products(),
        _("Product"),
        required=True,
        empty_label=_("Choose a serial-tracked product"),
        required_message=_("Choose the product the units are of."),
    )
    lot = _choice_field(
        Lot.objects.filter(product__tracking=Product.Tracking.SERIAL)
        .select_related("product")
        .order_by("product__sku", "code"),
        _("Production lot"),
        empty_label=_("None"),
    )
    site = _choice_field(our_active_sites(), _("Made at site"), empty_label=_("Not recorded"))
    produced_on = forms.DateField(
        label=_("Production date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Today if left empty."),
    )
    count = forms.IntegerField(
        label=_("Units"),
        min_value=1,
        max_value=SERIAL_RUN_MAX,
        error_messages={
            "min_value": _("A run makes at least one unit."),
            "max_value": _("A run makes at most %(max)s units.") % {"max": f"{SERIAL_RUN_MAX:,}"},
        },
        help_text=_("Up to %(max)s; more than %(job)s are made in the background.")
        % {"max": f"{SERIAL_RUN_MAX:,}", "job": "5,000"},
    )
    scheme = forms.ChoiceField(
        label=_("Numbering"),
        choices=SerialRun.Scheme.choices,
        initial=SerialRun.Scheme.PATTERN,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": NOT_IN_LIST},
    )
    prefix = forms.CharField(
        label=_("Prefix"),
        required=False,
        max_length=19,
        help_text=_("Letters, digits and GS1 punctuation, e.g. DR-26-."),
    )
    width = forms.IntegerField(
        label=_("Counter digits"), required=False, min_value=1, max_value=20, initial=6
    )
    first_number = forms.IntegerField(
        label=_("First counter value"), required=False, min_value=0, initial=1
    )
    length = forms.IntegerField(
        label=_("Characters"),
        required=False,
        min_value=SERIAL_RANDOM_LENGTHS[0],
        max_value=SERIAL_RANDOM_LENGTHS[1],
        initial=12,
        help_text=_("8 to 20; DSCSA asks for randomised serials."),
    )

    PATTERN_FIELDS = ("prefix", "width", "first_number")

    def clean(self):
        data = super().clean()
        product, lot = data.get("product"), data.get("lot")
        if product and lot and lot.product_id != product.pk:
            self.add_error(
                "lot", RUN_LOT_OF_OTHER_PRODUCT % {"lot": lot.code, "product": product.sku}
            )
        scheme = data.get("scheme")
        needed = ("width", "first_number") if scheme == SerialRun.Scheme.PATTERN else ("length",)
        for name in needed:
            if data.get(name) is None and name not in self.errors:
                label = SerialRun.Scheme(scheme).label if scheme else ""
                self.add_error(name, RUN_FIELD_REQUIRED % {"scheme": label})
        if scheme == SerialRun.Scheme.PATTERN and not self.errors:
            try:
                self.bounds = serial_run_bounds(
                    count=data["count"],
                    prefix=data["prefix"].strip(),
                    width=data["width"],
                    first_number=data["first_number"],
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return data

    def run_arguments(self) -> dict:
        """The service's arguments: the scheme's own fields only."""
        data = self.cleaned_data
        arguments = {
            name: data[name]
            for name in ("product", "lot", "site", "produced_on", "count", "scheme")
        }
        if data["scheme"] == SerialRun.Scheme.PATTERN:
            arguments.update({name: data[name] for name in self.PATTERN_FIELDS})
            arguments["prefix"] = arguments["prefix"].strip()
        else:
            arguments["length"] = data["length"]
        return arguments


# --- Quality control: process conditions ------------------------------------------------------

CONDITIONS_ROWS = 5
CONDITIONS_ROW_INCOMPLETE = _("Give the measurement, its value and its unit.")
CONDITIONS_NOTHING_ENTERED = _("Enter at least one reading.")


class ReadingForm(forms.Form):
    """One row of the readings form; a row left empty is skipped."""

    measurement_type = forms.ChoiceField(
        label=_("Measurement"),
        choices=[("", "—"), *MeasurementType.choices],
        required=False,
    )
    value = forms.DecimalField(label=_("Value"), max_digits=14, decimal_places=4, required=False)
    unit = forms.ChoiceField(
        label=_("Unit"), choices=[("", "—"), *MeasurementUnit.choices], required=False
    )
    measured_at = forms.DateTimeField(
        label=_("Measured at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Empty: the event's time."),
    )
    device_id = forms.CharField(label=_("Device"), max_length=255, required=False)

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not any(data.get(name) not in (None, "") for name in self.fields)

    def clean(self):
        data = super().clean()
        if self.errors or self.is_blank():
            return data
        if not (
            data.get("measurement_type") and data.get("value") is not None and data.get("unit")
        ):
            raise ValidationError(CONDITIONS_ROW_INCOMPLETE, code="incomplete")
        reading = self.reading()
        problems = conditions.reading_problems(reading, self.prefix_number)
        if problems:
            raise ValidationError(problems, code="reading")
        return data

    @property
    def prefix_number(self) -> int:
        return int(self.prefix.rsplit("-", 1)[-1]) + 1 if self.prefix else 1

    def reading(self) -> conditions.Reading:
        data = self.cleaned_data
        return conditions.Reading(
            measurement_type=data["measurement_type"],
            unit=data["unit"],
            value=data["value"],
            measured_at=data.get("measured_at"),
            device_id=data.get("device_id", "").strip(),
        )


class BaseReadingFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        if all(form.is_blank() for form in self.forms):
            raise ValidationError(CONDITIONS_NOTHING_ENTERED, code="empty")

    def readings(self) -> list:
        return [form.reading() for form in self.forms if not form.is_blank()]


ReadingFormSet = forms.formset_factory(
    ReadingForm, formset=BaseReadingFormSet, extra=CONDITIONS_ROWS, max_num=20
)


class ConditionLimitForm(forms.ModelForm):
    """A product's condition limit, on the product's page and in the admin."""

    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The events it applies to; none ticked: all."),
    )

    class Meta:
        model = ConditionLimit
        fields = (
            "product",
            "name",
            "measurement_type",
            "unit",
            "lower",
            "upper",
            "event_types",
            "site",
            "hold_on_excursion",
            "active",
        )


class ProductConditionLimitForm(ConditionLimitForm):
    """The same, for one product's page (the product is the page's)."""

    class Meta(ConditionLimitForm.Meta):
        fields = tuple(name for name in ConditionLimitForm.Meta.fields if name != "product")
