"""python manage.py export_records MODEL [--format csv|xlsx] --output FILE"""

from pathlib import Path

from django.core.management.base import BaseCommand

from inventory.management.commands.import_records import file_format
from inventory.resources import FORMATS, RESOURCES


class Command(BaseCommand):
    help = (
        "Export products, lots, serial units, parties or sites as CSV or XLSX, with the columns "
        "import_records and the admin's Import read back."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", choices=RESOURCES, metavar="MODEL", help=", ".join(RESOURCES))
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or xlsx (default: the output's extension)."
        )
        parser.add_argument("--output", required=True, metavar="FILE")

    def handle(self, *args, **options):
        path = Path(options["output"])
        chosen = file_format(str(path), options["format"])
        resource = RESOURCES[options["model"]]()
        dataset = resource.export(force_native_type=chosen == "xlsx")
        data = FORMATS[chosen]().export_data(dataset)
        if isinstance(data, str):
            # With a byte-order mark, Excel opens the file as UTF-8.
            path.write_text(data, encoding="utf-8-sig", newline="")
        else:
            path.write_bytes(data)
        items = resource._meta.model._meta.verbose_name_plural
        self.stdout.write(f"Exported {len(dataset)} {items} to {path}.")
