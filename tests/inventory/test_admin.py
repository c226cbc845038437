from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory import conditions, services
from inventory.conditions import Reading
from inventory.models import (
    ConditionLimit,
    Job,
    Lot,
    Measurement,
    Party,
    Product,
    SerialUnit,
    ServiceRecord,
    Site,
    StatusChange,
    TraceEvent,
    UnitOwnership,
    WarrantyClaim,
)
from inventory.services import Line

from .factories import (
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    ServiceRecordFactory,
    SiteFactory,
    UserFactory,
    WarrantyClaimFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["superuser", "administrator"])
def any_admin_client(request, client):
    """A client signed in as a superuser, then as a (non-superuser) member of Administrators."""
    user = request.getfixturevalue("admin_user" if request.param == "superuser" else request.param)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def records(admin_user):
    """A small but complete set of records, written through the services."""
    supplier = PartyFactory(name="Green Valley Farms", gln="5901234123457", is_supplier=True)
    customer = PartyFactory(name="Corner Store")
    plant = SiteFactory(code="plant", name="Main plant")
    flour = services.lot_create(
        product=ProductFactory(sku="FLOUR", gtin="05901234123457"),
        code="L-2041",
        quantity=Decimal("500"),
        supplier=supplier,
        supplier_lot_code="FARM-88",
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=admin_user,
    )
    bread = services.lot_create(
        product=ProductFactory(sku="BREAD"),
        code="B-1",
        quantity=Decimal("200"),
        inputs=[Line(flour, Decimal("50"))],
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=admin_user,
    )
    services.lot_hold(lot=bread, reason="Supplier notice SN-88", acting_user=admin_user)
    scooter_product = SerialProductFactory(sku="SCOOTER")
    scooter = services.serial_unit_create(
        product=scooter_product, serial="SC-0001", site=plant, acting_user=admin_user
    )
    battery = services.serial_unit_create(
        product=SerialProductFactory(sku="BATTERY"),
        serial="BT-0001",
        site=plant,
        acting_user=admin_user,
    )
    services.serial_unit_install(component=battery, assembly=scooter, acting_user=admin_user)
    services.shipment_create(
        serial_units=[scooter],
        from_site=plant,
        to_party=customer,
        shipped_at=date(2026, 3, 10),
        acting_user=admin_user,
    )
    service = services.service_record_create(
        serial_unit=scooter,
        kind=ServiceRecord.Kind.INSPECTION,
        performed_on=date(2026, 6, 1),
        description="Annual brake check.",
        acting_user=admin_user,
    )
    return {
        Party: supplier,
        Site: plant,
        Product: flour.product,
        Lot: bread,
        SerialUnit: scooter,
        ServiceRecord: service,
        TraceEvent: TraceEvent.objects.filter(event_type=TraceEvent.Type.TRANSFORM).get(),
        StatusChange: StatusChange.objects.get(),
        Job: Job.objects.create(
            kind="epcis_import", title="Import of a.json", created_by=admin_user
        ),
        UnitOwnership: services.unit_owner_register(
            serial_unit=scooter,
            owner_name="Ada Byron",
            started_on=date(2026, 3, 20),
            acting_user=admin_user,
        ),
        WarrantyClaim: services.warranty_claim_open(
            serial_unit=scooter,
            fault="Brakes squeal.",
            reported_on=date(2026, 6, 2),
            acting_user=admin_user,
        ),
        **_return_records(plant, admin_user),
        **_quality_records(admin_user),
        **_condition_records(flour, admin_user),
    }


def _condition_records(lot, user):
    """A limit of the lot's product and a reading outside it (process conditions)."""
    limit = services.record_create(
        instance=ConditionLimit(
            product=lot.product,
            name="dry storage",
            measurement_type="relative_humidity",
            unit="P1",
            upper=Decimal(60),
            event_types=["receive"],
        ),
        acting_user=user,
    )
    event = services.event_record(
        event_type=TraceEvent.Type.RECEIVE, acting_user=user, subjects=[Line(lot)]
    )
    (measurement,) = conditions.measurements_record(
        event=event,
        readings=[Reading(measurement_type="relative_humidity", unit="P1", value=Decimal(70))],
        acting_user=user,
    )
    return {ConditionLimit: limit, Measurement: measurement}


