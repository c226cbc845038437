"""Thin views: forms validate, selectors read, services write."""

import json
import logging
import re
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin, UserPassesTestMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import (
    content_disposition_header,
    url_has_allowed_host_and_scheme,
    urlencode,
)
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views import View
from django.views.generic import FormView, TemplateView
from django_filters.views import FilterView
from django_tables2 import RequestConfig, SingleTableMixin
from django_tables2.export import ExportMixin
from django_tables2.export.export import TableExport

from traceability.roles import QUALITY_MANAGERS, user_roles

from . import conditions, formulas, jobs, label_sheets, selectors, services
from .epcis.exporter import epcis_export
from .filters import (
    ClaimFilter,
    CounterfeitFlagFilter,
    EventFilter,
    LotFilter,
    MeasurementFilter,
    PartyFilter,
    ProductFilter,
    ReturnFilter,
    SerialUnitFilter,
)
from .forms import (
    APPROVE,
    EPCIS_MAX_UPLOAD_SIZE,
    SHIPPING_DOCUMENTS,
    ClaimCloseForm,
    ClaimDecisionForm,
    ClaimRepairForm,
    ClaimReplaceForm,
    CounterfeitFlagReviewForm,
    EpcisImportForm,
    ExpiryReportForm,
    Fsma204Form,
    OwnerForm,
    PickForm,
    ProductConditionLimitForm,
    ReadingFormSet,
    ReturnDecisionForm,
    ReturnForm,
    ReturnRepairForm,
    SerialRunForm,
    ServiceRecordForm,
    ShipmentForm,
    StatusChangeForm,
    TraceForm,
    WarrantyClaimForm,
    fefo_proposal,
)
from .fsma import FILE_FORMATS, fsma204_rows
from .labels import item_label
from .models import (
    STATUS_LABELS,
    ConditionLimit,
    CounterfeitFlag,
    Deviation,
    Item,
    Lot,
    Product,
    SerialRun,
    SerialUnit,
    TraceEvent,
    UnitReturn,
    WarrantyClaim,
)
from .tables import (
    LIST_PAGE_SIZE,
    ClaimTable,
    CounterfeitFlagTable,
    EventTable,
    ExpiryTable,
    Fsma204Table,
    LotTable,
    MeasurementTable,
    PartyTable,
    ProductLotTable,
    ProductTable,
    ProductUnitTable,
    ReturnTable,
    SerialUnitTable,
    SortedListData,
    TracedItemTable,
    expiry_rows,
    stock_rows,
    traced_rows,
)
from .trace import Direction, trace
from .xlsx import xlsx_dataset_bytes

TREE_ROWS_SHOWN = 300
EPCIS_EXPORT = "epcis"  # ?_export=epcis, beside django-tables2's csv and xlsx
EPCIS_CONTENT_TYPE = "application/ld+json"
EPCIS_IMPORT_SUMMARY = "epcis_import_summary"
# The importer's messages: "event 3, epcList[0]: …", "event 3: …" or "document: …".
EPCIS_PROBLEM = re.compile(r"^event (?P<event>\d+)(?:, (?P<field>.+?))?: (?P<text>.*)$", re.S)

logger = logging.getLogger(__name__)


def _trace_context(result, *, limit=TREE_ROWS_SHOWN):
    tree = result.tree()
    parties = selectors.parties_by_pk(
        {party.pk for party in (*result.consignees, *result.suppliers)}
    )
    return {
        "result": result,
        "tree": tree[:limit],
        "tree_total": len(tree),
        "consignees": [(parties[p.pk], p) for p in result.consignees],
        "suppliers": [(parties[p.pk], p) for p in result.suppliers],
    }


def _epcis_download(document: dict, *name_parts: str) -> HttpResponse:
    """An EPCIS document as a JSON-LD attachment named epcis-<part>-<part>….jsonld."""
    stem = "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in ("epcis", *name_parts))
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type=EPCIS_CONTENT_TYPE
    )
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}.jsonld")
    return response


def _trace_epcis_download(result) -> HttpResponse:
    """The events naming any item of a trace, its roots included."""
    keys = {kind: [item.pk for item in result.all_items if item.kind == kind] for kind in Item.Kind}
    # Lists, even empty ones: without lots and units the exporter would export every event.
    document = epcis_export(
        lots=list(Lot.objects.filter(pk__in=keys[Item.Kind.LOT])),
        serial_units=list(SerialUnit.objects.filter(pk__in=keys[Item.Kind.SERIAL])),
    )
    name = ["trace", str(result.direction)]
    if result.roots:
        first = result.roots[0]
        name += [first.sku, first.kind, first.lot if first.kind == Item.Kind.LOT else first.serial]
    if len(result.roots) > 1:
        name.append(f"and-{len(result.roots) - 1}-more")
    return _epcis_download(document, *name)


class _TableExport(TableExport):
    """django-tables2's export, safe to open in a spreadsheet: lot codes and serials may start
    with "=" (GS1 allows it), and must not become formulas. XLSX text cells stay text; CSV
    formula cells are neutralised (inventory/formulas.py)."""

    def export(self):
        if self.format == self.XLSX:
            return xlsx_dataset_bytes(self.dataset)
        if self.format == self.CSV:
            return formulas.neutralised(self.dataset).export("csv")
        return super().export()


class TraceView(PermissionRequiredMixin, TemplateView):
    """Type or scan an identifier and see everything it went into or came from."""

    permission_required = ("inventory.view_lot", "inventory.view_serialunit")
    template_name = "inventory/trace.html"

    def get(self, request, *args, **kwargs):
        data = None
        if request.GET:
            data = request.GET.copy()
            data.setdefault("direction", Direction.FORWARD.value)
        form = TraceForm(data)
        context = {"form": form}
        if form.is_bound and form.is_valid():
            result = trace(
                direction=form.cleaned_data["direction"],
                lots=form.lots,
                serial_units=form.serial_units,
            )
            if request.GET.get("_export") == EPCIS_EXPORT:
                return _trace_epcis_download(result)
            table = TracedItemTable(traced_rows(result))
            RequestConfig(request).configure(table)
            export_format = request.GET.get("_export")
            if _TableExport.is_valid_format(export_format):
                if later := jobs.export_later(request, len(table.rows), _("Trace")):
                    return later
                name = f"trace-{result.direction}.{export_format}"
                return _TableExport(export_format, table).response(name)
            context.update(_trace_context(result), table=table)
        return self.render_to_response(self.get_context_data(**context))


class Fsma204View(PermissionRequiredMixin, TemplateView):
    """The FSMA 204 sortable spreadsheet of traceability lots, or of a product's events on
    some dates, as a table and as CSV or XLSX."""

    permission_required = ("inventory.view_lot", "inventory.view_traceevent")
    template_name = "inventory/fsma204.html"

    def get(self, request, *args, **kwargs):
        asked = any(request.GET.get(name) for name in ("q", "product", "date_from", "date_to"))
        form = Fsma204Form(request.GET if asked else None)
        context = {"form": form}
        if form.is_bound and form.is_valid():
            rows = fsma204_rows(**form.selection)
            export = request.GET.get("export")
            if export in FILE_FORMATS:
                if later := jobs.export_later(request, len(rows), _("FSMA 204 spreadsheet")):
                    return later
                write, content_type = FILE_FORMATS[export]
                response = HttpResponse(write(rows), content_type=content_type)
                name = f"{form.file_stem(timezone.localdate())}.{export}"
                response["Content-Disposition"] = content_disposition_header(True, name)
                return response
            table = Fsma204Table(rows)
            RequestConfig(request).configure(table)
            context.update(
                table=table,
                rows=rows,
                lots=form.lots,
                product=form.product,
                not_listed=[p for p in form.products if not p.on_food_traceability_list],
            )
        return self.render_to_response(self.get_context_data(**context))


