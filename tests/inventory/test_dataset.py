"""generate_dataset: the benchmark's synthetic supply chain, made small by shrinking a cluster."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from inventory import dataset
from inventory.models import EventLine, Genealogy, Lot, SerialUnit, TraceEvent
from inventory.trace import trace


@pytest.fixture
def small_clusters(monkeypatch):
    """A cluster of 12 raw lots, 8 levels of 10 lots, 60 modules and 30 devices."""
    for name, value in {
        "RAW_LOTS": 12,
        "LOTS_PER_LEVEL": 10,
        "MODULES_PER_LOT": 6,
        "DEVICES": 30,
        "SUPPLIERS": 3,
        "DISTRIBUTORS": 2,
        "RETAILERS": 5,
    }.items():
        monkeypatch.setattr(dataset, name, value)


def generate(scale):
    out = StringIO()
    call_command("generate_dataset", "--scale", str(scale), stdout=out)
    return out.getvalue()


def test_a_cluster_holds_lots_units_and_events_in_the_expected_numbers(db, small_clusters):
    output = generate(0.05)  # one cluster

    assert "Added 1 cluster(s): 92 lots, 90 serial units" in output
    assert Lot.objects.count() == 12 + 8 * 10
    assert SerialUnit.objects.count() == 60 + 30
    assert TraceEvent.objects.filter(event_type=TraceEvent.Type.SHIP).count() == 2 * 30
    # Every event line carries its event's type, as the services write them.
    assert EventLine.objects.exists()
    assert not EventLine.objects.exclude(event_type=F("event__event_type")).exists()


def test_the_genealogy_is_at_least_eight_levels_deep_with_fan_in_and_fan_out(db, small_clusters):
    generate(0.05)
    raw = Lot.objects.filter(code="R0-0")

    result = trace(direction="forward", lots=raw)

    assert max(item.depth for item in result.items) >= 8
    level_one = Lot.objects.get(code="L1-0-0")
    assert Genealogy.objects.filter(child_id=level_one.pk).count() == dataset.FAN_IN
    assert result.consignees, "devices reach distributors and retailers"


def test_every_unit_built_in_a_lot_is_linked_to_it_in_the_genealogy(db, small_clusters):
    generate(0.05)

    built = SerialUnit.objects.filter(lot__isnull=False)
    links = Genealogy.objects.filter(kind=Genealogy.Kind.PRODUCTION_LOT)
    assert built.count() == links.count() == 60
    assert set(links.values_list("parent_id", "child_id")) == set(built.values_list("lot_id", "pk"))


def test_running_again_at_the_same_scale_adds_nothing_and_a_larger_scale_adds_clusters(
    db, small_clusters
):
    generate(0.05)
    events = TraceEvent.objects.count()

    assert "Added 0 cluster(s)" in generate(0.05)
    assert TraceEvent.objects.count() == events
    assert "Added 1 cluster(s)" in generate(0.1)  # two clusters in all
    assert TraceEvent.objects.count() == 2 * events


def test_the_same_root_reaches_the_same_items_when_clusters_are_added(db, small_clusters):
    generate(0.05)
    before = {
        item.label
        for item in trace(direction="forward", lots=Lot.objects.filter(code="L2-0-5")).items
    }
    generate(0.1)
    after = {
        item.label
        for item in trace(direction="forward", lots=Lot.objects.filter(code="L2-0-5")).items
    }

    assert before == after


@pytest.mark.parametrize("scale", ["0", "-1", "21"])
def test_a_scale_out_of_range_is_refused(db, scale):
    with pytest.raises(CommandError) as excinfo:
        call_command("generate_dataset", "--scale", scale)
    assert str(excinfo.value) == "--scale must be greater than 0 and at most 20."
