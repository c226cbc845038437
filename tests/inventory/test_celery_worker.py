"""Background work through a real Celery worker and a real Redis broker, as in production:
the page queues the job, the worker takes it from Redis and runs it, the page shows the outcome.
"""

import os
import time
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory.models import Job, TraceEvent
from traceability.celery import app

# Database 15 of the machine's Redis, emptied before the test: apart from anything else's.
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
EXAMPLE = Path("/work/shared/epcis/examples/Example_9.6.1-ObjectEvent.jsonld")


def _redis_or_reason() -> str | None:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {BROKER} does not answer ({exc}); start it, or set TEST_CELERY_BROKER_URL"
    return None


@pytest.fixture
def broker():
    problem = _redis_or_reason()
    if problem:
        # CI has Redis (see the README): there, a missing broker is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)  # a developer's machine without Redis; CI fails instead (above)
    redis.Redis.from_url(BROKER).flushdb()
    previous = app.conf.broker_url, app.conf.result_backend
    app.conf.broker_url = BROKER
    app.conf.result_backend = None
    yield BROKER
    app.conf.broker_url, app.conf.result_backend = previous


@pytest.fixture
def worker(broker, settings):
    """A real worker (a thread of this process, so it shares the test database) on Redis."""
    settings.JOBS_BACKEND = "celery"
    with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING") as worker:
        yield worker


def _finished(job: Job, seconds: float = 60) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} still {job.status} after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_an_upload_is_imported_by_a_celery_worker_through_redis(client, manager, worker):
    client.force_login(manager)
    document = SimpleUploadedFile(EXAMPLE.name, EXAMPLE.read_bytes())

    response = client.post(reverse("epcis_import"), {"document": document})

    job = Job.objects.get()
    assert response.url == reverse("job_detail", args=[job.pk])
    job = _finished(job)
    assert job.status == Job.Status.SUCCEEDED, job.errors
    assert job.result["imported"] == TraceEvent.objects.count() > 0
    assert f"Imported {EXAMPLE.name}" in client.get(response.url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_refused_document_fails_its_job_with_the_reason_in_the_worker(client, manager, worker):
    client.force_login(manager)
    document = SimpleUploadedFile("empty.json", b"{}")

    client.post(reverse("epcis_import"), {"document": document})

    job = _finished(Job.objects.get())
    assert job.status == Job.Status.FAILED
    assert job.errors
    assert TraceEvent.objects.count() == 0
