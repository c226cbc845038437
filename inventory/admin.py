"""The administrators' view of inventory; every write goes through the services."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from import_export.forms import ImportForm, SelectableFieldsExportForm
from import_export.results import RowResult
from simple_history.admin import SimpleHistoryAdmin

from . import quality, selectors, services
from .forms import ConditionLimitForm
from .models import (
    Certificate,
    ConditionLimit,
    Deviation,
    EventLine,
    Genealogy,
    Job,
    Lot,
    Measurement,
    Party,
    Product,
    ReleaseDecision,
    ReturnPhoto,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    Site,
    Specification,
    SpecificationTest,
    StatusChange,
    TestResult,
    TraceEvent,
    UnitOwnership,
    UnitReturn,
    WarrantyClaim,
)
from .resources import (
    FORMATS,
    LotResource,
    PartyResource,
    ProductResource,
    SerialUnitResource,
    SiteResource,
)

admin.site.site_header = _("%(product)s administration") % {"product": settings.PRODUCT_NAME}
admin.site.site_title = _("%(product)s admin") % {"product": settings.PRODUCT_NAME}
admin.site.index_title = _("Lots, serial units and their records")


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class ServiceSaveMixin:
    """Save edits through the services so the audit trail knows who changed what."""

    def save_model(self, request, obj, form, change):
        if change:
            changed = {name: form.cleaned_data[name] for name in form.changed_data}
            if changed:
                services.record_update(
                    instance=obj,
                    acting_user=request.user,
                    reason=_("Changed in the admin"),
                    **changed,
                )
            return
        created = self.create_through_service(request, form.cleaned_data)
        if created is None:
            services.record_create(instance=obj, acting_user=request.user)
        else:
            obj.pk = created.pk
            obj._state.adding = False

    def create_through_service(self, request, data):
        """Create the record through its own service; None means a plain validated save."""
        return None

    def delete_queryset(self, request, queryset):
        # One by one, so each lot's or unit's graph node goes too (and protects it if used).
        for obj in queryset:
            obj.delete()


class HistoryAdmin(SimpleHistoryAdmin):
    """Old versions can be viewed, never restored: a revert would bypass the services' rules."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # django-simple-history saves a POST here even for users who may only view.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


IMPORTED = _(
    "Imported %(source)s: %(new)d new, %(updated)d updated and %(unchanged)d unchanged %(items)s."
)


class ExportColumnsForm(SelectableFieldsExportForm):
    def _get_field_label(self, resource, field_name):
        # The column's heading, as in the file; not "Produced On (Production or receipt date)".
        return resource.fields[field_name].column_name


# A spreadsheet of 100,000 lots is about 10 MB as CSV; larger files go through import_records.
SPREADSHEET_MAX_UPLOAD_SIZE = 20 * 1024 * 1024
SPREADSHEET_TOO_BIG = _(
    "%(name)s is %(size)s; a spreadsheet uploaded here may be up to %(limit)s. "
    "Import larger files with: manage.py import_records"
)


class SpreadsheetImportForm(ImportForm):
    """django-import-export's import form, refusing a file over the size limit before reading it."""

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if upload.size > SPREADSHEET_MAX_UPLOAD_SIZE:
            raise ValidationError(
                SPREADSHEET_TOO_BIG,
                code="too_big",
                params={
                    "name": upload.name,
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(SPREADSHEET_MAX_UPLOAD_SIZE),
                },
            )
        return upload


