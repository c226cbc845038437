"""Recall campaigns: what was recalled and why, the frozen snapshot of what it reached, the
consignees to notify, and the campaign's timeline.

A campaign's affected items and consignee notices are written once, in bulk, when it opens
(recalls/services.py); later trace events do not change them. An affected item has a row for
every trading partner that received it (from us, or passed on by a consignee: `shipped_by`),
with the quantity shipped to them. A lot also has a row for what was still on hand and one for
what went into other lots (or was destroyed): those and the rows of what we shipped add up to
the quantity produced. A unit also has a row for where it was, unless a partner held it.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from inventory.models import APPEND_ONLY_TRIGGERS, AppendOnlyModel, Item, Party, Product, Site, Unit

REFERENCE_PATTERN = r"^RC-[0-9]{4}-[0-9]{4,}$"
# How an affected line reaches its product: through its item's lot or serial unit.
PRODUCT_RELATIONS = ("item__lot__product", "item__serialunit__product")


class RecallSequence(models.Model):
    """The last campaign number given out in a year; its row is locked while a number is taken."""

    year = models.PositiveIntegerField(_("year"), unique=True)
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("recall reference sequence")
        verbose_name_plural = _("recall reference sequences")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    ONGOING = "ongoing", _("ongoing")
    COMPLETED = "completed", _("completed")
    TERMINATED = "terminated", _("terminated")


class Classification(models.TextChoices):
    CLASS_I = "I", _("Class I")
    CLASS_II = "II", _("Class II")
    CLASS_III = "III", _("Class III")


class Depth(models.TextChoices):
    CONSUMER = "consumer", _("consumer or user")
    RETAIL = "retail", _("retail")
    WHOLESALE = "wholesale", _("wholesale")


class PublicWarning(models.TextChoices):
    NONE = "none", _("none")
    GENERAL = "general", _("general (news media)")
    SPECIALISED = "specialised", _("specialised (trade or professional press)")


class EffectivenessCheck(models.TextChoices):
    A = "A", _("Level A: 100% of consignees")
    B = "B", _("Level B: between 10% and 100%")
    C = "C", _("Level C: 10%")
    D = "D", _("Level D: 2%")
    E = "E", _("Level E: no effectiveness checks")


class RecallCampaign(models.Model):
    """A recall (or a mock-recall drill): its strategy under 21 CFR 7.42 and its lifecycle."""

    Status = CampaignStatus
    Classification = Classification
    Depth = Depth
    PublicWarning = PublicWarning
    EffectivenessCheck = EffectivenessCheck

    reference = models.CharField(
        _("reference"),
        max_length=16,
        unique=True,
        editable=False,
        help_text=_("RC-YEAR-NUMBER, numbered in sequence within each year."),
    )
    year = models.PositiveIntegerField(_("year"), editable=False)
    number = models.PositiveIntegerField(_("number"), editable=False)
    title = models.CharField(_("title"), max_length=200)
    reason = models.TextField(_("reason"), help_text=_("Why the products are recalled."))
    hazard = models.TextField(
        _("hazard"), blank=True, help_text=_("The health hazard or defect, as assessed.")
    )
    classification = models.CharField(
        _("classification"), max_length=3, choices=Classification.choices
    )
    depth = models.CharField(
        _("depth"),
        max_length=10,
        choices=Depth.choices,
        default=Depth.CONSUMER,
        help_text=_("The level of the distribution chain the recall extends to."),
    )
    public_warning = models.CharField(
        _("public warning"),
        max_length=12,
        choices=PublicWarning.choices,
        default=PublicWarning.NONE,
    )
    effectiveness_check = models.CharField(
        _("effectiveness-check level"),
        max_length=1,
        choices=EffectivenessCheck.choices,
        default=EffectivenessCheck.A,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="recall_campaigns",
        help_text=_("The manager responsible for the campaign."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    is_drill = models.BooleanField(
        _("mock recall (drill)"),
        default=False,
        editable=False,
        help_text=_("A drill never changes stock status and never notifies real consignees."),
    )
    scope = models.JSONField(
        _("scope"),
        default=list,
        editable=False,
        help_text=_("What the campaign was opened for, as given: identifiers, lots and units."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True, editable=False)
    trace_duration = models.DurationField(
        _("time to trace"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("From the request to the affected set being known."),
    )
    estimated_completion_on = models.DateField(_("estimated completion"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, editable=False)
    terminated_at = models.DateTimeField(_("terminated"), null=True, blank=True, editable=False)
    scope_revision = models.PositiveIntegerField(
        _("scope revision"),
        default=0,
        editable=False,
        help_text=_("1 when the campaign opens; each re-scope adds one."),
    )
    notice_subject = models.CharField(
        _("notice subject"),
        max_length=200,
        blank=True,
        help_text=_("The consignee notice's subject line; template variables allowed."),
    )
    notice_body = models.TextField(
        _("notice text"),
        blank=True,
        help_text=_("The consignee notice; template variables allowed (see the notice page)."),
    )
    consumer_notice = models.TextField(
        _("consumer notice"),
        blank=True,
        help_text=_(
            "What a consumer who checks a recalled unit is told: the risk in plain words and "
            "what to do"
        ),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("recall campaign")
        verbose_name_plural = _("recall campaigns")
        constraints = [
            models.UniqueConstraint(
                fields=["year", "number"],
                name="recall_unique_number_per_year",
                violation_error_message=_("This year already has a campaign with this number."),
            ),
            models.CheckConstraint(
                condition=Q(reference__regex=REFERENCE_PATTERN),
                name="recall_reference_format",
                violation_error_message=_("A campaign reference reads RC-YEAR-NUMBER."),
            ),
            models.CheckConstraint(
                condition=Q(number__gt=0),
                name="recall_number_positive",
                violation_error_message=_("Campaign numbers start at 1."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values),
                name="recall_status_valid",
                violation_error_message=_("Unknown campaign status."),
            ),
            models.CheckConstraint(
                condition=Q(classification__in=Classification.values),
                name="recall_classification_valid",
                violation_error_message=_("A recall is Class I, II or III."),
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="recall_has_title",
                violation_error_message=_("Give the campaign a title."),
            ),
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="recall_has_reason",
                violation_error_message=_("Say why the products are recalled."),
            ),
            models.CheckConstraint(
                condition=Q(status=CampaignStatus.DRAFT) | Q(opened_at__isnull=False),
                name="recall_opened_has_date",
                violation_error_message=_("A campaign past its draft needs its opening time."),
            ),
            models.CheckConstraint(
                condition=~Q(status=CampaignStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="recall_completed_has_date",
                violation_error_message=_("A completed campaign needs its completion time."),
            ),
            models.CheckConstraint(
                condition=~Q(status=CampaignStatus.TERMINATED) | Q(terminated_at__isnull=False),
                name="recall_terminated_has_date",
                violation_error_message=_("A terminated campaign needs its termination time."),
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="recall_status_opened_idx")]
        permissions = [
            ("open_recallcampaign", _("Can open and re-scope recall campaigns")),
            ("close_recallcampaign", _("Can complete and terminate recall campaigns")),
            ("send_consigneenotice", _("Can send recall notices to consignees")),
        ]

    def __str__(self):
        drill = _(" (drill)") if self.is_drill else ""
        return f"{self.reference} {self.title}{drill}"

    def get_absolute_url(self):
        return reverse("recalls:campaign", args=[self.reference])

    @property
    def public_notice(self) -> str:
        """What the public verification page tells a consumer: ours, else the reason and
        the plain instruction every consumer recall gives."""
        if self.consumer_notice.strip():
            return self.consumer_notice.strip()
        reason = self.reason.strip().rstrip(".")
        return _("%(reason)s. Stop using it and contact the seller or the manufacturer.") % {
            "reason": reason
        }

    @property
    def is_open(self) -> bool:
        """Items can be resolved and consignees worked while the campaign is ongoing."""
        return self.status == CampaignStatus.ONGOING

    @property
    def is_closed(self) -> bool:
        return self.status in (CampaignStatus.COMPLETED, CampaignStatus.TERMINATED)

    @property
    def time_to_complete(self):
        if self.opened_at is None or self.completed_at is None:
            return None
        return self.completed_at - self.opened_at


class Whereabouts(models.TextChoices):
    ON_HAND = "on_hand", _("on hand at our site")
    SHIPPED = "shipped", _("shipped to a consignee")
    INSTALLED = "installed", _("installed in a unit")
    USED = "used", _("used up or destroyed")


class Resolution(models.TextChoices):
    LOCATED = "located", _("located")
    RETURNED = "returned", _("returned")
    DESTROYED = "destroyed", _("destroyed")
    CORRECTED = "corrected", _("reworked or corrected")
    CONSUMED = "consumed", _("consumed or sold (unrecoverable)")
    NOT_FOUND = "not_found", _("not found")


class AffectedItem(models.Model):
    """Where (part of) an affected lot or unit was when the campaign opened, and its outcome."""

    Whereabouts = Whereabouts
    Resolution = Resolution

    campaign = models.ForeignKey(
        RecallCampaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        related_name="affected_items",
        db_index=False,  # the unique constraints start with the campaign
    )
    # Indexed in Meta (affected_item_idx), for the lot and unit pages that list the campaigns
    # naming an item. Its product is read through it (`product`, PRODUCT_RELATIONS): a
    # column of its own was one more foreign key to check per line, a second per 100,000.
    item = models.ForeignKey(
        Item,
        verbose_name=_("item"),
        on_delete=models.PROTECT,
        related_name="recall_lines",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=6, choices=Item.Kind.choices)
    lot_code = models.CharField(
        _("lot code"),
        max_length=20,
        blank=True,
        default="",
        help_text=_("A unit's production lot, if any."),
    )
    serial = models.CharField(_("serial number"), max_length=20, blank=True, default="")
    depth = models.PositiveIntegerField(
        _("depth"), help_text=_("Steps from the recalled scope; 0 for the scope itself.")
    )
    position = models.PositiveIntegerField(
        _("position"), help_text=_("The item's place in the trace, which lists the scope first.")
    )
    path = models.JSONField(
        _("path"), default=list, help_text=_("The chain of items that made this one affected.")
    )
    status_at_opening = models.CharField(_("status at opening"), max_length=12)
    put_on_hold = models.BooleanField(
        _("put on hold"), default=False, help_text=_("Opening the campaign marked it recalled.")
    )
    whereabouts = models.CharField(_("where at opening"), max_length=9, choices=Whereabouts)
    site = models.ForeignKey(
        Site,
        verbose_name=_("on hand at"),
        on_delete=models.PROTECT,
        null=True,
        db_index=False,  # a partial index below: most rows have none
        blank=True,
        related_name="+",
    )
    consignee = models.ForeignKey(
        Party,
        verbose_name=_("shipped to"),
        on_delete=models.PROTECT,
        null=True,
        db_index=False,  # a partial index below: most rows have none
        blank=True,
        related_name="+",
    )
    shipped_by = models.ForeignKey(
        Party,
        verbose_name=_("shipped by"),
        on_delete=models.PROTECT,
        null=True,
        db_index=False,  # a partial index below: most rows have none
        blank=True,
        related_name="+",
        help_text=_("The consignee who passed it on; empty when we shipped it."),
    )
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    installed_in = models.ForeignKey(
        Item,
        verbose_name=_("installed in"),
        on_delete=models.PROTECT,
        null=True,
        db_index=False,  # a partial index below: most rows have none
        blank=True,
        related_name="+",
    )
    quantity = models.DecimalField(
        _("quantity"), max_digits=14, decimal_places=3, validators=[MinValueValidator(0)]
    )
    unit = models.CharField(_("unit"), max_length=3, choices=Unit)
    resolution = models.CharField(
        _("resolution"), max_length=9, choices=Resolution, blank=True, default=""
    )
    resolved_quantity = models.DecimalField(
        _("quantity resolved"),
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        db_index=False,  # a partial index below: most rows have none
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    evidence = models.TextField(_("evidence"), blank=True, default="")
    added_in = models.PositiveIntegerField(
        _("added in scope revision"),
        default=1,
        help_text=_("1 when the campaign opened; higher when a re-scope added it."),
    )
    removed_at = models.DateTimeField(
        _("removed from scope"),
        null=True,
        blank=True,
        help_text=_("A re-scope took the item out; the row stays for the record."),
    )

    class Meta:
        verbose_name = _("affected item")
        verbose_name_plural = _("affected items")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "item", "consignee"],
                condition=Q(
                    consignee__isnull=False, shipped_by__isnull=True, removed_at__isnull=True
                ),
                name="affected_unique_per_consignee",
                violation_error_message=_("The campaign already lists this item at this party."),
            ),
            models.UniqueConstraint(
                fields=["campaign", "item", "consignee", "shipped_by"],
                condition=Q(shipped_by__isnull=False, removed_at__isnull=True),
                name="affected_unique_per_reshipment",
                violation_error_message=_("The campaign already lists this item at this party."),
            ),
            models.UniqueConstraint(
                fields=["campaign", "item", "whereabouts"],
                condition=Q(consignee__isnull=True, removed_at__isnull=True),
                name="affected_unique_per_whereabouts",
                violation_error_message=_("The campaign already lists this item there."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0),
                name="affected_quantity_not_negative",
                violation_error_message=_("A quantity cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(resolved_quantity__isnull=True) | Q(resolved_quantity__gte=0),
                name="affected_resolved_not_negative",
                violation_error_message=_("A quantity cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(resolved_quantity__isnull=True)
                | Q(resolved_quantity__lte=F("quantity")),
                name="affected_resolved_within_quantity",
                violation_error_message=_("More cannot be resolved than the campaign lists."),
            ),
            models.CheckConstraint(
                condition=Q(whereabouts__in=Whereabouts.values),
                name="affected_whereabouts_valid",
                violation_error_message=_("Unknown whereabouts."),
            ),
            models.CheckConstraint(
                condition=~Q(whereabouts=Whereabouts.SHIPPED) | Q(consignee__isnull=False),
                name="affected_shipped_has_consignee",
                violation_error_message=_("Say which consignee the item was shipped to."),
            ),
            models.CheckConstraint(
                condition=Q(consignee__isnull=False) | Q(shipped_by__isnull=True),
                name="affected_shipped_by_has_consignee",
                violation_error_message=_("Say whom the consignee passed the item on to."),
            ),
            models.CheckConstraint(
                condition=Q(whereabouts=Whereabouts.SHIPPED) | Q(consignee__isnull=True),
                name="affected_consignee_only_if_shipped",
                violation_error_message=_("Only a shipped item has a consignee."),
            ),
            models.CheckConstraint(
                condition=~Q(whereabouts=Whereabouts.INSTALLED) | Q(installed_in__isnull=False),
                name="affected_installed_has_assembly",
                violation_error_message=_("Say which unit the item was installed in."),
            ),
            models.CheckConstraint(
                condition=Q(resolution__in=["", *Resolution.values]),
                name="affected_resolution_valid",
                violation_error_message=_("Unknown resolution."),
            ),
            models.CheckConstraint(
                condition=Q(resolution="", resolved_at__isnull=True)
                | (~Q(resolution="") & Q(resolved_at__isnull=False)),
                name="affected_resolution_has_date",
                violation_error_message=_(
                    "A resolution needs its date, and a date its resolution."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "position"], name="affected_campaign_order_idx"),
            # Every lot and unit page lists the campaigns that name it: without this, each view
            # scans every line of every campaign ever opened (50 ms at 100,000 lines, and
            # growing), for about 0.2 s more when a campaign of 100,000 lines opens.
            models.Index(fields=["item"], name="affected_item_idx"),
            # For the PROTECT checks when a party, site, unit or user is deleted: only rows
            # that name one are indexed, so opening a campaign of 100,000 rows writes fewer.
            # The consignee's also serves a consignee's lines and the lines' consignee filter.
            *(
                models.Index(
                    fields=[name],
                    condition=Q(**{f"{name}__isnull": False}),
                    name=f"affected_{name}_idx",
                )
                for name in ("site", "consignee", "shipped_by", "installed_in", "resolved_by")
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def label(self):
        """As the trace names the item: 'SKU lot CODE' or 'SKU serial NUMBER' (its path ends
        with it)."""
        if self.path:
            return self.path[-1]
        if self.kind == Item.Kind.SERIAL:
            return f"{self.product.sku} serial {self.serial}"
        return f"{self.product.sku} lot {self.lot_code}"

    @property
    def product(self) -> Product:
        """The item's product, through its lot or unit: select_related(*PRODUCT_RELATIONS)
        reads it with the lines."""
        tracked = self.item.serialunit if self.kind == Item.Kind.SERIAL else self.item.lot
        return tracked.product

    @property
    def quantity_left(self):
        """What is still to be resolved of the line."""
        return self.quantity - (self.resolved_quantity or 0)


class NoticeMethod(models.TextChoices):
    EMAIL = "email", _("e-mail")
    LETTER = "letter", _("letter")
    PHONE = "phone", _("telephone")
    FAX = "fax", _("fax")
    IN_PERSON = "visit", _("in person")


class CheckResult(models.TextChoices):
    EFFECTIVE = "effective", _("effective")
    INEFFECTIVE = "ineffective", _("ineffective")
    NO_RESPONSE = "no_response", _("no response")


class ConsigneeNotice(models.Model):
    """A party that received affected items: what they got, the notice and their response."""

    Method = NoticeMethod
    CheckResult = CheckResult

    campaign = models.ForeignKey(
        RecallCampaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        related_name="notices",
        db_index=False,  # campaign + party is unique
    )
    party = models.ForeignKey(
        Party, verbose_name=_("consignee"), on_delete=models.PROTECT, related_name="recall_notices"
    )
    received = models.JSONField(
        _("received"),
        default=list,
        blank=True,
        help_text=_("What they were shipped, as at opening: item, quantity, unit, when."),
    )
    method = models.CharField(_("method"), max_length=6, choices=Method, blank=True, default="")
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    unit = models.CharField(
        _("unit"),
        max_length=3,
        choices=Unit,
        blank=True,
        default="",
        help_text=_("Of the quantities below."),
    )
    quantity_on_hand = models.DecimalField(
        _("quantity on hand when notified"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    quantity_returned = models.DecimalField(
        _("quantity returned"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    quantity_destroyed = models.DecimalField(
        _("quantity destroyed"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    quantity_corrected = models.DecimalField(
        _("quantity corrected"), max_digits=14, decimal_places=3, null=True, blank=True
    )
    check_result = models.CharField(
        _("effectiveness-check result"), max_length=11, choices=CheckResult, blank=True, default=""
    )
    notes = models.TextField(_("notes"), blank=True, default="")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    sent_to = models.CharField(
        _("sent to"),
        max_length=254,
        blank=True,
        default="",
        help_text=_("The e-mail address, postal address or number the notice went to."),
    )
    subject = models.CharField(
        _("subject as sent"), max_length=250, blank=True, default="", editable=False
    )
    body = models.TextField(_("text as sent"), blank=True, default="", editable=False)
    responded_at = models.DateTimeField(
        _("response recorded"),
        null=True,
        blank=True,
        help_text=_("When the consignee's answer (quantities on hand, returned…) was recorded."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("consignee notice")
        verbose_name_plural = _("consignee notices")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "party"],
                name="notice_unique_per_party",
                violation_error_message=_("The campaign already has a notice for this consignee."),
            ),
            models.CheckConstraint(
                condition=Q(method="", sent_at__isnull=True)
                | (~Q(method="") & Q(sent_at__isnull=False)),
                name="notice_sent_has_method",
                violation_error_message=_("A sent notice needs its method, and a method its date."),
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True)
                | Q(sent_at__isnull=True)
                | Q(acknowledged_at__gte=F("sent_at")),
                name="notice_acknowledged_after_sent",
                violation_error_message=_("A notice cannot be acknowledged before it was sent."),
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 0}),
                    name=f"notice_{name}_not_negative",
                    violation_error_message=_("A quantity cannot be negative."),
                )
                for name in (
                    "quantity_on_hand",
                    "quantity_returned",
                    "quantity_destroyed",
                    "quantity_corrected",
                )
            ),
            models.CheckConstraint(
                condition=Q(check_result__in=["", *CheckResult.values]),
                name="notice_check_result_valid",
                violation_error_message=_("Unknown effectiveness-check result."),
            ),
        ]

    def __str__(self):
        return f"{self.campaign.reference} → {self.party}"

    @property
    def has_responded(self) -> bool:
        return self.responded_at is not None or self.acknowledged_at is not None

    @property
    def quantity_recovered(self):
        parts = (self.quantity_returned, self.quantity_destroyed, self.quantity_corrected)
        if all(part is None for part in parts):
            return None
        return sum(part for part in parts if part is not None)


class CampaignFigures(models.Model):
    """A campaign's active lines and their resolutions, counted as campaign_progress groups
    them, so its page reads one row instead of aggregating 100,000 lines at every view.

    Written when the campaign opens and recounted when it is re-scoped; a resolution or its
    reversal changes them in the same transaction, under the campaign's row lock. A campaign
    without them (a draft, or one opened before they existed) is aggregated instead.
    """

    campaign = models.OneToOneField(
        RecallCampaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="figures",
    )
    items = models.PositiveIntegerField(_("affected items"), default=0)
    lines = models.JSONField(
        _("lines"),
        default=list,
        help_text=_(
            "Per unit, whereabouts and whether a consignee passed them on: the lines, their "
            "quantity (a decimal string) and how many are resolved in full."
        ),
    )
    resolutions = models.JSONField(
        _("resolutions"),
        default=list,
        help_text=_("Per unit and outcome: the entries and their quantity (a decimal string)."),
    )

    class Meta:
        verbose_name = _("campaign figures")
        verbose_name_plural = _("campaign figures")

    def __str__(self):
        return f"{self.campaign_id}: {self.items} items"


class ItemResolution(AppendOnlyModel):
    """One outcome recorded for (part of) an affected item: what happened to how much, who said
    so, when, and on what evidence. Entries are never changed; a mistake is corrected by a
    reversing entry (negative quantity) with its reason."""

    campaign = models.ForeignKey(
        RecallCampaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        related_name="resolutions",
        db_index=False,  # resolution_campaign_idx serves it
    )
    affected_item = models.ForeignKey(
        AffectedItem,
        verbose_name=_("affected item"),
        on_delete=models.PROTECT,
        related_name="resolutions",
    )
    outcome = models.CharField(_("outcome"), max_length=9, choices=Resolution)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=14,
        decimal_places=3,
        help_text=_("Negative when the entry reverses an earlier one."),
    )
    unit = models.CharField(_("unit"), max_length=3, choices=Unit)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    evidence = models.TextField(_("evidence"), blank=True, default="")

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("item resolution")
        verbose_name_plural = _("item resolutions")
        constraints = [
            models.CheckConstraint(
                condition=~Q(quantity=0),
                name="resolution_quantity_not_zero",
                violation_error_message=_("Say how much was resolved."),
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=Resolution.values),
                name="resolution_outcome_valid",
                violation_error_message=_("Unknown resolution."),
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "recorded_at"], name="resolution_campaign_idx"),
        ]

    def __str__(self):
        return f"{self.get_outcome_display()} {self.quantity} {self.unit}"


class SignatureMeaning(models.TextChoices):
    COMPLETED = "completed", _("completion: recall actions are done")
    TERMINATED = "terminated", _("termination: the recall is closed")
    EXCEPTION = "exception", _("termination despite open responses or quantities")


class CampaignSignature(AppendOnlyModel):
    """An electronic signature on a campaign (21 CFR Part 11 style): who, when, what it means,
    the statement they signed, re-authenticated with their password."""

    Meaning = SignatureMeaning

    campaign = models.ForeignKey(
        RecallCampaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        related_name="signatures",
    )
    meaning = models.CharField(_("meaning"), max_length=10, choices=SignatureMeaning)
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
    statement = models.TextField(_("statement"))

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("campaign signature")
        verbose_name_plural = _("campaign signatures")
        constraints = [
            models.CheckConstraint(
                condition=~Q(statement=""),
                name="signature_has_statement",
                violation_error_message=_("A signature needs its statement."),
            ),
            models.CheckConstraint(
                condition=Q(meaning__in=SignatureMeaning.values),
                name="signature_meaning_valid",
                violation_error_message=_("Unknown signature meaning."),
            ),
        ]

    def __str__(self):
        return f"{self.signer_name}, {self.signed_at:%Y-%m-%d %H:%M}: {self.get_meaning_display()}"


class NoticeTemplate(models.Model):
    """The wording a new campaign starts its consignee notice from; administrators edit it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("New campaigns start from this one.")
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("notice template")
        verbose_name_plural = _("notice templates")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="notice_template_one_default",
                violation_error_message=_("Another template is already the default."),
            ),
        ]

    def __str__(self):
        return self.name


