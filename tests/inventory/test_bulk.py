"""bulk.py: rows streamed with COPY from a writer thread, in the caller's transaction."""

import pytest
from django.db import IntegrityError, connection, transaction

from inventory import bulk
from inventory.models import Party, Site

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="streaming is PostgreSQL's COPY from a thread"
    ),
]


def _party(name: str) -> Party:
    return Party(name=name, needs_review=True)


def _site(code: str, party_id: int) -> Site:
    return Site(code=code, name=code.title(), party_id=party_id)


def test_a_query_in_a_stream_sees_every_row_queued_before_it():
    with transaction.atomic(), bulk.streaming():
        bulk.insert([_party(f"Streamed {n}") for n in range(3)])

        assert Party.objects.filter(name__startswith="Streamed").count() == 3


def test_a_row_pointing_at_nothing_fails_in_the_stream_not_at_commit():
    with pytest.raises(IntegrityError), transaction.atomic(), bulk.streaming():
        bulk.insert([_site("nowhere", 0)])

    assert not Site.objects.exists()


def test_keys_drawn_ahead_are_handed_out_in_order():
    with transaction.atomic(), bulk.streaming():
        bulk.reserve_keys(Party, 5)
        first = [party.pk for party in bulk.insert([_party("A"), _party("B")])]
        second = [party.pk for party in bulk.insert([_party(f"C{n}") for n in range(4)])]

        assert first == [first[0], first[0] + 1]
        assert second == list(range(first[0] + 2, first[0] + 6))
        assert sorted(Party.objects.values_list("pk", flat=True)) == first + second


def test_rows_written_in_a_savepoint_are_checked_when_it_is_released():
    with pytest.raises(IntegrityError), transaction.atomic(), bulk.streaming():
        with transaction.atomic():
            bulk.insert([_site("z", 0)])
            assert Site.objects.count() == 1  # not checked while the savepoint is open
        Party.objects.count()  # waits for the check the release queued, which fails

    assert not Site.objects.exists()
