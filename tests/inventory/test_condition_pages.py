"""Process condition pages: recording readings, the readings list and its exports, the cards on
lot, unit, product and dashboard pages (issue #9)."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from openpyxl import load_workbook

from inventory import conditions, forms, services, views
from inventory.conditions import Reading
from inventory.models import ConditionLimit, Deviation, Measurement, TraceEvent
from inventory.services import Line

from .factories import LotFactory, ProductFactory, SerialUnitFactory, SiteFactory
from .test_views import LOT_PAGE_QUERIES, SERIAL_PAGE_QUERIES, Page, text

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Session, user, roles and permissions (5), then the event with its site, its lines with
# their lots and units, and the readings already on it.
RECORD_PAGE_QUERIES = 5 + 3
# + the page's count and rows (the items and deviations of each counted in the row's query)
LIST_QUERIES = 5 + 2


@pytest.fixture
def cream():
    product = ProductFactory(sku="CREAM", name="Fresh cream")
    ConditionLimit.objects.create(
        product=product,
        name="cold chain",
        measurement_type="temperature",
        unit="CEL",
        lower=Decimal(2),
        upper=Decimal(8),
    )
    return product


@pytest.fixture
def north():
    return SiteFactory(code="north", name="North DC")


def _ship(user, *lots, site=None, when=None):
    return services.event_record(
        event_type=TraceEvent.Type.SHIP,
        acting_user=user,
        subjects=[Line(lot, Decimal(1)) for lot in lots],
        site=site,
        occurred_at=when,
    )


def _record(event, user, *values, kind="temperature", unit="CEL"):
    return conditions.measurements_record(
        event=event,
        readings=[Reading(measurement_type=kind, unit=unit, value=Decimal(v)) for v in values],
        acting_user=user,
    )


def _rows(*rows):
    """The readings formset's POST data: rows of (type, value, unit), then empty rows."""
    data = {
        "form-TOTAL_FORMS": str(forms.CONDITIONS_ROWS),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "20",
    }
    for number in range(forms.CONDITIONS_ROWS):
        kind, value, unit = rows[number] if number < len(rows) else ("", "", "")
        data |= {
            f"form-{number}-measurement_type": kind,
            f"form-{number}-value": value,
            f"form-{number}-unit": unit,
            f"form-{number}-measured_at": "",
            f"form-{number}-device_id": "",
        }
    return data


def _record_url(event, next_url=""):
    url = reverse("measurement_record", args=[event.pk])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# --- Recording readings -----------------------------------------------------------------------


def test_staff_record_several_readings_on_an_event_and_go_back_to_the_lot(
    client, staff, cream, north
):
    lots = LotFactory.create_batch(2, product=cream)
    event = _ship(staff, *lots, site=north)
    client.force_login(staff)
    back = f"{lots[0].get_absolute_url()}#conditions"

    response = client.post(
        _record_url(event, back),
        _rows(("temperature", "9.5", "CEL"), ("temperature", "5", "CEL")),
    )

    assert response.status_code == 302
    assert response["Location"] == back
    readings = Measurement.objects.order_by("pk")
    assert [(m.value, m.within_limits, m.recorded_by) for m in readings] == [
        (Decimal("9.5"), False, staff),
        (Decimal("5"), True, staff),
    ]
    assert Deviation.objects.count() == 2
    when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        views.CONDITIONS_RECORDED_EXCURSIONS
        % {
            "count": "2 readings",
            "event": "ship",
            "when": when,
            "outside": 1,
            "deviations": "2 deviations",
        }
    ]


def test_readings_within_limits_say_only_how_many_were_recorded(client, manager, cream):
    event = _ship(manager, LotFactory(product=cream))
    client.force_login(manager)

    response = client.post(_record_url(event), _rows(("temperature", "4", "CEL")), follow=True)

    when = timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M")
    assert [str(m) for m in response.context["messages"]] == [
        views.CONDITIONS_RECORDED % {"count": "1 reading", "event": "ship", "when": when}
    ]


def test_a_reading_in_a_unit_of_another_kind_is_refused_on_its_row_and_nothing_is_written(
    client, staff, cream
):
    event = _ship(staff, LotFactory(product=cream))
    client.force_login(staff)

    response = client.post(
        _record_url(event), _rows(("temperature", "4", "CEL"), ("temperature", "4", "SEC"))
    )

    assert response.status_code == 200
    message = conditions.CONDITIONS_UNIT_MISMATCH % {
        "number": 2,
        "type": "temperature",
        "units": "°C, °F, K",
        "unit": "s",
    }
    assert response.context["formset"].forms[1].non_field_errors() == [message]
    assert message in response.content.decode()
    assert not Measurement.objects.exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ((("temperature", "", "CEL"),), forms.CONDITIONS_ROW_INCOMPLETE),
        ((("", "4", ""),), forms.CONDITIONS_ROW_INCOMPLETE),
        ((), forms.CONDITIONS_NOTHING_ENTERED),
    ],
)
def test_incomplete_or_empty_readings_are_refused_and_nothing_is_written(
    client, staff, rows, message
):
    event = _ship(staff, LotFactory())
    client.force_login(staff)

    response = client.post(_record_url(event), _rows(*rows))

    assert response.status_code == 200
    assert str(message) in response.content.decode()
    assert not Measurement.objects.exists()


