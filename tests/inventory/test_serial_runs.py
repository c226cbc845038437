"""Serial runs: commissioning many units by pattern or at random, in bulk, in one transaction."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory import services
from inventory.models import EventLine, Genealogy, SerialRun, SerialUnit, TraceEvent
from inventory.services import (
    LOT_OF_OTHER_PRODUCT,
    RUN_COUNT_RANGE,
    RUN_COUNTER_OVERFLOW,
    RUN_FIRST_NEGATIVE,
    RUN_FUTURE,
    RUN_PATTERN_LENGTH,
    RUN_RANDOM_FIELDS,
    RUN_RANDOM_LENGTH,
    RUN_TOO_LONG,
    RUN_WIDTH_MIN,
    SERIAL_RANDOM_ALPHABET,
    WRONG_TRACKING_SERIAL,
)

from .factories import (
    LotFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(username="planner")


@pytest.fixture
def drill():
    return SerialProductFactory(sku="DRILL", name="Cordless drill")


def generate(product, user, **kwargs):
    kwargs.setdefault("scheme", SerialRun.Scheme.PATTERN)
    if kwargs["scheme"] == SerialRun.Scheme.PATTERN:
        kwargs.setdefault("prefix", "DR-")
        kwargs.setdefault("width", 5)
        kwargs.setdefault("first_number", 1)
    kwargs.setdefault("count", 3)
    return services.serial_units_generate(product=product, acting_user=user, **kwargs)


def refusal(excinfo) -> str:
    return excinfo.value.messages[0]


def serials(run):
    return list(run.units.order_by("serial").values_list("serial", flat=True))


# --- Pattern runs -------------------------------------------------------------------------------


def test_a_pattern_run_numbers_its_units_with_the_prefix_and_a_zero_padded_counter(drill, user):
    run = generate(drill, user, prefix="DR-", width=5, first_number=98, count=3)

    assert serials(run) == ["DR-00098", "DR-00099", "DR-00100"]
    assert (run.first_serial, run.last_serial, run.count) == ("DR-00098", "DR-00100", 3)


def test_a_run_records_who_made_it_and_how(drill, user):
    run = generate(drill, user, prefix="X", width=3, first_number=7, count=2)

    run.refresh_from_db()
    assert (run.scheme, run.prefix, run.width, run.first_number, run.length) == (
        "pattern",
        "X",
        3,
        7,
        None,
    )
    assert run.created_by == user
    assert run.product == drill


def test_new_units_are_in_stock_at_the_runs_site_with_its_production_date(drill, user):
    plant = SiteFactory(name="Plant 2")
    made = date(2026, 3, 2)

    run = generate(drill, user, site=plant, produced_on=made)

    unit = run.units.get(serial="DR-00001")
    assert (unit.status, unit.holder_site, unit.produced_on) == ("in_stock", plant, made)
    assert run.produced_on == made


def test_a_run_without_a_production_date_is_made_today(drill, user):
    run = generate(drill, user)

    assert set(run.units.values_list("produced_on", flat=True)) == {timezone.localdate()}


def test_a_runs_units_have_no_warranty_until_they_ship(drill, user):
    run = generate(drill, user)

    assert set(run.units.values_list("warranty_ends_on", flat=True)) == {None}


def test_one_commissioning_event_names_every_unit_of_the_run(drill, user):
    run = generate(drill, user, count=4)

    event = run.event
    assert (event.event_type, event.biz_step, event.disposition) == (
        TraceEvent.Type.PRODUCE,
        "commissioning",
        "active",
    )
    named = set(EventLine.objects.filter(event=event).values_list("item_id", flat=True))
    assert named == set(run.units.values_list("pk", flat=True))
    assert TraceEvent.objects.count() == 1


def test_an_earlier_production_date_dates_the_event(drill, user):
    run = generate(drill, user, produced_on=date(2026, 3, 2))

    assert timezone.localtime(run.event.occurred_at).date() == date(2026, 3, 2)


def test_each_unit_has_its_audit_trail_row_by_the_acting_user(drill, user):
    run = generate(drill, user, count=2)

    history = SerialUnit.history.filter(run_id=run.pk)
    assert sorted(history.values_list("serial", "history_type", "history_user")) == [
        ("DR-00001", "+", user.pk),
        ("DR-00002", "+", user.pk),
    ]


def test_units_built_in_a_lot_are_linked_to_it_in_the_genealogy(drill, user):
    lot = LotFactory(product=drill, code="PL-7")

    run = generate(drill, user, lot=lot, count=2)

    links = Genealogy.objects.filter(parent_id=lot.pk, kind=Genealogy.Kind.PRODUCTION_LOT)
    assert set(links.values_list("child_id", flat=True)) == set(
        run.units.values_list("pk", flat=True)
    )
    assert set(links.values_list("event_id", flat=True)) == {run.event_id}
    assert set(run.units.values_list("lot_id", flat=True)) == {lot.pk}


def test_units_of_a_run_without_a_lot_have_no_genealogy(drill, user):
    generate(drill, user)

    assert not Genealogy.objects.exists()


def test_a_pattern_range_hitting_existing_serials_is_refused_whole_naming_them(drill, user):
    SerialUnitFactory(product=drill, serial="DR-00002")
    SerialUnitFactory(product=drill, serial="DR-00003")

    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, count=5)

    assert refusal(excinfo) == (
        "2 serials of this run already exist for DRILL (DR-00002, DR-00003); nothing was "
        "created. Choose another prefix or first value."
    )
    assert SerialUnit.objects.count() == 2
    assert not SerialRun.objects.exists()
    assert not TraceEvent.objects.filter(event_type="produce", serial_run__isnull=False).exists()


def test_one_clash_is_named_in_the_singular(drill, user):
    SerialUnitFactory(product=drill, serial="DR-00001")

    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user)

    assert refusal(excinfo).startswith("1 serial of this run already exists for DRILL (DR-00001)")


def test_many_clashes_name_the_first_five(drill, user):
    generate(drill, user, count=8)

    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, count=10)

    assert refusal(excinfo).startswith(
        "8 serials of this run already exist for DRILL "
        "(DR-00001, DR-00002, DR-00003, DR-00004, DR-00005 …)"
    )


def test_the_same_serials_for_another_product_are_no_clash(drill, user):
    SerialUnitFactory(product=SerialProductFactory(), serial="DR-00001")

    run = generate(drill, user)

    assert run.first_serial == "DR-00001"


def test_a_counter_that_outgrows_its_width_is_refused(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, width=2, first_number=95, count=10)

    assert refusal(excinfo) == RUN_COUNTER_OVERFLOW % {
        "count": "10",
        "first": 95,
        "last": 104,
        "width": 2,
    }


def test_a_counter_filling_its_width_exactly_is_accepted(drill, user):
    run = generate(drill, user, width=2, first_number=95, count=5)

    assert run.last_serial == "DR-99"


def test_a_counter_needs_a_digit(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, width=0)

    assert refusal(excinfo) == RUN_WIDTH_MIN


def test_a_prefix_and_counter_longer_than_twenty_characters_are_refused(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, prefix="ABCDEFGHIJKLMNOP", width=5)

    assert refusal(excinfo) == RUN_TOO_LONG % {"max": 20, "prefix": 16, "width": 5, "total": 21}


def test_a_prefix_outside_gs1s_characters_is_refused(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, prefix="DR 1#")

    assert refusal(excinfo) == (
        "A prefix may hold letters, digits and GS1 punctuation, without spaces."
    )


def test_a_negative_first_value_is_refused(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, first_number=-1)

    assert refusal(excinfo) == RUN_FIRST_NEGATIVE


def test_a_pattern_run_takes_no_length(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, length=12)

    assert refusal(excinfo) == RUN_PATTERN_LENGTH


# --- Random runs --------------------------------------------------------------------------------


def test_random_serials_have_the_length_and_alphabet_asked_for(drill, user):
    run = generate(drill, user, scheme="random", length=12, count=200)

    made = serials(run)
    assert len(set(made)) == 200
    assert {len(serial) for serial in made} == {12}
    assert set("".join(made)) <= set(SERIAL_RANDOM_ALPHABET)


def test_the_random_alphabet_leaves_out_characters_read_for_others():
    assert not set("01ILO") & set(SERIAL_RANDOM_ALPHABET)
    assert len(SERIAL_RANDOM_ALPHABET) == 31


def test_random_serials_are_redrawn_when_they_clash_with_existing_ones(drill, user, monkeypatch):
    SerialUnitFactory(product=drill, serial="AAAAAAAA")
    draws = iter([["AAAAAAAA", "BBBBBBBB"], ["CCCCCCCC"]])
    monkeypatch.setattr(services, "_random_serials", lambda length, count, taken: next(draws))

    run = generate(drill, user, scheme="random", length=8, count=2)

    assert serials(run) == ["BBBBBBBB", "CCCCCCCC"]


def test_random_draws_skip_repeats_and_taken_serials(monkeypatch):
    chunks = iter([b"\x00" * 16 + b"\x01" * 8, b"\x02" * 8])
    monkeypatch.setattr(services.secrets, "token_bytes", lambda size: next(chunks))

    drawn = services._random_serials(8, 2, {"33333333"})

    assert drawn == ["22222222", "44444444"]


@pytest.mark.parametrize("length", [7, 21, None])
def test_a_random_length_outside_8_to_20_is_refused(drill, user, length):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, scheme="random", length=length)

    assert refusal(excinfo) == RUN_RANDOM_LENGTH


def test_a_random_run_takes_no_prefix(drill, user):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, scheme="random", length=10, prefix="DR")

    assert refusal(excinfo) == RUN_RANDOM_FIELDS


def test_a_random_run_records_its_length_and_no_pattern(drill, user):
    run = generate(drill, user, scheme="random", length=10)

    run.refresh_from_db()
    assert (run.scheme, run.length, run.prefix, run.width, run.first_number) == (
        "random",
        10,
        "",
        None,
        None,
    )


# --- Rules of every run -------------------------------------------------------------------------


def test_a_product_tracked_by_lot_gets_no_serials(user):
    flour = ProductFactory(sku="FLOUR")

    with pytest.raises(ValidationError) as excinfo:
        generate(flour, user)

    assert refusal(excinfo) == WRONG_TRACKING_SERIAL % {"product": flour}


def test_the_lot_must_be_the_products(drill, user):
    other = LotFactory(product=SerialProductFactory(sku="SAW"), code="S-1")

    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, lot=other)

    assert refusal(excinfo) == LOT_OF_OTHER_PRODUCT % {
        "lot": "S-1",
        "lot_product": "SAW",
        "product": "DRILL",
    }


@pytest.mark.parametrize("count", [0, -3, 1_000_001])
def test_a_count_outside_one_to_a_million_is_refused(drill, user, count):
    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, count=count)

    assert refusal(excinfo) == RUN_COUNT_RANGE
    assert refusal(excinfo) == "A run makes 1 to 1,000,000 units."


def test_a_production_date_in_the_future_is_refused(drill, user):
    tomorrow = timezone.localdate() + timedelta(days=1)

    with pytest.raises(ValidationError) as excinfo:
        generate(drill, user, produced_on=tomorrow)

    assert refusal(excinfo) == RUN_FUTURE % {"date": tomorrow.isoformat()}


def test_a_refused_run_writes_nothing(drill, user):
    generate(drill, user, count=1)
    before = (SerialUnit.objects.count(), TraceEvent.objects.count(), SerialRun.objects.count())

    with pytest.raises(ValidationError):
        generate(drill, user, count=2)

    after = (SerialUnit.objects.count(), TraceEvent.objects.count(), SerialRun.objects.count())
    assert after == before
