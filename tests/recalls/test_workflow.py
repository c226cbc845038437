"""A campaign's working life: drafts, scopes, re-scoping, resolutions, notices, responses,
progress, and signed completion and termination."""

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from inventory.models import Lot, SerialUnit, StatusChange
from recalls import scope, selectors, services
from recalls.models import (
    AffectedItem,
    CampaignEvent,
    CampaignSignature,
    ItemResolution,
    RecallCampaign,
)

from ..inventory.factories import SerialProductFactory, SerialUnitFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # UserFactory's
W = AffectedItem.Whereabouts
R = AffectedItem.Resolution


def _open(manager, **kwargs):
    fields = {
        "identifiers": ["FLOUR lot FL-1", "CELL lot CE-1"],
        "title": "Peanut traces",
        "reason": "The flour supplier found peanut traces.",
        "classification": RecallCampaign.Classification.CLASS_I,
        "acting_user": manager,
        **kwargs,
    }
    return services.recall_open(**fields)


def _line(campaign, label, party=None, whereabouts=None):
    rows = [
        row for row in campaign.affected_items.select_related("consignee") if row.label == label
    ]
    if party is not None:
        rows = [row for row in rows if row.consignee and row.consignee.name == party]
    if whereabouts is not None:
        rows = [row for row in rows if row.whereabouts == whereabouts]
    (row,) = rows
    return row


# --- drafts -----------------------------------------------------------------------------------


def test_a_draft_holds_nothing_until_it_opens(manager, graph):
    draft = services.recall_draft(
        identifiers=["BREAD lot BR-1"],
        title="Bread",
        reason="Mould",
        classification="II",
        acting_user=manager,
    )

    assert draft.status == RecallCampaign.Status.DRAFT
    assert not draft.affected_items.exists()
    assert not StatusChange.objects.exists()
    assert draft.notice_subject and draft.notice_body

    opened = services.recall_start(campaign=draft, acting_user=manager)

    assert opened.status == RecallCampaign.Status.ONGOING
    assert opened.scope_revision == 1
    assert opened.trace_duration is not None
    assert Lot.objects.get(code="BR-1").status == Lot.Status.RECALLED


def test_an_open_campaign_cannot_be_started_again(manager, graph):
    campaign = _open(manager, is_drill=True)

    with pytest.raises(ValidationError) as exc_info:
        services.recall_start(campaign=campaign, acting_user=manager)

    assert exc_info.value.messages == [services.NOT_A_DRAFT % {"reference": campaign.reference}]


# --- scopes -----------------------------------------------------------------------------------


def test_a_serial_range_names_the_units_between_its_ends_of_the_same_length(manager, db):
    product = SerialProductFactory(sku="PUMP")
    for serial in ("A0009", "A0010", "A0011", "A0120", "A01", "B0010"):
        SerialUnitFactory(product=product, serial=serial)

    found = scope.resolve([scope.serial_range("PUMP", "A0009", "A0011")])

    assert sorted(unit.serial for unit in found.serial_units) == ["A0009", "A0010", "A0011"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            scope.serial_range("NOPE", "1", "2"),
            scope.UNKNOWN_SKU % {"sku": "NOPE"},
        ),
        (
            scope.serial_range("PACK", "P-3", "P-1"),
            scope.RANGE_BACKWARDS % {"sku": "PACK", "first": "P-3", "last": "P-1"},
        ),
        (
            scope.serial_range("PACK", "Q-1", "Q-9"),
            scope.RANGE_EMPTY % {"sku": "PACK", "first": "Q-1", "last": "Q-9"},
        ),
        (scope.supplier_lot("SUP-404"), scope.SUPPLIER_LOT_UNKNOWN % {"code": "SUP-404"}),
        (
            scope.produced("BREAD", date(2001, 1, 1), date(2001, 1, 2)),
            scope.PRODUCED_EMPTY % {"sku": "BREAD", "first": "2001-01-01", "last": "2001-01-02"},
        ),
        ({"mystery": 1}, scope.BAD_ENTRY),
    ],
)
def test_a_scope_entry_that_names_nothing_is_refused_and_nothing_is_written(
    manager, graph, entry, message
):
    with pytest.raises(ValidationError) as exc_info:
        _open(manager, identifiers=[], scope_entries=[entry])

    assert exc_info.value.messages == [str(message)]
    assert not RecallCampaign.objects.exists()
    assert not StatusChange.objects.exists()