INVENTORY_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label == "inventory"),
    key=lambda model: model._meta.model_name,
)


def _url(model, view, *args):
    return reverse(f"admin:inventory_{model._meta.model_name}_{view}", args=args)


def test_every_inventory_model_is_covered(records):
    assert set(INVENTORY_MODELS) == set(records)


@pytest.mark.parametrize("model", INVENTORY_MODELS, ids=lambda m: m._meta.model_name)
def test_every_changelist_loads(any_admin_client, records, model):
    response = any_admin_client.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert records[model] in response.context["cl"].result_list


@pytest.mark.parametrize("model", INVENTORY_MODELS, ids=lambda m: m._meta.model_name)
def test_every_change_page_loads(any_admin_client, records, model):
    obj = records[model]

    response = any_admin_client.get(_url(model, "change", obj.pk))

    assert response.status_code == 200
    assert response.context["original"] == obj


@pytest.mark.parametrize(
    "model",
    [model for model in INVENTORY_MODELS if hasattr(model, "history")],
    ids=lambda m: m._meta.model_name,
)
def test_every_history_page_loads(any_admin_client, records, model):
    response = any_admin_client.get(_url(model, "history", records[model].pk))

    assert response.status_code == 200
    assert response.context["object"] == records[model]


def test_a_lot_page_shows_its_events_genealogy_and_status_history(admin_client, records):
    bread = records[Lot]

    response = admin_client.get(_url(Lot, "change", bread.pk))

    content = response.content.decode()
    assert "Supplier notice SN-88" in content
    assert "FLOUR lot L-2041" in content
    assert "transform" in content


# --- Query counts -----------------------------------------------------------------------------


def _lot_row():
    LotFactory(supplier=PartyFactory(is_supplier=True), supplier_lot_code="FARM-1")


def _serial_unit_row():
    product = SerialProductFactory()
    assembly = SerialUnitFactory(
        product=product,
        lot=LotFactory(product=product),
        holder_site=None,
        holder_party=PartyFactory(),
    )
    SerialUnitFactory(product=product, lot=LotFactory(product=product), installed_in=assembly)


def _trace_event_row(user):
    lot = LotFactory()
    services.shipment_create(
        lots=[Line(lot, Decimal("1"))],
        from_site=lot.site,
        to_party=PartyFactory(),
        shipped_at=date(2026, 3, 2),
        document_type="desadv",
        document_number="DA-1",
        acting_user=user,
    )


def _status_change_row(user):
    services.lot_hold(lot=LotFactory(), reason="Supplier notice", acting_user=user)


ROW_MAKERS = {
    Party: lambda user: PartyFactory(),
    Site: lambda user: SiteFactory(),
    Product: lambda user: ProductFactory(),
    Lot: lambda user: _lot_row(),
    SerialUnit: lambda user: _serial_unit_row(),
    ServiceRecord: lambda user: ServiceRecordFactory(),
    TraceEvent: _trace_event_row,
    StatusChange: _status_change_row,
    Job: lambda user: Job.objects.create(
        kind="epcis_import", title="Import", created_by=UserFactory()
    ),
    UnitOwnership: lambda user: services.unit_owner_register(
        serial_unit=SerialUnitFactory(
            holder_site=None, holder_party=PartyFactory(), shipped_on=date(2026, 3, 1)
        ),
        owner_name="Ada Byron",
        started_on=date(2026, 3, 20),
        acting_user=user,
    ),
    WarrantyClaim: lambda user: WarrantyClaimFactory(
        claimant=PartyFactory(), decided_by=UserFactory()
    ),
}
ROW_MAKERS.update(
    {
        ConditionLimit: lambda user: _condition_records(LotFactory(), user)[ConditionLimit],
        Measurement: lambda user: _condition_records(LotFactory(), user)[Measurement],
    }
)


