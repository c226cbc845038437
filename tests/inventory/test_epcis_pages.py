"""EPCIS on the pages: the managers' upload page; downloads on lot, unit and trace pages."""

import json
import re
from datetime import date
from decimal import Decimal
from html import unescape
from pathlib import Path

import jsonschema
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import strip_tags
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from inventory import forms, jobs
from inventory.epcis import importer
from inventory.epcis.importer import epcis_import
from inventory.models import Lot, Party, Product, SerialUnit, Site, TraceEvent
from inventory.services import Line, lot_create, serial_unit_create, shipment_create

from .factories import PartyFactory, ProductFactory, SerialProductFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db

EPCIS_DIR = Path("/work/shared/epcis")
SCHEMA = json.loads((EPCIS_DIR / "EPCIS-JSON-Schema.json").read_text())
OBJECT_EXAMPLE = EPCIS_DIR / "examples" / "Example_9.6.1-ObjectEvent.jsonld"
TRANSFORMATION_EXAMPLE = EPCIS_DIR / "examples" / "Example_9.6.4-TransformationEvent.jsonld"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SGTIN = "urn:epc:id:sgtin:0614141.107346.2017"
REFUSED = "{name} was refused: nothing was written"
JSONLD = "application/ld+json"

# Session, user, roles and permissions (5), the lot or unit, the events, their lines and the
# readings entered by hand: counted on the downloads, then fixed here, so that one query per
# event fails the tests.
ITEM_DOWNLOAD_QUERIES = 5 + 1 + 3
# Session, user, roles and permissions (5), the identifier's lots, the trace (one statement;
# PostgreSQL first sets the planner up), the traced lots and units, the events, their lines and
# their readings entered by hand.
TRACE_DOWNLOAD_QUERIES = 5 + 1 + (2 if connection.vendor == "postgresql" else 1) + 2 + 3


# --- Helpers ----------------------------------------------------------------------------------


def _document(*events) -> dict:
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T10:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def _event(number: int = 1, **fields) -> dict:
    event = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        "eventTime": "2026-03-01T08:00:00.000-06:00",
        "eventTimeZoneOffset": "-06:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "epcList": [SGTIN],
    }
    event.update(fields)
    return event


def _file(content, name: str = "events.jsonld") -> SimpleUploadedFile:
    if not isinstance(content, bytes):
        content = json.dumps(content).encode()
    return SimpleUploadedFile(name, content, content_type=JSONLD)


def _upload(client, content, name: str = "events.jsonld", **kwargs):
    return client.post(reverse("epcis_import"), {"document": _file(content, name)}, **kwargs)


def _example(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type=JSONLD)


def text(response) -> str:
    """The page as a person reads it: no tags, no entities, single spaces."""
    return unescape(" ".join(strip_tags(response.content.decode()).split()))


def facts(response) -> dict[str, str]:
    """The summary's "… created" figures, by their term."""
    pairs = re.findall(r"<dt>(.*?) created</dt><dd>(.*?)</dd>", response.content.decode())
    return dict(pairs)


def problems(response) -> list[tuple[str, str, str]]:
    """The rows of a refused document's table of problems."""
    html = response.content.decode()
    body = html.split('<div class="problems">', 1)[1].split("<tbody>", 1)[1].split("</tbody>")[0]
    rows = body.split("<tr>")[1:]
    return [
        tuple(unescape(strip_tags(cell)).strip() for cell in row.split("</td>")[:3]) for row in rows
    ]


def _validate(document: dict) -> None:
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())


def _download(response) -> dict:
    assert response.status_code == 200
    assert response["Content-Type"] == JSONLD
    document = json.loads(b"".join(response).decode())
    _validate(document)
    return document


def _event_ids(document: dict) -> set[str]:
    return {event["eventID"] for event in document["epcisBody"]["eventList"]}


def _naming(*items) -> set[str]:
    """The IDs of the events whose lines name any of these lots or units."""
    events = TraceEvent.objects.filter(lines__item_id__in=[item.pk for item in items])
    return set(events.values_list("event_id", flat=True))


