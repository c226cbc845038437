"""Lot and serial unit pages (issue #6): recall involvement, holders over time, warranty, and
recording a service; each page's queries stay the same however much it shows."""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from pytest_django.asserts import assertContains, assertNotContains

from inventory.forms import (
    SERVICE_DATE_FUTURE,
    SERVICE_DESCRIPTION_REQUIRED,
    SERVICE_KIND_REQUIRED,
    SERVICE_PART_IS_A_LOT,
    SERVICE_PART_IS_THE_UNIT,
)
from inventory.models import (
    Lot,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    TraceEvent,
    Unit,
)
from inventory.selectors import holder_periods, item_timeline
from inventory.services import (
    INSTALL_ALREADY,
    Line,
    event_record,
    lot_create,
    serial_unit_create,
    serial_unit_install,
    shipment_create,
)
from recalls.models import AffectedItem, RecallCampaign
from traceability.roles import ADMINISTRATORS

from ..recalls.factories import AffectedItemFactory, RecallCampaignFactory
from .factories import (
    InternalPartyFactory,
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SiteFactory,
    UserFactory,
)
from .test_views import LOT_PAGE_QUERIES, SERIAL_PAGE_QUERIES

pytestmark = pytest.mark.django_db


# --- Data -------------------------------------------------------------------------------------


@dataclass
class Life:
    """A drill made at the plant, sold to a deli, returned to the service centre."""

    drill: SerialUnit
    battery: SerialUnit
    spare: SerialUnit
    plant: object
    service_centre: object
    deli: object


@pytest.fixture
def clerk(db):
    return UserFactory(username="clerk")


