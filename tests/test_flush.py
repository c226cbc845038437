"""A transactional test's flush leaves the database as the migrations did, so order is free."""

import pytest
from django.contrib.auth.models import Group

from recalls.models import NoticeTemplate
from traceability.roles import ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF

from .inventory.factories import UserFactory

ROLES = {ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF}


def _migrated_rows():
    groups = {group.name: group.permissions.count() for group in Group.objects.all()}
    default_notice = NoticeTemplate.objects.filter(is_default=True).values_list("pk", flat=True)
    return groups, list(default_notice)


@pytest.mark.django_db(transaction=True)
class TestTwoTransactionalTestsInARow:
    """The second runs after the first one's flush (pytest keeps a class's order)."""

    seen = []

    def test_the_first_finds_the_roles_and_the_default_notice(self):
        UserFactory(username="gone-after-the-flush")
        groups, default_notice = _migrated_rows()

        assert set(groups) >= ROLES
        assert all(count > 0 for count in groups.values())
        assert len(default_notice) == 1
        self.seen.append((groups, default_notice))

    def test_the_second_finds_them_again_with_the_same_keys(self):
        assert _migrated_rows() == self.seen[0]
        assert not UserFactory._meta.model.objects.filter(username="gone-after-the-flush")
