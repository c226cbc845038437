"""List pages on a generated data set: each list and its filters, fetched as a user gets them.

    DATABASE_URL=postgres://…/db .venv/bin/python benchmarks/lists.py --repeat 15

Runs against the database DATABASE_URL names, which must already hold a data set
(`manage.py generate_dataset --scale 1`) and should have been `VACUUM ANALYZE`d. Each case is a
GET through Django's test client as a Quality staff user (made once, if missing): the filter,
the count, the page of 50 rows and the rendered template, or the whole CSV for the exports.
Prints the median and p95 time and the number of statements per case, as JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER = "bench-lists"


def _setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()


def _cases() -> dict[str, tuple[str, dict]]:
    from django.utils import timezone

    from inventory.models import Lot, Product, SerialUnit

    lot = Lot.objects.order_by("pk").last()
    unit = SerialUnit.objects.order_by("pk").last()
    device = Product.objects.filter(tracking=Product.Tracking.SERIAL).order_by("pk").last()
    today = timezone.localdate()
    return {
        "products": ("product_list", {}),
        "lots": ("lot_list", {}),
        "lots, by status": ("lot_list", {"status": "released"}),
        "lots, expire within 30 days": ("lot_list", {"expiry": "30"}),
        "lots, by product, sorted by expiry": (
            "lot_list",
            {"product": lot.product_id, "sort": "expires_on"},
        ),
        "lots, by lot code (contains)": ("lot_list", {"code": lot.code[-5:]}),
        "lots, by supplier (contains)": ("lot_list", {"supplier": "Supplier 3-"}),
        "lots, produced in a month": (
            "lot_list",
            {"produced_from": (today.replace(day=1)).isoformat(), "produced_to": today.isoformat()},
        ),
        "serial units": ("serial_list", {}),
        "serial units, by product, under warranty": (
            "serial_list",
            {"product": device.pk, "warranty": "in"},
        ),
        "serial units, by serial (contains)": ("serial_list", {"serial": unit.serial[-6:]}),
        "serial units, held by (contains)": ("serial_list", {"holder": "Retailer 7-"}),
        "events": ("event_list", {}),
        "events, ship, by party (contains)": (
            "event_list",
            {"event_type": "ship", "party": "Distributor 5-"},
        ),
        "events, one day": (
            "event_list",
            {"occurred_from": today.isoformat(), "occurred_to": today.isoformat()},
        ),
        "events, oldest first": ("event_list", {"sort": "occurred_at"}),
        "parties": ("party_list", {}),
        "parties, suppliers": ("party_list", {"role": "supplier"}),
        # Files of more than 5,000 rows are written by a background job (inventory.jobs).
        "export: lots expiring within 30 days, CSV": (
            "lot_list",
            {"expiry": "30", "_export": "csv"},
        ),
        "export: lots expiring within 30 days, XLSX": (
            "lot_list",
            {"expiry": "30", "_export": "xlsx"},
        ),
    }


def measure(repeat: int) -> dict:
    _setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from traceability.roles import QUALITY_STAFF

    user, _ = get_user_model().objects.get_or_create(username=USER)
    user.groups.add(Group.objects.get(name=QUALITY_STAFF))
    client = Client()
    client.force_login(user)
    figures = {}
    for name, (url_name, params) in _cases().items():
        times, statements = [], 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as log:
                started = time.perf_counter()
                response = client.get(reverse(url_name), params)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (name, response.status_code)
            statements = len(log.captured_queries)
        times.sort()
        figures[name] = {
            "median_ms": round(statistics.median(times) * 1000, 1),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))] * 1000, 1),
            "statements": statements,
        }
        print(name, figures[name], file=sys.stderr)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(measure(args.repeat), indent=2))


if __name__ == "__main__":
    main()
