"""Random, huge, deeply nested, wrongly typed and non-UTF-8 input (hypothesis): identifier
parsing, EPCIS import, spreadsheet import and every form behind a page answer with a clear
error and write nothing; never an exception, never a 500."""

import copy
import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.epcis.importer import epcis_import
from inventory.forms import EpcisImportForm
from inventory.identifiers import IdentifierError, normalize_gln, normalize_gtin, parse_identifier
from inventory.models import EventLine, Item, Lot, Party, Product, SerialUnit, Site, TraceEvent
from inventory.resources import FORMATS, RESOURCES

from .test_access import ACCESS
from .world import MANAGER, world

__all__ = ["world"]  # the module's fixture

EXAMPLES = Path("/work/shared/epcis/examples")  # GS1's documents, as the EPCIS tests read them
# Database-backed properties run in a transaction each; fewer examples keep the suite quick.
DB_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a scanner, a keyboard or a hostile client might send: control characters, the GS1
# separator, non-BMP characters, very long runs.
hostile_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=50).map(lambda s: s * 400),
    st.from_regex(r"\(01\)\d{0,16}(\(1[07]\).{0,30})?(\(21\).{0,30})?", fullmatch=True),
    st.from_regex(r"\]d2?01\d{14}(10|21|17)[\x1d\w]{0,40}", fullmatch=True),
    st.from_regex(r"https?://[a-z.]{1,20}/01/\d{0,16}(/(10|21|22)/[^?#]{0,30})*", fullmatch=True),
    st.from_regex(r"urn:epc:id:(sgtin|lgtin|sscc):[\d.]{0,30}(\.\w{0,20})?", fullmatch=True),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (Item, Lot, SerialUnit, Product, Party, Site, TraceEvent, EventLine)
    )


# --- Identifiers ------------------------------------------------------------------------------


@given(hostile_text)
@settings(max_examples=300, deadline=None)
def test_any_typed_or_scanned_text_is_read_or_refused_with_a_sentence(text):
    try:
        reference = parse_identifier(text)
    except IdentifierError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 400
    else:
        assert reference is not None


@given(hostile_text)
@settings(max_examples=200, deadline=None)
def test_any_text_is_a_gtin_and_gln_or_refused_with_a_sentence(text):
    for normalize in (normalize_gtin, normalize_gln):
        try:
            value = normalize(text)
        except ValidationError as exc:
            assert exc.messages and all(exc.messages)
        else:
            assert value.isdigit()


# --- EPCIS ------------------------------------------------------------------------------------


def _examples() -> list[dict]:
    documents = [json.loads(path.read_text()) for path in sorted(EXAMPLES.glob("*.jsonld"))]
    assert documents, f"GS1's example documents are missing from {EXAMPLES}"
    return documents


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


@st.composite
def broken_documents(draw):
    """A GS1 example document with one part replaced by something else, or removed."""
    document = copy.deepcopy(draw(st.sampled_from(_examples())))
    paths = [path for path in _paths(document) if path]
    path = draw(st.sampled_from(paths))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return document


def import_whole_or_refused_whole(document, user):
    """Import in a transaction rolled back afterwards; a refusal says why and wrote nothing."""
    with transaction.atomic():
        before = counts()
        try:
            epcis_import(document=document, acting_user=user)
        except ValidationError as exc:
            assert exc.messages and all(exc.messages)
            assert counts() == before
        transaction.set_rollback(True)


@pytest.mark.django_db
@given(document=broken_documents())
@DB_SETTINGS
def test_a_broken_epcis_document_is_imported_whole_or_refused_whole(manager, document):
    import_whole_or_refused_whole(document, manager)


@pytest.mark.django_db
@given(document=json_values)
@DB_SETTINGS
def test_any_json_value_as_an_epcis_document_is_refused_with_a_sentence(manager, document):
    import_whole_or_refused_whole(document, manager)


@given(st.binary(max_size=2000))
@settings(max_examples=200, deadline=None)
def test_any_bytes_uploaded_as_an_epcis_file_are_read_or_refused_on_the_form(data):
    form = EpcisImportForm(
        data={}, files={"document": SimpleUploadedFile("events.json", data or b" ")}
    )
    if not form.is_valid():
        assert all(form.errors.values())


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deeply_nested_epcis_file_is_refused_on_the_form(depth):
    data = ("[" * depth + "]" * depth).encode()
    form = EpcisImportForm(data={}, files={"document": SimpleUploadedFile("deep.json", data)})
    if depth > 10_000:
        assert not form.is_valid()
        assert "document" in form.errors
    else:
        form.is_valid()  # a list is valid JSON; the importer refuses it (a document is an object)


# --- Spreadsheets -----------------------------------------------------------------------------


@st.composite
def spreadsheets(draw, resource_class):
    """A CSV with the resource's own headings (some dropped or renamed) and random cells."""
    headings = [field.column_name for field in resource_class().get_import_fields()]
    headings = draw(st.lists(st.sampled_from([*headings, "", "?", "x" * 300]), max_size=12))
    rows = draw(
        st.lists(
            st.lists(
                st.one_of(hostile_text, st.integers().map(str)),
                min_size=len(headings),
                max_size=len(headings),
            ),
            max_size=4,
        )
    )
    lines = [headings, *rows]
    return "\n".join(",".join(json.dumps(cell) for cell in line) for line in lines)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_a_spreadsheet_of_nonsense_is_imported_whole_or_refused_whole(manager, name):
    resource_class = RESOURCES[name]

    @given(text=spreadsheets(resource_class))
    @DB_SETTINGS
    def check(text):
        with transaction.atomic():
            before = counts()
            try:
                dataset = FORMATS["csv"]().create_dataset(text)
            except Exception:
                transaction.set_rollback(True)
                return
            result = resource_class().import_data(dataset, dry_run=False, user=manager)
            if result.failed:
                assert result.sheet_errors and all(str(e) for e in result.sheet_errors)
                assert counts() == before
            transaction.set_rollback(True)

    check()


# --- Every page that takes a form -------------------------------------------------------------

FIELD_NAMES = sorted(
    {
        name
        for module_name in ("inventory.forms", "recalls.forms")
        for value in vars(__import__(module_name, fromlist=["_"])).values()
        if isinstance(value, type) and hasattr(value, "base_fields")
        for name in value.base_fields
    }
)

posted_forms = st.dictionaries(
    st.sampled_from(FIELD_NAMES),
    st.one_of(hostile_text, st.lists(st.text(max_size=20), max_size=3), st.integers().map(str)),
    max_size=8,
)

POSTABLE = sorted(
    name
    for name, access in ACCESS.items()
    if not access.public and MANAGER in access.roles and access.get in (200, 405)
)


@pytest.mark.django_db
@pytest.mark.parametrize("name", POSTABLE)
def test_random_form_data_posted_to_any_page_never_makes_a_500(world, name):
    access = ACCESS[name]
    url = reverse(name, kwargs=access.kwargs(world.samples) if access.kwargs else None)
    client = world.clients[MANAGER]

    @given(data=posted_forms)
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def check(data):
        with transaction.atomic():
            answer = client.post(url, data)
            transaction.set_rollback(True)
        assert answer.status_code < 500, (url, data)

    check()