def test_a_value_that_is_not_a_number_is_refused(client, staff):
    event = _ship(staff, LotFactory())
    client.force_login(staff)

    response = client.post(_record_url(event), _rows(("temperature", "warm", "CEL")))

    assert response.context["formset"].forms[0].errors["value"] == ["Enter a number."]
    assert not Measurement.objects.exists()


def test_a_reading_in_the_future_is_refused_by_the_service_with_its_sentence(client, staff):
    event = _ship(staff, LotFactory())
    client.force_login(staff)
    data = _rows(("temperature", "4", "CEL"))
    later = timezone.localtime() + timedelta(days=1)
    data["form-0-measured_at"] = later.strftime("%Y-%m-%dT%H:%M")

    response = client.post(_record_url(event), data)

    assert response.context["service_errors"] == [conditions.CONDITIONS_FUTURE % {"number": 1}]
    assert not Measurement.objects.exists()


def test_a_next_address_on_another_site_is_not_followed(client, staff):
    event = _ship(staff, LotFactory())
    client.force_login(staff)

    response = client.post(
        _record_url(event, "https://evil.example/"), _rows(("temperature", "4", "CEL"))
    )

    assert response["Location"] == reverse("measurement_record", args=[event.pk])


def test_administrators_may_not_record_readings(client, administrator):
    event = _ship(administrator, LotFactory())
    client.force_login(administrator)

    assert client.get(_record_url(event)).status_code == 403
    assert client.post(_record_url(event), _rows(("temperature", "4", "CEL"))).status_code == 403
    assert not Measurement.objects.exists()


def test_a_user_without_a_role_may_not_open_the_readings_pages(client, no_role_user):
    event = _ship(no_role_user, LotFactory())
    client.force_login(no_role_user)

    assert client.get(_record_url(event)).status_code == 403
    assert client.get(reverse("measurement_list")).status_code == 403


def test_an_unknown_event_is_not_found(client, staff):
    client.force_login(staff)

    assert client.get(reverse("measurement_record", args=[999999])).status_code == 404


def test_the_readings_form_runs_the_same_queries_for_a_small_or_a_large_shipment(
    client, staff, cream, django_assert_max_num_queries
):
    client.force_login(staff)
    small = _ship(staff, *LotFactory.create_batch(2, product=cream))
    large = _ship(staff, *LotFactory.create_batch(30, product=cream))
    _record(large, staff, "4", "5", "6")

    for event in (small, large):
        with django_assert_max_num_queries(RECORD_PAGE_QUERIES):
            response = client.get(_record_url(event))
        assert response.status_code == 200
    assert "and 10 more" in response.content.decode()


# --- The readings list ------------------------------------------------------------------------


@pytest.fixture
def readings(staff, cream, north):
    """A warm shipment of cream at the North DC, a cold one elsewhere, and a plain pH check."""
    warm = _ship(staff, LotFactory(product=cream, code="C-1"), site=north)
    cold = _ship(staff, LotFactory(product=cream, code="C-2"))
    checked = _ship(staff, LotFactory(code="P-1"))
    return {
        "warm": _record(warm, staff, "9.5")[0],
        "cold": _record(cold, staff, "4")[0],
        "ph": _record(checked, staff, "4.2", kind="ph", unit="C62")[0],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"warm", "cold", "ph"}),
        ("verdict=outside", {"warm"}),
        ("verdict=inside", {"cold"}),
        ("verdict=none", {"ph"}),
        ("measurement_type=ph", {"ph"}),
        ("product=cream", {"warm", "cold"}),
        ("site=north", {"warm"}),
        (f"measured_from={timezone.localdate():%Y-%m-%d}", {"warm", "cold", "ph"}),
        (f"measured_to={timezone.localdate() - timedelta(days=1):%Y-%m-%d}", set()),
    ],
)
def test_the_readings_list_filters(client, manager, readings, query, expected):
    client.force_login(manager)

    response = client.get(f"{reverse('measurement_list')}?{query}")

    shown = {row.record.pk for row in response.context["table"].rows}
    assert shown == {readings[name].pk for name in expected}


