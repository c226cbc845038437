"""EPCIS import benchmark: a 100,000-event EPCIS 2.0 document into an empty PostgreSQL database.

    python benchmarks/epcis_import.py                      # 100,000 events, 3 runs
    python benchmarks/epcis_import.py --events 20000 --repeat 1

The document is a synthetic food and pharma supply chain, the mix a busy site exchanges:
commissioning of lots (quantity, expiry in ilmd), transformations (two input lots into one
output lot), shipping and receiving (parties, sites, despatch advice), packing of lots on
SSCC pallets (AggregationEvents), and commissioning of serialised units built in a lot.
Each run imports it into a fresh database copied from a migrated template, then imports it
a second time (every event a duplicate). The time counts reading the JSON file too.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
TEMPLATE = "tracewell_bench_import_template"
TARGET = "tracewell_bench_import"
COMPANY = "0614141"  # a company prefix biip knows, so identifiers are EPC URNs


def _check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _lgtin(item: int, lot: str) -> str:
    return f"urn:epc:class:lgtin:{COMPANY}.0{item:05d}.{lot}"


def _sgtin(item: int, serial: str) -> str:
    return f"urn:epc:id:sgtin:{COMPANY}.0{item:05d}.{serial}"


def _sgln(location: int) -> str:
    return f"urn:epc:id:sgln:{COMPANY}.{location:05d}.0"


def _pgln(party: int) -> str:
    return f"urn:epc:id:pgln:{COMPANY}.{party:05d}"


def build_document(count: int, seed: int = 2026, known_lots: list | None = None):
    """A document of `count` events and the lots it names; the same seed gives the same one.

    With known_lots, only shipping, receiving and packing of those lots (a distribution
    centre's feed about lots an earlier document made); else the whole supply chain.
    """
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, 6, tzinfo=UTC)
    events, lots, serial_no = [], list(known_lots or []), 0

    def base(kind, n, **fields):
        moment = start + timedelta(minutes=n)
        return {
            "type": kind,
            "eventTime": moment.isoformat(timespec="milliseconds"),
            "eventTimeZoneOffset": "+00:00",
            "eventID": f"urn:uuid:{rng.getrandbits(128):032x}",
            **fields,
        }

    def quantity(epc_class):
        return {"epcClass": epc_class, "quantity": rng.randint(1, 500), "uom": "KGM"}

    def new_lot(item):
        code = f"L{len(lots):07d}"
        lots.append((item, code))
        return _lgtin(item, code)

    for n in range(count):
        roll = rng.random()
        if known_lots:
            roll = 0.40 + roll * 0.55  # shipping, receiving, packing
        site = rng.randint(1, 40)
        if roll < 0.20 or len(lots) < 10:
            events.append(
                base(
                    "ObjectEvent",
                    n,
                    action="ADD",
                    bizStep="commissioning",
                    disposition="active",
                    epcList=[],
                    quantityList=[quantity(new_lot(rng.randint(1, 60)))],
                    bizLocation={"id": _sgln(site)},
                    ilmd={"cbvmda:itemExpirationDate": "2027-06-30"},
                )
            )
        elif roll < 0.40:
            inputs = [_lgtin(*lots[rng.randrange(len(lots))]) for _ in range(2)]
            events.append(
                base(
                    "TransformationEvent",
                    n,
                    bizStep="urn:tracewell:bizstep:transforming",
                    inputQuantityList=[quantity(epc) for epc in dict.fromkeys(inputs)],
                    outputQuantityList=[quantity(new_lot(rng.randint(61, 99)))],
                    bizLocation={"id": _sgln(site)},
                )
            )
        elif roll < 0.85:
            shipping = roll < 0.63
            other = rng.randint(100, 400)
            ours, theirs = ("source", "destination") if shipping else ("destination", "source")
            events.append(
                base(
                    "ObjectEvent",
                    n,
                    action="OBSERVE",
                    bizStep="shipping" if shipping else "receiving",
                    disposition="in_transit" if shipping else "in_progress",
                    epcList=[],
                    quantityList=[
                        quantity(_lgtin(*lots[rng.randrange(len(lots))]))
                        for _ in range(rng.randint(1, 2))
                    ],
                    bizLocation={"id": _sgln(site)},
                    bizTransactionList=[{"type": "desadv", "bizTransaction": f"DA-{n}"}],
                    **{
                        f"{ours}List": [{"type": "owning_party", ours: _pgln(1)}],
                        f"{theirs}List": [{"type": "owning_party", theirs: _pgln(other)}],
                    },
                )
            )
        elif roll < 0.95:
            events.append(
                base(
                    "AggregationEvent",
                    n,
                    action="ADD",
                    bizStep="packing",
                    parentID=f"urn:epc:id:sscc:{COMPANY}.{n:010d}",
                    childEPCs=[],
                    childQuantityList=[quantity(_lgtin(*lots[rng.randrange(len(lots))]))],
                    bizLocation={"id": _sgln(site)},
                )
            )
        else:
            item, code = lots[rng.randrange(len(lots))]
            serials = []
            for _ in range(5):
                serial_no += 1
                serials.append(_sgtin(100 + item % 10, f"S{serial_no:08d}"))
            events.append(
                base(
                    "ObjectEvent",
                    n,
                    action="ADD",
                    bizStep="commissioning",
                    epcList=serials,
                    bizLocation={"id": _sgln(site)},
                    ilmd={"cbvmda:lotNumber": f"P{code}"},
                )
            )
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": start.isoformat(),
        "epcisBody": {"eventList": events},
    }
    return document, lots


def measure(path: str, observations: str) -> dict:
    """Run inside a process whose DATABASE_URL names an empty, migrated database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log
    from django.db import connection

    from inventory.epcis.importer import cycle_collection_paused, epcis_import
    from inventory.models import EventLine, Genealogy, Lot, SerialUnit, TraceEvent

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    figures = {}
    for label, source in (("first", path), ("again", path), ("observations", observations)):
        cpu, postgres_cpu = time.process_time(), _backend_cpu(backend)
        started = time.perf_counter()
        with open(source, encoding="utf-8") as handle, cycle_collection_paused():
            document = json.load(handle)  # as import_epcis reads it
        read = time.perf_counter() - started
        result = epcis_import(document=document, acting_user=None)
        total = time.perf_counter() - started
        figures[label] = {
            "seconds": total,
            "read_seconds": read,
            # Both threads of this process, and the PostgreSQL backend serving its connection
            # (read from /proc, so only when the server runs on this machine).
            "cpu_seconds": time.process_time() - cpu,
            "postgres_cpu_seconds": _backend_cpu(backend) - postgres_cpu
            if postgres_cpu is not None
            else None,
            "imported": result.imported,
            "duplicates": result.duplicates,
        }
    figures["rows"] = {
        "events": TraceEvent.objects.count(),
        "lines": EventLine.objects.count(),
        "genealogy": Genealogy.objects.count(),
        "lots": Lot.objects.count(),
        "serial_units": SerialUnit.objects.count(),
    }
    return figures


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user and system) a PostgreSQL backend on this machine has used."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _psql(sql: str, database: str = "postgres"):
    subprocess.run(["psql", f"{SERVER}/{database}", "-qc", sql], check=True)


