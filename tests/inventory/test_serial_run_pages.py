"""Serial run pages: the form with its preview, background runs, the run page and its labels."""

import io
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from django.urls import reverse
from PIL import Image
from pypdf import PdfReader
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from inventory import jobs, label_sheets
from inventory.models import Job, SerialRun, SerialUnit

from .factories import LotFactory, ProductFactory, SerialProductFactory, SiteFactory

pytestmark = pytest.mark.django_db

GTIN = "09506000134369"
NEW = reverse("serial_run_new")
# Session, user, roles and permissions, then the run with its product, lot, site and maker.
RUN_PAGE_QUERIES = 8


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def drill():
    return SerialProductFactory(sku="DRILL", name="Cordless drill", gtin=GTIN)


@pytest.fixture
def plant():
    return SiteFactory(name="Plant 2")


def form_data(product, **changes):
    data = {
        "product": product.pk,
        "count": 3,
        "scheme": "pattern",
        "prefix": "DR-",
        "width": 4,
        "first_number": 1,
        "length": 12,
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def make_run(manager, product, **kwargs):
    from inventory.services import serial_units_generate

    kwargs.setdefault("scheme", "pattern")
    if kwargs["scheme"] == "pattern":
        kwargs.setdefault("prefix", "DR-")
        kwargs.setdefault("width", 4)
        kwargs.setdefault("first_number", 1)
    return serial_units_generate(
        product=product, acting_user=manager, count=kwargs.pop("count", 3), **kwargs
    )


# --- The form -------------------------------------------------------------------------------------


def test_the_form_offers_serial_tracked_products_only(manager_client, drill):
    ProductFactory(sku="FLOUR")

    response = manager_client.get(NEW)

    assertContains(response, "DRILL")
    assertNotContains(response, "FLOUR")


def test_a_preview_shows_the_first_and_last_serial_and_makes_nothing(manager_client, drill):
    response = manager_client.post(NEW, form_data(drill, first_number=9998, count=2, preview="1"))

    assertContains(response, "Preview — nothing is made yet")
    assertContains(response, '<dd class="code">DR-9998</dd>', html=True)
    assertContains(response, '<dd class="code">DR-9999</dd>', html=True)
    assert not SerialUnit.objects.exists()


def test_a_preview_of_a_counter_that_overflows_says_so(manager_client, drill):
    response = manager_client.post(NEW, form_data(drill, first_number=9999, count=2, preview="1"))

    assertContains(response, "2 units from 9999 end at 10000, which does not fit in 4 digits")
    assertNotContains(response, "Preview — nothing is made yet")


def test_making_a_small_run_opens_its_page_with_the_news(manager_client, drill, plant):
    response = manager_client.post(NEW, form_data(drill, site=plant.pk), follow=True)

    run = SerialRun.objects.get()
    assertRedirects(response, run.get_absolute_url())
    assertContains(response, "3 serial units made: DR-0001 … DR-0003.")
    assert set(run.units.values_list("holder_site", flat=True)) == {plant.pk}


def test_a_random_run_from_the_form_ignores_the_pattern_fields(manager_client, drill):
    manager_client.post(NEW, form_data(drill, scheme="random", length=10))

    run = SerialRun.objects.get()
    assert (run.scheme, run.length, run.prefix, run.width) == ("random", 10, "", None)


def test_a_lot_of_another_product_is_refused_on_the_form(manager_client, drill):
    other = LotFactory(product=SerialProductFactory(sku="SAW"), code="S-1")

    response = manager_client.post(NEW, form_data(drill, lot=other.pk))

    assertContains(response, "Lot S-1 is not a lot of DRILL.")
    assert not SerialRun.objects.exists()


def test_a_pattern_run_without_its_counter_fields_is_refused(manager_client, drill):
    response = manager_client.post(NEW, form_data(drill, width=""))

    assertContains(response, "A prefix and counter run needs this.")


def test_a_clash_with_existing_serials_is_shown_and_nothing_is_made(manager_client, drill, manager):
    make_run(manager, drill, count=2)

    response = manager_client.post(NEW, form_data(drill, count=5))

    assertContains(response, "No units were made.")
    assertContains(response, "2 serials of this run already exist for DRILL (DR-0001, DR-0002)")
    assert SerialRun.objects.count() == 1


def test_a_large_run_is_made_by_a_background_job(manager_client, drill, settings):
    response = manager_client.post(
        NEW, form_data(drill, count=jobs.SERIAL_RUN_IN_BACKGROUND + 1, width=5)
    )

    job = Job.objects.get(kind="serial_run")
    run = SerialRun.objects.get()
    assert job.status == Job.Status.SUCCEEDED
    assert job.result["url"] == run.get_absolute_url()
    assertRedirects(response, run.get_absolute_url())
    assert run.units.count() == 5001


def test_a_large_run_the_job_refuses_is_shown_on_the_form(manager_client, drill, manager):
    make_run(manager, drill, count=1, width=5)

    response = manager_client.post(
        NEW, form_data(drill, count=jobs.SERIAL_RUN_IN_BACKGROUND + 1, width=5)
    )

    assertContains(response, "1 serial of this run already exists for DRILL (DR-00001)")
    assert SerialRun.objects.count() == 1


def test_quality_staff_may_not_make_runs(staff_client, drill):
    assert staff_client.get(NEW).status_code == 403
    assert staff_client.post(NEW, form_data(drill)).status_code == 403


# --- The run page and the list ------------------------------------------------------------------


def test_the_run_page_links_each_unit(manager_client, drill, manager):
    run = make_run(manager, drill)
    unit = run.units.get(serial="DR-0002")

    response = manager_client.get(run.get_absolute_url())

    assertContains(
        response, f'<a class="code" href="{unit.get_absolute_url()}">DR-0002</a>', html=True
    )


def test_the_run_page_shows_a_page_of_units_at_a_time(manager_client, drill, manager):
    run = make_run(manager, drill, count=150)

    response = manager_client.get(run.get_absolute_url() + "?page=2")

    assertContains(response, "page 2 of 2")
    assertContains(response, ">DR-0150<")
    assertNotContains(response, ">DR-0100<")


@pytest.mark.parametrize("count", [3, 250])
def test_the_run_page_runs_a_fixed_number_of_queries(
    manager_client, drill, manager, count, django_assert_max_num_queries
):
    run = make_run(manager, drill, lot=LotFactory(product=drill), site=SiteFactory(), count=count)

    with django_assert_max_num_queries(RUN_PAGE_QUERIES):
        manager_client.get(run.get_absolute_url())


def test_the_run_list_names_each_run(staff_client, drill, manager):
    run = make_run(manager, drill)

    response = staff_client.get(reverse("serial_run_list"))

    assertContains(response, f'href="{run.get_absolute_url()}"')
    assertContains(response, "DR-0001 … DR-0003")
    assertNotContains(response, "New serial run")


def test_the_run_list_runs_a_fixed_number_of_queries(
    staff_client, drill, manager, django_assert_max_num_queries
):
    for first in (1, 10, 20):
        make_run(manager, drill, first_number=first, count=2)

    with django_assert_max_num_queries(7):
        staff_client.get(reverse("serial_run_list"))


def test_a_unit_page_links_its_run(manager_client, drill, manager):
    run = make_run(manager, drill)

    response = manager_client.get(run.units.first().get_absolute_url())

    assertContains(response, f'href="{run.get_absolute_url()}"')


def test_managers_see_the_runs_in_the_navigation(manager_client):
    assertContains(manager_client.get(reverse("serial_list")), 'href="/serials/runs/"')


# --- Label sheets -------------------------------------------------------------------------------


def labels_url(run, **query):
    url = reverse("serial_run_labels", args=[run.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def pdf_pages(content: bytes, tmp_path: Path, dpi=300) -> list[Image.Image]:
    """The PDF's pages as images, drawn by Poppler as a printer would."""
    source = tmp_path / "sheet.pdf"
    source.write_bytes(content)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-png", source, tmp_path / "page"], check=True
    )
    return [Image.open(path) for path in sorted(tmp_path.glob("page-*.png"))]


def pdf_text_of(page) -> str:
    return page.extract_text()


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def built_run(drill, manager):
    lot = LotFactory(product=drill, code="PL-0303", expires_on=date(2030, 6, 30))
    return make_run(manager, drill, lot=lot, count=4)


def test_the_label_sheet_carries_each_units_gs1_datamatrix(staff_client, built_run, tmp_path):
    response = staff_client.get(labels_url(built_run))

    assert response["Content-Type"] == "application/pdf"
    symbols = zxingcpp.read_barcodes(pdf_pages(response.content, tmp_path)[0])
    assert sorted(symbol.text for symbol in symbols) == [
        f"(01){GTIN}(17)300630(10)PL-0303(21)DR-000{n}" for n in range(1, 5)
    ]
    assert {symbol.format for symbol in symbols} == {zxingcpp.BarcodeFormat.DataMatrix}
    assert {symbol.content_type for symbol in symbols} == {zxingcpp.ContentType.GS1}


def test_the_label_sheet_writes_product_gtin_serial_and_lot(staff_client, built_run):
    text = pdf_text(staff_client.get(labels_url(built_run)).content)

    assert "Cordless drill" in text
    assert f"GTIN {GTIN}" in text
    assert "SN DR-0003" in text
    assert "LOT PL-0303 · EXP 2030-06-30" in text


def test_a_range_prints_those_labels_only(staff_client, built_run):
    response = staff_client.get(labels_url(built_run, first=2, last=3))

    text = pdf_text(response.content)
    assert re.findall(r"SN (DR-\d+)", text) == ["DR-0002", "DR-0003"]
    assert 'filename="labels-DRILL-2-3.pdf"' in response["Content-Disposition"]


def test_24_labels_fill_an_a4_page(staff_client, drill, manager):
    run = make_run(manager, drill, count=25)

    pages = PdfReader(io.BytesIO(staff_client.get(labels_url(run)).content)).pages

    assert len(pages) == 2
    assert [round(float(side)) for side in pages[0].mediabox[2:]] == [595, 842]  # A4, in points
    assert pdf_text_of(pages[1]).count("SN DR-") == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"first": 0, "last": 2}, "Give a range of labels from 1 to 4, first not after last"),
        ({"first": 3, "last": 2}, "Give a range of labels from 1 to 4, first not after last"),
        ({"first": "x"}, "Give a range of labels from 1 to 4, first not after last"),
        ({"last": 5}, "Give a range of labels from 1 to 4, first not after last"),
    ],
)
def test_a_bad_range_is_refused_with_a_message(staff_client, built_run, query, message):
    response = staff_client.get(labels_url(built_run, **query), follow=True)

    assertRedirects(response, built_run.get_absolute_url())
    assertContains(response, message)