def test_a_production_date_range_and_a_supplier_lot_code_are_scopes(manager, graph):
    today = timezone.localdate()
    graph["flour"].supplier_lot_code = "MILL-77"
    graph["flour"].save()
    SerialUnit.objects.filter(serial__in=["P-1", "P-2"]).update(produced_on=today)
    SerialUnit.objects.filter(serial="P-3").update(produced_on=today - timedelta(days=9))

    campaign = _open(
        manager,
        identifiers=[],
        scope_entries=[
            scope.supplier_lot("MILL-77"),
            scope.produced("PACK", today - timedelta(days=1), today),
        ],
        is_drill=True,
    )

    depth0 = set(campaign.affected_items.filter(depth=0).values_list("lot_code", "serial"))
    assert depth0 == {("FL-1", ""), ("", "P-1"), ("", "P-2")}
    assert campaign.scope == [
        {"supplier_lot": "MILL-77"},
        {"produced": {"sku": "PACK", "first": str(today - timedelta(days=1)), "last": str(today)}},
    ]


# --- re-scoping -------------------------------------------------------------------------------


def test_rescoping_adds_what_the_new_scope_reaches_and_records_the_difference(manager, graph):
    campaign = _open(manager, identifiers=["BREAD lot BR-1"])

    services.recall_rescope(
        campaign=campaign,
        identifiers=["BREAD lot BR-1", "CELL lot CE-1"],
        reason="Cells from the same supplier",
        acting_user=manager,
    )

    campaign.refresh_from_db()
    assert campaign.scope_revision == 2
    assert campaign.scope == ["BREAD lot BR-1", "CELL lot CE-1"]
    added = campaign.affected_items.filter(added_in=2)
    assert set(added.values_list("lot_code", "serial")) == {
        ("CE-1", ""),
        ("", "P-1"),
        ("", "P-2"),
        ("", "P-3"),
        ("", "D-1"),
    }
    assert Lot.objects.get(code="CE-1").status == Lot.Status.RECALLED
    entry = campaign.timeline.get(kind=CampaignEvent.Kind.RESCOPED)
    assert entry.details["removed"] == []
    assert "CELL lot CE-1" in entry.details["added"]
    assert entry.details["scope_before"] == ["BREAD lot BR-1"]
    # Anna's Deli got bread before and a pack now: its notice lists both.
    deli = campaign.notices.get(party=graph["deli"])
    assert [line["item"] for line in deli.received] == ["BREAD lot BR-1", "PACK serial P-1"]


def test_rescoping_takes_out_what_the_scope_no_longer_reaches_and_keeps_its_rows(manager, graph):
    campaign = _open(manager)
    bread = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    services.affected_items_resolve(
        campaign=campaign, items=[bread], outcome=R.RETURNED, acting_user=manager
    )

    services.recall_rescope(
        campaign=campaign,
        identifiers=["CELL lot CE-1"],
        reason="Flour cleared",
        acting_user=manager,
    )

    assert not campaign.affected_items.filter(lot_code__in=["FL-1", "BR-1"], removed_at=None)
    kept = AffectedItem.objects.get(pk=bread.pk)
    assert kept.removed_at is not None and kept.resolution == R.RETURNED
    entry = campaign.timeline.get(kind=CampaignEvent.Kind.RESCOPED)
    assert entry.details["removed"] == ["BREAD lot BR-1", "FLOUR lot FL-1"]
    # The hold stays until someone releases the stock on purpose.
    assert Lot.objects.get(code="BR-1").status == Lot.Status.RECALLED
    assert (
        len(selectors.affected_items(campaign))
        == campaign.affected_items.filter(removed_at=None).count()
    )


def test_rescoping_needs_a_reason(manager, graph):
    campaign = _open(manager, is_drill=True)

    with pytest.raises(ValidationError) as exc_info:
        services.recall_rescope(
            campaign=campaign, identifiers=["CELL lot CE-1"], reason=" ", acting_user=manager
        )

    assert exc_info.value.message_dict == {"reason": [services.RESCOPE_REASON_REQUIRED]}
    campaign.refresh_from_db()
    assert campaign.scope_revision == 1


