"""Recall lines on a lot's or unit's page: the read behind its Recalls card, over many lines.

    createdb tracewell_bench_recall_lines (or any name), then:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tracewell_bench_recall_lines \\
        .venv/bin/python manage.py migrate
    DATABASE_URL=... .venv/bin/python benchmarks/item_recalls.py --lines 100000 --repeat 21

In one transaction that it rolls back, the script writes one campaign of `--lines` affected
lines (one unit each), times `recalls.selectors.item_involvement` for one of them, adds an
index on the lines' item and times it again. Affected items have no index on their item (it
slowed opening a campaign), so without one the read scans every line of every campaign.
"""

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

from timing import timed

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traceability.settings.development")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from inventory.models import Item, Product, Unit
    from recalls.models import AffectedItem, RecallCampaign
    from recalls.selectors import item_involvement

    with transaction.atomic():
        owner, _created = get_user_model().objects.get_or_create(username="recall-lines-bench")
        campaign = RecallCampaign.objects.create(
            reference="RC-2999-0001",
            year=2999,
            number=1,
            title="Benchmark",
            reason="Benchmark",
            classification="II",
            owner=owner,
        )
        # A line names its product for as long as the model keeps that column.
        has_product = any(field.name == "product" for field in AffectedItem._meta.fields)
        product = {"product": Product.objects.create(sku="BENCH-UNIT", name="Bench")}
        items = Item.objects.bulk_create(
            [Item(kind=Item.Kind.SERIAL) for _ in range(args.lines)], batch_size=5000
        )
        AffectedItem.objects.bulk_create(
            [
                AffectedItem(
                    campaign=campaign,
                    item=item,
                    kind=Item.Kind.SERIAL,
                    serial=f"B{n}",
                    depth=1,
                    position=n,
                    status_at_opening="in_stock",
                    whereabouts=AffectedItem.Whereabouts.ON_HAND,
                    quantity=Decimal(1),
                    unit=Unit.EACH,
                    **(product if has_product else {}),
                )
                for n, item in enumerate(items)
            ],
            batch_size=5000,
        )
        with connection.cursor() as cursor:
            # Django's foreign keys are checked at commit; an index cannot wait for that.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # Recalls migration 0009 indexes the item; without it first, for the comparison
            # (the transaction rolls back, index and all).
            cursor.execute("DROP INDEX IF EXISTS affected_item_idx")
            cursor.execute("ANALYZE recalls_affecteditem")
        item = items[len(items) // 2].pk

        assert len(item_involvement(item)) == 1
        scan = timed(lambda: item_involvement(item), args.repeat)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("CREATE INDEX bench_affected_item ON recalls_affecteditem (item_id)")
        built = (time.perf_counter() - started) * 1000
        indexed = timed(lambda: item_involvement(item), args.repeat)
        transaction.set_rollback(True)

    print(f"{args.lines:,} affected lines, {args.repeat} runs each")
    print(f"without an index on item: median {scan[0]:.1f} ms, p95 {scan[1]:.1f} ms")
    print(f"building the index: {built:.0f} ms")
    print(f"with it: median {indexed[0]:.1f} ms, p95 {indexed[1]:.1f} ms")


if __name__ == "__main__":
    main()
