"""Thin views for non-conformances and CAPA actions: forms check, selectors read, services
write. Each form on a report's page posts there with its `action`; a refused one comes back
open with its message, and nothing is written."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView

from inventory.models import Lot, Party, SerialUnit
from inventory.views import FilteredListView

from .. import documents
from ..models import CapaAction, NonConformance
from . import selectors, services
from .filters import CapaActionFilter, NonConformanceFilter
from .forms import (
    AdvanceForm,
    CapaActionForm,
    CapaCancelForm,
    CapaCompleteForm,
    CapaRescheduleForm,
    CapaVerifyForm,
    CloseForm,
    NonConformanceDetailsForm,
    NonConformanceForm,
    NonConformanceItemsForm,
    capa_owners,
)
from .tables import CapaActionTable, NonConformanceTable

NC_REPORTED_MESSAGE = _("%(reference)s is reported; plan its investigation below.")
NC_DONE = {
    "update": _("%(reference)s: the investigation is saved."),
    "add_items": _("%(reference)s: the lots and units are added."),
    "advance": _("%(reference)s is now %(status)s."),
    "add_action": _("Action %(action)s is added."),
    "complete": _("Action %(action)s is recorded as done."),
    "verify": _("Action %(action)s: the effectiveness check is recorded."),
    "cancel": _("Action %(action)s is cancelled."),
    "reschedule": _("Action %(action)s is rescheduled."),
    "close": _("%(reference)s is closed; your signature is recorded."),
}


class NonConformanceListView(FilteredListView):
    permission_required = "recalls.view_nonconformance"
    selector = staticmethod(selectors.nonconformance_list)
    filterset_class = NonConformanceFilter
    table_class = NonConformanceTable
    export_name = "nonconformances"
    eyebrow = _("Quality")
    title = _("Non-conformances")
    noun = _("non-conformance")
    noun_plural = _("non-conformances")
    new_url_name = "quality:nc_new"
    new_label = _("Report a non-conformance")
    new_permission = "recalls.add_nonconformance"
    template_name = "recalls/capa_list.html"


class CapaActionListView(FilteredListView):
    permission_required = "recalls.view_capaaction"
    selector = staticmethod(selectors.capa_action_list)
    filterset_class = CapaActionFilter
    table_class = CapaActionTable
    export_name = "capa-actions"
    eyebrow = _("Quality")
    title = _("CAPA actions")
    noun = _("action")
    noun_plural = _("actions")
    template_name = "recalls/capa_list.html"


class NonConformanceCreateView(PermissionRequiredMixin, FormView):
    """Scan or type what does not conform (or come from a lot or unit page with ?lot= or
    ?serial=), describe it, report it."""

    permission_required = "recalls.add_nonconformance"
    form_class = NonConformanceForm
    template_name = "recalls/nc_new.html"

    def get_initial(self):
        initial = super().get_initial()
        lots = [key for key in self.request.GET.getlist("lot") if key.isdigit()]
        units = [key for key in self.request.GET.getlist("serial") if key.isdigit()]
        labels = [str(lot) for lot in Lot.objects.filter(pk__in=lots).select_related("product")]
        labels += [
            str(unit) for unit in SerialUnit.objects.filter(pk__in=units).select_related("product")
        ]
        if labels:
            initial["items"] = "\n".join(labels)
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            nonconformance = services.nonconformance_report(
                title=data["title"],
                description=data["description"],
                severity=data["severity"],
                source=data["source"],
                detected_on=data["detected_on"],
                items=data["items"],
                party=data["party"],
                owner=data["owner"],
                containment=data["containment"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request, NC_REPORTED_MESSAGE % {"reference": nonconformance.reference}
        )
        return redirect(nonconformance.get_absolute_url())


def _add_errors(form, exc: ValidationError):
    """A service's errors under the field they name, or above the form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class NonConformanceMixin(PermissionRequiredMixin):
    permission_required = "recalls.view_nonconformance"

    def get_nonconformance(self) -> NonConformance:
        if not hasattr(self, "_nonconformance"):
            try:
                self._nonconformance = selectors.nonconformance_for_page(self.kwargs["reference"])
            except NonConformance.DoesNotExist as exc:
                raise Http404(f"No non-conformance {self.kwargs['reference']}.") from exc
        return self._nonconformance