# --- resolutions ------------------------------------------------------------------------------


def test_a_line_is_resolved_in_parts_by_different_people(manager, staff, graph):
    campaign = _open(manager)
    line = _line(campaign, "BREAD lot BR-1", party="Dist Co")

    services.affected_items_resolve(
        campaign=campaign,
        items=[line],
        outcome=R.RETURNED,
        quantity=Decimal("12"),
        evidence="RMA 881",
        acting_user=staff,
    )
    services.affected_items_resolve(
        campaign=campaign,
        items=[line],
        outcome=R.DESTROYED,
        evidence="Cert 12",
        acting_user=manager,
    )

    line.refresh_from_db()
    assert (line.resolved_quantity, line.resolution, line.resolved_by) == (
        Decimal("20"),
        R.DESTROYED,
        manager,
    )
    entries = ItemResolution.objects.filter(affected_item=line).order_by("pk")
    assert [(e.outcome, e.quantity, e.recorded_by, e.evidence) for e in entries] == [
        (R.RETURNED, Decimal("12"), staff, "RMA 881"),
        (R.DESTROYED, Decimal("8"), manager, "Cert 12"),
    ]
    messages = list(
        campaign.timeline.filter(kind=CampaignEvent.Kind.RESOLVED).values_list("message", flat=True)
    )
    assert messages == [
        "Resolved 1 line(s) as returned (12 kg): BREAD lot BR-1.",
        "Resolved 1 line(s) as destroyed (8 kg): BREAD lot BR-1.",
    ]


def test_more_than_is_left_is_refused_and_nothing_is_written(manager, graph):
    campaign = _open(manager)
    line = _line(campaign, "BREAD lot BR-1", party="Anna's Deli")

    with pytest.raises(ValidationError) as exc_info:
        services.affected_items_resolve(
            campaign=campaign,
            items=[line],
            outcome=R.RETURNED,
            quantity=Decimal("10.5"),
            acting_user=manager,
        )

    assert exc_info.value.message_dict == {
        "quantity": [
            services.TOO_MUCH % {"left": "10", "unit": "kg", "item": "BREAD lot BR-1 (Anna's Deli)"}
        ]
    }
    assert not ItemResolution.objects.exists()


def test_a_line_resolved_in_full_cannot_be_resolved_again(manager, staff, graph):
    campaign = _open(manager)
    line = _line(campaign, "PACK serial P-1", party="Anna's Deli")
    services.affected_items_resolve(
        campaign=campaign, items=[line], outcome=R.RETURNED, acting_user=staff
    )

    with pytest.raises(ValidationError) as exc_info:
        services.affected_items_resolve(
            campaign=campaign, items=[line], outcome=R.DESTROYED, acting_user=manager
        )

    (message,) = exc_info.value.messages
    assert message.startswith(
        "PACK serial P-1 (Anna's Deli) is already resolved (returned, by staff"
    )
    assert ItemResolution.objects.count() == 1


def test_many_lines_at_once_resolve_what_is_left_of_each(manager, graph):
    campaign = _open(manager)
    shipped = list(campaign.affected_items.filter(whereabouts=W.SHIPPED).order_by("pk"))
    services.affected_items_resolve(
        campaign=campaign,
        items=[shipped[0]],
        outcome=R.RETURNED,
        quantity=shipped[0].quantity / 2,
        acting_user=manager,
    )

    entries = services.affected_items_resolve(
        campaign=campaign, items=shipped, outcome=R.DESTROYED, acting_user=manager
    )

    assert len(entries) == len(shipped)
    assert entries[0].quantity == shipped[0].quantity / 2
    assert all(
        row.resolved_quantity == row.quantity
        for row in AffectedItem.objects.filter(pk__in=[row.pk for row in shipped])
    )
    with pytest.raises(ValidationError) as exc_info:
        services.affected_items_resolve(
            campaign=campaign, items=shipped, outcome=R.DESTROYED, acting_user=manager
        )
    assert exc_info.value.messages == [services.NOTHING_LEFT]


