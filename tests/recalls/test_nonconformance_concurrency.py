"""Two people at once on one report: the report's row lock makes them take turns."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from inventory.models import Unit
from recalls.capa import services
from recalls.models import CapaAction, NonConformance

from ..conftest import _user_in
from ..inventory.factories import LotFactory

pytestmark = [
    pytest.mark.skipif(  # SQLite lets one writer in at a time: there is no race to lock against
        connection.vendor != "postgresql", reason="row locks need PostgreSQL"
    ),
    pytest.mark.django_db(transaction=True),
]


def _at_once(*calls):
    """Run the calls in threads released together; what each returned or the messages it
    was refused with."""
    barrier = threading.Barrier(len(calls))
    done, refused = [], []

    def run(call):
        try:
            barrier.wait()
            done.append(call())
        except ValidationError as exc:
            refused.append(exc.messages)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done, refused


def _report(manager):
    return services.nonconformance_report(
        title="Seal leaks",
        description="Seals open at 2 N.",
        severity=NonConformance.Severity.MAJOR,
        source=NonConformance.Source.IN_PROCESS,
        detected_on=timezone.localdate(),
        items=[LotFactory(unit=Unit.EACH)],
        acting_user=manager,
    )


def test_two_managers_adding_actions_at_once_get_numbers_one_and_two():
    first, second = (_user_in("Quality managers", username=name) for name in ("ann", "bob"))
    nc = _report(first)
    due = timezone.localdate() + timedelta(days=7)

    def add(user):
        return lambda: services.capa_action_add(
            nonconformance=nc,
            kind=CapaAction.Kind.CORRECTIVE,
            description=f"{user.username}'s action",
            owner=user,
            due_on=due,
            acting_user=user,
        )

    done, refused = _at_once(add(first), add(second))

    assert refused == []
    assert sorted(action.number for action in done) == [1, 2]


def test_an_action_completed_twice_at_once_is_completed_once():
    manager = _user_in("Quality managers", username="ann")
    owner = _user_in("Quality staff", username="cy")
    nc = _report(manager)
    action = services.capa_action_add(
        nonconformance=nc,
        kind=CapaAction.Kind.CORRECTIVE,
        description="Fix the jaw.",
        owner=owner,
        due_on=timezone.localdate(),
        acting_user=manager,
    )

    def complete(user, note):
        return lambda: services.capa_action_complete(action=action, note=note, acting_user=user)

    done, refused = _at_once(complete(owner, "By the owner."), complete(manager, "By the manager."))

    assert len(done) == 1
    assert refused == [
        [
            f"Action {action.reference} is done, awaiting verification; only an open action "
            "can be completed."
        ]
    ]
    action.refresh_from_db()
    assert action.completion_note == done[0].completion_note