def prepare_template():
    _psql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
    _psql(f"CREATE DATABASE {TEMPLATE}")
    env = {**os.environ, "DATABASE_URL": f"{SERVER}/{TEMPLATE}"}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure.split(","))))
        return

    prepare_template()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonld"
        document, lots = build_document(args.events)
        path.write_text(json.dumps(document), encoding="utf-8")
        size = path.stat().st_size
        observations = Path(folder) / "observations.jsonld"
        document, _ = build_document(args.events, seed=2027, known_lots=lots)
        observations.write_text(json.dumps(document), encoding="utf-8")
        runs = []
        for _ in range(args.repeat):
            _psql(f"DROP DATABASE IF EXISTS {TARGET}")
            _psql(f"CREATE DATABASE {TARGET} TEMPLATE {TEMPLATE}")
            output = subprocess.run(
                [sys.executable, __file__, "--measure", f"{path},{observations}"],
                env={**os.environ, "DATABASE_URL": f"{SERVER}/{TARGET}"},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs.append(json.loads(output.strip().splitlines()[-1]))
    first = [run["first"]["seconds"] for run in runs]
    again = [run["again"]["seconds"] for run in runs]
    rows = runs[-1]["rows"]
    print(f"document: {args.events:,} events, {size / 1e6:.1f} MB")
    print(f"rows written: {', '.join(f'{k} {v:,}' for k, v in rows.items())}")
    print(
        f"import into an empty database: median {statistics.median(first):.1f} s "
        f"({args.events / statistics.median(first):,.0f} events/s), runs "
        + ", ".join(f"{s:.1f}" for s in first)
        + f"; reading the JSON {statistics.median(r['first']['read_seconds'] for r in runs):.1f} s"
    )
    print(
        f"same document again (all duplicates): median {statistics.median(again):.1f} s "
        f"({args.events / statistics.median(again):,.0f} events/s)"
    )
    for run in runs:
        parts = []
        for label in ("first", "again", "observations"):
            figure = run[label]
            part = f"{label} {figure['seconds']:.1f} s, Python CPU {figure['cpu_seconds']:.1f} s"
            if figure["postgres_cpu_seconds"] is not None:
                part += f", PostgreSQL CPU {figure['postgres_cpu_seconds']:.1f} s"
            parts.append(part)
        print("  " + "; ".join(parts))
    seen = [run["observations"]["seconds"] for run in runs]
    print(
        f"then {args.events:,} shipping, receiving and packing events of those lots: median "
        f"{statistics.median(seen):.1f} s ({args.events / statistics.median(seen):,.0f} events/s)"
    )
    assert all(run["first"]["imported"] == args.events for run in runs)
    assert all(run["observations"]["imported"] == args.events for run in runs)
    assert all(run["again"]["duplicates"] == args.events for run in runs)


if __name__ == "__main__":
    main()
