"""Thin views for recall campaigns: forms check input, selectors read, services write."""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin

from inventory import formulas
from inventory.jobs import export_later
from inventory.models import Lot, SerialUnit
from inventory.views import ListExportMixin

from . import documents, jobs, reports, selectors, services
from . import notices as notice_text
from .capa import services as capa_services
from .capa import views as capa_views
from .filters import AffectedItemFilter, CampaignFilter, NoticeFilter
from .forms import (
    CampaignOpenForm,
    NoticeTextForm,
    RescopeForm,
    ResolveForm,
    ResponseForm,
    ReverseForm,
    ScopeFields,
    SendForm,
    SignatureForm,
    TerminateForm,
)
from .models import ConsigneeNotice, ItemResolution, RecallCampaign
from .scope import describe
from .tables import AffectedItemTable, CampaignTable, CountedPaginator, NoticeTable

TIMELINE_SHOWN = 50
SEGMENTS = (
    ("used", _("used in affected items")),
    ("recovered", _("recovered")),
    ("destroyed", _("destroyed")),
    ("consumed", _("consumed or sold")),
    ("unaccounted", _("not accounted for")),
)


def _add_errors(form, exc: ValidationError):
    """A service's errors on the form: on their field when the form has it, else on top."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _message_errors(request, exc: ValidationError):
    for message in exc.messages:
        messages.error(request, message)


def _form_errors(request, form):
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


def _started(request, campaign):
    """Open a draft in the background; where the job finished at once, its outcome."""
    job = jobs.recall_start_later(campaign=campaign, acting_user=request.user)
    if not job.is_finished:
        return redirect(job)
    if job.status == job.Status.FAILED:
        for message in job.errors:
            messages.error(request, message)
    else:
        messages.success(request, job.result["message"])
    return redirect(campaign.get_absolute_url())


def _pages(filterset, total: int | None) -> dict:
    """A table's pagination: 50 rows a page, and the rows' count given when the filter
    keeps them all and the campaign's progress has counted them already."""
    if total is None or not filterset.is_valid():
        return {"per_page": 50}
    if any(value not in (None, "") for value in filterset.form.cleaned_data.values()):
        return {"per_page": 50}
    return {"per_page": 50, "paginator_class": CountedPaginator, "count": total}


class CampaignMixin(PermissionRequiredMixin):
    """A view of one campaign, named by its reference in the URL."""

    def get_campaign(self) -> RecallCampaign:
        if not hasattr(self, "_campaign"):
            try:
                self._campaign = selectors.campaign_by_reference(self.kwargs["reference"])
            except RecallCampaign.DoesNotExist as exc:
                raise Http404(f"No campaign {self.kwargs['reference']}.") from exc
        return self._campaign

    def back(self, anchor: str = ""):
        return redirect(self.get_campaign().get_absolute_url() + anchor)

    def get_context_data(self, **kwargs):
        return super().get_context_data(campaign=self.get_campaign(), **kwargs)


class CampaignListView(PermissionRequiredMixin, ListExportMixin, SingleTableMixin, FilterView):
    permission_required = "recalls.view_recallcampaign"
    export_name = "recall-campaigns"
    title = _("Recall campaigns")
    template_name = "recalls/campaign_list.html"
    table_class = CampaignTable
    filterset_class = CampaignFilter

    def get_queryset(self):
        return selectors.campaigns()

    def get_context_data(self, **kwargs):
        return super().get_context_data(counts=selectors.campaign_counts(), **kwargs)


