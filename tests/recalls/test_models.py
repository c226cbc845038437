"""Recall models: the database's rules, with the sentences a form shows for them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from inventory.models import ImmutableRecordError
from recalls.models import AffectedItem, CampaignEvent, RecallCampaign

from ..inventory.factories import LotFactory, PartyFactory
from .factories import (
    AffectedItemFactory,
    CampaignEventFactory,
    ConsigneeNoticeFactory,
    RecallCampaignFactory,
)

pytestmark = pytest.mark.django_db


def _violations(obj):
    with pytest.raises(ValidationError) as exc_info:
        obj.full_clean()
    return exc_info.value.messages


def test_a_campaign_reads_as_its_reference_and_title():
    campaign = RecallCampaignFactory(year=2026, number=3, title="Peanut traces")

    assert str(campaign) == "RC-2026-0003 Peanut traces"
    # Numbered here: the factory's sequence, shared with earlier tests of the process, may be at 3.
    drill = RecallCampaignFactory(is_drill=True, title="Drill", number=4)
    assert str(drill).endswith("Drill (drill)")


def test_a_reference_reads_rc_year_number():
    campaign = RecallCampaignFactory.build(reference="RC-26-1", owner=RecallCampaignFactory().owner)

    assert "A campaign reference reads RC-YEAR-NUMBER." in _violations(campaign)


def test_a_year_has_each_number_once():
    RecallCampaignFactory(year=2026, number=7)

    with pytest.raises(IntegrityError), transaction.atomic():
        RecallCampaignFactory(year=2026, number=7, reference="RC-2026-9007")


def test_the_same_number_may_come_again_next_year():
    RecallCampaignFactory(year=2026, number=1)

    assert RecallCampaignFactory(year=2027, number=1).reference == "RC-2027-0001"


def test_an_opened_campaign_needs_its_opening_time():
    campaign = RecallCampaignFactory.build(
        opened_at=None, owner=RecallCampaignFactory().owner, number=50
    )

    assert "A campaign past its draft needs its opening time." in _violations(campaign)


def test_a_completed_campaign_needs_its_completion_time():
    campaign = RecallCampaignFactory(status=RecallCampaign.Status.ONGOING)
    campaign.status = RecallCampaign.Status.COMPLETED

    assert _violations(campaign) == ["A completed campaign needs its completion time."]


def test_a_campaign_keeps_its_history():
    campaign = RecallCampaignFactory()
    campaign.title = "Peanut and sesame traces"
    campaign.save()

    assert [h.title for h in campaign.history.order_by("history_date")] == [
        "Undeclared peanut",
        "Peanut and sesame traces",
    ]


def test_a_campaign_with_affected_items_cannot_be_deleted():
    item = AffectedItemFactory()

    with pytest.raises(ProtectedError):
        item.campaign.delete()


def test_a_shipped_item_names_its_consignee():
    item = AffectedItemFactory.build(
        campaign=RecallCampaignFactory(),
        lot=LotFactory(),
        whereabouts=AffectedItem.Whereabouts.SHIPPED,
        site=None,
    )

    assert "Say which consignee the item was shipped to." in _violations(item)


def test_only_a_shipped_item_has_a_consignee():
    with pytest.raises(IntegrityError), transaction.atomic():
        AffectedItemFactory(consignee=PartyFactory())


def test_an_item_is_listed_once_per_consignee():
    party = PartyFactory()
    first = AffectedItemFactory(whereabouts=AffectedItem.Whereabouts.SHIPPED, consignee=party)

    with pytest.raises(IntegrityError), transaction.atomic():
        AffectedItemFactory(
            campaign=first.campaign,
            lot=first.item.lot,
            whereabouts=AffectedItem.Whereabouts.SHIPPED,
            consignee=party,
        )


def test_a_resolution_needs_its_date():
    item = AffectedItemFactory()
    item.resolution = AffectedItem.Resolution.RETURNED

    assert _violations(item) == ["A resolution needs its date, and a date its resolution."]


def test_a_quantity_cannot_be_negative():
    item = AffectedItemFactory.build(
        campaign=RecallCampaignFactory(), lot=LotFactory(), quantity=Decimal("-1")
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        item.save()


def test_an_affected_item_reads_as_the_trace_names_it():
    item = AffectedItemFactory(lot__product__sku="FLOUR", lot__code="FL-1")

    assert item.label == "FLOUR lot FL-1"
    assert str(item) == "FLOUR lot FL-1"


def test_a_campaign_has_one_notice_per_consignee():
    notice = ConsigneeNoticeFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        ConsigneeNoticeFactory(campaign=notice.campaign, party=notice.party)


def test_a_sent_notice_names_its_method():
    notice = ConsigneeNoticeFactory()
    notice.sent_at = timezone.now()

    assert _violations(notice) == ["A sent notice needs its method, and a method its date."]


def test_a_notice_cannot_be_acknowledged_before_it_was_sent():
    notice = ConsigneeNoticeFactory()
    notice.method, notice.sent_at = "email", timezone.now()
    notice.acknowledged_at = notice.sent_at - timedelta(hours=1)

    assert _violations(notice) == ["A notice cannot be acknowledged before it was sent."]


def test_the_timeline_cannot_be_changed_or_deleted():
    entry = CampaignEventFactory()

    entry.message = "Rewritten"
    with pytest.raises(ImmutableRecordError):
        entry.save()
    with pytest.raises(ImmutableRecordError):
        entry.delete()
    with pytest.raises(ImmutableRecordError):
        CampaignEvent.objects.all().delete()