class SpreadsheetMixin(ImportExportMixin):
    """Import and Export on the change list: CSV or XLSX, a preview first, then all rows or none."""

    formats = list(FORMATS.values())
    import_form_class = SpreadsheetImportForm
    export_form_class = ExportColumnsForm
    import_template_name = "admin/inventory/spreadsheet_import.html"
    # Excel reads a CSV file as UTF-8 only when it starts with a byte-order mark.
    to_encoding = "utf-8-sig"

    def has_import_permission(self, request):
        # An import both adds and changes records.
        return super().has_import_permission(request) and self.has_change_permission(request)

    def get_import_context_data(self, **kwargs):
        resource = self.resource_classes[0]()
        return {
            "row_finds": resource.row_finds,
            "read_only_columns": [resource.fields[name].column_name for name in resource.read_only],
        }

    def get_export_data(self, file_format, request, queryset, **kwargs):
        if not file_format.is_binary():
            return super().get_export_data(file_format, request, queryset, **kwargs)
        # import-export types cells (numbers, dates) only for its own XLSX class, by exact
        # type; ours is a subclass that keeps text cells text.
        if not self.has_export_permission(request):
            raise PermissionDenied
        data = self.get_data_for_export(request, queryset, force_native_type=True, **kwargs)
        return file_format.export_data(data)

    def add_success_message(self, result, request):
        totals = result.totals
        messages.success(
            request,
            IMPORTED
            % {
                "source": request.POST.get("original_file_name") or _("the file"),
                "new": totals[RowResult.IMPORT_TYPE_NEW],
                "updated": totals[RowResult.IMPORT_TYPE_UPDATE],
                "unchanged": totals[RowResult.IMPORT_TYPE_SKIP],
                "items": self.opts.verbose_name_plural,
            },
        )

    def process_result(self, result, request):
        if not result.failed:
            return super().process_result(result, request)
        # The records changed between the preview and the confirmation, and a row no longer
        # passes: nothing was written; show why, as the preview would have.
        form = self.get_import_form_class(request)(
            self.get_import_formats(), self.get_import_resource_classes(request)
        )
        context = {
            **self.admin_site.each_context(request),
            **self.get_import_context_data(),
            "title": _("Import"),
            "form": form,
            "opts": self.opts,
            "media": self.media + form.media,
            "result": result,
            "import_error_display": self.import_error_display,
        }
        return TemplateResponse(request, [self.import_template_name], context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _item_label(item):
    tracked = item.tracked
    if isinstance(tracked, Lot):
        return format_html(
            '<a href="{}">{} lot {}</a>',
            reverse("admin:inventory_lot_change", args=[tracked.pk]),
            tracked.product.sku,
            tracked.code,
        )
    return format_html(
        '<a href="{}">{} serial {}</a>',
        reverse("admin:inventory_serialunit_change", args=[tracked.pk]),
        tracked.product.sku,
        tracked.serial,
    )


class TrackedItemRecordsMixin:
    """Read-only panels for a lot's or unit's events, genealogy and status history."""

    def has_delete_permission(self, request, obj=None):
        # Every lot and unit is born with an event; its history keeps it (no hard delete).
        return False

    def event_timeline(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        lines = selectors.item_timeline(obj.pk)
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{line.event.occurred_at:%Y-%m-%d %H:%M}",
                    reverse("admin:inventory_traceevent_change", args=[line.event.pk]),
                    capfirst(line.event.get_event_type_display()),
                    line.get_role_display(),
                    f"{line.quantity.normalize():f} {line.get_unit_display()}"
                    if line.quantity is not None
                    else "",
                    line.event.site or line.event.source_party or "",
                    line.event.destination_party or line.event.destination_site or "",
                    f"{line.event.document_number}" if line.event.document_number else "",
                )
                for line in lines
            ),
        )
        if not rows:
            return _("No events.")
        return format_html(
            "<table><thead><tr><th>When</th><th>Event</th><th>Role</th><th>Quantity</th>"
            "<th>Where / from</th><th>To</th><th>Document</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    event_timeline.short_description = _("event timeline")

    def _links(self, links, node_attr):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    _item_label(getattr(link, node_attr)),
                    link.get_kind_display(),
                    f"{link.quantity.normalize():f} {link.get_unit_display()}"
                    if link.quantity is not None
                    else "",
                    f"{link.event.occurred_at:%Y-%m-%d}",
                )
                for link in links
            ),
        )
        if not rows:
            return _("None recorded.")
        return format_html(
            "<table><thead><tr><th>Item</th><th>Link</th><th>Quantity</th><th>Date</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def made_from(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return self._links(selectors.genealogy_links(obj.pk, upstream=True), "parent")

    made_from.short_description = _("made from (one level up)")

    def went_into(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return self._links(selectors.genealogy_links(obj.pk, upstream=False), "child")

    went_into.short_description = _("went into (one level down)")

    def status_history(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        changes = selectors.status_history(obj.pk)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{change.changed_at:%Y-%m-%d %H:%M}",
                    change.from_label,
                    change.to_label,
                    change.changed_by or "",
                    change.reason,
                )
                for change in changes
            ),
        )
        if not rows:
            return _("No status changes.")
        return format_html(
            "<table><thead><tr><th>When</th><th>Change</th><th>Who</th><th>Why</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    status_history.short_description = _("status history")


class StatusReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Kept with each status change, e.g. 'Supplier notice SN-88: Listeria'."),
    )


