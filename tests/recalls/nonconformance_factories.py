"""factory_boy factories for non-conformances and CAPA actions, made directly (not through
the services) so model tests can build any state, including ones the services refuse."""

from datetime import date, timedelta

import factory
from django.utils import timezone

from recalls.models import CapaAction, NonConformance, NonConformanceItem

from ..inventory.factories import LotFactory, UserFactory


class NonConformanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NonConformance

    reference = factory.Sequence(lambda n: f"NC-2026-{n + 1:04d}")
    title = "Seal leaks"
    description = "Pouch seals open under 2 N instead of 5 N."
    severity = NonConformance.Severity.MAJOR
    source = NonConformance.Source.IN_PROCESS
    detected_on = factory.LazyFunction(timezone.localdate)
    owner = factory.SubFactory(UserFactory)
    reported_by = factory.SelfAttribute("owner")


class NonConformanceItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NonConformanceItem
        exclude = ("lot",)

    nonconformance = factory.SubFactory(NonConformanceFactory)
    lot = factory.SubFactory(LotFactory)
    item = factory.LazyAttribute(lambda line: line.lot.item)


class CapaActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CapaAction

    nonconformance = factory.SubFactory(NonConformanceFactory)
    number = factory.Sequence(lambda n: n + 1)
    kind = CapaAction.Kind.CORRECTIVE
    description = "Replace the sealing jaw and re-validate the seal."
    owner = factory.SubFactory(UserFactory)
    due_on = factory.LazyFunction(lambda: date.today() + timedelta(days=14))
    created_by = factory.SelfAttribute("owner")