# --- Data -------------------------------------------------------------------------------------


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def graph(db):
    """Flour → bread (a transformation) shipped to a shop; salt nobody used; a shipped pack."""
    user = UserFactory(username="maker")
    plant = SiteFactory(code="plant", name="Plant")
    shop = PartyFactory(name="Shop Ltd")
    flour = lot_create(
        product=ProductFactory(sku="FLOUR"),
        code="F-1",
        quantity=Decimal("500"),
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    bread = lot_create(
        product=ProductFactory(sku="BREAD"),
        code="B/1",
        quantity=Decimal("200"),
        inputs=[Line(flour, Decimal("100"))],
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=user,
    )
    shipment_create(
        lots=[Line(bread, Decimal("100"))],
        from_site=plant,
        to_party=shop,
        shipped_at=date(2026, 3, 4),
        acting_user=user,
    )
    salt = lot_create(
        product=ProductFactory(sku="SALT"),
        code="S-1",
        quantity=Decimal("50"),
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=user,
    )
    pack = serial_unit_create(
        product=SerialProductFactory(sku="PACK"),
        serial="P-1",
        site=plant,
        produced_on=date(2026, 3, 5),
        acting_user=user,
    )
    shipment_create(
        serial_units=[pack], from_site=plant, to_party=shop, shipped_at=date(2026, 3, 6),
        acting_user=user,
    )  # fmt: skip
    return {
        "user": user,
        "plant": plant,
        "flour": flour,
        "bread": bread,
        "salt": salt,
        "pack": pack,
    }


def _ship_to_many(lot: Lot, count: int, user) -> None:
    for n in range(count):
        shipment_create(
            lots=[Line(lot, Decimal("1"))],
            from_site=lot.site,
            to_party=PartyFactory(name=f"Customer {n}"),
            shipped_at=date(2026, 3, 10),
            acting_user=user,
        )


# --- Upload page: who may use it --------------------------------------------------------------


def test_the_upload_page_shows_an_empty_form_to_a_manager(manager_client):
    response = manager_client.get(reverse("epcis_import"))

    assert response.status_code == 200
    assertContains(response, "<h1>Import EPCIS</h1>", html=True)
    assertContains(response, 'enctype="multipart/form-data"')
    assertContains(response, 'accept=".json,.jsonld,application/json,application/ld+json"')
    assert "Imported" not in text(response)
    assert "refused" not in text(response)


@pytest.mark.parametrize("role", ["staff", "administrator", "no_role_user"])
def test_everyone_but_quality_managers_is_refused_the_upload_page(client, request, role):
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse("epcis_import")).status_code == 403
    assert _upload(client, _document(_event())).status_code == 403
    assert not TraceEvent.objects.exists()


def test_the_upload_page_sends_an_anonymous_visitor_to_sign_in(client):
    url = reverse("epcis_import")

    assertRedirects(client.get(url), f"{reverse('login')}?next={url}")
    assertRedirects(_upload(client, _document(_event())), f"{reverse('login')}?next={url}")
    assert not TraceEvent.objects.exists()


def test_the_nav_offers_import_epcis_to_managers(manager_client):
    response = manager_client.get(reverse("home"))

    assertContains(response, f'<a href="{reverse("epcis_import")}" >Import EPCIS</a>', html=True)


@pytest.mark.parametrize("role", ["staff", "administrator"])
def test_the_nav_does_not_offer_import_epcis_to_others(client, request, role):
    client.force_login(request.getfixturevalue(role))

    response = client.get(reverse("home"))

    assert response.status_code == 200
    assertNotContains(response, "Import EPCIS")
    assertNotContains(response, reverse("epcis_import"))


# --- Upload page: a document imported ---------------------------------------------------------


