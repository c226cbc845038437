"""Every identifier form a person types or scans, and the lots and units it resolves to."""

from datetime import date

import pytest

from inventory.identifiers import IdentifierError, parse_identifier
from inventory.selectors import resolve_identifiers

from .factories import (
    LotFactory,
    PartyFactory,
    ProductFactory,
    SerialProductFactory,
    SerialUnitFactory,
)

GTIN = "09501101020917"
WRONG_CHECK_DIGIT = "GTIN 09501101020918 has a wrong check digit (expected 7)."
NOT_AN_IDENTIFIER = (
    "{text} is not an identifier: use 'SKU lot CODE', 'SKU serial CODE', a GS1 code or a "
    "Digital Link."
)
EMPTY = "Type or scan an identifier."
TOO_LONG = "That identifier is too long to be a lot, serial or GS1 code."
NO_GTIN = "{text} has no GTIN (AI 01)."
NO_LOT_OR_SERIAL = "{text} names a product but no lot (AI 10) or serial (AI 21)."
UNTRACKED_URN = "{text} is an EPC URN of a kind we do not track (use sgtin or lgtin)."
EPC_SHAPE = "{text} is not a valid EPC URN (expected prefix.item.{last})."
EPC_DIGITS = "EPC company prefix and item reference must be digits."
EPC_LENGTH = "EPC company prefix and item reference must have 13 digits together."
NO_MATCH = "No lot or serial unit matches {text}."
AMBIGUOUS = "{text} matches {count} items ({names}); add the SKU."


def parsed(text):
    """The parts of a parsed reference that name something, without the echoed text."""
    ref = parse_identifier(text)
    fields = ("gtin", "sku", "lot", "serial", "expiry", "code")
    return {name: getattr(ref, name) for name in fields if getattr(ref, name) is not None}


def error_of(text):
    with pytest.raises(IdentifierError) as excinfo:
        parse_identifier(text)
    return str(excinfo.value)


# --- GS1 element strings ----------------------------------------------------------------------


def test_human_readable_element_string_gives_gtin_expiry_lot_and_serial():
    assert parsed("(01)09501101020917(17)190508(10)ABCD1234(21)10") == {
        "gtin": GTIN,
        "expiry": date(2019, 5, 8),
        "lot": "ABCD1234",
        "serial": "10",
    }


@pytest.mark.parametrize(
    ("yymmdd", "expiry"),
    [
        ("190508", date(2019, 5, 8)),
        ("190200", date(2019, 2, 28)),
        ("200200", date(2020, 2, 29)),
        ("191100", date(2019, 11, 30)),
        ("191200", date(2019, 12, 31)),
    ],
)
def test_expiry_day_00_means_the_last_day_of_the_month(yymmdd, expiry):
    assert parsed(f"(01){GTIN}(17){yymmdd}(10)A1")["expiry"] == expiry


def test_raw_datamatrix_scan_with_group_separator_is_read():
    scan = "]d2" + "01" + GTIN + "17" + "190508" + "10" + "ABCD1234" + "\x1d" + "21" + "10"
    assert parsed(scan) == {
        "gtin": GTIN,
        "expiry": date(2019, 5, 8),
        "lot": "ABCD1234",
        "serial": "10",
    }


@pytest.mark.parametrize("prefix", ["]C1", "]Q3", "]e0", "]J1", ""])
def test_raw_scan_is_read_with_any_gs1_symbology_prefix_or_none(prefix):
    assert parsed(f"{prefix}01{GTIN}10LOT7\x1d21SN9") == {
        "gtin": GTIN,
        "lot": "LOT7",
        "serial": "SN9",
    }


def test_a_typed_gs_placeholder_stands_for_the_group_separator():
    assert parsed(f"]C101{GTIN}10LOT7<GS>21SN9") == {"gtin": GTIN, "lot": "LOT7", "serial": "SN9"}


# --- GS1 Digital Link -------------------------------------------------------------------------


def test_digital_link_with_lot_unescapes_percent_escapes():
    assert parsed(f"https://id.gs1.org/01/{GTIN}/10/AB%2FC%25D") == {"gtin": GTIN, "lot": "AB/C%D"}


def test_digital_link_with_serial_unescapes_percent_escapes():
    assert parsed(f"https://id.gs1.org/01/{GTIN}/21/SN%2F1%2B2") == {
        "gtin": GTIN,
        "serial": "SN/1+2",
    }


