"""Long work started from a page: it runs in the background and its page follows it."""

import json
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from inventory import jobs
from inventory.epcis import importer
from inventory.models import Job, TraceEvent

from .factories import UserFactory

EXAMPLE = Path("/work/shared/epcis/examples/Example_9.6.1-ObjectEvent.jsonld")


def _upload(client, path: Path = EXAMPLE):
    document = SimpleUploadedFile(path.name, path.read_bytes(), content_type="application/ld+json")
    return client.post(reverse("epcis_import"), {"document": document})


def _finished(job: Job, seconds: float = 30) -> Job:
    """The job once its thread is done (bounded: a stuck job fails the test, not the suite)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job.pk} still {job.status} after {seconds} s")


@pytest.fixture
def threaded(settings):
    settings.JOBS_BACKEND = "thread"


@pytest.mark.django_db(transaction=True)
def test_an_upload_runs_in_the_background_and_its_page_shows_the_outcome(client, manager, threaded):
    client.force_login(manager)

    response = _upload(client)

    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("job_detail", args=[job.pk])
    job = _finished(job)
    assert job.status == Job.Status.SUCCEEDED
    assert job.result["imported"] == TraceEvent.objects.count() > 0
    assert job.payload == b""  # the upload is not kept once read
    page = client.get(response.url).content.decode()
    assert f"Imported {EXAMPLE.name}" in page
    assert "hx-trigger" not in page  # finished: no more polling


@pytest.mark.django_db(transaction=True)
def test_a_refused_upload_lists_its_problems_on_the_job_page(client, manager, threaded):
    client.force_login(manager)
    document = json.loads(EXAMPLE.read_text())
    document["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    broken = SimpleUploadedFile("broken.jsonld", json.dumps(document).encode())

    response = client.post(reverse("epcis_import"), {"document": broken})

    job = _finished(Job.objects.get())
    assert job.status == Job.Status.FAILED
    page = client.get(response.url).content.decode()
    assert "broken.jsonld was refused: nothing was written" in page
    assert "eventTime" in page
    assert not TraceEvent.objects.exists()


@pytest.mark.django_db
def test_a_running_job_shows_its_stage_and_figures_to_the_poll(client, manager):
    job = Job.objects.create(
        kind="epcis_import",
        title="Import of big.json",
        created_by=manager,
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
    )
    jobs.Progress(job)("Importing the events", done=1200, total=5000, force=True)
    client.force_login(manager)

    polled = client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    page = client.get(job.get_absolute_url()).content.decode()

    partial = polled.content.decode()
    assert "<html" not in partial
    assert 'hx-trigger="every 1s"' in partial
    assert '<progress max="5000" value="1200"' in partial
    assert "Importing the events…" in partial
    assert "1200 of 5000" in partial
    assert "htmx-2.0.11.min.js" in page
    assert '<meta http-equiv="refresh"' in page  # without JavaScript, the page reloads
    cache.clear()


@pytest.mark.django_db
def test_a_finished_job_sends_the_poll_to_its_outcome_with_the_news(client, manager):
    job = Job.objects.create(
        kind="recall_start",
        title="Opening RC-2026-0001",
        created_by=manager,
        status=Job.Status.SUCCEEDED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        result={"url": "/recalls/RC-2026-0001/", "message": "RC-2026-0001 is open."},
    )
    client.force_login(manager)

    polled = client.get(job.get_absolute_url(), headers={"HX-Request": "true"})

    assert polled.status_code == 204
    assert polled["HX-Redirect"] == "/recalls/RC-2026-0001/"
    page = client.get(job.get_absolute_url()).content.decode()
    assert "RC-2026-0001 is open." in page  # the message, shown once
    assert 'href="/recalls/RC-2026-0001/"' in page


@pytest.mark.django_db
def test_only_the_person_who_started_a_job_sees_it(client, manager, staff):
    job = Job.objects.create(kind="epcis_import", title="Import", created_by=manager)
    client.force_login(staff)

    assert client.get(job.get_absolute_url()).status_code == 404
    client.logout()
    assert client.get(job.get_absolute_url()).status_code == 302  # to sign in


@pytest.mark.django_db(transaction=True)
def test_a_fault_in_the_work_is_logged_and_said_plainly(
    client, manager, threaded, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(importer, "epcis_import", broken)
    client.force_login(manager)

    response = _upload(client)

    job = _finished(Job.objects.get())
    assert job.status == Job.Status.FAILED
    page = client.get(response.url).content.decode()
    assert str(jobs.EPCIS_IMPORT_FAILED) in page
    assert "a bug" not in page
    assert f"EPCIS import of {EXAMPLE.name} failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_celery_backend_queues_the_job_once_the_request_commits(settings, manager, monkeypatch):
    from traceability import celery

    settings.JOBS_BACKEND = "celery"
    queued = []
    monkeypatch.setattr(celery.run_job, "delay", queued.append)

    with transaction.atomic():  # the request's transaction
        job = jobs.job_start(
            kind="epcis_import", title="Import", acting_user=manager, payload=b"{}"
        )
        assert queued == []  # not before the job's row is committed for the worker to read

    assert queued == [str(job.pk)]
    celery.run_job(str(job.pk))  # what the worker runs
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED  # an empty document is refused, with its reason
    assert job.errors and job.finished_at is not None


@pytest.mark.django_db
def test_a_job_is_run_once_even_if_its_message_comes_twice(manager):
    job = Job.objects.create(
        kind="epcis_import",
        title="Import",
        created_by=manager,
        status=Job.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )

    jobs.job_run(job.pk)

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.errors == []


@pytest.mark.django_db
def test_an_unknown_kind_of_work_is_refused(manager):
    with pytest.raises(ValueError, match="no work is registered as 'nothing'"):
        jobs.job_start(kind="nothing", title="?", acting_user=manager)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_finished_job_has_an_end_time_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(
            kind="epcis_import", title="x", created_by=UserFactory(), status=Job.Status.SUCCEEDED
        )


@pytest.mark.django_db
def test_administrators_read_jobs_in_the_admin_and_cannot_change_them(client, manager):
    from django.contrib.auth import get_user_model

    job = Job.objects.create(kind="epcis_import", title="Import of big.json", created_by=manager)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin)

    listing = client.get(reverse("admin:inventory_job_changelist"))
    detail = client.get(reverse("admin:inventory_job_change", args=[job.pk]))

    assert "Import of big.json" in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="title"' not in detail.content.decode()  # read only
    assert client.post(reverse("admin:inventory_job_delete", args=[job.pk])).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_large_list_export_is_written_by_a_job_with_the_same_rows_as_a_small_one(
    client, manager, threaded, monkeypatch
):
    from .factories import LotFactory

    for _ in range(3):
        LotFactory()
    client.force_login(manager)
    url = f"{reverse('lot_list')}?sort=code&_export=csv"
    at_once = client.get(url)
    monkeypatch.setattr(jobs, "EXPORT_IN_BACKGROUND", 2)

    response = client.get(url)

    job = _finished(Job.objects.get(kind="page_export"))
    assert response.url == job.get_absolute_url()
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.result["url"] == f"{reverse('lot_list')}?sort=code"  # back to the list as shown
    file = client.get(reverse("job_download", args=[job.pk]))
    assert file["Content-Type"] == at_once["Content-Type"]
    assert file["Content-Disposition"] == at_once["Content-Disposition"]
    assert file.content == at_once.content


@pytest.mark.django_db(transaction=True)
def test_a_job_writes_the_file_with_the_askers_permissions(
    client, administrator, threaded, monkeypatch
):
    from .factories import LotFactory

    LotFactory()
    monkeypatch.setattr(jobs, "EXPORT_IN_BACKGROUND", 0)
    client.force_login(administrator)
    job = jobs.job_start(
        kind="page_export",
        title="Lots",
        acting_user=administrator,
        arguments={"path": reverse("fsma204"), "query": "q=NOPE&export=csv", "zone": "UTC"},
    )

    job = _finished(job)
    assert job.status == Job.Status.FAILED
    assert job.output == b""


@pytest.mark.django_db
def test_the_job_page_runs_a_fixed_number_of_queries(client, manager, django_assert_num_queries):
    job = Job.objects.create(kind="epcis_import", title="Import", created_by=manager)
    client.force_login(manager)
    client.get(job.get_absolute_url())

    # Session and user (2), roles (1), the job (1): the input and the file are never read.
    with django_assert_num_queries(4) as queries:
        client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    assert all('"payload"' not in query["sql"] for query in queries.captured_queries)