def test_a_gs1_example_is_imported_and_the_page_says_what_was_written(manager_client, manager):
    response = manager_client.post(
        reverse("epcis_import"), {"document": _example(OBJECT_EXAMPLE)}, follow=True
    )

    assertRedirects(response, reverse("epcis_import"))
    page = text(response)
    assert f"Imported {OBJECT_EXAMPLE.name}" in page
    assert "2 events imported" in page
    assert "0 duplicates skipped" in page
    assert facts(response) == {
        "Products": str(Product.objects.count()),
        "Lots": str(Lot.objects.count()),
        "Serial units": str(SerialUnit.objects.count()),
        "Parties": str(Party.objects.count()),
        "Sites": str(Site.objects.count()),
    }
    assert SerialUnit.objects.count() == 2
    assert TraceEvent.objects.count() == 2
    assert set(TraceEvent.objects.values_list("recorded_by", flat=True)) == {manager.pk}


def test_a_transformation_example_is_imported_with_its_lots(manager_client):
    response = manager_client.post(
        reverse("epcis_import"), {"document": _example(TRANSFORMATION_EXAMPLE)}, follow=True
    )

    assert "1 event imported" in text(response)
    assert facts(response)["Lots"] == str(Lot.objects.count())
    assert Lot.objects.count() > 1


def test_a_reload_after_the_import_neither_imports_again_nor_repeats_the_summary(
    manager_client,
):
    _upload(manager_client, _document(_event()), follow=True)

    again = manager_client.get(reverse("epcis_import"))

    assert again.status_code == 200
    assert "Imported" not in text(again)
    assert TraceEvent.objects.count() == 1


def test_uploading_the_same_document_again_skips_its_events_as_duplicates(manager_client):
    document = _document(_event(1), _event(2, bizStep="receiving"))
    _upload(manager_client, document)

    response = _upload(manager_client, document, follow=True)

    page = text(response)
    assert "0 events imported" in page
    assert "2 duplicates skipped" in page
    assert "Duplicates are events already stored" in page
    assert facts(response) == dict.fromkeys(
        ("Products", "Lots", "Serial units", "Parties", "Sites"), "0"
    )
    assert TraceEvent.objects.count() == 2


def test_new_products_and_parties_are_listed_for_review_without_admin_links_for_non_staff(
    manager_client,
):
    response = _upload(manager_client, _example(OBJECT_EXAMPLE).read(), follow=True)

    page = text(response)
    assert "Awaiting review" in page
    product = Product.objects.get(needs_review=True)
    assert f"Products (1) {product.name}" in page
    assert "an administrator completes them in the admin" in page
    assertNotContains(response, "needs_review__exact=1")
    assertNotContains(response, product.get_absolute_url())


def test_staff_managers_get_links_to_the_records_to_review_in_the_admin(manager_client, manager):
    manager.is_staff = True
    manager.save()

    response = _upload(manager_client, _example(OBJECT_EXAMPLE).read(), follow=True)

    product = Product.objects.get(needs_review=True)
    assertContains(response, f'href="{product.get_absolute_url()}"')
    assertContains(
        response, f'href="{reverse("admin:inventory_product_changelist")}?needs_review__exact=1"'
    )
    assertContains(
        response, f'href="{reverse("admin:inventory_party_changelist")}?needs_review__exact=1"'
    )


def test_nothing_is_listed_for_review_when_the_import_created_nothing(manager_client):
    document = _document(_event())
    _upload(manager_client, document)

    response = _upload(manager_client, document, follow=True)

    assert "Awaiting review" not in text(response)


# --- Upload page: a document refused ----------------------------------------------------------


