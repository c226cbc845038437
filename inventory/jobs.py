"""Long work started from a page runs in the background and reports its progress.

A page calls `job_start()` and sends the person to the job's page, which polls until the work is
done and then shows its outcome. Where the work runs is `settings.JOBS_BACKEND`:

- ``"celery"``: a Celery worker (production; `traceability/celery.py`, broker in
  `CELERY_BROKER_URL`);
- ``"thread"``: a thread of the web process (the zero-set-up default: `dev.py serve`);
- ``"inline"``: at once, inside `job_start()` (the test suite, and scripts).

Work is a function registered with `@job_kind("name")`; it takes the job and a `Progress`
and returns the result to keep (JSON), or raises `ValidationError` to refuse with its messages.
Work that makes a file (an export) sets `job.output` and names it in the result
(`file_name`, `content_type`); the job's page offers it for download.
The work's own writes are in its transaction, invisible until it commits, so live progress goes
through Django's cache (Redis in production, so the worker and the web processes share it).
"""

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import unquote

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection, transaction
from django.http import HttpRequest, QueryDict
from django.shortcuts import redirect
from django.urls import resolve
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Job

logger = logging.getLogger(__name__)

JOB_FAILED = _(
    "The work stopped on an error of ours; nothing was written. It has been logged for the "
    "administrators. Try again, or ask an administrator."
)
JOB_UNKNOWN_KIND = "no work is registered as %r"
EPCIS_IMPORT_FAILED = _(
    "The import stopped on an unexpected error, which has been logged for the developers. "
    "If the document is valid EPCIS 2.0, send it to them with the time of the upload."
)
EXPORT_FAILED = _("The file could not be written: %(reason)s. Nothing was changed.")
# Pages' files of more rows than this are written by a background job.
EXPORT_IN_BACKGROUND = 5_000
# Progress is written at most this often (seconds), however often the work reports it.
PROGRESS_INTERVAL = 0.5
PROGRESS_TTL = 24 * 60 * 60

_KINDS: dict[str, Callable] = {}


def job_kind(name: str):
    """Register a function as the work of jobs of this kind."""

    def register(func):
        _KINDS[name] = func
        return func

    return register


def _cache_key(pk) -> str:
    return f"tracewell:job:{pk}"


class Progress:
    """What the work says it is doing: a stage, and how far through it (done of total)."""

    def __init__(self, job: Job):
        self.job = job
        self.stage = ""
        self.done: int | None = None
        self.total: int | None = None
        self._written = 0.0

    def __call__(self, stage: str | None = None, *, done=None, total=None, force=False):
        if stage is not None and stage != self.stage:
            self.stage, self.done, self.total, force = str(stage), None, None, True
        if total is not None:
            self.total = total
        if done is not None:
            self.done = done
        now = time.monotonic()
        if force or now - self._written >= PROGRESS_INTERVAL:
            self._written = now
            cache.set(
                _cache_key(self.job.pk),
                {"stage": self.stage, "done": self.done, "total": self.total},
                PROGRESS_TTL,
            )


def job_progress(job: Job) -> dict:
    """The stage and figures a running job last reported (empty before it reports)."""
    if job.is_finished:
        return {}
    return cache.get(_cache_key(job.pk)) or {}


@transaction.atomic
def job_start(
    *, kind: str, title: str, acting_user, arguments: dict | None = None, payload: bytes = b""
) -> Job:
    """Queue work; run it at once when the backend is inline, else once this transaction commits."""
    if kind not in _KINDS:
        raise ValueError(JOB_UNKNOWN_KIND % kind)
    job = Job.objects.create(
        kind=kind,
        title=title[:200],
        created_by=acting_user,
        arguments=arguments or {},
        payload=payload,
    )
    backend = settings.JOBS_BACKEND
    if backend == "inline":
        job_run(job.pk)
        job.refresh_from_db()
    elif backend == "thread":
        transaction.on_commit(lambda: _thread(job.pk))
    elif backend == "celery":
        from traceability.celery import run_job

        transaction.on_commit(lambda: run_job.delay(str(job.pk)))
    else:
        raise ValueError(f"JOBS_BACKEND must be inline, thread or celery, not {backend!r}")
    return job


def _thread(pk) -> None:
    def work():
        close_old_connections()
        try:
            job_run(pk)
        finally:
            connection.close()  # the thread's own connection

    threading.Thread(target=work, name=f"job-{pk}", daemon=True).start()


def job_run(pk) -> None:
    """Do a queued job's work and record how it ended; never raises for the work's faults."""
    updated = Job.objects.filter(pk=pk, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=timezone.now()
    )
    if not updated:
        return  # already taken (a retried Celery message) or gone
    job = Job.objects.get(pk=pk)
    progress = Progress(job)
    progress(_("Starting"), force=True)
    result, errors = {}, []
    try:
        result = _KINDS[job.kind](job, progress) or {}
        status = Job.Status.SUCCEEDED
    except ValidationError as exc:
        status, errors, result = Job.Status.FAILED, exc.messages, job.result
    except Exception:
        logger.exception("Job %s (%s) failed", pk, job.kind)
        status, errors, result = Job.Status.FAILED, [str(JOB_FAILED)], job.result
    try:
        Job.objects.filter(pk=pk).update(
            status=status,
            finished_at=timezone.now(),
            result=result,
            errors=[str(error) for error in errors],
            payload=b"",
            output=job.output if status == Job.Status.SUCCEEDED else b"",
        )
    except Exception:
        # A result that cannot be stored must not leave the job "running" for ever.
        logger.exception("Job %s (%s): its outcome could not be stored", pk, job.kind)
        Job.objects.filter(pk=pk).update(
            status=Job.Status.FAILED,
            finished_at=timezone.now(),
            result={},
            errors=[str(JOB_FAILED)],
            payload=b"",
            output=b"",
        )
    cache.delete(_cache_key(pk))