@pytest.mark.parametrize("model", INVENTORY_MODELS, ids=lambda m: m._meta.model_name)
def test_a_changelist_runs_as_many_queries_for_30_rows_as_for_3(
    admin_client, admin_user, django_assert_max_num_queries, model
):
    make_row = ROW_MAKERS[model]
    url = _url(model, "changelist")
    for _ in range(3):
        make_row(admin_user)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    for _ in range(27):
        make_row(admin_user)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)

    assert response.context["cl"].result_count >= 30


# --- Search -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "query", "expected"),
    [
        (Lot, "L-2041", "flour lot"),
        (Lot, "FARM-88", "flour lot"),
        (Lot, "05901234123457", "flour lot"),
        (Product, "5901234123457", "flour"),
        (SerialUnit, "SC-0001", "scooter"),
        (Party, "5901234123457", "supplier"),
    ],
)
def test_search_finds_the_record(admin_client, records, model, query, expected):
    flour_lot = Lot.objects.get(code="L-2041")
    wanted = {
        "flour lot": flour_lot,
        "flour": flour_lot.product,
        "scooter": records[SerialUnit],
        "supplier": records[Party],
    }[expected]

    response = admin_client.get(_url(model, "changelist"), {"q": query})

    assert list(response.context["cl"].result_list) == [wanted]


# --- Adding through the services --------------------------------------------------------------


def test_adding_a_lot_in_the_admin_records_its_receipt(any_admin_client):
    product = ProductFactory(sku="FLOUR", unit="KGM", shelf_life_days=30)
    supplier = PartyFactory(is_supplier=True)
    plant = SiteFactory()

    response = any_admin_client.post(
        _url(Lot, "add"),
        {
            "product": product.pk,
            "code": "L-3001",
            "quantity": "250",
            "unit": "KGM",
            "produced_on": "2026-03-02",
            "expires_on": "",
            "site": plant.pk,
            "supplier": supplier.pk,
            "supplier_lot_code": "FARM-90",
        },
    )

    assert response.status_code == 302
    lot = Lot.objects.get(code="L-3001")
    assert lot.expires_on == date(2026, 4, 1)
    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.RECEIVE
    assert event.source_party == supplier
    assert event.recorded_by == any_admin_client.user
    assert [(line.item_id, line.quantity) for line in event.lines.all()] == [
        (lot.pk, Decimal("250.000"))
    ]
    [created] = lot.history.all()
    assert created.history_user == any_admin_client.user


def test_adding_a_lot_without_a_supplier_records_its_production(admin_client):
    product = ProductFactory()

    response = admin_client.post(
        _url(Lot, "add"),
        {"product": product.pk, "code": "L-3002", "quantity": "10", "unit": product.unit},
    )

    assert response.status_code == 302
    event = TraceEvent.objects.get()
    assert event.event_type == TraceEvent.Type.PRODUCE
    assert event.lines.get().item_id == Lot.objects.get(code="L-3002").pk


def test_adding_a_duplicate_lot_in_the_admin_shows_the_message(admin_client):
    existing = LotFactory(code="L-3001")

    response = admin_client.post(
        _url(Lot, "add"),
        {"product": existing.product.pk, "code": "L-3001", "quantity": "1", "unit": "KGM"},
    )

    assert response.status_code == 200
    assert "This product already has a lot with this code." in response.content.decode()
    assert Lot.objects.filter(code="L-3001").count() == 1


# --- Status actions ---------------------------------------------------------------------------