class CampaignEvent(AppendOnlyModel):
    """One entry of a campaign's timeline: who did what, when."""

    class Kind(models.TextChoices):
        DRAFTED = "drafted", _("drafted")
        OPENED = "opened", _("opened")
        HELD = "held", _("stock put on hold")
        CHANGED = "changed", _("details changed")
        RESCOPED = "rescoped", _("re-scoped")
        NOTICE = "notice", _("notice changed")
        SENT = "sent", _("notices sent")
        RESPONSE = "response", _("consignee response")
        RESOLVED = "resolved", _("items resolved")
        COMPLETED = "completed", _("completed")
        TERMINATED = "terminated", _("terminated")
        REPORT = "report", _("report produced")

    campaign = models.ForeignKey(
        RecallCampaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        related_name="timeline",
        db_index=False,  # campaign_event_timeline_idx serves it
    )
    kind = models.CharField(_("what"), max_length=10, choices=Kind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    message = models.TextField(_("message"))
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("campaign timeline entry")
        verbose_name_plural = _("campaign timeline")
        constraints = [
            models.CheckConstraint(
                condition=~Q(message=""),
                name="campaign_event_has_message",
                violation_error_message=_("Say what happened."),
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "occurred_at"], name="campaign_event_timeline_idx"),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


# --- Non-conformances and CAPA (ISO 9001 10.2, ISO 13485 8.3 / 8.5.2, 21 CFR 820.100) -------

NC_REFERENCE_PATTERN = r"^NC-[0-9]{4}-[0-9]{4,}$"


class NonConformanceSeverity(models.TextChoices):
    CRITICAL = "critical", _("critical")
    MAJOR = "major", _("major")
    MINOR = "minor", _("minor")


class NonConformanceSource(models.TextChoices):
    INCOMING = "incoming", _("incoming inspection")
    IN_PROCESS = "in_process", _("in-process")
    COMPLAINT = "complaint", _("customer complaint")
    SUPPLIER = "supplier", _("supplier")
    AUDIT = "audit", _("audit")
    FIELD_RETURN = "field_return", _("field return")
    OTHER = "other", _("other")


class NonConformanceStatus(models.TextChoices):
    OPEN = "open", _("open")
    INVESTIGATING = "investigating", _("investigating")
    ACTION = "action", _("actions (CAPA)")
    EFFECTIVENESS = "effectiveness", _("effectiveness check")
    CLOSED = "closed", _("closed")


class RootCauseCategory(models.TextChoices):
    MATERIAL = "material", _("material")
    METHOD = "method", _("method")
    MACHINE = "machine", _("machine")
    MAN = "man", _("people (man)")
    MEASUREMENT = "measurement", _("measurement")
    ENVIRONMENT = "environment", _("environment")


class Disposition(models.TextChoices):
    USE_AS_IS = "use_as_is", _("use as is (concession)")
    REWORK = "rework", _("rework")
    REGRADE = "regrade", _("regrade")
    RETURN = "return", _("return to supplier")
    SCRAP = "scrap", _("scrap")
    RECALL = "recall", _("recall")


class NonConformanceClosure(models.TextChoices):
    EFFECTIVE = "effective", _("actions verified effective")
    NO_ACTION = "no_action", _("no action needed")


class NonConformance(models.Model):
    """A non-conformance report: what is wrong with which lots or units, its investigation,
    root cause and disposition, the CAPA actions it needs, and the recall it led to."""

    Severity = NonConformanceSeverity
    Source = NonConformanceSource
    Status = NonConformanceStatus
    RootCause = RootCauseCategory
    Disposition = Disposition
    Closure = NonConformanceClosure

    reference = models.CharField(
        _("reference"),
        max_length=16,
        unique=True,
        editable=False,
        help_text=_("NC-YEAR-NUMBER, numbered in sequence within each year."),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("defect"), help_text=_("What is wrong, against which requirement, and how much.")
    )
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices)
    detected_on = models.DateField(_("detected on"))
    party = models.ForeignKey(
        Party,
        verbose_name=_("supplier or customer"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="nonconformances",
        help_text=_("The supplier at fault or the customer who complained, if any."),
    )
    items = models.ManyToManyField(
        Item,
        verbose_name=_("lots and serial units"),
        through="NonConformanceItem",
        related_name="nonconformances",
    )
    status = models.CharField(
        _("status"), max_length=13, choices=Status.choices, default=Status.OPEN, editable=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="owned_nonconformances",
        help_text=_("The person responsible for the investigation and its CAPA."),
    )
    containment = models.TextField(
        _("containment"),
        blank=True,
        help_text=_("What was done at once to stop the problem spreading (hold, segregate…)."),
    )
    investigation = models.TextField(
        _("investigation"), blank=True, help_text=_("What the investigation found.")
    )
    root_cause = models.TextField(_("root cause"), blank=True)
    root_cause_category = models.CharField(
        _("root-cause category"), max_length=11, choices=RootCause.choices, blank=True
    )
    disposition = models.CharField(
        _("disposition"),
        max_length=9,
        choices=Disposition.choices,
        blank=True,
        help_text=_("What becomes of the nonconforming product."),
    )
    disposition_note = models.TextField(
        _("disposition justification"),
        blank=True,
        help_text=_("Why, and who authorised it; a concession needs it."),
    )
    recall_campaign = models.ForeignKey(
        RecallCampaign,
        verbose_name=_("recall campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="nonconformances",
        editable=False,
        help_text=_("The recall this non-conformance led to."),
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reported by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("reported"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    closure = models.CharField(
        _("closure"), max_length=9, choices=Closure.choices, blank=True, editable=False
    )
    closing_note = models.TextField(
        _("closing statement"),
        blank=True,
        editable=False,
        help_text=_("The evidence of effectiveness, or why no action is needed."),
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    closed_by_name = models.CharField(
        _("name signed"),
        max_length=300,
        blank=True,
        editable=False,
        help_text=_("The closer's full name when they signed."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("non-conformance")
        verbose_name_plural = _("non-conformances")
        permissions = [("close_nonconformance", _("Can close non-conformances (signed)"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(reference__regex=NC_REFERENCE_PATTERN),
                name="nc_reference_format",
                violation_error_message=_("A non-conformance reference reads NC-YEAR-NUMBER."),
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="nc_has_title",
                violation_error_message=_("Give the non-conformance a title."),
            ),
            models.CheckConstraint(
                condition=~Q(description=""),
                name="nc_has_description",
                violation_error_message=_("Describe the defect."),
            ),
            models.CheckConstraint(
                condition=Q(severity__in=NonConformanceSeverity.values),
                name="nc_severity_valid",
                violation_error_message=_("A non-conformance is critical, major or minor."),
            ),
            models.CheckConstraint(
                condition=Q(source__in=NonConformanceSource.values),
                name="nc_source_valid",
                violation_error_message=_("Unknown non-conformance source."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=NonConformanceStatus.values),
                name="nc_status_valid",
                violation_error_message=_("Unknown non-conformance status."),
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["action", "effectiveness"])
                | (~Q(root_cause="") & ~Q(root_cause_category="")),
                name="nc_actions_follow_root_cause",
                violation_error_message=_(
                    "Record the root cause and its category before planning actions."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(disposition="use_as_is") | ~Q(disposition_note=""),
                name="nc_concession_justified",
                violation_error_message=_("A use-as-is concession needs its justification."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="closed", closed_at__isnull=False, closed_by__isnull=False)
                    & ~Q(closure="")
                    & ~Q(closing_note="")
                )
                | (~Q(status="closed") & Q(closed_at__isnull=True, closure="")),
                name="nc_closed_is_signed",
                violation_error_message=_(
                    "A closed non-conformance has its closure, statement, signer and time, and "
                    "only it."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(closure="no_action") | ~Q(severity="critical"),
                name="nc_critical_needs_action",
                violation_error_message=_(
                    "A critical non-conformance needs corrective action; it cannot be closed as "
                    "needing none."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="nc_status_idx"),
            models.Index(fields=["detected_on"], name="nc_detected_idx"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def get_absolute_url(self):
        return reverse("quality:nc_detail", args=[self.reference])

    @property
    def is_closed(self) -> bool:
        return self.status == NonConformanceStatus.CLOSED


class NonConformanceItem(models.Model):
    """A lot or serial unit a non-conformance names, with how much of it is nonconforming."""

    nonconformance = models.ForeignKey(
        NonConformance,
        verbose_name=_("non-conformance"),
        on_delete=models.CASCADE,
        related_name="named_items",
        db_index=False,  # the unique constraint starts with it
    )
    item = models.ForeignKey(
        Item,
        verbose_name=_("lot or serial unit"),
        on_delete=models.PROTECT,
        related_name="nonconformance_lines",
    )
    quantity = models.DecimalField(
        _("quantity nonconforming"),
        max_digits=14,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("In the lot's unit; empty when the whole lot (or the unit) is affected."),
    )

    class Meta:
        verbose_name = _("non-conforming item")
        verbose_name_plural = _("non-conforming items")
        constraints = [
            models.UniqueConstraint(
                fields=["nonconformance", "item"],
                name="nc_item_unique",
                violation_error_message=_("The non-conformance already names this item."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gt=0),
                name="nc_item_quantity_positive",
                violation_error_message=_("A nonconforming quantity is more than zero."),
            ),
        ]

    def __str__(self):
        return f"{self.nonconformance_id}: {self.item}"


class CapaKind(models.TextChoices):
    CORRECTIVE = "corrective", _("corrective")
    PREVENTIVE = "preventive", _("preventive")


class CapaStatus(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", _("done, awaiting verification")
    VERIFIED = "verified", _("verified effective")
    CANCELLED = "cancelled", _("cancelled")


class CapaAction(models.Model):
    """A corrective or preventive action of a non-conformance: who does what by when, what
    was done, and who verified that it worked."""

    Kind = CapaKind
    Status = CapaStatus

    nonconformance = models.ForeignKey(
        NonConformance,
        verbose_name=_("non-conformance"),
        on_delete=models.PROTECT,
        related_name="actions",
        db_index=False,  # the unique constraint starts with it
    )
    number = models.PositiveIntegerField(_("number"), editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    description = models.TextField(_("action"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        related_name="capa_actions",
    )
    due_on = models.DateField(_("due"))
    status = models.CharField(
        _("status"), max_length=9, choices=Status.choices, default=Status.OPEN, editable=False
    )
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, editable=False)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("completed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    completion_note = models.TextField(
        _("completion note"),
        blank=True,
        editable=False,
        help_text=_("What was done (or why the action was cancelled), with its evidence."),
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    verification_note = models.TextField(_("effectiveness evidence"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("CAPA action")
        verbose_name_plural = _("CAPA actions")
        permissions = [
            ("complete_capaaction", _("Can complete the CAPA actions they own")),
            ("verify_capaaction", _("Can verify the effectiveness of CAPA actions")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["nonconformance", "number"],
                name="capa_number_unique",
                violation_error_message=_("The non-conformance already has an action numbered so."),
            ),
            models.CheckConstraint(
                condition=Q(number__gt=0),
                name="capa_number_positive",
                violation_error_message=_("Action numbers start at 1."),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CapaKind.values),
                name="capa_kind_valid",
                violation_error_message=_("An action is corrective or preventive."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=CapaStatus.values),
                name="capa_status_valid",
                violation_error_message=_("Unknown action status."),
            ),
            models.CheckConstraint(
                condition=~Q(description=""),
                name="capa_has_description",
                violation_error_message=_("Say what is to be done."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="open", completed_at__isnull=True, completed_by__isnull=True)
                    | (
                        ~Q(status="open")
                        & Q(completed_at__isnull=False, completed_by__isnull=False)
                        & ~Q(completion_note="")
                    )
                ),
                name="capa_completed_has_note",
                violation_error_message=_(
                    "A done or cancelled action has its note, who and when; an open one has none."
                ),
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        status="verified",
                        verified_at__isnull=False,
                        verified_by__isnull=False,
                    )
                    & ~Q(verification_note="")
                )
                | (~Q(status="verified") & Q(verified_at__isnull=True, verified_by__isnull=True)),
                name="capa_verified_has_evidence",
                violation_error_message=_(
                    "A verified action has its evidence, verifier and time, and only it."
                ),
            ),
            models.CheckConstraint(
                condition=Q(verified_by__isnull=True) | ~Q(verified_by=F("completed_by")),
                name="capa_verifier_independent",
                violation_error_message=_(
                    "The effectiveness of an action is verified by someone other than who did it."
                ),
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True) | Q(verified_at__gte=F("completed_at")),
                name="capa_verified_after_completed",
                violation_error_message=_("An action cannot be verified before it was done."),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="capa_status_due_idx"),
            models.Index(fields=["owner", "status"], name="capa_owner_idx"),
        ]

    def __str__(self):
        return f"{self.reference} {Truncator(self.description).chars(60)}"

    def get_absolute_url(self):
        return f"{self.nonconformance.get_absolute_url()}#action-{self.number}"

    @property
    def reference(self) -> str:
        """NC-YEAR-NUMBER/N: the action's name in lists, e-mails and the timeline."""
        return f"{self.nonconformance.reference}/{self.number}"

    def is_overdue(self, today=None) -> bool:
        return self.status == CapaStatus.OPEN and self.due_on < (today or timezone.localdate())


class NonConformanceEvent(AppendOnlyModel):
    """One entry of a non-conformance's timeline: who did what, when."""

    class Kind(models.TextChoices):
        REPORTED = "reported", _("reported")
        CHANGED = "changed", _("details changed")
        STATUS = "status", _("status changed")
        ACTION_ADDED = "action_added", _("action added")
        ACTION_DONE = "action_done", _("action done")
        ACTION_VERIFIED = "action_verified", _("action verified")
        ACTION_REOPENED = "action_reopened", _("action found not effective")
        ACTION_CANCELLED = "action_cancelled", _("action cancelled")
        ACTION_RESCHEDULED = "action_rescheduled", _("action rescheduled")
        RECALL = "recall", _("recall opened")
        CLOSED = "closed", _("closed and signed")

    nonconformance = models.ForeignKey(
        NonConformance,
        verbose_name=_("non-conformance"),
        on_delete=models.PROTECT,
        related_name="timeline",
        db_index=False,  # nc_event_timeline_idx serves it
    )
    kind = models.CharField(_("what"), max_length=18, choices=Kind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    message = models.TextField(_("message"))

    class Meta:
        triggers = APPEND_ONLY_TRIGGERS
        verbose_name = _("non-conformance timeline entry")
        verbose_name_plural = _("non-conformance timeline")
        constraints = [
            models.CheckConstraint(
                condition=~Q(message=""),
                name="nc_event_has_message",
                violation_error_message=_("Say what happened."),
            ),
        ]
        indexes = [
            models.Index(fields=["nonconformance", "occurred_at"], name="nc_event_timeline_idx"),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"
