"""The non-conformance and CAPA pages: who may do what, what each form writes or refuses (bad
input writes nothing), exports, print, the dashboard and item cards, and query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from inventory import services as inventory_services
from inventory.filters import DATES_REVERSED
from inventory.models import Unit
from inventory.services import Line
from recalls.capa import services
from recalls.capa.forms import NC_FORM_ITEMS_REQUIRED
from recalls.models import CapaAction, NonConformance, RecallCampaign

from ..inventory.factories import (
    InternalPartyFactory,
    PartyFactory,
    ProductFactory,
    SerialUnitFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
S = NonConformance.Status


def _today():
    return timezone.localdate()


@pytest.fixture
def chain(manager):
    """Flour received from a mill, made into bread."""
    plant = SiteFactory(party=InternalPartyFactory(name="Tracewell Foods"))
    mill = PartyFactory(name="Mill & Co", is_supplier=True, is_customer=False, gln="0614141000005")
    flour = inventory_services.lot_create(
        product=ProductFactory(sku="FLOUR", unit=Unit.KILOGRAM),
        code="FL-1",
        quantity=Decimal("100"),
        supplier=mill,
        supplier_lot_code="M-77",
        site=plant,
        acting_user=manager,
    )
    bread = inventory_services.lot_create(
        product=ProductFactory(sku="BREAD", unit=Unit.KILOGRAM),
        code="BR-1",
        quantity=Decimal("50"),
        site=plant,
        inputs=[Line(flour, Decimal("40"))],
        acting_user=manager,
    )
    return {"mill": mill, "flour": flour, "bread": bread}


def _report(user, items, **fields):
    values = {
        "title": "Burnt crust",
        "description": "Crust colour beyond the limit sample.",
        "severity": NonConformance.Severity.MAJOR,
        "source": NonConformance.Source.IN_PROCESS,
        "detected_on": _today(),
    }
    values.update(fields)
    return services.nonconformance_report(items=items, acting_user=user, **values)


def _action(nc, manager, owner, days=7, **fields):
    return services.capa_action_add(
        nonconformance=nc,
        kind=fields.pop("kind", CapaAction.Kind.CORRECTIVE),
        description=fields.pop("description", "Recalibrate the thermostat."),
        owner=owner,
        due_on=_today() + timedelta(days=days),
        acting_user=manager,
    )


def _overdue(action, days=3):
    """Make an action overdue as time passing would (the service refuses past due dates)."""
    CapaAction.objects.filter(pk=action.pk).update(due_on=_today() - timedelta(days=days))


def _client(client, user):
    client.force_login(user)
    return client


def _messages(response):
    return [str(message) for message in response.context["messages"]]


def _detail(nc):
    return reverse("quality:nc_detail", args=[nc.reference])


def _post(client, nc, action_kind, /, follow=False, **data):
    return client.post(_detail(nc), {"action_kind": action_kind, **data}, follow=follow)


# --- who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "staff", "administrator"])
def test_every_role_sees_the_lists_and_the_report(client, request, role, chain, manager):
    nc = _report(manager, [chain["bread"]])
    client = _client(client, request.getfixturevalue(role))

    page = client.get(reverse("quality:nc_list"))
    assert page.status_code == 200
    assert nc.reference in page.content.decode()
    assert 'href="/quality/nonconformances/"' in page.content.decode()  # the nav offers it
    assert client.get(_detail(nc)).status_code == 200
    assert client.get(reverse("quality:action_list")).status_code == 200


def test_a_user_without_a_role_sees_nothing(client, no_role_user, chain, manager):
    nc = _report(manager, [chain["bread"]])
    client = _client(client, no_role_user)

    assert client.get(reverse("quality:nc_list")).status_code == 403
    assert client.get(_detail(nc)).status_code == 403


def test_staff_report_but_administrators_do_not(client, staff, administrator):
    assert _client(client, staff).get(reverse("quality:nc_new")).status_code == 200
    assert "Report a non-conformance" in client.get(reverse("quality:nc_list")).content.decode()
    assert _client(client, administrator).get(reverse("quality:nc_new")).status_code == 403


def test_staff_may_not_change_the_investigation_nor_plan_or_close(client, staff, chain, manager):
    nc = _report(manager, [chain["bread"]])
    client = _client(client, staff)

    page = client.get(_detail(nc)).content.decode()
    assert "Save the investigation" not in page
    assert "Add the action" not in page
    assert "Close and sign" not in page
    for kind in ("update", "advance", "add_action", "close", "verify", "cancel"):
        assert _post(client, nc, kind).status_code == 403
    nc.refresh_from_db()
    assert nc.status == S.OPEN


def test_an_unknown_form_is_a_bad_request(client, manager, chain):
    nc = _report(manager, [chain["bread"]])

    assert _post(_client(client, manager), nc, "delete").status_code == 400


def test_a_report_that_does_not_exist_is_not_found(client, manager):
    client = _client(client, manager)

    assert client.get(reverse("quality:nc_detail", args=["NC-2026-9999"])).status_code == 404
    url = reverse("quality:nc_print", args=["NC-2026-9999", "html"])
    assert client.get(url).status_code == 404


# --- reporting --------------------------------------------------------------------------------


def test_coming_from_a_lot_page_fills_it_in(client, staff, chain):
    page = _client(client, staff).get(reverse("quality:nc_new"), {"lot": chain["bread"].pk})

    assert page.context["form"].initial["items"] == "BREAD lot BR-1"


def test_reporting_goes_to_the_report_and_says_so(client, staff, chain):
    response = _client(client, staff).post(
        reverse("quality:nc_new"),
        {
            "items": "BREAD lot BR-1 | 12\nFLOUR lot FL-1",
            "title": "Burnt crust",
            "description": "Too dark.",
            "severity": "major",
            "source": "in_process",
            "detected_on": _today().isoformat(),
        },
        follow=True,
    )

    nc = NonConformance.objects.get()
    assert response.redirect_chain[-1][0] == _detail(nc)
    assert _messages(response) == [f"{nc.reference} is reported; plan its investigation below."]
    assert nc.owner == staff and nc.reported_by == staff
    assert {line.item.tracked.code: line.quantity for line in nc.named_items.all()} == {
        "BR-1": Decimal("12"),
        "FL-1": None,
    }


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ("", NC_FORM_ITEMS_REQUIRED),
        ("BREAD lot NOPE", "No lot or serial unit matches BREAD lot NOPE."),
        ("BREAD lot BR-1 | lots", "“lots” is not a quantity (line: BREAD lot BR-1 | lots)."),
        (
            "BREAD lot BR-1 | 60",
            "BREAD lot BR-1 was made or received as 50 kg; 60 cannot be nonconforming.",
        ),
    ],
)
def test_bad_items_come_back_under_their_field_and_write_nothing(
    client, staff, chain, items, error
):
    response = _client(client, staff).post(
        reverse("quality:nc_new"),
        {
            "items": items,
            "title": "Burnt crust",
            "description": "Too dark.",
            "severity": "major",
            "source": "in_process",
            "detected_on": _today().isoformat(),
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["items"] == [error]
    assert not NonConformance.objects.exists()


def test_a_detection_date_in_the_future_is_refused(client, staff, chain):
    response = _client(client, staff).post(
        reverse("quality:nc_new"),
        {
            "items": "BREAD lot BR-1",
            "title": "Burnt crust",
            "description": "Too dark.",
            "severity": "major",
            "source": "in_process",
            "detected_on": (_today() + timedelta(days=2)).isoformat(),
        },
    )

    assert response.context["form"].errors["detected_on"] == [services.NC_DETECTED_IN_FUTURE]
    assert not NonConformance.objects.exists()


# --- the report's page ------------------------------------------------------------------------


def test_the_report_shows_its_backward_trace_to_the_supplier(client, staff, chain, manager):
    nc = _report(manager, [chain["bread"]])

    page = _client(client, staff).get(_detail(nc)).content.decode()

    assert "Mill &amp; Co" in page
    assert "GLN 0614141000005" in page
    assert "FLOUR lot FL-1" in page  # the upstream lot
    assert "M-77" in page  # its supplier's lot code
    assert "q=BREAD%20lot%20BR-1&amp;direction=backward" in page


def _worked(manager, staff, chain, actions: int, items: int = 1):
    units = [SerialUnitFactory() for _ in range(items - 1)]
    nc = _report(manager, [chain["bread"], *units])
    for number in range(actions):
        owner = staff if number % 2 else manager
        action = _action(nc, manager, owner)
        if number % 3 == 1:
            services.capa_action_complete(action=action, note="Done.", acting_user=owner)
    return nc


def test_the_report_page_runs_the_same_queries_however_many_actions_and_items(
    client, manager, staff, chain
):
    client = _client(client, manager)
    small = _worked(manager, staff, chain, actions=1)
    big = _worked(manager, staff, chain, actions=6, items=4)
    client.get(_detail(small))  # warm the session and permission caches

    with CaptureQueriesContext(connection) as few:
        assert client.get(_detail(small)).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert client.get(_detail(big)).status_code == 200

    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_manager_saves_the_investigation(client, manager, chain):
    nc = _report(manager, [chain["bread"]])

    response = _post(
        _client(client, manager),
        nc,
        "update",
        severity="major",
        owner=manager.pk,
        investigation="Thermostat drift.",
        root_cause="Worn sensor.",
        root_cause_category="machine",
        follow=True,
    )

    nc.refresh_from_db()
    assert nc.root_cause == "Worn sensor."
    assert _messages(response) == [f"{nc.reference}: the investigation is saved."]


def test_a_concession_without_justification_comes_back_and_changes_nothing(client, manager, chain):
    nc = _report(manager, [chain["bread"]])

    response = _post(
        _client(client, manager),
        nc,
        "update",
        severity="major",
        owner=manager.pk,
        disposition="use_as_is",
    )

    assert response.status_code == 200
    assert "A use-as-is concession needs its justification." in response.content.decode()
    nc.refresh_from_db()
    assert nc.disposition == ""


def test_moving_on_without_a_root_cause_says_why(client, manager, chain):
    nc = _report(manager, [chain["bread"]])
    services.nonconformance_advance(nonconformance=nc, status=S.INVESTIGATING, acting_user=manager)

    response = _post(_client(client, manager), nc, "advance", status="action")

    assert str(services.NC_ROOT_CAUSE_REQUIRED) in response.content.decode()
    nc.refresh_from_db()
    assert nc.status == S.INVESTIGATING


def test_an_action_due_yesterday_comes_back_under_its_date(client, manager, chain):
    nc = _report(manager, [chain["bread"]])
    yesterday = _today() - timedelta(days=1)

    response = _post(
        _client(client, manager),
        nc,
        "add_action",
        kind="corrective",
        description="Fix it.",
        owner=manager.pk,
        due_on=yesterday.isoformat(),
    )

    assert response.context["forms"]["add_action"].errors["due_on"] == [
        f"The due date {yesterday.isoformat()} is in the past."
    ]
    assert not CapaAction.objects.exists()


def test_staff_complete_their_own_action_but_not_anothers(client, manager, staff, chain):
    nc = _report(manager, [chain["bread"]])
    theirs = _action(nc, manager, staff)
    others = _action(nc, manager, manager)
    client = _client(client, staff)

    page = client.get(_detail(nc)).content.decode()
    assert page.count("Record as done</summary>") == 1
    response = _post(client, nc, "complete", action=others.number, note="Done.", follow=True)
    assert _messages(response) == [
        f"Action {others.reference} belongs to manager; only they or a manager can complete it."
    ]
    response = _post(client, nc, "complete", action=theirs.number, note="Done.", follow=True)
    assert _messages(response) == [f"Action {theirs.reference} is recorded as done."]
    theirs.refresh_from_db()
    others.refresh_from_db()
    assert (theirs.status, others.status) == (CapaAction.Status.DONE, CapaAction.Status.OPEN)


def test_an_action_of_another_report_is_refused(client, manager, chain):
    nc = _report(manager, [chain["bread"]])
    other = _report(manager, [chain["flour"]])
    _action(other, manager, manager)

    response = _post(_client(client, manager), nc, "complete", action=1, note="x", follow=True)

    assert _messages(response) == ["Choose an action of this non-conformance."]
    assert not CapaAction.objects.filter(status=CapaAction.Status.DONE).exists()


def test_the_whole_workflow_ends_in_a_signed_closure(client, manager, staff, chain):
    nc = _report(manager, [chain["bread"]])
    client = _client(client, manager)
    _post(client, nc, "advance", status="investigating")
    _post(
        client,
        nc,
        "update",
        severity="major",
        owner=manager.pk,
        root_cause="Worn sensor.",
        root_cause_category="machine",
    )
    action = _action(nc, manager, staff)
    _post(client, nc, "advance", status="action")
    services.capa_action_complete(action=action, note="New sensor.", acting_user=staff)
    _post(client, nc, "advance", status="effectiveness")
    _post(client, nc, "verify", action=action.number, effective="yes", note="In limits.")

    wrong = _post(client, nc, "close", closure="effective", statement="Done.", password="nope")
    assert wrong.context["forms"]["close"].errors["password"] == [services.NC_WRONG_PASSWORD]
    nc.refresh_from_db()
    assert nc.status == S.EFFECTIVENESS

    response = _post(
        client, nc, "close", closure="effective", statement="Done.", password=PASSWORD, follow=True
    )
    assert _messages(response) == [f"{nc.reference} is closed; your signature is recorded."]
    nc.refresh_from_db()
    assert nc.status == S.CLOSED
    page = response.content.decode()
    assert "signed by manager" in page
    assert "Close and sign</button>" not in page


def test_the_report_prints_as_html_and_pdf(client, staff, chain, manager):
    nc = _report(manager, [chain["bread"]])
    _action(nc, manager, staff)
    client = _client(client, staff)

    html = client.get(reverse("quality:nc_print", args=[nc.reference, "html"]))
    assert "Non-conformance report" in html.content.decode()
    assert "Mill &amp; Co" in html.content.decode()
    pdf = client.get(reverse("quality:nc_print", args=[nc.reference, "pdf"]))
    assert pdf["Content-Disposition"] == f'attachment; filename="{nc.reference}.pdf"'
    import io

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert nc.reference in text
    assert "Recalibrate the thermostat." in text
    assert client.get(reverse("quality:nc_print", args=[nc.reference, "doc"])).status_code == 404


# --- lists and exports ------------------------------------------------------------------------


def test_the_list_filters_by_severity_and_overdue_actions(client, staff, chain, manager):
    late = _report(manager, [chain["bread"]], title="Late one")
    _overdue(_action(late, manager, staff))
    minor = _report(manager, [chain["flour"]], title="Minor one", severity="minor")
    client = _client(client, staff)

    overdue = client.get(reverse("quality:nc_list"), {"overdue": "true"}).content.decode()
    assert late.reference in overdue and minor.reference not in overdue
    by_severity = client.get(reverse("quality:nc_list"), {"severity": "minor"}).content.decode()
    assert minor.reference in by_severity and late.reference not in by_severity
    found = client.get(reverse("quality:nc_list"), {"q": "FL-1"}).content.decode()
    assert minor.reference in found and late.reference not in found


def test_dates_the_wrong_way_round_list_nothing_and_say_why(client, staff, chain, manager):
    _report(manager, [chain["bread"]])
    today = _today()

    page = _client(client, staff).get(
        reverse("quality:nc_list"),
        {"detected_from": today.isoformat(), "detected_to": (today - timedelta(1)).isoformat()},
    )

    assert DATES_REVERSED % {"start": today.isoformat()} in page.content.decode()
    assert "Nothing is listed until the filters above are corrected." in page.content.decode()


def test_the_list_exports_every_report_as_csv_and_xlsx(client, staff, chain, manager):
    nc = _report(manager, [chain["bread"]])
    _overdue(_action(nc, manager, staff))
    client = _client(client, staff)

    csv = client.get(reverse("quality:nc_list"), {"_export": "csv"})
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("Reference,Title,Severity,Source,Status,Detected,Items,Owner")
    assert lines[1].startswith(f"{nc.reference},Burnt crust,major,in-process,open,")
    assert ",1,1," in lines[1]  # one open action, overdue
    xlsx = client.get(reverse("quality:nc_list"), {"_export": "xlsx"})
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


def test_the_list_runs_the_same_queries_for_one_report_or_many(client, staff, chain, manager):
    client = _client(client, staff)
    _report(manager, [chain["bread"]])
    client.get(reverse("quality:nc_list"))

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("quality:nc_list"))
    for _ in range(5):
        nc = _report(manager, [chain["bread"], chain["flour"]])
        _action(nc, manager, staff)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("quality:nc_list"))

    assert len(many.captured_queries) == len(few.captured_queries)


def test_my_actions_and_overdue_ones(client, staff, chain, manager):
    nc = _report(manager, [chain["bread"]])
    mine = _action(nc, manager, staff, description="Staff's job")
    _overdue(mine)
    _action(nc, manager, manager, description="Manager's job")
    client = _client(client, staff)

    page = client.get(reverse("quality:action_list"), {"mine": "true"}).content.decode()
    assert "Staff&#x27;s job" in page and "Manager&#x27;s job" not in page
    assert "overdue" in page
    page = client.get(reverse("quality:action_list"), {"overdue": "false"}).content.decode()
    assert "Manager&#x27;s job" in page and "Staff&#x27;s job" not in page
    csv = client.get(reverse("quality:action_list"), {"_export": "csv", "mine": "true"})
    rows = csv.content.decode().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"{mine.reference},Burnt crust,corrective")


def test_the_action_list_runs_the_same_queries_for_few_or_many(client, staff, chain, manager):
    client = _client(client, staff)
    nc = _report(manager, [chain["bread"]])
    _action(nc, manager, staff)
    client.get(reverse("quality:action_list"))

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("quality:action_list"))
    for _ in range(6):
        _action(nc, manager, manager)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("quality:action_list"))

    assert len(many.captured_queries) == len(few.captured_queries)


# --- dashboard and other pages ----------------------------------------------------------------


def test_the_dashboard_shows_open_reports_and_overdue_and_due_soon_actions(
    client, staff, chain, manager
):
    nc = _report(manager, [chain["bread"]], severity="critical")
    late = _action(nc, manager, staff, description="Late job")
    _overdue(late)
    _action(nc, manager, staff, days=3, description="Soon job")
    _action(nc, manager, staff, days=40, description="Later job")
    closed = _report(manager, [chain["flour"]], severity="minor", title="Old closed one")
    services.nonconformance_close(
        nonconformance=closed,
        closure="no_action",
        statement="Cosmetic.",
        password=PASSWORD,
        acting_user=manager,
    )

    page = _client(client, staff).get(reverse("home")).content.decode()

    assert "Open non-conformances" in page
    assert nc.reference in page and "Old closed one" not in page
    assert "1 critical" in page
    assert "1 overdue · 1 due by" in page
    assert "Late job" in page and "Soon job" in page and "Later job" not in page


def test_the_dashboard_runs_the_same_queries_however_many_reports(client, staff, chain, manager):
    client = _client(client, staff)
    nc = _report(manager, [chain["bread"]])
    _overdue(_action(nc, manager, staff))
    client.get(reverse("home"))

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("home"))
    for _ in range(4):
        more = _report(manager, [chain["bread"]])
        _overdue(_action(more, manager, staff))
        _action(more, manager, manager, days=2)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("home"))

    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_lot_and_unit_pages_list_the_reports_naming_them(client, staff, chain, manager):
    unit = SerialUnitFactory()
    nc = _report(manager, [chain["bread"], unit])
    client = _client(client, staff)

    lot_page = client.get(reverse("lot_detail", args=[chain["bread"].pk])).content.decode()
    assert nc.reference in lot_page
    assert f"/quality/nonconformances/new/?lot={chain['bread'].pk}" in lot_page
    unit_page = client.get(reverse("serial_detail", args=[unit.pk])).content.decode()
    assert nc.reference in unit_page
    flour_page = client.get(reverse("lot_detail", args=[chain["flour"].pk])).content.decode()
    assert "No non-conformance names it." in flour_page


def test_a_recall_opened_from_a_report_is_recorded_on_both(client, manager, chain):
    nc = _report(manager, [chain["bread"]], severity="critical")
    client = _client(client, manager)

    page = client.get(_detail(nc)).content.decode()
    url = reverse("recalls:open") + f"?lot={chain['bread'].pk}&nc={nc.reference}"
    assert url.replace("&", "&amp;") in page
    form = client.get(url).context["form"]
    assert form.initial["identifiers"] == "BREAD lot BR-1"
    assert form.initial["title"] == "Burnt crust"
    response = client.post(
        url,
        {
            "identifiers": "BREAD lot BR-1",
            "title": "Burnt crust",
            "reason": "Crust colour beyond the limit sample.",
            "classification": "II",
            "depth": "retail",
            "public_warning": "none",
            "effectiveness_check": "B",
            "draft": "1",
        },
        follow=True,
    )

    campaign = RecallCampaign.objects.get()
    nc.refresh_from_db()
    assert nc.recall_campaign == campaign
    assert "Opened from" in response.content.decode()
    assert nc.reference in response.content.decode()
    assert "Open a recall from this NC" not in client.get(_detail(nc)).content.decode()


def test_the_close_form_waits_for_the_effectiveness_check_unless_no_action_is_needed(
    client, manager, staff, chain
):
    major = _report(manager, [chain["bread"]])
    _action(major, manager, staff)
    critical = _report(manager, [chain["flour"]], severity="critical")
    minor = _report(manager, [chain["flour"]], severity="minor")
    client = _client(client, manager)

    assert "Close and sign</button>" not in client.get(_detail(major)).content.decode()
    assert "Close and sign</button>" not in client.get(_detail(critical)).content.decode()
    assert "Close and sign</button>" in client.get(_detail(minor)).content.decode()
    response = _post(
        client, major, "close", closure="effective", statement="x", password=PASSWORD, follow=True
    )
    assert _messages(response) == [
        f"{major.reference} cannot be closed while these actions are not verified effective: "
        f"{major.reference}/1 (open, staff, due {(_today() + timedelta(days=7)).isoformat()})."
    ]


def test_a_manager_reschedules_reassigns_and_cancels_an_action(client, manager, staff, chain):
    nc = _report(manager, [chain["bread"]])
    action = _action(nc, manager, manager)
    client = _client(client, manager)
    due = _today() + timedelta(days=20)

    refused = _post(client, nc, "reschedule", action=1, due_on=due.isoformat(), owner=staff.pk)
    assert refused.context["rows"][0]["forms"]["reschedule"].errors["reason"] == [
        "This field is required."
    ]
    response = _post(
        client,
        nc,
        "reschedule",
        action=1,
        due_on=due.isoformat(),
        owner=staff.pk,
        reason="Back from leave.",
        follow=True,
    )
    assert _messages(response) == [f"Action {action.reference} is rescheduled."]
    action.refresh_from_db()
    assert (action.due_on, action.owner) == (due, staff)
    _post(client, nc, "cancel", action=1, reason="Superseded.")
    action.refresh_from_db()
    assert action.status == CapaAction.Status.CANCELLED


def test_a_manager_finds_an_action_did_not_work_and_reopens_it(client, manager, staff, chain):
    nc = _report(manager, [chain["bread"]])
    action = _action(nc, manager, staff)
    services.capa_action_complete(action=action, note="Done.", acting_user=staff)
    client = _client(client, manager)

    refused = _post(client, nc, "verify", action=1, effective="no", note="Still burnt.")
    assert refused.context["rows"][0]["forms"]["verify"].errors["new_due_on"] == [
        services.CAPA_NEW_DUE_REQUIRED
    ]
    due = _today() + timedelta(days=5)
    _post(client, nc, "verify", action=1, effective="no", note="Still burnt.", new_due_on=due)
    action.refresh_from_db()
    assert (action.status, action.due_on) == (CapaAction.Status.OPEN, due)


def test_the_new_owner_of_an_action_is_told_by_email_after_the_commit(
    manager, staff, chain, django_capture_on_commit_callbacks, mailoutbox
):
    nc = _report(manager, [chain["bread"]])
    staff.first_name, staff.last_name, staff.email = "Daniel", "Reyes", "daniel@example.com"
    staff.save()

    with django_capture_on_commit_callbacks(execute=True):
        action = _action(nc, manager, staff)
        _action(nc, manager, manager)  # given to oneself: no e-mail

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["daniel@example.com"]
    assert mail.subject == f"CAPA action {action.reference} is yours, due {action.due_on}"
    assert f"/quality/nonconformances/{nc.reference}/#action-1" in mail.body


def test_a_manager_names_more_lots_on_the_report(client, manager, staff, chain):
    nc = _report(manager, [chain["bread"]])

    refused = _post(_client(client, staff), nc, "add_items", items="FLOUR lot FL-1")
    assert refused.status_code == 403
    response = _post(
        _client(client, manager), nc, "add_items", items="FLOUR lot FL-1 | 5", follow=True
    )

    assert _messages(response) == [f"{nc.reference}: the lots and units are added."]
    assert nc.named_items.get(item_id=chain["flour"].pk).quantity == Decimal("5")


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-"])
def test_a_quantity_that_is_not_a_number_is_refused_not_a_500(client, manager, chain, amount):
    nc = _report(manager, [chain["bread"]])

    response = _post(_client(client, manager), nc, "add_items", items=f"FLOUR lot FL-1 | {amount}")

    assert response.status_code == 200
    assert response.context["forms"]["add_items"].errors["items"] == [
        f"“{amount}” is not a quantity (line: FLOUR lot FL-1 | {amount})."
    ]
    assert nc.named_items.count() == 1


def test_an_unknown_step_says_so(client, manager, chain):
    nc = _report(manager, [chain["bread"]])

    response = _post(_client(client, manager), nc, "advance", status="bogus")

    assert "Select a valid choice. bogus is not one of the available choices." in (
        response.content.decode()
    )
    nc.refresh_from_db()
    assert nc.status == S.OPEN


def test_the_reporter_chooses_the_severity_and_source_rather_than_a_default(client, staff):
    page = _client(client, staff).get(reverse("quality:nc_new"))
    assert page.context["form"]["severity"].value() in (None, "")

    response = client.post(
        reverse("quality:nc_new"),
        {"items": "x", "title": "t", "description": "d", "detected_on": _today().isoformat()},
    )

    errors = response.context["form"].errors
    assert errors["severity"] == errors["source"] == ["This field is required."]
    assert not NonConformance.objects.exists()


def test_the_action_list_filters_by_owner_named_as_people_read_them(client, staff, chain, manager):
    manager.first_name, manager.last_name = "Maria", "Okafor"
    manager.save()
    nc = _report(manager, [chain["bread"]])
    _action(nc, manager, manager, description="Her job")
    _action(nc, manager, staff, description="His job")
    client = _client(client, staff)

    page = client.get(reverse("quality:action_list"), {"owner": manager.pk})

    assert f'<option value="{manager.pk}" selected>Maria Okafor</option>' in page.content.decode()
    assert "Her job" in page.content.decode() and "His job" not in page.content.decode()