def test_a_refused_document_lists_every_problem_and_writes_nothing(manager_client):
    document = _document(
        _event(1, epcList=["urn:epc:id:sgtin:0614141.10734.2017"]),
        _event(2),
        _event(3, type="AssociationEvent"),
        _event(4, eventTime="yesterday", quantityList=[{"quantity": 3}]),
    )
    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=json.loads(json.dumps(document)), acting_user=None)

    response = _upload(manager_client, document, name="shipment.jsonld")

    assert response.status_code == 200
    page = text(response)
    assert REFUSED.format(name="shipment.jsonld") in page
    assert f"{len(excinfo.value.messages)} problems." in page
    rows = problems(response)
    assert [f"event {event}, {field}: {problem}" for event, field, problem in rows] == (
        excinfo.value.messages
    )
    assert rows[0][:2] == ("0", "epcList[0]")
    assert rows[0][2].endswith("is not a valid SGTIN")
    assert {row[0] for row in rows} == {"0", "2", "3"}
    assert not TraceEvent.objects.exists()
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"hello": "world"}, id="object"),
        pytest.param(["EPCISDocument"], id="list"),
        pytest.param({"type": "EPCISDocument", "epcisBody": {}}, id="no-event-list"),
    ],
)
def test_json_that_is_not_an_epcis_document_is_refused_with_the_reason(manager_client, document):
    with pytest.raises(ValidationError) as excinfo:
        epcis_import(document=document, acting_user=None)

    response = _upload(manager_client, document)

    assert response.status_code == 200
    assert REFUSED.format(name="events.jsonld") in text(response)
    assert [f"document: {problem}" for _, field, problem in problems(response)] == (
        excinfo.value.messages
    )
    assert {field for _, field, _ in problems(response)} == {"document"}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"sourceList": 5}, id="source-list-a-number"),
        pytest.param({"bizTransactionList": ["PO-1"]}, id="transaction-a-string"),
        pytest.param(
            {
                "epcList": [],
                "quantityList": [
                    {"epcClass": "urn:epc:class:lgtin:0614141.107346.L1", "quantity": "NaN"}
                ],
            },
            id="quantity-nan",
        ),
    ],
)
def test_malformed_events_are_answered_on_the_page_never_with_a_server_error(manager_client, event):
    response = _upload(manager_client, _document(_event(**event)))

    assert response.status_code == 200
    assert REFUSED.format(name="events.jsonld") in text(response)
    assert not TraceEvent.objects.exists()


