"""A synthetic multi-tier supply chain for benchmarks, written in bulk (COPY on PostgreSQL).

The data set is made of independent clusters (a plant's year, say). Each cluster has raw lots
received from suppliers, eight levels of transformations with fan-in (every lot is made from
three lots of the level below, chosen at random, so every input also fans out to about three
outputs), serialised modules built in the top-level lots, devices with two modules installed
each, and shipments of devices to distributors and onward to retailers. A forward trace from a
low-level lot therefore grows about threefold per level until it saturates its cluster, and its
size does not depend on the scale, which only adds clusters: the trace benchmark can measure
the same root on 10x more data.

At scale 1: 22 clusters, 202,400 lots, 204,600 serial units, 1,084,600 trace events.
Generated rows bypass the services and the audit trail on purpose: they are benchmark data.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection, transaction

from .models import (
    EventLine,
    Genealogy,
    Item,
    Lot,
    Party,
    Product,
    SerialUnit,
    Site,
    TraceEvent,
)

# The columns of the rows the generator writes, in their order (benchmarks write such rows too).
LOT_COLUMNS = [
    "item_id",
    "product_id",
    "created_at",
    "code",
    "produced_on",
    "expires_on",
    "supplier_id",
    "supplier_lot_code",
    "site_id",
    "quantity",
    "unit",
    "status",
]
UNIT_COLUMNS = [
    "item_id",
    "product_id",
    "created_at",
    "serial",
    "lot_id",
    "produced_on",
    "status",
    "holder_site_id",
    "holder_party_id",
    "shipped_on",
    "warranty_ends_on",
    "warranty_overridden",
    "installed_in_id",
]
EVENT_COLUMNS = [
    "id",
    "event_id",
    "event_type",
    "occurred_at",
    "time_zone_offset",
    "recorded_at",
    "biz_step",
    "disposition",
    "site_id",
    "source_party_id",
    "destination_party_id",
    "document_type",
    "document_number",
    "notes",
    "extra",
]
LINE_COLUMNS = ["id", "event_id", "event_type", "item_id", "role", "quantity", "unit"]
LINK_COLUMNS = ["id", "parent_id", "child_id", "kind", "quantity", "unit", "event_id"]

CLUSTERS_AT_SCALE_1 = 22
RAW_LOTS = 1200
LEVELS = 8
LOTS_PER_LEVEL = 1000
FAN_IN = 3
MODULES_PER_LOT = 6.2
DEVICES = 3100
MODULES_PER_DEVICE = 2
SUPPLIERS, DISTRIBUTORS, RETAILERS = 25, 50, 1000  # per cluster
PREFIX = "GEN"


@dataclass
class Counters:
    item: int
    event: int
    line: int
    link: int


def _gtin(n: int) -> str:
    body = f"0871000{n:06d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _gln(n: int) -> str:
    body = f"871000{n:06d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


class BulkWriter:
    """Write rows straight into tables: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    def _value(self, value):
        if self.postgres or value is None:
            return value
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, bool):
            return int(value)
        return value

    def write(self, model, columns, rows):
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.postgres:
                raw = cursor.cursor
                with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                batch = []
                for row in rows:
                    batch.append([self._value(v) for v in row])
                    if len(batch) >= 5000:
                        cursor.executemany(sql, batch)
                        batch = []
                if batch:
                    cursor.executemany(sql, batch)


def _next_id(model) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def generate(*, scale: float, seed: int = 2026, stdout=None) -> dict:
    """Add the generated clusters (idempotent: clusters already present are skipped)."""
    clusters = max(1, round(CLUSTERS_AT_SCALE_1 * scale))
    writer = BulkWriter()
    totals = {"clusters": 0, "lots": 0, "serial_units": 0, "events": 0}
    with transaction.atomic():
        products = _products()
        counters = Counters(
            item=_next_id(Item),
            event=_next_id(TraceEvent),
            line=_next_id(EventLine),
            link=_next_id(Genealogy),
        )
        for cluster in range(clusters):
            if Site.objects.filter(code=f"{PREFIX.lower()}-plant-{cluster}").exists():
                continue
            made = _cluster(cluster, products, counters, writer, random.Random(seed + cluster))
            for key, value in made.items():
                totals[key] += value
            totals["clusters"] += 1
            if stdout is not None:
                stdout.write(f"cluster {cluster + 1}/{clusters}: {made}")
        if writer.postgres:
            with connection.cursor() as cursor:
                models = [Item, TraceEvent, EventLine, Genealogy, Party, Site, Product]
                for statement in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(statement)
    return totals