def test_digital_link_on_a_brand_domain_reads_expiry_from_the_query():
    assert parsed(f"https://example.com/01/{GTIN}/10/AB?17=200200") == {
        "gtin": GTIN,
        "lot": "AB",
        "expiry": date(2020, 2, 29),
    }


def test_digital_link_with_a_gtin_13_gives_the_14_digit_gtin():
    assert parsed("https://id.gs1.org/01/9501101020917/10/AB") == {"gtin": GTIN, "lot": "AB"}


# --- EPC URNs ---------------------------------------------------------------------------------


def test_sgtin_urn_gives_gtin_with_computed_check_digit_and_serial():
    assert parsed("urn:epc:id:sgtin:0614141.812345.6789") == {
        "gtin": "80614141123458",
        "serial": "6789",
    }


def test_lgtin_urn_gives_gtin_and_lot():
    assert parsed("urn:epc:class:lgtin:4012345.012345.998877") == {
        "gtin": "04012345123456",
        "lot": "998877",
    }


def test_epc_urn_serial_is_percent_unescaped():
    assert parsed("urn:epc:id:sgtin:0614141.812345.A%2FB")["serial"] == "A/B"


def test_epc_urn_prefix_is_case_insensitive():
    assert parsed("URN:EPC:ID:SGTIN:0614141.812345.6789") == {
        "gtin": "80614141123458",
        "serial": "6789",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "urn:epc:id:sgtin:0614141.812345",
            EPC_SHAPE.format(text="urn:epc:id:sgtin:0614141.812345", last="serial"),
        ),
        (
            "urn:epc:class:lgtin:4012345.012345.",
            EPC_SHAPE.format(text="urn:epc:class:lgtin:4012345.012345.", last="lot"),
        ),
        ("urn:epc:id:sgtin:061414A.812345.6789", EPC_DIGITS),
        ("urn:epc:id:sgtin:0614141.81234.6789", EPC_LENGTH),
        (
            "urn:epc:id:sscc:0614141.1234567890",
            UNTRACKED_URN.format(text="urn:epc:id:sscc:0614141.1234567890"),
        ),
    ],
)
def test_malformed_or_untracked_epc_urn_is_refused_with_its_reason(text, message):
    assert error_of(text) == message


# --- Typed forms ------------------------------------------------------------------------------


def test_sku_lot_code_names_a_lot():
    assert parsed("FLOUR-T55 lot L-2041") == {"sku": "FLOUR-T55", "lot": "L-2041"}


def test_sku_serial_code_names_a_serial_unit():
    assert parsed("PACK-48V serial SN0001") == {"sku": "PACK-48V", "serial": "SN0001"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FLOUR-T55 LOT L-2041", {"sku": "FLOUR-T55", "lot": "L-2041"}),
        ("PACK-48V Serial SN0001", {"sku": "PACK-48V", "serial": "SN0001"}),
    ],
)
def test_lot_and_serial_keywords_are_case_insensitive(text, expected):
    assert parsed(text) == expected


def test_gtin_and_code_names_a_product_and_a_lot_code_or_serial():
    assert parsed(f"{GTIN} ABCD1234") == {"gtin": GTIN, "sku": GTIN, "code": "ABCD1234"}


@pytest.mark.parametrize(
    ("gtin", "gtin_14"),
    [
        ("96385074", "00000096385074"),
        ("614141123452", "00614141123452"),
        ("5901234123457", "05901234123457"),
        ("09501101020917", "09501101020917"),
    ],
)
def test_gtin_8_12_and_13_are_normalised_to_14_digits(gtin, gtin_14):
    # The digits may also be an SKU; resolution tries both.
    assert parsed(f"{gtin} L1") == {"gtin": gtin_14, "sku": gtin, "code": "L1"}
    assert parsed(f"{gtin} lot L1") == {"gtin": gtin_14, "sku": gtin, "lot": "L1"}


def test_an_all_digit_sku_is_found_although_it_looks_like_a_gtin(db):
    product = ProductFactory(sku="12345678", gtin=None)
    lot = LotFactory(product=product, code="X")

    assert resolve_identifiers(["12345678 lot X"]) == ([lot], [])


