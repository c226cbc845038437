"""The recall admin: campaigns with read-only snapshot and timeline, edits via the service."""

import pytest
from django.urls import reverse

from recalls import services
from recalls.models import CampaignEvent, RecallCampaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(manager, graph):
    return services.recall_open(
        identifiers=["FLOUR lot FL-1"],
        title="Peanut traces",
        reason="Supplier alert",
        classification=RecallCampaign.Classification.CLASS_I,
        acting_user=manager,
    )


@pytest.fixture
def staff_client(client):
    """Sign a role holder in to the admin (which needs staff status)."""

    def signed_in(user):
        user.is_staff = True
        user.save()
        client.force_login(user)
        return client

    return signed_in


def test_a_manager_sees_the_campaign_with_its_snapshot_and_timeline(
    staff_client, manager, campaign
):
    client = staff_client(manager)

    listing = client.get(reverse("admin:recalls_recallcampaign_changelist"))
    page = client.get(reverse("admin:recalls_recallcampaign_change", args=[campaign.pk]))

    assert listing.status_code == 200
    assert campaign.reference in listing.content.decode()
    content = page.content.decode()
    assert page.status_code == 200
    assert "BREAD lot BR-1" in content
    assert "Corner Shop" in content
    assert services.HELD % {"lots": 2, "units": 0} in content


def test_quality_staff_see_campaigns(staff_client, staff, campaign):
    client = staff_client(staff)

    page = client.get(reverse("admin:recalls_recallcampaign_change", args=[campaign.pk]))

    assert page.status_code == 200
    assert "BREAD lot BR-1" in page.content.decode()


def test_campaigns_are_not_added_in_the_admin(staff_client, manager):
    client = staff_client(manager)

    assert client.get(reverse("admin:recalls_recallcampaign_add")).status_code == 403


def test_an_ongoing_campaign_cannot_be_deleted(admin_client, campaign):
    response = admin_client.get(reverse("admin:recalls_recallcampaign_delete", args=[campaign.pk]))

    assert response.status_code == 403


def test_a_change_in_the_admin_goes_on_the_timeline_and_in_the_history(
    staff_client, manager, campaign
):
    client = staff_client(manager)
    url = reverse("admin:recalls_recallcampaign_change", args=[campaign.pk])

    response = client.post(
        url,
        {
            "title": campaign.title,
            "reason": campaign.reason,
            "hazard": "Severe allergic reactions",
            "classification": "I",
            "depth": campaign.depth,
            "public_warning": "general",
            "effectiveness_check": "A",
            "owner": manager.pk,
            "estimated_completion_on": "",
            **{
                f"{prefix}-{key}": value
                for prefix in ("timeline", "notices", "affected_items")
                for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
            },
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    campaign.refresh_from_db()
    assert (campaign.hazard, campaign.public_warning) == ("Severe allergic reactions", "general")
    entry = campaign.timeline.get(kind=CampaignEvent.Kind.CHANGED)
    assert entry.actor == manager
    assert entry.message == "Changed hazard, public warning."
    assert campaign.history.latest("history_date").history_user == manager


def _codenames(group_member):
    return {
        codename
        for codename in group_member.groups.values_list("permissions__codename", flat=True)
        if codename
        and codename.endswith(
            ("recallcampaign", "affecteditem", "consigneenotice", "campaignevent")
        )
    }


def test_quality_managers_run_campaigns(manager):
    assert _codenames(manager) == {
        "add_recallcampaign",
        "change_recallcampaign",
        "open_recallcampaign",
        "close_recallcampaign",
        "view_recallcampaign",
        "view_historicalrecallcampaign",
        "view_affecteditem",
        "change_affecteditem",
        "view_consigneenotice",
        "view_historicalconsigneenotice",
        "change_consigneenotice",
        "send_consigneenotice",
        "view_campaignevent",
    }


def test_quality_staff_work_on_items_and_notices(staff):
    assert _codenames(staff) == {
        "view_recallcampaign",
        "view_historicalrecallcampaign",
        "view_affecteditem",
        "change_affecteditem",
        "view_consigneenotice",
        "view_historicalconsigneenotice",
        "change_consigneenotice",
        "view_campaignevent",
    }


def test_administrators_see_nothing_of_recalls(administrator):
    assert _codenames(administrator) == set()


def test_quality_staff_cannot_change_a_campaign(staff_client, staff, campaign):
    client = staff_client(staff)
    url = reverse("admin:recalls_recallcampaign_change", args=[campaign.pk])

    response = client.post(url, {"title": "Renamed"})

    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.title == "Peanut traces"


def test_a_campaign_page_shows_the_first_rows_and_links_to_all(
    staff_client, manager, campaign, monkeypatch
):
    monkeypatch.setattr("recalls.admin.INLINE_ROWS", 2)
    client = staff_client(manager)

    page = client.get(reverse("admin:recalls_recallcampaign_change", args=[campaign.pk]))

    formsets = {
        formset.formset.model.__name__: formset for formset in page.context["inline_admin_formsets"]
    }
    assert len(list(formsets["AffectedItem"])) == 2
    assert len(list(formsets["ConsigneeNotice"])) == 2
    rows = campaign.affected_items.count()
    listing = reverse("admin:recalls_affecteditem_changelist")
    assert f'href="{listing}?campaign__id__exact={campaign.pk}">{rows} affected item rows' in (
        page.content.decode()
    )
    assert client.get(f"{listing}?campaign__id__exact={campaign.pk}").status_code == 200


def test_the_lot_list_opens_a_recall_for_the_selected_lots(staff_client, manager, graph):
    client = staff_client(manager)
    lots = [graph["flour"].pk, graph["bread"].pk]

    response = client.post(
        reverse("admin:inventory_lot_changelist"),
        {"action": "open_recall", "_selected_action": lots},
    )

    assert response.status_code == 302
    form = client.get(response["Location"]).context["form"]
    assert sorted(form.initial["identifiers"].splitlines()) == ["BREAD lot BR-1", "FLOUR lot FL-1"]


def test_the_open_recall_action_is_offered_only_to_managers(staff_client, staff, manager, graph):
    url = reverse("admin:inventory_serialunit_changelist")

    def actions(user):
        form = staff_client(user).get(url).context["action_form"]
        return dict(form.fields["action"].choices) if form else {}

    assert "open_recall" in actions(manager)
    assert "open_recall" not in actions(staff)
