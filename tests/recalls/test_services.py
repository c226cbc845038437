"""recall_open: the frozen snapshot, the hold cascade, drills, refusals and query counts."""

import gc
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from inventory import services as inventory_services
from inventory.models import EventLine, Genealogy, Lot, SerialUnit, StatusChange, TraceEvent
from inventory.services import Line
from recalls import services
from recalls.models import (
    AffectedItem,
    CampaignEvent,
    ConsigneeNotice,
    RecallCampaign,
    RecallSequence,
)

from ..inventory.factories import (
    GenealogyFactory,
    InternalPartyFactory,
    LotFactory,
    PartyFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    TraceEventFactory,
)

pytestmark = pytest.mark.django_db

W = AffectedItem.Whereabouts


def _open(manager, **kwargs):
    fields = {
        "identifiers": ["FLOUR lot FL-1", "CELL lot CE-1"],
        "title": "Peanut traces",
        "reason": "The flour supplier found peanut traces.",
        "classification": RecallCampaign.Classification.CLASS_I,
        "acting_user": manager,
        **kwargs,
    }
    return services.recall_open(**fields)


def _rows(campaign):
    """(label, whereabouts, party, passed on by, quantity) of every snapshot row."""
    return {
        (
            row.label,
            row.whereabouts,
            row.consignee.name if row.consignee else None,
            row.shipped_by.name if row.shipped_by else None,
            row.quantity,
        )
        for row in campaign.affected_items.select_related("consignee", "shipped_by")
    }


# --- the snapshot -----------------------------------------------------------------------------


def test_opening_gives_the_campaign_its_reference_and_details(manager, graph):
    campaign = _open(manager, hazard="Allergic reactions", is_drill=False)

    assert campaign.reference.startswith("RC-")
    assert campaign.reference == f"RC-{campaign.year}-0001"
    assert campaign.status == RecallCampaign.Status.ONGOING
    assert campaign.owner == manager
    assert campaign.opened_at is not None
    assert campaign.trace_duration is not None
    assert campaign.scope == ["FLOUR lot FL-1", "CELL lot CE-1"]
    assert [h.history_user for h in campaign.history.all()] == [manager, manager]
    assert [h.status for h in campaign.history.order_by("history_id")] == ["draft", "ongoing"]


def test_the_snapshot_holds_the_scope_and_everything_downstream_with_depth_and_path(manager, graph):
    campaign = _open(manager)

    items = {row.label: (row.depth, row.path) for row in campaign.affected_items.all()}
    assert items == {
        "FLOUR lot FL-1": (0, ["FLOUR lot FL-1"]),
        "CELL lot CE-1": (0, ["CELL lot CE-1"]),
        "BREAD lot BR-1": (1, ["FLOUR lot FL-1", "BREAD lot BR-1"]),
        "PACK serial P-1": (1, ["CELL lot CE-1", "PACK serial P-1"]),
        "PACK serial P-2": (1, ["CELL lot CE-1", "PACK serial P-2"]),
        "PACK serial P-3": (1, ["CELL lot CE-1", "PACK serial P-3"]),
        "DEVICE serial D-1": (2, ["CELL lot CE-1", "PACK serial P-3", "DEVICE serial D-1"]),
    }


def test_the_snapshot_says_where_each_item_was_and_how_much(manager, graph):
    campaign = _open(manager)

    assert _rows(campaign) == {
        ("FLOUR lot FL-1", W.USED, None, None, Decimal("40")),
        ("FLOUR lot FL-1", W.ON_HAND, None, None, Decimal("60")),
        ("BREAD lot BR-1", W.SHIPPED, "Dist Co", None, Decimal("20")),
        ("BREAD lot BR-1", W.SHIPPED, "Anna's Deli", None, Decimal("10")),
        ("BREAD lot BR-1", W.SHIPPED, "Corner Shop", "Dist Co", Decimal("5")),
        ("BREAD lot BR-1", W.ON_HAND, None, None, Decimal("20")),
        ("CELL lot CE-1", W.USED, None, None, Decimal("6")),
        ("CELL lot CE-1", W.ON_HAND, None, None, Decimal("4")),
        ("PACK serial P-1", W.SHIPPED, "Anna's Deli", None, Decimal("1")),
        ("PACK serial P-2", W.ON_HAND, None, None, Decimal("1")),
        ("PACK serial P-3", W.INSTALLED, None, None, Decimal("1")),
        ("DEVICE serial D-1", W.ON_HAND, None, None, Decimal("1")),
    }


def test_a_lots_own_rows_add_up_to_what_was_produced(manager, graph):
    campaign = _open(manager)

    for lot in (graph["flour"], graph["bread"], graph["cells"]):
        ours = campaign.affected_items.filter(item_id=lot.pk, shipped_by__isnull=True)
        assert sum(row.quantity for row in ours) == lot.quantity