def test_dates_the_wrong_way_round_list_nothing_and_say_why(client, manager, readings):
    client.force_login(manager)

    response = client.get(
        f"{reverse('measurement_list')}?measured_from=2026-03-05&measured_to=2026-03-01"
    )

    assert "This date is before the “from” date (2026-03-05)" in response.content.decode()
    assert "Nothing is listed until the filters above are corrected." in response.content.decode()


def test_the_readings_list_shows_reading_limits_and_verdict(client, manager, readings):
    client.force_login(manager)

    page = Page(client.get(f"{reverse('measurement_list')}?verdict=outside"))

    (row,) = page.tables[""]
    assert row[1:8] == [
        "Temperature",
        "9.5 °C",
        "cold chain 2 to 8 °C CREAM broken",
        "excursion",
        f"Ship {timezone.localtime(readings['warm'].event.occurred_at):%Y-%m-%d %H:%M}",
        "North DC",
        "1",
    ]


def test_the_readings_list_exports_csv_with_the_figures(client, manager, readings):
    client.force_login(manager)

    response = client.get(f"{reverse('measurement_list')}?verdict=outside&_export=csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header, row = rows
    values = dict(zip(header, row, strict=True))
    assert values["Reading"] == "9.5 °C"
    assert (values["Value"], values["Unit"]) == ("9.5000", "CEL")
    assert values["Limits in force"] == "cold chain 2 to 8 °C"
    assert values["Verdict"] == "excursion"
    assert (values["Deviations"], values["Items"]) == ("1", "1")
    assert values["Event ID"] == readings["warm"].event.event_id


def test_the_readings_list_exports_xlsx(client, manager, readings):
    client.force_login(manager)

    response = client.get(f"{reverse('measurement_list')}?_export=xlsx")

    assert response["Content-Type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.max_row == 1 + 3


def test_the_readings_list_runs_the_same_queries_for_3_or_30_readings(
    client, manager, cream, django_assert_max_num_queries
):
    client.force_login(manager)
    event = _ship(manager, *LotFactory.create_batch(3, product=cream))
    _record(event, manager, "1", "2", "9")
    with django_assert_max_num_queries(LIST_QUERIES):
        client.get(reverse("measurement_list"))
    _record(event, manager, *[str(n) for n in range(27)])

    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(reverse("measurement_list"))

    assert response.context["table"].paginator.count == 30


# --- Cards on other pages ---------------------------------------------------------------------


def test_the_lot_page_shows_its_readings_and_excursions(client, staff, cream, north):
    lot = LotFactory(product=cream, code="C-9")
    event = _ship(staff, lot, site=north)
    _record(event, staff, "9.5", "4")
    client.force_login(staff)

    response = client.get(lot.get_absolute_url())

    body = response.content.decode()
    deviation = Deviation.objects.get()
    assert f'id="deviation-{deviation.reference}"' in body
    assert deviation.description in body
    page = Page(response)
    rows = page.tables["Process conditions"]
    assert [deviation.reference, "open"] == [rows[0][0], rows[0][3]]
    assert [row[3:] for row in rows[1:]] == [
        ["9.5 °C", "cold chain 2 to 8 °C broken", "excursion"],
        ["4 °C", "cold chain 2 to 8 °C", "within limits"],
    ]
    # Under the event on the timeline, and a way to record more.
    assert "Temperature 9.5 °C excursion Temperature 4 °C within limits" in text(response)
    assert reverse("measurement_record", args=[event.pk]) in body


def test_the_lot_page_judges_readings_by_its_own_products_limits(client, manager, cream):
    mine, other = LotFactory(product=cream), LotFactory()
    ConditionLimit.objects.create(
        product=other.product, name="frozen", measurement_type="temperature", unit="CEL", upper=-18
    )
    _record(_ship(manager, mine, other), manager, "5")
    client.force_login(manager)

    rows = Page(client.get(mine.get_absolute_url())).tables["Process conditions"]

    assert [row[3:] for row in rows] == [["5 °C", "cold chain 2 to 8 °C", "within limits"]]


def test_administrators_see_readings_but_no_way_to_record_them(client, administrator, cream):
    lot = LotFactory(product=cream)
    event = _ship(administrator, lot)
    _record(event, administrator, "4")
    client.force_login(administrator)

    body = client.get(lot.get_absolute_url()).content.decode()

    assert "Process conditions" in body
    assert reverse("measurement_record", args=[event.pk]) not in body


def test_the_lot_and_unit_pages_run_the_same_queries_with_readings(
    client, manager, cream, django_assert_max_num_queries
):
    lot = LotFactory(product=cream)
    unit = SerialUnitFactory()
    for _ in range(5):
        event = _ship(manager, lot)
        _record(event, manager, "1", "9", "4")
        unit_event = services.event_record(
            event_type=TraceEvent.Type.TRANSFER, acting_user=manager, subjects=[Line(unit)]
        )
        _record(unit_event, manager, "20")
    client.force_login(manager)

    with django_assert_max_num_queries(LOT_PAGE_QUERIES):
        assert client.get(lot.get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(SERIAL_PAGE_QUERIES):
        assert client.get(unit.get_absolute_url()).status_code == 200


def test_the_product_page_lists_its_limits(client, manager, cream):
    client.force_login(manager)

    page = Page(client.get(reverse("product_detail", args=[cream.pk])))

    assert page.tables["Process condition limits"] == [
        ["cold chain", "Temperature", "2 to 8 °C", "all", "everywhere", "deviation"]
    ]


def test_the_dashboard_counts_the_excursions_of_the_last_week(
    client, manager, cream, django_assert_max_num_queries
):
    client.force_login(manager)
    lots = LotFactory.create_batch(3, product=cream)
    _record(_ship(manager, *lots), manager, "9")
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("home"))
    for _ in range(5):
        _record(_ship(manager, *lots), manager, "12", "1")

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("home"))

    body = text(response)
    assert "Excursions (last 7 days)" in body
    assert (
        "11 readings outside limits · 33 deviations raised on 3 lots or units · 33 still open"
        in body
    )


# --- Limits on the product page ---------------------------------------------------------------


def _limit_data(**overrides):
    data = {
        "name": "chill room",
        "measurement_type": "temperature",
        "unit": "CEL",
        "lower": "0",
        "upper": "4",
        "event_types": ["receive", "transfer"],
        "site": "",
        "active": "on",
    }
    return {**data, **overrides}


def test_a_manager_adds_a_limit_to_a_product(client, manager, cream):
    client.force_login(manager)

    response = client.post(reverse("condition_limit_new", args=[cream.pk]), _limit_data())

    assert response["Location"] == f"{reverse('product_detail', args=[cream.pk])}#condition-limits"
    limit = ConditionLimit.objects.get(name="chill room")
    assert (limit.product, limit.lower, limit.upper) == (cream, Decimal(0), Decimal(4))
    assert limit.event_types == ["receive", "transfer"]
    assert limit.history.get().history_user == manager
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        views.CONDITIONS_LIMIT_SAVED
        % {"name": "chill room", "product": "CREAM", "band": "0 to 4 °C"}
    ]