def test_an_unexpected_importer_error_is_logged_and_the_page_says_nothing_was_written(
    manager_client, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(importer, "epcis_import", broken)

    response = _upload(manager_client, _document(_event()))

    assert response.status_code == 200
    page = text(response)
    assert REFUSED.format(name="events.jsonld") in page
    assert str(jobs.EPCIS_IMPORT_FAILED) in page
    assert "a bug" not in page
    assert "EPCIS import of events.jsonld failed" in caplog.text


# --- Upload page: a file that is not a JSON document ------------------------------------------


def _field_error(response) -> str:
    assert response.status_code == 200
    errors = response.context["form"].errors["document"]
    assert len(errors) == 1
    assert " ".join(errors[0].split()) in text(response)
    assert "refused" not in text(response)  # the file never reached the importer
    assert not TraceEvent.objects.exists()
    return errors[0]


def test_invalid_json_names_the_line_column_and_problem(manager_client):
    content = b'{\n  "type": "EPCISDocument"\n  "epcisBody": {}\n}\n'

    response = _upload(manager_client, content, name="broken.json")

    assert _field_error(response) == forms.EPCIS_NOT_JSON % {
        "name": "broken.json",
        "line": 3,
        "column": 3,
        "problem": "Expecting ',' delimiter",
    }


def test_a_file_that_is_not_utf8_names_where_the_bad_byte_is(manager_client):
    content = b'{\n  "name": "caf\xe9"\n}'

    response = _upload(manager_client, content)

    assert _field_error(response) == forms.EPCIS_NOT_UTF8 % {
        "name": "events.jsonld",
        "line": 2,
        "column": 15,
        "byte": "E9",
    }


def test_a_utf8_byte_order_mark_is_accepted(manager_client):
    content = b"\xef\xbb\xbf" + json.dumps(_document(_event())).encode()

    response = _upload(manager_client, content, follow=True)

    assert "1 event imported" in text(response)


def test_nan_is_refused_as_not_json(manager_client):
    response = _upload(manager_client, b'{"type": "EPCISDocument", "x": NaN}')

    assert _field_error(response) == forms.EPCIS_NOT_JSON_VALUE % {
        "name": "events.jsonld",
        "problem": "NaN is not a JSON value",
    }


def test_json_nested_too_deeply_is_refused(manager_client):
    response = _upload(manager_client, b"[" * 100_000)

    assert _field_error(response) == forms.EPCIS_TOO_DEEP % {"name": "events.jsonld"}


def test_an_empty_file_is_refused(manager_client):
    response = _upload(manager_client, b"")

    assert _field_error(response) == forms.EPCIS_FILE_EMPTY % {"name": "events.jsonld"}


def test_no_file_asks_for_one(manager_client):
    response = manager_client.post(reverse("epcis_import"), {})

    assert _field_error(response) == forms.EPCIS_FILE_REQUIRED


def test_a_file_that_is_not_json_or_jsonld_is_refused(manager_client):
    response = _upload(manager_client, _document(_event()), name="events.xml")

    assert _field_error(response) == forms.EPCIS_FILE_EXTENSION % {"value": "events.xml"}


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(manager_client, monkeypatch):
    monkeypatch.setattr(forms, "EPCIS_MAX_UPLOAD_SIZE", 1000)
    content = json.dumps(_document(*(_event(n) for n in range(20)))).encode()
    assert len(content) > 1000

    response = _upload(manager_client, content)

    assert _field_error(response) == forms.EPCIS_FILE_TOO_BIG % {
        "name": "events.jsonld",
        "size": filesizeformat(len(content)),
        "limit": filesizeformat(1000),
    }


def test_the_page_states_the_size_limit(manager_client):
    response = manager_client.get(reverse("epcis_import"))

    assert "up to 50.0 MB" in text(response)


# --- Downloads --------------------------------------------------------------------------------


def test_the_lot_page_offers_its_epcis_download(manager_client, graph):
    response = manager_client.get(reverse("lot_detail", args=[graph["bread"].pk]))

    assertContains(response, f'href="{reverse("lot_epcis", args=[graph["bread"].pk])}" download')


def test_the_serial_unit_page_offers_its_epcis_download(manager_client, graph):
    response = manager_client.get(reverse("serial_detail", args=[graph["pack"].pk]))

    assertContains(response, f'href="{reverse("serial_epcis", args=[graph["pack"].pk])}" download')


def test_a_lot_download_holds_the_events_naming_the_lot(manager_client, graph):
    bread = graph["bread"]

    response = manager_client.get(reverse("lot_epcis", args=[bread.pk]))

    document = _download(response)
    assert response["Content-Disposition"] == ('attachment; filename="epcis-BREAD-lot-B_1.jsonld"')
    assert _event_ids(document) == _naming(bread)
    steps = [event.get("bizStep") for event in document["epcisBody"]["eventList"]]
    assert steps == ["urn:tracewell:bizstep:transforming", "shipping"]


def test_a_serial_unit_download_holds_the_events_naming_the_unit(manager_client, graph):
    pack = graph["pack"]

    response = manager_client.get(reverse("serial_epcis", args=[pack.pk]))

    document = _download(response)
    assert response["Content-Disposition"] == 'attachment; filename="epcis-PACK-serial-P-1.jsonld"'
    assert _event_ids(document) == _naming(pack)
    assert len(_event_ids(document)) == 2


def test_a_download_of_an_unknown_lot_is_not_found(manager_client, graph):
    assert manager_client.get(reverse("lot_epcis", args=[graph["pack"].pk])).status_code == 404
    assert manager_client.get(reverse("serial_epcis", args=[10**9])).status_code == 404


def test_quality_staff_may_download_what_they_may_view(client, staff, graph):
    client.force_login(staff)

    assert client.get(reverse("lot_epcis", args=[graph["bread"].pk])).status_code == 200
    assert client.get(reverse("serial_epcis", args=[graph["pack"].pk])).status_code == 200
    trace = client.get(reverse("trace"), {"q": "FLOUR lot F-1", "_export": "epcis"})
    assert trace.status_code == 200


def test_downloads_are_refused_without_a_role_and_send_anonymous_visitors_to_sign_in(
    client, no_role_user, graph
):
    url = reverse("lot_epcis", args=[graph["bread"].pk])
    assertRedirects(client.get(url), f"{reverse('login')}?next={url}")

    client.force_login(no_role_user)

    assert client.get(url).status_code == 403
    assert client.get(reverse("serial_epcis", args=[graph["pack"].pk])).status_code == 403


def test_the_trace_page_offers_an_epcis_download_of_the_shown_trace(manager_client, graph):
    response = manager_client.get(reverse("trace"), {"q": "FLOUR lot F-1", "direction": "forward"})

    assertContains(response, 'href="?q=FLOUR+lot+F-1&amp;direction=forward&amp;_export=epcis"')


def test_a_forward_trace_download_holds_the_events_of_its_root_and_every_item_reached(
    manager_client, graph
):
    response = manager_client.get(
        reverse("trace"), {"q": "FLOUR lot F-1", "direction": "forward", "_export": "epcis"}
    )

    document = _download(response)
    assert response["Content-Disposition"] == (
        'attachment; filename="epcis-trace-forward-FLOUR-lot-F-1.jsonld"'
    )
    assert _event_ids(document) == _naming(graph["flour"], graph["bread"])
    assert len(_event_ids(document)) == 3  # flour made, turned into bread, bread shipped


def test_a_backward_trace_download_holds_the_events_of_what_its_root_came_from(
    manager_client, graph
):
    response = manager_client.get(
        reverse("trace"), {"q": "BREAD lot B/1", "direction": "backward", "_export": "epcis"}
    )

    document = _download(response)
    assert response["Content-Disposition"] == (
        'attachment; filename="epcis-trace-backward-BREAD-lot-B_1.jsonld"'
    )
    assert _event_ids(document) == _naming(graph["flour"], graph["bread"])


def test_a_trace_of_several_roots_names_the_first_and_counts_the_others(manager_client, graph):
    flour = graph["flour"]
    second = lot_create(
        product=flour.product,
        code="F-2",
        quantity=Decimal("300"),
        site=graph["plant"],
        produced_on=date(2026, 3, 3),
        acting_user=graph["user"],
    )
    dates = {"produced_from": "2026-03-01", "produced_to": "2026-03-31"}

    response = manager_client.get(
        reverse("trace"), {"product": "FLOUR", **dates, "_export": "epcis"}
    )

    document = _download(response)
    assert response["Content-Disposition"] == (
        'attachment; filename="epcis-trace-forward-FLOUR-lot-F-1-and-1-more.jsonld"'
    )
    assert _event_ids(document) == _naming(flour, second, graph["bread"])


def test_a_trace_that_finds_no_roots_downloads_no_events_rather_than_all(manager_client, graph):
    response = manager_client.get(
        reverse("trace"),
        {
            "product": "FLOUR",
            "produced_from": "2020-01-01",
            "produced_to": "2020-12-31",
            "_export": "epcis",
        },
    )

    document = _download(response)
    assert document["epcisBody"]["eventList"] == []
    assert response["Content-Disposition"] == 'attachment; filename="epcis-trace-forward.jsonld"'


def test_a_trace_download_of_a_query_that_does_not_trace_shows_the_page_with_its_error(
    manager_client, graph
):
    response = manager_client.get(reverse("trace"), {"q": "NO-SUCH-CODE", "_export": "epcis"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.context["form"].errors


@pytest.mark.parametrize("shipments", [0, 25])
def test_a_lot_download_runs_the_same_queries_for_few_or_many_events(
    manager_client, graph, django_assert_max_num_queries, shipments
):
    bread = graph["bread"]
    _ship_to_many(bread, shipments, graph["user"])

    with django_assert_max_num_queries(ITEM_DOWNLOAD_QUERIES):
        response = manager_client.get(reverse("lot_epcis", args=[bread.pk]))

    assert len(_event_ids(_download(response))) == 2 + shipments


@pytest.mark.parametrize("shipments", [0, 25])
def test_a_trace_download_runs_the_same_queries_for_few_or_many_events(
    manager_client, graph, django_assert_max_num_queries, shipments
):
    _ship_to_many(graph["bread"], shipments, graph["user"])

    with django_assert_max_num_queries(TRACE_DOWNLOAD_QUERIES):
        response = manager_client.get(reverse("trace"), {"q": "FLOUR lot F-1", "_export": "epcis"})

    assert len(_event_ids(_download(response))) == 3 + shipments