def _status_action(status, label):
    """An admin action that asks for a reason, then changes each selected item's status."""

    def action(modeladmin, request, queryset):
        form = StatusReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            changed, errors = 0, []
            for item in queryset.select_related("product"):
                if item.status == status:
                    continue
                try:
                    services.item_change_status(
                        item=item,
                        status=status,
                        reason=form.cleaned_data["reason"],
                        acting_user=request.user,
                    )
                    changed += 1
                except ValidationError as exc:
                    errors.append(f"{item}: {_error_text(exc)}")
            modeladmin.message_user(
                request,
                _("%(count)d set to %(status)s.") % {"count": changed, "status": label},
                messages.SUCCESS,
            )
            for error in errors:
                modeladmin.message_user(request, error, messages.ERROR)
            return None
        return TemplateResponse(
            request,
            "admin/inventory/status_action.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": _("Set to %(status)s") % {"status": label},
                "status_label": label,
                "items": queryset.select_related("product"),
                "form": form,
                "action": request.POST["action"],
                "opts": modeladmin.model._meta,
                "select_across": request.POST.get("select_across", "0"),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            },
        )

    action.__name__ = f"set_{status}"
    return admin.action(
        description=_("Set to %(status)s…") % {"status": label}, permissions=["change_status"]
    )(action)


class HasStatusPermissionMixin:
    def has_change_status_permission(self, request):
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}_status")


@admin.register(Party)
class PartyAdmin(SpreadsheetMixin, ServiceSaveMixin, HistoryAdmin):
    resource_classes = [PartyResource]
    list_display = ("name", "gln", "roles", "contact_name", "email", "phone", "country", "active")
    list_filter = (
        "is_internal",
        "is_supplier",
        "is_customer",
        "is_carrier",
        "needs_review",
        "active",
        "country",
    )
    search_fields = ("name", "gln", "contact_name", "email")
    ordering = ("name", "pk")
    fieldsets = (
        (None, {"fields": ("name", "gln", "active", "needs_review")}),
        (_("Roles"), {"fields": ("is_internal", "is_supplier", "is_customer", "is_carrier")}),
        (_("Contact for recall notices"), {"fields": ("contact_name", "email", "phone")}),
        (_("Address"), {"fields": ("street", "postal_code", "city", "region", "country")}),
    )

    @admin.display(description=_("roles"))
    def roles(self, obj):
        flags = (
            (obj.is_internal, _("ours")),
            (obj.is_supplier, _("supplier")),
            (obj.is_customer, _("customer")),
            (obj.is_carrier, _("carrier")),
        )
        return ", ".join(str(label) for flag, label in flags if flag)


@admin.register(Site)
class SiteAdmin(SpreadsheetMixin, ServiceSaveMixin, HistoryAdmin):
    resource_classes = [SiteResource]
    list_display = ("code", "name", "kind", "party", "gln", "city", "country", "active")
    list_filter = ("kind", "active", "party__is_internal", "country")
    search_fields = ("code", "name", "gln", "party__name")
    autocomplete_fields = ("party",)
    list_select_related = ("party",)
    ordering = ("code",)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "party", "gln", "active")}),
        (_("Address"), {"fields": ("street", "postal_code", "city", "region", "country", "phone")}),
    )


@admin.register(Product)
class ProductAdmin(SpreadsheetMixin, ServiceSaveMixin, HistoryAdmin):
    resource_classes = [ProductResource]
    list_display = (
        "sku",
        "name",
        "gtin",
        "tracking",
        "unit",
        "shelf_life_days",
        "warranty_months",
        "on_food_traceability_list",
        "active",
    )
    list_filter = ("tracking", "active", "on_food_traceability_list", "needs_review", "unit")
    search_fields = ("sku", "name", "gtin")
    ordering = ("sku",)


class ServiceRecordInline(ReadOnlyInline):
    model = ServiceRecord
    fields = ("performed_on", "kind", "outcome", "technician", "description")
    readonly_fields = fields
    ordering = ("-performed_on", "-pk")


class ComponentInline(ReadOnlyInline):
    model = SerialUnit
    fk_name = "installed_in"
    verbose_name = _("installed component")
    verbose_name_plural = _("installed components")
    fields = ("product", "serial", "lot", "status")
    readonly_fields = fields