def test_the_quarantine_action_asks_for_a_reason(any_admin_client):
    lot = LotFactory(code="L-2041")

    response = any_admin_client.post(
        _url(Lot, "changelist"), {"action": "set_quarantined", "_selected_action": [lot.pk]}
    )

    assert response.status_code == 200
    assert "admin/inventory/status_action.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "L-2041" in content
    assert 'name="reason"' in content
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED


def test_the_quarantine_action_with_a_reason_changes_the_status(any_admin_client):
    lot = LotFactory(code="L-2041")

    response = any_admin_client.post(
        _url(Lot, "changelist"),
        {
            "action": "set_quarantined",
            "_selected_action": [lot.pk],
            "apply": "1",
            "reason": "Supplier notice SN-88: Listeria",
        },
    )

    assert response.status_code == 302
    lot.refresh_from_db()
    assert lot.status == Lot.Status.QUARANTINED
    change = StatusChange.objects.get()
    assert (change.item_id, change.from_status, change.to_status) == (
        lot.pk,
        "released",
        "quarantined",
    )
    assert change.reason == "Supplier notice SN-88: Listeria"
    assert change.changed_by == any_admin_client.user
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["1 set to quarantined."]


def test_the_quarantine_action_without_a_reason_changes_nothing(admin_client):
    lot = LotFactory()

    response = admin_client.post(
        _url(Lot, "changelist"),
        {"action": "set_quarantined", "_selected_action": [lot.pk], "apply": "1", "reason": ""},
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED
    assert not StatusChange.objects.exists()


def test_quality_staff_cannot_change_a_status_in_the_admin(client, staff):
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    lot = LotFactory()

    listing = client.get(_url(Lot, "changelist"))
    response = client.post(
        _url(Lot, "changelist"),
        {
            "action": "set_quarantined",
            "_selected_action": [lot.pk],
            "apply": "1",
            "reason": "Supplier notice SN-88",
        },
    )

    assert listing.status_code == 200
    assert listing.context["action_form"] is None
    assert response.status_code == 200
    lot.refresh_from_db()
    assert lot.status == Lot.Status.RELEASED
    assert not StatusChange.objects.exists()


# --- Read-only records ------------------------------------------------------------------------


def test_trace_events_cannot_be_added_in_the_admin(any_admin_client):
    assert any_admin_client.get(_url(TraceEvent, "add")).status_code == 403


def test_a_trace_event_page_is_read_only(any_admin_client, records):
    event = records[TraceEvent]

    response = any_admin_client.get(_url(TraceEvent, "change", event.pk))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert 'name="_save"' not in response.content.decode()


def test_a_trace_event_cannot_be_changed_in_the_admin(any_admin_client, records):
    event = records[TraceEvent]

    response = any_admin_client.post(
        _url(TraceEvent, "change", event.pk), {"notes": "Edited afterwards"}
    )

    assert response.status_code == 403
    event.refresh_from_db()
    assert event.notes == ""


def test_a_trace_event_cannot_be_deleted_in_the_admin(any_admin_client, records):
    event = records[TraceEvent]

    assert any_admin_client.get(_url(TraceEvent, "delete", event.pk)).status_code == 403
    assert any_admin_client.post(_url(TraceEvent, "delete", event.pk)).status_code == 403
    assert TraceEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize("model", [Lot, SerialUnit])
def test_lots_and_units_cannot_be_deleted_in_the_admin(any_admin_client, records, model):
    obj = records[model]

    assert any_admin_client.get(_url(model, "delete", obj.pk)).status_code == 403
    assert any_admin_client.post(_url(model, "delete", obj.pk)).status_code == 403
    change_page = any_admin_client.get(_url(model, "change", obj.pk))
    assert b'class="deletelink"' not in change_page.content
    assert model.objects.filter(pk=obj.pk).exists()


def test_trace_events_have_no_bulk_actions(any_admin_client, records):
    response = any_admin_client.get(_url(TraceEvent, "changelist"))

    assert response.context["action_form"] is None


def test_an_old_version_of_a_lot_cannot_be_restored_over_its_status(any_admin_client, records):
    bread = records[Lot]
    released = bread.history.earliest("history_date")
    url = reverse("admin:inventory_lot_simple_history", args=[bread.pk, released.history_id])

    response = any_admin_client.post(
        url, {"quantity": "200", "unit": bread.unit, "site": bread.site_id}
    )

    assert response.status_code == 403
    bread.refresh_from_db()
    assert bread.status == Lot.Status.ON_HOLD


def test_an_old_version_of_a_lot_can_still_be_viewed(any_admin_client, records):
    bread = records[Lot]
    released = bread.history.earliest("history_date")
    url = reverse("admin:inventory_lot_simple_history", args=[bread.pk, released.history_id])

    response = any_admin_client.get(url)

    assert response.status_code == 200
    assert response.context["revert_disabled"] is True


# --- Who may enter ----------------------------------------------------------------------------


def test_a_quality_manager_who_is_not_staff_cannot_open_the_admin(client, manager):
    client.force_login(manager)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response.url == f"{reverse('admin:login')}?next={reverse('admin:index')}"


def test_a_quality_manager_who_is_not_staff_cannot_open_an_admin_list(client, manager):
    client.force_login(manager)
    url = _url(Lot, "changelist")

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('admin:login')}?next={url}"


