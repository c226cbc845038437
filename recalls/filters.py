"""Filters for the recall pages (django-filter): the campaign list and a campaign's lines."""

import django_filters
from django import forms
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .models import AffectedItem, ConsigneeNotice, RecallCampaign

ANY = _("any")


class CampaignFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Reference or title"))
    status = django_filters.ChoiceFilter(
        empty_label=ANY,
        field_name="status",
        lookup_expr="exact",
        choices=RecallCampaign.Status.choices,
    )
    classification = django_filters.ChoiceFilter(
        empty_label=ANY,
        field_name="classification",
        lookup_expr="exact",
        choices=RecallCampaign.Classification.choices,
    )
    is_drill = django_filters.BooleanFilter(
        field_name="is_drill",
        lookup_expr="exact",
        label=_("Kind"),
        widget=forms.Select(
            choices=[("", ANY), ("false", _("real recalls")), ("true", _("mock recalls"))]
        ),
    )

    class Meta:
        model = RecallCampaign
        fields = ["q", "status", "classification", "is_drill"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(reference__icontains=value) | Q(title__icontains=value))


STATE_CHOICES = [
    ("open", _("not resolved in full")),
    ("resolved", _("resolved in full")),
    ("unresolved", _("nothing resolved yet")),
]


class AffectedItemFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Lot, serial or SKU"))
    whereabouts = django_filters.ChoiceFilter(
        empty_label=ANY,
        field_name="whereabouts",
        lookup_expr="exact",
        choices=AffectedItem.Whereabouts.choices,
        label=_("Where at opening"),
    )
    state = django_filters.ChoiceFilter(
        empty_label=ANY, method="by_state", choices=STATE_CHOICES, label=_("State")
    )
    resolution = django_filters.ChoiceFilter(
        empty_label=ANY,
        field_name="resolution",
        lookup_expr="exact",
        choices=AffectedItem.Resolution.choices,
        label=_("Last outcome"),
    )
    consignee = django_filters.CharFilter(
        field_name="consignee__name", lookup_expr="icontains", label=_("Consignee")
    )

    class Meta:
        model = AffectedItem
        fields = ["q", "whereabouts", "state", "resolution", "consignee"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(
            Q(lot_code__icontains=value)
            | Q(serial__icontains=value)
            | Q(item__lot__product__sku__iexact=value)
            | Q(item__serialunit__product__sku__iexact=value)
        )

    def by_state(self, queryset, name, value):
        full = Q(resolved_quantity__gte=F("quantity"))
        if value == "resolved":
            return queryset.filter(full)
        if value == "unresolved":
            return queryset.filter(resolved_quantity__isnull=True)
        return queryset.exclude(full)


RESPONSE_CHOICES = [
    ("unsent", _("not notified")),
    ("silent", _("notified, no answer")),
    ("responded", _("answered")),
]


class NoticeFilter(django_filters.FilterSet):
    party = django_filters.CharFilter(
        field_name="party__name", lookup_expr="icontains", label=_("Consignee")
    )
    response = django_filters.ChoiceFilter(
        empty_label=ANY, method="by_response", choices=RESPONSE_CHOICES, label=_("State")
    )

    class Meta:
        model = ConsigneeNotice
        fields = ["party", "response"]

    def by_response(self, queryset, name, value):
        answered = Q(acknowledged_at__isnull=False) | Q(responded_at__isnull=False)
        if value == "unsent":
            return queryset.filter(sent_at__isnull=True)
        if value == "silent":
            return queryset.filter(sent_at__isnull=False).exclude(answered)
        return queryset.filter(answered)