class ExpiryFilter(admin.SimpleListFilter):
    title = _("expiry")
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return (
            ("expired", _("expired")),
            ("30", _("within 30 days")),
            ("90", _("within 90 days")),
            ("none", _("no expiry date")),
        )

    def queryset(self, request, queryset):
        from datetime import timedelta

        from django.utils import timezone

        today = timezone.localdate()
        value = self.value()
        if value == "expired":
            return queryset.filter(expires_on__lt=today)
        if value in ("30", "90"):
            return queryset.filter(
                expires_on__gte=today, expires_on__lte=today + timedelta(days=int(value))
            )
        if value == "none":
            return queryset.filter(expires_on__isnull=True)
        return queryset


@admin.register(Lot)
class LotAdmin(
    SpreadsheetMixin,
    HasStatusPermissionMixin,
    TrackedItemRecordsMixin,
    ServiceSaveMixin,
    HistoryAdmin,
):
    resource_classes = [LotResource]
    list_display = (
        "code",
        "product",
        "status",
        "produced_on",
        "expires_on",
        "quantity",
        "unit",
        "supplier",
        "supplier_lot_code",
        "site",
    )
    list_filter = ("status", ExpiryFilter, "product__tracking", "supplier", "site")
    search_fields = (
        "code",
        "supplier_lot_code",
        "product__sku",
        "product__gtin",
        "product__name",
        "supplier__name",
    )
    autocomplete_fields = ("product", "supplier", "site")
    list_select_related = ("product", "supplier", "site")
    date_hierarchy = "produced_on"
    ordering = ("-produced_on", "-pk")
    readonly_fields = ("status", "status_history", "event_timeline", "made_from", "went_into")
    actions = [
        _status_action(Lot.Status.QUARANTINED, _("quarantined")),
        _status_action(Lot.Status.ON_HOLD, _("on hold")),
        _status_action(Lot.Status.RELEASED, _("released")),
        _status_action(Lot.Status.REJECTED, _("rejected")),
    ]
    fieldsets = (
        (None, {"fields": ("product", "code", "status", "quantity", "unit")}),
        (_("Dates"), {"fields": ("produced_on", "expires_on")}),
        (_("Origin"), {"fields": ("site", "supplier", "supplier_lot_code")}),
        (_("Status history"), {"fields": ("status_history",)}),
        (_("Events"), {"fields": ("event_timeline",)}),
        (_("Genealogy"), {"fields": ("made_from", "went_into")}),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["product", "code"]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None else fieldsets[:3]

    def create_through_service(self, request, data):
        return services.lot_create(
            product=data["product"],
            code=data["code"],
            quantity=data["quantity"],
            unit=data["unit"],
            produced_on=data.get("produced_on"),
            expires_on=data.get("expires_on"),
            supplier=data.get("supplier"),
            supplier_lot_code=data.get("supplier_lot_code", ""),
            site=data.get("site"),
            acting_user=request.user,
        )


@admin.register(SerialUnit)
class SerialUnitAdmin(
    SpreadsheetMixin,
    HasStatusPermissionMixin,
    TrackedItemRecordsMixin,
    ServiceSaveMixin,
    HistoryAdmin,
):
    resource_classes = [SerialUnitResource]
    list_display = (
        "serial",
        "product",
        "lot",
        "status",
        "holder",
        "shipped_on",
        "warranty_ends_on",
        "installed_in",
    )
    list_filter = ("status", "product", "holder_site", "warranty_overridden")
    search_fields = ("serial", "product__sku", "product__gtin", "lot__code", "holder_party__name")
    autocomplete_fields = ("product", "lot", "holder_site", "holder_party")
    list_select_related = (
        "product",
        "lot__product",
        "holder_site",
        "holder_party",
        "installed_in__product",
    )
    ordering = ("product__sku", "serial")
    readonly_fields = (
        "status",
        "installed_in",
        "status_history",
        "event_timeline",
        "made_from",
        "went_into",
    )
    inlines = (ComponentInline, ServiceRecordInline)
    actions = [
        _status_action(SerialUnit.Status.QUARANTINED, _("quarantined")),
        _status_action(SerialUnit.Status.ON_HOLD, _("on hold")),
        _status_action(SerialUnit.Status.IN_STOCK, _("in stock")),
    ]
    fieldsets = (
        (None, {"fields": ("product", "serial", "lot", "status", "produced_on")}),
        (_("Where it is"), {"fields": ("holder_site", "holder_party", "installed_in")}),
        (_("Warranty"), {"fields": ("shipped_on", "warranty_ends_on", "warranty_overridden")}),
        (_("Status history"), {"fields": ("status_history",)}),
        (_("Events"), {"fields": ("event_timeline",)}),
        (_("Genealogy"), {"fields": ("made_from", "went_into")}),
    )

    @admin.display(description=_("holder"))
    def holder(self, obj):
        return obj.holder_site or obj.holder_party or "—"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["product", "serial", "lot"]
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None else fieldsets[:3]

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def create_through_service(self, request, data):
        unit = services.serial_unit_create(
            product=data["product"],
            serial=data["serial"],
            lot=data.get("lot"),
            produced_on=data.get("produced_on"),
            site=data.get("holder_site"),
            acting_user=request.user,
        )
        extra = {
            name: data[name]
            for name in ("holder_party", "shipped_on", "warranty_ends_on", "warranty_overridden")
            if data.get(name)
        }
        if extra:
            services.record_update(instance=unit, acting_user=request.user, **extra)
        return unit


class ServicePartInline(ReadOnlyInline):
    model = ServicePart
    fields = ("part", "action")
    readonly_fields = fields


@admin.register(ServiceRecord)
class ServiceRecordAdmin(ServiceSaveMixin, HistoryAdmin):
    list_display = ("performed_on", "serial_unit", "kind", "outcome", "technician")
    list_filter = ("kind", "outcome")
    search_fields = (
        "serial_unit__serial",
        "serial_unit__product__sku",
        "description",
        "technician",
    )
    autocomplete_fields = ("serial_unit",)
    list_select_related = ("serial_unit__product",)
    readonly_fields = ("event", "recorded_by")
    inlines = (ServicePartInline,)
    ordering = ("-performed_on", "-pk")

    def create_through_service(self, request, data):
        return services.service_record_create(
            serial_unit=data["serial_unit"],
            kind=data["kind"],
            performed_on=data["performed_on"],
            description=data["description"],
            technician=data.get("technician", ""),
            outcome=data["outcome"],
            acting_user=request.user,
        )


class EventLineInline(ReadOnlyInline):
    model = EventLine
    fields = ("role", "item_label", "quantity", "unit")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("item__lot__product", "item__serialunit__product")
        )

    @admin.display(description=_("item"))
    def item_label(self, obj):
        return _item_label(obj.item)


