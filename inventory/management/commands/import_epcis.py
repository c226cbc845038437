"""python manage.py import_epcis FILE [FILE …] [--user USERNAME]"""

import json

from django.contrib.auth import get_user_model
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
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Who imports, for the audit trail (by default no one: another system).",
        )

    def handle(self, *args, **options):
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"There is no active user {options['user']}.", returncode=2)
        for path in options["files"]:
            try:
                with open(path, encoding="utf-8") as handle, cycle_collection_paused():
                    document = json.load(handle)
            except (OSError, ValueError) as exc:
                raise CommandError(
                    f"{path}: cannot read it as JSON ({exc}).", returncode=2
                ) from exc
            try:
                result = epcis_import(document=document, acting_user=user)
            except ValidationError as exc:
                lines = "\n".join(f"  {message}" for message in exc.messages)
                raise CommandError(
                    f"{path}: refused, nothing imported:\n{lines}", returncode=2
                ) from exc
            self.stdout.write(
                f"{path}: imported {result.imported} events, {result.duplicates} duplicates"
            )
