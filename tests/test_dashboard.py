"""The dashboard: open recalls with their progress, stock needing attention, in constant queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import Lot
from recalls.models import AffectedItem, ConsigneeNotice, RecallCampaign

from .inventory.factories import LotFactory
from .recalls.factories import (
    AffectedItemFactory,
    ConsigneeNoticeFactory,
    RecallCampaignFactory,
)

pytestmark = pytest.mark.django_db


def _campaign(lines: int, resolved: int, notices: int, sent: int, answered: int, **fields):
    campaign = RecallCampaignFactory(**fields)
    now = timezone.now()
    for index in range(lines):
        done = index < resolved
        AffectedItemFactory(
            campaign=campaign,
            position=index,
            resolved_quantity=Decimal("100") if done else Decimal(0),
            resolution=AffectedItem.Resolution.DESTROYED if done else "",
            resolved_at=now if done else None,
        )
    for index in range(notices):
        ConsigneeNoticeFactory(
            campaign=campaign,
            sent_at=now if index < sent else None,
            method=ConsigneeNotice.Method.LETTER if index < sent else "",
            acknowledged_at=now if index < answered else None,
        )
    return campaign


def _rows(html: str, reference: str) -> str:
    start = html.index(reference)
    return html[start : html.index("</tr>", start)]


def test_managers_see_each_open_recall_with_its_progress(client, manager):
    campaign = _campaign(lines=4, resolved=1, notices=3, sent=2, answered=1, title="Peanut")
    RecallCampaignFactory(
        status=RecallCampaign.Status.TERMINATED,
        title="Old one",
        completed_at=timezone.now(),
        terminated_at=timezone.now(),
    )
    client.force_login(manager)

    html = client.get(reverse("home")).content.decode()

    row = _rows(html, campaign.reference)
    assert "Peanut" in row
    assert '<progress max="4" value="1"' in row
    assert "1 of 4" in row
    assert "2 of 3" in row  # notified
    assert "Old one" not in html  # terminated campaigns are not open


def test_staff_see_open_recalls_too(client, staff):
    campaign = _campaign(lines=1, resolved=0, notices=0, sent=0, answered=0)
    client.force_login(staff)

    assert campaign.reference in client.get(reverse("home")).content.decode()


def test_administrators_see_nothing_of_recalls_on_the_dashboard(client, administrator):
    campaign = _campaign(lines=1, resolved=0, notices=0, sent=0, answered=0)
    client.force_login(administrator)

    html = client.get(reverse("home")).content.decode()

    assert campaign.reference not in html
    assert "Open recalls" not in html


def test_no_open_recall_is_said_plainly(client, manager):
    client.force_login(manager)

    assert "No recall is open." in client.get(reverse("home")).content.decode()


def test_expiring_lots_are_counted_within_30_60_and_90_days(client, manager):
    today = timezone.localdate()
    for days in (-3, 10, 45, 80, 200):
        LotFactory(expires_on=today + timedelta(days=days))
    LotFactory(expires_on=today - timedelta(days=1), status=Lot.Status.CONSUMED)
    client.force_login(manager)

    counts = client.get(reverse("home")).context["counts"]

    assert (counts["expired"], counts["expiring_30"]) == (1, 1)
    assert (counts["expiring_60"], counts["expiring_90"]) == (2, 3)


def test_the_dashboard_runs_the_same_queries_however_many_recalls(
    client, manager, django_assert_max_num_queries
):
    client.force_login(manager)
    _campaign(lines=1, resolved=0, notices=1, sent=0, answered=0)
    # Every card together: counts, recalls, stock needing attention, recent events, claims,
    # counterfeit flags, lots awaiting release and signed decisions, open deviations,
    # excursions, open non-conformances and CAPA actions due.
    with django_assert_max_num_queries(26) as few:
        client.get(reverse("home"))
    for _ in range(5):
        _campaign(lines=6, resolved=3, notices=4, sent=2, answered=1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("home")).status_code == 200


def test_recent_events_count_their_lines(manager):
    from inventory import selectors
    from inventory.services import Line, lot_create, shipment_create

    from .inventory.factories import InternalPartyFactory, PartyFactory, ProductFactory, SiteFactory

    plant = SiteFactory(party=InternalPartyFactory())
    lots = [
        lot_create(
            product=ProductFactory(),
            code=f"RE-{n}",
            quantity=Decimal(5),
            site=plant,
            acting_user=manager,
        )
        for n in range(2)
    ]
    shipment_create(
        lots=[Line(lot, Decimal(1)) for lot in lots],
        from_site=plant,
        to_party=PartyFactory(),
        acting_user=manager,
    )

    events = list(selectors.recent_events())

    assert [event.line_count for event in events] == [2, 1, 1]  # the shipment, then each lot