# --- Returns (RMA) ----------------------------------------------------------------------------


RETURN_MODELS = ("unitreturn", "returnphoto")


def _return_records(site, user) -> dict:
    """A return registered through its service, and a photo of it (its file is never read)."""
    from inventory.models import ReturnPhoto, UnitReturn

    from .factories import CustomerUnitFactory

    unit_return = services.unit_return_register(
        serial_unit=CustomerUnitFactory(),
        site=site,
        reason=UnitReturn.Reason.DEFECTIVE,
        condition=UnitReturn.Condition.DAMAGED,
        acting_user=user,
    )
    photo = ReturnPhoto.objects.create(
        unit_return=unit_return, image="returns/2026/06/box.jpg", uploaded_by=user
    )
    return {UnitReturn: unit_return, ReturnPhoto: photo}


def _return_row(user):
    _return_records(SiteFactory(), user)


ROW_MAKERS.update(
    {model: _return_row for model in INVENTORY_MODELS if model._meta.model_name in RETURN_MODELS}
)


# --- Quality control: specifications and release ---


def _quality_records(user) -> dict:
    """A specification, a certificate, a result, a signed rejection and a deviation."""
    from inventory import quality
    from inventory.models import (
        Certificate,
        Deviation,
        ReleaseDecision,
        Specification,
        TestResult,
    )

    from .quality_factories import PASSWORD, quarantined_lot, record, spec_with_tests

    spec = spec_with_tests()
    lot = quarantined_lot(spec, supplier=PartyFactory(is_supplier=True))
    certificate = Certificate.objects.create(
        supplier=lot.supplier,
        number=f"COA-{lot.pk}",
        issued_on=date(2026, 3, 1),
        file="certificates/2026/03/coa.pdf",
        uploaded_by=user,
    )
    result = record(
        lot, spec, "pH", user, value="4.2", source="certificate", certificate=certificate
    )
    deviation = services.deviation_raise(
        item=lot.item, kind="other", description="Label smudged", acting_user=user
    )
    signer = UserFactory(is_superuser=True)  # the factory's password, which the signature asks
    decision = quality.lot_reject_sign(
        lot=lot, password=PASSWORD, statement="Rejected", acting_user=signer
    )
    return {
        Specification: spec,
        Certificate: certificate,
        TestResult: result,
        Deviation: deviation,
        ReleaseDecision: decision,
    }


def _quality_row(user):
    _quality_records(user)


ROW_MAKERS.update(
    {
        model: _quality_row
        for model in INVENTORY_MODELS
        if model._meta.model_name
        in {"specification", "certificate", "testresult", "deviation", "releasedecision"}
    }
)
