"""Opening a campaign from the page runs as a background job the manager can follow."""

import pytest
from django.urls import reverse

from inventory import jobs
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


def test_a_large_file_is_written_in_the_background_and_offered_for_download(
    client, manager, graph, settings, monkeypatch
):
    client.force_login(manager)
    client.post(reverse("recalls:open"), _open_form())  # inline: open at once
    campaign = RecallCampaign.objects.get()
    lines = campaign.affected_items.count()
    monkeypatch.setattr(jobs, "EXPORT_IN_BACKGROUND", lines - 1)
    settings.JOBS_BACKEND = "thread"

    response = client.get(reverse("recalls:report_file", args=[campaign.reference, "csv"]))

    job = _finished(Job.objects.get(kind="page_export"))
    assert response.url == job.get_absolute_url()
    page = client.get(job.get_absolute_url()).content.decode()
    download = reverse("job_download", args=[job.pk])
    assert f'href="{download}"' in page
    assert client.get(job.get_absolute_url(), headers={"HX-Request": "true"}).status_code == 200
    file = client.get(download)
    assert file["Content-Type"] == "text/csv; charset=utf-8"
    assert file["Content-Disposition"].startswith(f'attachment; filename="{campaign.reference}-')
    rows = file.content.decode("utf-8-sig").splitlines()
    assert len(rows) == lines + 1  # a header and every line


def test_a_small_file_is_answered_at_once(client, manager, graph):
    client.force_login(manager)
    client.post(reverse("recalls:open"), _open_form())
    campaign = RecallCampaign.objects.get()

    response = client.get(reverse("recalls:report_file", args=[campaign.reference, "csv"]))

    assert response.status_code == 200
    assert not Job.objects.filter(kind="page_export").exists()


def test_nobody_else_downloads_a_jobs_file(client, manager, staff, graph, settings, monkeypatch):
    client.force_login(manager)
    client.post(reverse("recalls:open"), _open_form())
    campaign = RecallCampaign.objects.get()
    monkeypatch.setattr(jobs, "EXPORT_IN_BACKGROUND", 0)
    client.get(reverse("recalls:report_file", args=[campaign.reference, "xlsx"]))
    job = Job.objects.get(kind="page_export")  # inline: already done
    assert job.status == Job.Status.SUCCEEDED
    client.force_login(staff)

    assert client.get(reverse("job_download", args=[job.pk])).status_code == 404