class GenealogyInline(ReadOnlyInline):
    model = Genealogy
    fields = ("parent_label", "child_label", "kind", "quantity", "unit")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "parent__lot__product",
                "parent__serialunit__product",
                "child__lot__product",
                "child__serialunit__product",
            )
        )

    @admin.display(description=_("went into"))
    def parent_label(self, obj):
        return _item_label(obj.parent)

    @admin.display(description=_("became"))
    def child_label(self, obj):
        return _item_label(obj.child)


@admin.register(TraceEvent)
class TraceEventAdmin(ReadOnlyAdmin):
    list_display = (
        "occurred_at",
        "event_type",
        "site",
        "source_party",
        "destination_party",
        "document_type",
        "document_number",
        "recorded_by",
    )
    list_filter = ("event_type", "document_type", "site", "occurred_at")
    search_fields = (
        "event_id",
        "document_number",
        "notes",
        "source_party__name",
        "destination_party__name",
    )
    list_select_related = ("site", "source_party", "destination_party", "recorded_by")
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-pk")
    inlines = (EventLineInline, GenealogyInline)


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "item", "from_status", "to_status", "changed_by", "reason")
    list_filter = ("to_status",)
    search_fields = ("reason",)
    list_select_related = ("item", "changed_by")
    ordering = ("-changed_at", "-pk")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Background work, read only: who started what, when, and how it ended."""

    list_display = ("title", "kind", "status", "created_by", "created_at", "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("created_by",)
    search_fields = ("title",)
    date_hierarchy = "created_at"
    exclude = ("payload", "output")

    def get_queryset(self, request):
        # An upload waiting to be read, or a file made, can be tens of megabytes a row.
        return super().get_queryset(request).defer("payload", "output")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Owners ---


class UnitOwnershipForm(forms.ModelForm):
    def clean(self):
        data = super().clean()
        # Consent is read-only here, so the model's own check would skip it until the save.
        if (data.get("email") or data.get("phone")) and not self.instance.consent:
            raise ValidationError(services.OWNER_CONTACT_NEEDS_CONSENT)
        return data


@admin.register(UnitOwnership)
class UnitOwnershipAdmin(ServiceSaveMixin, HistoryAdmin):
    """Corrections to an owner's record; registering and transfers happen on the unit's page."""

    form = UnitOwnershipForm
    list_display = ("serial_unit", "owner_name", "started_on", "ended_on", "consent")
    list_filter = ("consent",)
    search_fields = ("owner_name", "serial_unit__serial", "serial_unit__product__sku")
    list_select_related = ("serial_unit__product",)
    fields = (
        "serial_unit",
        "owner_name",
        "started_on",
        "ended_on",
        "consent",
        "consent_at",
        "email",
        "phone",
        "registered_by",
        "registered_at",
    )
    readonly_fields = ("serial_unit", "consent", "consent_at", "registered_by", "registered_at")
    ordering = ("-started_on", "-pk")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Warranty claims ---


@admin.register(WarrantyClaim)
class WarrantyClaimAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Claims move only through their page's steps, which check the warranty and the roles."""

    list_display = (
        "number",
        "serial_unit",
        "claimant",
        "reported_on",
        "warranty_ends_on",
        "status",
        "covered",
        "overridden",
        "decided_by",
        "opened_at",
    )
    list_filter = ("status", "covered", "overridden", "opened_at")
    search_fields = ("number", "serial_unit__serial", "claimant__name", "fault")
    list_select_related = ("serial_unit__product", "claimant", "decided_by")
    date_hierarchy = "opened_at"
    ordering = ("-opened_at", "-pk")
    # Most fields are not editable, which a change form would leave out; all are shown.
    readonly_fields = fields = (
        "number",
        "serial_unit",
        "unit_return",
        "claimant",
        "fault",
        "reported_on",
        "warranty_ends_on",
        "status",
        "covered",
        "overridden",
        "decision_reason",
        "decided_by",
        "decided_at",
        "service_record",
        "replacement",
        "resolved_at",
        "closed_at",
        "closing_note",
        "opened_by",
        "opened_at",
    )

    def view_on_site(self, obj):
        return obj.get_absolute_url()


