"""factory_boy factories for recalls; objects are made directly, not through services."""

from decimal import Decimal

import factory
from django.utils import timezone

from inventory.models import Item, Unit
from recalls.models import AffectedItem, CampaignEvent, ConsigneeNotice, RecallCampaign

from ..inventory.factories import LotFactory, PartyFactory, UserFactory


class RecallCampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecallCampaign

    year = 2026
    number = factory.Sequence(lambda n: n + 1)
    reference = factory.LazyAttribute(lambda c: f"RC-{c.year}-{c.number:04d}")
    title = "Undeclared peanut"
    reason = "A supplier's flour carried peanut traces."
    classification = RecallCampaign.Classification.CLASS_I
    owner = factory.SubFactory(UserFactory)
    status = RecallCampaign.Status.ONGOING
    opened_at = factory.LazyFunction(timezone.now)


class AffectedItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AffectedItem
        exclude = ("lot",)

    campaign = factory.SubFactory(RecallCampaignFactory)
    lot = factory.SubFactory(LotFactory)
    item = factory.LazyAttribute(lambda a: a.lot.item)
    kind = Item.Kind.LOT
    lot_code = factory.LazyAttribute(lambda a: a.lot.code)
    depth = 0
    position = 0
    path = factory.LazyAttribute(lambda a: [str(a.lot)])
    status_at_opening = "released"
    whereabouts = AffectedItem.Whereabouts.ON_HAND
    site = factory.LazyAttribute(lambda a: a.lot.site)
    quantity = Decimal("100")
    unit = Unit.KILOGRAM


class ConsigneeNoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsigneeNotice

    campaign = factory.SubFactory(RecallCampaignFactory)
    party = factory.SubFactory(PartyFactory)


class CampaignEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignEvent

    campaign = factory.SubFactory(RecallCampaignFactory)
    kind = CampaignEvent.Kind.OPENED
    message = "Opened."