class TrackedItemDetailView(PermissionRequiredMixin, TemplateView):
    """What lot and serial unit pages share: timeline, status history and both trees."""

    model = None

    def get_object(self):
        try:
            return self.load(self.kwargs["pk"])
        except self.model.DoesNotExist as exc:
            raise Http404(f"No {self.model._meta.verbose_name} {self.kwargs['pk']}.") from exc

    def get_context_data(self, **kwargs):
        item = self.get_object()
        single = self.model.objects.filter(pk=item.pk)
        roots = {"lots" if self.model is Lot else "serial_units": single}
        downstream = trace(direction=Direction.FORWARD, **roots)
        upstream = trace(direction=Direction.BACKWARD, **roots)
        can_change = self.request.user.has_perm(
            f"inventory.change_{self.model._meta.model_name}_status"
        )
        label = downstream.roots[0].label if downstream.roots else ""
        trace_url = f"{reverse('trace')}?{urlencode({'q': label})}"
        return super().get_context_data(
            item=item,
            forward_url=f"{trace_url}&direction=forward",
            backward_url=f"{trace_url}&direction=backward",
            timeline=selectors.item_timeline(item.pk),
            status_history=selectors.status_history(item.pk),
            downstream=_trace_context(downstream, limit=150),
            upstream=_trace_context(upstream, limit=150),
            status_form=StatusChangeForm(item=item) if can_change else None,
            **kwargs,
        )


class LotDetailView(TrackedItemDetailView):
    model = Lot
    permission_required = "inventory.view_lot"
    template_name = "inventory/lot_detail.html"
    load = staticmethod(selectors.lot_for_page)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["is_expired"] = context["item"].is_expired()
        context["on_hand"] = selectors.lot_on_hand(context["item"])
        return context


class SerialUnitDetailView(TrackedItemDetailView):
    model = SerialUnit
    permission_required = "inventory.view_serialunit"
    template_name = "inventory/serial_detail.html"
    load = staticmethod(selectors.serial_unit_for_page)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        unit = context["item"]
        components = selectors.installed_components(unit)
        if "service_form" not in context:
            may_add = self.request.user.has_perm("inventory.add_servicerecord")
            context["service_form"] = (
                ServiceRecordForm(unit=unit, components=components) if may_add else None
            )
        context.update(
            components=components,
            service_records=selectors.service_records(unit),
            under_warranty=unit.is_under_warranty(),
            holders=selectors.holder_periods(context["timeline"]),
        )
        return context


