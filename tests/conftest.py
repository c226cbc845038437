import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

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
