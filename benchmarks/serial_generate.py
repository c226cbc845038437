"""Serial generation benchmark: runs of 100,000 serial units, by pattern and at random, on
SQLite and on PostgreSQL.

    python benchmarks/serial_generate.py                  # 100,000 units, 3 runs, both databases
    python benchmarks/serial_generate.py --units 20000 --repeat 1 --databases sqlite

Each run starts from a freshly migrated database (a SQLite file; a PostgreSQL database copied
from a migrated template) and, in one process, times `serial_units_generate()` as the page and
the background job call it: a pattern run of a product built in a lot, then a random run of
the same product (whose serials are checked against the first run's). The time counts
everything the service does: the checks, drawing the serials, the inserts (COPY on
PostgreSQL), the audit trail rows, the event lines, the genealogy links and the commit.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
TEMPLATE = "tracewell_bench_serials_template"
TARGET = "tracewell_bench_serials"
FLOOR_SECONDS = 10


def measure(units: int) -> dict:
    """Run inside a process whose DATABASE_URL names an empty, migrated database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log
    from datetime import date
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from inventory.models import EventLine, Genealogy, Lot, Product, SerialUnit
    from inventory.services import serial_units_generate

    user = get_user_model().objects.create(username="bench")
    product = Product.objects.create(
        sku="BENCH-DRILL", name="Drill", tracking="serial", gtin="09506000134369"
    )
    lot = Lot.objects.create(
        product=product, code="PL-1", produced_on=date(2026, 1, 5), quantity=Decimal(units)
    )
    runs = {
        "pattern": {"prefix": "DR-", "width": 7, "first_number": 1, "lot": lot},
        "random": {"length": 12},
    }
    figures = {}
    for scheme, arguments in runs.items():
        cpu, started = time.process_time(), time.perf_counter()
        run = serial_units_generate(
            product=product, count=units, scheme=scheme, acting_user=user, **arguments
        )
        figures[scheme] = {
            "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu,
            "first": run.first_serial,
            "last": run.last_serial,
        }
    figures["rows"] = {
        "units": SerialUnit.objects.count(),
        "audit": SerialUnit.history.count(),
        "lines": EventLine.objects.count(),
        "genealogy": Genealogy.objects.count(),
    }
    return figures


def _psql(sql: str, database: str = "postgres"):
    subprocess.run(["psql", f"{SERVER}/{database}", "-qc", sql], check=True)


def _migrate(url: str):
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)


def _run(url: str, units: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--measure", str(units)],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return

    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for database in args.databases.split(","):
            runs = []
            if database == "postgresql":
                _psql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
                _psql(f"CREATE DATABASE {TEMPLATE}")
                _migrate(f"{SERVER}/{TEMPLATE}")
            else:
                template = Path(folder) / "template.sqlite3"
                _migrate(f"sqlite:///{template}")
            for _ in range(args.repeat):
                if database == "postgresql":
                    _psql(f"DROP DATABASE IF EXISTS {TARGET}")
                    _psql(f"CREATE DATABASE {TARGET} TEMPLATE {TEMPLATE}")
                    url = f"{SERVER}/{TARGET}"
                else:
                    target = Path(folder) / "target.sqlite3"
                    target.write_bytes(template.read_bytes())
                    url = f"sqlite:///{target}"
                runs.append(_run(url, args.units))
            if database == "postgresql":
                _psql(f"DROP DATABASE IF EXISTS {TARGET}")
                _psql(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            results[database] = runs

    load = os.getloadavg()
    print(f"{args.units:,} units a run; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for database, runs in results.items():
        rows = runs[-1]["rows"]
        print(
            f"{database}: rows after both runs: {', '.join(f'{k} {v:,}' for k, v in rows.items())}"
        )
        for scheme in ("pattern", "random"):
            seconds = [run[scheme]["seconds"] for run in runs]
            cpu = [run[scheme]["cpu_seconds"] for run in runs]
            median = statistics.median(seconds)
            verdict = "under" if median < FLOOR_SECONDS else "OVER"
            print(
                f"  {scheme}: median {median:.2f} s ({args.units / median:,.0f} units/s), "
                f"runs {', '.join(f'{s:.2f}' for s in seconds)}; Python CPU median "
                f"{statistics.median(cpu):.2f} s; {verdict} the {FLOOR_SECONDS} s floor "
                f"({runs[-1][scheme]['first']} … {runs[-1][scheme]['last']})"
            )
        assert rows["units"] == 2 * args.units


if __name__ == "__main__":
    main()