class ServiceRecordCreateView(SerialUnitDetailView):
    """Staff and managers record work on a unit; a refused form comes back with its errors."""

    permission_required = ("inventory.view_serialunit", "inventory.add_servicerecord")
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        unit = self.get_object()
        components = selectors.installed_components(unit)
        form = ServiceRecordForm(request.POST, unit=unit, components=components)
        if form.is_valid():
            try:
                record = services.service_record_create(
                    serial_unit=unit, acting_user=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(
                    request,
                    f"{record.get_kind_display().capitalize()} of {unit} on "
                    f"{record.performed_on:%Y-%m-%d} recorded.",
                )
                return redirect(f"{unit.get_absolute_url()}#service-records")
        return self.render_to_response(self.get_context_data(service_form=form))


class StatusChangeView(PermissionRequiredMixin, FormView):
    """A manager changes a lot's or unit's status, saying why."""

    form_class = StatusChangeForm
    model = None
    http_method_names = ["post"]

    def get_permission_required(self):
        return (f"inventory.change_{self.model._meta.model_name}_status",)

    def dispatch(self, request, *args, **kwargs):
        self.item = self.model.objects.select_related("product").filter(pk=kwargs["pk"]).first()
        if self.item is None:
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "item": self.item}

    def form_valid(self, form):
        try:
            item = services.item_change_status(
                item=self.item,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            messages.error(self.request, " ".join(exc.messages))
        else:
            messages.success(self.request, f"{item} is now {item.get_status_display()}.")
        return redirect(self.item.get_absolute_url())

    def form_invalid(self, form):
        for errors in form.errors.values():
            for error in errors:
                messages.error(self.request, error)
        return redirect(self.item.get_absolute_url())


class SearchView(PermissionRequiredMixin, TemplateView):
    """The header search: a scanned or typed identifier opens its page; otherwise a list."""

    permission_required = ("inventory.view_lot", "inventory.view_serialunit")
    template_name = "inventory/search.html"

    def get(self, request, *args, **kwargs):
        text = request.GET.get("q", "").strip()
        product = selectors.product_named(text)
        if product is not None:
            return redirect("product_detail", product.pk)  # its lots or units are listed there
        lots, units = selectors.search_items(text) if text else ([], [])
        if len(lots) + len(units) == 1:
            return redirect((lots or units)[0].get_absolute_url())
        context = self.get_context_data(
            q=text,
            lots=lots,
            units=units,
            limit=selectors.SEARCH_LIMIT,
            today=timezone.localdate(),
        )
        return self.render_to_response(context)


class TrackedItemEpcisView(PermissionRequiredMixin, View):
    """The events naming one lot or serial unit, as an EPCIS 2.0 JSON-LD file."""

    model = None

    def get_permission_required(self):
        return (f"inventory.view_{self.model._meta.model_name}",)

    def get(self, request, pk):
        item = self.model.objects.select_related("product").filter(pk=pk).first()
        if item is None:
            raise Http404(f"No {self.model._meta.verbose_name} {pk}.")
        if self.model is Lot:
            document = epcis_export(lots=[item])
            return _epcis_download(document, item.product.sku, "lot", item.code)
        document = epcis_export(serial_units=[item])
        return _epcis_download(document, item.product.sku, "serial", item.serial)


class TrackedItemLabelView(PermissionRequiredMixin, TemplateView):
    """A lot's or unit's label, to print on a 100 by 50 mm label printer."""

    model = None
    template_name = "inventory/label.html"

    def get_permission_required(self):
        return (f"inventory.view_{self.model._meta.model_name}",)

    def get_context_data(self, **kwargs):
        load = selectors.lot_for_page if self.model is Lot else selectors.serial_unit_for_page
        try:
            item = load(self.kwargs["pk"])
        except self.model.DoesNotExist as exc:
            raise Http404(f"No {self.model._meta.verbose_name} {self.kwargs['pk']}.") from exc
        # The QR code opens our own verification page: on the configured public host, else on
        # the host this label is printed from.
        base_url = (
            settings.DIGITAL_LINK_BASE_URL or f"{self.request.scheme}://{self.request.get_host()}"
        )
        return super().get_context_data(
            item=item, label=item_label(item, base_url=base_url), **kwargs
        )


class QualityManagerRequiredMixin(UserPassesTestMixin):
    """Quality managers only (a superuser holds every role).

    A role, not a permission: importing creates products, parties and sites, which Quality
    managers may not add by hand, and Quality staff hold the other permissions it needs.
    """

    def test_func(self):
        return QUALITY_MANAGERS in user_roles(self.request.user)


def _problem(message: str) -> dict:
    """An importer's message split into event index, field and problem for the table."""
    match = EPCIS_PROBLEM.match(message)
    if match:
        return match.groupdict()
    where, separator, text = message.partition(": ")
    if separator and where == "document":
        return {"event": None, "field": where, "text": text}
    return {"event": None, "field": None, "text": message}


class EpcisImportView(QualityManagerRequiredMixin, FormView):
    """A quality manager uploads an EPCIS 2.0 document: every event is imported, or none."""

    form_class = EpcisImportForm
    template_name = "inventory/epcis_import.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(max_upload_size=EPCIS_MAX_UPLOAD_SIZE, **kwargs)

    def get(self, request, *args, **kwargs):
        # The summary is shown once, after the redirect, so a reload neither imports again
        # nor repeats it.
        summary = request.session.pop(EPCIS_IMPORT_SUMMARY, None)
        context = {"summary": summary}
        if summary and any(summary["created"].values()):
            context["review"] = selectors.awaiting_review()
        return self.render_to_response(self.get_context_data(**context))

    def form_valid(self, form):
        job = jobs.job_start(
            kind="epcis_import",
            title=_("Import of %(name)s") % {"name": form.file_name},
            acting_user=self.request.user,
            arguments={"file_name": form.file_name},
            payload=form.text.encode("utf-8"),
        )
        if not job.is_finished:
            return redirect(job)  # a page that follows the import as it runs
        if job.status == job.Status.FAILED:
            return self._refused(form, job.errors)
        self.request.session[EPCIS_IMPORT_SUMMARY] = job.result
        return redirect("epcis_import")

    def _refused(self, form, errors):
        context = self.get_context_data(
            form=form,
            file_name=form.file_name,
            problems=[_problem(message) for message in errors],
        )
        return self.render_to_response(context)


class JobDetailView(TemplateView):
    """Long work as it runs (polled), then its outcome; only the person who started it sees it."""

    template_name = "inventory/job_detail.html"
    partial_template_name = "inventory/_job_status.html"

    def get(self, request, pk):
        job = selectors.job_for_user(pk, request.user)
        if job is None:
            raise Http404
        polled = request.headers.get("HX-Request") == "true"
        url = job.result.get("url") if job.status == job.Status.SUCCEEDED else None
        if polled and url and not job.result.get("file_name"):
            # It just finished: go where its outcome is, with the news.
            if job.result.get("message"):
                messages.success(request, job.result["message"])
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        context = self.get_context_data(
            job=job,
            progress=jobs.job_progress(job),
            problems=[_problem(message) for message in job.errors],
            review=selectors.awaiting_review() if _created_any(job) else None,
        )
        template = self.partial_template_name if polled else self.template_name
        return self.response_class(request, template, context)


def _created_any(job) -> bool:
    return job.status == job.Status.SUCCEEDED and any(job.result.get("created", {}).values())


class JobDownloadView(View):
    """The file a finished job made, for the person who started it."""

    def get(self, request, pk):
        job = selectors.job_for_user(pk, request.user, with_output=True)
        if job is None or job.status != job.Status.SUCCEEDED or not job.result.get("file_name"):
            raise Http404
        response = HttpResponse(bytes(job.output), content_type=job.result["content_type"])
        response["Content-Disposition"] = content_disposition_header(True, job.result["file_name"])
        return response


# --- list pages -------------------------------------------------------------------------------


class ListPaginator(Paginator):
    """Pages of at most LIST_PAGE_SIZE rows, whatever ?per_page= asks for."""

    def __init__(self, object_list, per_page, *args, **kwargs):
        per_page = max(1, min(int(per_page), LIST_PAGE_SIZE))
        super().__init__(object_list, per_page, *args, **kwargs)


class ListExportMixin(ExportMixin):
    """A filtered table's rows, all of them, as CSV or XLSX (?_export=csv or xlsx).

    A filter that does not make sense (a date that is not one, dates the wrong way round)
    exports nothing: the page comes back with its message instead of a file of nothing, or of
    everything. Put it before SingleTableMixin and FilterView.
    """

    export_class = _TableExport
    export_formats = (TableExport.CSV, TableExport.XLSX)
    export_name = ""
    title = ""  # names a background export job; FilteredListView's pages set it

    def exporting(self) -> bool:
        return self.export_class.is_valid_format(self.request.GET.get(self.export_trigger_param))

    def get_table_pagination(self, table):
        # A file has every row: paging it would only count them once more.
        if self.exporting():
            return False
        return {"paginator_class": ListPaginator}

    def get_export_filename(self, export_format):
        return f"{self.export_name}-{timezone.localdate():%Y-%m-%d}.{export_format}"

    def render_to_response(self, context, **kwargs):
        if self.filterset.is_bound and not self.filterset.is_valid():
            # Past ExportMixin: the page with the filter's messages, not a file.
            return super(ExportMixin, self).render_to_response(context, **kwargs)
        if self.exporting():
            rows = self.object_list.count()
            if later := jobs.export_later(self.request, rows, self.title or self.export_name):
                return later
        return super().render_to_response(context, **kwargs)

    def get_context_data(self, **kwargs):
        # The download links keep the filters and the sort, not the page.
        query = self.request.GET.copy()
        for name in (self.export_trigger_param, "page"):
            query.pop(name, None)
        return super().get_context_data(
            export_formats=self.export_formats, export_query=query.urlencode(), **kwargs
        )


class FilteredListView(PermissionRequiredMixin, ListExportMixin, SingleTableMixin, FilterView):
    """A sortable, filterable list of 50 rows a page, exported whole as CSV or XLSX.

    Filters that do not make sense show their message above an empty list; they are never
    dropped to show everything instead.
    """

    template_name = "inventory/list.html"
    selector = None
    eyebrow = _("Records")
    title = ""
    noun = ""
    noun_plural = ""
    # The page that adds a record of the list, offered to those with the permission.
    new_url_name = ""
    new_label = ""
    new_permission = ""

    def get_queryset(self):
        return self.selector()

    def get_context_data(self, **kwargs):
        may_add = self.new_url_name and self.request.user.has_perm(self.new_permission)
        return super().get_context_data(
            eyebrow=self.eyebrow,
            title=self.title,
            noun=self.noun,
            noun_plural=self.noun_plural,
            new_url=reverse(self.new_url_name) if may_add else "",
            new_label=self.new_label,
            **kwargs,
        )


class ProductListView(FilteredListView):
    permission_required = "inventory.view_product"
    selector = staticmethod(selectors.product_list)
    filterset_class = ProductFilter
    table_class = ProductTable
    export_name = "products"
    title = _("Products")
    noun = _("product")
    noun_plural = _("products")


class LotListView(FilteredListView):
    permission_required = "inventory.view_lot"
    selector = staticmethod(selectors.lot_list)
    filterset_class = LotFilter
    table_class = LotTable
    export_name = "lots"
    title = _("Lots")
    noun = _("lot")
    noun_plural = _("lots")


class SerialUnitListView(FilteredListView):
    permission_required = "inventory.view_serialunit"
    selector = staticmethod(selectors.serial_unit_list)
    filterset_class = SerialUnitFilter
    table_class = SerialUnitTable
    export_name = "serial-units"
    title = _("Serial units")
    noun = _("serial unit")
    noun_plural = _("serial units")


class EventListView(FilteredListView):
    permission_required = "inventory.view_traceevent"
    selector = staticmethod(selectors.event_list)
    filterset_class = EventFilter
    table_class = EventTable
    export_name = "events"
    title = _("Trace events")
    noun = _("event")
    noun_plural = _("events")


class PartyListView(FilteredListView):
    permission_required = "inventory.view_party"
    selector = staticmethod(selectors.party_list)
    filterset_class = PartyFilter
    table_class = PartyTable
    export_name = "parties"
    title = _("Parties")
    noun = _("party")
    noun_plural = _("parties")

    def get_table_kwargs(self):
        return {"admin_links": self.request.user.is_staff}


# --- Stock: the product page, the expiry report, picking a shipment ----------------------------


class ProductDetailView(PermissionRequiredMixin, TemplateView):
    """A product: its key data, its lots or units, stock by site and its expiry profile."""

    permission_required = "inventory.view_product"
    template_name = "inventory/product_detail.html"

    def get_context_data(self, **kwargs):
        try:
            product = selectors.product_for_page(self.kwargs["pk"])
        except Product.DoesNotExist as exc:
            raise Http404(f"No product {self.kwargs['pk']}.") from exc
        today = timezone.localdate()
        sites = selectors.our_sites()
        context = {"product": product, "today": today}
        if product.tracking == Product.Tracking.SERIAL:
            units = selectors.product_units(product)
            table = ProductUnitTable(units)
            context.update(
                units_table=table,
                unit_stock=_units_by_site(selectors.units_on_hand(units, sites=sites)),
                produced=selectors.production_dates(units),
            )
        else:
            lots = list(selectors.product_lots(product))
            stock = selectors.lots_on_hand(selectors.product_lots(product), sites=sites)
            table = ProductLotTable(SortedListData(stock_rows(lots, stock, today)))
            dates = [lot.produced_on for lot in lots if lot.produced_on]
            context.update(
                lots_table=table,
                site_totals=selectors.stock_totals(lots, stock),
                profile=_profile_rows(selectors.expiry_profile(lots, stock, today)),
                produced=(min(dates), max(dates)) if dates else None,
            )
        RequestConfig(self.request).configure(table)
        if context["produced"]:
            first, last = context["produced"]
            query = urlencode({"product": product.sku, "produced_from": first, "produced_to": last})
            context["trace_url"] = f"{reverse('trace')}?{query}"
        return super().get_context_data(**context, **kwargs)


# The expiry profile's bands, in the order the page shows them.
EXPIRY_BAND_LABELS = [
    ("expired", _("Expired")),
    *(
        (f"within {days}", _("Within %(days)s days") % {"days": days})
        for days in selectors.EXPIRY_WINDOWS
    ),
    ("later", _("Later")),
    ("none", _("No expiry date")),
]


def _profile_rows(profile: dict) -> dict | None:
    """The expiry profile as the page shows it: a labelled row per band, a column per unit."""
    if not profile["units"]:
        return None
    return {
        "units": [selectors.unit_label(unit) for unit in profile["units"]],
        "rows": [
            (key, label, [f"{quantity.normalize():f}" for quantity in profile["bands"][key]])
            for key, label in EXPIRY_BAND_LABELS
        ],
    }


def _units_by_site(rows) -> list[dict]:
    """units_on_hand's rows as one entry per site: the total, and how many in each status."""
    by_site = {}
    for site, status, count in rows:
        entry = by_site.setdefault(site.pk, {"site": site, "total": 0, "statuses": []})
        entry["total"] += count
        entry["statuses"].append((STATUS_LABELS.get(status, status), count))
    return list(by_site.values())


class ExpiryReportView(PermissionRequiredMixin, TemplateView):
    """Stock on hand that has expired or expires within a window, by product and site; as a
    table, CSV or XLSX, and printable."""

    permission_required = "inventory.view_lot"
    template_name = "inventory/expiry_report.html"

    def get(self, request, *args, **kwargs):
        form = ExpiryReportForm(request.GET)
        context = {"form": form}
        today = timezone.localdate()
        if form.is_valid():
            until = form.until_date(today)
            rows = expiry_rows(
                selectors.expiring_stock(
                    until=until,
                    product=form.cleaned_data["product"],
                    site=form.cleaned_data["site"],
                ),
                today,
            )
            table = ExpiryTable(SortedListData(rows))
            RequestConfig(request).configure(table)
            export_format = request.GET.get("_export")
            if _TableExport.is_valid_format(export_format):
                if later := jobs.export_later(request, len(rows), _("Expiry report")):
                    return later
                name = f"expiry-to-{until.isoformat()}.{export_format}"
                return _TableExport(export_format, table).response(name)
            context.update(
                table=table,
                until=until,
                today=today,
                expired=sum(1 for row in rows if row["days"] < 0),
                totals=_unit_totals(rows),
                export_query=request.GET.urlencode(),
            )
        return self.render_to_response(self.get_context_data(**context))


def _unit_totals(rows) -> list[str]:
    totals = {}
    for row in rows:
        unit = row["on_hand"].unit
        totals[unit] = totals.get(unit, Decimal(0)) + row["on_hand"].quantity
    return [selectors.quantity_text(quantity, unit) for unit, quantity in sorted(totals.items())]


class ShipmentCreateView(QualityManagerRequiredMixin, TemplateView):
    """A quality manager picks a product's stock at one of our sites, first expiry first out,
    and ships it; held and expired lots are shown with the reason they cannot go.

    Quality managers only: the roles give no one a right to ship, and releasing goods is a
    quality decision.
    """

    template_name = "inventory/shipment_new.html"

    def get(self, request, *args, **kwargs):
        asked = any(request.GET.get(name) for name in ("product", "site", "quantity"))
        pick = PickForm(request.GET if asked else None)
        context = {"pick": pick}
        if pick.is_bound and pick.is_valid():
            candidates = self._candidates(pick)
            proposal, short = fefo_proposal(candidates, pick.cleaned_data["quantity"])
            initial = {f"lot_{pk}": quantity for pk, quantity in proposal.items()}
            context["form"] = ShipmentForm(
                initial=initial, site=pick.cleaned_data["site"], candidates=candidates
            )
            if 0 < short < pick.cleaned_data["quantity"]:
                context["short"] = PICK_SHORT % {
                    "available": selectors.quantity_text(
                        pick.cleaned_data["quantity"] - short, pick.cleaned_data["product"].unit
                    ),
                    "product": pick.cleaned_data["product"].sku,
                    "site": pick.cleaned_data["site"],
                    "asked": selectors.quantity_text(
                        pick.cleaned_data["quantity"], pick.cleaned_data["product"].unit
                    ),
                }
        return self.render_to_response(self.get_context_data(**context))

    def post(self, request, *args, **kwargs):
        pick = PickForm(request.POST)
        if not pick.is_valid():
            return self.render_to_response(self.get_context_data(pick=pick))
        site = pick.cleaned_data["site"]
        form = ShipmentForm(request.POST, site=site, candidates=self._candidates(pick))
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.shipment_create(
                    acting_user=request.user,
                    lots=form.lines,
                    from_site=site,
                    to_party=data["to_party"],
                    to_site=data["to_site"],
                    document_type=data["document_type"],
                    document_number=data["document_number"].strip(),
                    notes=data["notes"].strip(),
                    within_stock=True,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, _shipped_message(form.lines, site, data))
                query = urlencode({"product": pick.cleaned_data["product"].pk, "site": site.pk})
                return redirect(f"{reverse('shipment_new')}?{query}")
        return self.render_to_response(self.get_context_data(pick=pick, form=form))

    def _candidates(self, pick):
        today = timezone.localdate()
        candidates = selectors.fefo_candidates(
            pick.cleaned_data["product"], pick.cleaned_data["site"]
        )
        for candidate in candidates:
            candidate.problem = services.lot_shipping_problem(
                candidate.lot, on=today, status_reason=candidate.status_reason
            )
        return candidates


PICK_SHORT = _(
    "Only %(available)s of %(product)s can be shipped from %(site)s; %(asked)s was asked for."
)
SHIPPED = _("Shipped %(lines)s from %(site)s to %(destination)s%(document)s.")


def _shipped_message(lines, site, data) -> str:
    listed = ", ".join(
        f"{selectors.quantity_text(line.quantity, line.unit)} of {line.item}" for line in lines
    )
    destination = data["to_site"] or data["to_party"]
    if data["to_site"] and data["to_party"]:
        destination = f"{data['to_party']}, {data['to_site']}"
    document = ""
    if data["document_number"].strip():
        label = dict(SHIPPING_DOCUMENTS)[data["document_type"]]
        document = f" ({label} {data['document_number'].strip()})"
    return SHIPPED % {
        "lines": listed,
        "site": site,
        "destination": destination,
        "document": document,
    }


# --- Owners ---


class OwnerChangeView(SerialUnitDetailView):
    """Staff register a unit's end owner, or hand it to the next; a refused form comes back."""

    permission_required = ("inventory.view_serialunit", "inventory.add_unitownership")
    http_method_names = ["post"]
    transfer = False

    def post(self, request, *args, **kwargs):
        unit = self.get_object()
        form = OwnerForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            fields = {
                "serial_unit": unit,
                "owner_name": data["owner_name"],
                "consent": data["consent"],
                "email": data["email"],
                "phone": data["phone"],
                "acting_user": request.user,
            }
            try:
                if self.transfer:
                    services.unit_owner_transfer(transferred_on=data["since"], **fields)
                else:
                    services.unit_owner_register(started_on=data["since"], **fields)
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                verb = "now owns" if self.transfer else "is registered as the owner of"
                messages.success(request, f"{data['owner_name'].strip()} {verb} {unit}.")
                return redirect(f"{unit.get_absolute_url()}#owners")
        return self.render_to_response(self.get_context_data(owner_form=form))


class OwnerConsentWithdrawView(PermissionRequiredMixin, View):
    """The owner asked us to stop contacting them: their contact details are erased."""

    permission_required = ("inventory.view_serialunit", "inventory.change_unitownership")
    http_method_names = ["post"]

    def post(self, request, pk, ownership_pk):
        ownership = selectors.ownership_for_unit(pk, ownership_pk)
        if ownership is None:
            raise Http404(f"Unit {pk} has no owner record {ownership_pk}.")
        try:
            services.unit_owner_consent_withdraw(ownership=ownership, acting_user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"{ownership.owner_name} will not be contacted; their e-mail and phone are erased.",
            )
        return redirect(f"{reverse('serial_detail', args=[pk])}#owners")


# --- Warranty claims --------------------------------------------------------------------------

CLAIM_OPENED = _("Claim %(number)s opened for %(unit)s.")
CLAIM_DONE = {
    "decide": _("Claim %(number)s is %(status)s."),
    "repair": _("The repair of %(unit)s is recorded; claim %(number)s is repaired."),
    "replace": _("%(replacement)s is shipped to replace %(unit)s; claim %(number)s is replaced."),
    "close": _("Claim %(number)s is closed."),
}


class ClaimListView(FilteredListView):
    permission_required = "inventory.view_warrantyclaim"
    selector = staticmethod(selectors.claim_list)
    filterset_class = ClaimFilter
    table_class = ClaimTable
    export_name = "warranty-claims"
    eyebrow = _("Serial life")
    title = _("Warranty claims")
    noun = _("claim")
    noun_plural = _("claims")
    new_url_name = "claim_new"
    new_label = _("Open a warranty claim")
    new_permission = "inventory.add_warrantyclaim"


class ClaimCreateView(PermissionRequiredMixin, FormView):
    """Scan a unit (or come from its page with ?unit=<pk>), describe the fault, open the claim."""

    permission_required = ("inventory.view_serialunit", "inventory.add_warrantyclaim")
    form_class = WarrantyClaimForm
    template_name = "inventory/claim_new.html"

    def get_initial(self):
        initial = super().get_initial()
        self.unit = None
        pk = self.request.GET.get("unit", "")
        if pk.isdigit():
            self.unit = SerialUnit.objects.select_related("product").filter(pk=pk).first()
        if self.unit is not None:
            initial["unit"] = str(self.unit)
        return initial

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            claim = services.warranty_claim_open(
                serial_unit=data["unit"],
                fault=data["fault"],
                reported_on=data["reported_on"],
                claimant=data["claimant"],
                # A unit back with us on an open return is claimed for under that return,
                # whose decision then says what becomes of the faulty unit.
                unit_return=selectors.unit_open_return(data["unit"]),
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request, CLAIM_OPENED % {"number": claim.number, "unit": claim.serial_unit}
        )
        return redirect(claim.get_absolute_url())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        unit = getattr(self, "unit", None)
        if form.is_bound and not form.errors.get("unit"):
            unit = form.cleaned_data.get("unit") if hasattr(form, "cleaned_data") else None
        context["unit"] = unit if isinstance(unit, SerialUnit) else None
        if context["unit"] is not None:
            context["unit_return"] = selectors.unit_open_return(context["unit"])
        return context


def _add_service_errors(form, exc: ValidationError) -> None:
    """A service's refusal under the field it names, or above the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class ClaimDetailView(PermissionRequiredMixin, TemplateView):
    """A claim: its facts, its coverage in words, its steps, and the forms each role may use
    at its status. Each form posts here with its action; a refused one comes back open."""

    permission_required = "inventory.view_warrantyclaim"
    template_name = "inventory/claim_detail.html"
    # Who may take each step; deciding and sending a replacement are a manager's.
    ACTIONS = {
        "decide": ("inventory.decide_warrantyclaim",),
        "repair": ("inventory.add_warrantyclaim", "inventory.add_servicerecord"),
        "replace": ("inventory.decide_warrantyclaim",),
        "close": ("inventory.add_warrantyclaim",),
    }
    # The statuses at which each form is offered.
    OFFERED = {
        "decide": (WarrantyClaim.Status.OPEN,),
        "repair": (WarrantyClaim.Status.APPROVED,),
        "replace": (WarrantyClaim.Status.APPROVED,),
        "close": (
            WarrantyClaim.Status.REJECTED,
            WarrantyClaim.Status.REPAIRED,
            WarrantyClaim.Status.REPLACED,
        ),
    }

    def get_claim(self):
        try:
            return selectors.claim_for_page(self.kwargs["pk"])
        except WarrantyClaim.DoesNotExist as exc:
            raise Http404(f"No warranty claim {self.kwargs['pk']}.") from exc

    def may(self, action: str) -> bool:
        return self.request.user.has_perms(self.ACTIONS[action])

    def _forms(self, claim, not_covered, bound: dict):
        user = self.request.user
        offered = {
            action
            for action, statuses in self.OFFERED.items()
            if claim.status in statuses and self.may(action)
        }
        forms = {}
        if "decide" in offered:
            may_override = bool(not_covered) and user.has_perm("inventory.override_warrantyclaim")
            forms["decide"] = bound.get("decide") or ClaimDecisionForm(may_override=may_override)
        if "repair" in offered:
            components = selectors.installed_components(claim.serial_unit)
            forms["repair"] = bound.get("repair") or ClaimRepairForm(
                unit=claim.serial_unit, components=components
            )
        if "replace" in offered:
            forms["replace"] = bound.get("replace") or ClaimReplaceForm()
        if "close" in offered:
            forms["close"] = bound.get("close") or ClaimCloseForm()
        return forms

    def get_context_data(self, claim=None, bound=None, **kwargs):
        claim = claim or self.get_claim()
        not_covered = selectors.claim_not_covered(claim)
        return super().get_context_data(
            claim=claim,
            unit=claim.serial_unit,
            coverage=selectors.claim_coverage_text(claim),
            decision=selectors.claim_decision(claim),
            not_covered=not_covered,
            steps=selectors.claim_steps(claim),
            claim_forms=self._forms(claim, not_covered, bound or {}),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "")
        if action not in self.ACTIONS:
            return HttpResponse(status=400)
        if not self.may(action):
            raise PermissionDenied
        claim = self.get_claim()
        form = self._bind(action, claim)
        if form.is_valid():
            try:
                claim = self._perform(action, claim, form.cleaned_data)
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, self._done(action, claim))
                return redirect(claim.get_absolute_url())
        context = self.get_context_data(claim=claim, bound={action: form})
        return self.render_to_response(context)

    def _bind(self, action, claim):
        data = self.request.POST
        if action == "decide":
            not_covered = selectors.claim_not_covered(claim)
            may_override = bool(not_covered) and self.request.user.has_perm(
                "inventory.override_warrantyclaim"
            )
            return ClaimDecisionForm(data, may_override=may_override)
        if action == "repair":
            components = selectors.installed_components(claim.serial_unit)
            return ClaimRepairForm(data, unit=claim.serial_unit, components=components)
        if action == "replace":
            return ClaimReplaceForm(data)
        return ClaimCloseForm(data)

    def _perform(self, action, claim, data):
        user = self.request.user
        if action == "decide":
            return services.warranty_claim_decide(
                claim=claim,
                approve=data["decision"] == APPROVE,
                reason=data["reason"],
                override=data.get("override", False),
                acting_user=user,
            )
        if action == "repair":
            return services.warranty_claim_repair(
                claim=claim,
                performed_on=data["performed_on"],
                description=data["description"],
                technician=data["technician"],
                parts_removed=data["parts_removed"],
                parts_fitted=data["parts_fitted"],
                acting_user=user,
            )
        if action == "replace":
            return services.warranty_claim_replace(
                claim=claim, replacement=data["replacement"], acting_user=user
            )
        return services.warranty_claim_close(claim=claim, note=data["note"], acting_user=user)

    def _done(self, action, claim) -> str:
        return CLAIM_DONE[action] % {
            "number": claim.number,
            "status": claim.get_status_display(),
            "unit": claim.serial_unit,
            "replacement": claim.replacement,
        }


# --- Returns (RMA) ----------------------------------------------------------------------------


RETURN_REGISTERED = _("%(unit)s is registered as returned under %(number)s.")
RETURN_DECIDED = _("%(number)s: %(unit)s — %(decision)s.")
RETURN_CLOSED = _("%(number)s is closed: %(unit)s %(outcome)s.")
PHOTO_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class ReturnListView(FilteredListView):
    permission_required = "inventory.view_unitreturn"
    selector = staticmethod(selectors.return_list)
    filterset_class = ReturnFilter
    table_class = ReturnTable
    export_name = "returns"
    title = _("Returns (RMA)")
    noun = _("return")
    noun_plural = _("returns")
    new_url_name = "return_new"
    new_label = _("Register a return")
    new_permission = "inventory.add_unitreturn"


class ReturnCreateView(PermissionRequiredMixin, FormView):
    """Staff scan a unit that came back and say who sent it, why, and in what state."""

    permission_required = ("inventory.add_unitreturn", "inventory.add_returnphoto")
    form_class = ReturnForm
    template_name = "inventory/return_new.html"

    def get_initial(self):
        # "Register a return" on a unit's page fills in the unit, and says who holds it.
        asked = self.request.GET.get("unit", "")
        self.scanned = (
            SerialUnit.objects.select_related("product", "holder_party", "holder_site")
            .filter(pk=asked)
            .first()
            if asked.isdigit()
            else None
        )
        unit = self.scanned
        return {"unit": f"{unit.product.sku} serial {unit.serial}"} if unit else {}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)  # makes the form, and so its initial
        form = context["form"]
        if form.is_bound:
            context["scanned"] = getattr(form, "cleaned_data", {}).get("unit")
        else:
            context["scanned"] = self.scanned
        return context

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            unit_return = services.unit_return_register(
                serial_unit=data["unit"],
                site=data["site"],
                reason=data["reason"],
                condition=data["condition"],
                customer=data["customer"],
                received_at=data["received_at"],
                notes=data["notes"],
                photos=data["photos"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
            return self.form_invalid(form)
        messages.success(
            self.request,
            RETURN_REGISTERED % {"unit": unit_return.serial_unit, "number": unit_return.number},
        )
        return redirect(unit_return)


class ReturnDetailView(PermissionRequiredMixin, TemplateView):
    """A return: what came in, its photos, what happened to the unit since, and the decision."""

    permission_required = "inventory.view_unitreturn"
    template_name = "inventory/return_detail.html"

    def get_object(self) -> UnitReturn:
        try:
            return selectors.return_for_page(self.kwargs["pk"])
        except UnitReturn.DoesNotExist as exc:
            raise Http404(f"No return {self.kwargs['pk']}.") from exc

    def get_context_data(self, **kwargs):
        unit_return = kwargs.pop("unit_return", None) or self.get_object()
        may_decide = self.request.user.has_perm("inventory.decide_unitreturn")
        is_open = unit_return.status == UnitReturn.Status.OPEN
        in_repair = unit_return.status == UnitReturn.Status.IN_REPAIR
        kwargs.setdefault("decision_form", ReturnDecisionForm() if may_decide and is_open else None)
        kwargs.setdefault("repair_form", ReturnRepairForm() if may_decide and in_repair else None)
        return super().get_context_data(
            unit_return=unit_return,
            unit=unit_return.serial_unit,
            photos=selectors.return_photos(unit_return),
            timeline=selectors.return_timeline(unit_return),
            may_record_service=self.request.user.has_perm("inventory.add_servicerecord"),
            covered=unit_return.serial_unit.warranty_ends_on is not None
            and unit_return.serial_unit.warranty_ends_on
            >= timezone.localdate(unit_return.received_at),
            **kwargs,
        )


class ReturnActionView(ReturnDetailView):
    """A manager's form on a return's page; refused, the page comes back with its errors."""

    permission_required = ("inventory.view_unitreturn", "inventory.decide_unitreturn")
    http_method_names = ["post"]
    form_class = None
    form_name = ""

    def post(self, request, *args, **kwargs):
        unit_return = self.get_object()
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                unit_return = self.act(unit_return, form.cleaned_data)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.error_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            else:
                messages.success(request, self.done(unit_return))
                return redirect(unit_return)
        context = self.get_context_data(unit_return=unit_return, **{self.form_name: form})
        return self.render_to_response(context, status=400)


class ReturnDecideView(ReturnActionView):
    form_class = ReturnDecisionForm
    form_name = "decision_form"

    def act(self, unit_return, data):
        return services.unit_return_decide(
            unit_return=unit_return,
            decision=data["decision"],
            replacement=data["replacement"],
            notes=data["notes"],
            acting_user=self.request.user,
        )

    def done(self, unit_return):
        decision = unit_return.get_decision_display()
        if unit_return.replacement_id:
            decision = f"{decision} by {unit_return.replacement}"
        return RETURN_DECIDED % {
            "number": unit_return.number,
            "unit": unit_return.serial_unit,
            "decision": decision,
        }


class ReturnRepairView(ReturnActionView):
    form_class = ReturnRepairForm
    form_name = "repair_form"

    def act(self, unit_return, data):
        return services.unit_return_complete_repair(
            unit_return=unit_return,
            outcome=data["outcome"],
            notes=data["notes"],
            acting_user=self.request.user,
        )

    def done(self, unit_return):
        return RETURN_CLOSED % {
            "number": unit_return.number,
            "unit": unit_return.serial_unit,
            "outcome": unit_return.get_outcome_display(),
        }


def private_file(field_file, *, content_type: str, filename: str, missing: str) -> FileResponse:
    """An uploaded file answered to whoever the view let in, cached by the browser only, never
    by a shared proxy; `missing` is the 404's message when the file is gone from the disk."""
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404(missing) from exc
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


class ReturnPhotoView(PermissionRequiredMixin, View):
    """A return's photo, to signed-in users who may see returns: never from a public URL."""

    permission_required = "inventory.view_returnphoto"

    def get(self, request, pk):
        photo = selectors.return_photo(pk)
        if photo is None:
            raise Http404(f"No photo {pk}.")
        extension = photo.image.name.rsplit(".", 1)[-1].lower()
        return private_file(
            photo.image,
            content_type=PHOTO_TYPES.get(extension, "image/jpeg"),
            filename=f"{photo.unit_return.number}-{photo.pk}.{extension}",
            missing=f"The file of photo {pk} is missing.",
        )


# --- Public verification ---


class CounterfeitFlagListView(FilteredListView):
    permission_required = "inventory.view_counterfeitflag"
    selector = staticmethod(selectors.counterfeit_flag_list)
    filterset_class = CounterfeitFlagFilter
    table_class = CounterfeitFlagTable
    export_name = "counterfeit-flags"
    eyebrow = _("Public verification")
    title = _("Counterfeit flags")
    noun = _("flag")
    noun_plural = _("flags")


class CounterfeitFlagView(PermissionRequiredMixin, FormView):
    """A flag with the public checks of its serial; managers dismiss or confirm it."""

    permission_required = "inventory.view_counterfeitflag"
    template_name = "inventory/counterfeit_flag.html"
    form_class = CounterfeitFlagReviewForm

    def dispatch(self, request, *args, **kwargs):
        try:
            self.flag = selectors.counterfeit_flag_list().get(pk=kwargs["pk"])
        except CounterfeitFlag.DoesNotExist as exc:
            raise Http404(f"No counterfeit flag {kwargs['pk']}.") from exc
        return super().dispatch(request, *args, **kwargs)

    def can_review(self) -> bool:
        return self.request.user.has_perm("inventory.review_counterfeitflag")

    def post(self, request, *args, **kwargs):
        if not self.can_review():
            return self.handle_no_permission()
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            services.counterfeit_flag_review(
                flag=self.flag,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                acting_user=self.request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        flag = CounterfeitFlag.objects.get(pk=self.flag.pk)
        messages.success(self.request, f"Flag {flag.get_status_display()}.")
        return redirect("counterfeit_flag", pk=flag.pk)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            flag=self.flag,
            checks=selectors.flag_checks(self.flag),
            can_review=self.can_review() and self.flag.status == CounterfeitFlag.Status.OPEN,
            **kwargs,
        )


# --- Serial generation ------------------------------------------------------------------------

RUN_UNITS_PER_PAGE = 100
RUNS_PER_PAGE = 50


class SerialRunCreateView(PermissionRequiredMixin, FormView):
    """A manager commissions a run of new serial units, after a preview of its serials."""

    permission_required = "inventory.add_serialrun"
    form_class = SerialRunForm
    template_name = "inventory/serial_run_new.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            alphabet=services.SERIAL_RANDOM_ALPHABET,
            in_background=jobs.SERIAL_RUN_IN_BACKGROUND,
            **kwargs,
        )

    def form_valid(self, form):
        if "preview" in self.request.POST:
            return self.render_to_response(self.get_context_data(form=form, preview=True))
        arguments = form.run_arguments()
        if arguments["count"] > jobs.SERIAL_RUN_IN_BACKGROUND:
            job = jobs.serial_run_start(arguments=arguments, acting_user=self.request.user)
            if not job.is_finished:
                return redirect(job)  # a page that follows the run and then opens it
            if job.status == job.Status.FAILED:
                for error in job.errors:
                    form.add_error(None, error)
                return self.form_invalid(form)
            messages.success(self.request, job.result["message"])
            return redirect(job.result["url"])
        try:
            run = services.serial_units_generate(acting_user=self.request.user, **arguments)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            jobs.SERIAL_RUN_MADE
            % {"count": f"{run.count:,}", "first": run.first_serial, "last": run.last_serial},
        )
        return redirect(run)


