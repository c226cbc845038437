"""Opening a campaign from the page runs as a background job the manager can follow."""

import pytest
from django.urls import reverse

from inventory.models import Job
from recalls.models import RecallCampaign

from ..inventory.test_jobs import _finished
from .test_views import _open_form

pytestmark = pytest.mark.django_db(transaction=True)


def test_opening_runs_in_the_background_and_the_page_then_shows_the_campaign(
    client, manager, graph, settings
):
    settings.JOBS_BACKEND = "thread"
    client.force_login(manager)

    response = client.post(reverse("recalls:open"), _open_form())

    campaign = RecallCampaign.objects.get()
    job = Job.objects.get(kind="recall_start")
    assert response.url == job.get_absolute_url()
    job = _finished(job)
    campaign.refresh_from_db()
    assert campaign.status == RecallCampaign.Status.ONGOING
    assert campaign.affected_items.exists()
    polled = client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == campaign.get_absolute_url()
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert f"{campaign.reference} is open:" in page


def test_a_draft_started_from_its_page_opens_in_the_background(client, manager, graph, settings):
    settings.JOBS_BACKEND = "thread"
    client.force_login(manager)
    client.post(reverse("recalls:open"), {**_open_form(), "draft": ""})
    campaign = RecallCampaign.objects.get()
    assert campaign.status == RecallCampaign.Status.DRAFT

    response = client.post(reverse("recalls:start", args=[campaign.reference]))

    job = _finished(Job.objects.get(kind="recall_start"))
    assert response.url == job.get_absolute_url()
    campaign.refresh_from_db()
    assert campaign.status == RecallCampaign.Status.ONGOING
