"""Thin views: forms validate, selectors read, services write."""

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.generic import FormView, TemplateView
from django_tables2 import RequestConfig
from django_tables2.export.export import TableExport

from . import selectors, services
from .forms import StatusChangeForm, TraceForm
from .models import Lot, SerialUnit
from .tables import TracedItemTable, traced_rows
from .trace import Direction, trace

TREE_ROWS_SHOWN = 300


class HomeView(TemplateView):
    template_name = "inventory/home.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            counts=selectors.dashboard_counts(),
            attention_lots=selectors.lots_needing_attention(),
            recent_events=selectors.recent_events(),
            warranty_claims=selectors.open_warranty_claims(),
            **kwargs,
        )


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
            table = TracedItemTable(traced_rows(result))
            RequestConfig(request).configure(table)
            export_format = request.GET.get("_export")
            if TableExport.is_valid_format(export_format):
                name = f"trace-{result.direction}.{export_format}"
                return TableExport(export_format, table).response(name)
            context.update(_trace_context(result), table=table)
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
        return context


class SerialUnitDetailView(TrackedItemDetailView):
    model = SerialUnit
    permission_required = "inventory.view_serialunit"
    template_name = "inventory/serial_detail.html"
    load = staticmethod(selectors.serial_unit_for_page)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        unit = context["item"]
        context.update(
            components=selectors.installed_components(unit),
            service_records=selectors.service_records(unit),
            under_warranty=unit.is_under_warranty(),
        )
        return context


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
