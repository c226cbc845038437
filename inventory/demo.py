"""The demo data set: a food plant and an electronics maker, written through the services.

Everything is fixed except the calendar: dates count back from today, so expiry windows, holds
and the dashboard always show something current. There is no randomness; run on the same day,
the load produces the same records (only event IDs, which the services assign, differ).
"""

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from biip.checksums import gs1_standard_check_digit
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from traceability.roles import ADMINISTRATORS, QUALITY_MANAGERS, QUALITY_STAFF

from . import conditions, quality, quality_selectors, services
from .conditions import Reading
from .models import (
    ConditionLimit,
    EventLine,
    Lot,
    MeasurementType,
    Party,
    Product,
    SerialUnit,
    ServiceRecord,
    Site,
    TraceEvent,
    Unit,
    WarrantyClaim,
)
from .services import Line

DEMO_PASSWORD = "tracewell-demo"
USERNAMES_TAKEN = _(
    "The demo needs the user names %(names)s, but they already exist; "
    "load the demo into a fresh database."
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"


DEMO_USERS = (
    DemoUser("manager", QUALITY_MANAGERS, "Maria", "Okafor"),
    DemoUser("staff", QUALITY_STAFF, "Daniel", "Reyes"),
    # A superuser, so the admin shows every model to the person trying the demo.
    DemoUser("admin", ADMINISTRATORS, "Priya", "Natarajan", is_staff=True, is_superuser=True),
)


def gtin14(company_prefix: str, item_reference: str, indicator: str = "0") -> str:
    """A GTIN-14 from a GS1 company prefix and item reference, with its check digit."""
    body = indicator + company_prefix + item_reference
    if len(body) != 13 or not body.isdigit():
        raise ValueError(f"A GTIN-14 needs 13 digits before its check digit, not {body!r}.")
    return body + str(gs1_standard_check_digit(body))


def gln13(company_prefix: str, location_reference: str) -> str:
    """A GLN from a GS1 company prefix and location reference, with its check digit."""
    body = company_prefix + location_reference
    if len(body) != 12 or not body.isdigit():
        raise ValueError(f"A GLN needs 12 digits before its check digit, not {body!r}.")
    return body + str(gs1_standard_check_digit(body))


# --- Master data --------------------------------------------------------------------------------
# GS1 company prefixes starting 952 are reserved for demonstrations, so these never collide
# with a real company's numbers.


@dataclass(frozen=True)
class _PartySpec:
    prefix: str
    name: str
    role: str  # internal, supplier, customer or carrier
    contact_name: str
    email: str
    phone: str
    street: str
    city: str
    postal_code: str
    region: str
    country: str = "US"


@dataclass(frozen=True)
class _SiteSpec:
    party: str
    code: str
    name: str
    kind: str
    location: str
    street: str
    city: str
    postal_code: str
    region: str
    phone: str
    country: str = "US"


@dataclass(frozen=True)
class _ProductSpec:
    sku: str
    name: str
    unit: str
    code: str  # lot codes and serials start with this
    gtin: tuple[str, str] | None = None
    shelf_life_days: int | None = None
    on_food_traceability_list: bool = False
    tracking: str = Product.Tracking.LOT
    warranty_months: int | None = None
    replacement_keeps_warranty: bool = False
    description: str = ""


PARTIES = {
    "greenvale": _PartySpec(
        "9521001", "Greenvale Fine Foods, Inc.", "internal", "Maria Okafor",
        "quality@greenvalefoods.example", "+1 209 555 0140", "1200 Orchard Parkway",
        "Modesto", "95354", "CA",
    ),
    "prairie": _PartySpec(
        "9521101", "Prairie Gold Milling Co.", "supplier", "Tom Hadley",
        "orders@prairiegoldmilling.example", "+1 785 555 0112", "410 Mill Road",
        "Salina", "67401", "KS",
    ),
    "sunnyacres": _PartySpec(
        "9521102", "Sunny Acres Egg Farm", "supplier", "Rosa Delgado",
        "rosa.delgado@sunnyacres.example", "+1 707 555 0133", "2750 Bodega Avenue",
        "Petaluma", "94952", "CA",
    ),
    "clearbrook": _PartySpec(
        "9521103", "Clearbrook Dairy Cooperative", "supplier", "Henrik Larsen",
        "quality@clearbrookdairy.example", "+1 209 555 0171", "95 Creamery Lane",
        "Turlock", "95380", "CA",
    ),
    "coastal": _PartySpec(
        "9521104", "Coastal Valley Greens LLC", "supplier", "Ana Morales",
        "food.safety@coastalvalleygreens.example", "+1 831 555 0158",
        "18 Spreckels Boulevard", "Salinas", "93908", "CA",
    ),
    "solharvest": _PartySpec(
        "9521105", "Sol Harvest Farms", "supplier", "Marcus Bell",
        "traceability@solharvest.example", "+1 239 555 0119", "601 New Market Road",
        "Immokalee", "34142", "FL",
    ),
    "hillside": _PartySpec(
        "9521106", "Hillside Smokehouse", "supplier", "Greta Vogel",
        "orders@hillsidesmokehouse.example", "+1 541 555 0126", "77 Smokehouse Road",
        "Eugene", "97402", "OR",
    ),
    "sweetfield": _PartySpec(
        "9521107", "Sweetfield Sugar Co.", "supplier", "Owen Pratt",
        "customer.service@sweetfieldsugar.example", "+1 510 555 0187", "830 Loring Avenue",
        "Crockett", "94525", "CA",
    ),
    "northstar": _PartySpec(
        "9521201", "Northstar Foodservice Distribution", "customer", "Kevin Brooks",
        "recalls@northstarfoods.example", "+1 916 555 0163", "5600 Power Inn Road",
        "Sacramento", "95824", "CA",
    ),
    "pacificcrest": _PartySpec(
        "9521202", "Pacific Crest Grocery Distributors", "customer", "Linda Chen",
        "qa@pacificcrestgrocery.example", "+1 209 555 0194", "3300 Arch Road",
        "Stockton", "95215", "CA",
    ),
    "maple": _PartySpec(
        "9521211", "Maple Street Market", "customer", "Joe Amato",
        "store.ops@maplestreetmarket.example", "+1 916 555 0108", "1820 J Street",
        "Sacramento", "95811", "CA",
    ),
    "freshway": _PartySpec(
        "9521212", "FreshWay Grocers", "customer", "Sandra Kim",
        "food.safety@freshwaygrocers.example", "+1 209 555 0152", "455 Pacific Avenue",
        "Stockton", "95204", "CA",
    ),
    "bayside": _PartySpec(
        "9521213", "Bayside Bistro", "customer", "Luca Romano",
        "luca@baysidebistro.example", "+1 916 555 0177", "120 Front Street",
        "Sacramento", "95814", "CA",
    ),
    "blueline": _PartySpec(
        "9521221", "Blue Line Cold Freight", "carrier", "Dispatch desk",
        "dispatch@bluelinecold.example", "+1 209 555 0125", "900 Reefer Way",
        "Modesto", "95358", "CA",
    ),
    "lumen": _PartySpec(
        "9521002", "Lumen Field Instruments, Inc.", "internal", "Ethan Cole",
        "quality@lumenfield.example", "+1 512 555 0149", "4100 Tech Ridge Boulevard",
        "Austin", "78753", "TX",
    ),
    "kaiyuan": _PartySpec(
        "9521301", "Kaiyuan Power Cell Co., Ltd.", "supplier", "Li Wei",
        "li.wei@kaiyuancell.example", "+86 769 5550 1234", "18 Industrial East Road",
        "Dongguan", "523808", "Guangdong", "CN",
    ),
    "circuitworks": _PartySpec(
        "9521302", "Circuitworks Assembly LLC", "supplier", "Nina Patel",
        "quality@circuitworks.example", "+1 408 555 0161", "2200 Zanker Road",
        "San Jose", "95131", "CA",
    ),
    "tristate": _PartySpec(
        "9521401", "Tristate Technology Distribution", "customer", "Greg Novak",
        "rma@tristatetech.example", "+1 972 555 0138", "1500 Commerce Parkway",
        "Grand Prairie", "75050", "TX",
    ),
    "summit": _PartySpec(
        "9521402", "Summit Mobility Solutions", "customer", "Alicia Ford",
        "support@summitmobility.example", "+1 303 555 0144", "700 Ironton Street",
        "Denver", "80239", "CO",
    ),
    "harbor": _PartySpec(
        "9521403", "Harbor City Logistics", "customer", "Victor Huang",
        "it.assets@harborcitylogistics.example", "+1 562 555 0181", "2400 Pier Access Road",
        "Long Beach", "90802", "CA",
    ),
    "riverbend": _PartySpec(
        "9521404", "Riverbend Regional Hospital", "customer", "Helen Marsh",
        "biomed@riverbendhospital.example", "+1 512 555 0192", "3000 River Bend Drive",
        "Round Rock", "78665", "TX",
    ),
    "cascade": _PartySpec(
        "9521405", "Cascade Parcel Services", "customer", "Tom Reilly",
        "fleet@cascadeparcel.example", "+1 503 555 0116", "8800 NE Airport Way",
        "Portland", "97220", "OR",
    ),
    "mesa": _PartySpec(
        "9521406", "Mesa Freight Lines", "customer", "Rita Gomez",
        "operations@mesafreight.example", "+1 480 555 0128", "2100 S 48th Street",
        "Tempe", "85282", "AZ",
    ),
}  # fmt: skip

SITES = {
    "gvf-plant": _SiteSpec(
        "greenvale", "GVF-PLANT", "Greenvale Modesto plant", Site.Kind.PLANT, "00011",
        "1200 Orchard Parkway", "Modesto", "95354", "CA", "+1 209 555 0141",
    ),
    "gvf-warehouse": _SiteSpec(
        "greenvale", "GVF-COLD-STORE", "Greenvale cold store, Modesto", Site.Kind.WAREHOUSE,
        "00012", "88 Cold Storage Way", "Modesto", "95358", "CA", "+1 209 555 0142",
    ),
    "prairie-mill": _SiteSpec(
        "prairie", "PGM-SALINA", "Prairie Gold mill, Salina", Site.Kind.PLANT, "00011",
        "410 Mill Road", "Salina", "67401", "KS", "+1 785 555 0113",
    ),
    "sunnyacres-farm": _SiteSpec(
        "sunnyacres", "SAF-PETALUMA", "Sunny Acres egg farm, Petaluma", Site.Kind.FARM,
        "00011", "2750 Bodega Avenue", "Petaluma", "94952", "CA", "+1 707 555 0134",
    ),
    "clearbrook-creamery": _SiteSpec(
        "clearbrook", "CDC-TURLOCK", "Clearbrook creamery, Turlock", Site.Kind.PLANT, "00011",
        "95 Creamery Lane", "Turlock", "95380", "CA", "+1 209 555 0172",
    ),
    "coastal-ranch": _SiteSpec(
        "coastal", "CVG-CHUALAR", "Coastal Valley Greens, Chualar ranch and packing house",
        Site.Kind.FARM, "00011", "24 River Road", "Chualar", "93925", "CA", "+1 831 555 0159",
    ),
    "solharvest-farm": _SiteSpec(
        "solharvest", "SHF-IMMOKALEE", "Sol Harvest Farms, Immokalee", Site.Kind.FARM, "00011",
        "601 New Market Road", "Immokalee", "34142", "FL", "+1 239 555 0120",
    ),
    "hillside-plant": _SiteSpec(
        "hillside", "HSH-EUGENE", "Hillside Smokehouse, Eugene", Site.Kind.PLANT, "00011",
        "77 Smokehouse Road", "Eugene", "97402", "OR", "+1 541 555 0127",
    ),
    "sweetfield-refinery": _SiteSpec(
        "sweetfield", "SWS-CROCKETT", "Sweetfield refinery, Crockett", Site.Kind.PLANT, "00011",
        "830 Loring Avenue", "Crockett", "94525", "CA", "+1 510 555 0188",
    ),
    "northstar-dc": _SiteSpec(
        "northstar", "NSF-SACRAMENTO-DC", "Northstar Sacramento DC",
        Site.Kind.DISTRIBUTION_CENTER, "00011", "5600 Power Inn Road", "Sacramento", "95824",
        "CA", "+1 916 555 0164",
    ),
    "pacificcrest-dc": _SiteSpec(
        "pacificcrest", "PCG-STOCKTON-DC", "Pacific Crest Stockton DC",
        Site.Kind.DISTRIBUTION_CENTER, "00011", "3300 Arch Road", "Stockton", "95215", "CA",
        "+1 209 555 0195",
    ),
    "maple-midtown": _SiteSpec(
        "maple", "MSM-MIDTOWN", "Maple Street Market, Midtown", Site.Kind.STORE, "00021",
        "1820 J Street", "Sacramento", "95811", "CA", "+1 916 555 0109",
    ),
    "maple-riverside": _SiteSpec(
        "maple", "MSM-RIVERSIDE", "Maple Street Market, Riverside", Site.Kind.STORE, "00022",
        "5200 Riverside Boulevard", "Sacramento", "95822", "CA", "+1 916 555 0110",
    ),
    "freshway-elm": _SiteSpec(
        "freshway", "FWG-ELM-GROVE", "FreshWay Grocers, Elm Grove", Site.Kind.STORE, "00031",
        "9100 Elm Grove Road", "Stockton", "95209", "CA", "+1 209 555 0153",
    ),
    "freshway-oak": _SiteSpec(
        "freshway", "FWG-OAK-PARK", "FreshWay Grocers, Oak Park", Site.Kind.STORE, "00032",
        "1400 Oak Park Avenue", "Stockton", "95205", "CA", "+1 209 555 0154",
    ),
    "bayside-kitchen": _SiteSpec(
        "bayside", "BSB-FRONT-STREET", "Bayside Bistro kitchen", Site.Kind.OTHER, "00011",
        "120 Front Street", "Sacramento", "95814", "CA", "+1 916 555 0178",
    ),
    "lfi-plant": _SiteSpec(
        "lumen", "LFI-AUSTIN", "Lumen Austin assembly plant", Site.Kind.PLANT, "00011",
        "4100 Tech Ridge Boulevard", "Austin", "78753", "TX", "+1 512 555 0150",
    ),
    "lfi-service": _SiteSpec(
        "lumen", "LFI-SERVICE", "Lumen service centre, Austin", Site.Kind.SERVICE_CENTER,
        "00012", "4120 Tech Ridge Boulevard", "Austin", "78753", "TX", "+1 512 555 0151",
    ),
    "kaiyuan-plant": _SiteSpec(
        "kaiyuan", "KPC-DONGGUAN", "Kaiyuan cell plant, Dongguan", Site.Kind.PLANT, "00011",
        "18 Industrial East Road", "Dongguan", "523808", "Guangdong", "+86 769 5550 1235",
        "CN",
    ),
    "circuitworks-plant": _SiteSpec(
        "circuitworks", "CWA-SAN-JOSE", "Circuitworks SMT line, San Jose", Site.Kind.PLANT,
        "00011", "2200 Zanker Road", "San Jose", "95131", "CA", "+1 408 555 0162",
    ),
    "tristate-dc": _SiteSpec(
        "tristate", "TTD-GRAND-PRAIRIE", "Tristate Grand Prairie DC",
        Site.Kind.DISTRIBUTION_CENTER, "00011", "1500 Commerce Parkway", "Grand Prairie",
        "75050", "TX", "+1 972 555 0139",
    ),
    "summit-warehouse": _SiteSpec(
        "summit", "SMS-DENVER", "Summit Mobility warehouse, Denver", Site.Kind.WAREHOUSE,
        "00011", "700 Ironton Street", "Denver", "80239", "CO", "+1 303 555 0145",
    ),
    "harbor-warehouse": _SiteSpec(
        "harbor", "HCL-LONG-BEACH", "Harbor City Logistics, Pier T warehouse",
        Site.Kind.WAREHOUSE, "00011", "2400 Pier Access Road", "Long Beach", "90802", "CA",
        "+1 562 555 0182",
    ),
    "riverbend-hospital": _SiteSpec(
        "riverbend", "RRH-ROUND-ROCK", "Riverbend Regional Hospital, biomedical engineering",
        Site.Kind.OTHER, "00011", "3000 River Bend Drive", "Round Rock", "78665", "TX",
        "+1 512 555 0193",
    ),
    "cascade-hub": _SiteSpec(
        "cascade", "CPS-PDX-HUB", "Cascade Parcel Portland hub", Site.Kind.DISTRIBUTION_CENTER,
        "00011", "8800 NE Airport Way", "Portland", "97220", "OR", "+1 503 555 0117",
    ),
    "mesa-depot": _SiteSpec(
        "mesa", "MFL-TEMPE", "Mesa Freight Lines depot, Tempe", Site.Kind.WAREHOUSE, "00011",
        "2100 S 48th Street", "Tempe", "85282", "AZ", "+1 480 555 0129",
    ),
}  # fmt: skip

_SERIAL = Product.Tracking.SERIAL
PRODUCTS = [
    # Ingredients, with their suppliers' GTINs.
    _ProductSpec("ING-FLOUR", "All-purpose wheat flour, 25 kg sack", Unit.KILOGRAM, "FL",
                 ("9521101", "10025"), 270),
    _ProductSpec("ING-SUGAR", "Granulated cane sugar, 25 kg bag", Unit.KILOGRAM, "SU",
                 ("9521107", "20025")),
    _ProductSpec("ING-EGGS", "Shell eggs, large, grade A", Unit.EACH, "EG",
                 ("9521102", "00360"), 45, True, description="30-dozen cases."),
    _ProductSpec("ING-MILK", "Whole milk, pasteurised, 20 l bag-in-box", Unit.LITRE, "MI",
                 ("9521103", "10020"), 12),
    _ProductSpec("ING-CREAM", "Heavy cream 36 %, 10 l bag-in-box", Unit.LITRE, "CR",
                 ("9521103", "10310"), 21),
    _ProductSpec("ING-BUTTER", "Unsalted butter, 25 kg block", Unit.KILOGRAM, "BU",
                 ("9521103", "20025"), 120),
    _ProductSpec("ING-FETA", "Feta cheese, pasteurised, in brine, 5 kg tub", Unit.KILOGRAM,
                 "FE", ("9521103", "30005"), 60, True, description="Soft cheese."),
    _ProductSpec("ING-SPINACH", "Baby spinach, fresh, 2 kg case", Unit.KILOGRAM, "SP",
                 ("9521104", "00102"), 10, True),
    _ProductSpec("ING-ROMAINE", "Romaine hearts, fresh, 5 kg case", Unit.KILOGRAM, "RO",
                 ("9521104", "00205"), 12, True),
    _ProductSpec("ING-TOMATO", "Cherry tomatoes, 4.5 kg flat", Unit.KILOGRAM, "TO",
                 ("9521105", "00045"), 14, True),
    _ProductSpec("ING-BACON", "Smoked bacon lardons, 5 kg bag", Unit.KILOGRAM, "BA",
                 ("9521106", "00505"), 30),
    # Work in progress: made and used up on the same day, never sold.
    _ProductSpec("WIP-DOUGH", "Shortcrust pastry dough", Unit.KILOGRAM, "DO", None, 5),
    _ProductSpec("WIP-FILL-LOR", "Lorraine custard filling", Unit.KILOGRAM, "LF", None, 3),
    _ProductSpec("WIP-FILL-SPF", "Spinach and feta filling", Unit.KILOGRAM, "SF", None, 3, True,
                 description="Raw filling; fresh spinach and soft cheese before baking."),
    _ProductSpec("WIP-SALAD-MIX", "Washed salad mix, spinach and romaine", Unit.KILOGRAM, "SM",
                 None, 4, True),
    # Finished goods.
    _ProductSpec("FG-QUICHE-LOR", "Quiche Lorraine, 8 in, chilled", Unit.EACH, "QL",
                 ("9521001", "00101"), 21),
    _ProductSpec("FG-QUICHE-SPF", "Spinach and feta quiche, 8 in, chilled", Unit.EACH, "QS",
                 ("9521001", "00102"), 21),
    _ProductSpec("FG-MINI-QUICHE", "Mini quiche Lorraine, frozen, 12-pack", Unit.EACH, "MQ",
                 ("9521001", "00103"), 180),
    _ProductSpec("FG-KIT-SPF", "Spinach, feta and tomato salad kit, 300 g", Unit.EACH, "SK",
                 ("9521001", "00201"), 12, True),
    _ProductSpec("FG-KIT-ROM", "Romaine garden salad kit, 350 g", Unit.EACH, "RK",
                 ("9521001", "00202"), 12, True),
    # Electronics.
    _ProductSpec("CELL-21700", "Li-ion cell 21700, 3.6 V 5000 mAh", Unit.EACH, "CE",
                 ("9521301", "21750")),
    _ProductSpec("PCB-HX2", "HX2 main board assembly", Unit.EACH, "PB", ("9521302", "00412")),
    _ProductSpec("BAT-HX2", "HX2 battery pack, 7.2 V 10 Ah (2S2P)", Unit.EACH, "BP",
                 ("9521002", "00310"), tracking=_SERIAL, warranty_months=12),
    _ProductSpec("DEV-HX2", "HX2 rugged handheld data terminal", Unit.EACH, "HX2",
                 ("9521002", "00100"), tracking=_SERIAL, warranty_months=24,
                 replacement_keeps_warranty=True,
                 description="Built in production lots; each unit carries one BAT-HX2 pack."),
]  # fmt: skip

# The demo is loaded when our food company exists; nothing else creates this GLN.
MARKER_GLN = gln13(PARTIES["greenvale"].prefix, "00000")

CELLS_PER_PACK = 4
CARRIER_NOTE = "Carrier Blue Line Cold Freight, reefer set to 3 °C."

REST = None  # draw what is left of the lot

# The food plant's production orders, oldest first:
# (days ago, [(lot, product, hour, quantity, [(input lot, quantity drawn)])]).
FOOD_RUNS = [
    # Frozen mini quiche from the older ingredient lots.
    (110, [
        ("do-mq1", "WIP-DOUGH", 6, 120, [("fl1", 65), ("bu1", 35), ("eg1", 400), ("su1", 2)]),
        ("lf-mq1", "WIP-FILL-LOR", 7, 330,
         [("eg1", REST), ("cr1", REST), ("mi1", REST), ("ba1", REST)]),
        ("mq1", "FG-MINI-QUICHE", 10, 1200, [("do-mq1", REST), ("lf-mq1", REST)]),
    ]),
    (45, [
        ("do-mq2", "WIP-DOUGH", 6, 120, [("fl1", 65), ("bu1", 35), ("eg2", 400), ("su1", 2)]),
        ("lf-mq2", "WIP-FILL-LOR", 7, 330,
         [("eg2", REST), ("cr2", REST), ("mi2", REST), ("ba2", REST)]),
        ("mq2", "FG-MINI-QUICHE", 10, 1200, [("do-mq2", REST), ("lf-mq2", REST)]),
    ]),
    # Chilled quiche Lorraine: 60 of these are still in the cold store, past their date.
    (25, [
        ("do-ql1", "WIP-DOUGH", 6, 85, [("fl1", 45), ("bu1", REST), ("eg3", 240), ("su1", 1)]),
        ("lf-ql1", "WIP-FILL-LOR", 7, 250,
         [("eg3", REST), ("cr3", REST), ("mi3", REST), ("ba3", 30)]),
        ("ql1", "FG-QUICHE-LOR", 10, 360, [("do-ql1", REST), ("lf-ql1", REST)]),
    ]),
    # Both chilled quiches. One dough lot goes into both, and one egg lot into the dough and
    # both fillings: diamonds in the genealogy.
    (11, [
        ("do-q2", "WIP-DOUGH", 6, 210, [("fl2", 120), ("bu2", 60), ("eg4", 600), ("su1", 3)]),
        ("lf-q2", "WIP-FILL-LOR", 7, 210,
         [("eg4", 1400), ("cr4", 80), ("mi4", 30), ("ba3", REST)]),
        ("sf-q2", "WIP-FILL-SPF", 8, 200,
         [("eg4", 1000), ("cr4", 60), ("mi4", REST), ("sp1", 40), ("fe1", 20)]),
        ("ql2", "FG-QUICHE-LOR", 10, 480, [("do-q2", 110), ("lf-q2", REST)]),
        ("qs2", "FG-QUICHE-SPF", 11, 360, [("do-q2", REST), ("sf-q2", REST)]),
    ]),
    # A washed salad mix goes into two kits.
    (9, [
        ("sm1", "WIP-SALAD-MIX", 5, 130, [("sp1", REST), ("ro1", REST)]),
        ("sk1", "FG-KIT-SPF", 7, 400, [("sm1", 70), ("fe1", 8), ("to1", 30)]),
        ("rk1", "FG-KIT-ROM", 8, 400, [("sm1", REST), ("to1", REST)]),
    ]),
    (4, [
        ("do-q3", "WIP-DOUGH", 6, 200, [("fl2", 120), ("bu2", REST), ("eg4", REST), ("su1", 3)]),
        ("lf-q3", "WIP-FILL-LOR", 7, 210, [("eg5", 1400), ("cr4", 50), ("mi5", 30), ("ba4", 30)]),
        ("sf-q3", "WIP-FILL-SPF", 8, 190,
         [("eg5", 1000), ("cr4", 40), ("mi5", 20), ("sp2", 40), ("fe1", 20)]),
        ("ql3", "FG-QUICHE-LOR", 10, 480, [("do-q3", 100), ("lf-q3", REST)]),
        ("qs3", "FG-QUICHE-SPF", 11, 360, [("do-q3", REST), ("sf-q3", REST)]),
    ]),
    (3, [
        ("sm2", "WIP-SALAD-MIX", 5, 100, [("sp2", 30), ("ro2", 70)]),
        ("sk2", "FG-KIT-SPF", 7, 400, [("sm2", 55), ("fe1", 8), ("to2", 25)]),
        ("rk2", "FG-KIT-ROM", 8, 350, [("sm2", REST), ("to2", 20)]),
    ]),
]  # fmt: skip

# Put on hold during its run (see _food_quality), so it never leaves the plant.
HELD_AT_PLANT = {"qs3"}


def demo_is_loaded() -> bool:
    return Party.objects.filter(gln=MARKER_GLN).exists()


def demo_load() -> dict[str, int] | None:
    """Load the demo in one transaction and return what it holds, or None if it already exists."""
    with transaction.atomic():
        if demo_is_loaded():
            return None
        users = _create_users()
        _DemoBuilder(users).build()
    return demo_counts()


def demo_counts() -> dict[str, int]:
    return {
        "products": Product.objects.count(),
        "parties": Party.objects.count(),
        "sites": Site.objects.count(),
        "lots": Lot.objects.count(),
        "serial units": SerialUnit.objects.count(),
        "trace events": TraceEvent.objects.count(),
        "service records": ServiceRecord.objects.count(),
        "warranty claims": WarrantyClaim.objects.count(),
    }


def _create_users() -> dict[str, object]:
    User = get_user_model()
    names = [spec.username for spec in DEMO_USERS]
    taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
    if taken:
        raise ValidationError(USERNAMES_TAKEN % {"names": ", ".join(taken)}, code="users_taken")
    users = {}
    for spec in DEMO_USERS:
        user = User.objects.create_user(
            username=spec.username,
            email=f"{spec.first_name}.{spec.last_name}@tracewell.example".lower(),
            password=DEMO_PASSWORD,
            first_name=spec.first_name,
            last_name=spec.last_name,
            is_staff=spec.is_staff,
            is_superuser=spec.is_superuser,
        )
        user.groups.add(Group.objects.get(name=spec.role))
        users[spec.username] = user
    return users


def _fresh(unit: SerialUnit) -> SerialUnit:
    """Services update their own locked copies; read the unit again before using it."""
    return SerialUnit.objects.get(pk=unit.pk)


class _DemoBuilder:
    """Writes the demo: master data by the administrator, daily work by staff, holds by QA."""

    def __init__(self, users):
        self.admin = users["admin"]
        self.manager = users["manager"]
        self.staff = users["staff"]
        self.today = timezone.localdate()
        self.parties: dict[str, Party] = {}
        self.sites: dict[str, Site] = {}
        self.products: dict[str, Product] = {}
        self.lot_prefix: dict[str, str] = {}
        self.lots: dict[str, Lot] = {}
        self.left: dict[str, Decimal] = {}
        self.last_use: dict[str, tuple[datetime, str]] = {}
        self.series = defaultdict(lambda: itertools.count(1))

    def build(self):
        self._master_data()
        self._food_receipts()
        self._food_production()
        self._food_distribution()
        self._food_quality()
        self._food_conditions()
        self._electronics()
        self._mark_used_up_lots_consumed()
        self._quality_release()

    # --- Helpers ------------------------------------------------------------------------------

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def at(self, days_ago: int, hour: int, minute: int = 0) -> datetime:
        return timezone.make_aware(datetime.combine(self.day(days_ago), time(hour, minute)))

    def number(self, series: str, start: int) -> str:
        return f"{series}{start + next(self.series[series])}"

    def lot_code(self, sku: str, days_ago: int) -> str:
        return f"{self.lot_prefix[sku]}-{self.day(days_ago):%y%j}"

    def week_code(self, days_ago: int) -> str:
        year, week, _weekday = self.day(days_ago).isocalendar()
        return f"{year % 100:02d}{week:02d}"

    def use(self, key: str, quantity, when: datetime, order: str) -> Line:
        """Draw from a lot (REST draws what is left); the demo never uses more than there is."""
        lot = self.lots[key]
        quantity = self.left[key] if quantity is REST else Decimal(quantity)
        if not 0 < quantity <= self.left[key]:
            raise ValueError(f"The demo draws {quantity} from {lot}, which has {self.left[key]}.")
        self.left[key] -= quantity
        self.last_use[key] = (when, order)
        return Line(lot, quantity, lot.unit)

    def take(self, key: str, quantity) -> Line:
        """Take finished stock for a shipment."""
        lot = self.lots[key]
        quantity = Decimal(quantity)
        if quantity > self.left[key]:
            raise ValueError(f"The demo ships {quantity} of {lot}, which has {self.left[key]}.")
        self.left[key] -= quantity
        return Line(lot, quantity, lot.unit)

    def _add_lot(self, key: str, lot: Lot) -> Lot:
        self.lots[key] = lot
        self.left[key] = lot.quantity
        return lot

    # --- Master data --------------------------------------------------------------------------

    def _master_data(self):
        for key, spec in PARTIES.items():
            self.parties[key] = services.party_create(
                acting_user=self.admin,
                name=spec.name,
                gln=gln13(spec.prefix, "00000"),
                is_internal=spec.role == "internal",
                is_supplier=spec.role == "supplier",
                is_customer=spec.role == "customer",
                is_carrier=spec.role == "carrier",
                contact_name=spec.contact_name,
                email=spec.email,
                phone=spec.phone,
                street=spec.street,
                city=spec.city,
                postal_code=spec.postal_code,
                region=spec.region,
                country=spec.country,
            )
        for key, spec in SITES.items():
            self.sites[key] = services.site_create(
                acting_user=self.admin,
                party=self.parties[spec.party],
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                gln=gln13(PARTIES[spec.party].prefix, spec.location),
                street=spec.street,
                city=spec.city,
                postal_code=spec.postal_code,
                region=spec.region,
                country=spec.country,
                phone=spec.phone,
            )
        for spec in PRODUCTS:
            self.lot_prefix[spec.sku] = spec.code
            self.products[spec.sku] = services.product_create(
                acting_user=self.admin,
                sku=spec.sku,
                name=spec.name,
                description=spec.description,
                gtin=gtin14(*spec.gtin) if spec.gtin else None,
                tracking=spec.tracking,
                unit=spec.unit,
                shelf_life_days=spec.shelf_life_days,
                warranty_months=spec.warranty_months,
                replacement_keeps_warranty=spec.replacement_keeps_warranty,
                on_food_traceability_list=spec.on_food_traceability_list,
            )

    # --- Food: Greenvale Fine Foods ------------------------------------------------------------

    def receive(self, key, sku, supplier, days_ago, quantity, supplier_lot_code, *, site, notes=""):
        lot = services.lot_create(
            acting_user=self.staff,
            product=self.products[sku],
            code=self.lot_code(sku, days_ago),
            quantity=Decimal(quantity),
            produced_on=self.day(days_ago),
            supplier=self.parties[supplier],
            supplier_lot_code=supplier_lot_code,
            site=self.sites[site],
            occurred_at=self.at(days_ago, 6, 30),
            document_type=TraceEvent.DocumentType.PURCHASE_ORDER,
            document_number=self.number("PO-", 4500001200),
            notes=notes,
        )
        return self._add_lot(key, lot)

    def make(self, key, sku, days_ago, hour, quantity, inputs, *, order):
        when = self.at(days_ago, hour)
        lot = services.lot_create(
            acting_user=self.staff,
            product=self.products[sku],
            code=self.lot_code(sku, days_ago),
            quantity=Decimal(quantity),
            produced_on=self.day(days_ago),
            site=self.sites["gvf-plant"],
            inputs=[self.use(source, used, when, order) for source, used in inputs],
            occurred_at=when,
            document_type=TraceEvent.DocumentType.PRODUCTION_ORDER,
            document_number=order,
        )
        return self._add_lot(key, lot)

    def to_cold_store(self, key, days_ago):
        lot = self.lots[key]
        services.event_record(
            event_type=TraceEvent.Type.TRANSFER,
            acting_user=self.staff,
            subjects=[Line(lot, lot.quantity, lot.unit)],
            occurred_at=self.at(days_ago, 15),
            site=self.sites["gvf-plant"],
            source_party=self.parties["greenvale"],
            source_site=self.sites["gvf-plant"],
            destination_party=self.parties["greenvale"],
            destination_site=self.sites["gvf-warehouse"],
            biz_step="storing",
        )

    def _food_receipts(self):
        plant = "gvf-plant"
        deliveries = [
            ("fl1", "ING-FLOUR", "prairie", 200, 1000, "PGM 24-1187"),
            ("su1", "ING-SUGAR", "sweetfield", 150, 500, "SWS-B4471"),
            ("bu1", "ING-BUTTER", "clearbrook", 118, 100, "CB-BU-0412"),
            ("eg1", "ING-EGGS", "sunnyacres", 113, 3600, "SA-H3-0917"),
            ("mi1", "ING-MILK", "clearbrook", 112, 40, "CB-MK-1033"),
            ("cr1", "ING-CREAM", "clearbrook", 112, 120, "CB-CR-1031"),
            ("ba1", "ING-BACON", "hillside", 112, 40, "HS-L-2207"),
            ("eg2", "ING-EGGS", "sunnyacres", 47, 3600, "SA-H2-1102"),
            ("ba2", "ING-BACON", "hillside", 47, 40, "HS-L-2291"),
            ("mi2", "ING-MILK", "clearbrook", 46, 40, "CB-MK-1101"),
            ("cr2", "ING-CREAM", "clearbrook", 46, 120, "CB-CR-1099"),
            ("fl2", "ING-FLOUR", "prairie", 32, 1000, "PGM 25-0093"),
            ("eg3", "ING-EGGS", "sunnyacres", 27, 2160, "SA-H1-1124"),
            ("mi3", "ING-MILK", "clearbrook", 27, 30, "CB-MK-1122"),
            ("cr3", "ING-CREAM", "clearbrook", 27, 90, "CB-CR-1120"),
            ("ba3", "ING-BACON", "hillside", 26, 60, "HS-L-2318"),
            ("fe1", "ING-FETA", "clearbrook", 20, 60, "CB-FT-0208"),
            ("bu2", "ING-BUTTER", "clearbrook", 14, 100, "CB-BU-0447"),
            ("eg4", "ING-EGGS", "sunnyacres", 13, 3600, "SA-H3-1201"),
            ("sp1", "ING-SPINACH", "coastal", 12, 80, "CVG-F12-B0311"),
            ("mi4", "ING-MILK", "clearbrook", 12, 60, "CB-MK-1140"),
            ("cr4", "ING-CREAM", "clearbrook", 12, 240, "CB-CR-1138"),
            ("ro1", "ING-ROMAINE", "coastal", 10, 100, "CVG-F07-R0402"),
            ("to1", "ING-TOMATO", "solharvest", 10, 60, "SHF-2611-CT"),
            ("eg5", "ING-EGGS", "sunnyacres", 6, 3600, "SA-H2-1209"),
            ("ba4", "ING-BACON", "hillside", 6, 40, "HS-L-2344"),
            ("sp2", "ING-SPINACH", "coastal", 5, 80, "CVG-F12-B0318"),
            ("mi5", "ING-MILK", "clearbrook", 5, 60, "CB-MK-1151"),
            ("ro2", "ING-ROMAINE", "coastal", 4, 100, "CVG-F07-R0409"),
            ("to2", "ING-TOMATO", "solharvest", 4, 60, "SHF-2618-CT"),
            ("sp3", "ING-SPINACH", "coastal", 2, 80, "CVG-F14-B0322"),
        ]
        for key, sku, supplier, days_ago, quantity, supplier_lot in deliveries:
            self.receive(key, sku, supplier, days_ago, quantity, supplier_lot, site=plant)

    def _food_production(self):
        for days_ago, outputs in FOOD_RUNS:
            order = self.number("PRD-", 20400)
            for key, sku, hour, quantity, inputs in outputs:
                self.make(key, sku, days_ago, hour, quantity, inputs, order=order)
                if sku.startswith("FG-") and key not in HELD_AT_PLANT:
                    self.to_cold_store(key, days_ago)

    def ship(self, days_ago, to, to_site, lots) -> tuple[str, list[Line]]:
        bol = self.number("BOL-GVF-", 88100)
        lines = [self.take(key, quantity) for key, quantity in lots]
        services.shipment_create(
            acting_user=self.staff,
            lots=lines,
            from_site=self.sites["gvf-warehouse"],
            to_party=self.parties[to],
            to_site=self.sites[to_site],
            shipped_at=self.at(days_ago, 14),
            document_type=TraceEvent.DocumentType.BILL_OF_LADING,
            document_number=bol,
            notes=CARRIER_NOTE,
        )
        return bol, lines

    def partner_receipt(self, days_ago, party, site, shipment):
        """Record the receipt a distributor reported for one of our shipments."""
        bol, lines = shipment
        services.event_record(
            event_type=TraceEvent.Type.RECEIVE,
            acting_user=self.staff,
            subjects=lines,
            occurred_at=self.at(days_ago, 5, 45),
            site=self.sites[site],
            source_party=self.parties["greenvale"],
            source_site=self.sites["gvf-warehouse"],
            destination_party=self.parties[party],
            destination_site=self.sites[site],
            document_type=TraceEvent.DocumentType.RECEIVING_ADVICE,
            document_number=self.number(f"{self.sites[site].code}-GR-", 5000),
            notes=f"Receipt of {bol} reported by {self.parties[party].name}.",
        )

    def onward(self, days_ago, party, site, to, to_site, lots):
        """Record a shipment a distributor made to its customer, from its traceability report."""
        services.event_record(
            event_type=TraceEvent.Type.SHIP,
            acting_user=self.staff,
            subjects=[Line(self.lots[key], Decimal(quantity)) for key, quantity in lots],
            occurred_at=self.at(days_ago, 9, 30),
            site=self.sites[site],
            source_party=self.parties[party],
            source_site=self.sites[site],
            destination_party=self.parties[to],
            destination_site=self.sites[to_site],
            document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
            document_number=self.number(f"{self.sites[site].code}-DN-", 31000),
            notes=f"Reported by {self.parties[party].name} in its weekly traceability file.",
        )

    def _food_distribution(self):
        ns, ns_dc = "northstar", "northstar-dc"
        pc, pc_dc = "pacificcrest", "pacificcrest-dc"

        shipment = self.ship(108, ns, ns_dc, [("mq1", 600)])
        self.partner_receipt(107, ns, ns_dc, shipment)
        self.onward(104, ns, ns_dc, "maple", "maple-midtown", [("mq1", 96)])
        self.onward(103, ns, ns_dc, "bayside", "bayside-kitchen", [("mq1", 24)])
        shipment = self.ship(101, pc, pc_dc, [("mq1", 500)])
        self.partner_receipt(100, pc, pc_dc, shipment)
        self.onward(97, pc, pc_dc, "freshway", "freshway-elm", [("mq1", 120)])
        self.onward(97, pc, pc_dc, "freshway", "freshway-oak", [("mq1", 120)])

        shipment = self.ship(43, ns, ns_dc, [("mq2", 480)])
        self.partner_receipt(42, ns, ns_dc, shipment)
        self.onward(40, ns, ns_dc, "maple", "maple-riverside", [("mq2", 96)])
        shipment = self.ship(38, pc, pc_dc, [("mq2", 480)])
        self.partner_receipt(37, pc, pc_dc, shipment)
        self.onward(35, pc, pc_dc, "freshway", "freshway-oak", [("mq2", 144)])

        shipment = self.ship(24, ns, ns_dc, [("ql1", 300)])
        self.partner_receipt(23, ns, ns_dc, shipment)
        self.onward(23, ns, ns_dc, "bayside", "bayside-kitchen", [("ql1", 40)])
        self.onward(23, ns, ns_dc, "maple", "maple-midtown", [("ql1", 120)])

        shipment = self.ship(10, ns, ns_dc, [("ql2", 240), ("qs2", 180)])
        self.partner_receipt(9, ns, ns_dc, shipment)
        self.onward(8, ns, ns_dc, "maple", "maple-midtown", [("ql2", 96), ("qs2", 60)])
        self.onward(8, ns, ns_dc, "maple", "maple-riverside", [("ql2", 96)])
        shipment = self.ship(10, pc, pc_dc, [("ql2", 200), ("qs2", 150)])
        self.partner_receipt(9, pc, pc_dc, shipment)
        self.onward(8, pc, pc_dc, "freshway", "freshway-elm", [("ql2", 100)])
        self.onward(7, pc, pc_dc, "freshway", "freshway-oak", [("qs2", 72)])

        shipment = self.ship(8, ns, ns_dc, [("sk1", 200), ("rk1", 200)])
        self.partner_receipt(7, ns, ns_dc, shipment)
        self.onward(7, ns, ns_dc, "bayside", "bayside-kitchen", [("sk1", 24)])
        self.onward(7, ns, ns_dc, "maple", "maple-midtown", [("sk1", 60), ("rk1", 60)])
        shipment = self.ship(8, pc, pc_dc, [("sk1", 180), ("rk1", 150)])
        self.partner_receipt(7, pc, pc_dc, shipment)
        self.onward(6, pc, pc_dc, "freshway", "freshway-elm", [("sk1", 90), ("rk1", 75)])

        shipment = self.ship(3, pc, pc_dc, [("ql3", 240)])
        self.partner_receipt(2, pc, pc_dc, shipment)
        self.onward(1, pc, pc_dc, "freshway", "freshway-elm", [("ql3", 120)])

        shipment = self.ship(2, ns, ns_dc, [("sk2", 200), ("rk2", 150)])
        self.partner_receipt(1, ns, ns_dc, shipment)
        self.onward(1, ns, ns_dc, "maple", "maple-riverside", [("sk2", 48), ("rk2", 48)])
        # Pacific Crest has not reported its receipt of this one yet.
        self.ship(2, pc, pc_dc, [("sk2", 150), ("rk2", 150)])

    def _food_quality(self):
        services.item_change_status(
            item=self.lots["qs3"],
            status=Lot.Status.ON_HOLD,
            reason=(
                "The metal detector on line 2 rejected three quiches during the run; "
                "lot held until retained samples have been X-rayed."
            ),
            occurred_at=self.at(4, 13, 30),
            acting_user=self.manager,
        )
        services.item_change_status(
            item=self.lots["sp3"],
            status=Lot.Status.QUARANTINED,
            reason=(
                "Coastal Valley Greens reported a Listeria monocytogenes positive in an "
                "environmental swab at their packing house on the harvest date; quarantined "
                "until their lot test results arrive."
            ),
            occurred_at=self.at(2, 10, 15),
            acting_user=self.manager,
        )

    # --- Electronics: Lumen Field Instruments ------------------------------------------------

    def packs(self, days_ago, count, cell_lots) -> list[SerialUnit]:
        """Build battery packs, four cells each, taking cells from the lots in order."""
        order = self.number("PRD-", 20400)
        week = self.week_code(days_ago)
        start = self.at(days_ago, 8)
        built = []
        for n in range(1, count + 1):
            when = start + timedelta(minutes=9 * n)
            lines, needed = [], Decimal(CELLS_PER_PACK)
            for key in cell_lots:
                drawn = min(needed, self.left[key])
                if drawn:
                    lines.append(self.use(key, drawn, when, order))
                    needed -= drawn
            built.append(
                services.serial_unit_create(
                    acting_user=self.staff,
                    product=self.products["BAT-HX2"],
                    serial=f"BP-{week}-{n:04d}",
                    produced_on=self.day(days_ago),
                    site=self.sites["lfi-plant"],
                    inputs=lines,
                    occurred_at=when,
                    document_type=TraceEvent.DocumentType.PRODUCTION_ORDER,
                    document_number=order,
                )
            )
        return built

    def devices(self, key, days_ago, packs, board_lot) -> list[SerialUnit]:
        """Build a production lot of terminals, each with one main board and one pack."""
        order = self.number("PRD-", 20400)
        week = self.week_code(days_ago)
        device = self.products["DEV-HX2"]
        lot = self._add_lot(
            key,
            services.lot_create(
                acting_user=self.staff,
                product=device,
                code=f"HX2-{week}",
                quantity=Decimal(len(packs)),
                produced_on=self.day(days_ago),
                site=self.sites["lfi-plant"],
                occurred_at=self.at(days_ago, 7),
                document_type=TraceEvent.DocumentType.PRODUCTION_ORDER,
                document_number=order,
            ),
        )
        start = self.at(days_ago, 8)
        built = []
        for n, pack in enumerate(packs, start=1):
            when = start + timedelta(minutes=12 * n)
            unit = services.serial_unit_create(
                acting_user=self.staff,
                product=device,
                serial=f"HX2-{week}-{n:04d}",
                lot=lot,
                produced_on=self.day(days_ago),
                site=self.sites["lfi-plant"],
                inputs=[self.use(board_lot, 1, when, order)],
                occurred_at=when,
                document_type=TraceEvent.DocumentType.PRODUCTION_ORDER,
                document_number=order,
            )
            services.serial_unit_install(
                component=pack,
                assembly=unit,
                acting_user=self.staff,
                occurred_at=when + timedelta(minutes=6),
            )
            built.append(unit)
        return built

    def ship_units(self, days_ago, units, to, to_site, notes=""):
        services.shipment_create(
            acting_user=self.staff,
            serial_units=units,
            from_site=self.sites["lfi-plant"],
            to_party=self.parties[to] if to else None,
            to_site=self.sites[to_site],
            shipped_at=self.at(days_ago, 15),
            document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
            document_number=self.number("DA-LFI-", 70300),
            notes=notes,
        )

    def return_unit(self, unit, days_ago, rma, customer, status, reason):
        """Receive a unit back at the service centre under an RMA and set its status."""
        service_centre = self.sites["lfi-service"]
        services.event_record(
            event_type=TraceEvent.Type.RETURN,
            acting_user=self.staff,
            subjects=[Line(unit)],
            occurred_at=self.at(days_ago, 10),
            site=service_centre,
            source_party=self.parties[customer],
            destination_party=self.parties["lumen"],
            destination_site=service_centre,
            document_type=TraceEvent.DocumentType.RETURN_AUTHORISATION,
            document_number=rma,
        )
        services.record_update(
            instance=_fresh(unit),
            acting_user=self.staff,
            reason=f"Received under {rma}",
            holder_site=service_centre,
            holder_party=None,
        )
        return services.item_change_status(
            item=_fresh(unit),
            status=status,
            reason=reason,
            occurred_at=self.at(days_ago, 10, 20),
            acting_user=self.staff,
        )

    def _electronics(self):
        plant = "lfi-plant"
        self.receive(
            "ce1",
            "CELL-21700",
            "kaiyuan",
            120,
            98,
            "KY21700-2411-A07",
            site=plant,
            notes="100 cells received; 2 rejected at incoming inspection (low OCV).",
        )
        self.receive("pb1", "PCB-HX2", "circuitworks", 100, 30, "CW-HX2-2403-118", site=plant)
        self.receive("ce2", "CELL-21700", "kaiyuan", 75, 200, "KY21700-2501-B12", site=plant)
        self.receive("pb2", "PCB-HX2", "circuitworks", 62, 30, "CW-HX2-2405-131", site=plant)
        self.receive("ce3", "CELL-21700", "kaiyuan", 40, 200, "KY21700-2502-A03", site=plant)

        first = self.devices("hx2-1", 90, self.packs(92, 24, ["ce1"]), "pb1")
        # The first pack of this batch takes the last two cells of ce1 and two of ce2.
        second = self.devices("hx2-2", 55, self.packs(57, 24, ["ce1", "ce2"]), "pb2")
        spares = self.packs(35, 8, ["ce3"])
        self._electronics_shipments(first, second, spares)
        self._electronics_service(first, second, spares)

    def _electronics_shipments(self, first, second, spares):
        self.ship_units(85, first[:10], "tristate", "tristate-dc")
        services.event_record(
            event_type=TraceEvent.Type.SHIP,
            acting_user=self.staff,
            subjects=[Line(unit) for unit in first[:4]],
            occurred_at=self.at(78, 11),
            site=self.sites["tristate-dc"],
            source_party=self.parties["tristate"],
            source_site=self.sites["tristate-dc"],
            destination_party=self.parties["mesa"],
            destination_site=self.sites["mesa-depot"],
            document_type=TraceEvent.DocumentType.DESPATCH_ADVICE,
            document_number="TTD-DN-118204",
            notes="Reported by Tristate Technology Distribution with its monthly serial report.",
        )
        self.ship_units(80, first[10:18], "harbor", "harbor-warehouse")
        self.ship_units(70, first[18:], "riverbend", "riverbend-hospital")
        self.ship_units(50, second[:8], "tristate", "tristate-dc")
        self.ship_units(45, second[8:16], "cascade", "cascade-hub")
        self.ship_units(33, spares, None, "lfi-service", notes="Spare packs for repairs.")
        self.ship_units(30, second[16:20], "summit", "summit-warehouse")
        # The last four of the second lot stay in stock; one becomes an advance replacement.

    def _electronics_service(self, first, second, spares):
        # RMA-24017: a pack that no longer holds its charge. The customer gets an advance
        # replacement; the repaired unit goes back to refurbished stock.
        failed = first[10]
        self.ship_units(
            22,
            [second[20]],
            "harbor",
            "harbor-warehouse",
            notes=f"Advance replacement for {failed.serial} under RMA-24017.",
        )
        self.return_unit(
            failed,
            21,
            "RMA-24017",
            "harbor",
            SerialUnit.Status.IN_REPAIR,
            "Pack does not hold a charge; returned under RMA-24017.",
        )
        old_pack = SerialUnit.objects.get(installed_in=failed)
        services.service_record_create(
            serial_unit=_fresh(failed),
            kind=ServiceRecord.Kind.REPAIR,
            performed_on=self.day(18),
            description=(
                "Battery pack would not charge past 40 %; cell group B measured 0.4 V. "
                "Replaced the pack; charge and drop tests passed."
            ),
            technician="Luis Ortega",
            outcome=ServiceRecord.Outcome.REPAIRED,
            parts_removed=[old_pack],
            parts_fitted=[_fresh(spares[0])],
            acting_user=self.staff,
        )
        services.item_change_status(
            item=_fresh(old_pack),
            status=SerialUnit.Status.QUARANTINED,
            reason="Removed under RMA-24017; held for failure analysis with Kaiyuan.",
            occurred_at=self.at(18, 15),
            acting_user=self.manager,
        )
        services.item_change_status(
            item=_fresh(failed),
            status=SerialUnit.Status.IN_STOCK,
            reason="Repaired under RMA-24017; back to refurbished stock.",
            occurred_at=self.at(17, 9),
            acting_user=self.staff,
        )

        services.service_record_create(
            serial_unit=_fresh(first[18]),
            kind=ServiceRecord.Kind.INSPECTION,
            performed_on=self.day(15),
            description="Annual electrical safety test (IEC 62353) on site; battery health 96 %.",
            technician="Luis Ortega",
            outcome=ServiceRecord.Outcome.PASSED,
            acting_user=self.staff,
        )

        returned = first[19]
        self.return_unit(
            returned,
            10,
            "RMA-24031",
            "riverbend",
            SerialUnit.Status.RETURNED,
            "Surplus to the hospital's needs; return accepted under RMA-24031.",
        )
        services.service_record_create(
            serial_unit=_fresh(returned),
            kind=ServiceRecord.Kind.INSPECTION,
            performed_on=self.day(8),
            description="Incoming inspection of the returned unit: housing, display and "
            "scanner fine, battery health 98 %.",
            technician="Luis Ortega",
            outcome=ServiceRecord.Outcome.PASSED,
            acting_user=self.staff,
        )

        self._warranty_claims(second)
        self._owners(first)

        cracked = second[11]
        self.return_unit(
            cracked,
            5,
            "RMA-24044",
            "cascade",
            SerialUnit.Status.IN_REPAIR,
            "Cracked display after a drop; returned under RMA-24044.",
        )
        services.service_record_create(
            serial_unit=_fresh(cracked),
            kind=ServiceRecord.Kind.REPAIR,
            performed_on=self.day(3),
            description="Display glass cracked, touch still works. Display assembly on order.",
            technician="Luis Ortega",
            acting_user=self.staff,
        )

    def _warranty_claims(self, second):
        # One claim waits for a manager's decision on the dashboard.
        services.warranty_claim_open(
            serial_unit=_fresh(second[8]),
            fault="Customer reports the unit shuts down at 30 % charge in the cold store (-10 °C).",
            reported_on=self.day(6),
            acting_user=self.staff,
        )
        # Another was approved and a unit from stock sent in its place; the faulty one is
        # still with the customer, who will send it back for failure analysis.
        claim = services.warranty_claim_open(
            serial_unit=_fresh(second[12]),
            fault="Scanner window cracked from the inside; no drop reported. Scanner dead.",
            reported_on=self.day(12),
            acting_user=self.staff,
        )
        claim = services.warranty_claim_decide(
            claim=claim,
            approve=True,
            reason="Within warranty; an internal crack points to a moulding fault.",
            acting_user=self.manager,
        )
        services.warranty_claim_replace(
            claim=claim, replacement=_fresh(second[23]), acting_user=self.manager
        )

    def _owners(self, first):
        # Hospital units are registered to the wards that use them; one changed hands, and
        # only one ward agreed to be contacted about safety notices.
        services.unit_owner_register(
            serial_unit=_fresh(first[18]),
            owner_name="Riverbend Hospital, cardiology ward",
            started_on=self.day(60),
            consent=True,
            email="cardiology.biomed@riverbend.example",
            acting_user=self.staff,
        )
        services.unit_owner_register(
            serial_unit=_fresh(first[19]),
            owner_name="Riverbend Hospital, emergency department",
            started_on=self.day(60),
            acting_user=self.staff,
        )
        services.unit_owner_transfer(
            serial_unit=_fresh(first[19]),
            owner_name="Riverbend Hospital, intensive care",
            transferred_on=self.day(20),
            acting_user=self.staff,
        )

    # --- Closing the books ---------------------------------------------------------------------

    def _mark_used_up_lots_consumed(self):
        used_up = sorted(
            (when, order, key) for key, (when, order) in self.last_use.items() if not self.left[key]
        )
        for when, order, key in used_up:
            services.item_change_status(
                item=self.lots[key],
                status=Lot.Status.CONSUMED,
                reason=f"Used up by production order {order}.",
                occurred_at=when + timedelta(minutes=30),
                acting_user=self.staff,
            )

    # --- Quality control: specifications and release -----------------------------------------

    def _quality_release(self):
        """Grated Gruyère requires release: specification v1, then v2 with a tighter pH; one lot
        released with a signature on a supplier's certificate and our own Listeria test, one
        quarantined awaiting its Listeria test, one with a failed moisture test excused by an
        approved deviation (ready to sign)."""
        dairy, plant = self.parties["clearbrook"], self.sites["gvf-plant"]
        product = services.product_create(
            acting_user=self.admin,
            sku="ING-GRUYERE",
            name="Gruyère cheese, grated, 10 kg bag",
            unit=Unit.KILOGRAM,
            gtin=gtin14("9521103", "30110"),
            shelf_life_days=90,
            requires_release=True,
        )
        tests = [
            {"name": "Listeria monocytogenes", "method": "ISO 11290-1", "order": 1,
             "expected_text": "not detected in 25 g"},
            {"name": "pH", "method": "ISO 2917", "unit": "pH", "order": 2,
             "lower_limit": Decimal("5.2"), "upper_limit": Decimal("5.9")},
            {"name": "Moisture", "method": "ISO 5534", "unit": "%", "order": 3,
             "upper_limit": Decimal("39")},
            {"name": "Salt", "method": "ISO 5943", "unit": "%", "order": 4, "required": False,
             "lower_limit": Decimal("1.0"), "upper_limit": Decimal("2.0")},
        ]  # fmt: skip
        v1 = quality.specification_create(
            product=product, effective_from=self.day(200), tests=tests, acting_user=self.manager
        )
        quality.specification_approve(specification=v1, acting_user=self.manager)
        v2 = quality.specification_copy_forward(
            specification=v1,
            effective_from=self.day(60),
            notes="pH upper limit tightened after the supplier audit.",
            acting_user=self.manager,
        )
        quality.specification_test_update(
            test=v2.tests.get(name="pH"), upper_limit=Decimal("5.8"), acting_user=self.manager
        )
        quality.specification_approve(specification=v2, acting_user=self.manager)

        def receive(days_ago, code, certificate_number):
            return services.lot_create(
                product=product,
                code=code,
                quantity=Decimal(200),
                supplier=dairy,
                supplier_lot_code=certificate_number.replace("COA", "CB-GR"),
                site=plant,
                produced_on=self.day(days_ago),
                occurred_at=self.at(days_ago, 7, 30),
                document_type=TraceEvent.DocumentType.PURCHASE_ORDER,
                document_number=self.number("PO-", 4500001200),
                acting_user=self.staff,
            )

        def test(lot, name, days_ago, **fields):
            spec = quality_selectors.lot_quality(lot).specification
            fields.setdefault("unit", spec.tests.get(name=name).unit if "value" in fields else "")
            return quality.test_result_record(
                lot=lot,
                specification_test=spec.tests.get(name=name),
                tested_at=self.at(days_ago, 14),
                acting_user=self.staff,
                **fields,
            )

        # Released: the supplier's certificate, then our own Listeria test, signed.
        released = receive(40, "GR-0412", "COA-24-0412")
        certificate = quality.certificate_upload(
            supplier=dairy,
            number="COA-24-0412",
            issued_on=self.day(41),
            file=ContentFile(_demo_pdf("Clearbrook Dairy Cooperative, CoA COA-24-0412"),
                             name="COA-24-0412.pdf"),
            acting_user=self.staff,
        )  # fmt: skip
        coa = {"source": "certificate", "certificate": certificate, "lab": "Clearbrook QC lab"}
        test(released, "pH", 41, value=Decimal("5.55"), **coa)
        test(released, "Moisture", 41, value=Decimal("36.8"), **coa)
        test(released, "Salt", 41, value=Decimal("1.6"), **coa)
        test(released, "Listeria monocytogenes", 38, text="not detected in 25 g",
             lab="Greenvale microbiology lab")  # fmt: skip
        quality.lot_release_sign(
            lot=released,
            password=DEMO_PASSWORD,
            statement="Certificate COA-24-0412 and our Listeria test meet specification v2.",
            acting_user=self.manager,
        )
        # Awaiting its Listeria test.
        awaiting = receive(6, "GR-0467", "COA-24-0467")
        test(awaiting, "pH", 5, value=Decimal("5.61"), lab="Greenvale QC lab")
        test(awaiting, "Moisture", 5, value=Decimal("37.9"), lab="Greenvale QC lab")
        # Moisture failed; a deviation was asked for and approved, so it may be released.
        excused = receive(20, "GR-0449", "COA-24-0449")
        test(excused, "pH", 19, value=Decimal("5.48"), lab="Greenvale QC lab")
        test(excused, "Moisture", 19, value=Decimal("39.4"), lab="Greenvale QC lab")
        test(excused, "Listeria monocytogenes", 17, text="not detected in 25 g",
             lab="Greenvale microbiology lab")  # fmt: skip
        deviation = quality.test_deviation_request(
            lot=excused,
            specification_test=v2.tests.get(name="Moisture"),
            description="Moisture 39.4 %, 0.4 points above the limit of 39 %.",
            acting_user=self.staff,
        )
        services.deviation_decide(
            deviation=deviation,
            approve=True,
            justification="Used in baked fillings only, where the extra moisture is baked off; "
            "agreed with the supplier's corrective action CA-118.",
            acting_user=self.manager,
        )

    # --- Quality control: process conditions --------------------------------------------------

    def _event_of(self, key: str, event_type: str, **event_filters) -> TraceEvent:
        """The (first) event of a type naming one of the demo's lots."""
        line = (
            EventLine.objects.filter(
                item_id=self.lots[key].pk, event_type=event_type, **event_filters
            )
            .select_related("event")
            .order_by("event__occurred_at", "pk")
            .first()
        )
        return line.event

    def _food_conditions(self):
        """Limits on the salad kits (cold chain) and the Lorraine filling (pasteurisation); a
        shipment whose logger went above 5 °C, raising a deviation on each of its lots, and
        pasteurisation and cold-chain readings within their limits."""
        cold_chain = ["ship", "transfer", "receive"]
        for sku in ("FG-KIT-SPF", "FG-KIT-ROM", "FG-QUICHE-LOR", "FG-QUICHE-SPF"):
            services.record_create(
                instance=ConditionLimit(
                    product=self.products[sku],
                    name="Cold chain",
                    measurement_type=MeasurementType.TEMPERATURE,
                    unit="CEL",
                    lower=Decimal(0),
                    upper=Decimal(5),
                    event_types=cold_chain,
                ),
                acting_user=self.manager,
            )
        for name, kind, unit, lower in (
            ("Pasteurisation temperature", MeasurementType.TEMPERATURE, "CEL", 72),
            ("Pasteurisation hold", MeasurementType.TIME, "SEC", 15),
        ):
            services.record_create(
                instance=ConditionLimit(
                    product=self.products["WIP-FILL-LOR"],
                    name=name,
                    measurement_type=kind,
                    unit=unit,
                    lower=Decimal(lower),
                    event_types=["transform"],
                ),
                acting_user=self.manager,
            )
        pasteurised = self._event_of("lf-q3", TraceEvent.Type.TRANSFORM, role="output")
        conditions.measurements_record(
            event=pasteurised,
            readings=[
                Reading(
                    measurement_type=MeasurementType.TEMPERATURE,
                    unit="CEL",
                    value=Decimal("73.4"),
                    measured_at=pasteurised.occurred_at - timedelta(minutes=20),
                    device_id="PAST-1 probe",
                ),
                Reading(
                    measurement_type=MeasurementType.TIME,
                    unit="SEC",
                    value=Decimal(17),
                    measured_at=pasteurised.occurred_at - timedelta(minutes=20),
                    device_id="PAST-1 probe",
                ),
            ],
            acting_user=self.staff,
        )
        northstar = self.parties["northstar"]
        for key, days_ago, reading in (
            ("ql3", 3, Reading(MeasurementType.TEMPERATURE, "CEL", max_value=Decimal("3.8"))),
            (
                "sk2",
                2,
                Reading(
                    MeasurementType.TEMPERATURE,
                    "CEL",
                    min_value=Decimal("2.9"),
                    max_value=Decimal("8.4"),
                    mean_value=Decimal("4.6"),
                ),
            ),
        ):
            event = self._event_of(
                key,
                TraceEvent.Type.SHIP,
                event__occurred_at__gte=self.at(days_ago, 0),
                **({"event__destination_party": northstar} if key == "sk2" else {}),
            )
            reading.measured_at = event.occurred_at + timedelta(hours=14)
            reading.device_id = "urn:epc:id:giai:0614141.TL-0047"
            conditions.measurements_record(event=event, readings=[reading], acting_user=self.staff)


def _demo_pdf(text: str) -> bytes:
    """A one-page PDF saying `text`, as a supplier's certificate on file (built by hand, so the
    demo needs no PDF library)."""
    stream = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body
