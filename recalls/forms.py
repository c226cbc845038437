"""Forms for the recall pages: they check what was typed; services decide and write."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Unit

from . import scope
from .models import AffectedItem, ConsigneeNotice, RecallCampaign

SCOPE_MISSING = _(
    "Name what to recall: identifiers, a serial range, a supplier's lot code or dates."
)
RANGE_INCOMPLETE = _("A serial range needs the SKU, the first and the last serial.")
DATES_INCOMPLETE = _("A production date range needs the SKU and both dates.")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=DATETIME_FORMAT, **kwargs)


class ScopeFields(forms.Form):
    """What a campaign recalls; `clean` gives `scope_entries` (see recalls/scope.py)."""

    identifiers = forms.CharField(
        label=_("Lots and serial units"),
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "class": "code", "data-scan": ""}
        ),
        help_text=_(
            "One per line: scan a GS1 barcode or Digital Link, or type “SKU lot CODE”, "
            "“SKU serial NUMBER” or a code."
        ),
    )
    range_sku = forms.CharField(label=_("SKU"), required=False, max_length=50)
    range_first = forms.CharField(label=_("first serial"), required=False, max_length=20)
    range_last = forms.CharField(label=_("last serial"), required=False, max_length=20)
    supplier_lot_code = forms.CharField(
        label=_("Supplier's lot code"),
        required=False,
        max_length=50,
        help_text=_("Every lot received under this code."),
    )
    produced_sku = forms.CharField(label=_("SKU"), required=False, max_length=50)
    produced_from = forms.DateField(
        label=_("produced from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    produced_to = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        entries = [line.strip() for line in data.get("identifiers", "").splitlines()]
        entries = [line for line in entries if line]
        ranges = [data.get(name) for name in ("range_sku", "range_first", "range_last")]
        if any(ranges):
            if not all(ranges):
                raise ValidationError(RANGE_INCOMPLETE)
            entries.append(scope.serial_range(*ranges))
        if data.get("supplier_lot_code"):
            entries.append(scope.supplier_lot(data["supplier_lot_code"]))
        dates = [data.get(name) for name in ("produced_sku", "produced_from", "produced_to")]
        if any(dates):
            if not all(dates):
                raise ValidationError(DATES_INCOMPLETE)
            entries.append(scope.produced(*dates))
        if not entries:
            raise ValidationError(SCOPE_MISSING)
        # Whether the entries name anything is the service's to say (the view shows it here).
        data["scope_entries"] = entries
        return data

    @staticmethod
    def initial_for(entries: list) -> dict:
        """Form values showing a scope as kept on a campaign."""
        initial = {"identifiers": "\n".join(e for e in entries if isinstance(e, str))}
        for entry in entries:
            if isinstance(entry, dict) and "serials" in entry:
                spec = entry["serials"]
                initial.update(
                    range_sku=spec["sku"], range_first=spec["first"], range_last=spec["last"]
                )
            elif isinstance(entry, dict) and "supplier_lot" in entry:
                initial["supplier_lot_code"] = entry["supplier_lot"]
            elif isinstance(entry, dict) and "produced" in entry:
                spec = entry["produced"]
                initial.update(
                    produced_sku=spec["sku"],
                    produced_from=spec["first"],
                    produced_to=spec["last"],
                )
        return initial


class CampaignOpenForm(ScopeFields):
    title = forms.CharField(label=_("Title"), max_length=200)
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), help_text=_("Why recall?")
    )
    hazard = forms.CharField(
        label=_("Health hazard"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The hazard as assessed (21 CFR 7.41)."),
    )
    classification = forms.ChoiceField(
        label=_("Classification"), choices=RecallCampaign.Classification.choices
    )
    depth = forms.ChoiceField(
        label=_("Depth"),
        choices=RecallCampaign.Depth.choices,
        initial=RecallCampaign.Depth.CONSUMER,
    )
    public_warning = forms.ChoiceField(
        label=_("Public warning"),
        choices=RecallCampaign.PublicWarning.choices,
        initial=RecallCampaign.PublicWarning.NONE,
    )
    effectiveness_check = forms.ChoiceField(
        label=_("Effectiveness checks"),
        choices=RecallCampaign.EffectivenessCheck.choices,
        initial=RecallCampaign.EffectivenessCheck.A,
    )
    estimated_completion_on = forms.DateField(
        label=_("Estimated completion"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    consumer_notice = forms.CharField(
        label=_("Consumer notice"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=RecallCampaign._meta.get_field("consumer_notice").help_text,
    )
    is_drill = forms.BooleanField(
        label=_("Mock recall (drill)"),
        required=False,
        help_text=_("Changes no stock status and notifies no consignee."),
    )

    field_order = [
        "title",
        "classification",
        "reason",
        "hazard",
        "depth",
        "public_warning",
        "effectiveness_check",
        "estimated_completion_on",
        "consumer_notice",
        "is_drill",
    ]

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            name: data[name]
            for name in (
                "title",
                "reason",
                "hazard",
                "classification",
                "depth",
                "public_warning",
                "effectiveness_check",
                "estimated_completion_on",
                "consumer_notice",
                "is_drill",
                "scope_entries",
            )
        }


class RescopeForm(ScopeFields):
    reason = forms.CharField(
        label=_("Why the scope changes"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Goes on the timeline with the items added and taken out."),
    )


class ResolveForm(forms.Form):
    lines = forms.TypedMultipleChoiceField(coerce=int, choices=(), label=_("Lines"))
    outcome = forms.ChoiceField(label=_("Outcome"), choices=AffectedItem.Resolution.choices)
    quantity = forms.DecimalField(
        label=_("Quantity"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=3,
        help_text=_("Empty: all that is left of each line."),
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text=_("Empty: now."),
    )
    evidence = forms.CharField(
        label=_("Evidence"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Return note, destruction certificate, photo reference…"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The service checks the lines belong to the campaign; any number is acceptable here.
        self.fields["lines"].valid_value = lambda value: True


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=500)


class NoticeTextForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("Text"), widget=forms.Textarea(attrs={"rows": 22, "class": "code"})
    )


class SendForm(forms.Form):
    notices = forms.TypedMultipleChoiceField(coerce=int, choices=(), label=_("Consignees"))
    method = forms.ChoiceField(label=_("Method"), choices=ConsigneeNotice.Method.choices)
    sent_at = forms.DateTimeField(
        label=_("Sent"),
        required=False,
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
        help_text=_("For letters, calls and visits already made; empty: now."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notices"].valid_value = lambda value: True


def _quantity(label):
    return forms.DecimalField(
        label=label, required=False, min_value=0, max_digits=14, decimal_places=3
    )


class ResponseForm(forms.Form):
    acknowledged_at = forms.DateTimeField(
        label=_("Acknowledged"),
        required=False,
        widget=DateTimeLocalInput(),
        input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
    )
    quantity_on_hand = _quantity(_("On hand when notified"))
    quantity_returned = _quantity(_("Returned"))
    quantity_destroyed = _quantity(_("Destroyed"))
    quantity_corrected = _quantity(_("Corrected"))
    unit = forms.ChoiceField(
        label=_("Unit"), required=False, choices=[("", _("as shipped")), *Unit.choices]
    )
    check_result = forms.ChoiceField(
        label=_("Effectiveness check"),
        required=False,
        choices=[("", _("not checked yet")), *ConsigneeNotice.CheckResult.choices],
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    @classmethod
    def for_notice(cls, notice: ConsigneeNotice, data=None):
        initial = {
            "acknowledged_at": (
                timezone.localtime(notice.acknowledged_at) if notice.acknowledged_at else None
            ),
            "quantity_on_hand": notice.quantity_on_hand,
            "quantity_returned": notice.quantity_returned,
            "quantity_destroyed": notice.quantity_destroyed,
            "quantity_corrected": notice.quantity_corrected,
            "unit": notice.unit,
            "check_result": notice.check_result,
            "notes": notice.notes,
        }
        return cls(data, initial=initial)


class SignatureForm(forms.Form):
    statement = forms.CharField(
        label=_("Statement"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What you confirm by signing; kept with your name and the time."),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Signing needs your password again."),
    )


class TerminateForm(SignatureForm):
    justification = forms.CharField(
        label=_("Justified exception"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only if gaps remain: why the recall may close anyway (e.g. agreed with FDA)."),
    )
