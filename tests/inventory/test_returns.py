"""Returns (RMA), issue #7: registering a unit a customer sent back, deciding what becomes of
it (restock, repair, replace, scrap) and completing a repair; every step a trace event and a
status of the unit, every refusal a sentence that writes nothing."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from PIL import Image

from inventory.models import (
    ReturnPhoto,
    SerialUnit,
    StatusChange,
    TraceEvent,
    UnitReturn,
)
from inventory.services import (
    PHOTO_NOT_IMAGE,
    PHOTO_TOO_BIG,
    PHOTO_TOO_MANY,
    RETURN_ALREADY_OPEN,
    RETURN_AT_OUR_SITE,
    RETURN_DECIDE_NOT_ALLOWED,
    RETURN_IN_FUTURE,
    RETURN_INSTALLED,
    RETURN_NO_CUSTOMER,
    RETURN_NOT_IN_REPAIR,
    RETURN_NOT_OPEN,
    RETURN_PHOTO_LIMIT,
    RETURN_REPLACEMENT_REQUIRED,
    RETURN_SITE_NOT_OURS,
    RETURN_UNKNOWN_DECISION,
    RETURN_UNKNOWN_OUTCOME,
    unit_return_complete_repair,
    unit_return_decide,
    unit_return_register,
)

from .factories import (
    CustomerUnitFactory,
    PartyFactory,
    SerialUnitFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def image_upload(name="front.jpg", kind="JPEG", size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=kind)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def site(db):
    return SiteFactory(name="Returns Desk")


@pytest.fixture
def unit(db):
    return CustomerUnitFactory(holder_party=PartyFactory(name="Acme Stores"))


def register(unit, site, user, **kwargs):
    kwargs.setdefault("reason", UnitReturn.Reason.DEFECTIVE)
    kwargs.setdefault("condition", UnitReturn.Condition.DEFECTIVE)
    return unit_return_register(serial_unit=unit, site=site, acting_user=user, **kwargs)


def refused(call) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.messages


# --- registering ------------------------------------------------------------------------------


def test_a_registered_return_gets_the_next_rma_number(unit, site, staff):
    first = register(unit, site, staff)
    second = register(CustomerUnitFactory(), site, staff)
    year = timezone.localdate().year
    assert (first.number, second.number) == (f"RMA-{year}-0001", f"RMA-{year}-0002")


def test_a_registered_unit_is_returned_and_held_at_our_site(unit, site, staff):
    register(unit, site, staff)
    unit.refresh_from_db()
    assert (unit.status, unit.holder_site, unit.holder_party) == (
        SerialUnit.Status.RETURNED,
        site,
        None,
    )


def test_registering_records_a_return_event_from_the_customer_under_the_rma(unit, site, staff):
    unit_return = register(unit, site, staff)
    event = unit_return.receive_event
    assert (
        event.event_type,
        event.source_party.name,
        event.destination_site,
        event.document_type,
        event.document_number,
        list(event.lines.values_list("item_id", flat=True)),
    ) == (
        TraceEvent.Type.RETURN,
        "Acme Stores",
        site,
        TraceEvent.DocumentType.RETURN_AUTHORISATION,
        unit_return.number,
        [unit.pk],
    )


def test_registering_keeps_who_and_why_in_the_status_history(unit, site, staff):
    unit_return = register(unit, site, staff)
    change = StatusChange.objects.get(item_id=unit.pk)
    assert (change.from_status, change.to_status, change.changed_by, change.event) == (
        SerialUnit.Status.SHIPPED,
        SerialUnit.Status.RETURNED,
        staff,
        unit_return.receive_event,
    )
    assert unit_return.number in change.reason


def test_the_customer_defaults_to_the_units_holder(unit, site, staff):
    assert register(unit, site, staff).customer.name == "Acme Stores"


def test_a_named_customer_is_kept(unit, site, staff):
    other = PartyFactory(name="End User Ltd")
    assert register(unit, site, staff, customer=other).customer == other


def test_a_unit_at_one_of_our_sites_cannot_be_returned(site, staff):
    unit = SerialUnitFactory(holder_site=SiteFactory(name="Main Plant"))
    assert refused(lambda: register(unit, site, staff)) == [
        RETURN_AT_OUR_SITE % {"unit": unit, "site": "Main Plant"}
    ]
    assert not UnitReturn.objects.exists()


def test_an_installed_part_cannot_be_returned_on_its_own(site, staff):
    assembly = CustomerUnitFactory()
    part = CustomerUnitFactory(holder_party=None, installed_in=assembly)
    assert refused(lambda: register(part, site, staff)) == [
        RETURN_INSTALLED % {"unit": part, "assembly": assembly}
    ]


def test_a_unit_with_an_open_return_cannot_be_returned_again(unit, site, staff):
    first = register(unit, site, staff)
    SerialUnit.objects.filter(pk=unit.pk).update(holder_site=None, holder_party=first.customer)
    assert refused(lambda: register(unit, site, staff)) == [
        RETURN_ALREADY_OPEN % {"unit": unit, "number": first.number}
    ]


def test_the_database_refuses_a_second_open_return_with_a_sentence(unit, site, staff):
    first = register(unit, site, staff)
    second = UnitReturn(
        number="RMA-X",
        serial_unit=unit,
        site=site,
        received_at=timezone.now(),
        reason=UnitReturn.Reason.OTHER,
        condition=UnitReturn.Condition.UNKNOWN,
        receive_event=TraceEvent.objects.create(
            event_type=TraceEvent.Type.RETURN, occurred_at=timezone.now()
        ),
        registered_by=staff,
    )
    with pytest.raises(ValidationError) as caught:
        second.full_clean()
    assert "This unit already has an open return." in caught.value.messages
    assert first.status == UnitReturn.Status.OPEN


def test_a_return_is_received_only_at_one_of_our_sites(unit, staff):
    theirs = SiteFactory(name="Acme Depot", party=PartyFactory(name="Acme Stores Inc"))
    assert refused(lambda: register(unit, theirs, staff)) == [
        RETURN_SITE_NOT_OURS % {"site": "Acme Depot", "owner": "Acme Stores Inc"}
    ]


def test_a_return_cannot_be_received_in_the_future(unit, site, staff):
    later = timezone.now() + timedelta(days=1)
    assert refused(lambda: register(unit, site, staff, received_at=later)) == [RETURN_IN_FUTURE]


def test_a_refused_return_writes_nothing(site, staff):
    unit = SerialUnitFactory()
    refused(lambda: register(unit, site, staff))
    assert (UnitReturn.objects.count(), TraceEvent.objects.count()) == (0, 0)


# --- photos -----------------------------------------------------------------------------------


def test_photos_are_kept_with_the_return_under_names_of_our_own(unit, site, staff, media):
    unit_return = register(
        unit, site, staff, photos=[image_upload("box.jpg"), image_upload("x.png", "PNG")]
    )
    photos = list(unit_return.photos.order_by("pk"))
    assert [photo.image.name.rsplit(".", 1)[1] for photo in photos] == ["jpg", "png"]
    assert all("box" not in photo.image.name for photo in photos)
    assert all((media / photo.image.name).exists() for photo in photos)


def test_a_webp_photo_is_accepted(unit, site, staff):
    unit_return = register(unit, site, staff, photos=[image_upload("a.webp", "WEBP")])
    assert unit_return.photos.get().image.name.endswith(".webp")


def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(unit, site, staff):
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.7 not a photo", content_type="image/jpeg")
    assert refused(lambda: register(unit, site, staff, photos=[fake])) == [
        PHOTO_NOT_IMAGE % {"name": "photo.jpg"}
    ]
    assert (UnitReturn.objects.count(), ReturnPhoto.objects.count()) == (0, 0)


def test_an_image_of_another_format_is_refused(unit, site, staff):
    gif = image_upload("anim.gif", "GIF")
    assert refused(lambda: register(unit, site, staff, photos=[gif])) == [
        PHOTO_NOT_IMAGE % {"name": "anim.gif"}
    ]


def test_too_big_a_photo_is_refused(unit, site, staff, monkeypatch):
    monkeypatch.setattr("inventory.services.RETURN_PHOTO_MAX_SIZE", 100)
    photo = image_upload("big.jpg", size=(300, 300))
    (message,) = refused(lambda: register(unit, site, staff, photos=[photo]))
    assert message == PHOTO_TOO_BIG % {
        "name": "big.jpg",
        "size": filesizeformat(photo.size),
        "limit": filesizeformat(100),
    }


def test_too_many_photos_are_refused(unit, site, staff):
    photos = [image_upload(f"{n}.jpg") for n in range(RETURN_PHOTO_LIMIT + 1)]
    assert refused(lambda: register(unit, site, staff, photos=photos)) == [
        PHOTO_TOO_MANY % {"limit": RETURN_PHOTO_LIMIT, "count": RETURN_PHOTO_LIMIT + 1}
    ]


# --- deciding ---------------------------------------------------------------------------------


@pytest.fixture
def returned(unit, site, staff):
    return register(unit, site, staff)


def decide(unit_return, user, decision, **kwargs):
    return unit_return_decide(
        unit_return=unit_return, decision=decision, acting_user=user, **kwargs
    )


def test_restocking_puts_the_unit_back_in_stock_and_closes_the_return(returned, manager):
    decided = decide(returned, manager, UnitReturn.Decision.RESTOCK, notes="Tested, no fault.")
    unit = SerialUnit.objects.get(pk=returned.serial_unit_id)
    assert (decided.status, decided.outcome, decided.decided_by, unit.status) == (
        UnitReturn.Status.CLOSED,
        UnitReturn.Outcome.RESTOCKED,
        manager,
        SerialUnit.Status.IN_STOCK,
    )
    change = StatusChange.objects.filter(item_id=unit.pk).latest("pk")
    assert change.reason == f"Back in stock after return {returned.number}. Tested, no fault."
    assert change.event.event_type == TraceEvent.Type.STATUS_CHANGE


def test_repair_puts_the_unit_and_the_return_in_repair(returned, manager):
    decided = decide(returned, manager, UnitReturn.Decision.REPAIR)
    unit = SerialUnit.objects.get(pk=returned.serial_unit_id)
    assert (decided.status, decided.outcome, unit.status) == (
        UnitReturn.Status.IN_REPAIR,
        "",
        SerialUnit.Status.IN_REPAIR,
    )
    assert StatusChange.objects.filter(item_id=unit.pk).latest("pk").reason == (
        f"Sent to repair under return {returned.number}."
    )


def test_replacing_ships_a_replacement_and_quarantines_the_returned_unit(returned, manager):
    spare = SerialUnitFactory(product=returned.serial_unit.product)
    decided = decide(returned, manager, UnitReturn.Decision.REPLACE, replacement=spare)
    spare.refresh_from_db()
    faulty = SerialUnit.objects.get(pk=returned.serial_unit_id)
    assert (decided.status, decided.outcome, decided.replacement) == (
        UnitReturn.Status.CLOSED,
        UnitReturn.Outcome.REPLACED,
        spare,
    )
    assert (spare.status, spare.holder_party, spare.replaces) == (
        SerialUnit.Status.SHIPPED,
        returned.customer,
        faulty,
    )
    assert faulty.status == SerialUnit.Status.QUARANTINED
    shipment = TraceEvent.objects.get(event_type=TraceEvent.Type.SHIP)
    assert shipment.document_number == returned.number
    reason = StatusChange.objects.filter(item_id=faulty.pk).latest("pk").reason
    assert reason == (
        f"Replaced under return {returned.number}; it awaits inspection before it can be sold "
        "again."
    )


def test_a_replacement_needs_the_replacement_unit(returned, manager):
    assert refused(lambda: decide(returned, manager, UnitReturn.Decision.REPLACE)) == [
        RETURN_REPLACEMENT_REQUIRED
    ]


def test_scrapping_records_a_scrap_event_and_scraps_the_unit(returned, manager):
    decided = decide(returned, manager, UnitReturn.Decision.SCRAP)
    unit = SerialUnit.objects.get(pk=returned.serial_unit_id)
    scrap = TraceEvent.objects.get(event_type=TraceEvent.Type.SCRAP)
    assert (decided.status, decided.outcome, unit.status) == (
        UnitReturn.Status.CLOSED,
        UnitReturn.Outcome.SCRAPPED,
        SerialUnit.Status.SCRAPPED,
    )
    assert (scrap.document_number, list(scrap.lines.values_list("item_id", flat=True))) == (
        returned.number,
        [unit.pk],
    )
    assert StatusChange.objects.filter(item_id=unit.pk).latest("pk").event == scrap


def test_staff_cannot_decide(returned, staff):
    assert refused(lambda: decide(returned, staff, UnitReturn.Decision.RESTOCK)) == [
        RETURN_DECIDE_NOT_ALLOWED
    ]
    returned.refresh_from_db()
    assert returned.status == UnitReturn.Status.OPEN


def test_a_decided_return_cannot_be_decided_again(returned, manager):
    decide(returned, manager, UnitReturn.Decision.REPAIR)
    assert refused(lambda: decide(returned, manager, UnitReturn.Decision.SCRAP)) == [
        RETURN_NOT_OPEN % {"number": returned.number, "decision": "repair"}
    ]


def test_an_unknown_decision_is_refused(returned, manager):
    assert refused(lambda: decide(returned, manager, "sell")) == [RETURN_UNKNOWN_DECISION]


def test_a_refused_replacement_changes_nothing(returned, manager):
    busy = CustomerUnitFactory(product=returned.serial_unit.product)
    refused(lambda: decide(returned, manager, UnitReturn.Decision.REPLACE, replacement=busy))
    returned.refresh_from_db()
    unit = SerialUnit.objects.get(pk=returned.serial_unit_id)
    assert (returned.status, unit.status) == (UnitReturn.Status.OPEN, SerialUnit.Status.RETURNED)


# --- completing a repair ----------------------------------------------------------------------


@pytest.fixture
def in_repair(returned, manager):
    return decide(returned, manager, UnitReturn.Decision.REPAIR)


def complete(unit_return, user, outcome, **kwargs):
    return unit_return_complete_repair(
        unit_return=unit_return, outcome=outcome, acting_user=user, **kwargs
    )


def test_a_repaired_unit_goes_back_to_stock(in_repair, manager):
    closed = complete(in_repair, manager, UnitReturn.Outcome.RESTOCKED)
    unit = SerialUnit.objects.get(pk=in_repair.serial_unit_id)
    assert (closed.status, closed.outcome, unit.status) == (
        UnitReturn.Status.CLOSED,
        UnitReturn.Outcome.RESTOCKED,
        SerialUnit.Status.IN_STOCK,
    )


def test_a_repaired_unit_is_sent_back_to_the_customer_under_the_rma(in_repair, manager):
    closed = complete(in_repair, manager, UnitReturn.Outcome.SENT_BACK)
    unit = SerialUnit.objects.get(pk=in_repair.serial_unit_id)
    shipment = TraceEvent.objects.get(event_type=TraceEvent.Type.SHIP)
    assert (closed.status, closed.outcome) == (
        UnitReturn.Status.CLOSED,
        UnitReturn.Outcome.SENT_BACK,
    )
    assert (unit.status, unit.holder_party, unit.holder_site) == (
        SerialUnit.Status.SHIPPED,
        in_repair.customer,
        None,
    )
    assert (shipment.destination_party, shipment.document_number) == (
        in_repair.customer,
        in_repair.number,
    )


def test_a_unit_without_a_customer_cannot_be_sent_back(in_repair, manager):
    UnitReturn.objects.filter(pk=in_repair.pk).update(customer=None)
    in_repair.refresh_from_db()
    assert refused(lambda: complete(in_repair, manager, UnitReturn.Outcome.SENT_BACK)) == [
        RETURN_NO_CUSTOMER % {"number": in_repair.number}
    ]


def test_only_a_return_in_repair_can_be_completed(returned, manager):
    assert refused(lambda: complete(returned, manager, UnitReturn.Outcome.RESTOCKED)) == [
        RETURN_NOT_IN_REPAIR % {"number": returned.number}
    ]


def test_a_repair_ends_in_stock_or_with_the_customer(in_repair, manager):
    assert refused(lambda: complete(in_repair, manager, UnitReturn.Outcome.SCRAPPED)) == [
        RETURN_UNKNOWN_OUTCOME
    ]


def test_staff_cannot_complete_a_repair(in_repair, staff):
    assert refused(lambda: complete(in_repair, staff, UnitReturn.Outcome.RESTOCKED)) == [
        RETURN_DECIDE_NOT_ALLOWED
    ]


def test_a_user_given_the_permission_may_decide(returned, staff):
    staff.user_permissions.add(Permission.objects.get(codename="decide_unitreturn"))
    staff = type(staff).objects.get(pk=staff.pk)  # permissions are cached per user object
    assert decide(returned, staff, UnitReturn.Decision.RESTOCK).status == UnitReturn.Status.CLOSED


# --- two managers at once ---------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the return's row lock is PostgreSQL's; SQLite lets one writer in at a time anyway",
)
@pytest.mark.django_db(transaction=True)
def test_two_managers_deciding_at_once_decide_once():
    import threading

    from django.db import connections

    from .factories import UserFactory

    deciders = [UserFactory(username=f"decider{n}") for n in range(2)]
    for user in deciders:
        user.user_permissions.add(Permission.objects.get(codename="decide_unitreturn"))
    unit_return = register(CustomerUnitFactory(), SiteFactory(), deciders[0])
    start, results = threading.Barrier(2), []

    def run(user, decision):
        user = type(user).objects.get(pk=user.pk)
        start.wait()
        try:
            decide(UnitReturn.objects.get(pk=unit_return.pk), user, decision)
            results.append(decision)
        except ValidationError as exc:
            results.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(user, decision))
        for user, decision in zip(deciders, ["restock", "scrap"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    unit_return.refresh_from_db()
    winner = unit_return.decision
    assert sorted(results) == sorted(
        [winner, RETURN_NOT_OPEN % {"number": unit_return.number, "decision": winner}]
    )
    assert (
        TraceEvent.objects.filter(
            event_type__in=[TraceEvent.Type.STATUS_CHANGE, TraceEvent.Type.SCRAP]
        ).count()
        == 1
    )
