"""Quality control pages: specifications, result entry, signed release and rejection, results,
decisions and deviations, a lot's certificate of analysis and release record as PDF."""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView

from . import quality
from . import quality_selectors as selectors
from .models import Deviation, Lot, ReleaseDecision, Specification, TestResult
from .quality_filters import (
    DeviationFilter,
    ReleaseDecisionFilter,
    SpecificationFilter,
    TestResultFilter,
)
from .quality_forms import (
    APPROVE,
    DeviationDecisionForm,
    DeviationRequestForm,
    ResultCorrectionForm,
    ResultEntryForm,
    SignatureForm,
    SpecificationCopyForm,
)
from .quality_tables import (
    DeviationTable,
    ReleaseDecisionTable,
    SpecificationTable,
    TestResultTable,
)
from .services import deviation_decide
from .views import FilteredListView, _add_service_errors, private_file

QUALITY_EYEBROW = _("Quality control")
RESULTS_RECORDED = _("%(count)s results of %(lot)s recorded: %(passed)s passed, %(failed)s failed.")
RELEASED = _("%(lot)s is released, signed by %(name)s.")
REJECTED = _("%(lot)s is rejected, signed by %(name)s.")
DEVIATION_REQUESTED = _("Deviation %(reference)s is raised for “%(test)s” on %(lot)s.")
DEVIATION_DECIDED = _("Deviation %(reference)s is %(status)s.")
SPEC_APPROVED = _("%(specification)s is approved; lots from %(date)s are judged against it.")
SPEC_COPIED = _(
    "%(specification)s is a draft copy of v%(version)s; change its tests, then approve it."
)
NO_SPECIFICATION_TO_ENTER = _(
    "%(lot)s has no approved specification in force on %(date)s, so there is nothing to test "
    "it against yet."
)
PDF_UNAVAILABLE = _("PDF output is not available on this server (%(error)s).")


def _lot_or_404(pk) -> Lot:
    lot = Lot.objects.select_related("product", "supplier", "site").filter(pk=pk).first()
    if lot is None:
        raise Http404(f"No lot {pk}.")
    return lot


# --- lists ----------------------------------------------------------------------------------


class QualityListView(FilteredListView):
    template_name = "inventory/quality/list.html"
    eyebrow = QUALITY_EYEBROW

    def get_context_data(self, **kwargs):
        return super().get_context_data(quality_nav=quality_nav_links(self.request.user), **kwargs)


class SpecificationListView(QualityListView):
    permission_required = "inventory.view_specification"
    selector = staticmethod(selectors.specification_list)
    filterset_class = SpecificationFilter
    table_class = SpecificationTable
    export_name = "specifications"
    title = _("Specifications")
    noun = _("specification")
    noun_plural = _("specifications")


class TestResultListView(QualityListView):
    permission_required = "inventory.view_testresult"
    selector = staticmethod(selectors.test_result_list)
    filterset_class = TestResultFilter
    table_class = TestResultTable
    export_name = "test-results"
    title = _("Test results")
    noun = _("result")
    noun_plural = _("results")


class ReleaseDecisionListView(QualityListView):
    permission_required = "inventory.view_releasedecision"
    selector = staticmethod(selectors.release_decision_list)
    filterset_class = ReleaseDecisionFilter
    table_class = ReleaseDecisionTable
    export_name = "release-decisions"
    title = _("Release decisions")
    noun = _("decision")
    noun_plural = _("decisions")


class DeviationListView(QualityListView):
    permission_required = "inventory.view_deviation"
    selector = staticmethod(selectors.deviation_list)
    filterset_class = DeviationFilter
    table_class = DeviationTable
    export_name = "deviations"
    title = _("Deviations")
    noun = _("deviation")
    noun_plural = _("deviations")


# --- specifications -------------------------------------------------------------------------