def _products() -> dict:
    """One product per level, plus the serialised module and device."""
    wanted = [
        (f"{PREFIX}-RAW", "Raw material", Product.Tracking.LOT, "KGM"),
        *(
            (f"{PREFIX}-L{level}", f"Intermediate, level {level}", Product.Tracking.LOT, "KGM")
            for level in range(1, LEVELS)
        ),
        (f"{PREFIX}-MODULE", "Module", Product.Tracking.SERIAL, "EA"),
        (f"{PREFIX}-DEVICE", "Device", Product.Tracking.SERIAL, "EA"),
    ]
    existing = {p.sku: p for p in Product.objects.filter(sku__startswith=f"{PREFIX}-")}
    missing = [
        Product(
            sku=sku,
            name=name,
            gtin=_gtin(index + 1),
            tracking=tracking,
            unit=unit,
            shelf_life_days=365 if tracking == Product.Tracking.LOT else None,
            warranty_months=24 if tracking == Product.Tracking.SERIAL else None,
        )
        for index, (sku, name, tracking, unit) in enumerate(wanted)
        if sku not in existing
    ]
    Product.objects.bulk_create(missing)
    existing.update({p.sku: p for p in Product.objects.filter(sku__startswith=f"{PREFIX}-")})
    return existing


def _cluster(cluster, products, counters, writer, rng) -> dict:
    ours = Party.objects.create(name=f"Generated Plant {cluster}", is_internal=True)
    plant = Site.objects.create(
        code=f"{PREFIX.lower()}-plant-{cluster}", name=f"Plant {cluster}", party=ours
    )
    base = 1000 * cluster
    suppliers = Party.objects.bulk_create(
        Party(name=f"Supplier {cluster}-{n}", is_supplier=True, gln=_gln(base + n))
        for n in range(SUPPLIERS)
    )
    distributors = Party.objects.bulk_create(
        Party(name=f"Distributor {cluster}-{n}", is_customer=True) for n in range(DISTRIBUTORS)
    )
    retailers = Party.objects.bulk_create(
        Party(name=f"Retailer {cluster}-{n}", is_customer=True) for n in range(RETAILERS)
    )

    start = datetime(2025, 1, 1, 6, tzinfo=UTC) + timedelta(days=14 * cluster)
    items, lots, events, lines, links = [], [], [], [], []

    def new_item(kind):
        items.append((counters.item, kind))
        counters.item += 1
        return counters.item - 1

    event_types = {}

    def new_event(event_type, when, **fields):
        pk = counters.event
        event_types[pk] = event_type
        counters.event += 1
        events.append(
            (
                pk,
                f"urn:uuid:{uuid.UUID(int=pk)}",
                event_type,
                when,
                "+00:00",
                when,
                fields.get("biz_step", ""),
                fields.get("disposition", ""),
                plant.pk,
                fields.get("source_party"),
                fields.get("destination_party"),
                fields.get("document_type", ""),
                fields.get("document_number", ""),
                "",
                "{}",
            )
        )
        return pk

    def new_line(event, item, role, quantity=None, unit=""):
        lines.append((counters.line, event, event_types[event], item, role, quantity, unit))
        counters.line += 1

    def new_lot(product, code, when, quantity, supplier=None, supplier_code=""):
        item = new_item(Item.Kind.LOT)
        status = Lot.Status.ON_HOLD if rng.random() < 0.002 else Lot.Status.RELEASED
        lots.append(
            (
                item,
                product.pk,
                when,
                code,
                when.date(),
                when.date() + timedelta(days=product.shelf_life_days or 730),
                supplier,
                supplier_code,
                plant.pk,
                quantity,
                product.unit,
                status,
            )
        )
        return item

    def qc_and_move(item, when, quantity, unit):
        inspect = new_event("inspect", when + timedelta(hours=2), biz_step="inspecting")
        new_line(inspect, item, "subject")
        move = new_event("transfer", when + timedelta(hours=4), biz_step="departing")
        new_line(move, item, "subject", quantity, unit)

    # Level 0: raw lots received from suppliers.
    previous = []
    raw = products[f"{PREFIX}-RAW"]
    for n in range(RAW_LOTS):
        when = start + timedelta(minutes=7 * n)
        supplier = suppliers[n % SUPPLIERS]
        item = new_lot(raw, f"R{cluster}-{n}", when, Decimal(1000), supplier.pk, f"S{base + n}")
        event = new_event(
            "receive",
            when,
            biz_step="receiving",
            source_party=supplier.pk,
            document_type="po",
            document_number=f"PO-{cluster}-{n}",
        )
        new_line(event, item, "subject", Decimal(1000), "KGM")
        qc_and_move(item, when, Decimal(1000), "KGM")
        previous.append(item)

    # Levels 1..8: each lot made from FAN_IN lots of the level below.
    for level in range(1, LEVELS + 1):
        product = products[f"{PREFIX}-L{level}" if level < LEVELS else f"{PREFIX}-MODULE"]
        current = []
        for n in range(LOTS_PER_LEVEL):
            when = start + timedelta(days=level, minutes=9 * n)
            quantity = Decimal(500) if level < LEVELS else Decimal(6)
            item = new_lot(product, f"L{level}-{cluster}-{n}", when, quantity)
            event = new_event(
                "transform",
                when,
                biz_step="transforming",
                document_type="prodorder",
                document_number=f"MO-{cluster}-{level}-{n}",
            )
            for parent in rng.sample(previous, FAN_IN):
                new_line(event, parent, "input", Decimal(100), "KGM")
                links.append(
                    (counters.link, parent, item, "transformation", Decimal(100), "KGM", event)
                )
                counters.link += 1
            new_line(event, item, "output", quantity, product.unit)
            qc_and_move(item, when, quantity, product.unit)
            current.append(item)
        previous = current

    # Serialised modules built in the top-level lots, then devices with modules installed.
    module_product, device_product = products[f"{PREFIX}-MODULE"], products[f"{PREFIX}-DEVICE"]
    modules = []
    module_count = round(MODULES_PER_LOT * LOTS_PER_LEVEL)
    for n in range(module_count):
        lot = previous[n % len(previous)]
        when = start + timedelta(days=LEVELS + 1, minutes=n)
        item = new_item(Item.Kind.SERIAL)
        modules.append([item, module_product.pk, when, f"M{cluster}-{n:06d}", lot, when.date()])
        event = new_event("produce", when, biz_step="commissioning", disposition="active")
        new_line(event, item, "subject")
        links.append((counters.link, lot, item, "production_lot", None, "", event))
        counters.link += 1
    devices = []
    for n in range(DEVICES):
        when = start + timedelta(days=LEVELS + 3, minutes=n)
        item = new_item(Item.Kind.SERIAL)
        event = new_event("produce", when, biz_step="commissioning", disposition="active")
        new_line(event, item, "subject")
        for module in modules[MODULES_PER_DEVICE * n : MODULES_PER_DEVICE * (n + 1)]:
            install = new_event("install", when + timedelta(minutes=1), biz_step="installing")
            new_line(install, item, "parent")
            new_line(install, module[0], "child")
            links.append((counters.link, module[0], item, "installation", None, "", install))
            counters.link += 1
            module.append(item)
        distributor = distributors[n % DISTRIBUTORS]
        retailer = retailers[rng.randrange(RETAILERS)]
        shipped = when + timedelta(days=2)
        ship = new_event(
            "ship",
            shipped,
            biz_step="shipping",
            disposition="in_transit",
            destination_party=distributor.pk,
            document_type="desadv",
            document_number=f"DN-{cluster}-{n}",
        )
        new_line(ship, item, "subject")
        onward = new_event(
            "ship",
            shipped + timedelta(days=3),
            biz_step="shipping",
            disposition="in_transit",
            source_party=distributor.pk,
            destination_party=retailer.pk,
            document_type="desadv",
            document_number=f"DN-{cluster}-{n}-R",
        )
        new_line(onward, item, "subject")
        devices.append(
            (
                item,
                device_product.pk,
                when,
                f"D{cluster}-{n:06d}",
                None,
                when.date(),
                "shipped",
                None,
                retailer.pk,
                shipped.date(),
                shipped.date() + timedelta(days=730),
                False,
                None,
            )
        )

    unit_rows = [
        (*module[:6], "installed", None, None, None, None, False, module[6])
        if len(module) > 6
        else (*module[:6], "in_stock", plant.pk, None, None, None, False, None)
        for module in modules
    ]
    writer.write(Item, ["id", "kind"], items)
    writer.write(Lot, LOT_COLUMNS, lots)
    writer.write(SerialUnit, UNIT_COLUMNS, devices)
    writer.write(SerialUnit, UNIT_COLUMNS, unit_rows)
    writer.write(TraceEvent, EVENT_COLUMNS, events)
    writer.write(EventLine, LINE_COLUMNS, lines)
    writer.write(Genealogy, LINK_COLUMNS, links)
    return {
        "lots": len(lots),
        "serial_units": len(devices) + len(unit_rows),
        "events": len(events),
    }
