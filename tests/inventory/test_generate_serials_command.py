"""manage.py generate_serials: the serial-run service from the command line."""

import pytest
from django.core.management import CommandError, call_command

from inventory.models import SerialRun

from .factories import LotFactory, SerialProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def planner():
    return UserFactory(username="planner")


@pytest.fixture
def drill():
    return SerialProductFactory(sku="DRILL")


def test_a_pattern_run_prints_its_first_and_last_serial_and_its_page(planner, drill, capsys):
    call_command(
        "generate_serials", "DRILL", "3", "--user", "planner", "--prefix", "D-", "--width", "4"
    )

    run = SerialRun.objects.get()
    assert capsys.readouterr().out == (
        f"Made 3 serial units of DRILL: D-0001 … D-0003\nRun page: {run.get_absolute_url()}\n"
    )


def test_a_random_run_in_a_lot(planner, drill):
    LotFactory(product=drill, code="PL-1")

    call_command(
        "generate_serials", "DRILL", "5", "--user", "planner", "--random", "10", "--lot", "PL-1"
    )

    run = SerialRun.objects.get()
    assert (run.scheme, run.length, run.lot.code, run.units.count()) == ("random", 10, "PL-1", 5)


def test_a_refused_run_says_why_and_makes_nothing(planner, drill):
    with pytest.raises(CommandError) as excinfo:
        call_command("generate_serials", "DRILL", "0", "--user", "planner", "--width", "4")

    assert str(excinfo.value) == "Refused, no units made:\n  A run makes 1 to 1,000,000 units."
    assert not SerialRun.objects.exists()


def test_an_unknown_lot_is_named(planner, drill):
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "generate_serials", "DRILL", "2", "--user", "planner", "--width", "4", "--lot", "NOPE"
        )

    assert str(excinfo.value) == "DRILL has no lot NOPE."