def test_a_manager_changes_a_limit_and_earlier_readings_keep_the_old_one(client, manager, cream):
    limit = cream.condition_limits.get()
    (reading,) = _record(_ship(manager, LotFactory(product=cream)), manager, "9")
    client.force_login(manager)

    client.post(
        reverse("condition_limit_edit", args=[cream.pk, limit.pk]),
        _limit_data(name="cold chain", lower="2", upper="10", event_types=[]),
    )

    limit.refresh_from_db()
    assert (limit.upper, limit.event_types) == (Decimal(10), [])
    assert limit.history.first().history_change_reason == "Changed on the product page"
    reading.refresh_from_db()
    assert (reading.limits[0]["upper"], reading.within_limits) == ("8.0000", False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_limit_data(lower="5", upper="1"), "The lower limit cannot be above the upper limit."),
        (_limit_data(lower="", upper=""), "Give a lower limit, an upper limit or both."),
        (_limit_data(unit="SEC"), "The unit does not measure this kind of condition."),
    ],
)
def test_a_limit_that_makes_no_sense_is_refused_and_nothing_is_written(
    client, manager, cream, data, message
):
    client.force_login(manager)

    response = client.post(reverse("condition_limit_new", args=[cream.pk]), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert cream.condition_limits.count() == 1


def test_staff_may_not_add_or_change_limits(client, staff, cream):
    client.force_login(staff)
    limit = cream.condition_limits.get()

    assert client.get(reverse("condition_limit_new", args=[cream.pk])).status_code == 403
    edit = reverse("condition_limit_edit", args=[cream.pk, limit.pk])
    assert client.post(edit, _limit_data()).status_code == 403
    body = client.get(reverse("product_detail", args=[cream.pk])).content.decode()
    assert reverse("condition_limit_new", args=[cream.pk]) not in body


def test_a_limit_is_changed_only_under_its_own_product(client, manager, cream):
    other = ProductFactory()
    client.force_login(manager)
    limit = cream.condition_limits.get()

    response = client.get(reverse("condition_limit_edit", args=[other.pk, limit.pk]))

    assert response.status_code == 404