def test_a_sheet_of_more_labels_than_a_pdf_holds_is_refused(staff_client, drill, manager):
    run = make_run(manager, drill, count=label_sheets.LABELS_PER_PDF + 1, width=5)

    response = staff_client.get(labels_url(run), follow=True)

    assertContains(response, "A sheet prints at most 240 labels; ask for a range")


def test_the_run_page_offers_sheets_of_at_most_a_pdfs_labels(manager_client, drill, manager):
    run = make_run(manager, drill, count=label_sheets.LABELS_PER_PDF + 1, width=5)

    response = manager_client.get(run.get_absolute_url())

    assertContains(response, "?first=1&amp;last=240")
    assertContains(response, "?first=241&amp;last=241")


def test_a_product_without_a_gtin_gets_no_sheet_and_the_page_says_why(manager_client, manager):
    plain = SerialProductFactory(sku="PLAIN", gtin=None)
    run = make_run(manager, plain)

    page = manager_client.get(run.get_absolute_url())
    sheet = manager_client.get(labels_url(run), follow=True)

    message = "PLAIN has no GTIN, so its units cannot carry a GS1 DataMatrix."
    assertContains(page, message)
    assertNotContains(page, "labels.pdf")
    assertRedirects(sheet, run.get_absolute_url())
    assertContains(sheet, message)


def test_an_unknown_run_is_not_found(manager_client):
    assert manager_client.get(reverse("serial_run_detail", args=[999])).status_code == 404
    assert manager_client.get(reverse("serial_run_labels", args=[999])).status_code == 404