@pytest.fixture
def life(clerk):
    ours = InternalPartyFactory(name="Lumen Tools")
    plant = SiteFactory(code="plant", name="Riverside Plant", party=ours)
    service_centre = SiteFactory(code="service", name="Service Centre", party=ours)
    deli = PartyFactory(name="Corner Deli")
    drill_product = SerialProductFactory(sku="DRILL", name="Cordless drill", warranty_months=24)
    battery_product = SerialProductFactory(sku="BATT", name="Battery pack")
    drill = serial_unit_create(
        product=drill_product,
        serial="D-0001",
        lot=LotFactory(product=drill_product, code="PL-0303", site=plant, expires_on=None),
        site=plant,
        occurred_at=timezone.make_aware(timezone.datetime(2026, 3, 3, 9, 0)),
        acting_user=clerk,
    )
    battery, spare = (
        serial_unit_create(
            product=battery_product,
            serial=serial,
            site=plant,
            occurred_at=timezone.make_aware(timezone.datetime(2026, 3, 3, 9, 0)),
            acting_user=clerk,
        )
        for serial in ("B-1", "B-2")
    )
    serial_unit_install(
        component=battery, assembly=drill, occurred_at=date(2026, 3, 4), acting_user=clerk
    )
    shipment_create(
        serial_units=[drill],
        from_site=plant,
        to_party=deli,
        shipped_at=timezone.make_aware(timezone.datetime(2026, 3, 10, 14, 0)),
        document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
        document_number="DA-5501",
        acting_user=clerk,
    )
    event_record(
        event_type=TraceEvent.Type.RETURN,
        subjects=[Line(drill)],
        occurred_at=timezone.make_aware(timezone.datetime(2026, 6, 1, 10, 0)),
        site=service_centre,
        source_party=deli,
        destination_party=ours,
        destination_site=service_centre,
        document_type=TraceEvent.DocumentType.RETURN_AUTHORISATION,
        document_number="RMA-7",
        acting_user=clerk,
    )
    SerialUnit.objects.filter(pk=drill.pk).update(holder_party=None, holder_site=service_centre)
    return Life(
        drill=SerialUnit.objects.get(pk=drill.pk),
        battery=SerialUnit.objects.get(pk=battery.pk),
        spare=spare,
        plant=plant,
        service_centre=service_centre,
        deli=deli,
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def administrator_client(client, administrator):
    """Administrators see lots and units but not recalls."""
    client.force_login(administrator)
    return client


def serial_url(unit):
    return reverse("serial_detail", args=[unit.pk])


def lot_url(lot):
    return reverse("lot_detail", args=[lot.pk])


def service_url(unit):
    return reverse("serial_service", args=[unit.pk])


def rows(response, heading_id):
    """The body rows of the table in the card labelled by `heading_id`, as lists of texts."""
    html = response.content.decode()
    section = re.search(
        rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S
    ).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", section, re.S)
    if body is None:
        return []
    return [
        [
            " ".join(strip_tags(cell).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def written():
    return (
        ServiceRecord.objects.count(),
        TraceEvent.objects.count(),
        ServicePart.objects.count(),
    )


# --- Recall involvement -----------------------------------------------------------------------


@pytest.fixture
def recalled_lot(clerk):
    plant = SiteFactory(code="plant", name="Riverside Plant")
    lot = lot_create(
        product=ProductFactory(sku="QUICHE", unit=Unit.EACH),
        code="Q-0412",
        quantity=Decimal("200"),
        site=plant,
        acting_user=clerk,
    )
    deli = PartyFactory(name="Corner Deli")
    drill = RecallCampaignFactory(
        number=9003,
        title="Mock recall of quiche",
        classification=RecallCampaign.Classification.CLASS_III,
        status=RecallCampaign.Status.COMPLETED,
        completed_at=timezone.make_aware(timezone.datetime(2026, 5, 3, 9, 0)),
        is_drill=True,
    )
    AffectedItemFactory(
        campaign=drill,
        lot=lot,
        quantity=Decimal("200"),
        unit=Unit.EACH,
        resolution=AffectedItem.Resolution.LOCATED,
        resolved_quantity=Decimal("200"),
        resolved_at=timezone.make_aware(timezone.datetime(2026, 5, 2, 9, 0)),
    )
    listeria = RecallCampaignFactory(number=9007, title="Listeria in quiche")
    AffectedItemFactory(
        campaign=listeria, lot=lot, quantity=Decimal("150"), unit=Unit.EACH, position=0
    )
    AffectedItemFactory(
        campaign=listeria,
        lot=lot,
        whereabouts=AffectedItem.Whereabouts.SHIPPED,
        site=None,
        consignee=deli,
        quantity=Decimal("50"),
        unit=Unit.EACH,
        position=1,
        resolution=AffectedItem.Resolution.RETURNED,
        resolved_quantity=Decimal("30"),
        resolved_at=timezone.make_aware(timezone.datetime(2026, 11, 20, 9, 0)),
    )
    return lot


def test_the_lot_page_lists_the_recall_lines_that_name_it_newest_campaign_first(
    manager_client, recalled_lot
):
    response = manager_client.get(lot_url(recalled_lot))

    assert rows(response, "recalls-heading") == [
        [
            "RC-2026-9007 Listeria in quiche",
            "Class I",
            "ongoing",
            "on hand at Riverside Plant",
            "150 each",
            "open details of its line in RC-2026-9007",
        ],
        [
            "RC-2026-9007 Listeria in quiche",
            "Class I",
            "ongoing",
            "shipped to Corner Deli",
            "50 each",
            "Returned (30 each) 2026-11-20 details of its line in RC-2026-9007",
        ],
        [
            "RC-2026-9003 Mock recall of quiche drill",
            "Class III",
            "completed",
            "on hand at Riverside Plant",
            "200 each",
            "Located 2026-05-02 details of its line in RC-2026-9003",
        ],
    ]
    line = AffectedItem.objects.get(campaign__number=9003)
    assertContains(response, f'href="{reverse("recalls:campaign", args=["RC-2026-9003"])}"')
    assertContains(response, f'href="{reverse("recalls:line", args=["RC-2026-9003", line.pk])}"')


def test_a_line_a_rescope_removed_is_listed_as_removed(manager_client, recalled_lot):
    AffectedItem.objects.filter(campaign__number=9003).update(
        removed_at=timezone.make_aware(timezone.datetime(2026, 5, 1, 9, 0))
    )

    response = manager_client.get(lot_url(recalled_lot))

    assert rows(response, "recalls-heading")[2][5] == (
        "removed from the campaign 2026-05-01 details of its line in RC-2026-9003"
    )
    assertContains(response, '<tr class="removed">', count=1)


def test_an_item_in_no_recall_says_so(manager_client, life):
    response = manager_client.get(serial_url(life.drill))

    assertContains(response, "No recall campaign lists it.")


def test_the_serial_page_lists_a_units_recall_lines(manager_client, life):
    campaign = RecallCampaignFactory(title="Battery overheating")
    AffectedItemFactory(
        campaign=campaign,
        lot=life.drill.lot,  # a unit's line names its production lot
        item=life.drill.item,
        kind="serial",
        serial="D-0001",
        whereabouts=AffectedItem.Whereabouts.SHIPPED,
        site=None,
        consignee=life.deli,
        quantity=Decimal("1"),
        unit=Unit.EACH,
    )

    response = manager_client.get(serial_url(life.drill))

    assert rows(response, "recalls-heading")[0][:5] == [
        f"{campaign.reference} Battery overheating",
        "Class I",
        "ongoing",
        "shipped to Corner Deli",
        "1 each",
    ]


def test_a_user_who_may_not_see_recalls_gets_no_recall_card_and_no_query_for_it(
    administrator_client, recalled_lot, django_assert_max_num_queries
):
    with django_assert_max_num_queries(LOT_PAGE_QUERIES - 1):
        response = administrator_client.get(lot_url(recalled_lot))

    assert response.status_code == 200
    assertNotContains(response, "recalls-heading")
    assertNotContains(response, "Listeria")


# --- Holders over time --------------------------------------------------------------------------


def test_the_serial_page_shows_who_held_the_unit_from_when_to_when(manager_client, life):
    response = manager_client.get(serial_url(life.drill))

    assert rows(response, "holders-heading") == [
        ["Riverside Plant", "2026-03-03 09:00 UTC", "2026-03-10 14:00 UTC", "Produce"],
        [
            "Corner Deli",
            "2026-03-10 14:00 UTC",
            "2026-06-01 10:00 UTC",
            "Ship despatch advice DA-5501",
        ],
        [
            "Lumen Tools · Service Centre",
            "2026-06-01 10:00 UTC",
            "holds it now",
            "Return return merchandise authorisation RMA-7",
        ],
    ]


def test_holders_are_shown_in_the_users_time_zone(manager_client, life, settings):
    settings.TIME_ZONE = "America/New_York"

    response = manager_client.get(serial_url(life.drill))

    assert rows(response, "holders-heading")[0][1] == "2026-03-03 04:00 EST"


def test_a_receipt_completing_a_shipment_does_not_start_a_new_holder(clerk, life):
    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(life.battery)],
        occurred_at=timezone.make_aware(timezone.datetime(2026, 3, 5, 8, 0)),
        site=life.plant,
        acting_user=clerk,
    )
    shipment_create(
        serial_units=[life.spare],
        from_site=life.plant,
        to_party=life.deli,
        shipped_at=timezone.make_aware(timezone.datetime(2026, 3, 6, 8, 0)),
        acting_user=clerk,
    )
    deli_shop = SiteFactory(code="deli-shop", name="Deli shop", party=life.deli)
    event_record(
        event_type=TraceEvent.Type.RECEIVE,
        subjects=[Line(life.spare)],
        occurred_at=timezone.make_aware(timezone.datetime(2026, 3, 7, 8, 0)),
        site=deli_shop,
        destination_party=life.deli,
        acting_user=clerk,
    )

    holders = holder_periods(list(item_timeline(life.spare.pk)))

    assert [(h.party, h.site, h.until is None) for h in holders] == [
        (None, life.plant, False),
        (life.deli, deli_shop, True),
    ]


def test_a_scrapped_unit_is_held_by_nobody_after(clerk, life):
    event_record(
        event_type=TraceEvent.Type.SCRAP,
        subjects=[Line(life.drill)],
        occurred_at=timezone.make_aware(timezone.datetime(2026, 7, 1, 8, 0)),
        site=life.service_centre,
        acting_user=clerk,
    )

    holders = holder_periods(list(item_timeline(life.drill.pk)))

    assert holders[-1].site == life.service_centre
    assert holders[-1].until == timezone.make_aware(timezone.datetime(2026, 7, 1, 8, 0))


# --- Warranty -----------------------------------------------------------------------------------


def test_a_unit_not_shipped_yet_says_when_its_warranty_will_start(manager_client, life):
    response = manager_client.get(serial_url(life.spare))

    assertContains(
        response,
        '<dd>24 months from shipment <span class="muted small">(not shipped yet)</span></dd>',
    )


def test_a_unit_whose_product_has_no_warranty_says_none(manager_client, clerk, life):
    SerialUnit.objects.filter(pk=life.spare.pk).update(warranty_ends_on=None)
    life.spare.product.warranty_months = None
    life.spare.product.save()

    response = manager_client.get(serial_url(life.spare))

    assertContains(response, "<div><dt>Warranty</dt><dd>none</dd></div>")


def test_a_shipped_unit_is_in_warranty_until_24_months_after_shipment(manager_client, life):
    response = manager_client.get(serial_url(life.drill))

    assertContains(response, "until 2028-03-10")


# --- Recording a service ------------------------------------------------------------------------


def service_data(**changes):
    data = {
        "kind": ServiceRecord.Kind.REPAIR,
        "performed_on": "2026-06-02",
        "outcome": ServiceRecord.Outcome.REPAIRED,
        "technician": "  Sam Tech ",
        "description": "Replaced the chuck.",
        "parts_fitted": "",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_staff_see_the_service_form_with_the_installed_parts_to_remove(staff_client, life):
    response = staff_client.get(serial_url(life.drill))

    form = response.context["service_form"]
    assert form.fields["parts_removed"].choices == [(life.battery.pk, "BATT serial B-1")]
    assert form["performed_on"].value() == timezone.localdate()
    assertContains(response, f'action="{service_url(life.drill)}"')
    assertContains(response, "<summary>Record a service</summary>")


def test_a_user_who_may_not_add_service_records_sees_no_form_and_cannot_post(
    administrator_client, life
):
    Group.objects.get(name=ADMINISTRATORS).permissions.remove(
        Permission.objects.get(codename="add_servicerecord")
    )
    before = written()

    page = administrator_client.get(serial_url(life.drill))
    response = administrator_client.post(service_url(life.drill), service_data())

    assert page.context["service_form"] is None
    assertNotContains(page, "Record a service")
    assert response.status_code == 403
    assert written() == before


def test_staff_record_a_repair_and_the_page_confirms_it(staff_client, staff, life):
    response = staff_client.post(service_url(life.drill), service_data(), follow=True)

    record = ServiceRecord.objects.get(serial_unit=life.drill)
    assert (record.kind, record.performed_on, record.outcome) == (
        ServiceRecord.Kind.REPAIR,
        date(2026, 6, 2),
        ServiceRecord.Outcome.REPAIRED,
    )
    assert (record.technician, record.recorded_by) == ("Sam Tech", staff)
    assert record.event.event_type == TraceEvent.Type.REPAIR
    assert response.redirect_chain == [(f"{serial_url(life.drill)}#service-records", 302)]
    assertContains(response, "Repair of DRILL serial D-0001 on 2026-06-02 recorded.")
    assert rows(response, "service-heading")[0][:3] == ["2026-06-02", "Repair", "repaired"]


def test_a_manager_swaps_a_battery_by_ticking_the_old_and_scanning_the_new(manager_client, life):
    response = manager_client.post(
        service_url(life.drill),
        service_data(
            kind=ServiceRecord.Kind.COMPONENT_REPLACEMENT,
            outcome=ServiceRecord.Outcome.REPLACED,
            parts_removed=[str(life.battery.pk)],
            parts_fitted="\n BATT serial B-2 \n\n",
        ),
    )

    assert response.status_code == 302
    life.battery.refresh_from_db()
    life.spare.refresh_from_db()
    assert life.battery.installed_in is None
    assert life.spare.installed_in == life.drill
    record = ServiceRecord.objects.get(serial_unit=life.drill)
    assert sorted((use.action, use.part.serial) for use in record.parts.all()) == [
        (ServicePart.Action.FITTED, "B-2"),
        (ServicePart.Action.REMOVED, "B-1"),
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": ""}, "kind", SERVICE_KIND_REQUIRED),
        ({"kind": "overhaul"}, "kind", SERVICE_KIND_REQUIRED),
        ({"description": "   "}, "description", SERVICE_DESCRIPTION_REQUIRED),
        (
            {"performed_on": "02/06/2026"},
            "performed_on",
            "Give the date of the work as YYYY-MM-DD.",
        ),
        (
            {"parts_fitted": "BATT serial B-99"},
            "parts_fitted",
            "No lot or serial unit matches BATT serial B-99.",
        ),
        (
            {"parts_removed": ["999999"]},
            "parts_removed",
            "Choose the removed parts among those installed now.",
        ),
    ],
    ids=[
        "no kind",
        "unknown kind",
        "no description",
        "bad date",
        "unknown part",
        "part not installed",
    ],
)
def test_bad_input_is_shown_under_its_field_and_nothing_is_written(
    staff_client, life, changes, field, message
):
    before = written()

    response = staff_client.post(service_url(life.drill), service_data(**changes))

    assert response.status_code == 200
    assert response.context["service_form"].errors[field] == [message]
    assertContains(response, f'<p class="field-error" role="alert">{message}</p>', html=True)
    assertContains(response, '<details class="service-form" open>')
    assert written() == before


def test_a_date_after_today_is_refused(staff_client, life):
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = staff_client.post(
        service_url(life.drill), service_data(performed_on=tomorrow.isoformat())
    )

    message = SERVICE_DATE_FUTURE % {"today": timezone.localdate().isoformat()}
    assert response.context["service_form"].errors["performed_on"] == [message]
    assert not ServiceRecord.objects.exists()


def test_a_lot_scanned_as_a_fitted_part_is_refused(staff_client, clerk, life):
    lot = lot_create(
        product=ProductFactory(sku="GREASE"),
        code="G-1",
        quantity=Decimal("5"),
        site=life.plant,
        acting_user=clerk,
    )

    response = staff_client.post(
        service_url(life.drill), service_data(parts_fitted="GREASE lot G-1")
    )

    assert response.context["service_form"].errors["parts_fitted"] == [
        SERVICE_PART_IS_A_LOT % {"value": lot}
    ]
    assert not ServiceRecord.objects.exists()


def test_the_unit_itself_cannot_be_fitted_into_itself(staff_client, life):
    response = staff_client.post(
        service_url(life.drill), service_data(parts_fitted="DRILL serial D-0001")
    )

    assert response.context["service_form"].errors["parts_fitted"] == [
        SERVICE_PART_IS_THE_UNIT % {"value": life.drill}
    ]


def test_a_part_installed_elsewhere_is_refused_by_the_service_and_nothing_is_written(
    staff_client, clerk, life
):
    other = serial_unit_create(
        product=life.drill.product, serial="D-0002", site=life.plant, acting_user=clerk
    )
    serial_unit_install(component=life.spare, assembly=other, acting_user=clerk)
    before = written()

    response = staff_client.post(
        service_url(life.drill), service_data(parts_fitted="BATT serial B-2")
    )

    assert response.status_code == 200
    message = INSTALL_ALREADY % {"component": life.spare, "assembly": other}
    assert response.context["service_form"].non_field_errors() == [message]
    assertContains(response, '<div class="error-box" role="alert">')
    assert written() == before
    life.spare.refresh_from_db()
    assert life.spare.installed_in == other


def test_the_service_url_does_not_answer_get(staff_client, life):
    assert staff_client.get(service_url(life.drill)).status_code == 405


def test_a_service_on_an_unknown_unit_is_not_found(staff_client, life):
    lot = Lot.objects.create(product=ProductFactory(), code="NOT-A-UNIT", quantity=Decimal("1"))

    response = staff_client.post(service_url(lot), service_data())

    assert response.status_code == 404
    assert not ServiceRecord.objects.exists()


# --- Constant queries ---------------------------------------------------------------------------


@pytest.fixture
def busy_life(clerk, life):
    """The drill with ten more trips to the deli and back, six components, five services and
    four recall lines."""
    for n in range(10):
        moment = timezone.make_aware(timezone.datetime(2026, 7, 1 + n, 9, 0))
        event_record(
            event_type=TraceEvent.Type.SHIP,
            subjects=[Line(life.drill)],
            occurred_at=moment,
            site=life.service_centre,
            destination_party=PartyFactory(),
            acting_user=clerk,
        )
        event_record(
            event_type=TraceEvent.Type.RETURN,
            subjects=[Line(life.drill)],
            occurred_at=moment + timedelta(hours=5),
            site=life.service_centre,
            destination_site=SiteFactory(),
            acting_user=clerk,
        )
    for n in range(6):
        part = serial_unit_create(
            product=SerialProductFactory(), serial=f"P-{n}", site=life.plant, acting_user=clerk
        )
        serial_unit_install(component=part, assembly=life.drill, acting_user=clerk)
    for n in range(5):
        ServiceRecord.objects.create(
            serial_unit=life.drill,
            kind=ServiceRecord.Kind.INSPECTION,
            performed_on=date(2026, 8, 1 + n),
            description=f"Inspection {n}",
        )
    for _ in range(4):
        AffectedItemFactory(
            campaign=RecallCampaignFactory(),
            lot=life.drill.lot,
            item=life.drill.item,
            kind="serial",
            serial="D-0001",
            consignee=PartyFactory(),
            whereabouts=AffectedItem.Whereabouts.SHIPPED,
            site=None,
            quantity=Decimal("1"),
            unit=Unit.EACH,
        )
    return life.drill


@pytest.mark.parametrize("data", ["few", "many"])
def test_the_serial_page_runs_the_same_queries_with_holders_recalls_and_the_service_form(
    manager_client, request, django_assert_max_num_queries, data, life
):
    unit = request.getfixturevalue("busy_life") if data == "many" else life.spare

    with django_assert_max_num_queries(SERIAL_PAGE_QUERIES):
        response = manager_client.get(serial_url(unit))

    assert response.status_code == 200
    assert response.context["service_form"] is not None
    if data == "many":
        assert len(rows(response, "holders-heading")) == 3 + 20
        assert len(rows(response, "recalls-heading")) == 4
        assert len(response.context["service_form"].fields["parts_removed"].choices) == 1 + 6


@pytest.mark.parametrize("lines", [0, 12])
def test_the_lot_page_runs_the_same_queries_for_no_recall_or_many(
    manager_client, recalled_lot, django_assert_max_num_queries, lines
):
    AffectedItem.objects.all().delete()
    for _ in range(lines):
        AffectedItemFactory(lot=recalled_lot, quantity=Decimal("1"), unit=Unit.EACH)

    with django_assert_max_num_queries(LOT_PAGE_QUERIES):
        response = manager_client.get(lot_url(recalled_lot))

    assert response.status_code == 200
    assert len(rows(response, "recalls-heading")) == lines


def test_a_refused_field_is_described_by_its_error_and_its_help(staff_client, life):
    response = staff_client.post(
        service_url(life.drill), service_data(description="", parts_fitted="BATT serial B-99")
    )

    assertContains(response, 'aria-describedby="id_description_error"')
    assertContains(response, '<div id="id_description_error">')
    assertContains(response, 'aria-describedby="id_parts_fitted_helptext id_parts_fitted_error"')
    assertContains(response, '<p class="help" id="id_parts_fitted_helptext">')
