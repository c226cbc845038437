"""A unit under an active recall gets the consumer notice on the public page; nothing else."""

import pytest
from django.utils import timezone

from recalls import services as recall_services
from recalls.models import RecallCampaign

from .conftest import DRILL_GTIN

REASON = "The battery pack can overheat while charging"


def recall(manager, *, lots=(), serial_units=(), **kwargs):
    return recall_services.recall_open(
        title="Drill battery overheating",
        reason=REASON,
        classification=RecallCampaign.Classification.CLASS_II,
        lots=list(lots),
        serial_units=list(serial_units),
        acting_user=manager,
        **kwargs,
    )


def page(client, serial="D0002"):
    return client.get(f"/01/{DRILL_GTIN}/21/{serial}").text


def test_a_recalled_unit_shows_the_default_notice_when_none_was_written(
    client, shipped_unit, manager
):
    recall(manager, serial_units=[shipped_unit])
    text = page(client)
    assert "Safety recall: this unit is recalled" in text
    assert f"{REASON}. Stop using it and contact the seller or the manufacturer." in text


def test_a_recalled_unit_shows_the_campaigns_consumer_notice(client, shipped_unit, manager):
    recall(
        manager,
        serial_units=[shipped_unit],
        consumer_notice="Unplug the charger and bring the drill to any store for a new pack.",
    )
    assert "Unplug the charger and bring the drill to any store for a new pack." in page(client)


def test_a_recall_of_the_units_production_lot_reaches_it(client, shipped_unit, manager):
    recall(manager, lots=[shipped_unit.lot])
    assert "Safety recall: this unit is recalled" in page(client)


def test_a_drill_tells_the_consumer_nothing(client, shipped_unit, manager):
    recall(manager, serial_units=[shipped_unit], is_drill=True)
    assert "Safety recall" not in page(client)


@pytest.mark.parametrize("status", ["completed", "terminated"])
def test_a_closed_recall_tells_the_consumer_nothing(client, shipped_unit, manager, status):
    campaign = recall(manager, serial_units=[shipped_unit])
    RecallCampaign.objects.filter(pk=campaign.pk).update(
        status=status, completed_at=timezone.now(), terminated_at=timezone.now()
    )
    assert "Safety recall" not in page(client)


def test_a_recall_of_another_unit_does_not_show(client, shipped_unit, in_stock_unit, manager):
    recall(manager, serial_units=[in_stock_unit])
    assert "Safety recall" not in page(client)


def test_a_recalled_unit_still_shows_its_notice_when_not_confirmed(client, in_stock_unit, manager):
    """Safety first: a known unit's recall shows even when the unit itself is suspicious."""
    recall(manager, serial_units=[in_stock_unit])
    text = page(client, "D0001")
    assert "could not be confirmed as genuine" in text
    assert "Safety recall: this unit is recalled" in text


def test_a_lot_only_link_says_it_is_a_batch_code(client, production_lot):
    text = client.get(f"/01/{DRILL_GTIN}/10/PL-0303").text
    assert "This is a batch code" in text
    assert "No safety recall concerns this batch." in text


def test_a_lot_only_link_of_a_recalled_lot_shows_the_notice(client, shipped_unit, manager):
    recall(manager, lots=[shipped_unit.lot])
    text = client.get(f"/01/{DRILL_GTIN}/10/PL-0303").text
    assert "Safety recall: this batch is recalled" in text
    assert REASON in text


def test_an_unknown_lot_is_said_to_be_not_found(client, drill_product):
    text = client.get(f"/01/{DRILL_GTIN}/10/NOPE").text
    assert "Batch not found" in text
