"""Forms of the quality control pages: result entry, signatures, deviations, specifications."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Certificate, SerialUnit, SpecificationTest, TestResult
from .quality import STATEMENT_REQUIRED, WRONG_PASSWORD

APPROVE, REJECT = "approve", "reject"
DECISION_REQUIRED = _("Approve or reject the deviation.")
JUSTIFICATION_REQUIRED = _("Say why the deviation is approved or rejected.")
DESCRIPTION_REQUIRED = _("Say what is missing or failed, and why a deviation is asked for.")
TEST_REQUIRED = _("Choose the test the deviation is for.")
NEW_CERTIFICATE_INCOMPLETE = _(
    "To upload a certificate, give its number, its date of issue and the PDF."
)
CERTIFICATE_CHOICE_REQUIRED = _("Results from a certificate: pick one on file or upload it.")
NOT_A_NUMBER = _("Enter a number, e.g. 4.25.")
UNIT_REQUIRED = _("Choose the serial unit these results are for.")
TESTED_AT_REQUIRED = _("Say when the test was done, as a date and time.")
EFFECTIVE_FROM_REQUIRED = _("Give the date the new version comes into force.")


def _date_input():
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ResultEntryForm(forms.Form):
    """One field for each test of the specification in force (left empty: not recorded now),
    and what the results share: when, by whom, with what, from which certificate."""

    tested_at = forms.DateTimeField(
        label=_("Tested"),
        error_messages={"required": TESTED_AT_REQUIRED, "invalid": TESTED_AT_REQUIRED},
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    serial_unit = forms.ModelChoiceField(
        label=_("Serial unit"),
        queryset=SerialUnit.objects.none(),
        required=False,
        error_messages={"required": UNIT_REQUIRED, "invalid_choice": UNIT_REQUIRED},
    )
    source = forms.ChoiceField(
        label=_("Source"),
        choices=TestResult.Source.choices,
        initial=TestResult.Source.IN_HOUSE,
        widget=forms.RadioSelect,
    )
    performed_by = forms.CharField(label=_("Performed by"), max_length=200, required=False)
    lab = forms.CharField(label=_("Laboratory"), max_length=200, required=False)
    instrument = forms.CharField(label=_("Instrument"), max_length=200, required=False)
    certificate = forms.ModelChoiceField(
        label=_("Certificate on file"),
        queryset=Certificate.objects.none(),
        required=False,
        empty_label=_("— upload a new one below —"),
    )
    certificate_number = forms.CharField(
        label=_("New certificate's number"), max_length=64, required=False
    )
    certificate_issued_on = forms.DateField(label=_("Issued"), required=False, widget=_date_input())
    certificate_file = forms.FileField(
        label=_("Certificate (PDF)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
    )

    def __init__(self, *args, lot, tests, units, certificates, **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "tested_at", timezone.localtime().replace(second=0, microsecond=0)
        )
        super().__init__(*args, **kwargs)
        self.lot, self.tests = lot, list(tests)
        if units:
            self.fields["serial_unit"].queryset = SerialUnit.objects.filter(
                pk__in=[unit.pk for unit in units]
            ).order_by("serial")
            self.fields["serial_unit"].required = True
        else:
            del self.fields["serial_unit"]
        if lot.supplier_id is None:
            for name in (
                "certificate",
                "certificate_number",
                "certificate_issued_on",
                "certificate_file",
            ):
                del self.fields[name]
            self.fields["source"].choices = [TestResult.Source.choices[0]]
        else:
            self.fields["certificate"].queryset = Certificate.objects.filter(
                pk__in=[certificate.pk for certificate in certificates]
            ).order_by("-issued_on", "-pk")
        for test in self.tests:
            if test.is_numeric:
                self.fields[f"value_{test.pk}"] = forms.DecimalField(
                    label=test.name,
                    required=False,
                    max_digits=14,
                    decimal_places=4,
                    error_messages={"invalid": NOT_A_NUMBER},
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
                )
                self.fields[f"unit_{test.pk}"] = forms.CharField(
                    label=_("Unit"),
                    required=False,
                    max_length=20,
                    initial=test.unit,
                    widget=forms.TextInput(attrs={"size": 6}),
                )
            else:
                self.fields[f"text_{test.pk}"] = forms.CharField(
                    label=test.name, required=False, max_length=200
                )

    def test_rows(self):
        """(test, value field, unit field or None) for the template's table."""
        rows = []
        for test in self.tests:
            if test.is_numeric:
                rows.append((test, self[f"value_{test.pk}"], self[f"unit_{test.pk}"]))
            else:
                rows.append((test, self[f"text_{test.pk}"], None))
        return rows

    def clean(self):
        data = super().clean()
        if data.get("source") == TestResult.Source.CERTIFICATE and "certificate" in self.fields:
            new = [
                data.get(name)
                for name in ("certificate_number", "certificate_issued_on", "certificate_file")
            ]
            if not data.get("certificate"):
                if not any(new):
                    self.add_error("certificate", CERTIFICATE_CHOICE_REQUIRED)
                elif not all(new):
                    self.add_error("certificate_number", NEW_CERTIFICATE_INCOMPLETE)
        return data

    @property
    def entries(self) -> list[dict]:
        entries = []
        for test in self.tests:
            if test.is_numeric:
                value = self.cleaned_data.get(f"value_{test.pk}")
                if value is not None:
                    unit = self.cleaned_data.get(f"unit_{test.pk}", "")
                    entries.append({"specification_test": test, "value": value, "unit": unit})
            else:
                text = self.cleaned_data.get(f"text_{test.pk}", "").strip()
                if text:
                    entries.append({"specification_test": test, "text": text})
        return entries

    @property
    def new_certificate(self) -> dict | None:
        data = self.cleaned_data
        if data.get("source") != TestResult.Source.CERTIFICATE or data.get("certificate"):
            return None
        if not data.get("certificate_file"):
            return None
        return {
            "number": data["certificate_number"],
            "issued_on": data["certificate_issued_on"],
            "file": data["certificate_file"],
        }