def test_the_snapshot_says_where_on_hand_and_in_what(manager, graph):
    campaign = _open(manager)

    installed = campaign.affected_items.get(serial="P-3")
    on_hand = campaign.affected_items.get(serial="P-2")
    shipped = campaign.affected_items.get(serial="P-1")
    assert installed.installed_in_id == graph["device"].pk
    assert on_hand.site == graph["plant"]
    assert (
        shipped.shipped_at
        == TraceEvent.objects.get(
            event_type=TraceEvent.Type.SHIP, lines__item=graph["packs"][0].item
        ).occurred_at
    )


def test_every_party_that_received_affected_items_gets_a_notice_line(manager, graph):
    campaign = _open(manager)

    notices = {
        notice.party.name: [(line["item"], line["quantity"], line["unit"]) for line in lines]
        for notice in campaign.notices.select_related("party")
        for lines in [notice.received]
    }
    assert notices == {
        "Dist Co": [("BREAD lot BR-1", "20.000", "KGM")],
        "Anna's Deli": [("BREAD lot BR-1", "10.000", "KGM"), ("PACK serial P-1", "1.000", "EA")],
        "Corner Shop": [("BREAD lot BR-1", "5.000", "KGM")],
    }
    assert not ConsigneeNotice.objects.exclude(sent_at=None).exists()


def test_later_events_do_not_change_the_snapshot(manager, graph):
    campaign = _open(manager)
    before = _rows(campaign)

    inventory_services.serial_unit_remove(component=graph["packs"][2], acting_user=manager)

    assert _rows(campaign) == before


def test_lots_and_units_can_be_given_as_querysets(manager, graph):
    campaign = services.recall_open(
        lots=Lot.objects.filter(code="BR-1"),
        serial_units=SerialUnit.objects.filter(serial="P-2"),
        title="Bread and a pack",
        reason="Both failed a test.",
        classification=RecallCampaign.Classification.CLASS_II,
        acting_user=manager,
    )

    assert campaign.scope == ["BREAD lot BR-1", "PACK serial P-2"]
    roots = campaign.affected_items.filter(depth=0).values_list("lot_code", "serial")
    assert set(roots) == {("BR-1", ""), ("", "P-2")}


# --- the hold cascade -------------------------------------------------------------------------


def _statuses(graph):
    lots = {lot.code: lot.status for lot in Lot.objects.all()}
    units = {unit.serial: unit.status for unit in SerialUnit.objects.all()}
    return lots, units


def test_opening_puts_affected_stock_under_our_control_on_hold_as_recalled(manager, graph):
    _open(manager)

    lots, units = _statuses(graph)
    assert lots == {"FL-1": "recalled", "BR-1": "recalled", "CE-1": "recalled"}
    # Shipped and installed units are out of our hands (the device P-3 is in is held).
    assert units == {"P-1": "shipped", "P-2": "recalled", "P-3": "installed", "D-1": "recalled"}


def test_each_hold_keeps_its_status_change_event_and_history(manager, graph):
    campaign = _open(manager)

    reason = f"Recall {campaign.reference}: Peanut traces"
    changes = StatusChange.objects.select_related("event")
    assert {(c.item_id, c.from_status, c.to_status) for c in changes} == {
        (graph["flour"].pk, "released", "recalled"),
        (graph["bread"].pk, "released", "recalled"),
        (graph["cells"].pk, "released", "recalled"),
        (graph["packs"][1].pk, "in_stock", "recalled"),
        (graph["device"].pk, "in_stock", "recalled"),
    }
    for change in changes:
        assert (change.reason, change.changed_by) == (reason, manager)
        assert change.event.event_type == TraceEvent.Type.STATUS_CHANGE
        assert change.event.disposition == "recalled"
        assert list(change.event.lines.values_list("item_id", flat=True)) == [change.item_id]
    latest = Lot.history.filter(code="BR-1").latest("history_date")
    assert (latest.status, latest.history_user, latest.history_change_reason) == (
        "recalled",
        manager,
        reason,
    )
    held = campaign.affected_items.filter(put_on_hold=True).values_list("item_id", flat=True)
    assert set(held) == {change.item_id for change in changes}


def test_the_timeline_records_the_opening_and_the_hold(manager, graph):
    campaign = _open(manager)

    timeline = list(campaign.timeline.order_by("pk").values_list("kind", "actor", "message"))
    assert timeline == [
        (
            CampaignEvent.Kind.DRAFTED,
            manager.pk,
            services.DRAFTED
            % {"reference": campaign.reference, "scope": "FLOUR lot FL-1; CELL lot CE-1"},
        ),
        (
            CampaignEvent.Kind.OPENED,
            manager.pk,
            services.OPENED % {"reference": campaign.reference, "items": 7, "consignees": 3},
        ),
        (CampaignEvent.Kind.HELD, manager.pk, services.HELD % {"lots": 3, "units": 2}),
    ]


