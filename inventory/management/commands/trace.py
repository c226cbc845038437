"""python manage.py trace IDENTIFIER [IDENTIFIER …] --direction forward|backward --format …"""

import json

from django.core.management.base import BaseCommand, CommandError

from inventory import formulas
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
        writer = formulas.csv_writer(self.stdout, lineterminator="\n")
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
        for prefix, item in _tree_lines(result.tree()):
            out.write(f"{prefix}{item.label}")
        for title, parties in (("Consignees", result.consignees), ("Suppliers", result.suppliers)):
            out.write(f"\n{title} ({len(parties)}):")
            for traced in parties:
                gln = f" (GLN {traced.gln})" if traced.gln else ""
                labels = ", ".join(item.label for item in traced.items)
                out.write(f"  {traced.name}{gln}: {labels}")


def _tree_lines(rows):
    """Tree rows with box-drawing prefixes: ├─ for an item with siblings below, └─ for the
    last, and │ where an ancestor's siblings continue further down."""
    last = []
    later_sibling = {}
    for _item, level in reversed(rows):
        last.append(not later_sibling.get(level, False))
        later_sibling[level] = True
        for deeper in [key for key in later_sibling if key > level]:
            del later_sibling[deeper]
    last.reverse()
    continues = {}  # level -> whether the item last seen at that level has siblings below
    for (item, level), is_last in zip(rows, last, strict=True):
        if level == 0:
            yield "", item
        else:
            rails = "".join("│  " if continues.get(k) else "   " for k in range(1, level))
            yield f"{rails}{'└─' if is_last else '├─'} ", item
        continues[level] = not is_last
        for deeper in [key for key in continues if key > level]:
            del continues[deeper]


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
