"""Forms for non-conformances and CAPA actions: they check what was typed; services decide."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.identifiers import IdentifierError
from inventory.models import Party
from inventory.selectors import resolve_identifiers
from traceability.roles import QUALITY_MANAGERS, QUALITY_STAFF

from ..models import CapaAction, NonConformance

NC_FORM_ITEMS_REQUIRED = _("Scan or type at least one lot or serial unit.")
NC_FORM_BAD_QUANTITY = _("“%(text)s” is not a quantity (line: %(line)s).")
NC_FORM_DATE_REQUIRED = _("Give the date as YYYY-MM-DD.")
CAPA_FORM_PICK_ACTION = _("Choose an action of this non-conformance.")
CAPA_FORM_VERDICT_REQUIRED = _("Say whether the action was effective.")
QUANTITY_SEPARATOR = "|"


def capa_owners():
    """Who may own an action: active holders of a quality role, and superusers."""
    roles = Q(groups__name__in=(QUALITY_MANAGERS, QUALITY_STAFF)) | Q(is_superuser=True)
    return (
        get_user_model()
        .objects.filter(roles, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


class OwnerField(forms.TypedChoiceField):
    """A person from a list read once per page (a page with many forms reads it once)."""

    def __init__(self, *, label, required=True, empty_label=None):
        super().__init__(label=label, required=required, choices=[], coerce=int)
        self.empty_label = empty_label
        self.people = {}

    def set_people(self, people):
        self.people = {user.pk: user for user in people}
        empty = [("", self.empty_label or "—")] if not self.required or self.empty_label else []
        self.choices = empty + [(user.pk, person_name(user)) for user in people]

    def clean(self, value):
        key = super().clean(value)
        return self.people.get(key) if key not in (None, "") else None


class OwnerFormMixin:
    """Forms with an `owner` field take `owners`, the people to choose from (capa_owners)."""

    def __init__(self, *args, owners=None, **kwargs):
        super().__init__(*args, **kwargs)
        people = list(capa_owners()) if owners is None else owners
        self.fields["owner"].set_people(people)


def _date_field(label, **kwargs):
    return forms.DateField(
        label=label,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": NC_FORM_DATE_REQUIRED, "invalid": NC_FORM_DATE_REQUIRED},
        **kwargs,
    )


def _text(label, rows=3, required=True, **kwargs):
    return forms.CharField(
        label=label,
        required=required,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": rows}),
        **kwargs,
    )


class NonConformanceItemsForm(forms.Form):
    """Lots and units scanned or typed one a line, each with an optional quantity."""

    items = forms.CharField(
        label=_("Lots and serial units"),
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "spellcheck": "false",
                "class": "code",
                "data-scan": "",
            }
        ),
        error_messages={"required": NC_FORM_ITEMS_REQUIRED},
        help_text=_(
            "One per line: scan a GS1 barcode or Digital Link, or type “SKU lot CODE” or "
            "“SKU serial NUMBER”. Add “| 12” after a lot for the quantity that does not conform."
        ),
    )

    def clean_items(self):
        texts, quantities = [], {}
        for line in self.cleaned_data["items"].splitlines():
            text, _sep, amount = line.partition(QUANTITY_SEPARATOR)
            text, amount = text.strip(), amount.strip()
            if not text:
                continue
            texts.append(text)
            if amount:
                try:
                    quantity = Decimal(amount.replace(",", "."))
                except InvalidOperation:
                    quantity = None
                if quantity is None or not quantity.is_finite():
                    raise forms.ValidationError(
                        NC_FORM_BAD_QUANTITY % {"text": amount, "line": line.strip()}
                    )
                quantities[text] = quantity
        if not texts:
            raise forms.ValidationError(NC_FORM_ITEMS_REQUIRED)
        lines = []
        for text in texts:
            try:
                lots, units = resolve_identifiers([text])
            except IdentifierError as exc:
                raise forms.ValidationError(str(exc)) from exc
            lines += [(thing, quantities.get(text)) for thing in (*lots, *units)]
        return lines


class NonConformanceForm(OwnerFormMixin, NonConformanceItemsForm):
    """A new report: what it names (scanned), the defect, severity, source and who owns it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].widget.attrs["autofocus"] = True

    title = forms.CharField(label=_("Title"), max_length=200)
    description = _text(
        _("Defect"), help_text=NonConformance._meta.get_field("description").help_text
    )
    # No default: whoever reports it weighs the severity and names the source.
    severity = forms.ChoiceField(
        label=_("Severity"), choices=[("", _("choose…")), *NonConformance.Severity.choices]
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=[("", _("choose…")), *NonConformance.Source.choices]
    )
    detected_on = _date_field(_("Detected on"), initial=timezone.localdate)
    party = forms.ModelChoiceField(
        label=_("Supplier or customer"),
        queryset=Party.objects.filter(Q(is_supplier=True) | Q(is_customer=True)).order_by("name"),
        required=False,
        empty_label=_("none"),
    )
    owner = OwnerField(label=_("Owner"), required=False, empty_label=_("me"))
    containment = _text(
        _("Containment"),
        rows=2,
        required=False,
        help_text=NonConformance._meta.get_field("containment").help_text,
    )