def test_recalled_stock_cannot_be_shipped(manager, graph):
    _open(manager)
    customer = PartyFactory()

    with pytest.raises(ValidationError) as exc_info:
        inventory_services.shipment_create(
            lots=[Line(graph["bread"], Decimal("1"))],
            serial_units=[graph["packs"][1]],
            to_party=customer,
            acting_user=manager,
        )

    assert exc_info.value.messages == [
        "BREAD lot BR-1 is recalled and cannot be shipped.",
        "PACK serial P-2 is recalled and cannot be shipped.",
    ]


def test_stock_already_recalled_is_left_as_it_is(manager, graph):
    _open(manager)
    changes = StatusChange.objects.count()

    second = _open(manager, title="Second look")

    assert StatusChange.objects.count() == changes
    assert not second.affected_items.filter(put_on_hold=True).exists()
    assert not second.timeline.filter(kind=CampaignEvent.Kind.HELD).exists()


def test_a_drill_changes_no_stock_status(manager, graph):
    before = _statuses(graph)

    campaign = _open(manager, is_drill=True)

    assert _statuses(graph) == before
    assert not StatusChange.objects.exists()
    assert campaign.is_drill
    assert not campaign.affected_items.filter(put_on_hold=True).exists()
    assert campaign.affected_items.count() == 12
    assert list(campaign.timeline.values_list("message", flat=True))[1:] == [
        services.OPENED_DRILL % {"reference": campaign.reference, "items": 7, "consignees": 3}
    ]


# --- refusals ---------------------------------------------------------------------------------


def _nothing_written():
    assert not RecallCampaign.objects.exists()
    assert not AffectedItem.objects.exists()
    assert not StatusChange.objects.exists()
    assert not RecallSequence.objects.exists()


def test_an_empty_scope_is_refused(manager, graph):
    with pytest.raises(ValidationError) as exc_info:
        _open(manager, identifiers=[])

    assert exc_info.value.messages == [services.SCOPE_EMPTY]
    _nothing_written()


def test_a_scope_that_names_nothing_is_refused(manager, graph):
    with pytest.raises(ValidationError) as exc_info:
        _open(manager, identifiers=[], lots=Lot.objects.none())

    assert exc_info.value.messages == [services.SCOPE_EMPTY]
    _nothing_written()


def test_an_unknown_identifier_is_refused_and_nothing_is_written(manager, graph):
    with pytest.raises(ValidationError) as exc_info:
        _open(manager, identifiers=["FLOUR lot FL-1", "NOPE-9"])

    assert exc_info.value.messages == ["No lot or serial unit matches NOPE-9."]
    _nothing_written()
    assert Lot.objects.get(code="FL-1").status == Lot.Status.RELEASED


@pytest.mark.parametrize(
    ("field", "message"),
    [("title", services.TITLE_REQUIRED), ("reason", services.REASON_REQUIRED)],
)
def test_a_campaign_needs_a_title_and_a_reason(manager, graph, field, message):
    with pytest.raises(ValidationError) as exc_info:
        _open(manager, **{field: "  "})

    assert exc_info.value.message_dict == {field: [message]}
    _nothing_written()


# --- references -------------------------------------------------------------------------------


def test_references_run_in_sequence_within_a_year_and_restart_each_year():
    assert services.campaign_reference_next(year=2026) == (1, "RC-2026-0001")
    assert services.campaign_reference_next(year=2026) == (2, "RC-2026-0002")
    assert services.campaign_reference_next(year=2027) == (1, "RC-2027-0001")
    assert services.campaign_reference_next(year=2026) == (3, "RC-2026-0003")


def test_campaigns_opened_one_after_another_get_consecutive_references(manager, graph):
    first = _open(manager, is_drill=True)
    second = _open(manager, is_drill=True)

    assert (second.year, second.number) == (first.year, first.number + 1)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_campaigns_never_share_a_reference():
    count = 6
    barrier = threading.Barrier(count)
    taken, errors = [], []

    def take():
        try:
            barrier.wait()
            with transaction.atomic():
                taken.append(services.campaign_reference_next(year=2031))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(number for number, _reference in taken) == list(range(1, count + 1))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's")
