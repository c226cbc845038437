"""The admin's view of recalls: campaigns with their frozen snapshot and timeline.

Campaigns are opened by `manage.py recall open` (and later from the pages), which freezes the
snapshot and holds the stock; the admin changes a campaign's details through the service and
shows everything else read-only.
"""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from inventory.admin import HistoryAdmin, ReadOnlyAdmin, ReadOnlyInline
from inventory.models import Lot, SerialUnit

from . import services
from .capa.selectors import ITEM_RELATIONS
from .models import (
    PRODUCT_RELATIONS,
    AffectedItem,
    CampaignEvent,
    CampaignSignature,
    CapaAction,
    ConsigneeNotice,
    ItemResolution,
    NonConformance,
    NonConformanceEvent,
    NonConformanceItem,
    NoticeTemplate,
    RecallCampaign,
)

AFFECTED_FIELDS = (
    "label",
    "depth",
    "whereabouts",
    "site",
    "consignee",
    "shipped_by",
    "shipped_at",
    "installed_in_unit",
    "quantity",
    "unit",
    "status_at_opening",
    "put_on_hold",
    "resolution",
)
NOTICE_FIELDS = (
    "party",
    "method",
    "sent_at",
    "acknowledged_at",
    "quantity_on_hand",
    "quantity_returned",
    "quantity_destroyed",
    "quantity_corrected",
    "unit",
    "check_result",
)
TIMELINE_FIELDS = ("occurred_at", "kind", "actor", "message")


# A campaign can reach a hundred thousand items; its page shows the first rows and links to
# the paginated list of all of them.
INLINE_ROWS = 100


class FirstRowsFormSet(BaseInlineFormSet):
    def get_queryset(self):
        return super().get_queryset()[:INLINE_ROWS]


class AffectedItemInline(ReadOnlyInline):
    model = AffectedItem
    formset = FirstRowsFormSet
    fields = AFFECTED_FIELDS
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = _("affected items (the first %(rows)d)") % {"rows": INLINE_ROWS}

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                *PRODUCT_RELATIONS,
                "site",
                "consignee",
                "shipped_by",
                "installed_in__serialunit__product",
            )
            .order_by("position", "pk")
        )

    @admin.display(description=_("installed in"))
    def installed_in_unit(self, obj):
        if obj.installed_in is None:
            return "—"
        return str(obj.installed_in.serialunit)


class ConsigneeNoticeInline(ReadOnlyInline):
    model = ConsigneeNotice
    formset = FirstRowsFormSet
    fields = NOTICE_FIELDS
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = _("consignee notices (the first %(rows)d)") % {"rows": INLINE_ROWS}

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("party").order_by("party__name")


class CampaignEventInline(ReadOnlyInline):
    model = CampaignEvent
    fields = TIMELINE_FIELDS
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor").order_by("occurred_at", "pk")


@admin.register(RecallCampaign)
class RecallCampaignAdmin(HistoryAdmin):
    list_display = ("reference", "title", "classification", "status", "is_drill", "opened_at")
    list_filter = ("status", "classification", "is_drill")
    search_fields = ("reference", "title")
    ordering = ("-year", "-number")
    fields = (
        "reference",
        "status",
        "is_drill",
        "title",
        "reason",
        "hazard",
        "classification",
        "depth",
        "public_warning",
        "effectiveness_check",
        "consumer_notice",
        "owner",
        "scope",
        "all_records",
        "opened_at",
        "trace_duration",
        "estimated_completion_on",
        "completed_at",
        "terminated_at",
    )
    readonly_fields = (
        "reference",
        "status",
        "is_drill",
        "scope",
        "all_records",
        "opened_at",
        "trace_duration",
        "completed_at",
        "terminated_at",
    )
    inlines = [CampaignEventInline, ConsigneeNoticeInline, AffectedItemInline]

    @admin.display(description=_("snapshot"))
    def all_records(self, obj):
        links = [
            (
                "admin:recalls_affecteditem_changelist",
                obj.affected_items.count(),
                _("affected item rows"),
            ),
            ("admin:recalls_consigneenotice_changelist", obj.notices.count(), _("consignees")),
        ]
        template = " · ".join(['<a href="{}?campaign__id__exact={}">{} {}</a>'] * len(links))
        values = [value for name, n, label in links for value in (reverse(name), obj.pk, n, label)]
        return format_html(template, *values)

    def has_add_permission(self, request):
        # Opening freezes the snapshot and holds stock: the recall pages and `manage.py recall
        # open` do it through the service.
        return False

    def has_delete_permission(self, request, obj=None):
        # A campaign is evidence from its draft on (its reference is taken, its timeline kept).
        return False

    def save_model(self, request, obj, form, change):
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if changed:
            services.campaign_update(campaign=obj, acting_user=request.user, **changed)


@admin.register(AffectedItem)
class AffectedItemAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "label", "whereabouts", "consignee", "quantity", "unit")
    list_filter = ("whereabouts", "put_on_hold", "resolution")
    search_fields = (
        "campaign__reference",
        "lot_code",
        "serial",
        "item__lot__product__sku",
        "item__serialunit__product__sku",
    )
    list_select_related = ("campaign", *PRODUCT_RELATIONS, "consignee")


