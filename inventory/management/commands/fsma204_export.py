"""python manage.py fsma204_export IDENTIFIER|--product SKU --from DATE --to DATE
--format csv|xlsx --output FILE [--direction forward|backward]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.forms import Fsma204Form
from inventory.fsma import FILE_FORMATS, fsma204_rows
from inventory.trace import Direction

from ._output import check_writable, write_whole

# The form's date fields, as this command names them.
DATE_OPTIONS = {"date_from": "--from", "date_to": "--to"}


class Command(BaseCommand):
    help = (
        "Write the FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)): one row "
        "per critical tracking event, with its key data elements, for a traceability lot (any "
        "identifier the trace takes: a supplier's lot code, 'SKU lot CODE', GS1 codes, ...) or "
        "for a product's events between two dates. --direction adds the listed foods a trace "
        "reaches from them."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message):
            # One line, like the command's own errors, instead of argparse's usage block.
            if parser.called_from_command_line:
                parser.exit(2, f"CommandError: {message}\n")
            raise CommandError(message, returncode=2)

        parser.error = error
        return parser

    def add_arguments(self, parser):
        parser.add_argument("identifier", nargs="?", metavar="IDENTIFIER")
        parser.add_argument("--product", metavar="SKU", help="SKU or GTIN")
        parser.add_argument("--from", dest="date_from", metavar="DATE", help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", metavar="DATE", help="YYYY-MM-DD")
        parser.add_argument("--format", choices=sorted(FILE_FORMATS), required=True)
        parser.add_argument("--output", metavar="FILE", required=True)
        parser.add_argument(
            "--direction",
            choices=[d.value for d in Direction],
            help="also the listed foods made from the lots (forward), or that went into them",
        )

    def handle(self, *args, **options):
        form = Fsma204Form(
            {
                "q": options["identifier"] or "",
                "product": options["product"] or "",
                "date_from": options["date_from"] or "",
                "date_to": options["date_to"] or "",
                "direction": options["direction"] or "",
            }
        )
        if not form.is_valid():
            field, errors = next(iter(form.errors.items()))
            option = DATE_OPTIONS.get(field)
            raise CommandError(f"{option}: {errors[0]}" if option else errors[0], returncode=2)
        output = Path(options["output"])
        check_writable(output)

        rows = fsma204_rows(**form.selection)
        write, _content_type = FILE_FORMATS[options["format"]]
        write_whole(output, write(rows))
        self.stdout.write(f"Wrote {len(rows)} row{'s' if len(rows) != 1 else ''} to {output}.")
