"""Filters for the non-conformance and CAPA action lists, in the style of inventory's lists."""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.filters import (
    ANY,
    DateRangeForm,
    ListFilterSet,
    _choice_filter,
    _date_filter,
)

from ..models import CapaAction, NonConformance

OPEN_CHOICES = [("true", _("not closed")), ("false", _("closed"))]


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "username")


class _PersonField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class PersonFilter(django_filters.ModelChoiceFilter):
    """A person by their name, as the lists show them."""

    field_class = _PersonField


class NonConformanceFilterForm(DateRangeForm):
    date_ranges = (("detected_from", "detected_to"),)


class NonConformanceFilter(ListFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Reference, title, lot or serial"))
    status = _choice_filter("status", NonConformance.Status.choices, _("Status"))
    open = django_filters.BooleanFilter(
        field_name="closed_at",
        lookup_expr="isnull",
        label=_("Open or closed"),
        widget=forms.Select(choices=[("", ANY), *OPEN_CHOICES]),
    )
    severity = _choice_filter("severity", NonConformance.Severity.choices, _("Severity"))
    source = _choice_filter("source", NonConformance.Source.choices, _("Source"))
    root_cause_category = _choice_filter(
        "root_cause_category", NonConformance.RootCause.choices, _("Root cause")
    )
    owner = PersonFilter(
        field_name="owner",
        lookup_expr="exact",
        queryset=_people(),
        empty_label=ANY,
        label=_("Owner"),
    )
    overdue = django_filters.BooleanFilter(
        method="by_overdue",
        label=_("Overdue actions"),
        widget=forms.Select(
            choices=[("", ANY), ("true", _("with overdue actions")), ("false", _("none overdue"))]
        ),
    )
    detected_from = _date_filter("detected_on", "gte", _("Detected from"))
    detected_to = _date_filter("detected_on", "lte", _("Detected until"))

    class Meta:
        model = NonConformance
        form = NonConformanceFilterForm
        fields = [
            "q",
            "status",
            "open",
            "severity",
            "source",
            "root_cause_category",
            "owner",
            "overdue",
            "detected_from",
            "detected_to",
        ]

    def by_overdue(self, queryset, name, value):
        # The list's selector counts each report's overdue actions.
        if value:
            return queryset.filter(overdue_action_count__gt=0)
        return queryset.filter(overdue_action_count=0)

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        named = Q(named_items__item__lot__code__icontains=value) | Q(
            named_items__item__serialunit__serial__icontains=value
        )
        matches = NonConformance.objects.filter(
            Q(reference__icontains=value) | Q(title__icontains=value) | named
        ).values("pk")
        return queryset.filter(pk__in=matches)


class CapaActionFilterForm(DateRangeForm):
    date_ranges = (("due_from", "due_to"),)


class CapaActionFilter(ListFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Non-conformance or action text"))
    mine = django_filters.BooleanFilter(
        method="by_mine",
        label=_("Whose"),
        widget=forms.Select(choices=[("", _("everyone's")), ("true", _("my actions"))]),
    )
    owner = PersonFilter(
        field_name="owner",
        lookup_expr="exact",
        queryset=_people(),
        empty_label=ANY,
        label=_("Owner"),
    )
    status = _choice_filter("status", CapaAction.Status.choices, _("Status"))
    kind = _choice_filter("kind", CapaAction.Kind.choices, _("Kind"))
    overdue = django_filters.BooleanFilter(
        method="by_overdue",
        label=_("Overdue"),
        widget=forms.Select(choices=[("", ANY), ("true", _("overdue")), ("false", _("on time"))]),
    )
    due_from = _date_filter("due_on", "gte", _("Due from"))
    due_to = _date_filter("due_on", "lte", _("Due until"))

    class Meta:
        model = CapaAction
        form = CapaActionFilterForm
        fields = ["q", "mine", "owner", "status", "kind", "overdue", "due_from", "due_to"]

    def search(self, queryset, name, value):
        return self.contains_any(
            queryset, ("nonconformance__reference", "nonconformance__title", "description"), value
        )

    def by_mine(self, queryset, name, value):
        if value and self.request is not None:
            return queryset.filter(owner=self.request.user)
        return queryset

    def by_overdue(self, queryset, name, value):
        overdue = Q(status=CapaAction.Status.OPEN, due_on__lt=timezone.localdate())
        return queryset.filter(overdue if value else ~overdue)
