"""python manage.py generate_serials SKU COUNT --user USERNAME (--width N [--prefix P] [--first N]
| --random LENGTH) [--lot CODE] [--site CODE] [--produced-on YYYY-MM-DD]"""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.models import Lot, Product, SerialRun, Site
from inventory.services import serial_units_generate


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"{text} is not a date; write it as YYYY-MM-DD.", returncode=2) from exc


class Command(BaseCommand):
    help = (
        "Commission a run of new serial units of a product: numbered by prefix and counter "
        "(--width, --prefix, --first) or random (--random LENGTH). The whole run or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("sku", help="The serial-tracked product's SKU.")
        parser.add_argument("count", type=int, help="How many units.")
        parser.add_argument("--user", required=True, metavar="USERNAME", help="Who makes them.")
        scheme = parser.add_mutually_exclusive_group(required=True)
        scheme.add_argument("--width", type=int, help="Digits of the counter (pattern run).")
        scheme.add_argument(
            "--random", type=int, metavar="LENGTH", help="Characters of random serials (8-20)."
        )
        parser.add_argument("--prefix", default="", help="Before the counter (pattern run).")
        parser.add_argument("--first", type=int, default=1, help="First counter value.")
        parser.add_argument("--lot", metavar="CODE", help="The production lot, by its code.")
        parser.add_argument("--site", metavar="CODE", help="Where they are made, by site code.")
        parser.add_argument("--produced-on", type=_date, metavar="YYYY-MM-DD")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active user {options['user']}.", returncode=2)
        product = Product.objects.filter(sku=options["sku"]).first()
        if product is None:
            raise CommandError(f"There is no product {options['sku']}.", returncode=2)
        lot = site = None
        if options["lot"]:
            lot = Lot.objects.filter(product=product, code=options["lot"]).first()
            if lot is None:
                raise CommandError(f"{product.sku} has no lot {options['lot']}.", returncode=2)
        if options["site"]:
            site = Site.objects.filter(code=options["site"]).first()
            if site is None:
                raise CommandError(f"There is no site {options['site']}.", returncode=2)
        if options["random"] is not None:
            scheme = {"scheme": SerialRun.Scheme.RANDOM, "length": options["random"]}
        else:
            scheme = {
                "scheme": SerialRun.Scheme.PATTERN,
                "prefix": options["prefix"],
                "width": options["width"],
                "first_number": options["first"],
            }
        try:
            run = serial_units_generate(
                product=product,
                count=options["count"],
                acting_user=user,
                lot=lot,
                site=site,
                produced_on=options["produced_on"],
                **scheme,
            )
        except ValidationError as exc:
            lines = "\n".join(f"  {message}" for message in exc.messages)
            raise CommandError(f"Refused, no units made:\n{lines}", returncode=2) from exc
        self.stdout.write(
            f"Made {run.count:,} serial units of {product.sku}: "
            f"{run.first_serial} … {run.last_serial}\nRun page: {run.get_absolute_url()}"
        )
