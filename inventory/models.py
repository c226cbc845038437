"""What exists: products, lots, serial units, parties, sites, trace events and genealogy.

Every lot and every serial unit is also a node (`Item`) of one traceability graph and shares
its primary key with it, so genealogy, event lines and (later) recalls point at one table and
a trace is one recursive query over integer keys, whatever mix of lots and units it crosses.
"""

import contextlib
import functools
import operator
import uuid
from datetime import timedelta
from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .identifiers import add_months, normalize_gtin, validate_gln, validate_gtin


def gs1_characters(what):
    """Lot codes and serials use GS1's character set 82, so they fit in barcodes and URIs."""
    return RegexValidator(
        r"^[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$",
        _("%(what)s may hold letters, digits and GS1 punctuation, without spaces.")
        % {"what": what},
    )


class Unit(models.TextChoices):
    """Units of measure (UN/CEFACT codes, as EPCIS quantity elements use them)."""

    EACH = "EA", _("each")
    KILOGRAM = "KGM", _("kg")
    GRAM = "GRM", _("g")
    TONNE = "TNE", _("t")
    LITRE = "LTR", _("l")
    MILLILITRE = "MLT", _("ml")
    CASE = "CS", _("case")
    PALLET = "PX", _("pallet")


class ImmutableQuerySet(models.QuerySet):
    """Refuse bulk changes: the records behind this queryset are evidence."""

    def update(self, **kwargs):
        raise ImmutableRecordError(f"{self.model._meta.verbose_name_plural} cannot be changed.")

    def delete(self):
        raise ImmutableRecordError(f"{self.model._meta.verbose_name_plural} cannot be deleted.")


class ImmutableRecordError(Exception):
    """An append-only record was about to be changed or deleted."""


# On PostgreSQL the database itself refuses to change or delete an append-only record, whoever
# asks (a raw query, a script, a console): the evidence does not depend on the application.
APPEND_ONLY_TRIGGERS = [
    pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
]