class NonConformanceDetailsForm(OwnerFormMixin, forms.Form):
    """The report's investigation: severity, owner, containment, findings, root cause and
    disposition, changed while it is open."""

    severity = forms.ChoiceField(label=_("Severity"), choices=NonConformance.Severity.choices)
    owner = OwnerField(label=_("Owner"))
    containment = _text(_("Containment"), rows=2, required=False)
    investigation = _text(_("Investigation findings"), rows=3, required=False)
    root_cause = _text(_("Root cause"), rows=2, required=False)
    root_cause_category = forms.ChoiceField(
        label=_("Root-cause category"),
        choices=[("", "—"), *NonConformance.RootCause.choices],
        required=False,
    )
    disposition = forms.ChoiceField(
        label=_("Disposition"),
        choices=[("", "—"), *NonConformance.Disposition.choices],
        required=False,
    )
    disposition_note = _text(
        _("Disposition justification"),
        rows=2,
        required=False,
        help_text=NonConformance._meta.get_field("disposition_note").help_text,
    )

    @classmethod
    def for_report(cls, nonconformance, data=None, **kwargs):
        initial = {name: getattr(nonconformance, name) for name in cls.base_fields}
        initial["owner"] = nonconformance.owner_id
        return cls(data, initial=initial, **kwargs)


class AdvanceForm(forms.Form):
    status = forms.ChoiceField(choices=NonConformance.Status.choices)


class CapaActionForm(OwnerFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=CapaAction.Kind.choices,
        widget=forms.RadioSelect,
        initial=CapaAction.Kind.CORRECTIVE,
    )
    description = _text(_("Action"), rows=2)
    owner = OwnerField(label=_("Owner"))
    due_on = _date_field(_("Due"))


class _OneActionForm(forms.Form):
    """A form about one action of the report (its number posted as `action`)."""

    action = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, nonconformance, **kwargs):
        self.nonconformance = nonconformance
        super().__init__(*args, **kwargs)

    def clean_action(self):
        number = self.cleaned_data["action"]
        action = next((a for a in self.nonconformance.actions.all() if a.number == number), None)
        if action is None:
            raise forms.ValidationError(CAPA_FORM_PICK_ACTION)
        return action


class CapaCompleteForm(_OneActionForm):
    note = _text(_("What was done"), rows=2, help_text=_("With its evidence (record, document)."))


class CapaVerifyForm(_OneActionForm):
    effective = forms.TypedChoiceField(
        label=_("Effective?"),
        choices=[("yes", _("yes, it worked")), ("no", _("no, reopen it"))],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": CAPA_FORM_VERDICT_REQUIRED},
    )
    note = _text(_("Evidence"), rows=2)
    new_due_on = forms.DateField(
        label=_("New due date, if not effective"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": NC_FORM_DATE_REQUIRED},
    )


class CapaCancelForm(_OneActionForm):
    reason = _text(_("Why cancel it"), rows=2)


class CapaRescheduleForm(OwnerFormMixin, _OneActionForm):
    due_on = _date_field(_("New due date"))
    owner = OwnerField(label=_("Owner"))
    reason = _text(_("Why"), rows=2)


class CloseForm(forms.Form):
    closure = forms.ChoiceField(
        label=_("Closure"),
        choices=NonConformance.Closure.choices,
        widget=forms.RadioSelect,
        initial=NonConformance.Closure.EFFECTIVE,
    )
    statement = _text(
        _("Closing statement"),
        rows=3,
        help_text=_("The evidence that the actions worked, or why no action is needed."),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("Your signature: your name, the time and this statement are recorded."),
    )
