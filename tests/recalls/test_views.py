"""The recall pages: who may do what, what each form writes or refuses, and query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from inventory.models import Lot
from recalls import services
from recalls.models import AffectedItem, CampaignSignature, ItemResolution, RecallCampaign

from .test_workflow import PASSWORD, _line, _open

pytestmark = pytest.mark.django_db

R = AffectedItem.Resolution


def _client(client, user):
    client.force_login(user)
    return client


def _url(name, campaign, *args):
    return reverse(f"recalls:{name}", args=[campaign.reference, *args])


def _messages(response):
    return [str(message) for message in response.context["messages"]]


# --- who sees what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "staff"])
def test_managers_and_staff_see_the_campaign_list(client, request, role, graph, manager):
    campaign = _open(manager, is_drill=True)
    page = _client(client, request.getfixturevalue(role)).get(reverse("recalls:list"))

    assert page.status_code == 200
    assert campaign.reference in page.content.decode()
    assert 'href="/recalls/"' in page.content.decode()  # the nav offers Recalls


def test_others_see_nothing_of_recalls(client, administrator, graph, manager):
    campaign = _open(manager, is_drill=True)
    client = _client(client, administrator)

    assert client.get(reverse("recalls:list")).status_code == 403
    assert client.get(campaign.get_absolute_url()).status_code == 403
    assert client.get(_url("report_file", campaign, "csv")).status_code == 403
    assert 'href="/recalls/"' not in client.get(reverse("home")).content.decode()


def test_staff_cannot_open_rescope_or_close(client, staff, graph, manager):
    campaign = _open(manager, is_drill=True)
    client = _client(client, staff)

    assert client.get(reverse("recalls:open")).status_code == 403
    assert client.get(_url("rescope", campaign)).status_code == 403
    assert client.get(_url("complete", campaign)).status_code == 403
    assert client.post(_url("send", campaign), {"method": "email"}).status_code == 403
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert 'id="resolve-form"' in page
    assert "Re-scope" not in page and 'id="send-form"' not in page


# --- opening ----------------------------------------------------------------------------------


def test_the_open_form_starts_from_a_lot_page(client, manager, graph):
    page = _client(client, manager).get(reverse("recalls:open"), {"lot": graph["bread"].pk})

    assert page.context["form"].initial["identifiers"] == "BREAD lot BR-1"


def test_lot_and_unit_pages_offer_managers_to_open_a_recall(client, manager, staff, graph):
    lot_page = reverse("lot_detail", args=[graph["bread"].pk])
    unit_page = reverse("serial_detail", args=[graph["device"].pk])
    open_url = reverse("recalls:open")

    managers = _client(client, manager)
    assert f'href="{open_url}?lot={graph["bread"].pk}"' in managers.get(lot_page).content.decode()
    assert (
        f'href="{open_url}?serial={graph["device"].pk}"' in managers.get(unit_page).content.decode()
    )
    assert "Open a recall" not in _client(client, staff).get(lot_page).content.decode()


def test_a_forward_trace_offers_to_open_a_recall_of_its_roots(client, manager, graph):
    client = _client(client, manager)
    trace = reverse("trace")

    forward = client.get(trace, {"q": "FLOUR lot FL-1", "direction": "forward"}).content.decode()
    backward = client.get(trace, {"q": "BREAD lot BR-1", "direction": "backward"}).content.decode()

    assert f'href="{reverse("recalls:open")}?q=FLOUR+lot+FL-1"' in forward
    assert "Open a recall" not in backward
    opened = client.get(reverse("recalls:open"), {"q": "FLOUR lot FL-1"})
    assert opened.context["form"].initial["identifiers"] == "FLOUR lot FL-1"


def _open_form(**extra):
    return {
        "identifiers": "BREAD lot BR-1",
        "title": "Mould",
        "reason": "Visible mould on returns",
        "classification": "II",
        "depth": "retail",
        "public_warning": "none",
        "effectiveness_check": "B",
        "open": "",
        **extra,
    }


def test_opening_from_the_page_holds_the_stock_and_shows_the_campaign(client, manager, graph):
    response = _client(client, manager).post(reverse("recalls:open"), _open_form(), follow=True)

    campaign = RecallCampaign.objects.get()
    assert response.redirect_chain[-1][0] == campaign.get_absolute_url()
    assert campaign.status == "ongoing" and campaign.depth == "retail"
    assert Lot.objects.get(code="BR-1").status == Lot.Status.RECALLED
    assert _messages(response) == [
        f"{campaign.reference} is open: 1 affected item(s), 3 consignee(s)."
    ]


def test_a_draft_is_saved_and_opened_later(client, manager, graph):
    client = _client(client, manager)
    client.post(reverse("recalls:open"), {**_open_form(), "draft": ""})
    campaign = RecallCampaign.objects.get()
    assert campaign.status == "draft"
    assert Lot.objects.get(code="BR-1").status != Lot.Status.RECALLED

    client.post(_url("start", campaign))

    campaign.refresh_from_db()
    assert campaign.status == "ongoing"
    assert Lot.objects.get(code="BR-1").status == Lot.Status.RECALLED


def test_an_unknown_identifier_is_shown_on_the_form_and_nothing_is_written(client, manager, graph):
    page = _client(client, manager).post(
        reverse("recalls:open"), _open_form(identifiers="BREAD lot NOPE")
    )

    assert page.status_code == 200
    assert page.context["form"].non_field_errors() == [
        "No lot or serial unit matches BREAD lot NOPE."
    ]
    assert not RecallCampaign.objects.exists()


def test_a_serial_range_from_the_form(client, manager, graph):
    _client(client, manager).post(
        reverse("recalls:open"),
        _open_form(identifiers="", range_sku="PACK", range_first="P-1", range_last="P-2"),
    )

    campaign = RecallCampaign.objects.get()
    assert campaign.scope == [{"serials": {"sku": "PACK", "first": "P-1", "last": "P-2"}}]


# --- the campaign page ------------------------------------------------------------------------


CAMPAIGN_PAGE_QUERIES = 33  # + the registered owners of its units


@pytest.mark.parametrize("extra_lots", [0, 30])
def test_the_campaign_page_runs_a_constant_number_of_queries(
    client, manager, graph, extra_lots, django_assert_max_num_queries
):
    from inventory import services as inventory_services
    from inventory.services import Line

    from ..inventory.factories import LotFactory, PartyFactory

    for n in range(extra_lots):
        lot = LotFactory(code=f"X-{n}", quantity=Decimal(5), site=graph["plant"], expires_on=None)
        inventory_services.shipment_create(
            lots=[Line(lot, Decimal(1))],
            from_site=graph["plant"],
            to_party=PartyFactory(),
            acting_user=manager,
        )
    identifiers = ["FLOUR lot FL-1", "CELL lot CE-1", *(f"X-{n}" for n in range(extra_lots))]
    campaign = _open(manager, identifiers=identifiers)
    client = _client(client, manager)

    with django_assert_max_num_queries(CAMPAIGN_PAGE_QUERIES):
        page = client.get(campaign.get_absolute_url())

    assert page.status_code == 200
    assert page.context["lines"].paginator.count == campaign.affected_items.count()


def test_the_campaign_page_shows_progress_lines_and_consignees(client, manager, graph):
    campaign = _open(manager)
    page = _client(client, manager).get(campaign.get_absolute_url()).content.decode()

    assert "Mass balance (kg)" in page
    assert "Anna&#x27;s Deli" in page
    assert "BREAD lot BR-1" in page
    assert "accounted for" in page


def test_lines_filter_by_whereabouts(client, manager, graph):
    campaign = _open(manager)
    page = _client(client, manager).get(
        campaign.get_absolute_url(), {"items-whereabouts": "shipped"}
    )

    shown = list(page.context["lines"].page.object_list)
    assert {row.record.whereabouts for row in shown} == {"shipped"}


def test_lines_search_finds_an_sku_through_each_lines_lot_or_unit(client, manager, graph):
    campaign = _open(manager)
    client = _client(client, manager)

    packs = client.get(campaign.get_absolute_url(), {"items-q": "pack"})
    bread = client.get(campaign.get_absolute_url(), {"items-q": "BREAD"})

    assert {row.record.label for row in packs.context["lines"].page.object_list} == {
        "PACK serial P-1",
        "PACK serial P-2",
        "PACK serial P-3",
    }
    assert {row.record.label for row in bread.context["lines"].page.object_list} == {
        "BREAD lot BR-1"
    }


# --- resolving --------------------------------------------------------------------------------


def test_staff_resolve_selected_lines_from_the_page(client, manager, staff, graph):
    campaign = _open(manager)
    lines = list(campaign.affected_items.filter(whereabouts="shipped"))

    response = _client(client, staff).post(
        _url("resolve", campaign),
        {"lines": [line.pk for line in lines], "outcome": "returned", "evidence": "RMA 7"},
        follow=True,
    )

    assert _messages(response)[0].startswith(f"Resolved {len(lines)} line(s) as returned")
    assert ItemResolution.objects.filter(recorded_by=staff).count() == len(lines)


def test_too_much_is_refused_with_the_services_message(client, manager, graph):
    campaign = _open(manager)
    line = _line(campaign, "BREAD lot BR-1", party="Anna's Deli")

    response = _client(client, manager).post(
        _url("resolve", campaign),
        {"lines": [line.pk], "outcome": "returned", "quantity": "11"},
        follow=True,
    )

    assert _messages(response) == ["Only 10 kg of BREAD lot BR-1 (Anna's Deli) is left to resolve."]
    assert not ItemResolution.objects.exists()


def test_a_resolution_is_reversed_from_the_lines_page(client, manager, graph):
    campaign = _open(manager)
    line = _line(campaign, "BREAD lot BR-1", party="Anna's Deli")
    (entry,) = services.affected_items_resolve(
        campaign=campaign, items=[line], outcome=R.NOT_FOUND, acting_user=manager
    )
    client = _client(client, manager)
    assert client.get(_url("line", campaign, line.pk)).status_code == 200

    client.post(_url("reverse", campaign, entry.pk), {"reason": "Found it after all"})

    line.refresh_from_db()
    assert line.resolved_quantity is None


# --- notices and answers ----------------------------------------------------------------------


def test_managers_send_notices_by_email_from_the_page(
    client, manager, graph, django_capture_on_commit_callbacks
):
    campaign = _open(manager)
    notices = list(campaign.notices.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = _client(client, manager).post(
            _url("send", campaign), {"notices": notices, "method": "email"}, follow=True
        )

    assert _messages(response) == ["3 notice(s) recorded as sent by e-mail."]
    assert len(mail.outbox) == 3


def test_the_notice_page_previews_and_refuses_a_broken_template(client, manager, graph):
    campaign = _open(manager)
    client = _client(client, manager)

    page = client.get(_url("notice_text", campaign))
    subject, _body = page.context["preview"]
    assert subject.startswith("URGENT: Product recall")

    page = client.post(_url("notice_text", campaign), {"subject": "Hi", "body": "{% if %}"})
    assert page.status_code == 200
    assert page.context["form"].errors["body"][0].startswith("The wording has a template error")


def test_staff_record_a_consignees_answer(client, manager, staff, graph):
    campaign = _open(manager)
    notice = campaign.notices.get(party=graph["distributor"])
    services.notices_send(
        campaign=campaign,
        notices_to_send=[notice],
        method="phone",
        sent_at=timezone.now() - timedelta(days=1),
        acting_user=manager,
    )
    answered = timezone.localtime() - timedelta(hours=1)

    response = _client(client, staff).post(
        _url("response", campaign, notice.pk),
        {
            "acknowledged_at": answered.strftime("%Y-%m-%dT%H:%M"),
            "quantity_on_hand": "15",
            "quantity_returned": "15",
            "check_result": "effective",
        },
        follow=True,
    )

    notice.refresh_from_db()
    assert notice.quantity_returned == Decimal("15")
    assert _messages(response) == [
        "Answer from Dist Co recorded: on hand 15 kg, returned 15 kg, effective"
    ]


# --- signing ----------------------------------------------------------------------------------


def test_a_wrong_password_is_shown_on_the_form_and_nothing_is_signed(client, manager, graph):
    campaign = _open(manager, is_drill=True)

    page = _client(client, manager).post(
        _url("complete", campaign), {"statement": "Done", "password": "nope"}
    )

    assert page.context["form"].errors == {"password": [services.WRONG_PASSWORD]}
    assert not CampaignSignature.objects.exists()


def test_complete_then_terminate_with_an_exception(client, manager, graph):
    campaign = _open(manager, is_drill=True)
    client = _client(client, manager)
    client.post(_url("complete", campaign), {"statement": "Done", "password": PASSWORD})

    refused = client.post(_url("terminate", campaign), {"statement": "Close", "password": PASSWORD})
    assert refused.context["form"].non_field_errors()[0] == services.TERMINATION_REFUSED
    assert refused.context["gaps"]

    client.post(
        _url("terminate", campaign),
        {"statement": "Close", "password": PASSWORD, "justification": "Drill over"},
    )
    campaign.refresh_from_db()
    assert campaign.status == "terminated"


# --- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_report_files_download(client, staff, manager, graph, fmt):
    campaign = _open(manager, is_drill=True)

    response = _client(client, staff).get(_url("report_file", campaign, fmt))

    assert response.status_code == 200
    assert campaign.reference in response["Content-Disposition"]
    assert len(response.content) > 100


# --- documents --------------------------------------------------------------------------------


def test_the_full_report_prints_from_the_page(client, staff, manager, graph):
    campaign = _open(manager)

    page = _client(client, staff).get(_url("document", campaign, "report", "html"))

    assert page.status_code == 200
    assert campaign.reference in page.content.decode()


def test_issuing_a_status_report_numbers_it_on_the_timeline(client, manager, graph):
    campaign = _open(manager)
    client = _client(client, manager)

    first = client.post(_url("status_report_issue", campaign))
    second = client.post(_url("status_report_issue", campaign))

    assert first["Content-Type"] == "application/pdf"
    assert first.content.startswith(b"%PDF")
    assert second["Content-Disposition"].endswith('status-report-2.pdf"')
    assert list(campaign.timeline.filter(kind="report").values_list("message", flat=True)) == [
        "Issued recall status report no. 1.",
        "Issued recall status report no. 2.",
    ]


def test_one_consignees_notice_prints_alone(client, staff, manager, graph):
    campaign = _open(manager)
    deli = campaign.notices.get(party=graph["deli"])

    page = _client(client, staff).get(
        _url("document", campaign, "notices", "html"), {"notice": deli.pk}
    )

    text = page.content.decode()
    assert "Anna&#x27;s Deli" in text or "Anna's Deli" in text
    assert "Dist Co" not in text


def test_documents_are_not_for_others(client, administrator, manager, graph):
    campaign = _open(manager, is_drill=True)
    client = _client(client, administrator)

    assert client.get(_url("document", campaign, "report", "pdf")).status_code == 403
    assert client.post(_url("status_report_issue", campaign)).status_code == 403


def test_the_campaign_page_links_its_documents(client, staff, manager, graph):
    campaign = _open(manager)

    page = _client(client, staff).get(campaign.get_absolute_url()).content.decode()

    for url in (
        _url("document", campaign, "report", "pdf"),
        _url("document", campaign, "notices", "html"),
        _url("document", campaign, "status", "html"),
        _url("status_report_issue", campaign),
    ):
        assert url in page