class SignatureForm(forms.Form):
    statement = forms.CharField(
        label=_("Statement"),
        max_length=5000,
        error_messages={"required": STATEMENT_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What you attest, in your words; it is kept with your signature."),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        error_messages={"required": WRONG_PASSWORD},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Signing needs your password again."),
    )


class DeviationRequestForm(forms.Form):
    specification_test = forms.ModelChoiceField(
        label=_("Test"),
        queryset=SpecificationTest.objects.none(),
        error_messages={"required": TEST_REQUIRED, "invalid_choice": TEST_REQUIRED},
    )
    description = forms.CharField(
        label=_("Why a deviation"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": DESCRIPTION_REQUIRED},
    )

    def __init__(self, *args, tests, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["specification_test"].queryset = SpecificationTest.objects.filter(
            pk__in=[test.pk for test in tests]
        ).order_by("order", "name")


class DeviationDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(APPROVE, _("Approve (justified)")), (REJECT, _("Reject"))],
        widget=forms.RadioSelect,
        error_messages={"required": DECISION_REQUIRED, "invalid_choice": DECISION_REQUIRED},
    )
    justification = forms.CharField(
        label=_("Justification"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": JUSTIFICATION_REQUIRED},
    )


class SpecificationCopyForm(forms.Form):
    effective_from = forms.DateField(
        label=_("New version in force from"),
        widget=_date_input(),
        error_messages={"required": EFFECTIVE_FROM_REQUIRED, "invalid": EFFECTIVE_FROM_REQUIRED},
    )


class ResultCorrectionForm(forms.Form):
    """The right result for one that was wrong; the wrong one stays on file, superseded."""

    value = forms.DecimalField(
        label=_("Right value"),
        required=False,
        max_digits=14,
        decimal_places=4,
        error_messages={"invalid": NOT_A_NUMBER},
    )
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    text = forms.CharField(label=_("Right result"), max_length=200, required=False)
    tested_at = forms.DateTimeField(
        label=_("Tested"),
        error_messages={"required": TESTED_AT_REQUIRED, "invalid": TESTED_AT_REQUIRED},
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    correction_reason = forms.CharField(
        label=_("Why corrected"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, result, **kwargs):
        kwargs.setdefault("initial", {}).update(
            unit=result.unit, tested_at=timezone.localtime(result.tested_at)
        )
        super().__init__(*args, **kwargs)
        if result.specification_test.is_numeric:
            del self.fields["text"]
        else:
            del self.fields["value"]
            del self.fields["unit"]
