"""The header search: a scan opens its page; partial text lists what matches."""

import pytest
from django.urls import reverse

from inventory.models import Product
from inventory.selectors import SEARCH_LIMIT

from .factories import LotFactory, ProductFactory, SerialProductFactory, SerialUnitFactory


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def stock(db):
    flour = ProductFactory(sku="FLOUR-T55", name="Wheat flour T55", gtin="09501101020917")
    drill = SerialProductFactory(sku="DRILL", name="Cordless drill")
    return {
        "lot": LotFactory(product=flour, code="L-2041", supplier_lot_code="MILL 88"),
        "other": LotFactory(product=flour, code="L-2042"),
        "unit": SerialUnitFactory(product=drill, serial="D-0001"),
    }


def search(client, text):
    return client.get(reverse("search"), {"q": text})


@pytest.mark.parametrize(
    "text",
    [
        "(01)09501101020917(10)L-2041",
        "]d2010950110102091710L-2041",
        "https://id.gs1.org/01/09501101020917/10/L-2041",
        "FLOUR-T55 lot L-2041",
        "L-2041",
        "MILL 88",
    ],
)
def test_a_scanned_or_exact_identifier_opens_the_lots_page(manager_client, stock, text):
    response = search(manager_client, text)

    assert response.status_code == 302
    assert response["Location"] == reverse("lot_detail", args=[stock["lot"].pk])


def test_a_serial_opens_the_units_page(manager_client, stock):
    response = search(manager_client, "D-0001")

    assert response["Location"] == reverse("serial_detail", args=[stock["unit"].pk])


def test_part_of_a_code_lists_every_match(manager_client, stock):
    response = search(manager_client, "L-204")

    assert response.status_code == 200
    assert [lot.code for lot in response.context["lots"]] == ["L-2041", "L-2042"]
    assert response.context["units"] == []
    assert b"2 lots and 0 serial units match" in response.content


def test_a_product_name_lists_its_lots(manager_client, stock):
    response = search(manager_client, "wheat t55")

    assert {lot.code for lot in response.context["lots"]} == {"L-2041", "L-2042"}


def test_nothing_found_says_so(manager_client, stock):
    response = search(manager_client, "ZZZ-404")

    assert response.status_code == 200
    assert b"Nothing matches" in response.content


def test_an_empty_search_explains_what_to_type(manager_client, stock):
    response = search(manager_client, "")

    assert b"Type or scan a lot code" in response.content


def test_a_malformed_gs1_code_is_not_an_error_page(manager_client, stock):
    response = search(manager_client, "(01)0950110102091")

    assert response.status_code == 200


def test_the_list_is_capped_and_says_so(manager_client, db):
    product = ProductFactory(sku="BULK")
    LotFactory.create_batch(SEARCH_LIMIT + 5, product=product)

    response = search(manager_client, "BUL")  # part of the SKU: its lots are listed

    assert len(response.context["lots"]) == SEARCH_LIMIT
    assert f"the first {SEARCH_LIMIT} of each".encode() in response.content


def test_the_search_page_runs_a_constant_number_of_queries(
    manager_client, db, django_assert_max_num_queries
):
    product = ProductFactory(sku="BULK")
    LotFactory.create_batch(40, product=product)

    with django_assert_max_num_queries(10):
        assert search(manager_client, "BUL").status_code == 200


@pytest.mark.parametrize("text", ["FLOUR-T55", "flour-t55", "09501101020917", "9501101020917"])
def test_an_exact_sku_or_gtin_opens_the_products_page(manager_client, stock, text):
    flour = Product.objects.get(sku="FLOUR-T55")

    response = search(manager_client, text)

    assert response.status_code == 302
    assert response.url == reverse("product_detail", args=[flour.pk])


def test_a_user_without_a_role_cannot_search(client, no_role_user, stock):
    client.force_login(no_role_user)

    assert search(client, "L-2041").status_code == 403