@admin.register(ConsigneeNotice)
class ConsigneeNoticeAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "party", "method", "sent_at", "acknowledged_at", "check_result")
    search_fields = ("campaign__reference", "party__name")
    list_select_related = ("campaign", "party")


@admin.register(CampaignEvent)
class CampaignEventAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "occurred_at", "kind", "actor", "message")
    list_filter = ("kind",)
    search_fields = ("campaign__reference", "message")
    list_select_related = ("campaign", "actor")


@admin.register(ItemResolution)
class ItemResolutionAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "affected_item", "outcome", "quantity", "unit", "recorded_by")
    list_filter = ("outcome",)
    search_fields = ("campaign__reference", "affected_item__lot_code", "affected_item__serial")
    list_select_related = (
        "campaign",
        *(f"affected_item__{relation}" for relation in PRODUCT_RELATIONS),
        "recorded_by",
    )


@admin.register(CampaignSignature)
class CampaignSignatureAdmin(ReadOnlyAdmin):
    list_display = ("campaign", "meaning", "signer_name", "signed_at")
    list_filter = ("meaning",)
    search_fields = ("campaign__reference", "signer_name")
    list_select_related = ("campaign",)


@admin.register(NoticeTemplate)
class NoticeTemplateAdmin(HistoryAdmin):
    list_display = ("name", "subject", "is_default")
    search_fields = ("name", "subject")


def _open_recall_action(param: str):
    """An action for the lot and unit lists: open the recall form with the selection as its
    scope (the form shows what it will recall before anything is written)."""

    @admin.action(
        description=_("Open a recall campaign for the selected"),
        permissions=["open_recall"],
    )
    def open_recall(modeladmin, request, queryset):
        keys = list(queryset.values_list("pk", flat=True)[:OPEN_FROM_ADMIN_MAX])
        query = urlencode([(param, key) for key in keys])
        return HttpResponseRedirect(f"{reverse('recalls:open')}?{query}")

    return open_recall


# More would not fit a URL; the form takes serial ranges, supplier lot codes and dates instead.
OPEN_FROM_ADMIN_MAX = 200


def _has_open_recall_permission(modeladmin, request):
    return request.user.has_perm("recalls.open_recallcampaign")


for _model, _param in ((Lot, "lot"), (SerialUnit, "serial")):
    _model_admin = admin.site.get_model_admin(_model)
    _model_admin.actions = [*(_model_admin.actions or []), _open_recall_action(_param)]
    _model_admin.has_open_recall_permission = _has_open_recall_permission.__get__(_model_admin)


# --- Non-conformances and CAPA ---
# Reports and actions move only through their page's forms, which check the workflow, the
# owners and the signature; the admin shows them, their versions and their timeline.


class NonConformanceItemInline(ReadOnlyInline):
    model = NonConformanceItem
    fields = readonly_fields = ("item_label", "quantity")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*ITEM_RELATIONS)

    @admin.display(description=_("lot or serial unit"))
    def item_label(self, obj):
        return str(obj.item.tracked)


class CapaActionInline(ReadOnlyInline):
    model = CapaAction
    fields = readonly_fields = ("number", "kind", "description", "owner", "due_on", "status")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "nonconformance")


class NonConformanceEventInline(ReadOnlyInline):
    model = NonConformanceEvent
    fields = readonly_fields = ("occurred_at", "kind", "actor", "message")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(NonConformance)
class NonConformanceAdmin(ReadOnlyAdmin, HistoryAdmin):
    list_display = (
        "reference",
        "title",
        "severity",
        "source",
        "status",
        "detected_on",
        "owner",
        "recall_campaign",
        "closed_at",
    )
    list_filter = ("status", "severity", "source", "root_cause_category", "detected_on")
    search_fields = ("reference", "title", "description", "party__name")
    list_select_related = ("owner", "recall_campaign")
    date_hierarchy = "detected_on"
    ordering = ("-created_at", "-pk")
    readonly_fields = fields = (
        "reference",
        "title",
        "description",
        "severity",
        "source",
        "detected_on",
        "party",
        "status",
        "owner",
        "containment",
        "investigation",
        "root_cause",
        "root_cause_category",
        "disposition",
        "disposition_note",
        "recall_campaign",
        "reported_by",
        "created_at",
        "updated_at",
        "closure",
        "closing_note",
        "closed_by",
        "closed_by_name",
        "closed_at",
    )
    inlines = (NonConformanceItemInline, CapaActionInline, NonConformanceEventInline)

    def view_on_site(self, obj):
        return obj.get_absolute_url()


@admin.register(CapaAction)
class CapaActionAdmin(ReadOnlyAdmin, HistoryAdmin):
    list_display = ("reference", "kind", "owner", "due_on", "status", "completed_at", "verified_at")
    list_filter = ("status", "kind", "due_on")
    search_fields = ("nonconformance__reference", "description", "owner__username")
    list_select_related = ("nonconformance", "owner")
    ordering = ("due_on", "pk")
    readonly_fields = fields = (
        "nonconformance",
        "number",
        "kind",
        "description",
        "owner",
        "due_on",
        "status",
        "completed_at",
        "completed_by",
        "completion_note",
        "verified_at",
        "verified_by",
        "verification_note",
        "created_at",
        "created_by",
    )

    @admin.display(description=_("action"), ordering="nonconformance__reference")
    def reference(self, obj):
        return obj.reference

    def view_on_site(self, obj):
        return obj.get_absolute_url()