class SerialRunDetailView(PermissionRequiredMixin, TemplateView):
    """A run's facts, the label sheets to print, and its units page by page."""

    permission_required = "inventory.view_serialrun"
    template_name = "inventory/serial_run_detail.html"

    def get_context_data(self, **kwargs):
        try:
            run = selectors.serial_run_for_page(self.kwargs["pk"])
        except SerialRun.DoesNotExist as exc:
            raise Http404(f"No serial run {self.kwargs['pk']}.") from exc
        paginator = Paginator(selectors.serial_run_units(run), RUN_UNITS_PER_PAGE)
        # The run knows its size: the paginator need not count its units.
        paginator.count = run.count
        page = paginator.get_page(self.request.GET.get("page"))
        return super().get_context_data(
            run=run,
            page=page,
            sheet_problem=label_sheets.sheet_problem(run.product),
            sheets=label_sheets.ranges(run),
            labels_per_pdf=f"{label_sheets.LABELS_PER_PDF:,}",
            **kwargs,
        )


class SerialRunListView(PermissionRequiredMixin, TemplateView):
    permission_required = "inventory.view_serialrun"
    template_name = "inventory/serial_run_list.html"

    def get_context_data(self, **kwargs):
        paginator = Paginator(selectors.serial_run_list(), RUNS_PER_PAGE)
        return super().get_context_data(
            page=paginator.get_page(self.request.GET.get("page")), **kwargs
        )


