import pytest
from django.contrib.auth.models import Group

from traceability.roles import ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF

from .inventory.factories import UserFactory


def _user_in(role, **kwargs):
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
