"""Recall benchmark: opening a campaign whose scope reaches 100,000 serial units shipped to
5,000 consignees, and the campaign page's reads on it, on PostgreSQL.

    python benchmarks/recall_open.py                   # builds the data set if it is missing
    python benchmarks/recall_open.py --repeat 5 --scale 1 --read-repeat 31
    python benchmarks/recall_open.py --profile         # one run under cProfile, statements timed

The data set is `manage.py generate_dataset --scale SCALE` plus a battery maker's year written
here with COPY: a supplier's lot code received as two lots, cell lots made from them, pack lots
(production lots) made from the cells, and 100,000 serialised packs built in those lots; 85 %
shipped to 5,000 customers (two shipments each), some passed on by the first 250 customers to
others, 12 % in stock at the plant, 3 % scrapped. A scope of the supplier's lot code reaches
them all.

Each run opens the campaign inside a transaction, checks the deferred foreign keys as COMMIT
would (SET CONSTRAINTS ALL IMMEDIATE), and rolls back, so every run starts from the same state.
The page's reads are timed on an opened campaign in the same way, right after opening (which
analyzes the affected items itself when it adds many), and after an explicit ANALYZE (which
counts the transaction's own rows).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
PREFIX = "RB"
SUPPLIER_LOT = "RB-SUP-7731"
CUSTOMERS = 5000
PASSERS_ON = 250  # customers who pass some of their units on to other customers
PACK_LOTS = 100
UNITS_PER_LOT = 1000
CELL_LOTS = 20
USER = "rbench"
TOUCHED = [
    "recalls_affecteditem",
    "recalls_consigneenotice",
    "recalls_recallcampaign",
    "recalls_historicalrecallcampaign",
    "recalls_campaignevent",
    "recalls_recallsequence",
    "inventory_lot",
    "inventory_serialunit",
    "inventory_historicallot",
    "inventory_historicalserialunit",
    "inventory_statuschange",
    "inventory_traceevent",
    "inventory_eventline",
]


class Rollback(Exception):
    pass


def _setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()


def build(seed: int = 7731) -> dict:
    """Add the battery maker's year (once) to a generated data set."""
    _setup()
    from django.contrib.auth import get_user_model
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from inventory.dataset import (
        EVENT_COLUMNS,
        LINE_COLUMNS,
        LINK_COLUMNS,
        LOT_COLUMNS,
        UNIT_COLUMNS,
        BulkWriter,
    )
    from inventory.models import (
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

    rng = random.Random(seed)
    if Site.objects.filter(code=f"{PREFIX.lower()}-plant").exists():
        return {"built": False}
    writer = BulkWriter()
    with transaction.atomic():
        user_model = get_user_model()
        if not user_model.objects.filter(username=USER).exists():
            user_model.objects.create_superuser(USER, f"{USER}@example.com", USER)
        ours = Party.objects.create(name="RB Battery Plant", is_internal=True)
        plant = Site.objects.create(code=f"{PREFIX.lower()}-plant", name="RB plant", party=ours)
        supplier = Party.objects.create(name="RB Cathode Supplier", is_supplier=True)
        customers = Party.objects.bulk_create(
            Party(
                name=f"RB Customer {n:04d}",
                is_customer=True,
                email=f"recalls{n:04d}@customer.example",
            )
            for n in range(CUSTOMERS)
        )
        products = {
            sku: Product.objects.create(sku=sku, name=name, tracking=tracking, unit=unit)
            for sku, name, tracking, unit in (
                (f"{PREFIX}-CATHODE", "Cathode powder", Product.Tracking.LOT, "KGM"),
                (f"{PREFIX}-CELL", "Battery cells", Product.Tracking.LOT, "KGM"),
                (f"{PREFIX}-PACK", "Battery pack", Product.Tracking.SERIAL, "EA"),
            )
        }

        def next_id(model):
            last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
            return (last or 0) + 1

        ids = {model: next_id(model) for model in (Item, TraceEvent, EventLine, Genealogy)}
        items, lots, units, events, lines, links = [], [], [], [], [], []
        event_types = {}

        def take(model):
            ids[model] += 1
            return ids[model] - 1

        def new_event(event_type, when, source=None, destination=None, document=""):
            pk = take(TraceEvent)
            event_types[pk] = event_type
            events.append(
                (pk, f"urn:uuid:{uuid.UUID(int=pk)}", event_type, when, "+00:00", when, "", "",
                 plant.pk, source, destination, "desadv" if document else "", document, "", "{}")
            )  # fmt: skip
            return pk

        def new_line(event, item, role, quantity=None, unit=""):
            lines.append((take(EventLine), event, event_types[event], item, role, quantity, unit))

        def new_lot(product, code, when, quantity, supplier_code=""):
            item = take(Item)
            items.append((item, Item.Kind.LOT))
            lots.append(
                (item, product.pk, when, code, when.date(), when.date() + timedelta(days=730),
                 supplier.pk if supplier_code else None, supplier_code, plant.pk, quantity,
                 product.unit, Lot.Status.RELEASED)
            )  # fmt: skip
            return item

        start = datetime(2026, 2, 2, 6, tzinfo=UTC)
        cathode = []
        for n in range(2):
            when = start + timedelta(days=n)
            lot = new_lot(
                products[f"{PREFIX}-CATHODE"], f"C-{n}", when, Decimal(1000), SUPPLIER_LOT
            )
            event = new_event("receive", when, source=supplier.pk, document=f"ASN-{n}")
            new_line(event, lot, "subject", Decimal(1000), "KGM")
            cathode.append(lot)
        cells = []
        for n in range(CELL_LOTS):
            when = start + timedelta(days=3, hours=n)
            lot = new_lot(products[f"{PREFIX}-CELL"], f"CL-{n:03d}", when, Decimal(400))
            event = new_event("transform", when)
            for parent in cathode:
                new_line(event, parent, "input", Decimal(40), "KGM")
                links.append(
                    (take(Genealogy), parent, lot, "transformation", Decimal(40), "KGM", event)
                )
            new_line(event, lot, "output", Decimal(400), "KGM")
            cells.append(lot)
        pack = products[f"{PREFIX}-PACK"]
        serial_units = []
        for n in range(PACK_LOTS):
            when = start + timedelta(days=5 + n // 10, hours=n % 10)
            lot = new_lot(pack, f"PK-{n:03d}", when, Decimal(UNITS_PER_LOT))
            event = new_event("transform", when)
            for parent in rng.sample(cells, 2):
                new_line(event, parent, "input", Decimal(40), "KGM")
                links.append(
                    (take(Genealogy), parent, lot, "transformation", Decimal(40), "KGM", event)
                )
            new_line(event, lot, "output", Decimal(UNITS_PER_LOT), "EA")
            for u in range(UNITS_PER_LOT):
                item = take(Item)
                items.append((item, Item.Kind.SERIAL))
                made = when + timedelta(seconds=20 * u)
                produce = new_event("produce", made)
                new_line(produce, item, "subject")
                links.append((take(Genealogy), lot, item, "production_lot", None, "", produce))
                serial_units.append([item, made, f"P{n:03d}{u:04d}", lot])
        rng.shuffle(serial_units)
        shipped_count = round(0.85 * len(serial_units))
        scrapped_count = round(0.03 * len(serial_units))
        per_customer = shipped_count // CUSTOMERS
        holders = {}
        ship_day = start + timedelta(days=20)
        for c, customer in enumerate(customers):
            own = serial_units[c * per_customer : (c + 1) * per_customer]
            for s, shipment in enumerate((own[: per_customer // 2], own[per_customer // 2 :])):
                when = ship_day + timedelta(days=s * 7, minutes=c)
                event = new_event("ship", when, destination=customer.pk, document=f"DN-{c:04d}-{s}")
                for unit in shipment:
                    new_line(event, unit[0], "subject")
                    holders[unit[0]] = (customer.pk, when.date())
            if c < PASSERS_ON:
                onward = customers[rng.randrange(PASSERS_ON, CUSTOMERS)]
                when = ship_day + timedelta(days=20, minutes=c)
                event = new_event(
                    "ship", when, source=customer.pk, destination=onward.pk, document=f"RS-{c}"
                )
                for unit in own[:4]:
                    new_line(event, unit[0], "subject")
                    holders[unit[0]] = (onward.pk, when.date())
        for index, (item, made, serial, lot) in enumerate(serial_units):
            if item in holders:
                party, day = holders[item]
                status, site, shipped_on = "shipped", None, day
            else:
                party, shipped_on = None, None
                scrapped = index >= len(serial_units) - scrapped_count
                status, site = ("scrapped", None) if scrapped else ("in_stock", plant.pk)
            units.append(
                (item, pack.pk, made, serial, lot, made.date(), status, site, party, shipped_on,
                 shipped_on + timedelta(days=730) if shipped_on else None, False, None)
            )  # fmt: skip

        writer.write(Item, ["id", "kind"], items)
        writer.write(Lot, LOT_COLUMNS, lots)
        writer.write(SerialUnit, UNIT_COLUMNS, units)
        writer.write(TraceEvent, EVENT_COLUMNS, events)
        writer.write(EventLine, LINE_COLUMNS, lines)
        writer.write(Genealogy, LINK_COLUMNS, links)
        with connection.cursor() as cursor:
            models = [Item, TraceEvent, EventLine, Genealogy]
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)
    return {
        "built": True,
        "lots": len(lots),
        "serial_units": len(units),
        "events": len(events),
        "lines": len(lines),
        "statuses": dict(Counter(row[6] for row in units)),
    }


def _open(drill: bool):
    from django.contrib.auth import get_user_model

    from recalls import scope, services
    from recalls.models import RecallCampaign

    return services.recall_open(
        scope_entries=[scope.supplier_lot(SUPPLIER_LOT)],
        title="Battery packs: cathode contamination",
        reason="Supplier's notice of metal particles in cathode powder",
        classification=RecallCampaign.Classification.CLASS_II,
        acting_user=get_user_model().objects.get(username=USER),
        is_drill=drill,
    )


def _statements():
    """Time every statement sent through Django (COPY is not: bulk.py writes it directly)."""
    from django.db import connection

    log = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((time.perf_counter() - started, sql))

    return log, connection.execute_wrapper(timed)


def _backend_cpu() -> float | None:
    """CPU seconds the connection's PostgreSQL backend has used, if the server is on this
    machine (from /proc): wall-clock figures move with the load of a shared machine, CPU
    time much less."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, the 14th and 15th fields (counted after the command name's ")").
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read_side(campaign, repeat: int) -> dict:
    """The campaign page as a user gets it (rendered, through the test client), and its
    reads one by one: progress, a page of items with the count, a page of notices with the
    count, and termination's gaps."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from recalls import selectors

    def page_items():
        rows = selectors.affected_items(campaign)
        return rows.count(), list(rows[:50])

    def page_notices():
        rows = selectors.consignee_notices(campaign)
        return rows.count(), list(rows[:50])

    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    url = reverse("recalls:campaign", args=[campaign.reference])

    def page():
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    cases = {
        "campaign page (GET, rendered)": page,
        "campaign_progress": lambda: selectors.campaign_progress(campaign),
        "affected_items page (count + 50)": page_items,
        "consignee_notices page (count + 50)": page_notices,
        "termination_gaps": lambda: selectors.termination_gaps(campaign),
    }
    figures = {}
    for name, read in cases.items():
        times = []
        queries = 0
        cpu, backend = time.process_time(), _backend_cpu()
        for _ in range(repeat):
            log, wrapper = _statements()
            started = time.perf_counter()
            with wrapper:
                read()
            times.append(time.perf_counter() - started)
            queries = len(log)
        cpu = time.process_time() - cpu
        backend = None if backend is None else _backend_cpu() - backend
        figures[name] = {
            "median_ms": statistics.median(times) * 1000,
            "max_ms": max(times) * 1000,
            "queries": queries,
            # Means over the repeats (the backend's clock ticks in 10 ms steps).
            "python_cpu_ms": cpu / repeat * 1000,
            "db_cpu_ms": None if backend is None else backend / repeat * 1000,
        }
    figures["total_median_ms"] = sum(
        f["median_ms"] for name, f in figures.items() if not name.startswith("campaign page")
    )
    return figures


def measure(repeat: int, read_repeat: int, profile: bool) -> dict:
    """Run inside a process whose DATABASE_URL names the data set."""
    _setup()
    from django.db import connection, transaction

    from inventory.models import EventLine, SerialUnit

    results = {
        "events_in_database": None,
        "lines_in_database": EventLine.objects.count(),
        "units_in_database": SerialUnit.objects.count(),
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM inventory_traceevent")
        results["events_in_database"] = cursor.fetchone()[0]

    for mode in ("recall", "drill"):
        runs = []
        for _ in range(1 if profile else repeat):
            log, wrapper = _statements()
            profiler = cProfile.Profile() if profile else None
            try:
                with transaction.atomic():
                    backend = _backend_cpu()
                    started = time.perf_counter()
                    cpu = time.process_time()
                    with wrapper:
                        if profiler:
                            profiler.enable()
                        campaign = _open(drill=mode == "drill")
                        if profiler:
                            profiler.disable()
                    opened = time.perf_counter()
                    cpu = time.process_time() - cpu
                    with connection.cursor() as cursor:
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    checked = time.perf_counter()
                    backend = None if backend is None else _backend_cpu() - backend
                    run = {
                        "open_s": opened - started,
                        "python_cpu_s": cpu,
                        "db_cpu_s": backend,
                        "fk_check_s": checked - opened,
                        "total_s": checked - started,
                        "queries": len(log),
                        "sql_s": sum(t for t, _sql in log),
                        "rows": campaign.affected_items.count(),
                        "items": campaign.affected_items.values("item").distinct().count(),
                        "consignees": campaign.notices.count(),
                        "held": campaign.affected_items.filter(put_on_hold=True)
                        .values("item")
                        .distinct()
                        .count(),
                    }
                    if profile:
                        slowest = sorted(log, reverse=True)[:15]
                        run["slowest_statements"] = [
                            [round(t * 1000, 1), " ".join(sql.split())[:300]] for t, sql in slowest
                        ]
                        text = io.StringIO()
                        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
                        stats.print_stats(45)
                        run["profile"] = text.getvalue()
                    if mode == "recall" and not runs:
                        # The page's reads on the opened campaign, as opened and after ANALYZE.
                        run["read_as_opened"] = _read_side(campaign, read_repeat)
                        with connection.cursor() as cursor:
                            cursor.execute("ANALYZE recalls_affecteditem, recalls_consigneenotice")
                        run["read"] = _read_side(campaign, read_repeat)
                    runs.append(run)
                    raise Rollback
            except Rollback:
                pass
            with connection.cursor() as cursor:
                # A rolled-back run leaves dead rows and index entries behind; the next run
                # should not pay for them.
                cursor.execute(f"VACUUM {', '.join(TOUCHED)}")
        results[mode] = {
            "runs": runs,
            "median_total_s": statistics.median(r["total_s"] for r in runs),
            "median_open_s": statistics.median(r["open_s"] for r in runs),
            "median_python_cpu_s": statistics.median(r["python_cpu_s"] for r in runs),
            "median_db_cpu_s": None
            if runs[0]["db_cpu_s"] is None
            else statistics.median(r["db_cpu_s"] for r in runs),
        }
    return results


def ensure_dataset(url: str, scale: float):
    name = url.rsplit("/", 1)[1]
    exists = subprocess.run(
        ["psql", f"{SERVER}/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {**os.environ, "DATABASE_URL": url}
    if not exists:
        subprocess.run(["psql", f"{SERVER}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*manage, "generate_dataset", "--scale", str(scale)], env=env, check=True)
    output = subprocess.run(
        [sys.executable, __file__, "--build"], env=env, capture_output=True, text=True, check=True
    ).stdout
    built = json.loads(output.strip().splitlines()[-1])
    if built["built"]:
        print(f"added the battery maker: {built}", flush=True)
        subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--read-repeat", type=int, default=21)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build()))
        return
    if args.measure:
        print(json.dumps(measure(args.repeat, args.read_repeat, args.profile), default=str))
        return

    url = f"{SERVER}/tracewell_rbench_{str(args.scale).replace('.', '_')}"
    ensure_dataset(url, args.scale)
    command = [sys.executable, __file__, "--measure", "--repeat", str(args.repeat)]
    command += ["--read-repeat", str(args.read_repeat)] + (["--profile"] if args.profile else [])
    output = subprocess.run(
        command,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"data: {figures['events_in_database']:,} events, {figures['lines_in_database']:,} "
        f"event lines, {figures['units_in_database']:,} serial units"
    )
    for mode in ("recall", "drill"):
        f = figures[mode]
        first = f["runs"][0]
        print(
            f"{mode}: {first['items']:,} items, {first['rows']:,} rows, "
            f"{first['consignees']:,} consignees, {first['held']:,} held; "
            f"{first['queries']} queries"
        )
        totals = ", ".join(f"{r['total_s']:.2f}" for r in f["runs"])
        opens = ", ".join(f"{r['open_s']:.2f}" for r in f["runs"])
        print(f"  open + FK check median {f['median_total_s']:.2f} s (runs: {totals})")
        print(f"  open alone median {f['median_open_s']:.2f} s (runs: {opens})")
        cpus = ", ".join(f"{r['python_cpu_s']:.2f}" for r in f["runs"])
        print(f"  of which Python's CPU median {f['median_python_cpu_s']:.2f} s (runs: {cpus})")
        if f["median_db_cpu_s"] is not None:
            dbs = ", ".join(f"{r['db_cpu_s']:.2f}" for r in f["runs"])
            print(f"  PostgreSQL backend's CPU median {f['median_db_cpu_s']:.2f} s (runs: {dbs})")
        if args.profile:
            for t, sql in first["slowest_statements"]:
                print(f"  {t:>9.1f} ms  {sql}")
            print(first["profile"])
    for label in ("read_as_opened", "read"):
        read = figures["recall"]["runs"][0][label]
        print(f"page reads ({label}):")
        for name, r in read.items():
            if name == "total_median_ms":
                print(f"  {'the four reads together':40} {r:>8.1f} ms")
                continue
            db = "" if r["db_cpu_ms"] is None else f", PostgreSQL {r['db_cpu_ms']:.0f}"
            print(
                f"  {name:40} {r['median_ms']:>8.1f} ms (max {r['max_ms']:.1f}), "
                f"{r['queries']} queries; CPU ms each: Python {r['python_cpu_ms']:.0f}{db}"
            )


if __name__ == "__main__":
    main()
