"""python manage.py import_records MODEL FILE --user USERNAME [--dry-run] [--format csv|xlsx]"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inventory.resources import FORMATS, RESOURCES, UnreadableFile, read_dataset

OUTCOMES = {"new": "new", "update": "updated", "skip": "unchanged"}


def file_format(path: str, given: str | None) -> str:
    """The format named with --format, else the one the file's extension says."""
    if given:
        return given
    extension = Path(path).suffix.lower().lstrip(".")
    if extension not in FORMATS:
        raise CommandError(f"Cannot tell the format of {path}; give --format csv or --format xlsx.")
    return extension


def acting_user(username: str):
    """The user the audit trail names: the one who imports."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"There is no user {username}.")
    if not user.is_active:
        raise CommandError(f"User {username} is inactive.")
    return user


def may_import(user, model) -> bool:
    opts = model._meta
    return all(
        user.has_perm(f"{opts.app_label}.{codename}")
        for codename in (f"add_{opts.model_name}", f"change_{opts.model_name}")
    )


class Command(BaseCommand):
    help = (
        "Import products, lots, serial units, parties or sites from a CSV or XLSX file, as "
        "exported by export_records or the admin. Every row is checked first: if any row has "
        "an error, each error is printed and nothing is imported (exit status 1)."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", choices=RESOURCES, metavar="MODEL", help=", ".join(RESOURCES))
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report every row; write nothing."
        )
        parser.add_argument(
            "--format", choices=FORMATS, help="csv or xlsx (default: the file's extension)."
        )
        # Required: the audit trail names whoever ran the import, never a stand-in.
        parser.add_argument(
            "--user",
            required=True,
            metavar="USERNAME",
            help="Who is importing: the audit trail names this user.",
        )

    def handle(self, *args, **options):
        path = options["file"]
        resource = RESOURCES[options["model"]]()
        model = resource._meta.model
        user = acting_user(options["user"])
        if not may_import(user, model):
            raise CommandError(
                f"User {user.username} may not import {model._meta.verbose_name_plural}: "
                "that needs permission to add and to change them."
            )
        try:
            dataset = read_dataset(path, file_format(path, options["format"]))
        except UnreadableFile as exc:
            raise CommandError(str(exc)) from exc

        dry_run = options["dry_run"]
        result = resource.import_data(
            dataset, dry_run=dry_run, user=user, file_name=Path(path).name
        )
        if result.failed:
            errors = result.sheet_errors
            for error in errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{path}: nothing imported; {len(errors)} error{'s' if len(errors) != 1 else ''}."
            )
        for number, row in enumerate(result.rows, start=2):
            label = f" {row.object_repr}" if row.object_repr else ""
            self.stdout.write(f"Row {number}: {OUTCOMES[row.import_type]}{label}")
        totals = {outcome: result.totals[key] for key, outcome in OUTCOMES.items()}
        summary = ", ".join(f"{count} {outcome}" for outcome, count in totals.items())
        items = model._meta.verbose_name_plural
        if dry_run:
            self.stdout.write(f"{path}: dry run, nothing written; would import {summary} {items}.")
        else:
            self.stdout.write(f"{path}: imported {summary} {items} as {user.username}.")