# --- Returns (RMA) ----------------------------------------------------------------------------


class ReturnPhotoInline(ReadOnlyInline):
    model = ReturnPhoto
    fields = ("photo_link", "uploaded_by", "uploaded_at")
    readonly_fields = fields
    show_change_link = False

    @admin.display(description=_("photo"))
    def photo_link(self, obj):
        # Through the permission-checked view: media files are not served publicly.
        return format_html('<a href="{}">{}</a>', reverse("return_photo", args=[obj.pk]), obj)


@admin.register(UnitReturn)
class UnitReturnAdmin(ReadOnlyAdmin, HistoryAdmin):
    """Returns change only through their pages (the services), which record every step."""

    list_display = (
        "number",
        "serial_unit",
        "customer",
        "site",
        "received_at",
        "reason",
        "status",
        "outcome",
    )
    list_filter = ("status", "reason", "condition", "decision", "outcome", "site")
    search_fields = ("number", "serial_unit__serial", "customer__name")
    list_select_related = ("serial_unit__product", "customer", "site")
    date_hierarchy = "received_at"
    ordering = ("-received_at", "-pk")
    inlines = (ReturnPhotoInline,)

    def view_on_site(self, obj):
        return obj.get_absolute_url()


@admin.register(ReturnPhoto)
class ReturnPhotoAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "unit_return", "uploaded_by", "uploaded_at")
    list_select_related = ("unit_return__serial_unit__product", "uploaded_by")
    search_fields = ("unit_return__number",)
    fields = ("unit_return", "photo_link", "uploaded_by", "uploaded_at")
    readonly_fields = fields
    ordering = ("-uploaded_at", "-pk")

    @admin.display(description=_("photo"))
    def photo_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("return_photo", args=[obj.pk]), obj)


# --- Quality control: specifications and release ---