class CampaignOpenView(PermissionRequiredMixin, FormView):
    """Name the scope and the strategy; open at once or keep a draft."""

    permission_required = "recalls.open_recallcampaign"
    template_name = "recalls/campaign_open.html"
    form_class = CampaignOpenForm

    def get_initial(self):
        """Started from a lot or unit page (?lot= / ?serial=), a trace (?q=…) or the admin."""
        labels = [text for text in self.request.GET.getlist("q") if text.strip()]
        lots = [key for key in self.request.GET.getlist("lot") if key.isdigit()]
        units = [key for key in self.request.GET.getlist("serial") if key.isdigit()]
        labels += [str(lot) for lot in Lot.objects.filter(pk__in=lots).select_related("product")]
        labels += [
            str(unit) for unit in SerialUnit.objects.filter(pk__in=units).select_related("product")
        ]
        initial = {"identifiers": "\n".join(labels), "is_drill": "drill" in self.request.GET}
        return {**initial, **capa_views.recall_initial(self.request)}

    def form_valid(self, form):
        try:
            # Opened from a non-conformance (?nc=), the report records the campaign.
            campaign = capa_services.recall_draft_from(
                nonconformance=capa_views.report_named_in(self.request),
                acting_user=self.request.user,
                **form.service_kwargs(),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
            return self.form_invalid(form)
        if "draft" in self.request.POST:
            messages.success(self.request, _("Draft %(ref)s saved.") % {"ref": campaign.reference})
            return redirect(campaign.get_absolute_url())
        # Tracing and freezing a large scope takes a while: a job does it, its page follows it.
        return _started(self.request, campaign)


class CampaignDetailView(CampaignMixin, TemplateView):
    """Everything about a campaign on one page, in a constant number of queries."""

    permission_required = "recalls.view_recallcampaign"
    template_name = "recalls/campaign_detail.html"

    def get_context_data(self, **kwargs):
        campaign = self.get_campaign()
        user = self.request.user
        working = campaign.status in (
            RecallCampaign.Status.ONGOING,
            RecallCampaign.Status.COMPLETED,
        )
        can_resolve = working and user.has_perm("recalls.add_itemresolution")
        can_send = campaign.is_open and user.has_perm("recalls.send_consigneenotice")
        can_respond = working and user.has_perm("recalls.change_consigneenotice")

        progress = selectors.campaign_progress(campaign) if campaign.opened_at else None
        item_filter = AffectedItemFilter(
            self.request.GET, queryset=selectors.affected_items(campaign), prefix="items"
        )
        lines = AffectedItemTable(
            item_filter.qs,
            campaign=campaign,
            can_resolve=can_resolve,
            prefix="items-",
            order_by_field="sort",
        )
        RequestConfig(
            self.request, paginate=_pages(item_filter, progress and progress.lines)
        ).configure(lines)
        notice_filter = NoticeFilter(
            self.request.GET, queryset=selectors.consignee_notices(campaign), prefix="notices"
        )
        consignees = NoticeTable(
            notice_filter.qs,
            campaign=campaign,
            can_send=can_send,
            can_respond=can_respond,
            prefix="notices-",
            order_by_field="sort",
        )
        RequestConfig(
            self.request, paginate=_pages(notice_filter, progress and progress.consignees)
        ).configure(consignees)
        timeline = list(selectors.campaign_timeline(campaign).reverse()[: TIMELINE_SHOWN + 1])
        return super().get_context_data(
            scope=[describe(entry) for entry in campaign.scope],
            progress=progress,
            balances=[_balance_bar(balance) for balance in progress.balances] if progress else [],
            lines=lines,
            item_filter=item_filter,
            consignees=consignees,
            notice_filter=notice_filter,
            resolve_form=ResolveForm(),
            send_form=SendForm(),
            timeline=timeline[:TIMELINE_SHOWN],
            timeline_more=len(timeline) > TIMELINE_SHOWN,
            signatures=selectors.campaign_signatures(campaign),
            can_open=user.has_perm("recalls.open_recallcampaign"),
            can_close=user.has_perm("recalls.close_recallcampaign"),
            can_resolve=can_resolve,
            can_send=can_send,
            can_respond=can_respond,
            owners=(
                selectors.registered_owner_counts(campaign)
                if user.has_perm("inventory.view_unitownership")
                else None
            ),
            **kwargs,
        )


def _balance_bar(balance) -> dict:
    """A unit's mass balance as segments of a bar: what each share of the produced is."""
    total = balance.produced or 1
    values = {
        "used": balance.used,
        "recovered": min(balance.recovered, balance.to_recover),
        "destroyed": balance.destroyed,
        "consumed": balance.consumed,
        "unaccounted": balance.unaccounted,
    }
    segments, offset = [], 0.0
    for name, label in SEGMENTS:
        share = float(values[name]) * 100 / float(total)
        share = max(0.0, min(share, 100.0 - offset))
        segments.append(
            {"name": name, "label": label, "value": values[name], "x": offset, "width": share}
        )
        offset += share
    return {"balance": balance, "segments": segments}


class CampaignStartView(CampaignMixin, View):
    """A draft opens: the snapshot is frozen and the stock held."""

    permission_required = "recalls.open_recallcampaign"

    def post(self, request, reference):
        return _started(request, self.get_campaign())


class CampaignRescopeView(CampaignMixin, FormView):
    permission_required = "recalls.open_recallcampaign"
    template_name = "recalls/campaign_rescope.html"
    form_class = RescopeForm

    def get_initial(self):
        return ScopeFields.initial_for(self.get_campaign().scope)

    def form_valid(self, form):
        try:
            campaign = services.recall_rescope(
                campaign=self.get_campaign(),
                scope_entries=form.cleaned_data["scope_entries"],
                reason=form.cleaned_data["reason"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
            return self.form_invalid(form)
        entry = campaign.timeline.order_by("-pk").first()
        messages.success(self.request, entry.message if entry else _("Re-scoped."))
        return self.back()


class ResolveView(CampaignMixin, View):
    """Staff resolve one line or many: the form on the campaign page or a line's page."""

    permission_required = "recalls.add_itemresolution"

    def post(self, request, reference):
        form = ResolveForm(request.POST)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = ""
        back = redirect(target) if target else self.back("#lines")
        if not form.is_valid():
            _form_errors(request, form)
            return back
        data = form.cleaned_data
        try:
            entries = services.affected_items_resolve(
                campaign=self.get_campaign(),
                items=data["lines"],
                outcome=data["outcome"],
                quantity=data["quantity"],
                occurred_at=data["occurred_at"],
                evidence=data["evidence"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            _message_errors(request, exc)
        else:
            entry = self.get_campaign().timeline.order_by("-pk").first()
            messages.success(
                request, entry.message if entry else _("Resolved %d line(s).") % len(entries)
            )
        return back


class LineView(CampaignMixin, TemplateView):
    """One affected line: where it was, its path, and every resolution recorded for it."""

    permission_required = "recalls.view_affecteditem"
    template_name = "recalls/line.html"

    def get_context_data(self, **kwargs):
        campaign = self.get_campaign()
        line = selectors.affected_line(campaign, self.kwargs["pk"])
        if line is None:
            raise Http404("No such line in this campaign.")
        working = campaign.status in (
            RecallCampaign.Status.ONGOING,
            RecallCampaign.Status.COMPLETED,
        )
        can_resolve = working and self.request.user.has_perm("recalls.add_itemresolution")
        left = line.quantity_left
        return super().get_context_data(
            line=line,
            left=left,
            resolutions=selectors.line_resolutions(line),
            # Plain digits: a normalized Decimal of 30 would show in the field as "3E+1".
            resolve_form=ResolveForm(initial={"quantity": f"{left.normalize():f}"}),
            reverse_form=ReverseForm(),
            can_resolve=can_resolve and line.removed_at is None,
            **kwargs,
        )


class ReverseView(CampaignMixin, View):
    permission_required = "recalls.add_itemresolution"

    def post(self, request, reference, pk):
        campaign = self.get_campaign()
        resolution = ItemResolution.objects.filter(campaign=campaign, pk=pk).first()
        if resolution is None:
            raise Http404("No such resolution in this campaign.")
        form = ReverseForm(request.POST)
        if not form.is_valid():
            _form_errors(request, form)
        else:
            try:
                services.resolution_reverse(
                    resolution=resolution,
                    reason=form.cleaned_data["reason"],
                    acting_user=request.user,
                )
            except ValidationError as exc:
                _message_errors(request, exc)
            else:
                messages.success(request, _("The resolution was reversed."))
        return redirect("recalls:line", reference=reference, pk=resolution.affected_item_id)


class NoticeTextView(CampaignMixin, FormView):
    """The notice's wording, with a preview for the first consignee."""

    permission_required = "recalls.send_consigneenotice"
    template_name = "recalls/notice_text.html"
    form_class = NoticeTextForm

    def get_initial(self):
        campaign = self.get_campaign()
        return {"subject": campaign.notice_subject, "body": campaign.notice_body}

    def get_context_data(self, **kwargs):
        campaign = self.get_campaign()
        sample = selectors.consignee_notices(campaign).first()
        preview = None
        if sample is not None and campaign.notice_body:
            try:
                preview = notice_text.render(campaign, sample)
            except Exception as exc:  # a template that compiles can still fail to render
                preview = (str(_("The notice cannot be rendered")), str(exc))
        return super().get_context_data(sample=sample, preview=preview, **kwargs)

    def form_valid(self, form):
        try:
            services.campaign_notice_update(
                campaign=self.get_campaign(),
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            mapping = {"notice_subject": "subject", "notice_body": "body"}
            if hasattr(exc, "error_dict"):
                exc = ValidationError(
                    {mapping.get(name, name): errors for name, errors in exc.error_dict.items()}
                )
            _add_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("The notice's wording is saved."))
        return redirect("recalls:notice_text", reference=self.get_campaign().reference)


class NoticesSendView(CampaignMixin, View):
    permission_required = "recalls.send_consigneenotice"

    def post(self, request, reference):
        form = SendForm(request.POST)
        if not form.is_valid():
            _form_errors(request, form)
            return self.back("#consignees")
        data = form.cleaned_data
        try:
            sent = services.notices_send(
                campaign=self.get_campaign(),
                notices_to_send=data["notices"],
                method=data["method"],
                sent_at=data["sent_at"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            _message_errors(request, exc)
            return self.back("#consignees")
        messages.success(
            request,
            _("%(count)d notice(s) recorded as sent by %(method)s.")
            % {"count": len(sent), "method": ConsigneeNotice.Method(data["method"]).label},
        )
        emailed = data["method"] == ConsigneeNotice.Method.EMAIL
        if emailed and len(sent) > notice_text.NOTICES_IN_BACKGROUND:
            # The service queued a job for the e-mails: its page follows them going out.
            return redirect(jobs.latest_delivery(self.get_campaign(), request.user))
        return self.back("#consignees")


class ResponseView(CampaignMixin, FormView):
    """A consignee's answer and the effectiveness check."""

    permission_required = "recalls.change_consigneenotice"
    template_name = "recalls/response.html"

    def get_notice(self) -> ConsigneeNotice:
        if not hasattr(self, "_notice"):
            self._notice = (
                selectors.consignee_notices(self.get_campaign())
                .filter(pk=self.kwargs["pk"])
                .first()
            )
            if self._notice is None:
                raise Http404("No such consignee in this campaign.")
        return self._notice

    def get_form(self, form_class=None):
        data = self.request.POST if self.request.method == "POST" else None
        return ResponseForm.for_notice(self.get_notice(), data)

    def get_context_data(self, **kwargs):
        notice = self.get_notice()
        return super().get_context_data(
            notice=notice,
            lines=selectors.consignee_lines(self.get_campaign(), notice.party_id),
            **kwargs,
        )

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            notice = services.notice_record_response(
                notice=self.get_notice(), acting_user=self.request.user, **data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Answer from %(party)s recorded: %(summary)s")
            % {"party": notice.party.name, "summary": notice_text.response_summary(notice)},
        )
        return self.back("#consignees")


class _SignView(CampaignMixin, FormView):
    permission_required = "recalls.close_recallcampaign"
    template_name = "recalls/sign.html"
    meaning = ""

    def get_context_data(self, **kwargs):
        campaign = self.get_campaign()
        return super().get_context_data(
            meaning=self.meaning,
            gaps=selectors.termination_gaps(campaign) if campaign.opened_at else [],
            progress=selectors.campaign_progress(campaign) if campaign.opened_at else None,
            **kwargs,
        )

    def form_valid(self, form):
        try:
            campaign = self.sign(form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("%(ref)s is %(status)s; your signature is recorded.")
            % {"ref": campaign.reference, "status": campaign.get_status_display()},
        )
        return self.back()


class CompleteView(_SignView):
    form_class = SignatureForm
    meaning = "complete"

    def sign(self, data):
        return services.recall_complete(
            campaign=self.get_campaign(),
            password=data["password"],
            statement=data["statement"],
            acting_user=self.request.user,
        )


class TerminateView(_SignView):
    form_class = TerminateForm
    meaning = "terminate"

    def sign(self, data):
        return services.recall_terminate(
            campaign=self.get_campaign(),
            password=data["password"],
            statement=data["statement"],
            justification=data["justification"],
            acting_user=self.request.user,
        )


class ReportView(CampaignMixin, View):
    """The campaign's files: affected items as CSV or XLSX, everything as JSON."""

    permission_required = "recalls.view_recallcampaign"

    def get(self, request, reference, fmt):
        if fmt not in reports.FORMATS:
            raise Http404("Unknown report format.")
        campaign = self.get_campaign()
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        name = f"{campaign.reference}-affected-{stamp}.{fmt}"
        # Tens of thousands of lines take a while to write: a job does it, its page offers
        # the file when it is ready.
        what = _("Affected items of %(ref)s") % {"ref": campaign.reference}
        if later := export_later(request, selectors.line_count(campaign), what):
            return later
        write, content_type = reports.FORMATS[fmt]
        response = HttpResponse(write(campaign), content_type=content_type)
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response


class DocumentView(CampaignMixin, View):
    """The full recall report (the drill report for a drill), a preview of the next status
    report, and the consignee notices (all, or one with ?notice=), as print-ready HTML or PDF."""

    permission_required = "recalls.view_recallcampaign"
    DOCUMENTS = {
        "report": (documents.report_html, "report"),
        "status": (documents.status_report_html, "status-report"),
        "notices": (documents.notices_html, "notices"),
    }

    def get(self, request, reference, document, fmt):
        if document not in self.DOCUMENTS or fmt not in ("html", "pdf"):
            raise Http404("Unknown document.")
        campaign = self.get_campaign()
        render, stem = self.DOCUMENTS[document]
        if fmt == "pdf" and "notice" not in request.GET:
            # A PDF of thousands of lines takes minutes to lay out: a job writes it.
            size = (
                campaign.notices.count()
                if document == "notices"
                else selectors.line_count(campaign)
            )
            what = _("%(document)s of %(ref)s") % {"document": stem, "ref": campaign.reference}
            later = export_later(request, size, what, threshold=jobs.DOCUMENT_PDF_IN_BACKGROUND)
            if later:
                return later
        kwargs = {}
        if document == "notices" and request.GET.get("notice", "").isdigit():
            notice = campaign.notices.filter(pk=int(request.GET["notice"])).first()
            if notice is None:
                raise Http404("No such consignee in this campaign.")
            kwargs["notices"] = [notice.pk]
            stem = f"notice-{notice.pk}"
        if fmt == "html":
            return HttpResponse(render(campaign, request=request, **kwargs))
        return _pdf_response(request, campaign, render(campaign, **kwargs), stem)


def _pdf_response(request, campaign, html: str, stem: str):
    try:
        content = documents.pdf(html)
    except documents.PdfUnavailable as exc:
        messages.error(request, str(exc))
        return redirect(campaign.get_absolute_url())
    response = HttpResponse(content, content_type="application/pdf")
    name = f"{campaign.reference}-{stem}.pdf"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


class StatusReportIssueView(CampaignMixin, View):
    """Issue the next numbered 21 CFR 7.53 status report: on the timeline, and as a PDF."""

    permission_required = "recalls.view_recallcampaign"

    def post(self, request, reference):
        campaign = self.get_campaign()
        try:
            number = services.status_report_issue(campaign=campaign, acting_user=request.user)
        except ValidationError as exc:
            _message_errors(request, exc)
            return self.back()
        html = documents.status_report_html(campaign, number=number)
        return _pdf_response(request, campaign, html, f"status-report-{number}")


class OwnersExportView(CampaignMixin, View):
    """The registered owners of the campaign's units who agreed to be contacted, as CSV for a
    mailing: the consumer level of a recall that no consignee list reaches."""

    permission_required = ("recalls.view_recallcampaign", "inventory.view_unitownership")

    def get(self, request, reference):
        campaign = self.get_campaign()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"{campaign.reference}-owners-{timezone.localtime():%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = content_disposition_header(True, name)
        writer = formulas.csv_writer(response)
        writer.writerow(OWNER_COLUMNS)
        for owner in selectors.owners_to_contact(campaign).iterator(chunk_size=2000):
            unit = owner.serial_unit
            writer.writerow(
                [
                    owner.owner_name,
                    owner.email,
                    owner.phone,
                    unit.product.sku,
                    unit.product.name,
                    unit.serial,
                    owner.started_on.isoformat(),
                    timezone.localtime(owner.consent_at).date().isoformat(),
                ]
            )
        return response


OWNER_COLUMNS = [
    "owner",
    "email",
    "phone",
    "sku",
    "product",
    "serial",
    "owner_since",
    "consent_given",
]
