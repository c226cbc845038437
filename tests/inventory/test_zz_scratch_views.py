from datetime import date
from decimal import Decimal
import pytest
from inventory.models import *
from inventory.services import *
from .factories import *


@pytest.mark.django_db
def test_dump(client, manager):
    site = SiteFactory(code="plant", name="Plant One")
    deli = PartyFactory(
        name="Corner Deli",
        contact_name="Dana Deli",
        email="dana@deli.example",
        phone="+1 555 0199",
        street="1 Main St",
    )
    drill_p = SerialProductFactory(sku="DRILL")
    batt_p = SerialProductFactory(sku="BATT")
    lotp = ProductFactory(sku="DRILL-LOT")
    plot = lot_create(
        product=drill_p,
        code="P-1",
        quantity=Decimal("5"),
        site=site,
        produced_on=date(2026, 3, 1),
        acting_user=manager,
    )
    drill = serial_unit_create(
        product=drill_p,
        serial="D-1",
        lot=plot,
        site=site,
        produced_on=date(2026, 3, 1),
        acting_user=manager,
    )
    b1 = serial_unit_create(product=batt_p, serial="B-1", site=site, acting_user=manager)
    b2 = serial_unit_create(product=batt_p, serial="B-2", site=site, acting_user=manager)
    serial_unit_install(component=b1, assembly=drill, acting_user=manager)
    shipment_create(
        serial_units=[drill],
        from_site=site,
        to_party=deli,
        shipped_at=date(2026, 3, 3),
        acting_user=manager,
    )
    drill.refresh_from_db()
    service_record_create(
        serial_unit=drill,
        kind="replacement",
        performed_on=date(2026, 6, 1),
        description="Swapped battery",
        parts_removed=[SerialUnit.objects.get(pk=b1.pk)],
        parts_fitted=[b2],
        acting_user=manager,
        technician="Sam",
    )
    client.force_login(manager)
    r = client.get(f"/serials/{drill.pk}/")
    open("/tmp/scratch/serial.html", "w").write(r.content.decode())
    r = client.post(f"/lots/{plot.pk}/status/", {"status": "on_hold", "reason": ""}, follow=True)
    print([str(m) for m in r.context["messages"]])
    r = client.post(f"/lots/{plot.pk}/status/", {"status": "", "reason": "x"}, follow=True)
    print([str(m) for m in r.context["messages"]])
    r = client.post(f"/lots/{plot.pk}/status/", {"status": "on_hold", "reason": "x"}, follow=True)
    print([str(m) for m in r.context["messages"]])
    r = client.post(
        f"/serials/{drill.pk}/status/", {"status": "in_repair", "reason": "x"}, follow=True
    )
    print([str(m) for m in r.context["messages"]])
    for q in [
        "(01)09501101000005(10)P-1",
        "(01)09501100000002(10)P-1",
        "https://id.gs1.org/01/%s/10/P-1" % drill_p.gtin,
        "09501101000006 P-1",
        "(01)%s(10)P-1" % drill_p.gtin,
        "NOPE",
        "A B C D",
        "P-1",
        "D-1",
    ]:
        r = client.get("/trace/", {"q": q})
        print(q, r.status_code, r.context["form"].errors)