def test_a_quantity_is_for_one_line_only(manager, graph):
    campaign = _open(manager)
    shipped = list(campaign.affected_items.filter(whereabouts=W.SHIPPED))

    with pytest.raises(ValidationError) as exc_info:
        services.affected_items_resolve(
            campaign=campaign,
            items=shipped,
            outcome=R.RETURNED,
            quantity=Decimal(1),
            acting_user=manager,
        )

    assert exc_info.value.message_dict == {"quantity": [services.QUANTITY_FOR_ONE]}


def test_lines_of_another_campaign_are_refused(manager, graph):
    first = _open(manager, is_drill=True)
    second = _open(manager, is_drill=True)
    theirs = first.affected_items.first()

    with pytest.raises(ValidationError) as exc_info:
        services.affected_items_resolve(
            campaign=second, items=[theirs], outcome=R.LOCATED, acting_user=manager
        )

    assert exc_info.value.messages == [services.NOT_IN_CAMPAIGN % {"reference": second.reference}]


def test_a_mistaken_resolution_is_reversed_and_stays_on_record(manager, graph):
    campaign = _open(manager)
    line = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    (entry,) = services.affected_items_resolve(
        campaign=campaign, items=[line], outcome=R.NOT_FOUND, acting_user=manager
    )

    services.resolution_reverse(resolution=entry, reason="Wrong line", acting_user=manager)

    line.refresh_from_db()
    assert (line.resolution, line.resolved_quantity, line.resolved_at) == ("", None, None)
    assert list(ItemResolution.objects.order_by("pk").values_list("quantity", flat=True)) == [
        Decimal("20"),
        Decimal("-20"),
    ]
    with pytest.raises(ValidationError) as exc_info:
        services.resolution_reverse(resolution=entry, reason="Again", acting_user=manager)
    assert exc_info.value.messages == [services.ALREADY_REVERSED]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_people_resolving_the_same_line_at_once_lose_no_update(manager, staff, graph):
    campaign = _open(manager)
    line = _line(campaign, "BREAD lot BR-1", party="Dist Co")
    barrier = threading.Barrier(2)
    done, errors = [], []

    def resolve(user, outcome):
        try:
            barrier.wait()
            done.append(
                services.affected_items_resolve(
                    campaign=campaign,
                    items=[line.pk],
                    outcome=outcome,
                    quantity=Decimal("7"),
                    acting_user=user,
                )
            )
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=resolve, args=(manager, R.RETURNED)),
        threading.Thread(target=resolve, args=(staff, R.DESTROYED)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    line.refresh_from_db()
    assert line.resolved_quantity == Decimal("14")
    assert sorted(ItemResolution.objects.values_list("outcome", flat=True)) == [
        R.DESTROYED,
        R.RETURNED,
    ]


# --- notices and responses --------------------------------------------------------------------


def test_notices_go_out_by_email_after_the_commit_and_keep_what_was_sent(
    manager, graph, django_capture_on_commit_callbacks
):
    campaign = _open(manager)
    notices = list(campaign.notices.select_related("party"))

    with django_capture_on_commit_callbacks(execute=True):
        services.notices_send(
            campaign=campaign, notices_to_send=notices, method="email", acting_user=manager
        )

    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        notice.party.email for notice in notices
    )
    deli = campaign.notices.get(party=graph["deli"])
    assert deli.subject == f"URGENT: Product recall {campaign.reference} - Peanut traces"
    assert "BREAD lot BR-1: 10 kg" in deli.body
    assert "PACK serial P-1: 1 each" in deli.body
    assert (deli.method, deli.sent_by, deli.sent_to) == ("email", manager, graph["deli"].email)
    assert campaign.timeline.filter(kind=CampaignEvent.Kind.SENT).count() == 1


def test_a_drills_emails_go_to_the_sender_only(manager, graph, django_capture_on_commit_callbacks):
    campaign = _open(manager, is_drill=True)

    with django_capture_on_commit_callbacks(execute=True):
        services.notices_send(
            campaign=campaign,
            notices_to_send=list(campaign.notices.all()),
            method="email",
            acting_user=manager,
        )

    assert {message.to[0] for message in mail.outbox} == {manager.email}
    assert all(message.subject.startswith("[MOCK RECALL - DRILL]") for message in mail.outbox)


