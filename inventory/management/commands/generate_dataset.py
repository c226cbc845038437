"""python manage.py generate_dataset --scale S: a synthetic supply chain for benchmarks."""

import time

from django.core.management.base import BaseCommand, CommandError

from inventory.dataset import generate


class Command(BaseCommand):
    help = (
        "Add a synthetic multi-tier supply chain: at scale 1 about 1.08 million trace events, "
        "202,400 lots and 204,600 serial units, genealogy ten levels deep. Fractional scales "
        "make quick runs; running again with the same scale adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, scale, seed, **options):
        if not 0 < scale <= 20:
            raise CommandError("--scale must be greater than 0 and at most 20.")
        started = time.perf_counter()
        totals = generate(scale=scale, seed=seed, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {totals['clusters']} cluster(s): {totals['lots']:,} lots, "
                f"{totals['serial_units']:,} serial units, {totals['events']:,} events "
                f"in {time.perf_counter() - started:.1f} s."
            )
        )
