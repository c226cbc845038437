"""A recall reaches the registered end owners of its units who agreed to be contacted."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory import services as inventory_services
from recalls import selectors
from recalls.views import OWNER_COLUMNS

from .test_workflow import _open

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned(graph, manager):
    """P-1 went to the deli and its owner agreed to be contacted; P-2 was sold to an owner
    who did not, after an earlier owner who did."""
    p1, p2 = (graph["packs"][0], graph["packs"][1])
    inventory_services.shipment_create(
        serial_units=[p2], from_site=graph["plant"], to_party=graph["deli"], acting_user=manager
    )
    today = timezone.localdate()
    inventory_services.unit_owner_register(
        serial_unit=p1,
        owner_name="Ada Byron",
        started_on=today,
        consent=True,
        email="ada@example.org",
        acting_user=manager,
    )
    inventory_services.unit_owner_register(
        serial_unit=p2,
        owner_name="Earlier Owner",
        started_on=today,
        consent=True,
        email="earlier@example.org",
        acting_user=manager,
    )
    inventory_services.unit_owner_transfer(
        serial_unit=p2, owner_name="Charles Babbage", transferred_on=today, acting_user=manager
    )
    return _open(manager, identifiers=["CELL lot CE-1"])


def test_the_counts_name_current_owners_and_those_who_may_be_contacted(owned):
    assert selectors.registered_owner_counts(owned) == {
        "owners": 2,
        "contactable": 1,
        "uncontactable": 1,
    }


def test_the_campaign_page_says_how_many_owners_can_be_reached(client, manager, owned):
    client.force_login(manager)

    html = client.get(owned.get_absolute_url()).content.decode()

    assert "Registered owners" in html
    assert "2 units in this campaign have registered owners" in html
    assert "1 did not, and is reached only through the public warning" in html
    assert reverse("recalls:owners", args=[owned.reference]) in html


def test_the_owners_file_lists_only_current_owners_who_agreed_to_be_contacted(client, staff, owned):
    client.force_login(staff)

    response = client.get(reverse("recalls:owners", args=[owned.reference]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"{owned.reference}-owners-" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == OWNER_COLUMNS
    today = timezone.localdate().isoformat()
    assert rows[1:] == [
        ["Ada Byron", "ada@example.org", "", "PACK", rows[1][4], "P-1", today, today]
    ]


def test_a_campaign_without_owners_shows_no_owners_card(client, manager, graph):
    campaign = _open(manager, identifiers=["FLOUR lot FL-1"])
    client.force_login(manager)

    html = client.get(campaign.get_absolute_url()).content.decode()

    assert "Registered owners" not in html


def test_people_without_recall_access_cannot_download_owners(client, administrator, owned):
    client.force_login(administrator)

    response = client.get(reverse("recalls:owners", args=[owned.reference]))

    assert response.status_code == 403


def test_an_unknown_campaign_has_no_owners_file(client, manager, graph):
    client.force_login(manager)

    assert client.get(reverse("recalls:owners", args=["RC-2026-9999"])).status_code == 404