class SerialRunLabelsView(PermissionRequiredMixin, View):
    """A run's labels (or a range of them) as an A4 PDF sheet; a sentence when it cannot be."""

    permission_required = "inventory.view_serialrun"

    def get(self, request, pk):
        try:
            run = selectors.serial_run_for_page(pk)
        except SerialRun.DoesNotExist as exc:
            raise Http404(f"No serial run {pk}.") from exc
        problem = label_sheets.sheet_problem(run.product)
        if not problem:
            try:
                first, last = label_sheets.label_range(
                    run, request.GET.get("first"), request.GET.get("last")
                )
            except ValueError as exc:
                problem = str(exc)
        if problem:
            messages.error(request, problem)
            return redirect(run)
        units = list(selectors.serial_run_units(run)[first - 1 : last])
        try:
            content = label_sheets.sheet_pdf(run, units, first=first, printed=timezone.localdate())
        except (label_sheets.PdfUnavailable, ValueError) as exc:
            messages.error(request, str(exc))
            return redirect(run)
        name = f"labels-{run.product.sku}-{first}-{last}.pdf"
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(False, name)
        return response


# --- Quality control: process conditions ------------------------------------------------------

CONDITIONS_RECORDED = _("%(count)s recorded on the %(event)s event of %(when)s.")
CONDITIONS_RECORDED_EXCURSIONS = _(
    "%(count)s recorded on the %(event)s event of %(when)s; %(outside)s outside its limits "
    "raised %(deviations)s."
)
CONDITIONS_ITEMS_SHOWN = 20


