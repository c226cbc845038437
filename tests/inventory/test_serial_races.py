"""Two desks creating the same serials at the same moment: one run wins, the other is refused
with a sentence, and nothing of it is written."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from inventory import services
from inventory.models import EventLine, SerialRun, SerialUnit, TraceEvent

from .factories import SerialProductFactory, UserFactory

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite lets one writer in at a time, so two runs cannot race there",
    ),
    pytest.mark.django_db(transaction=True),
]

SAME_SERIAL = "This product already has a unit with this serial."


def run_at_once(calls, monkeypatch):
    """Run each call in its own thread and connection; both pass the check for existing serials
    before either writes (the race a check alone cannot stop)."""
    both_checked = threading.Barrier(len(calls), timeout=20)
    insert = services._run_units_insert

    def insert_after_both_checked(*args, **kwargs):
        both_checked.wait()
        return insert(*args, **kwargs)

    monkeypatch.setattr(services, "_run_units_insert", insert_after_both_checked)
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            outcomes[index] = call()
        except Exception as exc:  # compared below
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_runs_of_the_same_range_at_once_one_wins_the_other_is_refused(monkeypatch):
    product = SerialProductFactory(sku="RACE-DRILL")
    users = [UserFactory(username="desk-1"), UserFactory(username="desk-2")]

    def generate(user):
        return lambda: services.serial_units_generate(
            product=product,
            scheme=SerialRun.Scheme.PATTERN,
            prefix="RC-",
            width=4,
            first_number=1,
            count=50,
            acting_user=user,
        )

    outcomes = run_at_once([generate(user) for user in users], monkeypatch)

    runs = [outcome for outcome in outcomes if isinstance(outcome, SerialRun)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert (len(runs), len(refused)) == (1, 1), outcomes
    assert refused[0].messages == [SAME_SERIAL]
    assert SerialRun.objects.count() == 1
    assert SerialUnit.objects.filter(product=product).count() == 50
    assert set(SerialUnit.objects.values_list("run", flat=True)) == {runs[0].pk}
    # The loser's commissioning event and its lines went with it.
    assert TraceEvent.objects.count() == 1
    assert EventLine.objects.count() == 50


def test_two_single_units_with_one_serial_at_once_one_wins(monkeypatch):
    product = SerialProductFactory(sku="RACE-PUMP")
    user = UserFactory(username="desk")

    def one(first):
        return lambda: services.serial_units_generate(
            product=product,
            scheme=SerialRun.Scheme.PATTERN,
            prefix="P-",
            width=3,
            first_number=first,
            count=1,
            acting_user=user,
        )

    outcomes = run_at_once([one(7), one(7)], monkeypatch)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == [
        "SerialRun",
        "ValidationError",
    ]
    assert list(SerialUnit.objects.values_list("serial", flat=True)) == ["P-007"]