class NonConformanceDetailView(NonConformanceMixin, TemplateView):
    """A report: what it names and their backward trace, the investigation, its actions and
    the forms each role may use at its status."""

    template_name = "recalls/nc_detail.html"
    # Who may use each form; completing an action is also its owner's alone (the service).
    ACTIONS = {
        "update": ("recalls.change_nonconformance",),
        "add_items": ("recalls.change_nonconformance",),
        "advance": ("recalls.change_nonconformance",),
        "add_action": ("recalls.add_capaaction",),
        "complete": ("recalls.complete_capaaction",),
        "verify": ("recalls.verify_capaaction",),
        "cancel": ("recalls.change_capaaction",),
        "reschedule": ("recalls.change_capaaction",),
        "close": ("recalls.close_nonconformance",),
    }
    FORMS = {
        "update": NonConformanceDetailsForm,
        "add_items": NonConformanceItemsForm,
        "advance": AdvanceForm,
        "add_action": CapaActionForm,
        "complete": CapaCompleteForm,
        "verify": CapaVerifyForm,
        "cancel": CapaCancelForm,
        "reschedule": CapaRescheduleForm,
        "close": CloseForm,
    }
    PER_ACTION = ("complete", "verify", "cancel", "reschedule")

    def may(self, action: str) -> bool:
        return self.request.user.has_perms(self.ACTIONS[action])

    def _owners(self):
        if not hasattr(self, "_owner_list"):
            self._owner_list = list(capa_owners())
        return self._owner_list

    def _form(self, action, nonconformance, data=None, initial=None):
        form_class = self.FORMS[action]
        kwargs = {"initial": initial} if initial is not None else {}
        # Several forms share field names on one page: each has ids of its own for its labels.
        number = (initial or {}).get("action") or (data or {}).get("action", "")
        kwargs["auto_id"] = f"{action}{number}-%s"
        if "owner" in form_class.base_fields:
            kwargs["owners"] = self._owners()
        if action == "update":
            return NonConformanceDetailsForm.for_report(nonconformance, data, **kwargs)
        if action in self.PER_ACTION:
            kwargs["nonconformance"] = nonconformance
        return form_class(data, **kwargs)

    def _row(self, capa, nonconformance, bound, today) -> dict:
        """An action with the forms the user may use on it now (a refused one kept bound)."""
        user = self.request.user
        offered = []
        if not nonconformance.is_closed:
            if capa.status == CapaAction.Status.OPEN:
                mine = capa.owner_id == user.pk or user.has_perm("recalls.change_capaaction")
                if self.may("complete") and mine:
                    offered.append("complete")
                if self.may("reschedule"):
                    offered += ["reschedule", "cancel"]
            elif (
                capa.status == CapaAction.Status.DONE
                and self.may("verify")
                and capa.completed_by_id != user.pk
            ):
                offered.append("verify")
        forms = {}
        for name in offered:
            form = bound.get(name)
            if form is None or form.data.get("action") != str(capa.number):
                initial = {"action": capa.number}
                if name == "reschedule":
                    initial.update(due_on=capa.due_on, owner=capa.owner_id)
                form = self._form(name, nonconformance, initial=initial)
            forms[name] = form
        refused = next((name for name in forms if forms[name].is_bound), None)
        return {
            "action": capa,
            "overdue": capa.is_overdue(today),
            "forms": forms,
            "refused": refused,
            "independent_needed": capa.status == CapaAction.Status.DONE
            and capa.completed_by_id == user.pk
            and self.may("verify"),
        }

    @staticmethod
    def _closable(nonconformance) -> bool:
        """Whether closing could succeed now: after the effectiveness check, or as needing no
        action (not critical, no action left that is not cancelled). The service decides."""
        if nonconformance.status == NonConformance.Status.EFFECTIVENESS:
            return True
        return nonconformance.severity != NonConformance.Severity.CRITICAL and all(
            action.status == CapaAction.Status.CANCELLED for action in nonconformance.actions.all()
        )

    def get_context_data(self, bound=None, **kwargs):
        nonconformance = self.get_nonconformance()
        user = self.request.user
        bound = bound or {}
        is_open = not nonconformance.is_closed
        forms = {}
        if is_open:
            for action in ("update", "add_items", "add_action", "close"):
                if self.may(action) and (action != "close" or self._closable(nonconformance)):
                    forms[action] = bound.get(action) or self._form(action, nonconformance)
        today = timezone.localdate()
        rows = [
            self._row(capa, nonconformance, bound, today) for capa in nonconformance.actions.all()
        ]
        steps = []
        if is_open and self.may("advance"):
            steps = [
                (status, NonConformance.Status(status).label)
                for status in services.NC_STEPS.get(nonconformance.status, ())
            ]
        lots, units = selectors.named_trackeds(nonconformance)
        recall_query = urlencode(
            [("lot", lot.pk) for lot in lots]
            + [("serial", unit.pk) for unit in units]
            + [("nc", nonconformance.reference)],
        )
        return super().get_context_data(
            nc=nonconformance,
            named=list(nonconformance.named_items.all()),
            investigation=selectors.nonconformance_investigation(nonconformance),
            rows=rows,
            timeline=list(selectors.nonconformance_timeline(nonconformance)),
            forms=forms,
            steps=steps,
            advance_error=bound.get("advance"),
            can_open_recall=(
                nonconformance.recall_campaign_id is None
                and user.has_perm("recalls.open_recallcampaign")
            ),
            recall_url=f"{reverse('recalls:open')}?{recall_query}",
            today=today,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action_kind", "")
        if action not in self.ACTIONS:
            return HttpResponse(status=400)
        if not self.may(action):
            raise PermissionDenied
        nonconformance = self.get_nonconformance()
        form = self._form(action, nonconformance, request.POST)
        if form.is_valid():
            try:
                done = self._perform(action, nonconformance, form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, self._done(action, nonconformance, done))
                return redirect(nonconformance.get_absolute_url())
        if "action" in form.errors and action in self.PER_ACTION:
            for error in form.errors["action"]:
                messages.error(request, error)
            return redirect(nonconformance.get_absolute_url())
        # Show the refused form with the report as it is in the database.
        del self._nonconformance
        context = self.get_context_data(bound={action: form})
        shown = (
            action == "advance"
            or context["forms"].get(action) is form
            or any(row["refused"] == action for row in context["rows"])
        )
        if not shown:
            # The page no longer offers this form (done meanwhile, not theirs, not closable
            # now): say why above the page.
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(nonconformance.get_absolute_url())
        return self.render_to_response(context)

    def _perform(self, action, nonconformance, data):
        user = self.request.user
        if action == "update":
            return services.nonconformance_update(
                nonconformance=nonconformance, acting_user=user, **data
            )
        if action == "add_items":
            return services.nonconformance_items_add(
                nonconformance=nonconformance, items=data["items"], acting_user=user
            )
        if action == "advance":
            return services.nonconformance_advance(
                nonconformance=nonconformance, status=data["status"], acting_user=user
            )
        if action == "add_action":
            return services.capa_action_add(nonconformance=nonconformance, acting_user=user, **data)
        if action == "close":
            return services.nonconformance_close(
                nonconformance=nonconformance, acting_user=user, **data
            )
        capa = data.pop("action")
        perform = {
            "complete": services.capa_action_complete,
            "verify": services.capa_action_verify,
            "cancel": services.capa_action_cancel,
            "reschedule": services.capa_action_reschedule,
        }[action]
        return perform(action=capa, acting_user=user, **data)

    def _done(self, action, nonconformance, result) -> str:
        values = {"reference": nonconformance.reference}
        if isinstance(result, CapaAction):
            values["action"] = result.reference
        if isinstance(result, NonConformance):
            values["status"] = result.get_status_display()
        return NC_DONE[action] % values


def nonconformance_print_html(nonconformance, request=None) -> str:
    """The report as a print-ready document: facts, items, investigation, actions, signature."""
    company = Party.objects.filter(is_internal=True).order_by("pk").first()
    context = {
        "nc": nonconformance,
        "named": list(nonconformance.named_items.all()),
        "investigation": selectors.nonconformance_investigation(nonconformance),
        "actions": list(nonconformance.actions.all()),
        "timeline": list(selectors.nonconformance_timeline(nonconformance)),
        "company": company,
        "company_name": company.name if company else settings.PRODUCT_NAME,
        "printed_at": timezone.now(),
        "document_title": _("Non-conformance report"),
    }
    return render_to_string("recalls/nc_print.html", context, request=request)


class NonConformancePrintView(NonConformanceMixin, View):
    """The report as HTML to print from the browser, or as a PDF."""

    def get(self, request, reference, fmt):
        if fmt not in ("html", "pdf"):
            raise Http404("Unknown format.")
        nonconformance = self.get_nonconformance()
        if fmt == "html":
            return HttpResponse(nonconformance_print_html(nonconformance, request=request))
        try:
            content = documents.pdf(nonconformance_print_html(nonconformance))
        except documents.PdfUnavailable as exc:
            messages.error(request, str(exc))
            return redirect(nonconformance.get_absolute_url())
        response = HttpResponse(content, content_type="application/pdf")
        name = f"{nonconformance.reference}.pdf"
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response


# --- The recall a report leads to ---


def report_named_in(request) -> NonConformance | None:
    """The report a recall is opened from (?nc=), if the user may see it."""
    reference = request.GET.get("nc", "").strip()
    if not reference or not request.user.has_perm("recalls.view_nonconformance"):
        return None
    return NonConformance.objects.filter(reference=reference).first()


def recall_initial(request) -> dict:
    """A campaign opened from a report starts with its title and defect as the reason."""
    nonconformance = report_named_in(request)
    if nonconformance is None:
        return {}
    return {
        "title": nonconformance.title,
        "reason": _("%(description)s (non-conformance %(reference)s)")
        % {"description": nonconformance.description, "reference": nonconformance.reference},
    }
