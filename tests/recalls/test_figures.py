"""A campaign's kept figures (CampaignFigures): always what aggregating its lines and
resolutions gives, through opening, resolutions, reversals, re-scoping and concurrent work;
and the page reads them instead of counting 100,000 lines."""

import re
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from recalls import selectors, services
from recalls.models import AffectedItem, CampaignFigures, ItemResolution, RecallCampaign

from .factories import AffectedItemFactory, RecallCampaignFactory

pytestmark = pytest.mark.django_db

R = AffectedItem.Resolution


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


def _line(campaign, label, party=None):
    rows = [
        row
        for row in campaign.affected_items.filter(removed_at=None).select_related("consignee")
        if row.label == label and (party is None or (row.consignee and row.consignee.name == party))
    ]
    (row,) = rows
    return row


def _groups(rows, *keys):
    """Groups as comparable tuples, totals as numbers."""
    counts = ("lines", "resolved", "entries")
    return sorted(
        (*(row[key] for key in keys), Decimal(row["total"]), *(row[n] for n in counts if n in row))
        for row in rows
    )


def assert_figures_counted(campaign):
    """The kept figures are exactly what aggregating the lines and resolutions gives."""
    kept = CampaignFigures.objects.get(campaign=campaign)
    assert kept.items == selectors.item_count(campaign)
    line_keys = ("unit", "whereabouts", "passed_on")
    assert _groups(kept.lines, *line_keys) == _groups(selectors.line_groups(campaign), *line_keys)
    outcome_keys = ("unit", "outcome")
    assert _groups(kept.resolutions, *outcome_keys) == _groups(
        selectors.resolution_groups(campaign), *outcome_keys
    )
    progress = selectors.campaign_progress(campaign)
    kept = CampaignFigures.objects.filter(campaign=campaign)
    (values,) = kept.values()
    kept.delete()
    assert selectors.campaign_progress(campaign) == progress  # counted from the lines
    CampaignFigures.objects.create(**values)


@pytest.mark.parametrize("is_drill", [False, True])
def test_opening_keeps_the_figures_the_lines_add_up_to(manager, graph, is_drill):
    campaign = _open(manager, is_drill=is_drill)

    assert_figures_counted(campaign)
    progress = selectors.campaign_progress(campaign)
    assert progress.lines == campaign.affected_items.count()
    assert progress.items == campaign.affected_items.values("item").distinct().count()
    assert progress.lines_resolved == 0


def test_resolving_in_parts_and_in_full_moves_the_figures_with_the_lines(manager, staff, graph):
    campaign = _open(manager)
    bread = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    pack = _line(campaign, "PACK serial P-1", party="Anna's Deli")

    services.affected_items_resolve(
        campaign=campaign, items=[bread], outcome=R.RETURNED, quantity=Decimal(5), acting_user=staff
    )
    assert_figures_counted(campaign)
    assert selectors.campaign_progress(campaign).lines_resolved == 0

    services.affected_items_resolve(
        campaign=campaign, items=[bread, pack], outcome=R.DESTROYED, acting_user=manager
    )

    assert_figures_counted(campaign)
    progress = selectors.campaign_progress(campaign)
    assert progress.lines_resolved == 2
    (kg,) = [balance for balance in progress.balances if balance.unit == "KGM"]
    assert (kg.recovered, kg.destroyed) == (Decimal(5), Decimal(15))


def test_a_reversal_takes_its_quantity_and_the_line_out_of_the_resolved_figures(manager, graph):
    campaign = _open(manager)
    bread = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    (entry,) = services.affected_items_resolve(
        campaign=campaign, items=[bread], outcome=R.NOT_FOUND, acting_user=manager
    )
    assert selectors.campaign_progress(campaign).lines_resolved == 1

    services.resolution_reverse(resolution=entry, reason="Wrong line", acting_user=manager)

    assert_figures_counted(campaign)
    progress = selectors.campaign_progress(campaign)
    assert progress.lines_resolved == 0
    (kg,) = [balance for balance in progress.balances if balance.unit == "KGM"]
    assert kg.not_found == 0