def _readings_count(count: int) -> str:
    return ngettext("%(n)s reading", "%(n)s readings", count) % {"n": count}


def _deviations_count(count: int) -> str:
    return ngettext("%(n)s deviation", "%(n)s deviations", count) % {"n": count}


class MeasurementRecordView(PermissionRequiredMixin, TemplateView):
    """Readings taken on an event, several at once; an excursion raises its deviations."""

    permission_required = ("inventory.view_traceevent", "inventory.add_measurement")
    template_name = "inventory/measurements_new.html"

    def get_event(self):
        try:
            return selectors.conditions_event_for_readings(self.kwargs["pk"])
        except TraceEvent.DoesNotExist as exc:
            raise Http404(f"No event {self.kwargs['pk']}.") from exc

    def next_url(self) -> str:
        wanted = self.request.POST.get("next") or self.request.GET.get("next") or ""
        safe = url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        )
        return wanted if safe else ""

    def get_context_data(self, **kwargs):
        event = kwargs.pop("event", None) or self.get_event()
        lines = list(event.lines.all())
        return super().get_context_data(
            event=event,
            lines=lines[:CONDITIONS_ITEMS_SHOWN],
            more_lines=max(0, len(lines) - CONDITIONS_ITEMS_SHOWN),
            readings=sorted(event.measurements.all(), key=lambda m: (m.measured_at, m.pk)),
            next_url=self.next_url(),
            **kwargs,
        )

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(formset=ReadingFormSet()))

    def post(self, request, *args, **kwargs):
        event = self.get_event()
        formset = ReadingFormSet(request.POST)
        service_errors = []
        if formset.is_valid():
            try:
                measurements = conditions.measurements_record(
                    event=event, readings=formset.readings(), acting_user=request.user
                )
            except ValidationError as exc:
                service_errors = exc.messages
            else:
                messages.success(request, self._recorded_message(event, measurements))
                return redirect(self.next_url() or request.path)
        return self.render_to_response(
            self.get_context_data(event=event, formset=formset, service_errors=service_errors)
        )

    @staticmethod
    def _recorded_message(event, measurements) -> str:
        outside = [m for m in measurements if m.within_limits is False]
        context = {
            "count": _readings_count(len(measurements)),
            "event": event.get_event_type_display(),
            "when": timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M"),
        }
        if not outside:
            return CONDITIONS_RECORDED % context
        raised = Deviation.objects.filter(measurement__in=outside).count()
        return CONDITIONS_RECORDED_EXCURSIONS % {
            **context,
            "outside": len(outside),
            "deviations": _deviations_count(raised),
        }