def test_consignees_without_email_are_named_and_nothing_is_sent(
    manager, graph, django_capture_on_commit_callbacks
):
    campaign = _open(manager)
    graph["deli"].email = ""
    graph["deli"].save()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as exc:
        services.notices_send(
            campaign=campaign,
            notices_to_send=list(campaign.notices.all()),
            method="email",
            acting_user=manager,
        )

    assert exc.value.messages == [services.NO_EMAIL % {"parties": "Anna's Deli", "count": 1}]
    assert mail.outbox == []
    assert not campaign.notices.filter(sent_at__isnull=False).exists()


def test_a_letter_is_recorded_with_the_postal_address(manager, graph):
    campaign = _open(manager)
    notice = campaign.notices.get(party=graph["deli"])

    services.notices_send(
        campaign=campaign, notices_to_send=[notice], method="letter", acting_user=manager
    )

    notice.refresh_from_db()
    assert (notice.method, notice.sent_to) == ("letter", "Springfield, US")
    assert mail.outbox == []


def test_a_notice_template_with_an_error_is_refused(manager, graph):
    campaign = _open(manager, is_drill=True)

    with pytest.raises(ValidationError) as exc_info:
        services.campaign_notice_update(
            campaign=campaign, subject="Recall", body="{% for x %}", acting_user=manager
        )

    assert list(exc_info.value.message_dict) == ["notice_body"]
    campaign.refresh_from_db()
    assert "{% for item in items %}" in campaign.notice_body


def test_a_response_is_recorded_with_its_quantities(manager, staff, graph):
    campaign = _open(manager)
    notice = campaign.notices.get(party=graph["distributor"])
    services.notices_send(
        campaign=campaign, notices_to_send=[notice], method="phone", acting_user=manager
    )

    services.notice_record_response(
        notice=notice,
        acknowledged_at=timezone.now(),
        quantity_on_hand=Decimal("15"),
        quantity_returned=Decimal("15"),
        check_result="effective",
        notes="Called back",
        acting_user=staff,
    )

    notice.refresh_from_db()
    assert (notice.quantity_on_hand, notice.unit, notice.check_result) == (
        Decimal("15"),
        "KGM",
        "effective",
    )
    assert notice.history.latest("history_date").history_user == staff
    entry = campaign.timeline.get(kind=CampaignEvent.Kind.RESPONSE)
    assert entry.message == "Response from Dist Co: on hand 15 kg, returned 15 kg, effective"


def test_an_acknowledgement_needs_the_notice_sent_first(manager, graph):
    campaign = _open(manager)
    notice = campaign.notices.first()

    with pytest.raises(ValidationError) as exc_info:
        services.notice_record_response(
            notice=notice, acknowledged_at=timezone.now(), acting_user=manager
        )

    assert exc_info.value.message_dict == {"acknowledged_at": [services.NOT_SENT_YET]}


# --- progress ---------------------------------------------------------------------------------


def test_progress_balances_each_unit_of_measure(manager, graph):
    campaign = _open(manager, identifiers=["BREAD lot BR-1"])
    services.affected_items_resolve(
        campaign=campaign,
        items=[_line(campaign, "BREAD lot BR-1", party="Dist Co")],
        outcome=R.RETURNED,
        acting_user=manager,
    )
    services.affected_items_resolve(
        campaign=campaign,
        items=[_line(campaign, "BREAD lot BR-1", party="Anna's Deli")],
        outcome=R.CONSUMED,
        quantity=Decimal("4"),
        acting_user=manager,
    )

    progress = selectors.campaign_progress(campaign)

    (kg,) = progress.balances
    assert (kg.produced, kg.shipped, kg.on_hand, kg.used) == (50, 30, 20, 0)
    assert (kg.recovered, kg.consumed, kg.accounted, kg.unaccounted) == (20, 4, 24, 26)
    assert kg.percent == Decimal("48.0")
    assert (progress.consignees, progress.notified, progress.responded) == (3, 0, 0)
    assert (progress.lines, progress.lines_resolved) == (4, 1)


# --- completion and termination ---------------------------------------------------------------


