import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inventory import services
from inventory.models import Lot, Product, SerialUnit, ServiceRecord

from .factories import (
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def creator():
    return UserFactory(username="creator")


@pytest.fixture
def editor():
    return UserFactory(username="editor")


def _history(obj):
    """The object's history rows, oldest first."""
    return list(obj.history.order_by("history_date", "history_id"))


def _changes(older, newer):
    return {(change.field, change.old, change.new) for change in newer.diff_against(older).changes}


# One way to create each record through its service, and one field to change afterwards.
RECORDS = {
    "product": (
        lambda user: services.product_create(sku="SALAD-1", name="Garden salad", acting_user=user),
        "name",
        "Garden salad",
        "Garden salad, 200 g",
    ),
    "party": (
        lambda user: services.party_create(
            name="Corner Store", email="old@example.com", acting_user=user
        ),
        "email",
        "old@example.com",
        "recalls@example.com",
    ),
    "site": (
        lambda user: services.site_create(
            code="dc-1", name="DC North", party=PartyFactory(), acting_user=user
        ),
        "name",
        "DC North",
        "Distribution centre North",
    ),
    "lot": (
        lambda user: services.lot_create(
            product=ProductFactory(), code="L-1", quantity=Decimal("10"), acting_user=user
        ),
        "supplier_lot_code",
        "",
        "FARM-88",
    ),
    "serial unit": (
        lambda user: services.serial_unit_create(
            product=SerialProductFactory(), serial="SN-1", acting_user=user
        ),
        "produced_on",
        None,
        date(2026, 3, 2),
    ),
    "service record": (
        lambda user: services.service_record_create(
            serial_unit=SerialUnitFactory(),
            kind=ServiceRecord.Kind.REPAIR,
            performed_on=date(2026, 6, 1),
            description="Replaced the charging port.",
            acting_user=user,
        ),
        "outcome",
        "open",
        "repaired",
    ),
}


@pytest.mark.parametrize("kind", RECORDS)
def test_creating_a_record_is_kept_with_who_created_it(creator, kind):
    create, _field, _old, _new = RECORDS[kind]

    obj = create(creator)

    [created] = _history(obj)
    assert created.history_type == "+"
    assert created.history_user == creator


@pytest.mark.parametrize("kind", RECORDS)
def test_changing_a_record_keeps_who_changed_it_and_the_before_and_after(creator, editor, kind):
    create, field, old, new = RECORDS[kind]
    obj = create(creator)

    services.record_update(
        instance=obj, acting_user=editor, reason="Corrected after audit", **{field: new}
    )

    created, changed = _history(obj)
    assert (changed.history_type, changed.history_user) == ("~", editor)
    assert changed.history_change_reason == "Corrected after audit"
    assert _changes(created, changed) == {(field, old, new)}
    assert (created.history_user, getattr(created, field)) == (creator, old)


def test_a_lot_status_change_is_kept_with_its_reason(creator, editor):
    lot = services.lot_create(
        product=ProductFactory(), code="L-1", quantity=Decimal("10"), acting_user=creator
    )

    services.lot_hold(lot=lot, reason="Supplier notice SN-88: Listeria", acting_user=editor)

    created, held = _history(lot)
    assert held.history_user == editor
    assert held.history_change_reason == "Supplier notice SN-88: Listeria"
    assert _changes(created, held) == {("status", Lot.Status.RELEASED, Lot.Status.ON_HOLD)}


def test_a_serial_unit_status_change_is_kept_with_its_reason(editor):
    unit = SerialUnitFactory()

    services.item_change_status(
        item=unit,
        status=SerialUnit.Status.QUARANTINED,
        reason="Battery swelling",
        acting_user=editor,
    )

    held = _history(unit)[-1]
    assert held.history_user == editor
    assert held.history_change_reason == "Battery swelling"
    assert held.status == SerialUnit.Status.QUARANTINED


def test_a_shipment_is_kept_in_the_unit_history(editor):
    site = SiteFactory()
    unit = SerialUnitFactory(holder_site=site)
    customer = PartyFactory(name="Corner Store")

    services.shipment_create(
        serial_units=[unit],
        from_site=site,
        to_party=customer,
        shipped_at=date(2026, 4, 15),
        document_type="desadv",
        document_number="DA-7",
        acting_user=editor,
    )

    before, shipped = _history(unit)
    assert shipped.history_user == editor
    assert shipped.history_change_reason == "Shipped (DA-7)"
    assert _changes(before, shipped) >= {
        ("status", SerialUnit.Status.IN_STOCK, SerialUnit.Status.SHIPPED),
        ("holder_party", None, customer.pk),
        ("shipped_on", None, date(2026, 4, 15)),
    }


def test_a_refused_change_leaves_no_history(editor):
    product = ProductFactory()
    rows = len(_history(product))

    with pytest.raises(ValidationError) as exc_info:
        services.record_update(instance=product, sku="NOT VALID", acting_user=editor)

    assert exc_info.value.message_dict == {"sku": ["An SKU cannot contain spaces."]}

    assert len(_history(Product.objects.get(pk=product.pk))) == rows


def test_the_admin_history_page_of_a_lot_shows_the_change(admin_client, editor):
    lot = LotFactory(code="L-2041")
    services.lot_quarantine(lot=lot, reason="Supplier notice SN-88: Listeria", acting_user=editor)

    response = admin_client.get(reverse("admin:inventory_lot_history", args=[lot.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Supplier notice SN-88: Listeria" in content
    assert ">editor</a>" in content
    assert re.search(
        r"Quality status:</strong>\s*released\s*&nbsp;&rarr;&nbsp;&nbsp;quarantined", content
    )