class MeasurementListView(FilteredListView):
    permission_required = "inventory.view_measurement"
    selector = staticmethod(selectors.conditions_measurement_list)
    filterset_class = MeasurementFilter
    table_class = MeasurementTable
    export_name = "process-conditions"
    eyebrow = _("Quality control")
    title = _("Process conditions")
    noun = _("reading")
    noun_plural = _("readings")


CONDITIONS_LIMIT_SAVED = _("Limit “%(name)s” of %(product)s saved: %(band)s.")
CONDITIONS_LIMIT_CHANGED = _("Changed on the product page")


class ConditionLimitEditView(PermissionRequiredMixin, FormView):
    """A manager adds or changes one of a product's limits; readings keep those they had."""

    form_class = ProductConditionLimitForm
    template_name = "inventory/condition_limit_form.html"

    def get_permission_required(self):
        action = "change" if "limit_pk" in self.kwargs else "add"
        return ("inventory.view_product", f"inventory.{action}_conditionlimit")

    def dispatch(self, request, *args, **kwargs):
        try:
            self.product = selectors.product_for_page(kwargs["pk"])
            self.limit = (
                ConditionLimit.objects.get(pk=kwargs["limit_pk"], product=self.product)
                if "limit_pk" in kwargs
                else None
            )
        except (Product.DoesNotExist, ConditionLimit.DoesNotExist) as exc:
            raise Http404("No such product or limit.") from exc
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.limit}

    def form_valid(self, form):
        try:
            if self.limit is None:
                form.instance.product = self.product
                limit = services.record_create(
                    instance=form.instance, acting_user=self.request.user
                )
            else:
                limit = services.record_update(
                    instance=self.limit,
                    acting_user=self.request.user,
                    reason=str(CONDITIONS_LIMIT_CHANGED),
                    **{name: form.cleaned_data[name] for name in form.changed_data},
                )
        except ValidationError as exc:
            _add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(
            self.request,
            CONDITIONS_LIMIT_SAVED
            % {"name": limit.name, "product": self.product.sku, "band": limit.band},
        )
        return redirect(f"{reverse('product_detail', args=[self.product.pk])}#condition-limits")

    def get_context_data(self, **kwargs):
        return super().get_context_data(product=self.product, limit=self.limit, **kwargs)
