"""Filters of the quality control lists: specifications, results, release decisions, deviations."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from .filters import (
    ANY,
    DateRangeForm,
    ListFilterSet,
    _boolean_filter,
    _choice_filter,
    _date_filter,
)
from .models import Deviation, Product, ReleaseDecision, Specification, TestResult


def _product_filter(field_name):
    return django_filters.ModelChoiceFilter(
        field_name=field_name,
        lookup_expr="exact",
        queryset=Product.objects.order_by("sku"),
        empty_label=ANY,
        label=_("Product"),
    )


class SpecificationFilter(ListFilterSet):
    product = _product_filter("product")
    approved = django_filters.BooleanFilter(
        field_name="approved_at",
        lookup_expr="isnull",
        exclude=True,
        label=_("Approved"),
        widget=forms.Select(choices=[("", ANY), ("true", _("approved")), ("false", _("draft"))]),
    )

    class Meta:
        model = Specification
        fields = ["product", "approved"]


class TestResultFilterForm(DateRangeForm):
    date_ranges = (("tested_from", "tested_to"),)


class TestResultFilter(ListFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Lot code, test or certificate"))
    product = _product_filter("lot__product")
    passed = _boolean_filter("passed", _("Outcome"), _("passed"), _("failed"))
    source = _choice_filter("source", TestResult.Source.choices, _("Source"))
    current = django_filters.BooleanFilter(
        field_name="superseded_by",
        lookup_expr="isnull",
        label=_("Corrected"),
        widget=forms.Select(
            choices=[("", ANY), ("true", _("current results")), ("false", _("corrected results"))]
        ),
    )
    tested_from = _date_filter("tested_at", "gte", _("Tested from"), method="from_day")
    tested_to = _date_filter("tested_at", "lt", _("Tested until"), method="to_day")

    class Meta:
        model = TestResult
        form = TestResultFilterForm
        fields = ["q", "product", "passed", "source", "current", "tested_from", "tested_to"]

    def search(self, queryset, name, value):
        return self.contains_any(
            queryset, ("lot__code", "specification_test__name", "certificate__number"), value
        )


class ReleaseDecisionFilterForm(DateRangeForm):
    date_ranges = (("signed_from", "signed_to"),)


class ReleaseDecisionFilter(ListFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Lot code or signer"))
    decision = _choice_filter("decision", ReleaseDecision.Decision.choices, _("Decision"))
    product = _product_filter("lot__product")
    signed_from = _date_filter("signed_at", "gte", _("Signed from"), method="from_day")
    signed_to = _date_filter("signed_at", "lt", _("Signed until"), method="to_day")

    class Meta:
        model = ReleaseDecision
        form = ReleaseDecisionFilterForm
        fields = ["q", "decision", "product", "signed_from", "signed_to"]

    def search(self, queryset, name, value):
        return self.contains_any(queryset, ("lot__code", "signer_name"), value)


class DeviationFilterForm(DateRangeForm):
    date_ranges = (("raised_from", "raised_to"),)


class DeviationFilter(ListFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Reference, lot or serial"))
    status = _choice_filter("status", Deviation.Status.choices, _("Status"))
    kind = _choice_filter("kind", Deviation.Kind.choices, _("Kind"))
    raised_from = _date_filter("raised_at", "gte", _("Raised from"), method="from_day")
    raised_to = _date_filter("raised_at", "lt", _("Raised until"), method="to_day")

    class Meta:
        model = Deviation
        form = DeviationFilterForm
        fields = ["q", "status", "kind", "raised_from", "raised_to"]

    def search(self, queryset, name, value):
        return self.contains_any(
            queryset, ("reference", "item__lot__code", "item__serialunit__serial"), value
        )