def test_an_all_digit_sku_with_a_wrong_gtin_check_digit_is_still_found(db):
    product = ProductFactory(sku="09501101020918", gtin=None)
    lot = LotFactory(product=product, code="L1")

    assert resolve_identifiers(["09501101020918 L1"]) == ([lot], [])


def test_sku_and_code_names_a_product_and_a_lot_code_or_serial():
    assert parsed("FLOUR-T55 L-2041") == {"sku": "FLOUR-T55", "code": "L-2041"}


def test_a_bare_code_may_be_a_lot_code_serial_or_supplier_lot_code():
    assert parsed("  L-2041 ") == {"code": "L-2041"}


# --- Check digits and malformed input ---------------------------------------------------------


@pytest.mark.parametrize("text", ["09501101020918 L1", "09501101020918 serial 10"])
def test_wrong_gtin_check_digit_is_named_when_no_sku_matches_either(db, text):
    with pytest.raises(IdentifierError) as excinfo:
        resolve_identifiers([text])
    assert str(excinfo.value) == WRONG_CHECK_DIGIT


@pytest.mark.parametrize(
    "text",
    [
        "(01)09501101020918(10)ABCD1234",
        "]d20109501101020918\x1d10ABCD1234",
        "https://id.gs1.org/01/09501101020918/10/ABCD1234",
    ],
)
def test_wrong_gtin_check_digit_is_named_with_the_expected_digit(text):
    assert error_of(text) == WRONG_CHECK_DIGIT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", EMPTY),
        ("   ", EMPTY),
        ("X" * 501, TOO_LONG),
        ("FLOUR lot L1 extra", NOT_AN_IDENTIFIER.format(text="FLOUR lot L1 extra")),
        ("what is this thing", NOT_AN_IDENTIFIER.format(text="what is this thing")),
        ("(10)ABCD1234", NO_GTIN.format(text="(10)ABCD1234")),
        (f"(01){GTIN}", NO_LOT_OR_SERIAL.format(text=f"(01){GTIN}")),
        (
            f"https://id.gs1.org/01/{GTIN}",
            NO_LOT_OR_SERIAL.format(text=f"https://id.gs1.org/01/{GTIN}"),
        ),
    ],
)
def test_malformed_input_is_refused_with_a_plain_reason(text, message):
    assert error_of(text) == message


@pytest.mark.parametrize(
    "text",
    [
        "(01)123(10)A",
        f"(01){GTIN}(17)191301(10)A",
        "https://example.com/not-a-gs1-path",
    ],
)
def test_invalid_gs1_code_is_refused_in_one_line(text):
    message = error_of(text)
    assert message.startswith(f"{text} is not a valid GS1 code: ")
    assert "\n" not in message


def test_error_shows_a_scanned_group_separator_as_typed_and_stays_on_one_line():
    scan = f"]d201{GTIN}\x1d(bad"
    assert error_of(scan).startswith(f"]d201{GTIN}<GS>(bad is not a valid GS1 code: ")
    assert error_of("what is\nthis thing") == NOT_AN_IDENTIFIER.format(text="what is this thing")


# --- Resolving to lots and units --------------------------------------------------------------


@pytest.fixture
def catalogue(db):
    """A serial-tracked product with GTIN, its production lot, and a unit built in it."""
    product = SerialProductFactory(sku="PACK-48V", gtin=GTIN)
    lot = LotFactory(product=product, code="ABCD1234")
    unit = SerialUnitFactory(product=product, serial="10", lot=lot)
    return product, lot, unit


@pytest.mark.parametrize(
    "text",
    [
        "PACK-48V lot ABCD1234",
        f"{GTIN} lot ABCD1234",
        "9501101020917 lot ABCD1234",
        f"(01){GTIN}(10)ABCD1234",
        f"https://id.gs1.org/01/{GTIN}/10/ABCD1234",
        "urn:epc:class:lgtin:9501101.002091.ABCD1234",
        "ABCD1234",
    ],
)
def test_every_lot_form_resolves_to_the_lot(catalogue, text):
    _, lot, _ = catalogue
    assert resolve_identifiers([text]) == ([lot], [])