def test_completing_is_signed_with_the_password_and_a_statement(manager, graph):
    campaign = _open(manager, is_drill=True)

    with pytest.raises(ValidationError) as exc_info:
        services.recall_complete(
            campaign=campaign, password="guess", statement="", acting_user=manager
        )
    assert exc_info.value.message_dict == {
        "statement": [services.STATEMENT_REQUIRED],
        "password": [services.WRONG_PASSWORD],
    }
    assert not CampaignSignature.objects.exists()

    services.recall_complete(
        campaign=campaign,
        password=PASSWORD,
        statement="All consignees were reached.",
        acting_user=manager,
    )

    campaign.refresh_from_db()
    assert campaign.status == RecallCampaign.Status.COMPLETED
    assert campaign.time_to_complete is not None
    signature = campaign.signatures.get()
    assert (signature.meaning, signature.signer, signature.statement) == (
        "completed",
        manager,
        "All consignees were reached.",
    )


def test_termination_is_refused_while_gaps_remain(manager, graph):
    campaign = _open(manager)
    services.recall_complete(
        campaign=campaign, password=PASSWORD, statement="Done", acting_user=manager
    )

    with pytest.raises(ValidationError) as exc_info:
        services.recall_terminate(
            campaign=campaign, password=PASSWORD, statement="Close", acting_user=manager
        )

    messages = exc_info.value.messages
    assert messages[0] == services.TERMINATION_REFUSED
    assert messages[1] == ("3 consignee(s) have not responded: Anna's Deli, Corner Shop, Dist Co")
    assert any("kg not accounted for (" in message for message in messages)
    campaign.refresh_from_db()
    assert campaign.status == RecallCampaign.Status.COMPLETED


def test_a_justified_exception_terminates_and_is_signed_with_its_gaps(manager, graph):
    campaign = _open(manager)
    services.recall_complete(
        campaign=campaign, password=PASSWORD, statement="Done", acting_user=manager
    )

    services.recall_terminate(
        campaign=campaign,
        password=PASSWORD,
        statement="Closed",
        justification="The deli closed down; FDA agreed on 2026-11-20.",
        acting_user=manager,
    )

    campaign.refresh_from_db()
    assert campaign.status == RecallCampaign.Status.TERMINATED
    exception = campaign.signatures.get(meaning=CampaignSignature.Meaning.EXCEPTION)
    assert "The deli closed down" in exception.statement
    assert "have not responded" in exception.statement


def test_a_reconciled_campaign_terminates_without_an_exception(manager, graph):
    campaign = _open(manager)
    lines = campaign.affected_items.exclude(whereabouts__in=[W.USED, W.INSTALLED])
    services.affected_items_resolve(
        campaign=campaign, items=list(lines), outcome=R.LOCATED, acting_user=manager
    )
    notices = list(campaign.notices.all())
    services.notices_send(
        campaign=campaign, notices_to_send=notices, method="phone", acting_user=manager
    )
    for notice in notices:
        services.notice_record_response(
            notice=notice, acknowledged_at=timezone.now(), acting_user=manager
        )
    services.recall_complete(
        campaign=campaign, password=PASSWORD, statement="Done", acting_user=manager
    )

    assert selectors.termination_gaps(campaign) == []
    services.recall_terminate(
        campaign=campaign, password=PASSWORD, statement="Closed", acting_user=manager
    )

    assert list(campaign.signatures.values_list("meaning", flat=True).order_by("pk")) == [
        "completed",
        "terminated",
    ]
    assert all(balance.percent == 100 for balance in selectors.campaign_progress(campaign).balances)


def test_a_terminated_campaign_takes_no_more_resolutions(manager, graph):
    campaign = _open(manager, is_drill=True)
    services.recall_complete(
        campaign=campaign, password=PASSWORD, statement="Done", acting_user=manager
    )
    services.recall_terminate(
        campaign=campaign,
        password=PASSWORD,
        statement="Closed",
        justification="Drill ended",
        acting_user=manager,
    )

    with pytest.raises(ValidationError) as exc_info:
        services.affected_items_resolve(
            campaign=campaign,
            items=[campaign.affected_items.first()],
            outcome=R.LOCATED,
            acting_user=manager,
        )

    assert exc_info.value.messages == [
        services.NOT_ALLOWED_NOW % {"reference": campaign.reference, "status": "terminated"}
    ]
    assert SerialUnit.objects.filter(status="recalled").count() == 0