def test_rescoping_recounts_the_figures_without_what_it_took_out(manager, graph):
    campaign = _open(manager)
    bread = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    services.affected_items_resolve(
        campaign=campaign, items=[bread], outcome=R.RETURNED, acting_user=manager
    )

    services.recall_rescope(
        campaign=campaign,
        identifiers=["CELL lot CE-1", "BREAD lot BR-1"],
        reason="Flour cleared, the bread stays",
        acting_user=manager,
    )
    assert_figures_counted(campaign)
    assert selectors.campaign_progress(campaign).lines_resolved == 1

    services.recall_rescope(
        campaign=campaign,
        identifiers=["CELL lot CE-1"],
        reason="Bread cleared",
        acting_user=manager,
    )

    assert_figures_counted(campaign)
    progress = selectors.campaign_progress(campaign)
    assert progress.lines_resolved == 0
    assert progress.lines == campaign.affected_items.filter(removed_at=None).count()


def test_a_campaign_without_kept_figures_is_counted_from_its_lines(manager):
    campaign = RecallCampaignFactory(owner=manager)
    line = AffectedItemFactory(campaign=campaign, quantity=Decimal(8))
    AffectedItemFactory(campaign=campaign, position=1, quantity=Decimal(2))

    services.affected_items_resolve(
        campaign=campaign, items=[line], outcome=R.LOCATED, acting_user=manager
    )

    assert not CampaignFigures.objects.filter(campaign=campaign).exists()
    progress = selectors.campaign_progress(campaign)
    assert (progress.items, progress.lines, progress.lines_resolved) == (2, 2, 1)
    assert progress.balances[0].recovered == Decimal(8)


def test_progress_reads_the_kept_figures_instead_of_the_lines(manager, graph):
    campaign = _open(manager)

    with CaptureQueriesContext(connection) as queries:
        selectors.campaign_progress(campaign)

    assert len(queries) == 2
    read = " ".join(query["sql"] for query in queries)
    assert AffectedItem._meta.db_table not in read
    assert ItemResolution._meta.db_table not in read


def test_the_campaign_page_counts_its_lines_only_when_a_filter_is_applied(client, manager, graph):
    campaign = _open(manager)
    client.force_login(manager)
    lines = AffectedItem._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        page = client.get(campaign.get_absolute_url())

    assert page.context["lines"].paginator.count == campaign.affected_items.count()
    assert page.context["consignees"].paginator.count == campaign.notices.count()
    # A count of the lines themselves; the registered owners are counted through them.
    counted = [re.match(r'SELECT COUNT\(.*? FROM "(\w+)"', q["sql"]) for q in queries]
    assert lines not in {match[1] for match in counted if match}

    page = client.get(campaign.get_absolute_url(), {"items-whereabouts": "shipped"})

    shipped = campaign.affected_items.filter(whereabouts="shipped").count()
    assert page.context["lines"].paginator.count == shipped < campaign.affected_items.count()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_resolutions_and_reversals_keep_the_figures_exact(manager, staff, graph):
    campaign = _open(manager)
    bread = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    deli = _line(campaign, "BREAD lot BR-1", party="Anna's Deli")
    pack = _line(campaign, "PACK serial P-1", party="Anna's Deli")
    (mistake,) = services.affected_items_resolve(
        campaign=campaign, items=[pack], outcome=R.NOT_FOUND, acting_user=manager
    )
    barrier = threading.Barrier(4)
    errors = []

    def work(action, **kwargs):
        try:
            barrier.wait()
            action(**kwargs)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    resolve = services.affected_items_resolve
    jobs = [
        (resolve, {"items": [bread.pk], "outcome": R.RETURNED, "quantity": Decimal(7)}),
        (resolve, {"items": [bread.pk], "outcome": R.DESTROYED, "quantity": Decimal(13)}),
        (resolve, {"items": [deli.pk], "outcome": R.CONSUMED}),
        (services.resolution_reverse, {"resolution": mistake, "reason": "It was found"}),
    ]
    threads = [
        threading.Thread(
            target=work,
            args=(action,),
            kwargs={**kwargs, "acting_user": staff}
            | ({"campaign": campaign} if action is resolve else {}),
        )
        for action, kwargs in jobs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert_figures_counted(campaign)
    progress = selectors.campaign_progress(campaign)
    assert progress.lines_resolved == 2  # the distributor's bread and the deli's, in full
    (kg,) = [balance for balance in progress.balances if balance.unit == "KGM"]
    assert (kg.recovered, kg.destroyed, kg.consumed) == (Decimal(7), Decimal(13), Decimal(10))
