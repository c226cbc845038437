"""Trace benchmark: the single-query CTE trace against a node-by-node ORM walk (how Odoo,
ERPNext and InvenTree trace), on a small and a 10x larger generated data set, on PostgreSQL.

    python benchmarks/trace.py                 # generates the data sets if they are missing
    python benchmarks/trace.py --repeat 51 --small-scale 0.1 --large-scale 1

Each data set lives in its own PostgreSQL database (created if missing). The same root
exists in both, because the generator adds independent clusters as the scale grows.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
CASES = [
    ("forward", "GEN-L2 lot L2-0-5"),
    ("backward", "GEN-DEVICE serial D0-000005"),
]


def measure(repeat: int, node_repeat: int) -> dict:
    """Run inside a process whose DATABASE_URL names one generated data set."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()
    from django.db import connection

    from inventory.selectors import resolve_identifiers
    from inventory.trace import trace

    results = {}
    for direction, identifier in CASES:
        lots, units = resolve_identifiers([identifier])
        lot_qs = type(lots[0]).objects.filter(pk__in=[o.pk for o in lots]) if lots else None
        unit_qs = type(units[0]).objects.filter(pk__in=[o.pk for o in units]) if units else None
        root_keys = [o.pk for o in [*lots, *units]]

        def cte(direction=direction, lot_qs=lot_qs, unit_qs=unit_qs):
            return trace(direction=direction, lots=lot_qs, serial_units=unit_qs)

        result = cte()
        cte_times, sql_times = [], []

        def timed(execute, sql, params, many, context, sql_times=sql_times):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                if sql.lstrip().startswith("WITH RECURSIVE"):
                    sql_times.append(time.perf_counter() - started)

        for _ in range(repeat):
            started = time.perf_counter()
            with connection.execute_wrapper(timed):
                cte()
            cte_times.append(time.perf_counter() - started)

        node_times, node_result = [], None
        for _ in range(node_repeat):
            started = time.perf_counter()
            node_result = node_by_node(root_keys, direction)
            node_times.append(time.perf_counter() - started)

        cte_items = {item.pk for item in result.items}
        cte_consignees = {party.pk for party in result.consignees}
        assert node_result[0] == cte_items, "node-by-node and CTE reached different items"
        assert node_result[1] == cte_consignees, "node-by-node and CTE found other consignees"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM inventory_traceevent")
            events = cursor.fetchone()[0]
        results[f"{direction} {identifier}"] = {
            "items": len(result.items),
            "consignees": len(result.consignees),
            "max_depth": max((item.depth for item in result.items), default=0),
            "events_in_database": events,
            "cte_median_ms": statistics.median(cte_times) * 1000,
            "cte_p95_ms": sorted(cte_times)[int(0.95 * (len(cte_times) - 1))] * 1000,
            "sql_median_ms": statistics.median(sql_times) * 1000,
            "node_median_ms": statistics.median(node_times) * 1000,
            "node_queries_per_trace": node_result[2],
        }
    return results


def node_by_node(root_keys, direction):
    """Breadth-first, one node at a time, as the peers do: a few ORM queries per item."""
    from inventory.models import EventLine, Genealogy, Lot, SerialUnit, TraceEvent

    forward = direction == "forward"
    here, there = ("parent_id", "child_id") if forward else ("child_id", "parent_id")
    seen, queue, queries = set(root_keys), deque(root_keys), 0
    consignees = set()
    while queue:
        node = queue.popleft()
        # Load the record itself, as an ORM walk does before asking for its relations.
        record = Lot.objects.select_related("product").filter(pk=node).first()
        if record is None:
            record = SerialUnit.objects.select_related("product", "lot").get(pk=node)
        queries += 2 if isinstance(record, SerialUnit) else 1
        nexts = list(Genealogy.objects.filter(**{here: node}).values_list(there, flat=True))
        queries += 1
        if forward and isinstance(record, Lot):
            nexts += list(SerialUnit.objects.filter(lot_id=node).values_list("pk", flat=True))
            queries += 1
        if not forward and isinstance(record, SerialUnit) and record.lot_id:
            nexts.append(record.lot_id)
        consignees.update(
            EventLine.objects.filter(
                item_id=node,
                event__event_type=TraceEvent.Type.SHIP,
                event__destination_party__isnull=False,
                event__destination_party__is_internal=False,
            ).values_list("event__destination_party_id", flat=True)
        )
        queries += 1
        for key in nexts:
            if key not in seen:
                seen.add(key)
                queue.append(key)
    return seen - set(root_keys), consignees, queries


def ensure_dataset(url: str, scale: float):
    name = url.rsplit("/", 1)[1]
    exists = subprocess.run(
        ["psql", f"{SERVER}/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", f"{SERVER}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {**os.environ, "DATABASE_URL": url}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*manage, "generate_dataset", "--scale", str(scale)], env=env, check=True)
    subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-scale", type=float, default=0.1)
    parser.add_argument("--large-scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=31)
    parser.add_argument("--node-repeat", type=int, default=3)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.repeat, args.node_repeat)))
        return

    figures = {}
    for label, scale in (("small", args.small_scale), ("large", args.large_scale)):
        url = f"{SERVER}/tracewell_bench_{str(scale).replace('.', '_')}"
        ensure_dataset(url, scale)
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--measure",
                "--repeat",
                str(args.repeat),
                "--node-repeat",
                str(args.node_repeat),
            ],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        figures[label] = json.loads(output.strip().splitlines()[-1])

    print(
        f"{'case':44} {'data':>6} {'events':>10} {'items':>6} {'depth':>5} {'SQL med':>9} "
        f"{'trace med':>9} {'trace p95':>9} {'node med':>10} {'node/trace':>10}"
    )
    for case in figures["small"]:
        for label in ("small", "large"):
            f = figures[label][case]
            print(
                f"{case:44} {label:>6} {f['events_in_database']:>10,} {f['items']:>6,} "
                f"{f['max_depth']:>5} {f['sql_median_ms']:>7.1f}ms "
                f"{f['cte_median_ms']:>7.1f}ms {f['cte_p95_ms']:>7.1f}ms "
                f"{f['node_median_ms']:>8.0f}ms {f['node_median_ms'] / f['cte_median_ms']:>9.1f}x"
            )
        growth = figures["large"][case]["cte_median_ms"] / figures["small"][case]["cte_median_ms"]
        print(f"{'':44} large/small trace time: {growth:.2f}x")


if __name__ == "__main__":
    main()
