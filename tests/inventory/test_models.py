import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from inventory import services
from inventory.identifiers import add_months
from inventory.models import (
    EventLine,
    Genealogy,
    ImmutableRecordError,
    Lot,
    Party,
    Product,
    SerialUnit,
    Site,
    StatusChange,
    TraceEvent,
)

from .factories import (
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    TraceEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _full_clean_errors(obj) -> dict:
    with pytest.raises(ValidationError) as exc_info:
        obj.full_clean()
    return exc_info.value.message_dict


# --- Uniqueness -------------------------------------------------------------------------------


def test_lot_code_is_unique_per_product():
    lot = LotFactory(code="L-2041")
    duplicate = Lot(product=lot.product, code="L-2041", quantity=Decimal("5"))

    assert _full_clean_errors(duplicate) == {
        NON_FIELD_ERRORS: ["This product already has a lot with this code."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.create(product=lot.product, code="L-2041", quantity=Decimal("5"))


def test_the_same_lot_code_on_another_product_is_allowed():
    LotFactory(code="L-2041")
    other = Lot(product=ProductFactory(), code="L-2041", quantity=Decimal("5"))

    other.full_clean()
    other.save()

    assert Lot.objects.filter(code="L-2041").count() == 2


def test_serial_is_unique_per_product():
    unit = SerialUnitFactory(serial="SN-1")
    duplicate = SerialUnit(product=unit.product, serial="SN-1")

    assert _full_clean_errors(duplicate) == {
        NON_FIELD_ERRORS: ["This product already has a unit with this serial."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        SerialUnit.objects.create(product=unit.product, serial="SN-1")


def test_the_same_serial_on_another_product_is_allowed():
    SerialUnitFactory(serial="SN-1")
    other = SerialUnit(product=SerialProductFactory(), serial="SN-1")

    other.full_clean()
    other.save()

    assert SerialUnit.objects.filter(serial="SN-1").count() == 2


# --- GS1 identifiers --------------------------------------------------------------------------


def test_a_gtin_is_stored_as_14_digits():
    short = Product(sku="GTIN8", name="Short GTIN", gtin="96385074")

    with pytest.raises(ValidationError) as exc_info:
        short.validate_constraints()
    assert exc_info.value.messages == ["A GTIN is stored as 14 digits."]
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(sku="GTIN8", name="Short GTIN", gtin="96385074")


@pytest.mark.parametrize(
    ("entered", "stored"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("614141000036", "00614141000036"),  # GTIN-12 (UPC-A)
        ("5901234123457", "05901234123457"),  # GTIN-13 (EAN-13)
        ("09501101020917", "09501101020917"),  # GTIN-14 stays as it is
    ],
)
def test_full_clean_normalises_a_gtin_to_14_digits(entered, stored):
    product = Product(sku="P-1", name="Product", gtin=entered)

    product.full_clean()
    product.save()

    product.refresh_from_db()
    assert product.gtin == stored


def test_a_gtin_with_a_wrong_check_digit_is_refused():
    product = Product(sku="P-1", name="Product", gtin="09501101020918")

    assert _full_clean_errors(product) == {
        "gtin": ["GTIN 09501101020918 has a wrong check digit (expected 7)."]
    }


def test_a_gtin_with_letters_is_refused():
    product = Product(sku="P-1", name="Product", gtin="0950110102091X")

    assert _full_clean_errors(product) == {
        "gtin": ["GTIN 0950110102091X must contain only digits."]
    }


def test_a_gln_with_a_wrong_check_digit_is_refused():
    party = Party(name="Green Valley Farms", gln="5901234123458")

    assert _full_clean_errors(party) == {
        "gln": ["GLN 5901234123458 has a wrong check digit (expected 7)."]
    }


def test_a_site_gln_must_have_13_digits():
    site = Site(code="farm", name="Farm", party=PartyFactory(), gln="590123412345")

    assert _full_clean_errors(site) == {"gln": ["GLN 590123412345 must be 13 digits."]}


def test_a_valid_gln_is_accepted():
    party = Party(name="Green Valley Farms", gln="5901234123457")

    party.full_clean()


# --- Lots -------------------------------------------------------------------------------------


def test_a_lot_cannot_expire_before_it_was_produced():
    product = ProductFactory()
    lot = Lot(
        product=product,
        code="L-1",
        quantity=Decimal("5"),
        produced_on=date(2026, 3, 10),
        expires_on=date(2026, 3, 9),
    )

    assert _full_clean_errors(lot) == {
        NON_FIELD_ERRORS: ["A lot cannot expire before it was produced."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        lot.save()


def test_a_lot_quantity_cannot_be_negative():
    lot = Lot(product=ProductFactory(), code="L-1", quantity=Decimal("-1"))

    assert _full_clean_errors(lot) == {
        "quantity": ["Ensure this value is greater than or equal to 0."]
    }
    with pytest.raises(ValidationError) as exc_info:
        lot.validate_constraints()
    assert exc_info.value.messages == ["A lot's quantity cannot be negative."]
    with pytest.raises(IntegrityError), transaction.atomic():
        lot.save()


def test_a_lot_expiry_follows_from_the_product_shelf_life():
    lot = Lot(
        product=ProductFactory(shelf_life_days=90),
        code="L-1",
        quantity=Decimal("5"),
        produced_on=date(2026, 3, 1),
    )

    lot.full_clean()

    assert lot.expires_on == date(2026, 5, 30)


def test_an_expiry_date_entered_by_hand_is_kept():
    lot = Lot(
        product=ProductFactory(shelf_life_days=90),
        code="L-1",
        quantity=Decimal("5"),
        produced_on=date(2026, 3, 1),
        expires_on=date(2026, 4, 1),
    )

    lot.full_clean()

    assert lot.expires_on == date(2026, 4, 1)


# --- Serial units -----------------------------------------------------------------------------


def test_a_unit_is_held_at_a_site_or_by_a_party_not_both():
    unit = SerialUnit(
        product=SerialProductFactory(),
        serial="SN-1",
        holder_site=SiteFactory(),
        holder_party=PartyFactory(),
    )

    assert _full_clean_errors(unit) == {
        NON_FIELD_ERRORS: ["A unit is held either at one of our sites or by a party."]
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        unit.save()


def test_a_unit_cannot_be_installed_in_itself():
    unit = SerialUnitFactory()
    unit.installed_in = unit

    assert _full_clean_errors(unit) == {NON_FIELD_ERRORS: ["A unit cannot be installed in itself."]}
    with pytest.raises(IntegrityError), transaction.atomic():
        unit.save()


def test_a_unit_warranty_ends_its_warranty_months_after_the_ship_date():
    unit = SerialUnit(
        product=SerialProductFactory(warranty_months=24),
        serial="SN-1",
        shipped_on=date(2026, 4, 15),
    )

    unit.full_clean()

    assert unit.warranty_ends_on == date(2028, 4, 15)


def test_a_warranty_end_set_by_hand_is_kept():
    unit = SerialUnit(
        product=SerialProductFactory(warranty_months=24),
        serial="SN-1",
        shipped_on=date(2026, 4, 15),
        warranty_ends_on=date(2029, 1, 1),
        warranty_overridden=True,
    )

    unit.full_clean()

    assert unit.warranty_ends_on == date(2029, 1, 1)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 1, 15), 12, date(2027, 1, 15)),
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(start, months, end):
    assert add_months(start, months) == end


# --- Genealogy --------------------------------------------------------------------------------


def test_an_item_cannot_go_into_itself():
    item = LotFactory().item
    link = Genealogy(parent=item, child=item, event=TraceEventFactory())

    assert _full_clean_errors(link) == {NON_FIELD_ERRORS: ["An item cannot go into itself."]}
    with pytest.raises(IntegrityError), transaction.atomic():
        link.save()


# --- Protection of rows that history depends on -----------------------------------------------


def test_a_product_with_lots_cannot_be_deleted():
    lot = LotFactory()

    with pytest.raises(ProtectedError):
        lot.product.delete()

    assert Product.objects.filter(pk=lot.product.pk).exists()


def test_a_lot_with_events_cannot_be_deleted():
    lot = services.lot_create(
        product=ProductFactory(), code="L-1", quantity=Decimal("5"), acting_user=UserFactory()
    )

    with pytest.raises(ProtectedError):
        lot.delete()

    assert Lot.objects.filter(pk=lot.pk).exists()


# --- Append-only records ----------------------------------------------------------------------


@pytest.fixture
def audit_records():
    """One real record of each append-only model, written by the services."""
    user = UserFactory()
    flour = services.lot_create(
        product=ProductFactory(), code="FLOUR-1", quantity=Decimal("50"), acting_user=user
    )
    bread = services.lot_create(
        product=ProductFactory(),
        code="BREAD-1",
        quantity=Decimal("80"),
        inputs=[services.Line(flour, Decimal("40"))],
        acting_user=user,
    )
    services.lot_quarantine(lot=bread, reason="Metal found in line 2.", acting_user=user)
    return {
        TraceEvent: TraceEvent.objects.order_by("pk").first(),
        EventLine: EventLine.objects.order_by("pk").first(),
        Genealogy: Genealogy.objects.get(),
        StatusChange: StatusChange.objects.get(),
    }


APPEND_ONLY = [TraceEvent, EventLine, Genealogy, StatusChange]


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_an_audit_record_cannot_be_saved_again(audit_records, model):
    record = audit_records[model]
    message = (
        f"{model._meta.verbose_name} {record.pk} is part of the audit trail and cannot be "
        "changed; record a correcting event instead."
    )

    with pytest.raises(ImmutableRecordError, match=re.escape(message)):
        record.save()


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_an_audit_record_cannot_be_deleted(audit_records, model):
    record = audit_records[model]
    message = (
        f"{model._meta.verbose_name} {record.pk} is part of the audit trail and cannot be deleted."
    )

    with pytest.raises(ImmutableRecordError, match=re.escape(message)):
        record.delete()

    assert model.objects.filter(pk=record.pk).exists()


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_audit_records_cannot_be_changed_in_bulk(audit_records, model):
    message = f"{model._meta.verbose_name_plural} cannot be changed."

    with pytest.raises(ImmutableRecordError, match=re.escape(message)):
        model.objects.all().update(pk=0)


@pytest.mark.parametrize("model", APPEND_ONLY, ids=lambda m: m.__name__)
def test_audit_records_cannot_be_deleted_in_bulk(audit_records, model):
    count = model.objects.count()
    message = f"{model._meta.verbose_name_plural} cannot be deleted."

    with pytest.raises(ImmutableRecordError, match=re.escape(message)):
        model.objects.filter(pk__gt=0).delete()

    assert model.objects.count() == count
