"""factory_boy factories for inventory; objects are made directly, not through services."""

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory.models import (
    EventLine,
    Genealogy,
    Lot,
    Party,
    Product,
    SerialUnit,
    ServiceRecord,
    Site,
    TraceEvent,
    Unit,
    WarrantyClaim,
)


def _gtin14(n: int) -> str:
    body = f"0950110{n:06d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class PartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    name = factory.Sequence(lambda n: f"Party {n}")
    is_customer = True
    contact_name = "Pat Contact"
    email = factory.Sequence(lambda n: f"recalls{n}@example.com")
    phone = "+1 555 0100"
    city = "Springfield"
    country = "US"


class InternalPartyFactory(PartyFactory):
    name = factory.Sequence(lambda n: f"Our Company {n}")
    is_internal = True
    is_customer = False


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.Sequence(lambda n: f"Site {n}")
    kind = Site.Kind.PLANT
    party = factory.SubFactory(InternalPartyFactory)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    gtin = factory.Sequence(_gtin14)
    tracking = Product.Tracking.LOT
    unit = Unit.KILOGRAM
    shelf_life_days = 90


class SerialProductFactory(ProductFactory):
    tracking = Product.Tracking.SERIAL
    unit = Unit.EACH
    shelf_life_days = None
    warranty_months = 24


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lot

    product = factory.SubFactory(ProductFactory)
    code = factory.Sequence(lambda n: f"L{n:06d}")
    produced_on = date(2026, 3, 1)
    expires_on = factory.LazyAttribute(lambda lot: lot.product.expiry_for(lot.produced_on))
    quantity = Decimal("100")
    unit = factory.LazyAttribute(lambda lot: lot.product.unit)
    status = Lot.Status.RELEASED
    site = factory.SubFactory(SiteFactory)


class SerialUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SerialUnit
        skip_postgeneration_save = True

    product = factory.SubFactory(SerialProductFactory)
    serial = factory.Sequence(lambda n: f"SN{n:08d}")
    produced_on = date(2026, 3, 1)
    status = SerialUnit.Status.IN_STOCK
    holder_site = factory.SubFactory(SiteFactory)

    @factory.post_generation
    def production_lot_link(unit, create, extracted, **kwargs):
        """As serial_unit_create does: a unit built in a lot is linked to it in the genealogy."""
        if create and unit.lot_id is not None:
            Genealogy.objects.create(
                parent_id=unit.lot_id,
                child_id=unit.pk,
                kind=Genealogy.Kind.PRODUCTION_LOT,
                event=TraceEvent.objects.create(
                    event_type=TraceEvent.Type.PRODUCE, occurred_at=timezone.now()
                ),
            )


class TraceEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TraceEvent

    event_type = TraceEvent.Type.PRODUCE
    occurred_at = factory.LazyFunction(timezone.now)


class EventLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventLine

    event = factory.SubFactory(TraceEventFactory)
    item = factory.LazyFunction(lambda: LotFactory().item)
    role = EventLine.Role.SUBJECT


class GenealogyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Genealogy

    parent = factory.LazyFunction(lambda: LotFactory().item)
    child = factory.LazyFunction(lambda: LotFactory().item)
    event = factory.SubFactory(TraceEventFactory, event_type=TraceEvent.Type.TRANSFORM)


class ServiceRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceRecord

    serial_unit = factory.SubFactory(SerialUnitFactory)
    kind = ServiceRecord.Kind.REPAIR
    performed_on = date(2026, 6, 1)
    description = "Replaced the charging port."
    technician = "Sam Tech"


# --- Warranty claims ---


class WarrantyClaimFactory(factory.django.DjangoModelFactory):
    """An open claim, made directly; the services number and check real ones."""

    class Meta:
        model = WarrantyClaim

    number = factory.Sequence(lambda n: f"WC-2026-{n + 9000:04d}")
    serial_unit = factory.SubFactory(SerialUnitFactory)
    fault = "Does not power on."
    reported_on = date(2026, 6, 1)
    opened_by = factory.SubFactory(UserFactory)


# --- Returns (RMA) ----------------------------------------------------------------------------


class CustomerUnitFactory(SerialUnitFactory):
    """A unit shipped to a customer, who holds it: what can come back as a return."""

    status = SerialUnit.Status.SHIPPED
    holder_site = None
    holder_party = factory.SubFactory(PartyFactory)
    shipped_on = date(2026, 4, 1)
