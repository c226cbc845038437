"""The admin shows non-conformances and CAPA actions read-only, with their items, actions,
timeline and versions; changes go through the report's page."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from recalls.capa import services
from recalls.models import CapaAction, NonConformance

from ..inventory.factories import LotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(manager, staff):
    nc = services.nonconformance_report(
        title="Seal leaks",
        description="Seals open at 2 N.",
        severity=NonConformance.Severity.MAJOR,
        source=NonConformance.Source.IN_PROCESS,
        detected_on=timezone.localdate(),
        items=[(LotFactory(code="POUCH-7", product__sku="POUCH"), Decimal("20"))],
        acting_user=manager,
    )
    services.capa_action_add(
        nonconformance=nc,
        kind=CapaAction.Kind.CORRECTIVE,
        description="Replace the sealing jaw.",
        owner=staff,
        due_on=timezone.localdate(),
        acting_user=manager,
    )
    return nc


@pytest.mark.parametrize("role", ["manager", "administrator"])
def test_the_admin_shows_a_report_with_its_items_actions_and_timeline(
    client, request, role, report
):
    user = request.getfixturevalue(role)
    user.is_staff = True
    user.save()
    client.force_login(user)

    listing = client.get(reverse("admin:recalls_nonconformance_changelist"))
    page = client.get(reverse("admin:recalls_nonconformance_change", args=[report.pk]))
    action = client.get(reverse("admin:recalls_capaaction_change", args=[report.actions.get().pk]))

    assert report.reference in listing.content.decode()
    content = page.content.decode()
    assert "POUCH lot POUCH-7" in content
    assert "Replace the sealing jaw." in content
    assert "Reported " in content  # the timeline
    assert action.status_code == 200
    history = client.get(reverse("admin:recalls_nonconformance_history", args=[report.pk]))
    assert history.status_code == 200


def test_the_admin_never_adds_changes_or_deletes_reports(client, manager, report):
    manager.is_superuser = manager.is_staff = True
    manager.save()
    client.force_login(manager)

    assert client.get(reverse("admin:recalls_nonconformance_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:recalls_nonconformance_delete", args=[report.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert NonConformance.objects.filter(pk=report.pk).exists()
