"""Backup and restore as the README describes them: pg_dump of the whole database, pg_restore
into an empty one, and every trace of every lot and unit comes back unchanged."""

import os
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections

from inventory.models import Lot, SerialUnit, TraceEvent
from inventory.trace import Direction, trace

from .conftest import _roles

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="pg_dump and pg_restore back up PostgreSQL; SQLite's backup is a file copy",
    ),
    pytest.mark.django_db(transaction=True),
]


def _libpq_env(settings: dict) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": settings.get("HOST") or "127.0.0.1",
            "PGPORT": str(settings.get("PORT") or 5432),
            "PGUSER": settings.get("USER") or "postgres",
        }
    )
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = settings["PASSWORD"]
    return env


def every_trace() -> dict:
    """Each lot's and unit's trace both ways, as the trace page and the command report it."""
    traces = {}
    for model in (Lot, SerialUnit):
        for pk in model.objects.order_by("pk").values_list("pk", flat=True):
            for direction in Direction:
                kwargs = {"lots" if model is Lot else "serial_units": model.objects.filter(pk=pk)}
                result = trace(direction=direction, **kwargs)
                traces[(model.__name__, pk, str(direction))] = result.as_dict()
    return traces


def test_a_dump_restored_into_an_empty_database_traces_every_item_the_same(tmp_path):
    _roles()
    call_command("seed_demo", stdout=StringIO())
    before = every_trace()
    events = TraceEvent.objects.count()
    assert before and events

    settings = connection.settings_dict
    env = _libpq_env(settings)
    original, restored = settings["NAME"], f"{settings['NAME']}_restored"
    dump = tmp_path / "tracewell.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", original], env=env, check=True)
    subprocess.run(["dropdb", "--if-exists", restored], env=env, check=True)
    subprocess.run(["createdb", restored], env=env, check=True)
    try:
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump)],
            env=env,
            check=True,
        )
        connections["default"].close()
        settings["NAME"] = restored
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database()")
                assert cursor.fetchone()[0] == restored
            after = every_trace()
            restored_events = TraceEvent.objects.count()
        finally:
            connections["default"].close()
            settings["NAME"] = original
    finally:
        subprocess.run(["dropdb", "--if-exists", restored], env=env, check=True)

    assert restored_events == events
    assert after == before


def test_the_tools_the_readme_names_are_installed():
    for tool in ("pg_dump", "pg_restore", "createdb", "dropdb"):
        assert shutil.which(tool), f"{tool} is missing: apt-get install postgresql-client"