class SpecificationDetailView(PermissionRequiredMixin, TemplateView):
    """A version's tests, its place among the product's versions, and a manager's approve and
    copy-forward."""

    permission_required = "inventory.view_specification"
    template_name = "inventory/quality/specification_detail.html"

    def get_object(self) -> Specification:
        try:
            return selectors.specification_for_page(self.kwargs["pk"])
        except Specification.DoesNotExist as exc:
            raise Http404(f"No specification {self.kwargs['pk']}.") from exc

    def get_context_data(self, **kwargs):
        specification = kwargs.pop("specification", None) or self.get_object()
        user = self.request.user
        may_change = user.has_perm("inventory.add_specification")
        kwargs.setdefault("copy_form", SpecificationCopyForm() if may_change else None)
        return super().get_context_data(
            specification=specification,
            tests=list(specification.tests.all()),
            versions=selectors.product_specifications(specification.product),
            result_count=selectors.specification_result_count(specification),
            may_approve=user.has_perm("inventory.approve_specification")
            and not specification.is_approved,
            eyebrow=QUALITY_EYEBROW,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        specification = self.get_object()
        action = request.POST.get("action", "")
        if action == "approve":
            if not request.user.has_perm("inventory.approve_specification"):
                raise PermissionDenied
            try:
                specification = quality.specification_approve(
                    specification=specification, acting_user=request.user
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    SPEC_APPROVED
                    % {"specification": specification, "date": specification.effective_from},
                )
            return redirect(specification)
        if action == "copy":
            if not request.user.has_perm("inventory.add_specification"):
                raise PermissionDenied
            form = SpecificationCopyForm(request.POST)
            if form.is_valid():
                try:
                    copy = quality.specification_copy_forward(
                        specification=specification,
                        effective_from=form.cleaned_data["effective_from"],
                        acting_user=request.user,
                    )
                except ValidationError as exc:
                    _add_service_errors(form, exc)
                else:
                    messages.success(
                        request,
                        SPEC_COPIED % {"specification": copy, "version": specification.version},
                    )
                    return redirect(copy)
            context = self.get_context_data(specification=specification, copy_form=form)
            return self.render_to_response(context, status=400)
        return HttpResponse(status=400)


# --- a lot's results ------------------------------------------------------------------------


class ResultEntryView(PermissionRequiredMixin, FormView):
    """Enter several results of a lot at once, from the lab or from a supplier's certificate."""

    permission_required = ("inventory.view_lot", "inventory.add_testresult")
    template_name = "inventory/quality/results_new.html"
    form_class = ResultEntryForm

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        self.lot = _lot_or_404(kwargs["pk"])
        self.quality = selectors.lot_quality(self.lot)
        if self.quality.specification is None:
            messages.error(
                request,
                NO_SPECIFICATION_TO_ENTER % {"lot": self.lot, "date": self.quality.judged_on},
            )
            return redirect(self.lot)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "lot": self.lot,
            "tests": self.quality.tests,
            "units": self.quality.units,
            "certificates": selectors.supplier_certificates(self.lot.supplier),
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            lot=self.lot, quality=self.quality, eyebrow=QUALITY_EYEBROW, **kwargs
        )

    def form_valid(self, form):
        data = form.cleaned_data
        shared = {
            name: data[name]
            for name in ("tested_at", "performed_by", "lab", "instrument", "source")
        }
        shared["serial_unit"] = data.get("serial_unit")
        if data.get("certificate"):
            shared["certificate"] = data["certificate"]
        try:
            results = quality.lot_results_enter(
                lot=self.lot,
                entries=form.entries,
                new_certificate=form.new_certificate,
                acting_user=self.request.user,
                **shared,
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        passed = sum(1 for result in results if result.passed)
        messages.success(
            self.request,
            RESULTS_RECORDED
            % {
                "count": len(results),
                "lot": self.lot,
                "passed": passed,
                "failed": len(results) - passed,
            },
        )
        return redirect(f"{self.lot.get_absolute_url()}#quality")

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


RESULT_CORRECTED = _("“%(test)s” of %(lot)s is corrected to %(value)s (%(outcome)s).")


class ResultCorrectView(PermissionRequiredMixin, FormView):
    """Correct a wrong result: the right one is recorded and supersedes it, saying why; the
    wrong one stays on file, struck through."""

    permission_required = ("inventory.view_lot", "inventory.add_testresult")
    template_name = "inventory/quality/result_correct.html"
    form_class = ResultCorrectionForm

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        self.lot = _lot_or_404(kwargs["pk"])
        self.result = (
            TestResult.objects.select_related(
                "specification_test__specification", "serial_unit", "certificate"
            )
            .filter(pk=kwargs["result_pk"], lot=self.lot)
            .first()
        )
        if self.result is None:
            raise Http404(f"No result {kwargs['result_pk']} of lot {self.lot.pk}.")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "result": self.result}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            lot=self.lot, result=self.result, eyebrow=QUALITY_EYEBROW, **kwargs
        )

    def form_valid(self, form):
        old = self.result
        data = form.cleaned_data
        try:
            result = quality.test_result_record(
                lot=self.lot,
                specification_test=old.specification_test,
                value=data.get("value"),
                text=data.get("text", ""),
                unit=data.get("unit", ""),
                tested_at=data["tested_at"],
                serial_unit=old.serial_unit,
                performed_by=old.performed_by,
                lab=old.lab,
                instrument=old.instrument,
                source=old.source,
                certificate=old.certificate,
                supersedes=old,
                correction_reason=data["correction_reason"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            RESULT_CORRECTED
            % {
                "test": old.specification_test.name,
                "lot": self.lot,
                "value": result.value_text,
                "outcome": _("passed") if result.passed else _("failed"),
            },
        )
        return redirect(f"{self.lot.get_absolute_url()}#quality")

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class LotSignView(PermissionRequiredMixin, FormView):
    """The evidence a lot is judged on, then the manager's password and statement."""

    permission_required = ("inventory.view_lot", "inventory.sign_releasedecision")
    template_name = "inventory/quality/sign.html"
    form_class = SignatureForm
    decision = "release"

    def dispatch(self, request, *args, **kwargs):
        if not self.has_permission():
            return self.handle_no_permission()
        self.lot = _lot_or_404(kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        quality_of = selectors.lot_quality(self.lot)
        return super().get_context_data(
            lot=self.lot,
            quality=quality_of,
            blockers=quality_of.release_blockers() if self.decision == "release" else [],
            decision=self.decision,
            meaning=(
                ReleaseDecision.Meaning.RELEASE
                if self.decision == "release"
                else ReleaseDecision.Meaning.REJECT
            ).label,
            eyebrow=QUALITY_EYEBROW,
            **kwargs,
        )

    def form_valid(self, form):
        sign = quality.lot_release_sign if self.decision == "release" else quality.lot_reject_sign
        try:
            decision = sign(
                lot=self.lot,
                password=form.cleaned_data["password"],
                statement=form.cleaned_data["statement"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
            return self.render_to_response(self.get_context_data(form=form), status=400)
        done = RELEASED if self.decision == "release" else REJECTED
        messages.success(self.request, done % {"lot": self.lot, "name": decision.signer_name})
        return redirect(f"{self.lot.get_absolute_url()}#quality")

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


class TestDeviationRequestView(PermissionRequiredMixin, View):
    """“Request a deviation” for a required test missing or failed, from the lot's card."""

    __test__ = False  # a view, not a pytest test class
    permission_required = ("inventory.view_lot", "inventory.add_deviation")

    def post(self, request, pk):
        lot = _lot_or_404(pk)
        quality_of = selectors.lot_quality(lot)
        form = DeviationRequestForm(request.POST, tests=quality_of.tests)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(f"{lot.get_absolute_url()}#quality")
        test = form.cleaned_data["specification_test"]
        try:
            deviation = quality.test_deviation_request(
                lot=lot,
                specification_test=test,
                description=form.cleaned_data["description"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(f"{lot.get_absolute_url()}#quality")
        messages.success(
            request,
            DEVIATION_REQUESTED % {"reference": deviation.reference, "test": test.name, "lot": lot},
        )
        return redirect(deviation)


class LotQualityRecordView(PermissionRequiredMixin, View):
    """A lot's certificate of analysis and release record, to print or send, as a PDF."""

    permission_required = ("inventory.view_lot", "inventory.view_testresult")

    def get(self, request, pk):
        lot = _lot_or_404(pk)
        quality_of = selectors.lot_quality(lot)
        as_html = request.GET.get("format") == "html"
        html = render_to_string(
            "inventory/quality/record.html",
            {
                "lot": lot,
                "quality": quality_of,
                "printed_at": timezone.now(),
                # Shown in the browser, its inline styles pass the Content Security Policy.
                "csp_nonce": request.csp_nonce if as_html else "",
            },
        )
        if as_html:
            return HttpResponse(html)
        try:
            content = quality_record_pdf(html)
        except OSError as exc:
            messages.error(request, PDF_UNAVAILABLE % {"error": exc})
            return redirect(lot)
        response = HttpResponse(content, content_type="application/pdf")
        name = f"quality-record-{lot.product.sku}-{lot.code}.pdf"
        response["Content-Disposition"] = content_disposition_header(False, name)
        return response


def quality_record_pdf(html: str) -> bytes:
    """The record laid out by WeasyPrint; its CSS is inline, nothing is fetched."""
    import weasyprint  # loads Pango: only when a PDF is asked for

    return weasyprint.HTML(string=html, url_fetcher=_refuse).write_pdf()


def _refuse(url, *args, **kwargs):
    raise ValueError(f"{url} is not fetched for a quality record")


class CertificateFileView(PermissionRequiredMixin, View):
    """A supplier's certificate PDF, to signed-in users who may see certificates: never from a
    public URL."""

    permission_required = "inventory.view_certificate"

    def get(self, request, pk):
        certificate = selectors.certificate_for_file(pk)
        if certificate is None:
            raise Http404(f"No certificate {pk}.")
        return private_file(
            certificate.file,
            content_type="application/pdf",
            filename=f"certificate-{certificate.pk}.pdf",
            missing=f"The file of certificate {pk} is missing.",
        )


# --- deviations -----------------------------------------------------------------------------


class DeviationDetailView(PermissionRequiredMixin, TemplateView):
    """A deviation, the lot or unit it stands against, and a manager's decision."""

    permission_required = "inventory.view_deviation"
    template_name = "inventory/quality/deviation_detail.html"

    def get_object(self) -> Deviation:
        try:
            return selectors.deviation_for_page(self.kwargs["reference"])
        except Deviation.DoesNotExist as exc:
            raise Http404(f"No deviation {self.kwargs['reference']}.") from exc

    def get_context_data(self, **kwargs):
        deviation = kwargs.pop("deviation", None) or self.get_object()
        may_decide = (
            self.request.user.has_perm("inventory.decide_deviation")
            and deviation.status == Deviation.Status.OPEN
        )
        kwargs.setdefault("decision_form", DeviationDecisionForm() if may_decide else None)
        tracked = deviation.item.tracked
        return super().get_context_data(
            deviation=deviation,
            tracked=tracked,
            tracked_url=tracked.get_absolute_url(),
            eyebrow=QUALITY_EYEBROW,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        if not request.user.has_perm("inventory.decide_deviation"):
            raise PermissionDenied
        deviation = self.get_object()
        form = DeviationDecisionForm(request.POST)
        if form.is_valid():
            try:
                deviation = deviation_decide(
                    deviation=deviation,
                    approve=form.cleaned_data["decision"] == APPROVE,
                    justification=form.cleaned_data["justification"],
                    acting_user=request.user,
                )
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    DEVIATION_DECIDED
                    % {"reference": deviation.reference, "status": deviation.get_status_display()},
                )
                return redirect(deviation)
        context = self.get_context_data(deviation=deviation, decision_form=form)
        return self.render_to_response(context, status=400)


QUALITY_NAV = (
    ("specification_list", _("Specifications"), "inventory.view_specification"),
    ("test_result_list", _("Test results"), "inventory.view_testresult"),
    ("release_decision_list", _("Release decisions"), "inventory.view_releasedecision"),
    ("deviation_list", _("Deviations"), "inventory.view_deviation"),
)


def quality_nav_links(user) -> list[tuple[str, str, str]]:
    """The quality lists' own navigation: (URL name, URL, label) of those the user may see."""
    return [
        (name, reverse(name), label) for name, label, perm in QUALITY_NAV if user.has_perm(perm)
    ]
