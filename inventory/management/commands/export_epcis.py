"""python manage.py export_epcis [IDENTIFIER …] [--all] [--since DATE] --output FILE"""

import json
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.epcis.exporter import epcis_export
from inventory.identifiers import IdentifierError
from inventory.selectors import resolve_identifiers

from ._output import check_writable, write_whole


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--since {text} is not a date (use YYYY-MM-DD).", returncode=2) from exc


class Command(BaseCommand):
    help = (
        "Export trace events as an EPCIS 2.0 JSON-LD document: the events naming the given "
        "lots and serial units, or every event with --all."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifiers", nargs="*", metavar="IDENTIFIER")
        parser.add_argument("--all", action="store_true", help="Export every event.")
        parser.add_argument("--since", help="Only events on or after this date (YYYY-MM-DD).")
        parser.add_argument("--output", required=True, metavar="FILE")

    def handle(self, *args, **options):
        identifiers = options["identifiers"]
        if bool(identifiers) == options["all"]:
            raise CommandError("Name lots or serial units, or give --all (not both).", returncode=2)
        since = _date(options["since"]) if options["since"] else None
        lots = units = None
        if identifiers:
            try:
                lots, units = resolve_identifiers(identifiers)
            except IdentifierError as exc:
                raise CommandError(str(exc), returncode=2) from exc
        output = Path(options["output"])
        check_writable(output)
        document = epcis_export(lots=lots, serial_units=units, since=since)
        write_whole(output, json.dumps(document, indent=2, ensure_ascii=False).encode())
        count = len(document["epcisBody"]["eventList"])
        self.stdout.write(f"Exported {count} events to {options['output']}.")
