"""python manage.py trace IDENTIFIER [IDENTIFIER …] --direction forward|backward --format …"""

import csv
import json

from django.core.management.base import BaseCommand, CommandError

from inventory.identifiers import IdentifierError
from inventory.selectors import resolve_identifiers
from inventory.trace import Direction, trace

CSV_COLUMNS = [
    "role",
    "kind",
    "sku",
    "gtin",
    "lot",
    "serial",
    "depth",
    "path",
    "consignees",
    "suppliers",
]


class Command(BaseCommand):
    help = (
        "Trace lots and serial units forward (what they went into, who received it) or backward "
        "(what went into them, who supplied it). Identifiers: 'SKU lot CODE', 'SKU serial CODE', "
        "GTIN + code, GS1 element strings, GS1 Digital Link URIs, EPC URNs, supplier lot codes."
    )

    def add_arguments(self, parser):
        parser.add_argument("identifiers", nargs="+", metavar="IDENTIFIER")
        parser.add_argument(
            "--direction", choices=[d.value for d in Direction], default=Direction.FORWARD.value
        )
        parser.add_argument("--format", choices=["json", "csv", "text"], default="text")

    def handle(self, *args, **options):
        try:
            lots, units = resolve_identifiers(options["identifiers"])
        except IdentifierError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        result = trace(
            direction=options["direction"],
            lots=_queryset(lots),
            serial_units=_queryset(units),
        )
        {"json": self._json, "csv": self._csv, "text": self._text}[options["format"]](result)

    def _json(self, result):
        self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))

    def _csv(self, result):
        received, supplied = _party_names(result.consignees), _party_names(result.suppliers)
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for role, items in (("root", result.roots), ("item", result.items)):
            for item in items:
                data = item.as_dict()
                writer.writerow(
                    [
                        role,
                        *(data[key] or "" for key in ("kind", "sku", "gtin", "lot", "serial")),
                        item.depth,
                        " > ".join(data["path"]),
                        "; ".join(received.get(item.pk, [])),
                        "; ".join(supplied.get(item.pk, [])),
                    ]
                )

    def _text(self, result):
        out = self.stdout
        out.write(
            f"{result.direction.capitalize()} trace: {len(result.roots)} starting item(s), "
            f"{len(result.items)} reached."
        )
        for item, level in result.tree():
            indent = "   " * (level - 1) + "└─ " if level else ""
            out.write(f"{indent}{item.label}")
        for title, parties in (("Consignees", result.consignees), ("Suppliers", result.suppliers)):
            out.write(f"\n{title} ({len(parties)}):")
            for traced in parties:
                gln = f" (GLN {traced.gln})" if traced.gln else ""
                labels = ", ".join(item.label for item in traced.items)
                out.write(f"  {traced.name}{gln}: {labels}")


def _queryset(objects):
    if not objects:
        return None
    return type(objects[0]).objects.filter(pk__in=[obj.pk for obj in objects])


def _party_names(parties):
    names = {}
    for traced in parties:
        for item in traced.items:
            names.setdefault(item.pk, []).append(traced.name)
    return names