class AppendOnlyModel(models.Model):
    """A record that is written once and never changed: corrections are new records."""

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRecordError(
                f"{self._meta.verbose_name} {self.pk} is part of the audit trail and cannot be "
                "changed; record a correcting event instead."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecordError(
            f"{self._meta.verbose_name} {self.pk} is part of the audit trail and cannot be deleted."
        )


class Address(models.Model):
    """Postal address and telephone, as recall notices and FSMA 204 location descriptions need."""

    street = models.CharField(_("street"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    region = models.CharField(_("state or region"), max_length=100, blank=True)
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        validators=[
            RegexValidator(r"^[A-Z]{2}$", _("Use the two-letter ISO country code, e.g. US."))
        ],
        help_text=_("Two-letter ISO 3166 code."),
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True)

    class Meta:
        abstract = True

    @property
    def address(self):
        locality = " ".join(part for part in (self.postal_code, self.city) if part)
        parts = (self.street, locality, self.region, self.country)
        return ", ".join(part for part in parts if part)


class Party(Address):
    """A company we deal with, or ourselves: supplier, customer (consignee), carrier."""

    name = models.CharField(_("name"), max_length=200)
    gln = models.CharField(
        _("GLN"),
        max_length=13,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_gln],
        help_text=_("GS1 Global Location Number of the party (13 digits), when known."),
    )
    is_internal = models.BooleanField(
        _("our own company"), default=False, help_text=_("Sites of internal parties are ours.")
    )
    is_supplier = models.BooleanField(_("supplier"), default=False)
    is_customer = models.BooleanField(_("customer"), default=False)
    is_carrier = models.BooleanField(_("carrier"), default=False)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"), blank=True, help_text=_("Where recall notices go."))
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_("Created automatically (e.g. from an EPCIS import); check its details."),
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        indexes = [models.Index(fields=["name"], name="party_name_idx")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("admin:inventory_party_change", args=[self.pk])


class Site(Address):
    """A physical location: our plants and warehouses, and the locations of our trading partners."""

    class Kind(models.TextChoices):
        PLANT = "plant", _("plant")
        WAREHOUSE = "warehouse", _("warehouse")
        DISTRIBUTION_CENTER = "dc", _("distribution centre")
        STORE = "store", _("store")
        FARM = "farm", _("farm")
        SERVICE_CENTER = "service", _("service centre")
        OTHER = "other", _("other")

    code = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("Short unique code, e.g. GVF-PLANT.")
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.WAREHOUSE)
    party = models.ForeignKey(
        Party,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="sites",
        help_text=_("The company that operates this site."),
    )
    gln = models.CharField(
        _("GLN"),
        max_length=13,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_gln],
        help_text=_("GS1 Global Location Number of the site (13 digits), when known."),
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("admin:inventory_site_change", args=[self.pk])

    @property
    def location_description(self):
        """Name, address and phone: the FSMA 204 location description."""
        parts = [self.name, self.address, self.phone]
        return "; ".join(part for part in parts if part)


class Product(models.Model):
    """A trade item, tracked by lot (batch) or by serial number."""

    class Tracking(models.TextChoices):
        LOT = "lot", _("by lot")
        SERIAL = "serial", _("by serial number")

    sku = models.CharField(
        _("SKU"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^\S+$", _("An SKU cannot contain spaces."))],
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    gtin = models.CharField(
        _("GTIN"),
        max_length=14,
        null=True,
        blank=True,
        unique=True,
        validators=[validate_gtin],
        help_text=_("GTIN-8, -12, -13 or -14; stored as 14 digits."),
    )
    tracking = models.CharField(
        _("tracking"), max_length=10, choices=Tracking.choices, default=Tracking.LOT
    )
    unit = models.CharField(_("unit of measure"), max_length=3, choices=Unit, default=Unit.EACH)
    shelf_life_days = models.PositiveIntegerField(
        _("shelf life (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Sets a new lot's expiry date from its production date."),
    )
    warranty_months = models.PositiveIntegerField(
        _("warranty (months)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Sets a unit's warranty end from its ship date."),
    )
    replacement_keeps_warranty = models.BooleanField(
        _("replacements keep the remaining warranty"),
        default=False,
        help_text=_(
            "A unit sent to replace a faulty one keeps what was left of its warranty; otherwise "
            "its own warranty starts when it is shipped."
        ),
    )
    on_food_traceability_list = models.BooleanField(
        _("on the FDA Food Traceability List"),
        default=False,
        help_text=_("FSMA 204 key data elements are kept for this product."),
    )
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_("Created automatically (e.g. from an EPCIS import); check its details."),
    )
    active = models.BooleanField(_("active"), default=True)
    requires_release = models.BooleanField(
        _("requires release"),
        default=False,
        help_text=_(
            "New lots start quarantined until a quality manager releases them, signed, on "
            "the evidence of the specification's tests."
        ),
    )
    tests_per_unit = models.BooleanField(
        _("tests per serial unit"),
        default=False,
        help_text=_("Each serial unit of a lot is tested, not the lot as a whole."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.CheckConstraint(
                condition=Q(gtin__isnull=True) | Q(gtin__regex=r"^[0-9]{14}$"),
                name="product_gtin_14_digits",
                violation_error_message=_("A GTIN is stored as 14 digits."),
            ),
            models.CheckConstraint(
                condition=Q(shelf_life_days__isnull=True) | Q(shelf_life_days__gt=0),
                name="product_shelf_life_positive",
                violation_error_message=_("Shelf life must be at least one day."),
            ),
            models.CheckConstraint(
                condition=Q(warranty_months__isnull=True) | Q(warranty_months__gt=0),
                name="product_warranty_positive",
                violation_error_message=_("Warranty must be at least one month."),
            ),
        ]

    def __str__(self):
        return f"{self.sku} · {self.name}"

    def get_absolute_url(self):
        return reverse("admin:inventory_product_change", args=[self.pk])

    def clean(self):
        if self.gtin:
            # An invalid GTIN was already reported by the field's validator.
            with contextlib.suppress(ValidationError):
                self.gtin = normalize_gtin(self.gtin)

    def expiry_for(self, produced_on):
        if produced_on is None or self.shelf_life_days is None:
            return None
        return produced_on + timedelta(days=self.shelf_life_days)

    def warranty_end_for(self, start):
        if start is None or self.warranty_months is None:
            return None
        return add_months(start, self.warranty_months)


class Item(models.Model):
    """A node of the traceability graph; each Lot and SerialUnit shares its primary key with one."""

    class Kind(models.TextChoices):
        LOT = "lot", _("lot")
        SERIAL = "serial", _("serial unit")

    kind = models.CharField(_("kind"), max_length=6, choices=Kind.choices)

    class Meta:
        verbose_name = _("traceable item")
        verbose_name_plural = _("traceable items")

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def tracked(self):
        """The Lot or SerialUnit behind this node."""
        return self.lot if self.kind == self.Kind.LOT else self.serialunit


class TrackedItem(models.Model):
    """What lots and serial units share: their graph node, product and history."""

    item = models.OneToOneField(Item, on_delete=models.PROTECT, primary_key=True, editable=False)
    # Unique (product, code) and (product, serial) serve lookups by product; no index of its own.
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, db_index=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    item_kind = None

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        # Every path that creates a lot or unit (services, admin, imports, factories) gets its node.
        if self.item_id is None:
            self.item = Item.objects.create(kind=self.item_kind)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        # The node goes too, so the events, genealogy and status changes that point at it
        # protect the lot or unit: only one recorded by mistake, with no history, can go.
        item = self.item
        try:
            with transaction.atomic():
                result = super().delete(*args, **kwargs)
                item.delete()
        except models.ProtectedError:
            self.item = item  # Django cleared the key of the row it believed deleted
            raise
        return result


class LotStatus(models.TextChoices):
    RELEASED = "released", _("released")
    QUARANTINED = "quarantined", _("quarantined")
    ON_HOLD = "on_hold", _("on hold")
    REJECTED = "rejected", _("rejected")
    RECALLED = "recalled", _("recalled")
    CONSUMED = "consumed", _("consumed")
    DESTROYED = "destroyed", _("destroyed")


class Lot(TrackedItem):
    """A batch of one product made or received together."""

    Status = LotStatus

    # Statuses under which stock must not leave the site.
    BLOCKED_STATUSES = (Status.QUARANTINED, Status.ON_HOLD, Status.REJECTED, Status.RECALLED)
    # Statuses a manager sets by hand; recalls set "recalled" with their campaign.
    MANUAL_STATUSES = (
        Status.RELEASED,
        Status.QUARANTINED,
        Status.ON_HOLD,
        Status.REJECTED,
        Status.CONSUMED,
        Status.DESTROYED,
    )

    code = models.CharField(
        _("lot code"),
        max_length=20,
        validators=[gs1_characters(_("A lot code"))],
        help_text=_("Up to 20 characters (GS1 AI 10)."),
    )
    produced_on = models.DateField(_("production or receipt date"), null=True, blank=True)
    expires_on = models.DateField(
        _("expiry date"),
        null=True,
        blank=True,
        help_text=_("Left empty, it follows from the product's shelf life."),
    )
    supplier = models.ForeignKey(
        Party,
        verbose_name=_("supplier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supplied_lots",
    )
    supplier_lot_code = models.CharField(
        _("supplier's lot code"),
        max_length=64,
        blank=True,
        help_text=_("The lot code on the supplier's label, so their recall notice can be traced."),
    )
    site = models.ForeignKey(
        Site,
        verbose_name=_("site of origin"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lots",
        help_text=_("Where the lot was produced or received."),
    )
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=14,
        decimal_places=3,
        validators=[MinValueValidator(0)],
        help_text=_("Quantity produced or received."),
    )
    unit = models.CharField(_("unit"), max_length=3, choices=Unit, default=Unit.EACH)
    status = models.CharField(
        _("quality status"), max_length=12, choices=Status.choices, default=Status.RELEASED
    )
    history = HistoricalRecords(excluded_fields=["created_at"])

    item_kind = Item.Kind.LOT

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        permissions = [("change_lot_status", _("Can quarantine, hold, release or reject lots"))]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "code"],
                name="lot_unique_code_per_product",
                violation_error_message=_("This product already has a lot with this code."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0),
                name="lot_quantity_not_negative",
                violation_error_message=_("A lot's quantity cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(produced_on__isnull=True)
                | Q(expires_on__gte=F("produced_on")),
                name="lot_expires_after_production",
                violation_error_message=_("A lot cannot expire before it was produced."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=LotStatus.values),
                name="lot_status_valid",
                violation_error_message=_("Unknown lot status."),
            ),
        ]
        indexes = [
            models.Index(fields=["code"], name="lot_code_idx"),
            models.Index(fields=["supplier_lot_code"], name="lot_supplier_code_idx"),
            models.Index(fields=["status"], name="lot_status_idx"),
            models.Index(fields=["expires_on"], name="lot_expires_idx"),
            models.Index(fields=["product", "produced_on"], name="lot_product_produced_idx"),
        ]

    def __str__(self):
        return f"{self.product.sku} lot {self.code}"

    def get_absolute_url(self):
        return reverse("lot_detail", args=[self.pk])

    def clean(self):
        if self.expires_on is None and self.product_id is not None:
            self.expires_on = self.product.expiry_for(self.produced_on)

    @property
    def is_blocked(self):
        return self.status in self.BLOCKED_STATUSES

    def is_expired(self, on=None):
        on = on or timezone.localdate()
        return self.expires_on is not None and self.expires_on < on


class SerialStatus(models.TextChoices):
    IN_STOCK = "in_stock", _("in stock")
    QUARANTINED = "quarantined", _("quarantined")
    ON_HOLD = "on_hold", _("on hold")
    SHIPPED = "shipped", _("shipped")
    IN_SERVICE = "in_service", _("in service")
    INSTALLED = "installed", _("installed")
    RETURNED = "returned", _("returned")
    IN_REPAIR = "in_repair", _("in repair")
    RECALLED = "recalled", _("recalled")
    SCRAPPED = "scrapped", _("scrapped")


class SerialUnit(TrackedItem):
    """One individually numbered unit, followed through its whole life."""

    Status = SerialStatus

    BLOCKED_STATUSES = (Status.QUARANTINED, Status.ON_HOLD, Status.RECALLED, Status.SCRAPPED)
    # Statuses a manager sets by hand; shipping, installing and recalls set the others.
    MANUAL_STATUSES = (
        Status.IN_STOCK,
        Status.QUARANTINED,
        Status.ON_HOLD,
        Status.RETURNED,
        Status.IN_REPAIR,
        Status.SCRAPPED,
    )

    serial = models.CharField(
        _("serial number"),
        max_length=20,
        validators=[gs1_characters(_("A serial"))],
        help_text=_("Up to 20 characters (GS1 AI 21)."),
    )
    lot = models.ForeignKey(
        Lot,
        verbose_name=_("production lot"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="serial_units",
        help_text=_("The lot the unit was built in, when known."),
    )
    produced_on = models.DateField(_("production date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.IN_STOCK
    )
    holder_site = models.ForeignKey(
        Site,
        verbose_name=_("held at site"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="serial_units",
    )
    holder_party = models.ForeignKey(
        Party,
        verbose_name=_("held by party"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="held_serial_units",
        help_text=_("The customer who has the unit, once it left our sites."),
    )
    shipped_on = models.DateField(_("ship date"), null=True, blank=True)
    warranty_ends_on = models.DateField(
        _("warranty end"),
        null=True,
        blank=True,
        help_text=_("Follows from the product's warranty and the ship date unless overridden."),
    )
    warranty_overridden = models.BooleanField(
        _("warranty end set by hand"),
        default=False,
        help_text=_("Keep the warranty end as entered rather than computing it."),
    )
    installed_in = models.ForeignKey(
        "self",
        verbose_name=_("installed in"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="components",
        help_text=_("The assembly this unit is currently installed in."),
    )
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        help_text=_("The faulty unit this one was sent to replace."),
    )
    run = models.ForeignKey(
        "SerialRun",
        verbose_name=_("serial number run"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="units",
    )
    # The audit rows are read by unit (item) and date; an index on each of their foreign keys
    # would only slow down every write, above all runs of 100,000 commissioned units.
    history = HistoricalRecords(
        excluded_fields=["created_at"],
        no_db_index=[
            "product",
            "lot",
            "holder_site",
            "holder_party",
            "installed_in",
            "replaces",
            "run",
        ],
    )

    item_kind = Item.Kind.SERIAL

    class Meta:
        verbose_name = _("serial unit")
        verbose_name_plural = _("serial units")
        permissions = [("change_serialunit_status", _("Can quarantine, hold or release units"))]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "serial"],
                name="serial_unique_per_product",
                violation_error_message=_("This product already has a unit with this serial."),
            ),
            models.CheckConstraint(
                condition=Q(holder_site__isnull=True) | Q(holder_party__isnull=True),
                name="serial_one_holder",
                violation_error_message=_(
                    "A unit is held either at one of our sites or by a party."
                ),
            ),
            models.CheckConstraint(
                condition=Q(replaces__isnull=True) | ~Q(replaces=F("item")),
                name="serial_not_replacing_itself",
                violation_error_message=_("A unit cannot replace itself."),
            ),
            models.CheckConstraint(
                condition=Q(installed_in__isnull=True) | ~Q(installed_in=F("item")),
                name="serial_not_installed_in_itself",
                violation_error_message=_("A unit cannot be installed in itself."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=SerialStatus.values),
                name="serial_status_valid",
                violation_error_message=_("Unknown serial unit status."),
            ),
        ]
        indexes = [
            models.Index(fields=["serial"], name="serial_serial_idx"),
            models.Index(fields=["status"], name="serial_status_idx"),
        ]

    def __str__(self):
        return f"{self.product.sku} serial {self.serial}"

    def get_absolute_url(self):
        return reverse("serial_detail", args=[self.pk])

    def clean(self):
        if not self.warranty_overridden and self.product_id is not None:
            self.warranty_ends_on = self.product.warranty_end_for(self.shipped_on)

    def is_under_warranty(self, on=None):
        on = on or timezone.localdate()
        return self.warranty_ends_on is not None and on <= self.warranty_ends_on


class EventType(models.TextChoices):
    RECEIVE = "receive", _("receive")
    PRODUCE = "produce", _("produce")
    TRANSFORM = "transform", _("transform")
    CONSUME = "consume", _("consume")
    SHIP = "ship", _("ship")
    RETURN = "return", _("return")
    TRANSFER = "transfer", _("transfer")
    ADJUST = "adjust", _("adjust")
    INSPECT = "inspect", _("inspect")
    INSTALL = "install", _("install")
    REMOVE = "remove", _("remove")
    REPAIR = "repair", _("repair")
    SCRAP = "scrap", _("scrap")
    STATUS_CHANGE = "status_change", _("status change")


class FsmaCte(models.TextChoices):
    """FSMA 204 critical tracking events (21 CFR 1.1310); see inventory/fsma.py for the mapping."""

    HARVESTING = "harvesting", _("Harvesting")
    COOLING = "cooling", _("Cooling")
    INITIAL_PACKING = "initial_packing", _("Initial Packing")
    FIRST_LAND_BASED_RECEIVING = "first_land_based_receiving", _("First Land-Based Receiving")
    SHIPPING = "shipping", _("Shipping")
    RECEIVING = "receiving", _("Receiving")
    TRANSFORMATION = "transformation", _("Transformation")
    NONE = "none", _("not a critical tracking event")


class TraceEvent(AppendOnlyModel):
    """A critical tracking event: what happened to which items, when, where and why.

    The shape follows GS1 EPCIS 2.0 (an event type with an action, bizStep, disposition,
    readPoint/bizLocation, source and destination lists, business transactions) so that events
    import and export one-to-one, and carries the FSMA 204 key data elements. Never edited or
    deleted: a correction is a new event that names the one it corrects.
    """

    Type = EventType
    Cte = FsmaCte

    class DocumentType(models.TextChoices):
        """GS1 CBV business transaction types."""

        PURCHASE_ORDER = "po", _("purchase order")
        DESPATCH_ADVICE = "desadv", _("despatch advice")
        RECEIVING_ADVICE = "recadv", _("receiving advice")
        INVOICE = "inv", _("invoice")
        BILL_OF_LADING = "bol", _("bill of lading")
        PRODUCTION_ORDER = "prodorder", _("production order")
        RETURN_AUTHORISATION = "rma", _("return merchandise authorisation")
        CERTIFICATE = "cert", _("certificate")
        OTHER = "other", _("other")

    event_id = models.CharField(
        _("event ID"),
        max_length=255,
        unique=True,
        default="",
        help_text=_("EPCIS eventID; a urn:uuid is assigned when none is given."),
    )
    event_type = models.CharField(_("event type"), max_length=20, choices=Type.choices)
    occurred_at = models.DateTimeField(_("event time"))
    time_zone_offset = models.CharField(
        _("time zone offset"),
        max_length=6,
        default="+00:00",
        validators=[RegexValidator(r"^[+-](0\d|1[0-4]):[0-5]\d$", _("Use ±HH:MM."))],
        help_text=_("The offset where the event happened (EPCIS eventTimeZoneOffset)."),
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # nobody looks events up by who typed them; every index slows imports
        help_text=_("Empty for events imported from another system."),
    )
    biz_step = models.CharField(
        _("business step"),
        max_length=100,
        blank=True,
        help_text=_("GS1 CBV bizStep, e.g. shipping."),
    )
    disposition = models.CharField(
        _("disposition"),
        max_length=100,
        blank=True,
        help_text=_("GS1 CBV disposition, e.g. in_transit."),
    )
    fsma_cte = models.CharField(
        _("FSMA 204 critical tracking event"),
        max_length=30,
        choices=FsmaCte.choices,
        blank=True,
        default="",
        # Bulk loaders that insert rows directly (generate_dataset) leave it to the database.
        db_default="",
        help_text=_(
            "Left empty, it follows from the event type: ship is Shipping, receive and return "
            "are Receiving, transform is Transformation, a transfer to another site is "
            "Shipping, anything else is none. Harvesting, cooling, initial packing and first "
            "land-based receiving are only ever recorded here."
        ),
    )
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        help_text=_("Where it happened (EPCIS bizLocation)."),
    )
    source_party = models.ForeignKey(
        Party,
        verbose_name=_("from party"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_as_source",
    )
    source_site = models.ForeignKey(
        Site,
        verbose_name=_("from site"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_as_source",
        db_index=False,  # events are found by their site and parties, not by a sending site
    )
    destination_party = models.ForeignKey(
        Party,
        verbose_name=_("to party"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_as_destination",
    )
    destination_site = models.ForeignKey(
        Site,
        verbose_name=_("to site"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events_as_destination",
        db_index=False,
    )
    document_type = models.CharField(
        _("reference document type"), max_length=20, choices=DocumentType.choices, blank=True
    )
    document_number = models.CharField(_("reference document number"), max_length=100, blank=True)
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects event"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        db_index=False,
        help_text=_("The earlier event this one corrects."),
    )
    notes = models.TextField(_("notes"), blank=True)
    extra = models.JSONField(
        _("other EPCIS data"),
        default=dict,
        blank=True,
        help_text=_("Parts of an EPCIS event we keep but do not model (e.g. SSCCs, sensor data)."),
    )

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("trace event")
        verbose_name_plural = _("trace events")
        constraints = [
            models.CheckConstraint(
                condition=Q(event_type__in=EventType.values),
                name="event_type_valid",
                violation_error_message=_("Unknown event type."),
            ),
            models.CheckConstraint(
                condition=~Q(event_id=""),
                name="event_id_not_empty",
                violation_error_message=_("An event needs an event ID."),
            ),
            models.CheckConstraint(
                condition=Q(document_number="") | ~Q(document_type=""),
                name="event_document_number_has_type",
                violation_error_message=_("Say what kind of document the reference number is."),
            ),
            models.CheckConstraint(
                condition=Q(fsma_cte__in=["", *FsmaCte.values]),
                name="event_fsma_cte_valid",
                violation_error_message=_("Unknown FSMA 204 critical tracking event."),
            ),
        ]
        indexes = [
            models.Index(fields=["occurred_at"], name="event_occurred_idx"),
            models.Index(fields=["event_type", "occurred_at"], name="event_type_occurred_idx"),
            models.Index(fields=["document_number"], name="event_document_idx"),
        ]

    def __str__(self):
        return f"{self.get_event_type_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self.event_id:
            self.event_id = f"urn:uuid:{uuid.uuid4()}"
        super().save(*args, **kwargs)


class EventLine(AppendOnlyModel):
    """One item an event names, in a role, with its quantity (EPCIS epcList / quantityList)."""

    class Role(models.TextChoices):
        SUBJECT = "subject", _("subject")
        INPUT = "input", _("input")
        OUTPUT = "output", _("output")
        PARENT = "parent", _("parent")
        CHILD = "child", _("child")

    # Indexed by the unique (event, item, role) and by (item, event type, event).
    event = models.ForeignKey(
        TraceEvent,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
    )
    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        related_name="event_lines",
        db_index=False,
    )
    role = models.CharField(_("role"), max_length=7, choices=Role.choices, default=Role.SUBJECT)
    event_type = models.CharField(
        _("event type"),
        max_length=20,
        choices=EventType.choices,
        editable=False,
        help_text=_(
            "The event's type, kept on each line (events never change) so that a trace finds "
            "an item's shipments and receipts from the lines alone."
        ),
    )
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Empty for a serial unit, which is one unit."),
    )
    unit = models.CharField(_("unit"), max_length=3, choices=Unit, blank=True)

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("event line")
        verbose_name_plural = _("event lines")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "item", "role"],
                name="event_line_unique_item_role",
                violation_error_message=_("An event names each item once per role."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gte=0),
                name="event_line_quantity_not_negative",
                violation_error_message=_("An event quantity cannot be negative."),
            ),
            models.CheckConstraint(
                condition=~Q(event_type=""),
                name="event_line_has_event_type",
                violation_error_message=_("An event line carries its event's type."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | ~Q(unit=""),
                name="event_line_quantity_has_unit",
                violation_error_message=_("A quantity needs its unit."),
            ),
        ]
        indexes = [
            models.Index(fields=["item", "event_type", "event"], name="event_line_item_type_idx"),
        ]

    def __str__(self):
        return f"{self.get_role_display()} {self.item}"

    def save(self, *args, **kwargs):
        if not self.event_type:
            self.event_type = self.event.event_type
        super().save(*args, **kwargs)


class Genealogy(AppendOnlyModel):
    """An edge of the graph: the parent went into the child (or is installed in it)."""

    class Kind(models.TextChoices):
        TRANSFORMATION = "transformation", _("transformation input → output")
        INSTALLATION = "installation", _("component installed in assembly")
        PRODUCTION_LOT = "production_lot", _("unit built in production lot")

    parent = models.ForeignKey(
        Item,
        verbose_name=_("went into"),
        on_delete=models.PROTECT,
        related_name="child_links",
        db_index=False,  # genealogy_unique_per_event (parent, child, event) serves it
        help_text=_("The input or component."),
    )
    child = models.ForeignKey(
        Item,
        verbose_name=_("became"),
        on_delete=models.PROTECT,
        related_name="parent_links",
        db_index=False,  # genealogy_backward_idx (child, parent) serves it
        help_text=_("The output or assembly."),
    )
    kind = models.CharField(
        _("kind"), max_length=14, choices=Kind.choices, default=Kind.TRANSFORMATION
    )
    quantity = models.DecimalField(
        _("quantity used"),
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    unit = models.CharField(_("unit"), max_length=3, choices=Unit, blank=True)
    event = models.ForeignKey(
        TraceEvent,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="genealogy",
    )

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("genealogy link")
        verbose_name_plural = _("genealogy links")
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=F("child")),
                name="genealogy_not_self",
                violation_error_message=_("An item cannot go into itself."),
            ),
            models.UniqueConstraint(
                fields=["parent", "child", "event"],
                name="genealogy_unique_per_event",
                violation_error_message=_("This event already links these two items."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | ~Q(unit=""),
                name="genealogy_quantity_has_unit",
                violation_error_message=_("A quantity needs its unit."),
            ),
        ]
        # Forward steps (parent → child) read the unique index, whose first columns they are;
        # a second index on the same columns would only slow down every write.
        indexes = [models.Index(fields=["child", "parent"], name="genealogy_backward_idx")]

    def __str__(self):
        return f"{self.parent} → {self.child}"


STATUS_LABELS = {**dict(SerialStatus.choices), **dict(LotStatus.choices)}


class StatusChange(AppendOnlyModel):
    """Who changed a lot's or unit's status, when and why."""

    item = models.ForeignKey(
        Item, verbose_name=_("item"), on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(_("from"), max_length=12)
    to_status = models.CharField(_("to"), max_length=12)
    reason = models.TextField(_("reason"))
    event = models.OneToOneField(
        TraceEvent, verbose_name=_("event"), on_delete=models.PROTECT, related_name="status_change"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="status_change_has_reason",
                violation_error_message=_("Say why the status changes."),
            ),
            models.CheckConstraint(
                condition=~Q(from_status=F("to_status")),
                name="status_change_changes",
                violation_error_message=_("The new status is the same as the old one."),
            ),
        ]
        indexes = [models.Index(fields=["item", "changed_at"], name="status_change_item_idx")]

    def __str__(self):
        return f"{self.from_label} → {self.to_label}"

    @property
    def from_label(self):
        return STATUS_LABELS.get(self.from_status, self.from_status)

    @property
    def to_label(self):
        return STATUS_LABELS.get(self.to_status, self.to_status)


class ServiceRecord(models.Model):
    """Work done on a serial unit: repair, inspection, component replacement."""

    class Kind(models.TextChoices):
        REPAIR = "repair", _("repair")
        INSPECTION = "inspection", _("inspection")
        COMPONENT_REPLACEMENT = "replacement", _("component replacement")

    class Outcome(models.TextChoices):
        OPEN = "open", _("open")
        PASSED = "passed", _("passed")
        FAILED = "failed", _("failed")
        REPAIRED = "repaired", _("repaired")
        REPLACED = "replaced", _("replaced")
        NO_FAULT_FOUND = "no_fault", _("no fault found")
        REJECTED = "rejected", _("rejected")

    serial_unit = models.ForeignKey(
        SerialUnit,
        verbose_name=_("serial unit"),
        on_delete=models.PROTECT,
        related_name="service_records",
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    performed_on = models.DateField(_("date"))
    description = models.TextField(_("description"))
    technician = models.CharField(_("technician"), max_length=200, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OPEN
    )
    event = models.OneToOneField(
        TraceEvent,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_record",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        constraints = [
            models.CheckConstraint(
                condition=~Q(description=""),
                name="service_record_has_description",
                violation_error_message=_("Describe the work done."),
            ),
        ]
        indexes = [
            models.Index(fields=["serial_unit", "performed_on"], name="service_unit_date_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.serial_unit} on {self.performed_on}"


class ServicePart(models.Model):
    """A serialised part removed from or fitted to a unit during a service."""

    class Action(models.TextChoices):
        REMOVED = "removed", _("removed")
        FITTED = "fitted", _("fitted")

    record = models.ForeignKey(
        ServiceRecord,
        verbose_name=_("service record"),
        on_delete=models.PROTECT,
        related_name="parts",
    )
    part = models.ForeignKey(
        SerialUnit, verbose_name=_("part"), on_delete=models.PROTECT, related_name="service_uses"
    )
    action = models.CharField(_("action"), max_length=7, choices=Action.choices)

    class Meta:
        verbose_name = _("part removed or fitted")
        verbose_name_plural = _("parts removed or fitted")
        constraints = [
            models.UniqueConstraint(
                fields=["record", "part", "action"],
                name="service_part_unique",
                violation_error_message=_("This part is already listed for this service."),
            ),
        ]

    def __str__(self):
        return f"{self.part} {self.get_action_display()}"


class Job(models.Model):
    """Long work a person started from a page (an import, a large recall), run in the background.

    The row says what was asked and how it ended; live progress goes through the cache (see
    inventory/jobs.py), since the work's own transaction hides its writes until it commits.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("waiting to start")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("done")
        FAILED = "failed", _("refused")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=9, choices=Status.choices, default=Status.QUEUED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.PROTECT,
        related_name="jobs",
    )
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    started_at = models.DateTimeField(_("running since"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    # The uploaded input, until the job has read it; emptied when the job ends.
    payload = models.BinaryField(_("input"), default=b"", blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    errors = models.JSONField(_("problems"), default=list, blank=True)
    # A file the job made (an export), for the person to download from the job's page; its
    # name and type are in the result ("file_name", "content_type").
    output = models.BinaryField(_("file"), default=b"", blank=True)

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running"], finished_at__isnull=True)
                | (Q(status__in=["succeeded", "failed"]) & Q(finished_at__isnull=False)),
                name="job_finished_has_date",
                violation_error_message=_("A finished job needs its end time, and only it."),
            ),
        ]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="job_user_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("job_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def took(self) -> str:
        """How long the work ran, as a person says it: "4 s", "2 min 5 s"."""
        if self.started_at is None or self.finished_at is None:
            return ""
        seconds = round((self.finished_at - self.started_at).total_seconds())
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


# --- Serial life: commissioning, returns, warranty claims, owners, public checks -------------


class DocumentSequence(models.Model):
    """The last number given out for a kind of document in a year; locked while one is taken."""

    kind = models.CharField(_("kind"), max_length=8)
    year = models.PositiveIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("document number sequence")
        verbose_name_plural = _("document number sequences")
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="document_sequence_unique"),
        ]

    def __str__(self):
        return f"{self.kind} {self.year}: {self.last_number}"


SERIAL_MAX_LENGTH = 20


class SerialRun(models.Model):
    """Serial numbers commissioned together for a product (and lot): by pattern or at random."""

    class Scheme(models.TextChoices):
        PATTERN = "pattern", _("prefix and counter")
        RANDOM = "random", _("random, not guessable")

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="serial_runs"
    )
    lot = models.ForeignKey(
        Lot,
        verbose_name=_("production lot"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="serial_runs",
    )
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="serial_runs",
        help_text=_("Where the units are made and first held."),
    )
    scheme = models.CharField(_("scheme"), max_length=7, choices=Scheme.choices)
    prefix = models.CharField(_("prefix"), max_length=SERIAL_MAX_LENGTH - 1, blank=True)
    width = models.PositiveSmallIntegerField(
        _("counter width"), null=True, blank=True, help_text=_("Digits, zero-padded.")
    )
    first_number = models.PositiveBigIntegerField(_("first counter value"), null=True, blank=True)
    length = models.PositiveSmallIntegerField(
        _("length"), null=True, blank=True, help_text=_("Characters of a random serial.")
    )
    count = models.PositiveIntegerField(_("units"))
    first_serial = models.CharField(_("first serial"), max_length=SERIAL_MAX_LENGTH)
    last_serial = models.CharField(_("last serial"), max_length=SERIAL_MAX_LENGTH)
    produced_on = models.DateField(_("production date"), null=True, blank=True)
    event = models.OneToOneField(
        "TraceEvent",
        verbose_name=_("commissioning event"),
        on_delete=models.PROTECT,
        related_name="serial_run",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("serial number run")
        verbose_name_plural = _("serial number runs")
        constraints = [
            models.CheckConstraint(
                condition=Q(count__gt=0),
                name="serial_run_count_positive",
                violation_error_message=_("A run makes at least one unit."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        scheme="pattern",
                        width__gte=1,
                        first_number__isnull=False,
                        length__isnull=True,
                    )
                    | Q(scheme="random", length__gte=8, length__lte=SERIAL_MAX_LENGTH, width=None)
                ),
                name="serial_run_scheme_fields",
                violation_error_message=_(
                    "A pattern run needs a counter width and first value; a random run needs a "
                    "length of 8 to 20 characters."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.product.sku}: {self.count} serials {self.first_serial} … {self.last_serial}"

    def get_absolute_url(self):
        return reverse("serial_run_detail", args=[self.pk])


class UnitReturn(models.Model):
    """A unit sent back to us (an RMA): what came in, why, its state, and what we decided."""

    class Reason(models.TextChoices):
        DEFECTIVE = "defective", _("defective / does not work")
        DAMAGED = "damaged", _("damaged in transit")
        WRONG_ITEM = "wrong_item", _("wrong item sent")
        NOT_WANTED = "not_wanted", _("no longer wanted")
        WARRANTY = "warranty", _("warranty claim")
        RECALL = "recall", _("returned under a recall")
        OTHER = "other", _("other")

    class Condition(models.TextChoices):
        UNOPENED = "unopened", _("unopened")
        GOOD = "good", _("good, used")
        DAMAGED = "damaged", _("damaged")
        DEFECTIVE = "defective", _("defective")
        UNKNOWN = "unknown", _("not yet inspected")

    class Status(models.TextChoices):
        OPEN = "open", _("awaiting decision")
        IN_REPAIR = "in_repair", _("in repair")
        CLOSED = "closed", _("closed")

    class Decision(models.TextChoices):
        RESTOCK = "restock", _("restock")
        REPAIR = "repair", _("repair")
        REPLACE = "replace", _("replace")
        SCRAP = "scrap", _("scrap")

    class Outcome(models.TextChoices):
        RESTOCKED = "restocked", _("restocked")
        SENT_BACK = "sent_back", _("repaired and sent back")
        REPLACED = "replaced", _("replaced")
        SCRAPPED = "scrapped", _("scrapped")

    number = models.CharField(_("RMA number"), max_length=20, unique=True, editable=False)
    serial_unit = models.ForeignKey(
        SerialUnit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="returns"
    )
    customer = models.ForeignKey(
        Party,
        verbose_name=_("returned by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="returns",
    )
    site = models.ForeignKey(
        Site, verbose_name=_("received at"), on_delete=models.PROTECT, related_name="returns"
    )
    received_at = models.DateTimeField(_("received"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    condition = models.CharField(_("condition"), max_length=9, choices=Condition.choices)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        _("status"), max_length=9, choices=Status.choices, default=Status.OPEN, editable=False
    )
    decision = models.CharField(
        _("decision"), max_length=7, choices=Decision.choices, blank=True, editable=False
    )
    decision_notes = models.TextField(_("decision notes"), blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, editable=False)
    outcome = models.CharField(
        _("outcome"), max_length=9, choices=Outcome.choices, blank=True, editable=False
    )
    replacement = models.ForeignKey(
        SerialUnit,
        verbose_name=_("replacement unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    receive_event = models.OneToOneField(
        "TraceEvent",
        verbose_name=_("receiving event"),
        on_delete=models.PROTECT,
        related_name="unit_return",
        editable=False,
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("return (RMA)")
        verbose_name_plural = _("returns (RMA)")
        permissions = [("decide_unitreturn", _("Can decide what happens to a returned unit"))]
        constraints = [
            models.UniqueConstraint(
                fields=["serial_unit"],
                condition=~Q(status="closed"),
                name="return_one_open_per_unit",
                violation_error_message=_("This unit already has an open return."),
            ),
            models.CheckConstraint(
                condition=Q(status="open", decision="") | (~Q(status="open") & ~Q(decision="")),
                name="return_decision_when_decided",
                violation_error_message=_("A decided return names its decision, and only it."),
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False, outcome__gt="")
                | (~Q(status="closed") & Q(closed_at__isnull=True, outcome="")),
                name="return_closed_has_outcome",
                violation_error_message=_("A closed return has its outcome and closing time."),
            ),
            models.CheckConstraint(
                condition=~Q(decision="replace") | Q(replacement__isnull=False),
                name="return_replace_names_unit",
                violation_error_message=_("A replacement names the unit sent instead."),
            ),
            models.CheckConstraint(
                condition=Q(replacement__isnull=True) | ~Q(replacement=F("serial_unit")),
                name="return_not_replaced_by_itself",
                violation_error_message=_("A unit cannot replace itself."),
            ),
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="return_status_idx")]

    def __str__(self):
        return f"{self.number} · {self.serial_unit}"

    def get_absolute_url(self):
        return reverse("return_detail", args=[self.pk])


class ReturnPhoto(models.Model):
    """A photo of a returned unit as it arrived; served only to signed-in staff."""

    unit_return = models.ForeignKey(
        UnitReturn, verbose_name=_("return"), on_delete=models.PROTECT, related_name="photos"
    )
    image = models.ImageField(_("photo"), upload_to="returns/%Y/%m/")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("return photo")
        verbose_name_plural = _("return photos")

    def __str__(self):
        return f"Photo {self.pk} of {self.unit_return.number}"


class WarrantyClaim(models.Model):
    """A customer's claim that a unit failed under warranty: decided, then repaired or replaced."""

    class Status(models.TextChoices):
        OPEN = "open", _("awaiting decision")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        REPAIRED = "repaired", _("repaired")
        REPLACED = "replaced", _("replaced")
        CLOSED = "closed", _("closed")

    number = models.CharField(_("claim number"), max_length=20, unique=True, editable=False)
    serial_unit = models.ForeignKey(
        SerialUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        related_name="warranty_claims",
    )
    unit_return = models.ForeignKey(
        UnitReturn,
        verbose_name=_("return"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warranty_claims",
    )
    claimant = models.ForeignKey(
        Party,
        verbose_name=_("claimed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warranty_claims",
    )
    fault = models.TextField(_("fault reported"))
    reported_on = models.DateField(_("fault reported on"))
    warranty_ends_on = models.DateField(
        _("warranty end when claimed"), null=True, blank=True, editable=False
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN, editable=False
    )
    covered = models.BooleanField(
        _("within warranty"),
        null=True,
        editable=False,
        help_text=_("Whether the fault was reported on or before the warranty end."),
    )
    overridden = models.BooleanField(
        _("approved outside warranty"),
        default=False,
        editable=False,
        help_text=_("A manager approved it although the warranty did not cover it."),
    )
    decision_reason = models.TextField(_("reason for the decision"), blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, editable=False)
    service_record = models.OneToOneField(
        ServiceRecord,
        verbose_name=_("repair"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="warranty_claim",
        editable=False,
    )
    replacement = models.OneToOneField(
        SerialUnit,
        verbose_name=_("replacement unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaces_under_claim",
        editable=False,
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    closing_note = models.TextField(_("closing note"), blank=True, editable=False)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        on_delete=models.PROTECT,
        null=True,  # claims kept as service records before 0010 may not say who
        related_name="+",
        editable=False,
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("warranty claim")
        verbose_name_plural = _("warranty claims")
        permissions = [
            ("decide_warrantyclaim", _("Can approve or reject warranty claims")),
            ("override_warrantyclaim", _("Can approve a claim the warranty does not cover")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["serial_unit"],
                condition=~Q(status="closed"),
                name="claim_one_open_per_unit",
                violation_error_message=_("This unit already has an open warranty claim."),
            ),
            models.CheckConstraint(
                condition=~Q(fault=""),
                name="claim_has_fault",
                violation_error_message=_("Describe the fault."),
            ),
            models.CheckConstraint(
                condition=Q(overridden=False) | ~Q(decision_reason=""),
                name="claim_override_has_reason",
                violation_error_message=_("Say why the claim is approved outside warranty."),
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(decision_reason=""),
                name="claim_rejection_has_reason",
                violation_error_message=_("Say why the claim is rejected."),
            ),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True)
                | (~Q(status="open") & Q(decided_at__isnull=False)),
                name="claim_decided_has_date",
                violation_error_message=_("A decided claim has its decision time, and only it."),
            ),
            models.CheckConstraint(
                condition=~Q(status="replaced") | Q(replacement__isnull=False),
                name="claim_replaced_names_unit",
                violation_error_message=_("A replaced claim names the replacement unit."),
            ),
            models.CheckConstraint(
                condition=Q(replacement__isnull=True) | ~Q(replacement=F("serial_unit")),
                name="claim_not_replaced_by_itself",
                violation_error_message=_("A unit cannot replace itself."),
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False)
                | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="claim_closed_has_date",
                violation_error_message=_("A closed claim has its closing time, and only it."),
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="claim_status_idx")]

    def __str__(self):
        return f"{self.number} · {self.serial_unit}"

    def get_absolute_url(self):
        return reverse("claim_detail", args=[self.pk])


class UnitOwnership(models.Model):
    """Who owns a unit after it was sold, for a period; contact details only with consent."""

    serial_unit = models.ForeignKey(
        SerialUnit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="ownerships"
    )
    owner_name = models.CharField(_("owner"), max_length=200)
    consent = models.BooleanField(
        _("agrees to be contacted"),
        default=False,
        help_text=_("About safety notices and recalls of this unit. Needed to keep any contact."),
    )
    consent_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    started_on = models.DateField(_("owner since"))
    ended_on = models.DateField(_("owner until"), null=True, blank=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    registered_at = models.DateTimeField(_("registered"), default=timezone.now)
    # Contact details are personal data: withdrawing consent erases them, history included.
    history = HistoricalRecords(excluded_fields=["email", "phone"])

    class Meta:
        verbose_name = _("unit owner")
        verbose_name_plural = _("unit owners")
        constraints = [
            models.UniqueConstraint(
                fields=["serial_unit"],
                condition=Q(ended_on__isnull=True),
                name="ownership_one_current_owner",
                violation_error_message=_("This unit already has a current owner."),
            ),
            models.CheckConstraint(
                condition=Q(consent=True, consent_at__isnull=False)
                | Q(consent=False, consent_at__isnull=True, email="", phone=""),
                name="ownership_contact_needs_consent",
                violation_error_message=_(
                    "Contact details are kept only when the owner agrees to be contacted."
                ),
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="ownership_ends_after_start",
                violation_error_message=_("Ownership cannot end before it starts."),
            ),
            models.CheckConstraint(
                condition=~Q(owner_name=""),
                name="ownership_has_owner",
                violation_error_message=_("Name the owner."),
            ),
        ]

    def __str__(self):
        return f"{self.owner_name} · {self.serial_unit}"


class VerificationCheck(AppendOnlyModel):
    """One public authenticity check of a serial: when, from which (hashed) client, and answer."""

    class Result(models.TextChoices):
        GENUINE = "genuine", _("genuine")
        UNKNOWN_PRODUCT = "unknown_product", _("unknown product")
        UNKNOWN_SERIAL = "unknown_serial", _("unknown serial of a known product")
        NEVER_SHIPPED = "never_shipped", _("genuine but never shipped")
        SCRAPPED = "scrapped", _("genuine but scrapped")
        INVALID = "invalid", _("not a valid code")

    class Via(models.TextChoices):
        LINK = "link", _("Digital Link (scanned)")
        FORM = "form", _("form")

    checked_at = models.DateTimeField(_("checked"), default=timezone.now)
    gtin = models.CharField(_("GTIN"), max_length=14, blank=True)
    serial = models.CharField(_("serial"), max_length=64, blank=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    serial_unit = models.ForeignKey(
        SerialUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="verification_checks",
    )
    result = models.CharField(_("answer"), max_length=15, choices=Result.choices)
    via = models.CharField(_("via"), max_length=4, choices=Via.choices)
    client_hash = models.CharField(
        _("client"), max_length=64, help_text=_("A keyed hash of the address; not reversible.")
    )
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("authenticity check")
        verbose_name_plural = _("authenticity checks")
        indexes = [
            models.Index(fields=["gtin", "serial", "checked_at"], name="check_code_idx"),
            models.Index(fields=["serial_unit", "checked_at"], name="check_unit_idx"),
            models.Index(fields=["checked_at"], name="check_time_idx"),
        ]

    def __str__(self):
        return f"{self.gtin} {self.serial} at {self.checked_at:%Y-%m-%d %H:%M}"


class CounterfeitFlag(models.Model):
    """A suspicion raised by public checks of a serial, until a manager reviews it."""

    class Reason(models.TextChoices):
        UNKNOWN_SERIAL = "unknown_serial", _("serial unknown for a known GTIN")
        NEVER_SHIPPED = "never_shipped", _("checked but never shipped")
        SCRAPPED = "scrapped", _("checked after it was scrapped")
        MANY_CLIENTS = "many_clients", _("checked from many clients in a short time")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DISMISSED = "dismissed", _("dismissed")
        CONFIRMED = "confirmed", _("confirmed counterfeit")

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    serial = models.CharField(_("serial"), max_length=64)
    serial_unit = models.ForeignKey(
        SerialUnit,
        verbose_name=_("unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="counterfeit_flags",
    )
    reason = models.CharField(_("reason"), max_length=14, choices=Reason.choices)
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    last_checked_at = models.DateTimeField(_("last checked"), default=timezone.now)
    checks = models.PositiveIntegerField(_("checks since raised"), default=1)
    clients = models.PositiveIntegerField(
        _("distinct clients"), default=1, help_text=_("In the window that raised the flag.")
    )
    status = models.CharField(
        _("status"), max_length=9, choices=Status.choices, default=Status.OPEN, editable=False
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True, editable=False)
    review_note = models.TextField(_("review note"), blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("counterfeit flag")
        verbose_name_plural = _("counterfeit flags")
        permissions = [("review_counterfeitflag", _("Can dismiss or confirm counterfeit flags"))]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "serial", "reason"],
                condition=Q(status="open"),
                name="flag_one_open_per_reason",
                violation_error_message=_("This serial already has an open flag for this reason."),
            ),
            models.CheckConstraint(
                condition=Q(status="open", reviewed_at__isnull=True)
                | (~Q(status="open") & Q(reviewed_at__isnull=False) & ~Q(review_note="")),
                name="flag_review_has_note",
                violation_error_message=_("A reviewed flag says what was found."),
            ),
        ]
        indexes = [models.Index(fields=["status", "raised_at"], name="flag_status_idx")]

    def __str__(self):
        return f"{self.product.sku} serial {self.serial}: {self.get_reason_display()}"


# --- Quality control ---------------------------------------------------------------------------


class Deviation(models.Model):
    """A departure from a specification or a process limit on a lot or unit, until a manager
    decides it: approved with a justification (the lot may then be released despite it) or
    rejected (it stands against the lot)."""

    class Kind(models.TextChoices):
        EXCURSION = "excursion", _("process condition outside its limits")
        TEST = "test", _("required test missing or failed")
        OTHER = "other", _("other departure")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        APPROVED = "approved", _("approved (justified)")
        REJECTED = "rejected", _("rejected")

    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    item = models.ForeignKey(
        Item, verbose_name=_("lot or unit"), on_delete=models.PROTECT, related_name="deviations"
    )
    specification_test = models.ForeignKey(
        "SpecificationTest",
        verbose_name=_("specification test"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deviations",
        editable=False,
        help_text=_("The required test missing or failed, for a deviation of kind “test”."),
    )
    kind = models.CharField(_("kind"), max_length=9, choices=Kind.choices)
    description = models.TextField(_("description"))
    raised_at = models.DateTimeField(_("raised"), default=timezone.now)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("raised by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the system raised it (a reading outside its limits)."),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN, editable=False
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, editable=False)
    justification = models.TextField(_("justification"), blank=True, editable=False)
    measurement = models.ForeignKey(
        "Measurement",
        verbose_name=_("reading"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deviations",
        editable=False,
        help_text=_("The reading outside its limits that raised it (an excursion)."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("deviation")
        verbose_name_plural = _("deviations")
        permissions = [("decide_deviation", _("Can approve or reject deviations"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["excursion", "test", "other"]),
                name="deviation_kind_valid",
                violation_error_message=_("Unknown kind of deviation."),
            ),
            models.CheckConstraint(
                condition=~Q(description=""),
                name="deviation_has_description",
                violation_error_message=_("Say what departed from what."),
            ),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True, justification="")
                | (
                    Q(status__in=["approved", "rejected"], decided_at__isnull=False)
                    & ~Q(justification="")
                ),
                name="deviation_decision_justified",
                violation_error_message=_("A decided deviation says who decided, when and why."),
            ),
            models.UniqueConstraint(
                fields=["measurement", "item"],
                condition=Q(measurement__isnull=False),
                name="deviation_one_per_reading_item",
                violation_error_message=_("This reading already raised a deviation on this item."),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "raised_at"], name="deviation_status_idx"),
            models.Index(fields=["item", "status"], name="deviation_item_idx"),
        ]

    def __str__(self):
        return f"{self.reference}: {self.get_kind_display()}"

    def get_absolute_url(self):
        return reverse("deviation_detail", args=[self.reference])


# --- Quality control: specifications and release ----------------------------------------------


def lot_starting_status(product: Product, status: str = LotStatus.RELEASED) -> str:
    """The status a new lot starts in: quarantined, awaiting its release decision, when its
    product requires release; every path that creates lots (services, imports) asks here."""
    if product.requires_release and status == LotStatus.RELEASED:
        return LotStatus.QUARANTINED
    return status


class Specification(models.Model):
    """The tests a product's lots must pass, one version of them: a lot is judged against the
    approved version in force on its production or receipt date."""

    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="specifications",
    )
    version = models.PositiveIntegerField(_("version"), validators=[MinValueValidator(1)])
    effective_from = models.DateField(
        _("in force from"),
        help_text=_("Lots produced or received on or after this date are judged against it."),
    )
    notes = models.TextField(_("notes"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("specification")
        verbose_name_plural = _("specifications")
        permissions = [("approve_specification", _("Can approve specifications"))]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "version"],
                name="specification_unique_version",
                violation_error_message=_(
                    "This product already has a specification version with this number."
                ),
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="specification_version_positive",
                violation_error_message=_("Versions are numbered from 1."),
            ),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True, approved_by__isnull=True)
                | Q(approved_at__isnull=False, approved_by__isnull=False),
                name="specification_approval_signed",
                violation_error_message=_("An approved specification says who approved it."),
            ),
        ]
        indexes = [
            models.Index(fields=["product", "effective_from"], name="specification_force_idx")
        ]

    def __str__(self):
        return f"{self.product.sku} specification v{self.version}"

    def get_absolute_url(self):
        return reverse("specification_detail", args=[self.pk])

    @property
    def is_approved(self):
        return self.approved_at is not None


class SpecificationTest(models.Model):
    """One test of a specification: a measured value within limits (edges included), or a
    qualitative result that must read as expected."""

    specification = models.ForeignKey(
        Specification,
        verbose_name=_("specification"),
        on_delete=models.CASCADE,
        related_name="tests",
    )
    name = models.CharField(_("test"), max_length=100)
    method = models.CharField(_("method"), max_length=200, blank=True)
    unit = models.CharField(
        _("unit"), max_length=20, blank=True, help_text=_("e.g. %, CFU/g, mg/kg; empty for none.")
    )
    lower_limit = models.DecimalField(
        _("lower limit"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    upper_limit = models.DecimalField(
        _("upper limit"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    expected_text = models.CharField(
        _("expected result"),
        max_length=200,
        blank=True,
        help_text=_("For a qualitative test, e.g. “absent in 25 g”; leave the limits empty."),
    )
    required = models.BooleanField(
        _("required"), default=True, help_text=_("A lot is not released without it.")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("specification test")
        verbose_name_plural = _("specification tests")
        constraints = [
            models.UniqueConstraint(
                fields=["specification", "name"],
                name="specification_test_unique_name",
                violation_error_message=_("This specification already has a test of this name."),
            ),
            models.CheckConstraint(
                condition=Q(lower_limit__isnull=False)
                | Q(upper_limit__isnull=False)
                | ~Q(expected_text=""),
                name="specification_test_has_criterion",
                violation_error_message=_(
                    "A test needs a lower or upper limit, or the expected result."
                ),
            ),
            models.CheckConstraint(
                condition=Q(expected_text="")
                | Q(lower_limit__isnull=True, upper_limit__isnull=True),
                name="specification_test_one_kind",
                violation_error_message=_(
                    "A test has limits (measured) or an expected result (qualitative), not both."
                ),
            ),
            models.CheckConstraint(
                condition=Q(lower_limit__isnull=True)
                | Q(upper_limit__isnull=True)
                | Q(lower_limit__lte=F("upper_limit")),
                name="specification_test_limits_ordered",
                violation_error_message=_("The lower limit is above the upper limit."),
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_numeric(self):
        return not self.expected_text

    @property
    def criterion(self):
        """The limits or expected result in words, e.g. “4.0 to 4.6 pH” or “≤ 10 CFU/g”."""
        if not self.is_numeric:
            return self.expected_text
        unit = f" {self.unit}" if self.unit else ""
        low, high = self.lower_limit, self.upper_limit
        if low is not None and high is not None:
            return f"{low.normalize():f} to {high.normalize():f}{unit}"
        if low is not None:
            return f"≥ {low.normalize():f}{unit}"
        return f"≤ {high.normalize():f}{unit}"

    def passes(self, value=None, text=""):
        """Whether a result meets the test: limits are inclusive; text matches ignoring case."""
        if not self.is_numeric:
            return (
                " ".join(text.split()).casefold() == " ".join(self.expected_text.split()).casefold()
            )
        if value is None:
            return False
        if self.lower_limit is not None and value < self.lower_limit:
            return False
        return not (self.upper_limit is not None and value > self.upper_limit)


class Certificate(models.Model):
    """A supplier's certificate of analysis (PDF): one certificate carries many results."""

    supplier = models.ForeignKey(
        Party, verbose_name=_("supplier"), on_delete=models.PROTECT, related_name="certificates"
    )
    number = models.CharField(_("certificate number"), max_length=64)
    issued_on = models.DateField(_("issued"))
    file = models.FileField(_("PDF"), upload_to="certificates/%Y/%m/")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("certificate of analysis")
        verbose_name_plural = _("certificates of analysis")
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "number"],
                name="certificate_unique_number",
                violation_error_message=_("This supplier's certificate is already on file."),
            ),
            models.CheckConstraint(
                condition=~Q(number=""),
                name="certificate_has_number",
                violation_error_message=_("Give the certificate's number."),
            ),
        ]

    def __str__(self):
        return f"{self.supplier.name} CoA {self.number}"


class TestResult(AppendOnlyModel):
    """A result of a specification test on a lot (or one of its serial units), judged when it
    is recorded. Never edited: a correction is a new result that supersedes it."""

    __test__ = False  # a model, not a pytest test class

    class Source(models.TextChoices):
        IN_HOUSE = "in_house", _("in-house test")
        CERTIFICATE = "certificate", _("supplier's certificate")

    lot = models.ForeignKey(
        Lot, verbose_name=_("lot"), on_delete=models.PROTECT, related_name="test_results"
    )
    serial_unit = models.ForeignKey(
        SerialUnit,
        verbose_name=_("serial unit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="test_results",
        help_text=_("For a product tested per unit."),
    )
    specification_test = models.ForeignKey(
        SpecificationTest,
        verbose_name=_("test"),
        on_delete=models.PROTECT,
        related_name="results",
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4, null=True, blank=True)
    text = models.CharField(_("result"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    passed = models.BooleanField(_("passed"))
    tested_at = models.DateTimeField(_("tested"))
    tested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    performed_by = models.CharField(_("performed by"), max_length=200, blank=True)
    lab = models.CharField(_("laboratory"), max_length=200, blank=True)
    instrument = models.CharField(_("instrument"), max_length=200, blank=True)
    source = models.CharField(
        _("source"), max_length=11, choices=Source.choices, default=Source.IN_HOUSE
    )
    certificate = models.ForeignKey(
        Certificate,
        verbose_name=_("certificate"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="results",
    )
    supersedes = models.OneToOneField(
        "self",
        verbose_name=_("corrects"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
    )
    correction_reason = models.TextField(_("why corrected"), blank=True)
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("test result")
        verbose_name_plural = _("test results")
        constraints = [
            models.CheckConstraint(
                condition=Q(value__isnull=False) | ~Q(text=""),
                name="test_result_has_value",
                violation_error_message=_("A result needs its value."),
            ),
            models.CheckConstraint(
                condition=~Q(source="certificate") | Q(certificate__isnull=False),
                name="test_result_certificate_named",
                violation_error_message=_("A result from a certificate names the certificate."),
            ),
            models.CheckConstraint(
                condition=Q(supersedes__isnull=True) | ~Q(correction_reason=""),
                name="test_result_correction_reason",
                violation_error_message=_("Say why the result is corrected."),
            ),
            models.CheckConstraint(
                condition=Q(source__in=["in_house", "certificate"]),
                name="test_result_source_valid",
                violation_error_message=_("Unknown source of a result."),
            ),
        ]
        indexes = [
            models.Index(fields=["lot", "specification_test"], name="test_result_lot_idx"),
            models.Index(fields=["tested_at"], name="test_result_tested_idx"),
        ]

    def __str__(self):
        return f"{self.specification_test.name}: {self.value_text}"

    @property
    def value_text(self):
        if self.value is None:
            return self.text
        return f"{self.value.normalize():f}{f' {self.unit}' if self.unit else ''}"


class ReleaseDecision(AppendOnlyModel):
    """A quality manager's signed release or rejection of a lot (21 CFR Part 11 style): who,
    when, what it means, the statement signed after re-entering their password, and the
    evidence it was judged on."""

    class Decision(models.TextChoices):
        RELEASED = "released", _("released")
        REJECTED = "rejected", _("rejected")

    class Meaning(models.TextChoices):
        RELEASE = "release", _("release: the lot meets its specification and may be used")
        REJECT = "reject", _("rejection: the lot must not be used or sold")

    lot = models.ForeignKey(
        Lot, verbose_name=_("lot"), on_delete=models.PROTECT, related_name="release_decisions"
    )
    decision = models.CharField(_("decision"), max_length=8, choices=Decision.choices)
    meaning = models.CharField(_("meaning"), max_length=7, choices=Meaning.choices)
    statement = models.TextField(_("statement"))
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    signer_name = models.CharField(
        _("name signed"), max_length=300, help_text=_("The signer's full name at the time.")
    )
    signed_at = models.DateTimeField(_("signed"), default=timezone.now)
    specification = models.ForeignKey(
        Specification,
        verbose_name=_("judged against"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
    )
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    status_change = models.OneToOneField(
        StatusChange,
        verbose_name=_("status change"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="release_decision",
    )

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("release decision")
        verbose_name_plural = _("release decisions")
        permissions = [("sign_releasedecision", _("Can sign the release or rejection of lots"))]
        constraints = [
            models.CheckConstraint(
                condition=~Q(statement=""),
                name="release_decision_has_statement",
                violation_error_message=_("A signature needs its statement."),
            ),
            models.CheckConstraint(
                condition=Q(decision="released", meaning="release")
                | Q(decision="rejected", meaning="reject"),
                name="release_decision_meaning_matches",
                violation_error_message=_("The signature's meaning does not match the decision."),
            ),
        ]
        indexes = [models.Index(fields=["signed_at"], name="release_decision_signed_idx")]

    def __str__(self):
        return f"{self.lot}: {self.get_decision_display()} by {self.signer_name}"


# --- Quality control: process conditions -------------------------------------------------------


class MeasurementType(models.TextChoices):
    """What a reading measures; each is written to EPCIS as GS1 CBV's measurement type (see
    MEASUREMENT_EPCIS_TYPES), pH, which the CBV lacks, as our own URI."""

    TEMPERATURE = "temperature", _("temperature")
    TIME = "time", _("time (duration)")
    PH = "ph", _("pH")
    PRESSURE = "pressure", _("pressure")
    RELATIVE_HUMIDITY = "relative_humidity", _("relative humidity")
    ABSOLUTE_HUMIDITY = "absolute_humidity", _("absolute humidity")


class MeasurementUnit(models.TextChoices):
    """Units of readings, as UN/ECE Recommendation 20 codes (EPCIS sensorReport uom)."""

    CELSIUS = "CEL", _("°C")
    FAHRENHEIT = "FAH", _("°F")
    KELVIN = "KEL", _("K")
    SECOND = "SEC", _("s")
    MINUTE = "MIN", _("min")
    HOUR = "HUR", _("h")
    PH = "C62", _("pH")
    KILOPASCAL = "KPA", _("kPa")
    BAR = "BAR", _("bar")
    PASCAL = "PAL", _("Pa")
    MILLIBAR = "MBR", _("mbar")
    PERCENT = "P1", _("%")
    GRAMS_PER_M3 = "A93", _("g/m³")


# The units each measurement type may be given in; a reading in another unit of the same
# type is converted to its limit's unit (conditions.py), one of another type is refused.
MEASUREMENT_UNITS = {
    MeasurementType.TEMPERATURE: ("CEL", "FAH", "KEL"),
    MeasurementType.TIME: ("SEC", "MIN", "HUR"),
    MeasurementType.PH: ("C62",),
    MeasurementType.PRESSURE: ("KPA", "BAR", "PAL", "MBR"),
    MeasurementType.RELATIVE_HUMIDITY: ("P1",),
    MeasurementType.ABSOLUTE_HUMIDITY: ("A93",),
}


def _unit_fits_type(type_field: str = "measurement_type", unit_field: str = "unit") -> Q:
    """The database's side of MEASUREMENT_UNITS: the unit is one of its type's."""
    pairs = [
        Q(**{type_field: kind, f"{unit_field}__in": units})
        for kind, units in MEASUREMENT_UNITS.items()
    ]
    return functools.reduce(operator.or_, pairs)


class ConditionLimit(models.Model):
    """A process limit of a product: a reading of this type on its events must lie within it
    (edges included), e.g. storage 2 to 8 °C, pasteurisation at least 72 °C for at least 15 s."""

    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="condition_limits",
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the limit guards, e.g. cold storage.")
    )
    measurement_type = models.CharField(
        _("measurement"), max_length=20, choices=MeasurementType.choices
    )
    unit = models.CharField(_("unit"), max_length=3, choices=MeasurementUnit.choices)
    lower = models.DecimalField(
        _("lower limit"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("A reading equal to it is inside. Empty: no lower limit."),
    )
    upper = models.DecimalField(
        _("upper limit"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("A reading equal to it is inside. Empty: no upper limit."),
    )
    event_types = models.JSONField(
        _("event types"),
        default=list,
        blank=True,
        help_text=_("The events it applies to, e.g. receive, ship, transfer. Empty: all."),
    )
    site = models.ForeignKey(
        Site,
        verbose_name=_("site"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Only at this site. Empty: everywhere."),
    )
    hold_on_excursion = models.BooleanField(
        _("hold on excursion"),
        default=False,
        help_text=_(
            "Put released lots and units in stock on hold when a reading breaks this limit. "
            "Otherwise an excursion raises a deviation, which blocks release until decided."
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("condition limit")
        verbose_name_plural = _("condition limits")
        constraints = [
            models.CheckConstraint(
                condition=Q(lower__isnull=False) | Q(upper__isnull=False),
                name="condition_limit_has_bound",
                violation_error_message=_("Give a lower limit, an upper limit or both."),
            ),
            models.CheckConstraint(
                condition=Q(lower__isnull=True) | Q(upper__isnull=True) | Q(lower__lte=F("upper")),
                name="condition_limit_ordered",
                violation_error_message=_("The lower limit cannot be above the upper limit."),
            ),
            models.CheckConstraint(
                condition=_unit_fits_type(),
                name="condition_limit_unit_fits",
                violation_error_message=_("The unit does not measure this kind of condition."),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="condition_limit_has_name",
                violation_error_message=_("Name the limit, e.g. cold storage."),
            ),
        ]
        indexes = [
            models.Index(fields=["product", "measurement_type"], name="condition_limit_product_idx")
        ]

    def __str__(self):
        return f"{self.product.sku} {self.name}: {self.band}"

    def clean(self):
        unknown = [kind for kind in self.event_types or [] if kind not in EventType.values]
        if not isinstance(self.event_types, list) or unknown:
            raise ValidationError(
                {
                    "event_types": _("Unknown event types: %(types)s.")
                    % {"types": ", ".join(map(str, unknown or [self.event_types]))}
                }
            )

    @property
    def band(self) -> str:
        return limit_band(self.lower, self.upper, self.get_unit_display())

    def applies_to(self, event_type: str, site_id: int | None) -> bool:
        return (
            self.active
            and (not self.event_types or event_type in self.event_types)
            and (self.site_id is None or self.site_id == site_id)
        )


def limit_band(lower, upper, unit: str) -> str:
    """A limit in words: "2 to 8 °C", "≥ 72 °C", "≤ 4.6 pH"."""
    lower = None if lower is None else f"{Decimal(lower).normalize():f}"
    upper = None if upper is None else f"{Decimal(upper).normalize():f}"
    if lower is not None and upper is not None:
        return f"{lower} to {upper} {unit}"
    if lower is not None:
        return f"≥ {lower} {unit}"
    return f"≤ {upper} {unit}"


class Measurement(AppendOnlyModel):
    """A reading of a process condition on an event, judged against the limits in force when
    it was recorded (kept with it, so a later change of a limit does not rewrite history)."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("entered by hand")
        EPCIS = "epcis", _("EPCIS sensor data")

    event = models.ForeignKey(
        TraceEvent,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="measurements",
    )
    measurement_type = models.CharField(
        _("measurement"), max_length=20, choices=MeasurementType.choices
    )
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4, null=True, blank=True)
    min_value = models.DecimalField(
        _("minimum"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    max_value = models.DecimalField(
        _("maximum"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    mean_value = models.DecimalField(
        _("mean"), max_digits=14, decimal_places=4, null=True, blank=True
    )
    unit = models.CharField(_("unit"), max_length=3, choices=MeasurementUnit.choices)
    measured_at = models.DateTimeField(_("measured"))
    device_id = models.CharField(
        _("device"), max_length=255, blank=True, help_text=_("The sensor or instrument.")
    )
    source = models.CharField(_("source"), max_length=6, choices=Source.choices)
    limits = models.JSONField(
        _("limits in force"),
        default=list,
        blank=True,
        help_text=_("Each limit that applied when it was recorded, with its verdict."),
    )
    within_limits = models.BooleanField(
        _("within limits"),
        null=True,
        blank=True,
        help_text=_("Empty when no limit applied."),
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")
        constraints = [
            models.CheckConstraint(
                condition=Q(value__isnull=False)
                | Q(min_value__isnull=False)
                | Q(max_value__isnull=False)
                | Q(mean_value__isnull=False),
                name="measurement_has_value",
                violation_error_message=_(
                    "A reading needs a value (or a minimum, maximum or mean)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=F("max_value")),
                name="measurement_min_not_above_max",
                violation_error_message=_("The minimum cannot be above the maximum."),
            ),
            models.CheckConstraint(
                condition=_unit_fits_type(),
                name="measurement_unit_fits",
                violation_error_message=_("The unit does not measure this kind of condition."),
            ),
            models.CheckConstraint(
                condition=Q(source__in=["manual", "epcis"]),
                name="measurement_source_valid",
                violation_error_message=_("Unknown source of a reading."),
            ),
        ]
        indexes = [
            models.Index(fields=["measured_at"], name="measurement_time_idx"),
            models.Index(fields=["within_limits", "measured_at"], name="measurement_verdict_idx"),
        ]

    def __str__(self):
        return f"{self.get_measurement_type_display()} {self.reading}"

    @property
    def reading(self) -> str:
        """The figures as read: "9.5 °C", or "min 2.1, max 9.5, mean 5 °C"."""
        unit = self.get_unit_display()
        if self.value is not None and self.min_value is None and self.max_value is None:
            return f"{self.value.normalize():f} {unit}"
        parts = [
            f"{label} {number.normalize():f}"
            for label, number in (
                ("", self.value),
                ("min", self.min_value),
                ("max", self.max_value),
                ("mean", self.mean_value),
            )
            if number is not None
        ]
        return f"{', '.join(part.strip() for part in parts)} {unit}"
