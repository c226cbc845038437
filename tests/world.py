"""One world for tests that ask the whole application something: the demo data set, plus one of
each record the demo lacks, and a signed-in client per kind of visitor. Built once per test
module (seeding takes seconds) inside a transaction that is rolled back after the module."""

from dataclasses import dataclass, field
from io import BytesIO, StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.test.utils import override_settings
from PIL import Image

from inventory.models import (
    Certificate,
    ConditionLimit,
    CounterfeitFlag,
    Deviation,
    Job,
    Lot,
    Measurement,
    Product,
    SerialRun,
    SerialUnit,
    Site,
    Specification,
    TestResult,
    UnitOwnership,
    UnitReturn,
    VerificationCheck,
    WarrantyClaim,
)
from inventory.services import (
    deviation_raise,
    serial_units_generate,
    unit_return_register,
    verification_check_record,
)
from recalls import services as recall_services
from recalls.models import (
    AffectedItem,
    CampaignSignature,
    ConsigneeNotice,
    ItemResolution,
    NonConformance,
    RecallCampaign,
)
from traceability.roles import ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF

from .conftest import _roles
from .inventory.factories import UserFactory

ANONYMOUS = "anonymous"
NO_ROLE = "signed in, no role"
STAFF = QUALITY_STAFF
MANAGER = QUALITY_MANAGERS
ADMINISTRATOR = ADMINISTRATORS
VISITORS = (ANONYMOUS, NO_ROLE, STAFF, MANAGER, ADMINISTRATOR)


@dataclass
class World:
    samples: dict
    clients: dict = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo data set, plus one of each record the demo lacks, and a client per visitor;
    written once for the module and rolled back after it."""
    media = override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("access-media"))
    with media, django_db_blocker.unblock(), transaction.atomic():
        _roles()
        call_command("seed_demo", stdout=StringIO())
        samples = _samples()
        missing = sorted(key for key, sample in samples.items() if sample is None)
        assert not missing, f"The demo has no {missing}: build them in _samples()."
        clients = {ANONYMOUS: Client()}
        for visitor in VISITORS[1:]:
            user = UserFactory(
                username=f"access-{visitor.replace(' ', '-').replace(',', '')}",
                is_staff=visitor == ADMINISTRATOR,
            )
            if visitor != NO_ROLE:
                user.groups.add(Group.objects.get(name=visitor))
            client = Client()
            client.force_login(user)
            clients[visitor] = client
        yield World(samples=samples, clients=clients)
        transaction.set_rollback(True)


def _samples() -> dict:
    unit = SerialUnit.objects.filter(product__gtin__gt="").select_related("product").first()
    returned = UnitReturn.objects.first() or _a_return(unit)
    photo = returned.photos.first()
    campaign = _a_campaign()  # an ongoing one, whatever the demo's recalls are
    return {
        "product": Product.objects.first(),
        "lot": Lot.objects.first(),
        "unit": unit,
        "run": SerialRun.objects.first() or _a_run(unit),
        "claim": WarrantyClaim.objects.first(),
        "ownership": UnitOwnership.objects.first(),
        "return": returned,
        "photo": photo,
        "flag": _a_flag(unit),
        "job": Job.objects.create(kind="export", created_by=UserFactory(username="access-job")),
        "campaign": campaign,
        "line": AffectedItem.objects.filter(campaign=campaign).first(),
        "resolution": ItemResolution.objects.filter(affected_item__campaign=campaign).first(),
        "notice": ConsigneeNotice.objects.filter(campaign=campaign).first(),
        "check": VerificationCheck.objects.first()
        or verification_check_record(
            gtin=unit.product.gtin, serial=unit.serial, via="form", client_address="192.0.2.1"
        ),
        "signature": CampaignSignature.objects.first() or _a_signature(campaign),
        "nonconformance": NonConformance.objects.first(),
        "specification": Specification.objects.first(),
        "limit": ConditionLimit.objects.select_related("product").first(),
        "reading": Measurement.objects.first(),
        "result": TestResult.objects.filter(lot__isnull=False).select_related("lot").first(),
        "certificate": Certificate.objects.first(),
        "deviation": Deviation.objects.first()
        or deviation_raise(
            item=unit.item, kind=Deviation.Kind.OTHER, description="Scratched casing at packing"
        ),
    }


def _a_signature(campaign):
    """A signature as the append-only record it is (signing for real needs a finished recall)."""
    signer = UserFactory(username="access-signer")
    return CampaignSignature.objects.create(
        campaign=campaign,
        meaning=CampaignSignature.Meaning.COMPLETED,
        signer=signer,
        signer_name="Access Signer",
        statement="All recall actions are done.",
    )


def _a_return(unit):
    """A return of a shipped unit, with a photo (the demo has none)."""
    buffer = BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    shipped = SerialUnit.objects.filter(status="shipped").first()
    return unit_return_register(
        serial_unit=shipped,
        site=Site.objects.filter(party__is_internal=True).first() or Site.objects.first(),
        reason=UnitReturn.Reason.DEFECTIVE,
        condition=UnitReturn.Condition.DEFECTIVE,
        acting_user=UserFactory(username="access-returns"),
        photos=[SimpleUploadedFile("box.png", buffer.getvalue(), content_type="image/png")],
    )


def _a_campaign():
    """An ongoing recall of a shipped lot, with a line resolved."""
    shipped = Lot.objects.filter(item__event_lines__event_type="ship").first()
    manager = UserFactory(username="access-recalls")
    campaign = recall_services.recall_open(
        title="Access check",
        reason="Checking who may open what",
        classification=RecallCampaign.Classification.CLASS_II,
        lots=[shipped],
        acting_user=manager,
    )
    line = AffectedItem.objects.filter(campaign=campaign).first()
    recall_services.affected_items_resolve(
        campaign=campaign, items=[line], outcome="not_found", acting_user=manager
    )
    return campaign


def _a_run(unit):
    return serial_units_generate(
        product=unit.product,
        count=3,
        scheme=SerialRun.Scheme.PATTERN,
        prefix="ACCESS-",
        width=3,
        first_number=1,
        acting_user=UserFactory(username="access-runs"),
    )


def _a_flag(unit):
    return CounterfeitFlag.objects.first() or CounterfeitFlag.objects.create(
        product=unit.product, serial="NEVER-MADE", reason="unknown_serial"
    )