class SpecificationTestInline(admin.TabularInline):
    """A draft's tests; an approved version's are shown, never changed (copy it forward)."""

    model = SpecificationTest
    extra = 1
    fields = (
        "order",
        "name",
        "method",
        "unit",
        "lower_limit",
        "upper_limit",
        "expected_text",
        "required",
    )
    ordering = ("order", "name")

    def _editable(self, obj):
        return obj is None or not obj.is_approved

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Specification)
class SpecificationAdmin(HistoryAdmin):
    list_display = ("product", "version", "effective_from", "approved_at", "approved_by")
    list_filter = (("approved_at", admin.EmptyFieldListFilter), "product")
    search_fields = ("product__sku", "product__name")
    ordering = ("product__sku", "-version")
    list_select_related = ("product", "approved_by")
    fields = ("product", "version", "effective_from", "notes", "approved_by", "approved_at")
    readonly_fields = ("version", "approved_by", "approved_at")
    inlines = [SpecificationTestInline]
    actions = ["approve"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "product"] if obj is not None else fields

    def has_change_permission(self, request, obj=None):
        # An approved version stays as lots were judged against it.
        if obj is not None and obj.is_approved:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_approved:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            services.record_update(
                instance=obj,
                acting_user=request.user,
                reason=_("Changed in the admin"),
                **{name: form.cleaned_data[name] for name in form.changed_data},
            )
            return
        created = quality.specification_create(
            product=form.cleaned_data["product"],
            effective_from=form.cleaned_data["effective_from"],
            notes=form.cleaned_data.get("notes", ""),
            acting_user=request.user,
        )
        obj.pk, obj.version = created.pk, created.version
        obj._state.adding = False

    @admin.action(description=_("Approve the selected drafts"), permissions=["approve"])
    def approve(self, request, queryset):
        for specification in queryset.select_related("product"):
            try:
                quality.specification_approve(specification=specification, acting_user=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, _("%(spec)s approved.") % {"spec": specification})

    def has_approve_permission(self, request):
        return request.user.has_perm("inventory.approve_specification")


@admin.register(TestResult)
class TestResultAdmin(ReadOnlyAdmin):
    list_display = (
        "tested_at",
        "lot",
        "serial_unit",
        "specification_test",
        "value_text",
        "passed",
        "source",
        "certificate",
    )
    list_filter = ("passed", "source")
    search_fields = ("lot__code", "specification_test__name", "certificate__number")
    list_select_related = (
        "lot__product",
        "serial_unit__product",
        "specification_test",
        "certificate__supplier",
    )


@admin.register(ReleaseDecision)
class ReleaseDecisionAdmin(ReadOnlyAdmin):
    list_display = ("signed_at", "lot", "decision", "signer_name", "specification", "statement")
    list_filter = ("decision",)
    search_fields = ("lot__code", "signer_name")
    list_select_related = ("lot__product", "specification__product")


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ("number", "supplier", "issued_on", "uploaded_at")
    search_fields = ("number", "supplier__name")
    list_select_related = ("supplier",)


@admin.register(Deviation)
class DeviationAdmin(ReadOnlyAdmin):
    """Deviations are raised and decided on their pages, through the services."""

    list_display = ("reference", "item", "kind", "status", "raised_at", "decided_at")
    list_filter = ("status", "kind")
    search_fields = ("reference", "description")


# --- Quality control: process conditions ------------------------------------------------------


@admin.register(ConditionLimit)
class ConditionLimitAdmin(ServiceSaveMixin, HistoryAdmin):
    """Limits are edited here; readings keep a copy of those in force when they were taken, so
    an edit never rewrites them. A limit no longer wanted is made inactive, not deleted."""

    form = ConditionLimitForm
    list_display = ("product", "name", "measurement_type", "band", "hold_on_excursion", "active")
    list_filter = ("measurement_type", "active", "hold_on_excursion")
    search_fields = ("product__sku", "product__name", "name")
    list_select_related = ("product",)
    autocomplete_fields = ("product", "site")
    ordering = ("product__sku", "measurement_type", "name", "pk")

    @admin.display(description=_("range"))
    def band(self, obj):
        return obj.band

    def has_delete_permission(self, request, obj=None):
        return False

    def view_on_site(self, obj):
        return reverse("product_detail", args=[obj.product_id])


@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    """Readings are evidence: recorded on their page or by an import, never changed."""

    list_display = (
        "measured_at",
        "measurement_type",
        "reading",
        "within_limits",
        "event",
        "source",
        "device_id",
    )
    list_filter = ("measurement_type", "within_limits", "source")
    search_fields = ("device_id", "event__event_id")
    list_select_related = ("event",)
    date_hierarchy = "measured_at"
    ordering = ("-measured_at", "-pk")
