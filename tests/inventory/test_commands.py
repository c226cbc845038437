"""The seed_demo command: the demo data set, its logins, and loading it safely."""

import re
from io import StringIO

import pytest
from biip.gln import Gln
from biip.gtin import Gtin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from inventory import demo, selectors
from inventory.demo import (
    DEMO_PASSWORD,
    DEMO_USERS,
    USERNAMES_TAKEN,
    demo_counts,
    gln13,
    gtin14,
)
from inventory.management.commands.seed_demo import ALREADY_LOADED
from inventory.models import (
    Genealogy,
    Lot,
    Party,
    Product,
    SerialUnit,
    ServicePart,
    ServiceRecord,
    Site,
    StatusChange,
    TraceEvent,
    WarrantyClaim,
)
from recalls.models import NonConformance

from .factories import UserFactory

DEMO_USERNAMES = {user.username for user in DEMO_USERS}


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def parents(lot: Lot):
    return Lot.objects.filter(pk__in=Genealogy.objects.filter(child=lot.pk).values("parent"))


def children(lot: Lot):
    return Lot.objects.filter(pk__in=Genealogy.objects.filter(parent=lot.pk).values("child"))


def ancestors(item_pk: int) -> set[int]:
    """Every item that went into this one, however many steps back."""
    found, todo = set(), [item_pk]
    while todo:
        step = set(Genealogy.objects.filter(child_id__in=todo).values_list("parent_id", flat=True))
        todo = list(step - found)
        found |= step
    return found


