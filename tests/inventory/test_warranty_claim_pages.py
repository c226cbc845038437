"""The warranty claim pages (issue #7): the list, opening a claim, the claim with each role's
next step, and the claims on the unit's page and the dashboard."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from inventory.forms import CLAIM_DECISION_REQUIRED, CLAIM_UNIT_IS_A_LOT, CLAIM_UNIT_REQUIRED
from inventory.models import SerialUnit, ServiceRecord, TraceEvent, UnitReturn, WarrantyClaim
from inventory.selectors import NOT_COVERED_ENDED
from inventory.services import (
    CLAIM_NEEDS_OVERRIDE,
    CLAIM_REJECT_REASON,
    CLAIM_REPORTED_FUTURE,
    warranty_claim_close,
    warranty_claim_decide,
    warranty_claim_open,
    warranty_claim_replace,
)
from traceability.roles import QUALITY_MANAGERS

from .factories import (
    LotFactory,
    PartyFactory,
    SerialProductFactory,
    SerialUnitFactory,
    TraceEventFactory,
    UserFactory,
    WarrantyClaimFactory,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
MADE = TODAY - timedelta(days=400)
# Session, user, roles and permissions (5), then the page's own reads.
LIST_PAGE_QUERIES = 5 + 4
CLAIM_PAGE_QUERIES = 5 + 4


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def customer(db):
    return PartyFactory(name="Cascade Logistics")


@pytest.fixture
def product(db):
    return SerialProductFactory(sku="DEV-HX2", name="HX2 handheld", warranty_months=24)


def with_customer(product, customer, serial, *, ends_on):
    return SerialUnitFactory(
        product=product,
        serial=serial,
        produced_on=MADE,
        status=SerialUnit.Status.SHIPPED,
        holder_site=None,
        holder_party=customer,
        shipped_on=MADE + timedelta(days=10),
        warranty_ends_on=ends_on,
        warranty_overridden=True,
    )


@pytest.fixture
def unit(product, customer):
    return with_customer(product, customer, "HX2-0001", ends_on=TODAY + timedelta(days=30))


@pytest.fixture
def expired(product, customer):
    return with_customer(product, customer, "HX2-0002", ends_on=TODAY - timedelta(days=90))


@pytest.fixture
def claim(unit, staff):
    return warranty_claim_open(
        serial_unit=unit,
        fault="Shuts down at 30 % in the cold store.",
        reported_on=TODAY - timedelta(days=2),
        acting_user=staff,
    )


def claim_url(claim):
    return reverse("claim_detail", args=[claim.pk])


def post(client, claim, action, *, follow=False, **data):
    return client.post(claim_url(claim), {"action": action, **data}, follow=follow)


def fresh(claim):
    return WarrantyClaim.objects.get(pk=claim.pk)


# --- The list -------------------------------------------------------------------------------


def test_the_list_shows_each_claim_with_its_status(staff_client, claim):
    response = staff_client.get(reverse("claim_list"))

    assertContains(response, claim.number)
    assertContains(response, '<span class="badge claim-open">awaiting decision</span>', html=True)
    assertContains(response, "Cascade Logistics")


def test_the_list_filters_by_status(staff_client, claim, expired, manager):
    other = warranty_claim_open(
        serial_unit=expired, fault="Cracked.", reported_on=TODAY, acting_user=manager
    )
    warranty_claim_decide(claim=other, approve=False, reason="Drop damage.", acting_user=manager)

    response = staff_client.get(reverse("claim_list"), {"status": "rejected"})

    assertContains(response, other.number)
    assertNotContains(response, claim.number)


def test_the_list_filters_claims_outside_warranty(staff_client, claim, expired, staff):
    outside = warranty_claim_open(
        serial_unit=expired, fault="Cracked.", reported_on=TODAY, acting_user=staff
    )

    response = staff_client.get(reverse("claim_list"), {"covered": "false"})

    assert [row.record for row in response.context["table"].rows] == [outside]


def test_dates_the_wrong_way_round_list_nothing_and_say_why(staff_client, claim):
    response = staff_client.get(
        reverse("claim_list"),
        {
            "reported_from": TODAY.isoformat(),
            "reported_to": (TODAY - timedelta(days=9)).isoformat(),
        },
    )

    assert response.status_code == 200
    assertContains(response, "Nothing is listed until the filters above are corrected.")
    assertNotContains(response, claim.number)


def test_a_date_that_is_not_one_is_refused_not_a_500(staff_client, claim):
    response = staff_client.get(reverse("claim_list"), {"opened_from": "2026-13-45"})

    assert response.status_code == 200
    assertContains(response, "Enter a valid date.")


def test_the_list_exports_every_claim_as_csv(staff_client, claim):
    response = staff_client.get(reverse("claim_list"), {"_export": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Claim", "Unit", "Product"]
    assert rows[1][:3] == [claim.number, "HX2-0001", "DEV-HX2"]
    assert "open" in rows[1]


@pytest.mark.parametrize("count", [1, 12])
def test_the_list_runs_the_same_queries_for_one_claim_or_many(
    staff_client, django_assert_max_num_queries, count
):
    for _ in range(count):
        WarrantyClaimFactory(claimant=PartyFactory())

    with django_assert_max_num_queries(LIST_PAGE_QUERIES):
        response = staff_client.get(reverse("claim_list"))

    assert len(response.context["table"].rows) == count


def test_the_list_offers_to_open_a_claim_to_staff(staff_client):
    assertContains(staff_client.get(reverse("claim_list")), reverse("claim_new"))


def test_the_navigation_leads_to_the_claims(staff_client):
    assertContains(staff_client.get(reverse("home")), f'href="{reverse("claim_list")}"')


# --- Opening a claim --------------------------------------------------------------------------


def test_coming_from_the_unit_fills_it_in_and_shows_its_warranty_end(staff_client, unit):
    response = staff_client.get(reverse("claim_new"), {"unit": unit.pk})

    assert response.context["form"]["unit"].value() == "DEV-HX2 serial HX2-0001"
    assertContains(response, f"until {unit.warranty_ends_on.isoformat()}")


def test_a_unit_parameter_that_is_not_a_number_is_ignored(staff_client):
    response = staff_client.get(reverse("claim_new"), {"unit": "abc"})

    assert response.status_code == 200
    assert response.context["unit"] is None


def test_opening_a_claim_goes_to_it_and_says_so(staff_client, unit, customer):
    response = staff_client.post(
        reverse("claim_new"),
        {"unit": "DEV-HX2 serial HX2-0001", "fault": "Cracked display.", "reported_on": TODAY},
        follow=True,
    )

    claim = WarrantyClaim.objects.get()
    assert response.redirect_chain[-1][0] == claim_url(claim)
    assertContains(response, f"Claim {claim.number} opened for {unit}.")
    assert claim.claimant == customer


def test_a_scanned_unit_that_does_not_exist_is_refused_under_its_field(staff_client, unit):
    response = staff_client.post(
        reverse("claim_new"), {"unit": "DEV-HX2 serial NOPE", "fault": "x", "reported_on": TODAY}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["unit"] == [
        "No lot or serial unit matches DEV-HX2 serial NOPE."
    ]
    assert not WarrantyClaim.objects.exists()


def test_a_lot_is_not_a_unit_to_claim_for(staff_client):
    lot = LotFactory(code="L-77")

    response = staff_client.post(
        reverse("claim_new"),
        {"unit": f"{lot.product.sku} lot L-77", "fault": "x", "reported_on": TODAY},
    )

    assert response.context["form"].errors["unit"] == [CLAIM_UNIT_IS_A_LOT % {"value": lot}]


def test_an_empty_form_says_what_is_missing(staff_client):
    response = staff_client.post(reverse("claim_new"), {})

    errors = response.context["form"].errors
    assert errors["unit"] == [CLAIM_UNIT_REQUIRED]
    assert errors["fault"] == ["Describe the fault."]
    assert errors["reported_on"] == ["Give the date the fault was reported as YYYY-MM-DD."]


def test_the_services_refusal_comes_back_under_the_date(staff_client, unit):
    tomorrow = TODAY + timedelta(days=1)

    response = staff_client.post(
        reverse("claim_new"),
        {"unit": "DEV-HX2 serial HX2-0001", "fault": "x", "reported_on": tomorrow},
    )

    assert response.context["form"].errors["reported_on"] == [
        CLAIM_REPORTED_FUTURE % {"today": TODAY.isoformat()}
    ]
    assert not WarrantyClaim.objects.exists()


def test_a_user_without_a_role_cannot_open_a_claim(client, no_role_user, unit):
    client.force_login(no_role_user)

    response = client.post(
        reverse("claim_new"),
        {"unit": "DEV-HX2 serial HX2-0001", "fault": "x", "reported_on": TODAY},
    )

    assert response.status_code == 403
    assert not WarrantyClaim.objects.exists()


# --- The claim --------------------------------------------------------------------------------


def test_the_claim_says_its_coverage_in_plain_words(staff_client, claim):
    response = staff_client.get(claim_url(claim))

    reported = claim.reported_on.isoformat()
    ends = claim.warranty_ends_on.isoformat()
    assertContains(response, f"Reported {reported}, 32 days before the warranty ends on {ends}.")


def test_staff_see_no_decision_form(staff_client, claim):
    response = staff_client.get(claim_url(claim))

    assert "decide" not in response.context["claim_forms"]
    assertNotContains(response, "Save the decision")


def test_a_manager_approves_a_covered_claim(manager_client, claim, manager):
    response = post(manager_client, claim, "decide", decision="approve", reason="", follow=True)

    assertContains(response, f"Claim {claim.number} is approved.")
    claim = fresh(claim)
    assert (claim.status, claim.decided_by) == (WarrantyClaim.Status.APPROVED, manager)


def test_the_override_box_is_not_offered_on_a_covered_claim(manager_client, claim):
    form = manager_client.get(claim_url(claim)).context["claim_forms"]["decide"]

    assert "override" not in form.fields


def test_the_override_box_is_offered_to_a_manager_on_a_claim_not_covered(
    manager_client, expired, staff
):
    claim = warranty_claim_open(
        serial_unit=expired, fault="Dead.", reported_on=TODAY, acting_user=staff
    )

    form = manager_client.get(claim_url(claim)).context["claim_forms"]["decide"]

    assert "override" in form.fields


def test_the_override_box_is_not_offered_without_the_override_right(client, expired, staff):
    decider = UserFactory(username="decider")
    decider.groups.add(Group.objects.get(name=QUALITY_MANAGERS))
    decider.user_permissions.add(Permission.objects.get(codename="decide_warrantyclaim"))
    Group.objects.get(name=QUALITY_MANAGERS).permissions.remove(
        Permission.objects.get(codename="override_warrantyclaim")
    )
    claim = warranty_claim_open(
        serial_unit=expired, fault="Dead.", reported_on=TODAY, acting_user=staff
    )
    client.force_login(decider)

    response = client.get(claim_url(claim))

    assert "override" not in response.context["claim_forms"]["decide"].fields
    assertContains(response, "a quality manager with the override right")


def test_approving_a_claim_not_covered_without_the_box_says_why_and_changes_nothing(
    manager_client, expired, staff
):
    claim = warranty_claim_open(
        serial_unit=expired, fault="Dead.", reported_on=TODAY, acting_user=staff
    )

    response = post(manager_client, claim, "decide", decision="approve", reason="Goodwill.")

    why = NOT_COVERED_ENDED % {"end": expired.warranty_ends_on.isoformat()}
    assert response.context["claim_forms"]["decide"].non_field_errors() == [
        CLAIM_NEEDS_OVERRIDE % {"why": why}
    ]
    assert fresh(claim).status == WarrantyClaim.Status.OPEN


def test_a_manager_overrides_with_the_box_and_a_reason(manager_client, expired, staff):
    claim = warranty_claim_open(
        serial_unit=expired, fault="Dead.", reported_on=TODAY, acting_user=staff
    )

    post(manager_client, claim, "decide", decision="approve", reason="Key account.", override="on")

    claim = fresh(claim)
    assert (claim.status, claim.overridden) == (WarrantyClaim.Status.APPROVED, True)


def test_rejecting_without_a_reason_comes_back_under_the_reason(manager_client, claim):
    response = post(manager_client, claim, "decide", decision="reject", reason="")

    assert response.context["claim_forms"]["decide"].errors["reason"] == [CLAIM_REJECT_REASON]
    assertContains(response, CLAIM_REJECT_REASON)
    assert fresh(claim).status == WarrantyClaim.Status.OPEN


def test_a_decision_must_be_chosen(manager_client, claim):
    response = post(manager_client, claim, "decide", reason="")

    assert response.context["claim_forms"]["decide"].errors["decision"] == [CLAIM_DECISION_REQUIRED]


def test_staff_posting_a_decision_are_refused(staff_client, claim):
    response = post(staff_client, claim, "decide", decision="approve", reason="")

    assert response.status_code == 403
    assert fresh(claim).status == WarrantyClaim.Status.OPEN


def test_an_unknown_action_is_a_bad_request(manager_client, claim):
    assert post(manager_client, claim, "delete").status_code == 400


def test_a_claim_that_does_not_exist_is_not_found(staff_client):
    assert staff_client.get(reverse("claim_detail", args=[999])).status_code == 404


def test_staff_record_the_repair_of_an_approved_claim(staff_client, claim, manager):
    warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    response = post(
        staff_client,
        claim,
        "repair",
        performed_on=TODAY.isoformat(),
        technician="Luis",
        description="New battery pack.",
        follow=True,
    )

    assertContains(response, f"claim {claim.number} is repaired.")
    record = fresh(claim).service_record
    assert (record.kind, record.description) == (ServiceRecord.Kind.REPAIR, "New battery pack.")


def test_a_repair_without_a_description_changes_nothing(staff_client, claim, manager):
    warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    response = post(staff_client, claim, "repair", performed_on=TODAY.isoformat())

    assert response.context["claim_forms"]["repair"].errors["description"] == [
        "Describe the work done."
    ]
    assert fresh(claim).status == WarrantyClaim.Status.APPROVED


def test_a_manager_sends_a_replacement_by_scanning_it(manager_client, claim, manager, product):
    warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)
    spare = SerialUnitFactory(product=product, serial="HX2-0100", produced_on=MADE)

    response = post(
        manager_client, claim, "replace", replacement="DEV-HX2 serial HX2-0100", follow=True
    )

    assertContains(response, f"claim {claim.number} is replaced.")
    assert fresh(claim).replacement == spare
    assertContains(response, "DEV-HX2 serial HX2-0100")


def test_closing_a_resolved_claim(staff_client, claim, manager):
    warranty_claim_decide(claim=claim, approve=False, reason="Misuse.", acting_user=manager)

    response = post(staff_client, claim, "close", note="Customer informed.", follow=True)

    assertContains(response, f"Claim {claim.number} is closed.")
    assert response.context["claim_forms"] == {}
    assertContains(response, "Rejected")


def test_the_history_shows_each_step_and_who_took_it(manager_client, claim, manager):
    warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)

    response = manager_client.get(claim_url(claim))

    steps = [(s.history_change_reason, s.history_user) for s in response.context["steps"]]
    assert steps == [("Opened", claim.opened_by), ("Approved", manager)]


@pytest.mark.parametrize("steps", [1, 4])
def test_the_claim_page_runs_the_same_queries_however_long_its_history(
    manager_client, unit, manager, product, django_assert_max_num_queries, steps
):
    claim = warranty_claim_open(
        serial_unit=unit, fault="Dead.", reported_on=TODAY, acting_user=manager
    )
    if steps == 4:
        claim = warranty_claim_decide(claim=claim, approve=False, reason="No.", acting_user=manager)
        warranty_claim_close(claim=claim, note="", acting_user=manager)

    with django_assert_max_num_queries(CLAIM_PAGE_QUERIES):
        response = manager_client.get(claim_url(claim))

    assert len(response.context["steps"]) == (1 if steps == 1 else 3)


# --- The unit's page and the dashboard -------------------------------------------------------


def test_the_unit_page_lists_its_claims_and_offers_a_new_one_when_none_is_open(staff_client, unit):
    response = staff_client.get(reverse("serial_detail", args=[unit.pk]))

    assertContains(response, "No warranty claims.")
    assertContains(response, f"{reverse('claim_new')}?unit={unit.pk}")


def test_the_unit_page_offers_no_second_claim_while_one_is_open(staff_client, claim, unit):
    response = staff_client.get(reverse("serial_detail", args=[unit.pk]))

    assertContains(response, claim.number)
    assertNotContains(response, "Open a warranty claim")


def test_the_unit_pages_link_the_replacement_both_ways(staff_client, claim, manager, product):
    claim = warranty_claim_decide(claim=claim, approve=True, reason="", acting_user=manager)
    spare = SerialUnitFactory(product=product, serial="HX2-0100", produced_on=MADE)
    warranty_claim_replace(claim=claim, replacement=spare, acting_user=manager)

    faulty_page = staff_client.get(reverse("serial_detail", args=[claim.serial_unit_id]))
    spare_page = staff_client.get(reverse("serial_detail", args=[spare.pk]))

    assertContains(faulty_page, "Replaced by")
    assertContains(faulty_page, reverse("serial_detail", args=[spare.pk]))
    assertContains(spare_page, "Replaces")
    assertContains(spare_page, reverse("serial_detail", args=[claim.serial_unit_id]))


def test_the_dashboard_shows_open_claims_with_their_status(staff_client, claim):
    response = staff_client.get(reverse("home"))

    assertContains(response, claim.number)
    assertContains(response, '<span class="badge claim-open">awaiting decision</span>', html=True)


def test_a_claim_for_a_unit_back_on_an_open_return_is_linked_to_it(staff_client, product, staff):
    unit = SerialUnitFactory(product=product, serial="HX2-0200", produced_on=MADE)
    unit_return = UnitReturn.objects.create(
        number="RMA-2026-0001",
        serial_unit=unit,
        customer=PartyFactory(name="Harbor Foods"),
        site=unit.holder_site,
        received_at=timezone.now(),
        reason=UnitReturn.Reason.WARRANTY,
        condition=UnitReturn.Condition.DEFECTIVE,
        receive_event=TraceEventFactory(event_type=TraceEvent.Type.RETURN),
        registered_by=staff,
    )

    staff_client.post(
        reverse("claim_new"),
        {"unit": "DEV-HX2 serial HX2-0200", "fault": "Dead.", "reported_on": TODAY},
    )

    claim = WarrantyClaim.objects.get()
    assert claim.unit_return == unit_return
    assert claim.claimant.name == "Harbor Foods"
    assertContains(staff_client.get(claim_url(claim)), "RMA-2026-0001")