@job_kind("epcis_import")
def _epcis_import(job: Job, progress: Progress) -> dict:
    """An uploaded EPCIS document, as the upload page checked it (UTF-8 JSON)."""
    from .epcis.importer import epcis_import

    name = job.arguments.get("file_name", "")
    progress(_("Reading %(name)s") % {"name": name})
    document = json.loads(bytes(job.payload).decode("utf-8"))
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    count = len(events) if isinstance(events, list) else None
    progress(_("Importing the events"), total=count)
    try:
        result = epcis_import(document=document, acting_user=job.created_by)
    except ValidationError:
        raise
    except Exception as exc:
        # Anything but a refusal is a fault of ours: logged, and said plainly. The import writes
        # in one transaction, so nothing was written.
        logger.exception("EPCIS import of %s failed", name)
        raise ValidationError(EPCIS_IMPORT_FAILED) from exc
    return {
        "file_name": name,
        "imported": result.imported,
        "duplicates": result.duplicates,
        "created": dict(result.created),
    }


def export_later(request, rows: int, what: str, *, threshold: int | None = None):
    """Hand a page's file of many rows to a background job and go to its page; None when the
    file is small enough to answer at once (`threshold` rows, EXPORT_IN_BACKGROUND unless
    given), or when the job itself asks."""
    threshold = EXPORT_IN_BACKGROUND if threshold is None else threshold
    if rows <= threshold or getattr(request, "export_in_job", False):
        return None
    job = job_start(
        kind="page_export",
        title=_("%(what)s: %(rows)s rows") % {"what": what, "rows": f"{rows:,}"},
        acting_user=request.user,
        arguments={
            "path": request.path,
            "query": request.GET.urlencode(),
            "zone": timezone.get_current_timezone_name(),
            "back": _without_export(request),
        },
    )
    return redirect(job)


def _without_export(request) -> str:
    """The page the file came from, as it was shown: its filters and sort, not the export."""
    query = request.GET.copy()
    for name in ("_export", "export"):
        query.pop(name, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


@job_kind("page_export")
def _page_export(job: Job, progress: Progress) -> dict:
    """The file a page would have answered with, written by the page's own view: the same
    filters, sort, columns and permissions, for the person who asked."""
    arguments = job.arguments
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = arguments["path"]
    request.GET = QueryDict(arguments["query"])
    request.META = {"SERVER_NAME": "localhost", "SERVER_PORT": "80"}
    request.user = job.created_by
    request.export_in_job = True
    progress(_("Writing the file"))
    match = resolve(arguments["path"])
    with timezone.override(arguments.get("zone") or None):
        response = match.func(request, *match.args, **match.kwargs)
        content = (
            b"".join(response.streaming_content)
            if getattr(response, "streaming", False)
            else response.content
        )
    disposition = response.get("Content-Disposition", "")
    name = re.search(r'filename="([^"]+)"', disposition)
    encoded = re.search(r"filename\*=utf-8''(\S+)", disposition)
    name = name.group(1) if name else (unquote(encoded.group(1)) if encoded else None)
    if response.status_code != 200 or name is None:
        raise ValidationError(EXPORT_FAILED % {"reason": _("the page did not answer with a file")})
    job.output = content
    return {
        "file_name": name,
        "content_type": response["Content-Type"],
        "size": len(content),
        "url": arguments.get("back", ""),
        "link": str(_("Back to the page")),
    }


# --- Serial generation ------------------------------------------------------------------------


@job_kind("serial_run")
def _serial_run(job: Job, progress: Progress) -> dict:
    """A run of serial units too large to make while the page waits; arguments as the form's,
    related records by key and the date as ISO text."""
    from datetime import date

    from .models import Lot, Product, Site
    from .services import serial_units_generate

    arguments = dict(job.arguments)
    for name, model in (("product", Product), ("lot", Lot), ("site", Site)):
        key = arguments.get(name)
        arguments[name] = model.objects.get(pk=key) if key is not None else None
    if arguments.get("produced_on"):
        arguments["produced_on"] = date.fromisoformat(arguments["produced_on"])
    progress(_("Making %(count)s serial units") % {"count": f"{arguments['count']:,}"})
    run = serial_units_generate(acting_user=job.created_by, **arguments)
    return {
        "run": run.pk,
        "url": run.get_absolute_url(),
        "message": str(
            SERIAL_RUN_MADE
            % {"count": f"{run.count:,}", "first": run.first_serial, "last": run.last_serial}
        ),
    }


SERIAL_RUN_MADE = _("%(count)s serial units made: %(first)s … %(last)s.")
# Runs of more units than this are made by a background job, so the page never waits long.
SERIAL_RUN_IN_BACKGROUND = 5_000


def serial_run_start(*, arguments: dict, acting_user) -> Job:
    """Hand a large run to a background job (the form's arguments, records as keys)."""
    stored = {
        name: value.pk if hasattr(value, "pk") else value for name, value in arguments.items()
    }
    if stored.get("produced_on"):
        stored["produced_on"] = stored["produced_on"].isoformat()
    product = arguments["product"]
    return job_start(
        kind="serial_run",
        title=_("%(count)s serial units of %(product)s")
        % {"count": f"{arguments['count']:,}", "product": product.sku},
        acting_user=acting_user,
        arguments=stored,
    )
