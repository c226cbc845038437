"""Any JSON at all, put where an EPCIS document has something else, is refused with a message
(a ValidationError naming the place) and writes nothing: never a crash."""

import copy
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from inventory.epcis.importer import epcis_import
from inventory.models import Lot, TraceEvent

from .test_epcis import _document, _object_event

EXAMPLE = Path("/work/shared/epcis/examples")
WRONG_VALUES = [1, "x", [], {}, None, float("nan"), [None], {"id": None}, True, "x" * 300]


def _paths(value, path=()):
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key)
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:2]):
            yield (*path, index)
            yield from _paths(child, (*path, index))


def _with(document, path, value):
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _ours() -> dict:
    """A document in our own dialect: private identifiers and our master data attributes."""
    header = {
        "epcisMasterData": {
            "vocabularyList": [
                {
                    "type": "urn:epcglobal:epcis:vtype:EPCClass",
                    "vocabularyElementList": [
                        {
                            "id": "urn:tracewell:lot:DOUGH:D1",
                            "attributes": [
                                {"id": "urn:tracewell:mda#producedOn", "attribute": "2026-03-01"},
                                {
                                    "id": "urn:tracewell:mda#supplier",
                                    "attribute": "urn:tracewell:party:Mill",
                                },
                            ],
                        }
                    ],
                },
                {
                    "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
                    "vocabularyElementList": [
                        {
                            "id": "urn:tracewell:site:kitchen",
                            "attributes": [
                                {
                                    "id": "urn:tracewell:mda#owner",
                                    "attribute": "urn:tracewell:party:Us",
                                }
                            ],
                        }
                    ],
                },
            ]
        }
    }
    event = _object_event(
        action="ADD",
        bizStep="commissioning",
        quantityList=[{"epcClass": "urn:tracewell:lot:DOUGH:D1", "quantity": 5, "uom": "KGM"}],
        bizLocation={"id": "urn:tracewell:site:kitchen"},
        sourceList=[{"type": "owning_party", "source": "urn:tracewell:party:Mill"}],
        bizTransactionList=[{"type": "po", "bizTransaction": "PO-1"}],
        ilmd={"cbvmda:itemExpirationDate": "2026-09-01", "cbvmda:lotNumber": "X1"},
    )
    return _document(event, header=header)


DOCUMENTS = {
    "gs1-example": lambda: json.loads((EXAMPLE / "Example_9.6.1-ObjectEvent.jsonld").read_text()),
    "ours": _ours,
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", DOCUMENTS)
def test_any_wrong_json_anywhere_is_refused_with_a_message_or_imported_whole(name):
    document = DOCUMENTS[name]()
    attempts = 0
    for path in list(_paths(document)):
        for value in WRONG_VALUES:
            attempts += 1
            with transaction.atomic():
                try:
                    epcis_import(document=_with(document, path, value), acting_user=None)
                except ValidationError as exc:
                    assert exc.messages and all(isinstance(m, str) for m in exc.messages)
                    assert not TraceEvent.objects.exists(), path
                transaction.set_rollback(True)
    assert attempts > 200


def _refused(event) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        epcis_import(document=_document(event), acting_user=None)
    assert not TraceEvent.objects.exists() and not Lot.objects.exists()
    return raised.value.messages


LGTIN = "urn:epc:class:lgtin:0614141.107346.L-1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"quantityList": [{"epcClass": LGTIN, "quantity": "12"}]},
            "event 0, quantityList[0].quantity: '12' is not a number",
        ),
        (
            {"quantityList": [{"epcClass": LGTIN, "quantity": float("nan")}]},
            "event 0, quantityList[0].quantity: nan is not a number",
        ),
        (
            {"quantityList": [{"epcClass": LGTIN, "quantity": 10**30}]},
            "event 0, quantityList[0].quantity: must be greater than zero and below 10^11",
        ),
        (
            {"example:sensor": {"readings": [1.5, float("inf")]}},
            "event 0, kept fields: hold NaN or Infinity, which JSON has not",
        ),
        ({"sourceList": 7}, "event 0, sourceList: must be a list"),
        ({"bizTransactionList": ["PO-1"]}, "event 0, bizTransactionList[0]: must be an object"),
        ({"bizStep": ["shipping"]}, "event 0, bizStep: must be a string (a CBV value or a URI)"),
        (
            {"eventTime": "yesterday", "eventTimeZoneOffset": None},
            "event 0, eventTime: 'yesterday' is not an ISO 8601 date and time",
        ),
    ],
)
def test_wrong_types_get_one_message_naming_event_and_field(fields, message):
    event = {key: value for key, value in _object_event(**fields).items() if value is not None}

    assert _refused(event) == [message]


@pytest.mark.django_db
def test_a_query_document_without_query_results_is_refused():
    document = {"type": "EPCISQueryDocument", "epcisBody": {"queryResults": "none"}}

    with pytest.raises(ValidationError) as raised:
        epcis_import(document=document, acting_user=None)

    assert raised.value.messages == ["document: epcisBody has no eventList"]


@pytest.mark.django_db
@pytest.mark.parametrize("offset", ["+14:59", "+15:00", "-14:30", "+1:00"])
def test_a_time_zone_offset_outside_utc_minus_14_to_plus_14_is_refused(offset):
    event = _object_event(eventTimeZoneOffset=offset)

    assert _refused(event) == [f"event 0, eventTimeZoneOffset: {offset!r} is not ±HH:MM"]