@pytest.fixture(scope="class")
def demo_output(django_db_setup, django_db_blocker):
    """Load the demo once for the class below (a load takes seconds), then roll it back."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed_demo()
        transaction.set_rollback(True)


@pytest.mark.django_db
class TestLoadedDemo:
    # The logins.
    def test_prints_each_login_with_its_role_and_the_password(self, demo_output):
        for user in DEMO_USERS:
            line = next(
                line for line in demo_output.splitlines() if line.split()[:1] == [user.username]
            )
            assert user.role in line
            assert line.split()[-1] == DEMO_PASSWORD

    def test_creates_one_user_per_role_who_signs_in_with_the_printed_password(
        self, demo_output, client
    ):
        for spec in DEMO_USERS:
            user = get_user_model().objects.get(username=spec.username)
            assert list(user.groups.values_list("name", flat=True)) == [spec.role]
            assert user.get_full_name() == spec.full_name
            signed_in = client.post(
                reverse("login"), {"username": spec.username, "password": DEMO_PASSWORD}
            )
            assert signed_in.status_code == 302, spec.username
            client.logout()

    def test_only_the_administrator_reaches_the_admin_site(self, demo_output):
        staff_flags = dict(get_user_model().objects.values_list("username", "is_staff"))
        assert staff_flags == {"manager": False, "staff": False, "admin": True}
        assert get_user_model().objects.get(username="admin").is_superuser

    # The food plant.
    def test_a_finished_quiche_traces_back_to_its_suppliers_lots(self, demo_output):
        quiche = Lot.objects.filter(product__sku="FG-QUICHE-SPF", status=Lot.Status.RELEASED)[0]
        supplier_lots = Lot.objects.filter(pk__in=ancestors(quiche.pk), supplier__isnull=False)
        assert set(supplier_lots.values_list("supplier__name", flat=True)) == {
            "Prairie Gold Milling Co.",
            "Sweetfield Sugar Co.",
            "Sunny Acres Egg Farm",
            "Clearbrook Dairy Cooperative",
            "Coastal Valley Greens LLC",
        }
        assert all(lot.supplier_lot_code for lot in supplier_lots)
        assert supplier_lots.filter(product__on_food_traceability_list=True).count() == 3

    def test_one_egg_lot_reaches_a_quiche_through_both_dough_and_filling(self, demo_output):
        def egg_lots_in(intermediate):
            return set(parents(intermediate).filter(product__sku="ING-EGGS"))

        diamonds = []
        for quiche in Lot.objects.filter(product__sku="FG-QUICHE-LOR"):
            dough, filling = parents(quiche).order_by("product__sku")
            assert (dough.product.sku, filling.product.sku) == ("WIP-DOUGH", "WIP-FILL-LOR")
            diamonds.append(egg_lots_in(dough) & egg_lots_in(filling))
        assert any(diamonds)

    def test_one_dough_lot_goes_into_two_finished_products(self, demo_output):
        products_per_dough = [
            set(children(dough).values_list("product__sku", flat=True))
            for dough in Lot.objects.filter(product__sku="WIP-DOUGH")
        ]
        assert {"FG-QUICHE-LOR", "FG-QUICHE-SPF"} in products_per_dough

    def test_a_finished_lot_is_on_hold_with_its_reason(self, demo_output):
        held = Lot.objects.get(status=Lot.Status.ON_HOLD)
        change = StatusChange.objects.get(item=held.pk, to_status=Lot.Status.ON_HOLD)
        assert held.product.sku == "FG-QUICHE-SPF"
        assert "metal detector" in change.reason
        assert change.changed_by.username == "manager"
        assert change.event.notes == change.reason

    def test_an_ingredient_lot_is_quarantined(self, demo_output):
        quarantined = Lot.objects.get(
            status=Lot.Status.QUARANTINED, product__requires_release=False
        )
        assert quarantined.product.sku == "ING-SPINACH"
        assert quarantined.supplier.name == "Coastal Valley Greens LLC"

    def test_the_dashboard_shows_holds_expiry_returns_and_repairs(self, demo_output):
        counts = selectors.dashboard_counts()
        assert counts["on_hold"] == 1
        assert counts["quarantined"] == 3  # and two Gruyère lots awaiting release
        assert counts["expired"] == 1
        assert counts["expiring_30"] >= 2
        assert counts["returned"] == 1
        assert counts["in_repair"] == 1

    def test_distributors_report_receipts_and_onward_shipments(self, demo_output):
        northstar = Party.objects.get(name="Northstar Foodservice Distribution")
        onward = TraceEvent.objects.filter(event_type=TraceEvent.Type.SHIP, source_party=northstar)
        assert onward.exists()
        assert set(onward.values_list("destination_party__name", flat=True)) == {
            "Maple Street Market",
            "Bayside Bistro",
        }
        assert TraceEvent.objects.filter(
            event_type=TraceEvent.Type.RECEIVE, destination_party=northstar
        ).exists()

    def test_receipts_production_and_shipments_name_their_documents(self, demo_output):
        def document_types(**filters):
            events = TraceEvent.objects.filter(**filters)
            return set(events.values_list("document_type", flat=True))

        kinds = TraceEvent.DocumentType
        assert document_types(
            event_type=TraceEvent.Type.RECEIVE, source_party__is_supplier=True
        ) == {kinds.PURCHASE_ORDER}
        assert document_types(event_type=TraceEvent.Type.TRANSFORM) == {kinds.PRODUCTION_ORDER}
        # A replacement sent under a warranty claim ships under the claim's number.
        assert document_types(event_type=TraceEvent.Type.SHIP) == {
            kinds.BILL_OF_LADING,
            kinds.DESPATCH_ADVICE,
            kinds.RETURN_AUTHORISATION,
        }
        assert document_types(event_type=TraceEvent.Type.RETURN) == {kinds.RETURN_AUTHORISATION}
        assert not TraceEvent.objects.filter(
            event_type__in=[
                TraceEvent.Type.RECEIVE,
                TraceEvent.Type.TRANSFORM,
                TraceEvent.Type.SHIP,
            ],
            document_number="",
        ).exists()

    # The electronics maker.
    def test_a_shipped_device_has_an_installed_battery_pack_built_from_cell_lots(self, demo_output):
        device = (
            SerialUnit.objects.filter(product__sku="DEV-HX2", status=SerialUnit.Status.SHIPPED)
            .order_by("pk")
            .first()
        )
        pack = device.components.get()
        assert pack.product.sku == "BAT-HX2"
        assert pack.status == SerialUnit.Status.INSTALLED
        assert Genealogy.objects.filter(
            parent=pack.pk, child=device.pk, kind=Genealogy.Kind.INSTALLATION
        ).exists()
        cell_lots = Lot.objects.filter(pk__in=ancestors(pack.pk), product__sku="CELL-21700")
        assert cell_lots.exists()
        assert set(cell_lots.values_list("supplier__name", flat=True)) == {
            "Kaiyuan Power Cell Co., Ltd."
        }

    def test_devices_belong_to_production_lots_of_their_own_product(self, demo_output):
        devices = SerialUnit.objects.filter(product__sku="DEV-HX2")
        assert not devices.filter(lot__isnull=True).exists()
        assert set(devices.values_list("lot__product__sku", flat=True)) == {"DEV-HX2"}

    def test_shipped_devices_carry_a_warranty(self, demo_output):
        shipped = SerialUnit.objects.filter(product__sku="DEV-HX2", shipped_on__isnull=False)
        assert shipped.count() >= 40
        assert all(unit.is_under_warranty() for unit in shipped)

    def test_a_warranty_claim_awaits_a_decision(self, demo_output):
        claim = WarrantyClaim.objects.get(status=WarrantyClaim.Status.OPEN)
        assert claim.serial_unit.is_under_warranty()
        assert claim.claimant == claim.serial_unit.holder_party
        assert claim in selectors.open_warranty_claims()

    def test_an_approved_claim_sent_a_replacement_that_keeps_the_warranty(self, demo_output):
        claim = WarrantyClaim.objects.get(status=WarrantyClaim.Status.REPLACED)
        assert claim.covered is True
        assert claim.replacement.replaces == claim.serial_unit
        assert claim.replacement.holder_party == claim.claimant
        assert claim.replacement.warranty_ends_on == claim.serial_unit.warranty_ends_on

    def test_a_repair_replaced_the_battery_pack(self, demo_output):
        repair = ServiceRecord.objects.get(
            kind=ServiceRecord.Kind.REPAIR, outcome=ServiceRecord.Outcome.REPAIRED
        )
        removed = ServicePart.objects.get(record=repair, action=ServicePart.Action.REMOVED).part
        fitted = ServicePart.objects.get(record=repair, action=ServicePart.Action.FITTED).part
        assert fitted.installed_in == repair.serial_unit
        assert removed.installed_in is None
        assert removed.status == SerialUnit.Status.QUARANTINED

    def test_a_returned_device_was_inspected_at_the_service_centre(self, demo_output):
        returned = SerialUnit.objects.get(status=SerialUnit.Status.RETURNED)
        assert returned.holder_site.kind == Site.Kind.SERVICE_CENTER
        assert returned.service_records.get().kind == ServiceRecord.Kind.INSPECTION
        assert TraceEvent.objects.filter(
            event_type=TraceEvent.Type.RETURN, lines__item=returned.pk
        ).exists()

    # The records as a whole.
    def test_running_it_again_changes_nothing_and_says_so(self, demo_output):
        before = demo_counts(), get_user_model().objects.count()
        output = seed_demo()
        assert ALREADY_LOADED in output
        assert DEMO_PASSWORD in output
        assert (demo_counts(), get_user_model().objects.count()) == before

    def test_the_data_set_is_of_demo_size(self, demo_output):
        counts = demo_counts()
        assert 20 <= counts["products"] <= 60
        assert 30 <= counts["lots"] <= 100
        assert 50 <= counts["serial units"] <= 150
        assert counts["trace events"] >= 200

    def test_every_change_is_in_the_audit_trail_with_its_user(self, demo_output):
        for model in (Product, Party, Site, Lot, SerialUnit, ServiceRecord):
            history = model.history.all()
            assert history.count() >= model.objects.count() > 0
            assert not history.filter(history_user__isnull=True).exists()
            assert set(history.values_list("history_user__username", flat=True)) <= DEMO_USERNAMES
        assert not TraceEvent.objects.filter(recorded_by__isnull=True).exists()

    def test_identifiers_carry_valid_gs1_check_digits(self, demo_output):
        for gtin in Product.objects.exclude(gtin=None).values_list("gtin", flat=True):
            assert Gtin.parse(gtin).as_gtin_14() == gtin
        for model in (Party, Site):
            for gln in model.objects.values_list("gln", flat=True):
                assert Gln.parse(gln).value == gln

    def test_no_event_lies_in_the_future(self, demo_output):
        assert TraceEvent.objects.latest("occurred_at").occurred_at < timezone.now()


def test_gtin14_and_gln13_compute_the_check_digit():
    assert gtin14("4006381", "33393") == "04006381333931"
    assert gln13("0614141", "00003") == "0614141000036"


@pytest.mark.django_db
def test_refuses_to_load_when_a_demo_user_name_is_taken():
    UserFactory(username="admin")
    with pytest.raises(CommandError, match=re.escape(USERNAMES_TAKEN % {"names": "admin"})):
        seed_demo()
    assert not Party.objects.exists()
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_a_load_that_fails_halfway_leaves_nothing_behind(monkeypatch):
    def fail(builder):
        raise RuntimeError("the electronics maker could not be loaded")

    monkeypatch.setattr(demo._DemoBuilder, "_electronics", fail)
    with pytest.raises(RuntimeError):
        seed_demo()
    assert not Lot.objects.exists()
    assert not Party.objects.exists()
    assert not get_user_model().objects.exists()


# --- Quality control: specifications and release ---


@pytest.mark.django_db
class TestLoadedDemoQuality:
    def test_gruyere_lots_are_judged_against_specification_v2(self, demo_output):
        from inventory import quality_selectors
        from inventory.models import ReleaseDecision

        lots = {lot.code: lot for lot in Lot.objects.filter(product__sku="ING-GRUYERE")}
        standing = {code: quality_selectors.lot_quality(lot) for code, lot in lots.items()}
        assert {code: q.specification.version for code, q in standing.items()} == {
            "GR-0412": 2,
            "GR-0449": 2,
            "GR-0467": 2,
        }
        released = ReleaseDecision.objects.get()
        assert (released.lot.code, released.lot.status, released.signer.username) == (
            "GR-0412",
            Lot.Status.RELEASED,
            "manager",
        )
        assert [t.name for t in standing["GR-0467"].unresolved] == ["Listeria monocytogenes"]
        assert standing["GR-0449"].failed[0].name == "Moisture"
        assert standing["GR-0449"].release_blockers() == []


@pytest.mark.django_db(transaction=True)  # commits, as the command does: e-mails go on commit
def test_loading_the_demo_emails_nobody(mailoutbox):
    from ..conftest import _roles

    _roles()
    call_command("seed_demo", stdout=StringIO())
    assert NonConformance.objects.exists()  # whose actions' owners would be told
    assert mailoutbox == []