@pytest.mark.parametrize(
    "text",
    [
        "PACK-48V serial 10",
        f"{GTIN} serial 10",
        "PACK-48V 10",
        f"(01){GTIN}(17)190508(10)ABCD1234(21)10",
        f"]d201{GTIN}1719050810ABCD1234\x1d2110",
        f"https://id.gs1.org/01/{GTIN}/21/10",
        "urn:epc:id:sgtin:9501101.002091.10",
        "10",
    ],
)
def test_every_serial_form_resolves_to_the_unit(catalogue, text):
    _, _, unit = catalogue
    assert resolve_identifiers([text]) == ([], [unit])


def test_percent_escaped_lot_code_resolves_to_the_lot(db):
    lot = LotFactory(product=ProductFactory(gtin=GTIN), code="AB/C%D")
    assert resolve_identifiers([f"https://id.gs1.org/01/{GTIN}/10/AB%2FC%25D"]) == ([lot], [])


def test_supplier_lot_code_resolves_to_every_lot_received_under_it(db):
    supplier = PartyFactory(name="Mill Co", is_supplier=True)
    first = LotFactory(supplier=supplier, supplier_lot_code="M-889")
    second = LotFactory(supplier=supplier, supplier_lot_code="M-889")
    LotFactory(supplier=supplier, supplier_lot_code="M-890")

    lots, units = resolve_identifiers(["M-889"])

    assert sorted(lot.pk for lot in lots) == sorted([first.pk, second.pk])
    assert units == []


def test_own_lot_code_wins_over_a_supplier_lot_code(db):
    ours = LotFactory(code="X-1")
    LotFactory(supplier_lot_code="X-1")
    assert resolve_identifiers(["X-1"]) == ([ours], [])


def test_several_identifiers_resolve_together_without_duplicates(catalogue):
    _, lot, unit = catalogue
    lots, units = resolve_identifiers(["ABCD1234", "PACK-48V lot ABCD1234", "PACK-48V serial 10"])
    assert (lots, units) == ([lot], [unit])


def test_ambiguous_bare_code_asks_for_the_sku(db):
    lot = LotFactory(product=ProductFactory(sku="FLOUR"), code="X-7")
    unit = SerialUnitFactory(product=SerialProductFactory(sku="PACK"), serial="X-7")

    with pytest.raises(IdentifierError) as excinfo:
        resolve_identifiers(["X-7"])

    assert str(excinfo.value) == AMBIGUOUS.format(
        text="X-7", count=2, names="FLOUR lot X-7, PACK serial X-7"
    )
    assert resolve_identifiers(["FLOUR X-7"]) == ([lot], [])
    assert resolve_identifiers(["PACK X-7"]) == ([], [unit])


@pytest.mark.parametrize(
    "text",
    [
        "PACK-48V lot NOPE",
        "PACK-48V serial 11",
        "NOSUCHSKU lot ABCD1234",
        "96385074 lot ABCD1234",
        "NOPE-123",
        "urn:epc:id:sgtin:0614141.812345.6789",
    ],
)
def test_unknown_identifier_is_named(catalogue, text):
    with pytest.raises(IdentifierError) as excinfo:
        resolve_identifiers([text])
    assert str(excinfo.value) == NO_MATCH.format(text=text)


def test_unknown_raw_scan_is_named_with_its_group_separator_as_typed(catalogue):
    with pytest.raises(IdentifierError) as excinfo:
        resolve_identifiers([f"]d201{GTIN}10NOPE\x1d2199"])
    assert str(excinfo.value) == NO_MATCH.format(text=f"]d201{GTIN}10NOPE<GS>2199")


def test_one_unknown_identifier_among_known_ones_fails_the_lot(catalogue):
    with pytest.raises(IdentifierError) as excinfo:
        resolve_identifiers(["PACK-48V serial 10", "PACK-48V lot NOPE"])
    assert str(excinfo.value) == NO_MATCH.format(text="PACK-48V lot NOPE")


def test_resolving_takes_two_queries_however_many_identifiers(catalogue, django_assert_num_queries):
    texts = ["PACK-48V lot ABCD1234", "PACK-48V serial 10", f"{GTIN} lot ABCD1234", "10"]
    with django_assert_num_queries(2):
        resolve_identifiers(texts)


def test_a_supplier_lot_code_with_spaces_resolves_whole(db):
    flour = ProductFactory(sku="FLOUR")
    received = LotFactory(product=flour, code="F1", supplier_lot_code="PGM 24-1187")

    lots, units = resolve_identifiers(["PGM 24-1187"])

    assert lots == [received]
    assert units == []
