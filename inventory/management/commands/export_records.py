"""python manage.py export_records MODEL [--format csv|xlsx] --output FILE"""

from pathlib import Path

from django.core.management.base import BaseCommand

from inventory.management.commands.import_records import file_format
from inventory.resources import FORMATS, RESOURCES

from ._output import check_writable, write_whole


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
        check_writable(path)
        chosen = file_format(str(path), options["format"])
        resource = RESOURCES[options["model"]]()
        dataset = resource.export(force_native_type=chosen == "xlsx")
        data = FORMATS[chosen]().export_data(dataset)
        if isinstance(data, str):
            data = data.encode("utf-8-sig")  # with a byte-order mark, Excel reads it as UTF-8
        write_whole(path, data)
        items = resource._meta.model._meta.verbose_name_plural
        self.stdout.write(f"Exported {len(dataset)} {items} to {path}.")
