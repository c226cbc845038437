"""Factories and helpers for quality control tests: specifications, results, decisions."""

from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from inventory import quality
from inventory.models import Specification, SpecificationTest

from .factories import LotFactory, ProductFactory, UserFactory

PASSWORD = "correct horse battery staple"  # UserFactory's


class ReleaseProductFactory(ProductFactory):
    requires_release = True


class SpecificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specification

    product = factory.SubFactory(ReleaseProductFactory)
    version = factory.Sequence(lambda n: n + 1)
    effective_from = date(2026, 1, 1)
    approved_by = factory.SubFactory(UserFactory)
    approved_at = factory.LazyFunction(timezone.now)


class SpecificationTestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpecificationTest

    specification = factory.SubFactory(SpecificationFactory)
    name = factory.Sequence(lambda n: f"Test {n}")
    unit = "pH"
    lower_limit = Decimal("4.0")
    upper_limit = Decimal("4.6")
    required = True


def spec_with_tests(product=None, *, effective_from=date(2026, 1, 1), version=1):
    """An approved specification: pH 4.0 to 4.6 (required), Salmonella absent (required) and
    moisture at most 12 % (optional)."""
    spec = SpecificationFactory(
        product=product or ReleaseProductFactory(), effective_from=effective_from, version=version
    )
    SpecificationTestFactory(specification=spec, name="pH", order=1)
    SpecificationTestFactory(
        specification=spec,
        name="Salmonella",
        unit="",
        lower_limit=None,
        upper_limit=None,
        expected_text="absent in 25 g",
        order=2,
    )
    SpecificationTestFactory(
        specification=spec,
        name="Moisture",
        unit="%",
        lower_limit=None,
        upper_limit=Decimal("12"),
        required=False,
        order=3,
    )
    return spec


def quarantined_lot(spec, **kwargs):
    return LotFactory(product=spec.product, status="quarantined", **kwargs)


def named_test(spec, name):
    return spec.tests.get(name=name)


def record(lot, spec, name, user, **fields):
    test = named_test(spec, name)
    if test.is_numeric:
        fields.setdefault("unit", test.unit)
    return quality.test_result_record(lot=lot, specification_test=test, acting_user=user, **fields)


def record_passing(lot, spec, user):
    record(lot, spec, "pH", user, value=Decimal("4.3"))
    record(lot, spec, "Salmonella", user, text="Absent in 25 g")
