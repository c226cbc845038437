"""python manage.py import_epcis FILE [FILE …]"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.epcis.importer import cycle_collection_paused, epcis_import


class Command(BaseCommand):
    help = (
        "Import EPCIS 2.0 JSON(-LD) documents (ObjectEvent, AggregationEvent, "
        "TransformationEvent). Each file is imported whole or not at all; events already "
        "imported (same eventID) are skipped as duplicates."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args, **options):
        for path in options["files"]:
            try:
                with open(path, encoding="utf-8") as handle, cycle_collection_paused():
                    document = json.load(handle)
            except (OSError, ValueError) as exc:
                raise CommandError(
                    f"{path}: cannot read it as JSON ({exc}).", returncode=2
                ) from exc
            try:
                result = epcis_import(document=document, acting_user=None)
            except ValidationError as exc:
                lines = "\n".join(f"  {message}" for message in exc.messages)
                raise CommandError(
                    f"{path}: refused, nothing imported:\n{lines}", returncode=2
                ) from exc
            self.stdout.write(
                f"{path}: imported {result.imported} events, {result.duplicates} duplicates"
            )