def test_a_campaign_that_outgrows_the_statistics_has_its_lines_analyzed(
    manager, graph, monkeypatch
):
    monkeypatch.setattr(services, "ANALYZE_ROWS", 1)

    campaign = _open(manager)

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'recalls_affecteditem'")
        assert cursor.fetchone()[0] == campaign.affected_items.count()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_overlapping_campaigns_opened_at_once_hold_each_item_once(manager, graph):
    scopes = [["FLOUR lot FL-1"], ["BREAD lot BR-1", "CELL lot CE-1"]]
    barrier = threading.Barrier(len(scopes))
    opened, errors = [], []

    def open_campaign(identifiers):
        try:
            barrier.wait()
            opened.append(_open(manager, identifiers=identifiers))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_campaign, args=(scope,)) for scope in scopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(campaign.number for campaign in opened) == [1, 2]
    changes = list(StatusChange.objects.values_list("item_id", flat=True))
    assert sorted(changes) == sorted(set(changes))
    assert set(Lot.objects.values_list("status", flat=True)) == {"recalled"}


# --- query counts -----------------------------------------------------------------------------


def _wide_graph(size):
    """A root lot that went into `size` lots, each shipped to its own customer, and into
    `size` serial units at our site."""
    ours = InternalPartyFactory()
    plant = SiteFactory(party=ours)
    root = LotFactory(code="ROOT", site=plant)
    unit_product = SerialProductFactory()
    for n in range(size):
        child = LotFactory(site=plant)
        GenealogyFactory(parent=root.item, child=child.item)
        ship = TraceEventFactory(event_type=TraceEvent.Type.SHIP, destination_party=PartyFactory())
        EventLine.objects.create(
            event=ship, item=child.item, quantity=Decimal(n + 1), unit=child.unit
        )
        SerialUnitFactory(product=unit_product, lot=root, holder_site=plant)
    return root


# The draft (the scope resolved, the reference, the campaign - full_clean checks its constraints
# one by one - and its history), then the opening: the scope again, one trace, four bulk reads,
# the holds (locks, updates, history, events, lines, status changes), the snapshot, the notices
# and the timeline: about 75 on SQLite, fewer on PostgreSQL, whatever the size.
RECALL_OPEN_QUERIES = 75


@pytest.mark.parametrize("size", [2, 40])
def test_opening_runs_a_constant_number_of_queries(manager, size, django_assert_max_num_queries):
    root = _wide_graph(size)

    with django_assert_max_num_queries(RECALL_OPEN_QUERIES):
        campaign = services.recall_open(
            lots=Lot.objects.filter(pk=root.pk),
            title="Wide",
            reason="Query count",
            classification=RecallCampaign.Classification.CLASS_III,
            acting_user=manager,
        )

    assert campaign.affected_items.values("item").distinct().count() == 1 + 2 * size
    assert campaign.notices.count() == size
    assert StatusChange.objects.count() == 1 + 2 * size
    assert Genealogy.objects.count() == 2 * size


# --- campaign_update --------------------------------------------------------------------------


def test_a_details_change_goes_on_the_timeline(manager, graph):
    campaign = _open(manager, is_drill=True)

    services.campaign_update(
        campaign=campaign, hazard="Anaphylaxis", depth="retail", acting_user=manager
    )

    campaign.refresh_from_db()
    assert (campaign.hazard, campaign.depth) == ("Anaphylaxis", "retail")
    entry = campaign.timeline.get(kind=CampaignEvent.Kind.CHANGED)
    assert (entry.actor, entry.message) == (manager, "Changed hazard, depth.")


def test_status_and_scope_are_not_details(manager, graph):
    campaign = _open(manager, is_drill=True)

    with pytest.raises(ValidationError) as exc_info:
        services.campaign_update(campaign=campaign, status="completed", acting_user=manager)

    assert exc_info.value.message_dict == {"status": [services.NOT_A_DETAIL]}
    campaign.refresh_from_db()
    assert campaign.status == RecallCampaign.Status.ONGOING


# --- the garbage collector --------------------------------------------------------------------


def test_opening_pauses_the_cyclic_garbage_collector_and_resumes_it(manager, graph, monkeypatch):
    during = []
    snapshot_add = services._snapshot_add

    def spy(*args, **kwargs):
        during.append(gc.isenabled())
        return snapshot_add(*args, **kwargs)

    monkeypatch.setattr(services, "_snapshot_add", spy)

    _open(manager)

    assert during == [False]
    assert gc.isenabled()


def test_a_failed_opening_resumes_the_garbage_collector(manager, graph, monkeypatch):
    def fail(*args, **kwargs):
        raise ValidationError("Stop.")

    monkeypatch.setattr(services, "_snapshot_add", fail)

    with pytest.raises(ValidationError):
        _open(manager)

    assert gc.isenabled()
    assert not RecallCampaign.objects.exists()
