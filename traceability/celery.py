"""The Celery worker that runs background jobs in production (see inventory/jobs.py).

    celery -A traceability worker --concurrency 2

It reads the broker from CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.production")

app = Celery("traceability")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="tracewell.run_job", acks_late=True, ignore_result=True)
def run_job(pk: str) -> None:
    from django.db import close_old_connections

    from inventory.jobs import job_run

    close_old_connections()
    try:
        job_run(pk)
    finally:
        close_old_connections()
