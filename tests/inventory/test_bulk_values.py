"""bulk.insert_values prepares each column as the database takes it, whatever its rows share."""

import json

import pytest
from django.utils import timezone

from inventory import bulk
from inventory.models import TraceEvent

pytestmark = pytest.mark.django_db

BLANK = ("biz_step", "disposition", "fsma_cte", "document_type", "document_number", "notes")
NAMES = ("event_id", "event_type", "occurred_at", *BLANK, "extra")
EMPTY = ("",) * len(BLANK)


def stored_extras():
    return list(TraceEvent.objects.order_by("event_id").values_list("extra", flat=True))


def test_a_lone_row_keeps_its_json_encoded_ahead():
    bulk.insert_values(
        TraceEvent,
        NAMES,
        [("e1", "produce", timezone.now(), *EMPTY, bulk.Json(json.dumps({"a": 1})))],
    )

    assert stored_extras() == [{"a": 1}]


def test_one_value_shared_by_every_row_is_stored_in_each():
    shared, now = {"run": 7}, timezone.now()

    bulk.insert_values(
        TraceEvent, NAMES, [(f"e{n}", "produce", now, *EMPTY, shared) for n in range(3)]
    )

    assert stored_extras() == [{"run": 7}] * 3
    assert set(TraceEvent.objects.values_list("occurred_at", flat=True)) == {now}


def test_values_that_differ_are_each_prepared():
    rows = [(f"e{n}", "produce", timezone.now(), *EMPTY, {"n": n}) for n in range(3)]

    bulk.insert_values(TraceEvent, NAMES, rows)

    assert stored_extras() == [{"n": 0}, {"n": 1}, {"n": 2}]
