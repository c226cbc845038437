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


# --- notices e-mailed and PDFs written in the background ---------------------------------------


def test_many_notices_are_emailed_by_a_job_whose_page_the_manager_follows(
    client, manager, graph, settings, monkeypatch
):
    from django.core import mail

    from recalls import notices

    from .test_views import _open

    settings.JOBS_BACKEND = "thread"
    monkeypatch.setattr(notices, "NOTICES_IN_BACKGROUND", 2)
    campaign = _open(manager)
    keys = list(campaign.notices.values_list("pk", flat=True))
    client.force_login(manager)

    response = client.post(
        reverse("recalls:send", args=[campaign.reference]), {"notices": keys, "method": "email"}
    )

    job = Job.objects.get(kind="notices_deliver")
    assert response.url == job.get_absolute_url()
    job = _finished(job)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert len(mail.outbox) == len(keys) == 3
    assert {message.to[0] for message in mail.outbox} == set(
        campaign.notices.values_list("sent_to", flat=True)
    )
    assert "3 notices e-mailed." in client.get(job.get_absolute_url()).content.decode()


def test_a_failed_mailing_fails_its_job_for_the_manager_to_see(
    client, manager, graph, settings, monkeypatch
):
    from recalls import notices

    from .test_views import _open

    settings.JOBS_BACKEND = "thread"
    settings.EMAIL_BACKEND = "tests.recalls.test_jobs.RefusingBackend"
    monkeypatch.setattr(notices, "NOTICES_IN_BACKGROUND", 2)
    campaign = _open(manager)
    keys = list(campaign.notices.values_list("pk", flat=True))
    client.force_login(manager)

    client.post(
        reverse("recalls:send", args=[campaign.reference]), {"notices": keys, "method": "email"}
    )

    job = _finished(Job.objects.get(kind="notices_deliver"))
    assert job.status == Job.Status.FAILED
    assert job.errors == [str(jobs.JOB_FAILED)]
    assert campaign.notices.filter(sent_at__isnull=False).count() == 3  # recorded, to resend


class RefusingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


def test_a_long_pdf_report_is_written_by_a_job_and_offered_on_its_page(
    client, manager, graph, settings, monkeypatch
):
    from recalls import jobs as recall_jobs

    from .test_views import _open

    settings.JOBS_BACKEND = "thread"
    monkeypatch.setattr(recall_jobs, "DOCUMENT_PDF_IN_BACKGROUND", 1)
    campaign = _open(manager)
    client.force_login(manager)

    response = client.get(reverse("recalls:document", args=[campaign.reference, "report", "pdf"]))

    job = Job.objects.get(kind="page_export")
    assert response.url == job.get_absolute_url()
    job = _finished(job, seconds=120)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.result["file_name"] == f"{campaign.reference}-report.pdf"
    download = client.get(reverse("job_download", args=[job.pk]))
    assert download.content.startswith(b"%PDF-")
