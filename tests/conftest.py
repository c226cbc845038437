import importlib
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings

from traceability.roles import ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF

from .inventory.factories import UserFactory

ROLE_MIGRATIONS = (
    ("inventory.migrations.0002_roles", "create_roles"),
    ("inventory.migrations.0009_administrators_read_jobs", "grant"),
    ("recalls.migrations.0002_roles", "grant"),
    ("recalls.migrations.0004_defaults_and_roles", "forwards"),
    ("inventory.migrations.0011_claims_and_roles", "grant"),
    ("inventory.migrations.0014_administrators_lift_lockouts", "grant"),
    ("inventory.migrations.0016_specifications_release", "grant"),
    ("inventory.migrations.0017_process_conditions", "grant"),
    ("recalls.migrations.0012_nonconformances_capa", "grant"),
)


def _roles():
    """The role groups, put back first if a transactional test's flush wiped them (they come
    from data migrations, which a flush does not run again)."""
    if not Group.objects.filter(name=QUALITY_MANAGERS).exists():
        # The migrations clear their apps' models_module after making permissions; on the real
        # registry that would hide those apps from dumpdata (the e2e demo fixture came out empty).
        modules = {config: config.models_module for config in apps.get_app_configs()}
        try:
            for module, function in ROLE_MIGRATIONS:
                getattr(importlib.import_module(module), function)(apps, None)
        finally:
            for config, models_module in modules.items():
                config.models_module = models_module


def _user_in(role, **kwargs):
    _roles()
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def manager(db):
    return _user_in(QUALITY_MANAGERS, username="manager")


@pytest.fixture
def staff(db):
    return _user_in(QUALITY_STAFF, username="staff")


@pytest.fixture
def administrator(db):
    return _user_in(ADMINISTRATORS, username="administrator", is_staff=True)


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="norole")


# --- Test speed and parallel runs (pytest-xdist) ---------------------------------------------

MIGRATED_TEST_DATABASE = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, request, tmp_path_factory):
    """Put back what the migrations wrote (roles, the default notice) after every flush.

    A transactional test empties the database when it ends, and a flush does not run data
    migrations again. Without this, what a test finds would depend on whether a transactional
    test ran before it in the same process, and under pytest-xdist that order is not the
    serial one (where every transactional test runs last). The rows keep their first keys, so
    the e2e demo fixture, dumped after them, loads on top of them.
    """
    from django.core import serializers
    from django.db.models.signals import post_migrate

    from recalls.models import NoticeTemplate

    with django_db_blocker.unblock():
        migrated = serializers.serialize(
            "json",
            [*Group.objects.all(), *NoticeTemplate.objects.all()],
            use_natural_foreign_keys=True,
        )
        if connection.vendor == "sqlite":
            copy = tmp_path_factory.mktemp("migrated") / "db.sqlite3"
            connection.ensure_connection()
            with closing(sqlite3.connect(copy)) as target:
                connection.connection.backup(target)
            request.config.stash[MIGRATED_TEST_DATABASE] = copy

    def restore(using, **kwargs):
        if Group.objects.using(using).exists():
            return
        for deserialized in serializers.deserialize("json", migrated, using=using):
            deserialized.save(using=using)

    # A flush signals post_migrate once per app, in INSTALLED_APPS order; by the last app's
    # signal every permission that the groups name has been made again.
    last_app = list(apps.get_app_configs())[-1]
    post_migrate.connect(restore, sender=last_app, dispatch_uid="tests-restore-migrated-rows")
    yield
    post_migrate.disconnect(sender=last_app, dispatch_uid="tests-restore-migrated-rows")


@pytest.fixture(scope="session", autouse=True)
def _media_root_per_process(tmp_path_factory):
    """Uploaded files go to this test process's own folder, never the project's media/."""
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        yield


@pytest.fixture(scope="session")
def migrated_sqlite_file(django_db_setup, request, tmp_path_factory) -> Path:
    """A new SQLite file with every migration applied, made once per test process.

    The command line tests copy it rather than each migrating a file of their own (migrating
    takes seconds). On SQLite it is a copy of the test database as the migrations left it.
    """
    copy = request.config.stash.get(MIGRATED_TEST_DATABASE, None)
    if copy is not None:
        return copy
    path = tmp_path_factory.mktemp("migrated") / "db.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=settings.BASE_DIR,
        env=command_line_env(path),
        capture_output=True,
        check=True,
    )
    return path


def command_line_env(path: Path) -> dict[str, str]:
    """The environment of a command line run against the SQLite file at path."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{path}",
        "DJANGO_SETTINGS_MODULE": "traceability.settings.test",
    }


def fresh_sqlite_env(migrated_sqlite_file: Path, folder: Path) -> dict[str, str]:
    """The environment of a command line run against a copy of the migrated file, in folder."""
    path = folder / "db.sqlite3"
    shutil.copyfile(migrated_sqlite_file, path)
    return command_line_env(path)
