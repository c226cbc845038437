"""Stock on hand benchmark: the product page, the expiry report and the picking page, which all
work stock out from the event lines (there is no stock table), on a generated data set.

    createdb tracewell_bench_1 (or any name), then:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tracewell_bench_1 \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=... .venv/bin/python manage.py generate_dataset --scale 1
    DATABASE_URL=... .venv/bin/python benchmarks/stock.py --repeat 21

Each page is fetched as a quality manager gets it (Django's test client: the view, its
queries, the template), and its statements are counted; the aggregate behind "on hand" is also
timed alone. The script adds one user ("stock-bench", a quality manager) if it is missing.
"""

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

from timing import timed

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from inventory import selectors
    from inventory.models import EventLine, Lot, Product, Site, TraceEvent
    from traceability.roles import QUALITY_MANAGERS

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user, _created = get_user_model().objects.get_or_create(username="stock-bench")
    user.groups.add(Group.objects.get(name=QUALITY_MANAGERS))
    client = Client()
    client.force_login(user)

    product = (
        Product.objects.filter(tracking=Product.Tracking.LOT)
        .annotate(lots=Count("lot"))
        .order_by("-lots")
        .first()
    )
    lots = Lot.objects.filter(product=product)
    site = Site.objects.filter(party__is_internal=True, lots__product=product).first()
    lines = EventLine.objects.filter(item_id__in=lots.values("pk")).count()
    expiries = sorted(lots.exclude(expires_on=None).values_list("expires_on", flat=True))
    # A window that reaches a tenth of the product's lots, as a 30-day report might.
    until = expiries[len(expiries) // 10] if expiries else None
    print(
        f"data: {Lot.objects.count():,} lots, {TraceEvent.objects.count():,} events, "
        f"{EventLine.objects.count():,} event lines; the product with most lots, "
        f"{product.sku}: {lots.count():,} lots with {lines:,} lines"
    )

    cases = [
        ("lots_on_hand (the aggregate alone)", lambda: selectors.lots_on_hand(lots)),
        ("product page", lambda: client.get(reverse("product_detail", args=[product.pk]))),
        (
            "product page, sorted by stock on hand",
            lambda: client.get(reverse("product_detail", args=[product.pk]), {"sort": "-on_hand"}),
        ),
        (
            "picking page (a product at a site)",
            lambda: client.get(
                reverse("shipment_new"),
                {"product": product.pk, "site": site.pk, "quantity": "100"},
            ),
        ),
    ]
    if until is not None:
        cases.append(
            (
                f"expiry report to {until} (one product)",
                lambda: client.get(
                    reverse("expiry_report"), {"until": until.isoformat(), "product": product.pk}
                ),
            )
        )
        cases.append(
            (
                f"expiry report to {until - timedelta(days=1)} (all products)",
                lambda: client.get(
                    reverse("expiry_report"), {"until": (until - timedelta(days=1)).isoformat()}
                ),
            )
        )

    print(f"| read | queries | median | p95 |  (n = {args.repeat})")
    print("| --- | ---: | ---: | ---: |")
    for name, function in cases:
        statements = []

        def count(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = function()
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise SystemExit(f"{name}: HTTP {status}")
        median, p95 = timed(function, args.repeat)
        print(f"| {name} | {len(statements)} | {median:.1f} ms | {p95:.1f} ms |")


if __name__ == "__main__":
    main()
